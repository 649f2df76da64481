"""LOGO-CAP at toy size: parameter counts (W32, W48), the masked batch statistics of the CMP,
training end to end through the CLI (train --head logocap, evaluate and predict at every
adaptation level), the adaptation and speed reproductions, and the bench's table and plot.
Equality with the released code is tests/logocap/test_parity.py."""
import json
import os

import numpy as np
import pytest

from logocap.__main__ import main
from logocap.synthetic import write_synthetic_coco


@pytest.mark.parametrize("backbone", ["w32", "w48"])
def test_logocap_parameter_counts_equal_the_released_model(backbone):
    """Backbone (timm's count, the released HRNet) + the released ``Model``'s heads, embedding
    and CMP (6,685,893 at W32, 6,782,213 at W48, counted by building it)."""
    import keras

    from logocap.hrnet import TIMM_PARAMS
    from logocap.model import build_logocap

    model = build_logocap(backbone, (None, None, 3))
    n = sum(int(np.prod(w.shape)) for w in model.net.trainable_weights + model.cmp.trainable_weights)
    assert n == {"w32": 29_305_536 + 6_685_893, "w48": TIMM_PARAMS["w48"] + 6_782_213}[backbone]
    keras.backend.clear_session()


def test_cmp_statistics_come_from_the_kept_instances_only():
    """Training on a padded buffer with a mask equals training on the kept instances alone
    (the reference concatenates them): batch norm and attentive norm see the same statistics."""
    from logocap.cmp import ConvMessagePassing

    cmp = ConvMessagePassing(17, (16, 8, 8), (False, True, False), 4)
    cmp.build((None, 11, 11, 34))
    x = np.random.default_rng(0).normal(size=(6, 11, 11, 34)).astype(np.float32)
    mask = np.array([1, 0, 1, 1, 0, 0], bool)
    padded = cmp(x, training=True, mask=mask).numpy()[mask]
    alone = cmp(x[mask], training=True).numpy()
    np.testing.assert_allclose(padded, alone, rtol=1e-4, atol=1e-5)
    unmasked = cmp(x, training=True).numpy()[mask]
    assert np.abs(unmasked - alone).max() > 1e-3              # the mask matters


@pytest.fixture(scope="module")
def logocap_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("logocap_head")
    data = str(root / "coco")
    write_synthetic_coco(data, "train", 4, seed=0)
    write_synthetic_coco(data, "val", 2, seed=1)
    out = str(root / "runs")
    assert main(["train", "--head", "logocap", "--data-dir", data, "--backbone", "smoke",
                 "--input-size", "64", "--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "2",
                 "--max-instances", "8", "--out", out]) == 0
    run = os.path.join(out, next(d for d in os.listdir(out) if d.endswith("logocap-smoke")))
    return root, data, run


def test_logocap_trains_and_evaluates_at_every_level(logocap_run, capsys):
    _, _, run = logocap_run
    cfg = json.load(open(os.path.join(run, "config.json")))
    assert cfg["head"] == "logocap" and cfg["global_size"] == 25      # the smoke window
    hist = open(os.path.join(run, "history.csv")).read().splitlines()
    assert "oks_loss" in hist[0] and "adapted_loss" in hist[0] and len(hist) == 2
    assert "LOGO-CAP smoke (adaptation full)" in open(os.path.join(run, "results.md")).read()
    for level in ("none", "partial", "full"):
        assert main(["evaluate", run, "--level", level]) == 0
        assert f"adaptation {level}" in capsys.readouterr().out
    assert os.path.exists(os.path.join(run, "evaluation-val-partial.json"))


def test_predict_with_adaptation_and_level_errors(logocap_run, tmp_path, capsys):
    root, data, run = logocap_run
    image = os.path.join(data, "val2017", sorted(os.listdir(os.path.join(data, "val2017")))[0])
    assert main(["predict", image, "--weights", run, "--output", str(tmp_path / "p.png"),
                 "--level", "partial"]) == 0
    out = json.load(open(tmp_path / "p.logocap.json"))
    assert out["adaptation"] == "partial" and all(len(p["keypoints"]) == 17 for p in out["people"])
    # the baseline has no KAM: asking it for an adaptation is a one-line error
    from logocap.decode import predict_image
    from logocap.model import build_center_offset

    with pytest.raises(ValueError, match="needs a LOGO-CAP model"):
        predict_image(build_center_offset("smoke", (None, None, 3)), np.zeros((64, 64, 3), np.uint8),
                      64, level="full")
    assert main(["train", "--head", "logocap", "--out", str(tmp_path / "x"), "--input-size", "96"]) == 2
    assert "multiple of 64" in capsys.readouterr().err


