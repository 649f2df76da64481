"""``python -m hourglass summary|convert`` (thin CLI; logic lives in the library)."""
from __future__ import annotations

import argparse
import os
import sys


def _summary(args) -> int:
    from hourglass.presets import PRESETS, build_preset, get_preset
    from hourglass.summary import summarize

    names = [args.preset] if args.preset else list(PRESETS)
    if args.preset:
        get_preset(args.preset)
    print(f"{'preset':<22} {'trainable':>12} {'total':>12} {'GFLOPs':>8} {'layers':>7}  "
          f"{'paper params':>12}  expected (trainable / total)")
    for name in names:
        preset = PRESETS[name]
        s = summarize(build_preset(name))
        ok = (s["trainable"], s["total"]) == (preset.expected_trainable, preset.expected_total)
        print(f"{name:<22} {s['trainable']:>12,} {s['total']:>12,} {s['flops'] / 1e9:>8.2f} "
              f"{s['weight_layers']:>7}  {preset.paper_params or '-':>12}  "
              f"{preset.expected_trainable:,} / {preset.expected_total:,} {'ok' if ok else 'MISMATCH'}",
              flush=True)
    return 0


def _convert(args) -> int:
    from hourglass.convert import load_checkpoint
    from hourglass.model import build_stacked_hourglass

    stem = "bearpaw" if args.format == "bearpaw" else "newell"
    model = build_stacked_hourglass(args.stacks, args.keypoints, stem=stem)
    report = load_checkpoint(model, args.src, args.format, strict=not args.non_strict)
    if not args.dst.endswith(".weights.h5"):
        raise SystemExit(f"DST must end in .weights.h5 (Keras 3), got {args.dst!r}")
    model.save_weights(args.dst)
    print(report)
    print(f"wrote {args.dst} ({model.name}, stem {stem})")
    return 0


def main(argv=None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = argparse.ArgumentParser(prog="python -m hourglass")
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("summary", help="parameters, FLOPs and layers per preset, beside CV701's column")
    s.add_argument("--preset", default=None)
    s.set_defaults(fn=_summary)
    c = sub.add_parser("convert", help="PyTorch checkpoint -> Keras .weights.h5")
    c.add_argument("src", help="state_dict as .npz, or .pth/.pt (needs torch)")
    c.add_argument("dst", help="output .weights.h5")
    c.add_argument("--format", choices=("bearpaw", "princeton"), required=True)
    c.add_argument("--stacks", type=int, default=2)
    c.add_argument("--keypoints", type=int, default=16)
    c.add_argument("--non-strict", action="store_true", help="load what fits and report the rest")
    c.set_defaults(fn=_convert)
    args = parser.parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
