"""The ``repro`` command: list, run and demo the registered reproductions.

Packages register a :class:`Reproduction` under the ``reprokit.reproductions`` entry-point group
in ``setup.py``; this module never imports them by name (docs/design.md, dependency direction).
"""
from __future__ import annotations

import argparse
import json
import dataclasses
import os
import pickle
import sys
import time
from importlib import metadata
from typing import Callable

from reprokit.errors import ConfigError, ReprokitError
from reprokit.execution import PRECISIONS, STRATEGIES, Execution
from reprokit.weights import WeightLoadError

GROUP = "reprokit.reproductions"


@dataclasses.dataclass(frozen=True)
class Reproduction:
    """One reproducible table.

    Attributes:
        name: command name, e.g. ``"hourglass.table1"``.
        title: one line, e.g. ``"CV701 Table 1: hourglass block variants on MPII"``.
        paper: the source (paper and table).
        run: ``run(scale, data_dir, out_root) -> results directory``; ``scale`` is ``"demo"``
            (one small run, what ``repro demo`` calls; a minute or two on a CPU), ``"smoke"``
            (the whole table at toy size, minutes) or ``"paper"`` (the paper's schedule);
            ``data_dir=None`` means the synthetic dataset written in the real format.
        demo: whether ``repro demo`` runs it (one small reproduction per paper: a paper with
            several tables marks one).
    """

    name: str
    title: str
    paper: str
    run: Callable[[str, str | None, str], str]
    demo: bool = True


def discover() -> list[Reproduction]:
    """All registered reproductions, sorted by name."""
    # Under ``python -m reprokit.cli`` this module is ``__main__``; the packages register
    # instances of the importable ``reprokit.cli.Reproduction``, so check against that class.
    from reprokit.cli import Reproduction as registered   # lazy: see the comment above

    found = []
    for ep in metadata.entry_points(group=GROUP):
        obj = ep.load()
        if not isinstance(obj, registered):
            raise TypeError(f"entry point {ep.name!r} ({ep.value}) is a {type(obj).__name__}, "
                            "not a reprokit.cli.Reproduction")
        found.append(obj)
    return sorted(found, key=lambda r: r.name)


_NONE_YET = ("No reproductions are registered yet: the hourglass, handpose and segmentation "
             "packages add theirs (CV701 Table 1, Sibgrapi Table IV, thesis Tables 1-6) as they land.")


def _cmd_list(args) -> int:
    repros = discover()
    if not repros:
        print(_NONE_YET)
        return 0
    width = max(len(r.name) for r in repros)
    for r in repros:
        print(f"{r.name:<{width}}  {r.title}  [{r.paper}]")
    return 0


def _find(name: str) -> Reproduction:
    repros = {r.name: r for r in discover()}
    if name not in repros:
        valid = ", ".join(sorted(repros)) or "none registered yet"
        raise ConfigError(f"unknown reproduction {name!r}; valid: {valid}")
    return repros[name]


def _cmd_run(args) -> int:
    repro = _find(args.name)
    out = repro.run(args.scale, args.data_dir, args.out)
    print(f"{repro.name}: results in {out}")
    return 0


def _cmd_report(args) -> int:
    from reprokit.report import render_report   # lazy: matplotlib / OpenCV stay out of `repro list`

    path = render_report(args.runs, args.out, args.title)
    print(f"report written to {path}")
    return 0


def _cmd_demo(args) -> int:
    repros = [r for r in discover() if r.demo]
    if not repros:
        print(_NONE_YET + " `repro demo` has nothing to run.")
        return 0
    print(f"repro demo: {len(repros)} demo-scale reproduction(s) on synthetic data")
    done = []
    for r in repros:
        start = time.perf_counter()
        print(f"== {r.name}: {r.title}", flush=True)
        out = r.run("demo", None, args.out)
        done.append((r.name, time.perf_counter() - start, out))
        print(f"== {r.name}: done in {done[-1][1]:.0f} s, results in {out}", flush=True)
    print(demo_summary(done, args.out))
    return 0


