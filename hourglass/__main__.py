"""``python -m hourglass summary|convert|train|evaluate|predict|reproduce``.

A thin CLI; the logic lives in the library (:mod:`hourglass.train`, :mod:`hourglass.evaluate`,
:mod:`hourglass.reproduce`). Without ``--data-dir`` a synthetic MPII is written into
``--out``/data; ``--data-dir`` points at a real MPII folder (layout in :mod:`hourglass.data`).
"""
from __future__ import annotations

import argparse
import os
import sys

from reprokit.cli import execution_args, export_command, run_main
from reprokit.errors import ConfigError

# The commands import the library inside their functions: `--help` and argument errors
# answer without loading TensorFlow (docs/design.md, import policy).


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
        raise ConfigError(f"DST must end in .weights.h5 (Keras 3), got {args.dst!r}")
    model.save_weights(args.dst)
    print(report)
    print(f"wrote {args.dst} ({model.name}, stem {stem})")
    return 0


def _data_dir(args) -> str:
    if args.data_dir:
        return args.data_dir
    from hourglass.reproduce import SYNTHETIC
    from hourglass.synthetic import write_synthetic_mpii

    return write_synthetic_mpii(os.path.join(args.out, "data", "synthetic-mpii"), **SYNTHETIC)


def _train_config(args):
    """The run spec from the flags, validated before any data or run directory is written."""
    import json

    from hourglass.reproduce import SCALES
    from hourglass.train import TrainConfig

    settings = dict(SCALES["paper" if args.scale == "paper" else "smoke"].settings)
    for key in ("epochs", "steps_per_epoch", "batch_size", "learning_rate", "input_size"):
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)
    if args.model:
        try:
            settings["model"] = json.loads(args.model)
        except json.JSONDecodeError as err:
            raise ConfigError(f"--model must be a JSON object, got {args.model!r} ({err})") from None
    spec = TrainConfig(preset=args.preset, recipe=args.recipe, seed=args.seed, **settings)
    return spec.replace(data_dir=_data_dir(args))


def _train(args) -> int:
    from hourglass.train import train

    run, results = train(_train_config(args), runs_root=args.out)
    print(open(run.file("results.md"), encoding="utf-8").read())
    print(f"run directory: {run.path}")
    return 0


def _evaluate(args) -> int:
    from hourglass.predict import evaluate_run

    print(evaluate_run(args.run, args.weights, args.data_dir, not args.no_flip, args.variant,
                       tuple(args.extra_variants), args.limit))
    return 0


def _export_model(args):
    from hourglass.predict import load_predictor

    p = load_predictor(args.weights, args.checkpoint_format, args.stacks)
    return p.model, p.source


def _predict(args) -> int:
    from hourglass.predict import load_predictor, predict_file

    weights = args.weights or args.run
    predictor = load_predictor(weights, args.format, args.stacks)
    data = predict_file(args.image, predictor, args.center, args.scale, not args.no_flip,
                        args.output, args.force)
    if data["warning"]:
        print(f"WARNING: {data['warning']}", file=sys.stderr)
    print(f"wrote {data['outputs']['json']} and {data['outputs']['png']}")
    return 0


def _reproduce(args) -> int:
    from hourglass.reproduce import reproduce_table1

    out = reproduce_table1(args.scale, args.data_dir, args.out, args.rows or None, args.seed,
                           args.workers)
    print(f"results in {out}")
    return 0


def _data_args(p):
    p.add_argument("--data-dir", default=None, help="real MPII folder (see hourglass.data); "
                   "default: a synthetic MPII written in the real formats")
    p.add_argument("--out", default="runs", help="parent of run directories (and synthetic data)")
    p.add_argument("--seed", type=int, default=0)


def main(argv=None) -> int:
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

    t = sub.add_parser("train", help="train one preset (rerunning the same command resumes)")
    t.add_argument("--preset", default="cv701_baseline")
    t.add_argument("--recipe", choices=("anibali", "princeton"), default="anibali")
    t.add_argument("--scale", choices=("smoke", "paper"), default="smoke",
                   help="smoke: tiny model and schedule (hourglass.reproduce.SMOKE); paper: full")
    for key, typ in (("epochs", int), ("steps-per-epoch", int), ("batch-size", int),
                     ("learning-rate", float), ("input-size", int)):
        t.add_argument(f"--{key}", type=typ, default=None)
    t.add_argument("--model", default=None, help='builder overrides as JSON, e.g. \'{"depth": 3}\'')
    _data_args(t)
    execution_args(t)
    t.set_defaults(fn=_train)

    e = sub.add_parser("evaluate", help="PCKh of a training run on the validation split")
    e.add_argument("run", help="run directory (from train)")
    e.add_argument("--weights", default=None, help="default: best, else final checkpoint")
    e.add_argument("--data-dir", default=None, help="default: the run's data")
    e.add_argument("--variant", default="bearpaw")
    e.add_argument("--extra-variants", nargs="*", default=["official", "princeton", "msra", "mmpose"])
    e.add_argument("--no-flip", action="store_true", help="disable the flip test")
    e.add_argument("--limit", type=int, default=None)
    e.set_defaults(fn=_evaluate)

    p = sub.add_parser("predict", help="keypoints JSON and an overlay PNG for one image "
                       "(<image>.hourglass.json / .png)")
    p.add_argument("image")
    p.add_argument("--weights", default=None, help="a run directory, a .weights.h5 (from a run "
                   "or convert), or a bearpaw/princeton .pth/.npz; default: random weights (warned)")
    p.add_argument("--run", default=None, help="a run directory (same as --weights DIR)")
    p.add_argument("--format", choices=("bearpaw", "princeton"), default="bearpaw",
                   help="architecture of weights that are not from a run (as convert)")
    p.add_argument("--stacks", type=int, default=2, help="stacks of weights not from a run")
    p.add_argument("--force", action="store_true", help="overwrite existing outputs")
    p.add_argument("--center", type=float, nargs=2, metavar=("X", "Y"), default=None)
    p.add_argument("--scale", type=float, default=None, help="person box side / 200 px")
    p.add_argument("--output", default=None, help="output stem (default: the image's)")
    p.add_argument("--no-flip", action="store_true")
    p.set_defaults(fn=_predict)

    x = export_command(sub, _export_model)
    x.add_argument("--checkpoint-format", choices=("bearpaw", "princeton"), default="bearpaw",
                   help="layout of weights that are not from a run (as predict --format)")
    x.add_argument("--stacks", type=int, default=2, help="stacks of weights not from a run")

    r = sub.add_parser("reproduce", help="reproduce a table of the CV701 report")
    r.add_argument("table", choices=("table1",))
    r.add_argument("--scale", choices=("demo", "smoke", "paper"), default="smoke")
    r.add_argument("--rows", nargs="*", default=None, help="preset names (default: all rows)")
    r.add_argument("--workers", type=int, default=None,
                   help="rows trained in parallel processes (default: 2 for smoke, else 1)")
    _data_args(r)
    execution_args(r)
    r.set_defaults(fn=_reproduce)
    return run_main(parser, argv)


if __name__ == "__main__":
    sys.exit(main())
