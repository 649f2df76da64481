"""The benchmark machinery (never timed here): cases register, a case is measured, the report
table and its docs/performance.md section are written."""
import numpy as np

from reprokit import bench
from reprokit.bench_report import BEGIN, END, suite_markdown, write_performance


def test_every_package_registers_a_case():
    cases = bench.discover()
    assert list(cases) == ["handpose", "hourglass", "logocap", "segmentation"]
    for case in cases.values():
        assert case.batch >= 1 and case.source and callable(case.make)


def _tiny(batch):
    import keras
    inp = keras.Input((4,))
    model = keras.Model(inp, keras.layers.Dense(2)(inp))
    model.compile("adam", "mse")
    rng = np.random.default_rng(0)
    return model, rng.normal(size=(batch, 4)).astype("float32"), np.zeros((batch, 2), "float32")


def test_measure_case_reports_every_figure():
    case = bench.BenchCase("tiny", "a dense layer", 6, "test", _tiny, train_batch=3)
    r = bench.measure_case(case, steps=2, runs=2)
    for key in ("import_s", "build_s", "first_step_s", "trace_s", "step_s", "latency_s"):
        assert r[key] >= 0, key
    assert (r["train_batch"], r["batch"], r["params"]) == (3, 6, 10) and r["throughput"] > 0


def test_report_and_performance_section(tmp_path):
    case = {"name": "hourglass", "title": "hg2", "params": 6730912, "import_s": 3.0,
            "build_s": 5.0, "first_call_s": 15.0, "first_step_s": 20.0, "trace_s": 4.0,
            "no_grappler_first_call_s": 11.0, "step_s": 3.0, "train_batch": 8, "batch": 8,
            "latency_s": 0.2, "throughput": 10.0}
    results = {"machine": {"date": "2026-12-01", "cpus": 2, "processor": "x86_64",
                           "platform": "Linux", "python": "3.11"}, "wall_s": 60.0,
               "cases": [case], "torch": {**case, "torch": "2.14", "first_step_s": 5.0,
                                          "step_s": 4.0, "import_s": 1.0},
               "pipeline": {"full_samples_per_s": 30.0, "decode_only_samples_per_s": 90.0}}
    text = suite_markdown(results, "python -m reprokit.bench")
    assert "| first training step s | 20.0 | 5.0 | 4.00 |" in text
    assert "| training step s, batch 8 | 3.00 | 4.00 | 0.75 |" in text
    # split of the first call: tracing 4, Grappler 15 - 11 = 4, the rest 7
    assert "| hourglass | 5.0 | 4.0 | 4.0 | 7.0 | 20.0 | 3.00 |" in text
    assert "pipeline / consumption = 11.2" in text           # 30 / (8 / 3)
    assert "bfloat16" not in text
    bf16 = {"precision": "mixed_bfloat16", "jit": False, "first_step_s": 16.0, "step_s": 1.5,
            "latency_s": 0.1}
    text16 = suite_markdown({**results, "variants": [bf16], "torch_variants": [
        {**results["torch"], "precision": "bfloat16", "step_s": 2.0, "first_step_s": 6.0}]}, "b")
    assert "| mixed_bfloat16 | no | 16.0 | 1.50 | 0.50 | 100 |" in text16
    assert "Keras `mixed_bfloat16` / PyTorch bfloat16 = 0.75 (step), 2.67 (first step)" in text16
    assert "Arithmetic per training step" not in text               # no peak measured
    roof = suite_markdown({**results, "matmul_gflops": 200.0,
                           "cases": [{**case, "train_gflop": 450.0}]}, "c")
    # 450 GFLOP / 3 s = 150 GFLOP/s = 75% of 200; floor 2.25 s; PyTorch 450 / 4 s
    assert "| hourglass | 450.0 | 150 | 75% | 2.25 | 3.00 |" in roof
    assert "| PyTorch reference hg2 (the same arithmetic) | 450.0 | 112 | 56% | 2.25 | 4.00 |" in roof
    assert "0.6x the PyTorch reference's step, is 2.40 s = 1.07x the floor of 2.25 s" in roof
    path = str(tmp_path / "performance.md")
    with open(path, "w") as f:
        f.write(f"# Performance\n\nintro\n\n{BEGIN}\nold\n{END}\n\nafter\n")
    write_performance(path, text)
    new = open(path).read()
    assert "old" not in new and new.startswith("# Performance\n\nintro") and new.endswith("after\n")
    assert text in new


def _convnet(batch):
    import keras
    inp = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same")(inp)
    x = keras.layers.Conv2D(5, 1, strides=2)(x)
    model = keras.Model(inp, keras.layers.Dense(2)(keras.layers.Flatten()(x)))
    model.compile("sgd", "mse")
    rng = np.random.default_rng(0)
    return model, rng.normal(size=(batch, 8, 8, 3)).astype("float32"), np.zeros((batch, 2), "float32")


def test_the_train_step_arithmetic_is_counted_from_the_graph():
    r = bench.measure_case(bench.BenchCase("conv", "two convs", 2, "test", _convnet), steps=1, runs=1)
    # by hand, batch 2: conv 3x3x3->4 on 8x8: 2*2*64*4*27 = 27,648 forward and again for the
    # filter's gradient (the input image's gradient is built but never run); conv 1x1 4->5,
    # stride 2: 2*2*16*5*4 = 1,280 three times (forward, input, filter); dense 80->2:
    # 2*2*80*2 = 640 three times
    assert round(r["train_gflop"] * 1e9) == 2 * 27648 + 3 * 1280 + 3 * 640
    assert r["flop_ops"] == 8 and r["flop_unknown"] == 0


def test_matmul_peak_is_a_rate():
    from reprokit.bench_flops import matmul_gflops
    assert matmul_gflops(sizes=(64,), repeats=1) > 0