def demo_summary(done, out_root: str) -> str:
    """What ran, how long, where each table is, and the next commands to try."""
    width = max(len(name) for name, _, _ in done)
    lines = ["", f"repro demo: {len(done)} reproduction(s) in {sum(s for _, s, _ in done):.0f} s "
             "(demo scale: small models, short schedules, synthetic data)"]
    lines += [f"  {name:<{width}}  {seconds:5.0f} s  {os.path.join(out, 'results.md')}"
              for name, seconds, out in done]
    checks = [(name, c) for name, _, out in done for c in _chance_checks(out)]
    if checks:
        lines.append("against chance (margin in standard errors; >= 3 counts as beating it):")
        for name, c in checks:
            word = "beats chance" if c["beats_chance"] else "does NOT beat chance at demo scale"
            lines.append(f"  {name} {c['row']}: {c['metric']} {c['value']:.3f} vs {c['chance']:.3f}"
                         f" ({c['margin_se']:+.1f} SE) {word}")
    lines += ["next:",
              f"  repro report {out_root}/*-demo -o report.md   (every table and plot in one file)",
              f"  repro run {done[0][0]} --scale smoke   (the whole table at toy size)",
              "  repro list   (every reproduction; one not in the demo runs with "
              "`repro run NAME --scale demo`)",
              "  repro run NAME --scale paper --data-dir DATA   (the paper's schedule, real data)"]
    return "\n".join(lines)


