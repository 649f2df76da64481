"""Benchmarks (never timed tests): ``python -m reprokit.bench [suite|pipeline|case NAME]``.

``suite`` (the default) measures, for one model of every package (registered under the
``reprokit.benchmarks`` entry-point group, ``setup.py``), each in a fresh process: the import,
the time to the first training step (build + compile + the pre-build of
:func:`reprokit.training.fit` + the first ``train_on_batch``, split into Python tracing,
Grappler and the first execution), the steady training step, inference latency
at batch 1 and throughput at the paper's batch, the FLOP of the traced training step
(:mod:`reprokit.bench_flops`) against a float32 matmul peak measured in the same run; when
``torch`` is importable (here or in
``--torch-python``), the same figures for the PyTorch reference hourglass
(:mod:`reprokit.bench_torch`) in the same run; and the hourglass input pipeline's samples/s
against the model's consumption. It prints a table and, with ``--write``, replaces the
measured section of ``docs/performance.md``. These machines are noisy: compare the ratios of
one run, not absolute numbers between runs.

``pipeline`` is the input pipeline alone: synthetic JPEGs through the 256x256 keypoint
pipeline (decode -> anibali affine + flip + channel scale -> 16 Gaussian heatmaps at 64x64 ->
batch) against a decode-only pipeline in the same process.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from typing import Callable

GROUP = "reprokit.benchmarks"


@dataclasses.dataclass(frozen=True)
class BenchCase:
    """One benchmarked model.

    Attributes:
        name: e.g. ``"hourglass"``.
        title: what it is, e.g. ``"CV701 baseline hg2 (bearpaw), 256 x 256"``.
        batch: the paper's training batch (throughput is measured at it); cite it in ``source``.
        source: where ``batch`` and the input size come from.
        make: ``make(batch) -> (compiled keras model, x, y)``: the package's own model, losses
            and optimizer, with one random batch.
        train_batch: the batch of the timed training steps (default: ``batch``); smaller where
            the paper's batch takes minutes per step on a 2-core CPU.
    """

    name: str
    title: str
    batch: int
    source: str
    make: Callable
    train_batch: int | None = None


def discover() -> dict[str, BenchCase]:
    """The registered cases by name."""
    # Under ``python -m reprokit.bench`` this module is ``__main__``; the packages register
    # instances of the importable ``reprokit.bench.BenchCase``, so check against that class.
    from reprokit.bench import BenchCase as registered   # lazy: see the comment above

    cases = {}
    for ep in metadata.entry_points(group=GROUP):
        case = ep.load()
        if not isinstance(case, registered):
            raise TypeError(f"entry point {ep.name!r} ({ep.value}) is not a BenchCase")
        cases[case.name] = case
    return dict(sorted(cases.items()))


def _median(values):
    values = sorted(values)
    return values[len(values) // 2]


def measure_case(case: BenchCase, steps: int = 5, runs: int = 10, grappler: bool = True,
                 precision: str = "float32", jit: bool = False) -> dict:
    """The figures of one case in this process (call it in a fresh one: the first step counts);
    ``precision`` and ``jit`` as the train commands' ``--precision`` / ``--jit``."""
    t0 = time.perf_counter()
    import numpy as np      # lazy: `python -m reprokit.bench --help` answers without TensorFlow
    import tensorflow as tf
    import_s = time.perf_counter() - t0
    import keras            # lazy, as above (imported with TensorFlow already)
    from reprokit.execution import Execution   # TF-free; here to keep the imports together

    if not grappler:
        tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})
    t0 = time.perf_counter()
    train_batch = case.train_batch or case.batch
    keras.mixed_precision.set_global_policy(precision)
    model, x, y = case.make(train_batch)
    Execution(precision=precision, jit=jit).apply(model)
    from reprokit.training import prebuild     # lazy, as above: what fit does before step 1
    prebuild(model, tf.nest.map_structure(lambda v: tf.TensorSpec(np.shape(v), tf.as_dtype(
        np.asarray(v).dtype)), (x, y)))
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    model.train_on_batch(x, y)
    first_s = time.perf_counter() - t0
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        model.train_on_batch(x, y)
        times.append(time.perf_counter() - t0)
    # Python tracing of the same train step again (everything is built by now)
    t0 = time.perf_counter()
    traced = tf.function(model.train_step).get_concrete_function((tf.constant(x), tf.nest.map_structure(
        tf.constant, y)))
    trace_s = time.perf_counter() - t0
    from reprokit.bench_flops import graph_flops   # lazy, as above
    flops = graph_flops(traced.graph)
    infer = tf.function(lambda v: model(v, training=False))
    one = tf.constant(np.asarray(x)[:1])
    full = tf.constant(np.resize(np.asarray(x), (case.batch, *np.asarray(x).shape[1:])))
    tf.nest.map_structure(lambda t: t.numpy(), infer(one))
    latency = []
    for _ in range(runs):
        t0 = time.perf_counter()
        tf.nest.map_structure(lambda t: t.numpy(), infer(one))
        latency.append(time.perf_counter() - t0)
    tf.nest.map_structure(lambda t: t.numpy(), infer(full))
    t0 = time.perf_counter()
    tf.nest.map_structure(lambda t: t.numpy(), infer(full))
    throughput = case.batch / (time.perf_counter() - t0)
    return {"name": case.name, "import_s": import_s, "build_s": build_s, "first_call_s": first_s,
            "first_step_s": build_s + first_s, "trace_s": trace_s, "step_s": _median(times),
            "train_batch": train_batch, "batch": case.batch, "latency_s": _median(latency),
            "throughput": throughput,
            "params": int(sum(np.prod(w.shape) for w in model.trainable_weights)),
            "precision": precision, "jit": jit, "tensorflow": tf.__version__,
            "train_gflop": flops["flops"] / 1e9, "flop_ops": flops["ops"],
            "flop_unknown": flops["unknown"]}


