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
    path = str(tmp_path / "performance.md")
    with open(path, "w") as f:
        f.write(f"# Performance\n\nintro\n\n{BEGIN}\nold\n{END}\n\nafter\n")
    write_performance(path, text)
    new = open(path).read()
    assert "old" not in new and new.startswith("# Performance\n\nintro") and new.endswith("after\n")
    assert text in new