def execution_args(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add ``--strategy``, ``--precision``, ``--jit`` and ``--steps-per-execution`` (every train
    command and ``repro run``); :func:`run_main` makes them this process's
    :class:`reprokit.execution.Execution` before the command runs."""
    g = parser.add_argument_group("execution (how it runs, not what it computes; README, "
                                  "\"Speed, precision and several GPUs\")")
    g.add_argument("--strategy", choices=STRATEGIES, default=None,
                   help="default: one device; mirrored: every local GPU; multi_worker: the "
                        "machines of TF_CONFIG (--batch-size stays the global batch)")
    g.add_argument("--precision", choices=PRECISIONS, default=None,
                   help="Keras dtype policy (default float32; mixed_* are GPU settings)")
    g.add_argument("--jit", action="store_true", default=None, help="compile the train step with XLA")
    g.add_argument("--steps-per-execution", type=int, default=None, metavar="N",
                   help="train steps per call into the compiled step (default 1)")
    parser.set_defaults(_execution_options=True)
    return parser


def _chance_checks(out: str) -> list[dict]:
    """The ``chance_check`` records of a results directory's ``results.json`` (none if absent)."""
    try:
        with open(os.path.join(out, "results.json"), encoding="utf-8") as f:
            return list(json.load(f).get("chance_check", []))
    except (OSError, ValueError):
        return []


#: ``--format`` of every ``export`` command (the keys of ``reprokit.export.FORMATS``)
EXPORT_FORMATS = ("savedmodel", "onnx", "tflite")


def export_command(sub, load: Callable, help_text: str = "") -> argparse.ArgumentParser:
    """Add ``export RUN_OR_WEIGHTS --format savedmodel|onnx|tflite [--output PATH]`` to a
    package CLI. ``load(args)`` returns ``(keras model with a fixed input size, weights path)``;
    the package adds its own options to the returned parser."""
    p = sub.add_parser("export", help="export a network (run directory or weights) to "
                       "SavedModel, ONNX or TFLite, checked against Keras" + help_text)
    p.add_argument("weights", metavar="RUN_OR_WEIGHTS", help="a run directory or a weights file")
    p.add_argument("--format", choices=EXPORT_FORMATS, required=True, help="onnx needs the "
                   "export extra: pip install -e \".[export]\"")
    p.add_argument("--output", default=None, help="default: RUN/export/<model name>[.onnx|"
                   ".tflite], or the weights path without .weights.h5")
    p.add_argument("--no-check", action="store_true",
                   help="skip running the export against Keras on a random input")
    p.set_defaults(fn=lambda args: _cmd_export(args, load))
    return p


def _cmd_export(args, load) -> int:
    from reprokit.export import export_model   # lazy: TensorFlow only when exporting

    model, source = load(args)
    out = args.output
    if out is None:
        base = args.weights.rstrip(os.sep)
        out = (os.path.join(base, "export", model.name) if os.path.isdir(base)
               else base.removesuffix(".weights.h5"))
    manifest = export_model(model, out, args.format, source=source, check=not args.no_check)
    print(f"{manifest['format']}: {manifest['path']}")
    print(f"  input  {manifest['input']['name']} {manifest['input']['shape']} float32")
    for o in manifest["outputs"]:
        print(f"  output {o['name']} {o['shape']}")
    if "max_abs_diff" in manifest:
        print(f"  max |export - Keras| on a random input: {manifest['max_abs_diff']:.2e}")
    print(f"  manifest: {manifest['path']}.json")
    return 0


#: Exceptions that mean "the user asked for something that cannot be done" (a bad file, value
#: or run directory): the CLIs print their message on one line and exit 2. Anything else is a
#: bug and keeps its traceback.
def user_errors() -> tuple:
    return (ReprokitError, WeightLoadError, pickle.UnpicklingError, FileNotFoundError,
            NotADirectoryError, IsADirectoryError, PermissionError, ValueError)


def run_main(parser: argparse.ArgumentParser, argv=None) -> int:
    """Parse ``argv`` and call ``args.fn(args)``; a user error prints ``prog: error: message``
    on one line and returns 2, ``--debug`` shows the traceback instead."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # docs/reference/feasibility.md §4
    help_text = "show the Python traceback of an error instead of one line"
    parser.add_argument("--debug", action="store_true", help=help_text)
    for action in parser._subparsers._group_actions if parser._subparsers else ():
        for sub in set(action.choices.values()):       # `prog CMD ... --debug` works too
            sub.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                             help=help_text)
    args = parser.parse_args(argv)
    try:
        if getattr(args, "_execution_options", False):
            execution = Execution.from_args(args)
            execution.activate()
            if execution.strategy == "multi_worker":
                # lazy: TensorFlow only for this strategy, whose collectives must be set up
                # before any op runs (the command's own set-up runs ops)
                from reprokit.distribute import get_strategy
                get_strategy("multi_worker")
        return args.fn(args)
    except user_errors() as err:
        if getattr(args, "debug", False):
            raise
        message = " ".join(str(err).split()) or type(err).__name__
        print(f"{parser.prog}: error: {message} (--debug shows the traceback)", file=sys.stderr)
        return 2


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="repro", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the reproducible tables").set_defaults(fn=_cmd_list)
    run = sub.add_parser("run", help="run one reproduction")
    run.add_argument("name")
    run.add_argument("--scale", choices=("demo", "smoke", "paper"), default="smoke")
    run.add_argument("--data-dir", default=None, help="real dataset root (default: synthetic)")
    run.add_argument("--out", default="runs", help="parent of the run directories")
    execution_args(run)
    run.set_defaults(fn=_cmd_run)
    report = sub.add_parser("report", help="one Markdown report (tables and figures) from run directories")
    report.add_argument("runs", nargs="+", metavar="RUN_DIR")
    report.add_argument("-o", "--out", default="report.md", help="report path (figures go to <stem>_files/)")
    report.add_argument("--title", default="reprokit report")
    report.set_defaults(fn=_cmd_report)
    demo = sub.add_parser("demo", help="run every reproduction at demo scale on synthetic data")
    demo.add_argument("--out", default="runs")
    demo.set_defaults(fn=_cmd_demo)
    return run_main(parser, argv)


if __name__ == "__main__":
    sys.exit(main())