def _subprocess_json(cmd: list[str], timeout: float = 1800) -> dict:
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                         env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.stderr[-3000:]}")
    return json.loads(lines[-1])


def run_case(name: str, steps: int, grappler: bool = True, precision: str = "float32",
             jit: bool = False) -> dict:
    cmd = [sys.executable, "-m", "reprokit.bench", "case", name, "--steps", str(steps),
           "--precision", precision]
    return _subprocess_json(cmd + ([] if grappler else ["--no-grappler"]) + (["--jit"] if jit else []))


def run_torch(python: str | None, steps: int, threads: int | None = None,
              precision: str = "float32") -> dict | None:
    """The PyTorch reference hourglass in ``python`` (default: this interpreter, if it has torch);
    ``precision`` ``"bfloat16"``: under ``torch.autocast`` (:func:`reprokit.bench_torch.bench`)."""
    python = python or sys.executable
    probe = subprocess.run([python, "-c", "import torch"], capture_output=True)
    if probe.returncode != 0:
        return None
    t0 = time.perf_counter()
    code = ("import json, sys, time; t = time.perf_counter(); import torch; i = time.perf_counter() - t; "
            f"sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r}); "
            "import bench_torch; r = bench_torch.bench(steps=%d%s, precision=%r); r['import_s'] = i; "
            "print(json.dumps(r))" % (steps, f", threads={threads}" if threads else "", precision))
    result = _subprocess_json([python, "-c", code])
    result["wall_s"] = time.perf_counter() - t0
    return result


def _rate(ds, warmup: int, batches: int, batch_size: int) -> float:
    it = iter(ds)
    for _ in range(warmup):
        next(it)
    start = time.perf_counter()
    for _ in range(batches):
        next(it)
    return batches * batch_size / (time.perf_counter() - start)


def bench_pipeline(num_images: int = 128, image_size=(480, 640), batch_size: int = 8,
                   batches: int = 40, warmup: int = 5) -> dict:
    # lazy: `python -m reprokit.bench --help` answers without loading TensorFlow
    from reprokit.codecs import GaussianHeatmapCodec
    from reprokit.data import AffineCrop, ChannelScale, Compose, ImageRecordReader, build_dataset
    from reprokit.synthetic import HUMAN16, write_figures
    from reprokit.data.meta import flip_pairs_to_index   # lazy, as above

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        records = write_figures(HUMAN16, tmp, num_images, image_size, seed=1)
        write_s = time.perf_counter() - t0
        records.pop("label_path")
        reader = ImageRecordReader(records)
        flip = flip_pairs_to_index(HUMAN16.flip_pairs, HUMAN16.num_joints)
        augment = Compose([AffineCrop((256, 256), scale_std=0.25, scale_range=(0.75, 1.25),
                                      rotation_std=30.0, rotation_range=(-60.0, 60.0),
                                      rotation_prob=0.6, flip_prob=0.5, flip_index=flip),
                           ChannelScale(0.8, 1.2)])
        codec = GaussianHeatmapCodec((256, 256), (64, 64), sigma=1.0, peak_rounding="floor",
                                     patch_size=7)
        full = build_dataset(reader, augment, codec, batch_size, training=True, seed=0, repeat=True)
        decode_only = build_dataset(reader, None, None, batch_size, training=True, seed=0,
                                    repeat=True, format_fn=lambda ex: ex["image"][:64, :64])
        rate_decode = _rate(decode_only, warmup, batches, batch_size)
        rate_full = _rate(full, warmup, batches, batch_size)
    return {"images": num_images, "image_size": list(image_size), "write_seconds": write_s,
            "decode_only_samples_per_s": rate_decode, "full_samples_per_s": rate_full,
            "full_over_decode": rate_full / rate_decode, "cpus": os.cpu_count()}


def _cmd_pipeline(args) -> int:
    r = bench_pipeline(args.images, batches=args.batches)
    print(f"pipeline benchmark ({r['cpus']} CPUs, {r['images']} synthetic JPEGs "
          f"{r['image_size'][1]}x{r['image_size'][0]}, batch 8):")
    print(f"  decode only                                   {r['decode_only_samples_per_s']:8.1f} samples/s")
    print(f"  decode + affine/flip/colour + 16 heatmaps 64² {r['full_samples_per_s']:8.1f} samples/s")
    print(f"  ratio full / decode-only                      {r['full_over_decode']:8.2f}")
    return 0


