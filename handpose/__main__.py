"""``python -m handpose summary|predict|train|evaluate|reproduce`` (thin CLI; logic lives in
the library)."""
from __future__ import annotations

import argparse
import json
import os
import sys

from reprokit.cli import run_main
from reprokit.errors import ConfigError

#: hand3d ``plot_hand`` bones (RHD order): wrist to each finger's base, then base -> tip.
BONES = tuple((0, 4 * f + 4) for f in range(5)) + tuple(
    (4 * f + 4 - i, 4 * f + 3 - i) for f in range(5) for i in range(3))


def _summary(args) -> int:
    from handpose.model import build_handsegnet, build_posenet

    configs = [("HandSegNet hand3d", lambda: build_handsegnet("hand3d")),
               ("HandSegNet paper", lambda: build_handsegnet("paper"))]
    for variant in ("hand3d", "paper"):
        for refinement in ("conv", "separable"):
            configs.append((f"PoseNet {variant} {refinement}",
                            lambda v=variant, r=refinement: build_posenet(v, r)))
    for name, fn in configs:
        print(f"{name:<28} {fn().count_params():>12,}", flush=True)
    return 0


def draw(image, result):
    """Overlay: hand mask tinted, crop box, skeleton (RGB uint8)."""
    import cv2
    import numpy as np

    out = np.asarray(image, np.uint8).copy()
    mask = cv2.resize(result["mask"].astype(np.uint8), (out.shape[1], out.shape[0]),
                      interpolation=cv2.INTER_NEAREST) > 0
    out[mask] = (0.6 * out[mask] + 0.4 * np.array([0, 255, 0])).astype(np.uint8)
    u1, v1, u2, v2 = (int(round(v)) for v in result["crop_box"])
    cv2.rectangle(out, (u1, v1), (u2, v2), (255, 255, 0), 1)
    pts = [tuple(int(round(c)) for c in p) for p in result["keypoints"]]
    for a, b in BONES:
        cv2.line(out, pts[a], pts[b], (255, 0, 0), 2, cv2.LINE_AA)
    for p in pts:
        cv2.circle(out, p, 3, (255, 255, 255), -1, cv2.LINE_AA)
    return out


def _predict(args) -> int:
    import cv2

    from handpose.model import build_handsegnet, build_posenet
    from handpose.pipeline import HandPosePipeline
    from handpose.weights import load_hand3d_pickle

    bgr = cv2.imread(args.image, cv2.IMREAD_COLOR)
    if bgr is None:
        raise ConfigError(f"cannot read image {args.image!r} (missing or not an image)")
    image = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    seg = build_handsegnet("hand3d")
    pose = build_posenet("hand3d")
    print(load_hand3d_pickle(seg, args.handsegnet))
    print(load_hand3d_pickle(pose, args.posenet, exclude=("PosePrior", "ViewpointNet")))
    result = HandPosePipeline(seg, pose, resize=args.resize)(image)
    stem = os.path.splitext(args.output or args.image)[0]
    with open(stem + ".keypoints.json", "w", encoding="utf-8") as f:
        json.dump({"image": os.path.abspath(args.image),
                   "keypoints": [{"index": i, "u": float(u), "v": float(v), "score": float(s)}
                                 for i, ((u, v), s) in enumerate(zip(result["keypoints"],
                                                                     result["scores"]))],
                   "crop_box": [float(v) for v in result["crop_box"]],
                   "crop_scale": float(result["crop_scale"])}, f, indent=2)
    cv2.imwrite(stem + ".overlay.png", cv2.cvtColor(draw(image, result), cv2.COLOR_RGB2BGR))
    print(f"wrote {stem}.keypoints.json and {stem}.overlay.png")
    return 0


def _records(kind: str, root: str, split: str):
    from handpose.data import STB_EVAL, STB_TRAIN, read_rhd_annotations, read_stb

    if kind == "rhd":
        return read_rhd_annotations(root, split)
    return read_stb(root, STB_TRAIN if split == "training" else STB_EVAL)


def _train(args) -> int:
    import dataclasses

    from handpose.train import (HandSegConfig, PoseNetConfig, train_handsegnet, train_posenet,
                                train_posenet_two_phase)

    overrides = {k: v for k, v in (("steps", args.steps), ("batch_size", args.batch_size),
                                   ("init", args.init), ("seed", args.seed)) if v is not None}
    if args.net == "handsegnet":
        if not args.rhd:
            raise ConfigError("HandSegNet trains on RHD: pass --rhd (STB has no hand masks)")
        cfg = dataclasses.replace(HandSegConfig(), **overrides)
        _, run = train_handsegnet(cfg, _records("rhd", args.rhd, "training"), "handsegnet",
                                  args.out, verbose=1)
    else:
        cfg = dataclasses.replace(PoseNetConfig(variant=args.variant, refinement=args.refinement,
                                                width=args.width), **overrides)
        if args.rhd and args.stb:
            _, run = train_posenet_two_phase(cfg, _records("rhd", args.rhd, "training"),
                                             _records("stb", args.stb, "training"), "posenet",
                                             args.out, args.r_steps, verbose=1)
        elif args.rhd or args.stb:
            kind = "rhd" if args.rhd else "stb"
            _, run = train_posenet(cfg, _records(kind, args.rhd or args.stb, "training"),
                                   f"posenet-{kind}", args.out, verbose=1)
        else:
            raise ConfigError("pass --rhd and/or --stb (both: R-train then S-train)")
    print(f"weights in {os.path.join(run.checkpoints, 'final.weights.h5')}")
    return 0


