"""``python -m handpose summary|predict|train|evaluate|reproduce`` (thin CLI; logic lives in
the library)."""
from __future__ import annotations

import argparse
import os
import sys

from reprokit.cli import execution_args, export_command, run_main
from reprokit.errors import ConfigError

# The commands import the library inside their functions: `--help` and argument errors
# answer without loading TensorFlow (docs/design.md, import policy).

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


def _export_model(args):
    from handpose.predict import load_handsegnet, load_posenet
    from reprokit.export import fixed_input

    if args.net == "posenet":
        return load_posenet(args.weights, args.variant, args.refinement, args.width, crop_size=None)
    model, source = load_handsegnet(args.weights, args.variant)
    # fully convolutional: exported at one size (hand3d run.py: 240 x 320)
    return fixed_input(model, args.size), source


def _predict(args) -> int:
    from handpose.pipeline import HandPosePipeline
    from handpose.predict import (load_handsegnet, load_posenet, predict_file,
                                  predict_weights_warning)

    seg, seg_source = load_handsegnet(args.handsegnet)
    pose, pose_source = load_posenet(args.posenet, args.variant, args.refinement, args.width)
    data = predict_file(args.image, HandPosePipeline(seg, pose, resize=args.resize),
                        predict_weights_warning(args.handsegnet, args.posenet),
                        {"handsegnet": seg_source, "posenet": pose_source}, args.output, args.force)
    for note in data["notes"]:
        print(note, file=sys.stderr)
    print(f"wrote {data['outputs']['json']} and {data['outputs']['png']}")
    return 0


def _records(kind: str, root: str, split: str):
    from handpose.data import STB_EVAL, STB_TRAIN, read_rhd_annotations, read_stb

    if kind == "rhd":
        return read_rhd_annotations(root, split)
    return read_stb(root, STB_TRAIN if split == "training" else STB_EVAL)


def _train(args) -> int:
    from handpose.spec import HandSegConfig, PoseNetConfig
    from handpose.train import train_handsegnet, train_posenet, train_posenet_two_phase

    overrides = {k: v for k, v in (("steps", args.steps), ("batch_size", args.batch_size),
                                   ("init", args.init), ("seed", args.seed)) if v is not None}
    if args.net == "handsegnet":
        cfg = HandSegConfig(**overrides)                     # validated before any data is read
        if not args.rhd:
            raise ConfigError("HandSegNet trains on RHD: pass --rhd (STB has no hand masks)")
        _, run = train_handsegnet(cfg, _records("rhd", args.rhd, "training"), "handsegnet",
                                  args.out, verbose=1)
    else:
        cfg = PoseNetConfig(variant=args.variant, refinement=args.refinement, width=args.width,
                            **overrides)
        if args.r_steps is not None and args.r_steps < 1:
            raise ConfigError(f"--r-steps must be >= 1, got {args.r_steps}")
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
    from handpose.evaluate import evaluate_full_pipeline, evaluate_gt_cropped
    from handpose.pipeline import HandPosePipeline
    from handpose.predict import load_handsegnet, load_posenet
    from handpose.spec import PoseNetConfig, load_run_spec
    from reprokit.predict import run_of

    if args.protocol == "full" and not (args.handsegnet and args.rhd):
        raise ConfigError("--protocol full needs --handsegnet and --rhd")
    if args.protocol != "full" and not (args.rhd or args.stb):
        raise ConfigError("pass --rhd or --stb")
    # a run's weights carry their architecture in config.json; flags are for other files
    full = args.protocol == "full"            # the pipeline crops 256; GT crops: the run's size
    pose, source = load_posenet(args.posenet, args.variant, args.refinement, args.width,
                                256 if full else None)
    print(f"loaded {source}")
    run = run_of(args.posenet)
    spec = load_run_spec(run.path) if run else PoseNetConfig(
        variant=args.variant or "hand3d", refinement=args.refinement or "conv",
        width=args.width or 1.0)
    if args.protocol == "full":
        seg, seg_source = load_handsegnet(args.handsegnet)
        print(f"loaded {seg_source}")
        result = evaluate_full_pipeline(HandPosePipeline(seg, pose), _records(
            "rhd", args.rhd, "evaluation"), args.keypoint0, args.frame)
    else:
        kind = "rhd" if args.rhd else "stb"
        records = _records(kind, args.rhd or args.stb, "evaluation")
        if kind == "rhd":                  # hand3d eval2d_gt_cropped: palm keypoint 0
            from handpose.data import rhd_hands

            records = rhd_hands(records)
        result = evaluate_gt_cropped(pose, records, spec)
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
    p = sub.add_parser("predict", help="keypoints JSON + overlay PNG (<image>.handpose.json / .png)")
    p.add_argument("image")
    p.add_argument("--handsegnet", required=True, help="weights: handsegnet-rhd.pickle, a "
                   "HandSegNet run directory or its .weights.h5")
    p.add_argument("--posenet", required=True, help="weights: posenet-rhd-stb.pickle (or "
                   "posenet3d-*), a PoseNet run directory or its .weights.h5")
    p.add_argument("--variant", choices=("paper", "hand3d"), default=None,
                   help="PoseNet architecture of a .weights.h5 outside a run (default hand3d)")
    p.add_argument("--refinement", choices=("conv", "separable"), default=None)
    p.add_argument("--width", type=float, default=None)
    p.add_argument("--resize", choices=("legacy", "half_pixel"), default="legacy")
    p.add_argument("--output", default=None, help="output stem (default: the image's)")
    p.add_argument("--force", action="store_true", help="overwrite existing outputs")
    p.set_defaults(fn=_predict)

    x = export_command(sub, _export_model)
    x.add_argument("--net", choices=("posenet", "handsegnet"), required=True)
    x.add_argument("--variant", choices=("paper", "hand3d"), default=None,
                   help="of weights not from a run (default hand3d)")
    x.add_argument("--refinement", choices=("conv", "separable"), default=None)
    x.add_argument("--width", type=float, default=None)
    x.add_argument("--size", type=int, nargs=2, default=(240, 320), metavar=("H", "W"),
                   help="HandSegNet input (default 240 x 320, hand3d run.py); PoseNet: the "
                        "run's crop, else 256")
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
    execution_args(t)
    t.set_defaults(fn=_train)
    e = sub.add_parser("evaluate", help="EPE/AUC: full pipeline on RHD or GT crops on STB")
    e.add_argument("--posenet", required=True, help="hand3d .pickle, a PoseNet run directory or "
                   "its .weights.h5 (the run's config.json gives the architecture)")
    e.add_argument("--handsegnet", default=None, help="for --protocol full")
    e.add_argument("--protocol", choices=("full", "gt_cropped"), default="gt_cropped")
    e.add_argument("--rhd", default=None)
    e.add_argument("--stb", default=None)
    e.add_argument("--variant", choices=("paper", "hand3d"), default=None,
                   help="architecture of weights outside a run (default hand3d)")
    e.add_argument("--refinement", choices=("conv", "separable"), default=None)
    e.add_argument("--width", type=float, default=None)
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
    execution_args(r)
    r.set_defaults(fn=_reproduce)
    return run_main(parser, argv)


if __name__ == "__main__":
    sys.exit(main())