def _cmd_case(args) -> int:
    t0 = time.perf_counter()
    import tensorflow  # noqa: F401  (lazy: timed here, before the entry points load it)
    import_s = time.perf_counter() - t0
    case = discover()[args.name]
    result = measure_case(case, args.steps, grappler=not args.no_grappler,
                          precision=args.precision, jit=args.jit)
    print(json.dumps({**result, "import_s": import_s}))
    return 0


def _cmd_suite(args) -> int:
    from reprokit.bench_report import suite_markdown, write_performance   # lazy: as above

    cases = [c for c in discover().values() if not args.only or c.name in args.only]
    results, start = {"cases": [], "machine": _machine()}, time.perf_counter()
    for case in cases:
        print(f"== {case.name}: {case.title}", flush=True)
        r = run_case(case.name, args.steps)
        r["no_grappler_first_call_s"] = run_case(case.name, 1, grappler=False)["first_call_s"]
        r.update(title=case.title, source=case.source)
        results["cases"].append(r)
        print(f"   first step {r['first_step_s']:.1f} s, step {r['step_s']:.2f} s", flush=True)
    for variant in args.variants or ():
        precision, _, jit = variant.partition("+")
        r = run_case("hourglass", args.steps, precision=precision, jit=jit == "jit")
        results.setdefault("variants", []).append(r)
        print(f"   hourglass {variant}: first step {r['first_step_s']:.1f} s, step {r['step_s']:.2f} s",
              flush=True)
    if not args.no_torch:
        results["torch"] = run_torch(args.torch_python, args.steps)
        print("== PyTorch reference hourglass: " + (
            "torch not importable (--torch-python)" if results["torch"] is None else
            f"first step {results['torch']['first_step_s']:.1f} s, step {results['torch']['step_s']:.2f} s"),
            flush=True)
        if results["torch"] and "mixed_bfloat16" in (args.variants or ()):
            # the same precision on both sides: Keras's mixed_bfloat16 (without XLA, the row the
            # report pairs it with) against torch.autocast
            r = run_torch(args.torch_python, args.steps, precision="bfloat16")
            results["torch_variants"] = [r]
            print(f"== PyTorch reference hourglass, bfloat16 autocast: first step "
                  f"{r['first_step_s']:.1f} s, step {r['step_s']:.2f} s", flush=True)
    results["matmul_gflops"] = _subprocess_json([sys.executable, "-c", (
        "import json; from reprokit.bench_flops import matmul_gflops; "
        "print(json.dumps({'gflops': matmul_gflops()}))")])["gflops"]
    print(f"== float32 matmul peak: {results['matmul_gflops']:.0f} GFLOP/s", flush=True)
    results["pipeline"] = bench_pipeline(batches=args.pipeline_batches)
    results["wall_s"] = time.perf_counter() - start
    text = suite_markdown(results, " ".join(["python -m reprokit.bench", *sys.argv[1:]]))
    print(text)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1)
    if args.write:
        print(f"wrote {write_performance(args.write, text)}")
    return 0


def _machine() -> dict:
    return {"cpus": os.cpu_count(), "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(), "date": time.strftime("%Y-%m-%d")}


def main(argv=None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = argparse.ArgumentParser(prog="python -m reprokit.bench", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what")
    s = sub.add_parser("suite", help="every package's model (and the PyTorch reference), default")
    s.add_argument("--steps", type=int, default=5, help="timed training steps per model")
    s.add_argument("--only", nargs="*", default=None, help="case names (default: all)")
    s.add_argument("--torch-python", default=None, help="a Python with torch for the reference "
                   "hourglass (default: this one, if torch imports)")
    s.add_argument("--no-torch", action="store_true")
    s.add_argument("--pipeline-batches", type=int, default=40)
    s.add_argument("--variants", nargs="*", default=None, metavar="PRECISION[+jit]",
                   help="also time the hourglass under these, e.g. float32+jit mixed_bfloat16")
    s.add_argument("--json", default=None, help="also write the raw figures here")
    s.add_argument("--write", default=None, metavar="DOCS_PERFORMANCE_MD",
                   help="replace the measured section of this file (docs/performance.md)")
    s.set_defaults(fn=_cmd_suite)
    p = sub.add_parser("pipeline", help="augmented samples per second, 256x256 keypoint pipeline")
    p.add_argument("--images", type=int, default=128)
    p.add_argument("--batches", type=int, default=40)
    p.set_defaults(fn=_cmd_pipeline)
    c = sub.add_parser("case", help="one case's figures as JSON (what suite runs per process)")
    c.add_argument("name")
    c.add_argument("--steps", type=int, default=5)
    c.add_argument("--no-grappler", action="store_true")
    c.add_argument("--precision", default="float32",
                   choices=("float32", "mixed_float16", "mixed_bfloat16"))
    c.add_argument("--jit", action="store_true")
    c.set_defaults(fn=_cmd_case)
    args = parser.parse_args(argv)
    if args.what is None:
        args = parser.parse_args(["suite", *(argv or sys.argv[1:])])
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
