"""``export``: every model family to SavedModel, ONNX and TFLite, run with its own runtime
(TF, onnxruntime, the TFLite interpreter) and matched to Keras within 1e-4, with named outputs
in the same order in every format; and the ``export`` command of each package CLI."""
import json
import os

import keras
import numpy as np
import pytest

from reprokit.cli import EXPORT_FORMATS
from reprokit.errors import ConfigError
from reprokit.export import (FORMATS, TOLERANCE, export_model, fixed_input, read_manifest,
                             run_exported)

from .families import FAMILIES, build

pytest.importorskip("onnxruntime", reason="the `export` extra (installed by make test)")


def test_cli_formats_are_the_export_formats():
    assert set(EXPORT_FORMATS) == set(FORMATS)


def _cases():
    """Default run: the hourglass (two outputs) in every format, every other family in ONNX,
    SegNet's TFLite refusal; ``-m large`` adds the rest of the matrix (about 2 minutes)."""
    for family in FAMILIES:
        for fmt in FORMATS:
            quick = (family == "hourglass" or fmt == "onnx"
                     or (family, fmt) == ("segnet", "tflite"))
            yield pytest.param(family, fmt, marks=() if quick else pytest.mark.large,
                               id=f"{family}-{fmt}")


@pytest.mark.parametrize("family,fmt", list(_cases()))
def test_export_runs_and_matches_keras(family, fmt, tmp_path):
    model = build(family)
    if fmt == "tflite" and family == "segnet":
        with pytest.raises(ConfigError, match="pool1.*Flex delegate"):
            export_model(model, str(tmp_path / family), fmt)
        return
    manifest = export_model(model, str(tmp_path / family), fmt, source="random init")
    assert read_manifest(manifest["path"]) == manifest
    assert manifest["max_abs_diff"] <= TOLERANCE
    # an independent input, through the exported file's own runtime
    x = np.random.default_rng(1).normal(0, 1, (1, *model.inputs[0].shape[1:])).astype("float32")
    got = run_exported(manifest["path"], fmt, x)
    ref = model(x, training=False)
    ref = ref if isinstance(ref, dict) else dict(zip(model.output_names, keras.tree.flatten(ref)))
    assert list(got) == sorted(ref) == [o["name"] for o in manifest["outputs"]]
    for name in ref:
        np.testing.assert_allclose(got[name], np.asarray(ref[name]), atol=TOLERANCE, rtol=0)


def test_fixed_input_and_refusals(tmp_path):
    from logocap.model import build_center_offset

    free = build_center_offset("smoke", (None, None, 3))
    with pytest.raises(ConfigError, match="must be fixed"):
        export_model(free, str(tmp_path / "x"), "onnx")
    fixed = fixed_input(free, (64, 96))
    assert tuple(fixed.inputs[0].shape) == (None, 64, 96, 3)
    x = np.random.default_rng(0).uniform(size=(1, 64, 96, 3)).astype("float32")
    np.testing.assert_array_equal(np.asarray(fixed(x)["heatmaps"]), np.asarray(free(x)["heatmaps"]))
    with pytest.raises(ConfigError, match="unknown export format"):
        export_model(fixed, str(tmp_path / "x"), "coreml")


def test_package_export_commands(tmp_path, capsys):
    """Each package's ``export`` from a weights file or a run directory."""
    from handpose.__main__ import main as handpose_main
    from hourglass.__main__ import main as hourglass_main
    from hourglass.model import build_stacked_hourglass

    weights = str(tmp_path / "hg.weights.h5")
    build_stacked_hourglass(1, 16).save_weights(weights)
    assert hourglass_main(["export", weights, "--stacks", "1", "--format", "onnx"]) == 0
    out = capsys.readouterr().out
    assert "output stack0_heatmaps [None, 64, 64, 16]" in out and "max |export - Keras|" in out
    manifest = json.load(open(str(tmp_path / "hg.onnx") + ".json"))
    assert manifest["source"] == weights and manifest["input"]["shape"] == [None, 256, 256, 3]

    hs = str(tmp_path / "hs.weights.h5")
    build("handsegnet").save_weights(hs)
    assert handpose_main(["export", hs, "--net", "handsegnet", "--size", "48", "64",
                          "--format", "onnx", "--output", str(tmp_path / "seg")]) == 0
    assert read_manifest(str(tmp_path / "seg.onnx"))["input"]["shape"] == [None, 48, 64, 3]
    assert hourglass_main(["export", str(tmp_path / "nope.weights.h5"), "--format", "onnx"]) == 2
    assert "not found" in capsys.readouterr().err