def test_adaptation_reproduction_reuses_the_center_offset_row(tmp_path, monkeypatch):
    import logocap.reproduce as rp
    import logocap.tables as tb
    from reprokit.cli import discover

    names = [r.name for r in discover()]
    assert "logocap.adaptation" in names and "logocap.speed" in names
    tiny = {**rp.SMOKE, "input_size": 64, "epochs": 1, "steps_per_epoch": 2, "decay_epochs": (1,),
            "batch_size": 2}
    monkeypatch.setitem(rp.SCALES, "demo", rp.Scale("demo", tiny, ("smoke",), 1, "tiny"))
    tiny_adapt = {**tb.ADAPT_DEMO, "epochs": 1, "steps_per_epoch": 2, "decay_epochs": (1,), "val_limit": 2}
    monkeypatch.setitem(tb.ADAPT_SCALES, "demo", rp.Scale("demo", tiny_adapt, ("smoke",), 1, "tiny"))
    monkeypatch.setattr(rp, "SYNTHETIC_DEMO", {**rp.SYNTHETIC_DEMO, "train": 4, "val": 2})
    rp.reproduce_upper_bound("demo", None, str(tmp_path))           # the center-offset row
    out = tb.reproduce_adaptation("demo", None, str(tmp_path))      # reuses it
    text = open(os.path.join(out, "results.md")).read()
    for label in ("LOGO-CAP: none", "LOGO-CAP: partial", "LOGO-CAP: full",
                  "center-offset start (none)", "untrained (chance)"):
        assert f"| smoke | {label} |" in text
    assert "full - none =" in text and os.path.getsize(os.path.join(out, "adaptation.png")) > 0
    row = json.load(open(os.path.join(out, "results.json")))["rows"]["smoke"]
    assert row["steps"] == 2 and set(row["levels"]) == {"none", "partial", "full"}
    cfg = json.load(open(os.path.join(row["run"], "config.json")))
    assert cfg["init_weights"] and "upper-bound-smoke-demo" in cfg["init_weights"]


def test_bench_writes_the_table_gflops_and_plot(tmp_path):
    from logocap import bench

    result = bench.run_bench((("smoke", 64),), images=1, warmup=0, progress=lambda *_: None)
    rows = {r["head"]: r for r in result["rows"]}
    assert set(rows) == {"center_offset", "logocap"}
    assert rows["logocap"]["local_kam"] > 0 and rows["logocap"]["global_kam"] > 0
    assert "local_kam" not in rows["center_offset"] and all(r["fps"] > 0 for r in rows.values())
    gflops = bench.gflops_table((("smoke", 64),))
    g = gflops[("smoke", 64)]
    # the embedding head is what LOGO-CAP's network adds: a 1x1 conv 240 -> 16 at stride 4
    # (16 x 16 positions), 2 FLOPs per multiply-add, plus its batch norm and ReLU
    conv = 2 * 16 * 16 * 240 * 16 / 1e9
    assert conv <= g["logocap"] - g["center_offset"] <= conv * 1.05
    assert g["cmp_per_instance"] == pytest.approx(2 * 121 * (272 * 128 * 9 + 128 * 64 * 9 + 64 * 32 * 9
                                                             + 32 * 17) / 1e9)
    path = bench.write(result, str(tmp_path), gflops)
    text = open(path).read()
    assert "| LOGO-CAP (full) | smoke | 64 |" in text and "| center-offset | smoke | 64 |" in text
    assert os.path.getsize(tmp_path / "speed.png") > 0
    assert json.load(open(tmp_path / "speed.json"))["gflops"]["smoke/64"]["logocap"] > 0


def test_bench_cli_rejects_bad_configs(capsys, tmp_path):
    assert main(["bench", "--configs", "w32-500", "--out-dir", str(tmp_path)]) == 2
    assert "expected BACKBONE-SIZE" in capsys.readouterr().err
    assert not os.listdir(tmp_path)
