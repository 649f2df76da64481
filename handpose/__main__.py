"""``python -m handpose summary|predict|reproduce`` (thin CLI; logic lives in the library)."""
from __future__ import annotations

import argparse
import json
import os
import sys

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
        raise SystemExit(f"cannot read image {args.image!r} (missing or not an image)")
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


def _reproduce(args) -> int:
    from handpose.reproduce import reproduce_table4

    print(f"results in {reproduce_table4(args.scale, args.data_dir, args.out, args.seed)}")
    return 0


def main(argv=None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
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
    r = sub.add_parser("reproduce", help="reproduce Table IV of the seed paper")
    r.add_argument("table", choices=("table4",))
    r.add_argument("--scale", choices=("demo", "smoke", "paper"), default="smoke")
    r.add_argument("--data", choices=("synthetic",), default="synthetic")
    r.add_argument("--data-dir", default=None, help="real STB root (labels/, B1Counting/, ...)")
    r.add_argument("--out", default="runs")
    r.add_argument("--seed", type=int, default=0)
    r.set_defaults(fn=_reproduce)
    args = parser.parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
