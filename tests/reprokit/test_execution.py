"""``--strategy``, ``--precision``, ``--jit``, ``--steps-per-execution``: one mechanism
(:class:`reprokit.execution.Execution` -> :func:`reprokit.training.fit`) wired into every train
command, checked on CPU."""
import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from reprokit import training
from reprokit.execution import ENV, Execution

from .families import FAMILIES, build


def test_execution_validates_and_travels_in_the_environment(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    assert Execution.current() == Execution()
    for bad in ({"strategy": "tpu"}, {"precision": "float8"}, {"steps_per_execution": 0}):
        with pytest.raises(ValueError, match=list(bad)[0].split("_")[0]):
            Execution(**bad)
    e = Execution("mirrored", "mixed_float16", True, 4)
    e.activate()
    assert json.loads(os.environ[ENV])["precision"] == "mixed_float16"
    assert Execution.current() == e            # what a spawned table worker reads
    monkeypatch.setenv(ENV, "{not json")
    with pytest.raises(ValueError, match=ENV):
        Execution.current()


@pytest.mark.parametrize("package,command", [
    ("hourglass", ["train"]), ("hourglass", ["reproduce", "table1"]),
    ("handpose", ["train", "posenet"]), ("handpose", ["reproduce", "table4"]),
    ("segmentation", ["train", "segnet", "--frames", "x"]), ("segmentation", ["reproduce", "table1"]),
    ("logocap", ["train"]), ("logocap", ["reproduce", "adaptation"]),
    ("reprokit.cli", ["run", "hourglass.table1"])])
def test_every_train_command_takes_the_execution_options(package, command, capsys):
    main = __import__(f"{package}.__main__" if package != "reprokit.cli" else package,
                      fromlist=["main"]).main
    with pytest.raises(SystemExit) as exit_:
        main([*command, "--strategy", "mirrored", "--precision", "float8"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "--precision: invalid choice: 'float8'" in err and "--strategy" not in err.split("float8")[1]


def _tiny():
    inp = keras.Input((3,))
    return keras.Model(inp, keras.layers.Dense(1)(keras.layers.Dense(4, activation="relu")(inp)))


def test_fit_applies_precision_jit_and_steps_per_execution(tmp_path):
    x = np.random.default_rng(0).normal(size=(32, 3)).astype("float32")
    ds = tf.data.Dataset.from_tensor_slices((x, x.sum(1, keepdims=True))).repeat().batch(4)
    run = training.create_run_dir("exec", {}, root=str(tmp_path))
    seen = {}

    def compile_fn(model):
        seen["policy"] = model.layers[1].dtype_policy.name
        model.compile(keras.optimizers.Adam(1e-2), "mse")

    e = Execution(precision="mixed_bfloat16", jit=True, steps_per_execution=3)
    model, history = training.fit(_tiny, compile_fn, ds, run, epochs=2, steps_per_epoch=6,
                                  execution=e, tensorboard=False, verbose=0)
    assert seen["policy"] == "mixed_bfloat16" and model.outputs[0].dtype == "bfloat16"
    assert keras.mixed_precision.global_policy().name == "float32"   # restored after fit
    assert model.jit_compile is True and model.steps_per_execution == 3
    assert int(model.optimizer.iterations.numpy()) == 12
    assert np.isfinite(history.history["loss"]).all()
    (record,) = json.load(open(run.file("execution.json")))
    assert record["precision"] == "mixed_bfloat16" and record["replicas"] == 1
    assert record["jit"] is True and record["steps_per_execution"] == 3


@pytest.mark.parametrize("family", list(FAMILIES))
def test_every_model_family_builds_and_runs_in_mixed_bfloat16(family):
    """The model-specific part of --precision: every op has a bfloat16 kernel or computes in
    float32 (SegNet's LRN); the outputs are finite."""
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = build(family)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    shape = [1 if d is None else d for d in model.inputs[0].shape]
    shape[1:3] = [32 if d == 1 else d for d in shape[1:3]]
    out = model(np.random.default_rng(0).uniform(0, 1, shape).astype("float32"), training=True)
    for t in tf.nest.flatten(out):
        assert np.isfinite(np.asarray(tf.cast(t, "float32"))).all(), family


def test_jit_refuses_a_model_without_xla_kernels():
    from segmentation.segnet import SegNetBasic

    model = SegNetBasic(filters=8, input_shape=(32, 32, 3))
    model.compile("adam", "mse")
    with pytest.raises(ValueError, match="XLA kernel.*pool1"):
        Execution(jit=True).apply(model)
    Execution(jit=False, steps_per_execution=2).apply(model)
    assert model.steps_per_execution == 2