def _evaluate(args) -> int:
    from handpose.model import build_handsegnet, build_posenet
    from handpose.pipeline import HandPosePipeline
    from handpose.train import (PoseNetConfig, evaluate_full_pipeline, evaluate_gt_cropped,
                                initialize)

    pose = build_posenet(args.variant, args.refinement, width=args.width)
    print(initialize(pose, args.posenet) or f"loaded {args.posenet}")
    if args.protocol == "full":
        if not (args.handsegnet and args.rhd):
            raise ConfigError("--protocol full needs --handsegnet and --rhd")
        seg = build_handsegnet("hand3d" if args.variant == "hand3d" else "paper")
        print(initialize(seg, args.handsegnet) or f"loaded {args.handsegnet}")
        result = evaluate_full_pipeline(HandPosePipeline(seg, pose), _records(
            "rhd", args.rhd, "evaluation"), args.keypoint0, args.frame)
    else:
        kind = "rhd" if args.rhd else "stb"
        if not (args.rhd or args.stb):
            raise ConfigError("pass --rhd or --stb")
        records = _records(kind, args.rhd or args.stb, "evaluation")
        if kind == "rhd":                  # hand3d eval2d_gt_cropped: palm keypoint 0
            from handpose.data import rhd_hands

            records = rhd_hands(records)
        result = evaluate_gt_cropped(pose, records, PoseNetConfig(
            variant=args.variant, refinement=args.refinement, width=args.width))
    print("mean EPE {mean:.3f} px, median EPE {median:.3f} px, AUC (0-30 px) {auc:.3f}"
          .format(**result))
    print("mmpose semantics: mean {mean:.3f}, median {median:.3f}, AUC {auc:.3f}"
          .format(**result["mmpose"]))
    return 0


def _reproduce(args) -> int:
    from handpose.reproduce import reproduce_table4

    print(f"results in {reproduce_table4(args.scale, args.data_dir, args.out, args.seed, args.workers)}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m handpose")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("summary", help="parameter counts of the six model configurations"
                   ).set_defaults(fn=_summary)
    p = sub.add_parser("predict", help="keypoints JSON + overlay PNG with hand3d weights")
    p.add_argument("image")
    p.add_argument("--handsegnet", required=True, help="handsegnet-rhd.pickle")
    p.add_argument("--posenet", required=True, help="posenet-rhd-stb.pickle (or posenet3d-*)")
    p.add_argument("--resize", choices=("legacy", "half_pixel"), default="legacy")
    p.add_argument("--output", default=None, help="output stem (default: next to the image)")
    p.set_defaults(fn=_predict)
    t = sub.add_parser("train", help="train PoseNet (R-train, S-train or both in turn) or HandSegNet")
    t.add_argument("net", choices=("posenet", "handsegnet"))
    t.add_argument("--rhd", default=None, help="RHD_published_v2 root")
    t.add_argument("--stb", default=None, help="STB root (labels/, B2Counting/, ...)")
    t.add_argument("--init", default=None, help="cpm-model-mpii, a hand3d .pickle or .weights.h5")
    t.add_argument("--variant", choices=("paper", "hand3d"), default="paper")
    t.add_argument("--refinement", choices=("conv", "separable"), default="conv")
    t.add_argument("--width", type=float, default=1.0)
    t.add_argument("--steps", type=int, default=None, help="iterations (default: hand3d's)")
    t.add_argument("--r-steps", type=int, default=None, help="R-train iterations if both sets")
    t.add_argument("--batch-size", type=int, default=None)
    t.add_argument("--seed", type=int, default=None)
    t.add_argument("--out", default="runs")
    t.set_defaults(fn=_train)
    e = sub.add_parser("evaluate", help="EPE/AUC: full pipeline on RHD or GT crops on STB")
    e.add_argument("--posenet", required=True, help="hand3d .pickle or .weights.h5")
    e.add_argument("--handsegnet", default=None, help="for --protocol full")
    e.add_argument("--protocol", choices=("full", "gt_cropped"), default="gt_cropped")
    e.add_argument("--rhd", default=None)
    e.add_argument("--stb", default=None)
    e.add_argument("--variant", choices=("paper", "hand3d"), default="hand3d")
    e.add_argument("--refinement", choices=("conv", "separable"), default="conv")
    e.add_argument("--width", type=float, default=1.0)
    e.add_argument("--keypoint0", choices=("wrist", "palm"), default="wrist",
                   help="full protocol: GT keypoint 0 (wrist = paper setting, palm = corrected)")
    e.add_argument("--frame", choices=("inference", "original"), default="inference")
    e.set_defaults(fn=_evaluate)
    r = sub.add_parser("reproduce", help="reproduce Table IV of the seed paper")
    r.add_argument("table", choices=("table4",))
    r.add_argument("--scale", choices=("demo", "smoke", "paper"), default="smoke")
    r.add_argument("--data-dir", default=None, help="real STB root (labels/, B1Counting/, ...); "
                   "default: a synthetic STB in the same layout")
    r.add_argument("--workers", type=int, default=None,
                   help="rows trained in parallel processes (default: the scale's)")
    r.add_argument("--out", default="runs")
    r.add_argument("--seed", type=int, default=0)
    r.set_defaults(fn=_reproduce)
    return run_main(parser, argv)


if __name__ == "__main__":
    sys.exit(main())
