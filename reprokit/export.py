"""Export a Keras model to SavedModel, ONNX or TFLite (LiteRT), and check the export runs and
matches Keras.

Every format gets the same interface: one float32 NHWC input named as the Keras input
(``image``), and **named outputs**: the model's output names (``stack0_heatmaps``,
``heatmaps``, ...), in sorted-name order in every format (Keras flattens a dict of outputs in
sorted order; LiteRT alone returns a list model's outputs reversed, so lists are never
exported). A manifest beside the export (``<path>.json``) lists the input, the outputs in
order with their shapes, the source weights and the measured difference to Keras.

``savedmodel`` needs TensorFlow only; ``onnx`` needs the ``export`` extra
(``pip install -e ".[export]"``: tf2onnx to convert, onnxruntime to check); ``tflite`` uses
TensorFlow's converter and interpreter (``ai_edge_litert``'s interpreter when installed).
"""
from __future__ import annotations

import json
import os

import keras
import numpy as np
import tensorflow as tf

from reprokit.errors import ConfigError
from reprokit.files import write_json_atomic

#: our format name -> (Keras ``Model.export`` format, file suffix)
FORMATS = {"savedmodel": ("tf_saved_model", ""), "onnx": ("onnx", ".onnx"),
           "tflite": ("litert", ".tflite")}
#: exported outputs must match Keras within this (issue 18; measured: 3e-7 or less)
TOLERANCE = 1e-4


def named_outputs(model: keras.Model) -> keras.Model:
    """``model`` with a dict of named outputs (its output names) instead of a list."""
    out = model.output
    if isinstance(out, dict):
        return model
    outs = out if isinstance(out, (list, tuple)) else [out]
    names = list(model.output_names)
    if len(set(names)) != len(outs):
        raise ConfigError(f"{model.name}: outputs need distinct names to export, got {names}")
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    return keras.Model(inputs, dict(sorted(zip(names, outs))), name=model.name)


def fixed_input(model: keras.Model, size) -> keras.Model:
    """A copy of a functional ``model`` (same weights) whose input is ``size`` = ``(H, W)``: a
    fully convolutional network built for any size is exported at one."""
    config = model.get_config()
    inputs = [layer for layer in config["layers"] if layer["class_name"] == "InputLayer"]
    if len(inputs) != 1:
        raise ConfigError(f"{model.name}: fixed_input takes single-input functional models")
    shape = inputs[0]["config"]["batch_shape"]
    inputs[0]["config"]["batch_shape"] = [shape[0], *[int(v) for v in size], shape[-1]]
    fixed = keras.Model.from_config(config)
    fixed.set_weights(model.get_weights())
    return fixed


def _input(model: keras.Model):
    if len(model.inputs) != 1:
        raise ConfigError(f"{model.name}: export takes single-input models, this one has "
                          f"{len(model.inputs)} inputs")
    inp = model.inputs[0]
    if any(d is None for d in inp.shape[1:]):
        raise ConfigError(f"{model.name}: the input shape {tuple(inp.shape)} must be fixed "
                          "except the batch (build the model for one size, e.g. --size)")
    return inp


def export_path(path: str, fmt: str) -> str:
    """``path`` with the format's suffix (a folder for ``savedmodel``)."""
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}; valid: {sorted(FORMATS)}")
    suffix = FORMATS[fmt][1]
    return path if not suffix or path.endswith(suffix) else path + suffix


def export_model(model: keras.Model, path: str, fmt: str, source: str | None = None,
                 check: bool = True, seed: int = 0) -> dict:
    """Export ``model`` to ``path`` in ``fmt`` (a key of :data:`FORMATS`) and write the manifest.

    Args:
        model: a single-input Keras model with a fixed input size.
        path: output file (``.onnx`` / ``.tflite`` added when missing) or folder (SavedModel).
        source: where the weights came from (recorded in the manifest).
        check: run the export on a seeded random input and record the largest difference to
            Keras; a difference above :data:`TOLERANCE` raises :class:`ConfigError`.

    Returns:
        The manifest (also written to ``<path>.json``).
    """
    path = export_path(path, fmt)
    inp = _input(model)
    if fmt == "tflite":
        flex = [layer.name for layer in model._flatten_layers()
                if getattr(layer, "tflite_builtin", True) is False]
        if flex:
            raise ConfigError(f"{model.name}: {', '.join(flex[:3])} use TF ops that TFLite has no "
                              "builtin for (the file would need the Flex delegate); export "
                              "savedmodel or onnx")
    named = named_outputs(model)
    batch = 1 if fmt == "tflite" else None          # the TFLite interpreter runs one shape
    spec = tf.TensorSpec((batch, *inp.shape[1:]), tf.float32, name=inp.name)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    if fmt == "onnx":
        try:
            import tf2onnx  # noqa: F401  (lazy: the optional `export` extra)
        except ImportError:
            raise ConfigError('ONNX export needs tf2onnx and onnxruntime: pip install -e ".[export]"') from None
    named.export(path, format=FORMATS[fmt][0], input_signature=[spec], verbose=False)
    if fmt == "onnx":
        _exact_resize_sizes(path)
    outputs = named.output
    manifest = {"format": fmt, "path": os.path.abspath(path), "model": model.name,
                "source": source, "input": {"name": inp.name, "shape": [batch, *inp.shape[1:]],
                                            "dtype": "float32"},
                "outputs": [{"name": k, "shape": [batch, *outputs[k].shape[1:]]}
                            for k in sorted(outputs)],
                "keras": keras.__version__, "tensorflow": tf.__version__}
    if check:
        x = np.random.default_rng(seed).uniform(-1, 1, (1, *inp.shape[1:])).astype("float32")
        manifest["max_abs_diff"] = diff = max_difference(named, path, fmt, x)
        if diff > TOLERANCE:
            raise ConfigError(f"{path}: the {fmt} export differs from Keras by {diff:.3g} "
                              f"(> {TOLERANCE}) on a random input")
    write_json_atomic(path + ".json", manifest)
    return manifest


