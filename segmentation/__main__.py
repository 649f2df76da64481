"""``python -m segmentation summary|extract|train|reproduce``.

A thin CLI over :mod:`segmentation.model`, :mod:`segmentation.data`, :mod:`segmentation.train`
and :mod:`segmentation.reproduce`. Without ``--data-dir`` a synthetic SURREAL is written
into ``--out``/data; ``--data-dir`` points at a real SURREAL ``data`` folder (with ``cmu/``).
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from reprokit.cli import execution_args, export_command, run_main

# The commands import the library inside their functions: `--help` and argument errors
# answer without loading TensorFlow (docs/design.md, import policy).


def _summary(args) -> int:
    from reprokit.training import set_seed
    from segmentation.reproduce import ROWS, full_size_row_params

    set_seed(0, deterministic_ops=False)
    rows = [args.row] if args.row else list(ROWS)
    for row in rows:
        n = full_size_row_params(row)
        print(f"{row:<26} {n['trainable']:>12,} trainable {n['total']:>12,} total "
              "(full size, 25 classes)", flush=True)
    return 0


def _extract(args) -> int:
    from segmentation.data import extract_frames

    rec = extract_frames(args.data_dir, args.dst, args.split, num_frames=args.frames,
                         size=(args.size, args.size), margin=args.margin, seed=args.seed,
                         skip_bad=args.skip_bad)
    print(f"{len(rec['image_path'])} frames in {args.dst}")
    if args.skip_bad:
        with open(os.path.join(args.dst, "skipped.json"), encoding="utf-8") as f:
            skipped = json.load(f)
        print(f"{len(skipped)} damaged clip(s) skipped" + "".join(
            f"\n  {clip}: {why}" for clip, why in skipped.items()))
    return 0


def _train(args) -> int:
    from segmentation.train import SegTrainConfig, train_segmentation

    kw = {k: getattr(args, k) for k in ("steps", "batch_size", "learning_rate", "weighting",
                                         "joints") if getattr(args, k) is not None}
    cfg = SegTrainConfig(network=args.network, data_dir=args.frames,
                         model=json.loads(args.model) if args.model else {},
                         input_size=args.size, steps_per_epoch=args.steps_per_epoch,
                         augment=args.augment, weighting_mode=args.weighting_mode,
                         progressive=args.progressive, eval_split=args.eval_split,
                         validate=args.validate, seed=args.seed, **kw)
    run, _ = train_segmentation(cfg, runs_root=args.out)
    print(open(run.file("results.md"), encoding="utf-8").read())
    print(f"run directory: {run.path}")
    return 0


def _export_model(args):
    from reprokit.errors import ConfigError
    from reprokit.predict import run_of
    from segmentation.spec import SegTrainConfig, build_model

    run = run_of(args.weights)
    if run is None:
        raise ConfigError(f"{args.weights}: export needs a segmentation run directory (or a "
                          "checkpoint inside one): its config.json gives the network")
    spec = SegTrainConfig.load(run.path).resolve()
    model = build_model(spec)
    path = args.weights if args.weights.endswith(".weights.h5") else run.checkpoint()
    model.load_weights(path)
    return model, path


def _reproduce(args) -> int:
    from segmentation.reproduce import reproduce

    out = reproduce(args.table, args.scale, args.data_dir, args.out, args.seed, args.workers)
    print(f"results in {out}")
    return 0


def main(argv=None) -> int:
    from segmentation.reproduce import TABLE_NAMES

    parser = argparse.ArgumentParser(prog="python -m segmentation", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("summary", help="full-size parameter count of every table row")
    p.add_argument("--row", default=None)
    p.set_defaults(fn=_summary)

    p = sub.add_parser("extract", help="extract image / label PNG pairs from a SURREAL split")
    p.add_argument("data_dir", help="SURREAL data folder (with cmu/)")
    p.add_argument("dst")
    p.add_argument("--split", default="train", choices=("train", "val", "test"))
    p.add_argument("--frames", type=int, default=None, help="k-means frame selection target")
    p.add_argument("--size", type=int, default=320)
    p.add_argument("--margin", type=float, default=0.1)
    p.add_argument("--skip-bad", action="store_true",
                   help="skip and count damaged clips instead of stopping (listed at the end)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(fn=_extract)

    export_command(sub, _export_model, " (a run's network at its training size)")

    p = sub.add_parser("train", help="train and evaluate one network on extracted frames")
    p.add_argument("network", choices=("icnet", "segnet", "hourglass"))
    p.add_argument("--frames", required=True, help="folder with train/ val/ test/ extractions")
    p.add_argument("--model", default=None, help='builder arguments as JSON, e.g. \'{"filter_scale": 2}\'')
    p.add_argument("--size", type=int, default=320)
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--steps-per-epoch", type=int, default=200)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--learning-rate", type=float, default=None)
    p.add_argument("--augment", action="store_true", help="mirror (label swap) + scale")
    p.add_argument("--weighting", choices=("w1", "w2", "median_freq"), default=None)
    p.add_argument("--weighting-mode", choices=("outer", "direct"), default="outer",
                   help="how class weights enter the loss (thesis Sec. 3.2.3)")
    p.add_argument("--progressive", action="store_true")
    p.add_argument("--joints", choices=("surreal", "centroids"), default=None)
    p.add_argument("--eval-split", choices=("val", "test"), default="val")
    p.add_argument("--validate", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs")
    execution_args(p)
    p.set_defaults(fn=_train)

    p = sub.add_parser("reproduce", help="reproduce a thesis table beside its numbers")
    p.add_argument("table", choices=(*TABLE_NAMES, "all"))
    p.add_argument("--scale", choices=("demo", "smoke", "paper"), default="smoke")
    p.add_argument("--data-dir", default=None, help="real SURREAL data folder (with cmu/); "
                   "default: a synthetic SURREAL in the published format")
    p.add_argument("--out", default="runs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=None)
    execution_args(p)
    p.set_defaults(fn=_reproduce)

    return run_main(parser, argv)


if __name__ == "__main__":
    sys.exit(main())
