"""``python -m logocap summary|train|evaluate|predict|upper-bound|reproduce``.

A thin CLI; the logic lives in the library (:mod:`logocap.train`, :mod:`logocap.kem`,
:mod:`logocap.predict`, :mod:`logocap.reproduce`). Without ``--data-dir`` a synthetic COCO is
written into ``--out``/data; ``--data-dir`` points at a COCO 2017 root
(``annotations/person_keypoints_<split>2017.json`` and ``<split>2017/``).
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from reprokit.cli import execution_args, export_command, run_main
from reprokit.errors import ConfigError

# The commands import the library inside their functions: `--help` and argument errors
# answer without loading TensorFlow (docs/design.md, import policy).


def _summary(args) -> int:
    from logocap.reproduce import summary_rows

    print(f"{'model':<28} {'trainable':>12} {'total':>12}  reference (trainable)")
    for row in summary_rows(args.backbone):
        print(f"{row['model']:<28} {row['params']:>12,} {row['total']:>12,}  {row['reference']}",
              flush=True)
    if args.gflops:
        from logocap.bench import cmp_gflops_per_instance, network_gflops

        print("\nGFLOPs per image (network: backbone + heads; multiply-add = 2; TensorFlow profiler)")
        print(f"{'backbone':<10} {'size':>5} {'center-offset':>14} {'LOGO-CAP net':>13} {'CMP/person':>11}")
        for backbone in [args.backbone] if args.backbone else ["w32", "w48"]:
            for size in args.sizes:
                print(f"{backbone:<10} {size:>5} {network_gflops(backbone, size, 'center_offset'):>14.2f} "
                      f"{network_gflops(backbone, size, 'logocap'):>13.2f} "
                      f"{cmp_gflops_per_instance(backbone):>11.3f}", flush=True)
    return 0


def _data_dir(args) -> str:
    if args.data_dir:
        return args.data_dir
    from logocap.reproduce import write_synthetic

    return write_synthetic(os.path.join(args.out, "data", "synthetic-coco"), "smoke")


def _train_config(args):
    """The run spec from the flags, validated before any data or run directory is written."""
    from logocap.reproduce import SCALES
    from logocap.train import LogocapConfig

    settings = dict(SCALES["paper" if args.scale == "paper" else "smoke"].settings)
    if args.head == "logocap" and args.scale != "paper":
        from logocap.tables import ADAPT_SMOKE

        settings.update({k: v for k, v in ADAPT_SMOKE.items() if k not in ("epochs", "steps_per_epoch", "decay_epochs")})
    for key in ("backbone", "epochs", "steps_per_epoch", "batch_size", "learning_rate",
                "input_size", "test_size", "offset_loss_weight", "train_limit", "val_limit",
                "head", "level", "init_weights", "max_instances"):
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)
    if args.model:
        try:
            settings["model"] = json.loads(args.model)
        except json.JSONDecodeError as err:
            raise ConfigError(f"--model must be a JSON object, got {args.model!r} ({err})") from None
    spec = LogocapConfig(seed=args.seed, **settings)
    return spec.replace(data_dir=_data_dir(args))


def _train(args) -> int:
    from logocap.train import train

    run, _, _ = train(_train_config(args), runs_root=args.out)
    print(open(run.file("results.md"), encoding="utf-8").read())
    print(f"run directory: {run.path}")
    return 0


def _evaluate(args) -> int:
    from logocap.reproduce import evaluate_run

    result = evaluate_run(args.run, args.weights, args.data_dir, args.split, not args.no_flip,
                          args.limit, args.size, upper_bound=args.upper_bound,
                          level=getattr(args, "level", None))
    print(result["markdown"])
    print(f"wrote {result['path']}")
    return 0


def _export_model(args):
    from logocap.predict import load_model
    from reprokit.export import fixed_input

    m = load_model(args.weights, args.backbone, args.size)
    net = getattr(m.model, "net", m.model)       # LOGO-CAP: the network; its CMP adapts per image
    return fixed_input(net, (m.size, m.size)), m.source


def _predict(args) -> int:
    from logocap.predict import load_model, predict_file

    model = load_model(args.weights or args.run, args.backbone, args.size, args.level)
    data = predict_file(args.image, model, not args.no_flip, args.output, args.force)
    if data["warning"]:
        print(f"WARNING: {data['warning']}", file=sys.stderr)
    print(f"{len(data['people'])} poses ({data['drawn']} drawn); wrote {data['outputs']['json']} "
          f"and {data['outputs']['png']}")
    return 0


def _upper_bound(args) -> int:
    args.upper_bound = True
    return _evaluate(args)


def _reproduce(args) -> int:
    from logocap import reproduce, tables

    fn = {"upper_bound": reproduce.reproduce_upper_bound, "adaptation": tables.reproduce_adaptation,
          "speed": tables.reproduce_speed}[args.table]
    print(f"results in {fn(args.scale, args.data_dir, args.out)}")
    return 0


def _parse_configs(text: str):
    configs = []
    for item in text.split(","):
        backbone, _, size = item.strip().partition("-")
        if backbone not in ("w32", "w48", "hourglass", "smoke") or not size.isdigit() or int(size) % 64:
            raise ConfigError(f"--configs: expected BACKBONE-SIZE items like w32-512 (backbone "
                              f"w32, w48, hourglass or smoke; size a multiple of 64), got {item!r}")
        configs.append((backbone, int(size)))
    return tuple(configs)


def _bench(args) -> int:
    from logocap import bench
    from logocap.tables import SMOKE_LOGOCAP, reproduce_speed

    configs = _parse_configs(args.configs) if args.configs else bench.CONFIGS
    if args.out_dir:
        result = bench.run_bench(configs, images=args.images, warmup=args.warmup,
                                 ap=bench.load_ap(args.ap_from), logocap_kwargs=SMOKE_LOGOCAP)
        gflops = None if args.no_gflops else bench.gflops_table(configs)
        path = bench.write(result, args.out_dir, gflops)
        print(open(path, encoding="utf-8").read())
        print(f"wrote {path} and speed.png")
        return 0
    print(f"results in {reproduce_speed(args.scale, None, args.out, tuple(args.ap_from or ()))}")
    return 0


def _eval_args(p):
    p.add_argument("run", help="run directory (from train)")
    p.add_argument("--weights", default=None, help="default: the run's best, else final checkpoint")
    p.add_argument("--data-dir", default=None, help="COCO root (default: the run's data)")
    p.add_argument("--split", default=None, help="default: the run's validation split")
    p.add_argument("--size", type=int, default=None, help="short side at test (default: the run's)")
    p.add_argument("--no-flip", action="store_true", help="disable the flip test")
    p.add_argument("--limit", type=int, default=None, help="first N images only")
    p.add_argument("--level", choices=("none", "partial", "full"), default=None,
                   help="LOGO-CAP's adaptation level (default: the run's)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m logocap")
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("summary", help="parameters of the backbones, center-offset and LOGO-CAP "
                       "models, beside timm's and the released Model's counts (and GFLOPs)")
    s.add_argument("--backbone", choices=("w32", "w48", "hourglass", "smoke"), default=None)
    s.add_argument("--gflops", action="store_true", help="also GFLOPs per image at --sizes")
    s.add_argument("--sizes", type=int, nargs="+", default=[384, 512, 640],
                   help="square input sides for --gflops (default: the supplement's 384 512 640)")
    s.set_defaults(fn=_summary)

    x = export_command(sub, _export_model, " (the network: heatmaps, offsets[, embedding])")
    x.add_argument("--backbone", choices=("w32", "w48", "hourglass", "smoke"), default="w32",
                   help="of weights not from a run")
    x.add_argument("--size", type=int, default=None, help="input side (default: the run's test "
                   "size, else the backbone's paper size)")

    t = sub.add_parser("train", help="train the center-offset baseline or LOGO-CAP (rerunning "
                       "resumes)")
    t.add_argument("--scale", choices=("smoke", "paper"), default="smoke",
                   help="smoke: a narrow HRNet on small images (logocap.reproduce.SCALES); "
                   "paper: the supplement's schedule")
    t.add_argument("--backbone", choices=("w32", "w48", "hourglass", "smoke"), default=None)
    for key, typ in (("epochs", int), ("steps-per-epoch", int), ("batch-size", int),
                     ("learning-rate", float), ("input-size", int), ("test-size", int),
                     ("offset-loss-weight", float), ("train-limit", int), ("val-limit", int)):
        t.add_argument(f"--{key}", type=typ, default=None)
    t.add_argument("--head", choices=("center_offset", "logocap"), default=None,
                   help="center_offset (default) or logocap (embedding + CMP + adaptation; at "
                   "smoke scale with the scaled global window of logocap.reproduce.ADAPT_SMOKE)")
    t.add_argument("--level", choices=("none", "partial", "full"), default=None,
                   help="LOGO-CAP's adaptation level at evaluation (default full)")
    t.add_argument("--init-weights", default=None, help="a center-offset run (or .weights.h5) to "
                   "start from")
    t.add_argument("--max-instances", type=int, default=None, help="kept centres per batch "
                   "through the CMP net (default: all)")
    t.add_argument("--model", default=None, help='hourglass backbone overrides as JSON, e.g. '
                   '\'{"num_stacks": 2}\'')
    t.add_argument("--data-dir", default=None, help="COCO 2017 root; default: a synthetic COCO "
                   "in the official layout")
    t.add_argument("--out", default="runs", help="parent of run directories (and synthetic data)")
    t.add_argument("--seed", type=int, default=0)
    execution_args(t)
    t.set_defaults(fn=_train)

    e = sub.add_parser("evaluate", help="COCOeval (AP, AP50, AP75, APM, APL, AR) of a run")
    _eval_args(e)
    e.add_argument("--upper-bound", action="store_true", help="also the KEM empirical upper bound")
    e.set_defaults(fn=_evaluate)

    u = sub.add_parser("upper-bound", help="initial AP vs the KEM empirical upper bound of a run "
                       "(supplement §2, Algorithm 1)")
    _eval_args(u)
    u.set_defaults(fn=_upper_bound)

    p = sub.add_parser("predict", help="multi-person poses of one image: JSON and an overlay PNG "
                       "(<image>.logocap.json / .png)")
    p.add_argument("image")
    p.add_argument("--weights", default=None, help="a run directory or a .weights.h5 (then name "
                   "--backbone); default: random weights (warned)")
    p.add_argument("--run", default=None, help="a run directory (same as --weights DIR)")
    p.add_argument("--backbone", choices=("w32", "w48", "hourglass", "smoke"), default="w32",
                   help="architecture of weights that are not from a run")
    p.add_argument("--size", type=int, default=None, help="short side at test (default: the "
                   "run's test size, else 512 for W32, 640 for W48)")
    p.add_argument("--output", default=None, help="output stem (default: the image's)")
    p.add_argument("--force", action="store_true", help="overwrite existing outputs")
    p.add_argument("--no-flip", action="store_true")
    p.add_argument("--level", choices=("none", "partial", "full"), default=None,
                   help="LOGO-CAP's adaptation level (default: the run's)")
    p.set_defaults(fn=_predict)

    b = sub.add_parser("bench", help="images/s of LOGO-CAP and the center-offset model at batch 1 "
                       "(supplement Fig. 1): a table, GFLOPs and the AP-vs-FPS plot")
    b.add_argument("--configs", default=None, help="comma-separated BACKBONE-SIZE, e.g. "
                   "w32-384,w32-512,w48-640 (default: those and hourglass-512)")
    b.add_argument("--images", type=int, default=3, help="timed images per model")
    b.add_argument("--warmup", type=int, default=1, help="untimed images first")
    b.add_argument("--ap-from", action="append", default=None, help="a logocap.adaptation "
                   "results.json whose AP the plot uses (repeatable)")
    b.add_argument("--out-dir", default=None, help="write speed.{md,json,png} here; default: a "
                   "run directory under --out (the scale's configurations of `repro run logocap.speed`)")
    b.add_argument("--scale", choices=("demo", "smoke", "paper"), default="smoke",
                   help="without --out-dir: the configurations of that scale")
    b.add_argument("--no-gflops", action="store_true")
    b.add_argument("--out", default="runs")
    b.set_defaults(fn=_bench)

    r = sub.add_parser("reproduce", help="the supplement's tables: upper_bound (initial AP vs the "
                       "KEM upper bound), adaptation (none / partial / full), speed (Fig. 1); "
                       "what `repro run logocap.<table>` runs")
    r.add_argument("table", choices=("upper_bound", "adaptation", "speed"))
    r.add_argument("--scale", choices=("demo", "smoke", "paper"), default="smoke")
    r.add_argument("--data-dir", default=None, help="COCO 2017 root (paper scale); default: "
                   "a synthetic COCO")
    r.add_argument("--out", default="runs")
    execution_args(r)
    r.set_defaults(fn=_reproduce)
    return run_main(parser, argv)


if __name__ == "__main__":
    sys.exit(main())