def _exact_resize_sizes(path: str) -> int:
    """tf2onnx 1.17 writes a fixed-size bilinear resize as ``Resize`` with float ``scales``;
    onnxruntime's output size is ``floor(in * scale)``, so ``3 -> 5`` (scale 1.6666666) comes
    out 4 wide (ICNet's caffe interp sizes). Each non-integer scale is raised by 1e-5 relative,
    which gives the intended size; with ``align_corners`` the sampling positions depend on the
    sizes only (ICNet export: 2e-7 from Keras). Returns how many ``Resize`` nodes changed."""
    import onnx                      # lazy: the optional `export` extra
    from onnx import numpy_helper

    graph = onnx.load(path)
    consts = {t.name: t for t in graph.graph.initializer}
    changed = 0
    for node in graph.graph.node:
        if node.op_type != "Resize" or len(node.input) < 3 or node.input[2] not in consts:
            continue
        scales = numpy_helper.to_array(consts[node.input[2]])
        if scales.size == 0 or np.all(scales == np.round(scales)):
            continue
        raised = np.where(scales == np.round(scales), scales,
                          scales.astype(np.float64) * (1 + 1e-5)).astype(np.float32)
        name = f"{node.name}/exact_scales"
        graph.graph.initializer.append(numpy_helper.from_array(raised, name))
        node.input[2] = name
        changed += 1
    if changed:
        del graph.graph.value_info[:]        # the converter's (wrong) intermediate shapes
        onnx.save(graph, path)
    return changed


def run_exported(path: str, fmt: str, x: np.ndarray) -> dict[str, np.ndarray]:
    """Run an export on ``x`` with its own runtime: ``{output name: array}``, in the file's
    output order (TF SavedModel signature, onnxruntime, the TFLite interpreter)."""
    x = np.asarray(x, np.float32)
    if fmt == "savedmodel":
        fn = tf.saved_model.load(path).signatures["serving_default"]
        (name,) = fn.structured_input_signature[1]
        out = fn(**{name: tf.constant(x)})          # a signature's outputs are found by name
        return {k: out[k].numpy() for k in sorted(out)}
    if fmt == "onnx":
        import onnxruntime   # lazy: the optional `export` extra

        session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
        names = [o.name for o in session.get_outputs()]
        values = session.run(names, {session.get_inputs()[0].name: x})
        return dict(zip(names, values))
    if fmt == "tflite":
        interpreter = _tflite_interpreter(path)
        runner = interpreter.get_signature_runner()
        (name,) = interpreter.get_signature_list()["serving_default"]["inputs"]
        out = runner(**{name: x})
        order = interpreter.get_signature_list()["serving_default"]["outputs"]
        return {k: np.asarray(out[k]) for k in order}
    raise ConfigError(f"unknown export format {fmt!r}; valid: {sorted(FORMATS)}")


def _tflite_interpreter(path: str):
    try:
        from ai_edge_litert.interpreter import Interpreter   # lazy: optional, TF's successor
    except ImportError:
        Interpreter = tf.lite.Interpreter
    return Interpreter(model_path=path)


def max_difference(model: keras.Model, path: str, fmt: str, x: np.ndarray) -> float:
    """Largest ``|export - Keras|`` over every output on ``x``; the export's output names and
    order must be the model's (sorted) names."""
    ref = named_outputs(model)(x, training=False)
    got = run_exported(path, fmt, x)
    if list(got) != sorted(ref):
        raise ConfigError(f"{path}: outputs {list(got)}, expected {sorted(ref)} in that order")
    return max(float(np.max(np.abs(np.asarray(ref[k], np.float32) - got[k]))) for k in ref)


def read_manifest(path: str) -> dict:
    """The manifest written beside an export."""
    with open(path + ".json", encoding="utf-8") as f:
        return json.load(f)


__all__ = ["FORMATS", "TOLERANCE", "export_model", "export_path", "fixed_input", "max_difference",
           "named_outputs", "read_manifest", "run_exported"]
