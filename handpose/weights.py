"""Weight loaders: hand3d pickles, the CPM TF V1 checkpoint, and Caffe ``.caffemodel`` files.

All three produce ``layer name -> (kernel HWIO, bias)`` and assign through
:func:`reprokit.weights.assign_weights` (strict by default, with a :class:`LoadReport` naming
every loaded, skipped, unused, missing and mismatched tensor). Facts: docs/reference/handpose.md §6
(files), §7 (pickle format, hand3d's init logic with discard/rename lists), §9 (CPM provenance,
Caffe name maps, protobuf field numbers, BGR input).

Where users get the files is in ``weights/README.md``.
"""
from __future__ import annotations

import re
from typing import Iterable, Mapping

import numpy as np
import tensorflow as tf

from reprokit.safeload import load_pickle
from reprokit.weights import LoadReport, assign_weights, bgr_to_rgb, oihw_to_hwio

# hand3d ``load_weights_from_snapshot`` lists (training_handsegnet.py / training_posenet.py).
CPM_RULES = {
    "handsegnet": {"discard": ("PoseNet", "Mconv", "conv6"),
                   "rename": (("CPM/PersonNet", "HandSegNet"), ("_CPM", ""))},
    "posenet": {"discard": ("PersonNet", "PoseNet/Mconv", "conv5_2_CPM"),
                "rename": (("CPM/PoseNet", "PoseNet2D"), ("_CPM", ""))},
}
#: Scope of each model's variables in hand3d files.
SCOPES = {"handsegnet": "HandSegNet", "posenet": "PoseNet2D"}


def _read_pickle(path: str) -> dict:
    """A hand3d weight pickle as ``{name: float32 array}``, read without running code from it
    (:func:`reprokit.safeload.load_pickle`: Python 2 and 3 protocols, numpy globals only)."""
    data = load_pickle(path)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a dict of arrays, got {type(data).__name__}")
    return {str(k): np.asarray(v, np.float32) for k, v in data.items()}


def _to_model_paths(model, arrays: Mapping[str, np.ndarray], scope: str, source: str,
                    exclude: Iterable[str] = ()):
    """``<scope>/<layer>/{weights,biases}`` -> ``<layer>/{kernel,bias}``; returns (weights, skipped)."""
    weights, skipped = {}, []
    layer_types = {layer.name: type(layer).__name__ for layer in model.layers}
    for key, value in arrays.items():
        if any(e in key for e in exclude) or not key.startswith(scope + "/"):
            skipped.append(key)
            continue
        parts = key[len(scope) + 1:].split("/")
        if len(parts) != 2 or parts[1] not in ("weights", "biases"):
            weights[key] = value  # left unused: reported by name
            continue
        layer, kind = parts
        if layer_types.get(layer) == "SeparableConv2D":
            weights[key] = value  # a dense conv cannot go into a separable layer: reported
            continue
        weights[f"{layer}/{'kernel' if kind == 'weights' else 'bias'}"] = value
    return weights, skipped


def load_hand3d_pickle(model, path: str, scope: str | None = None, exclude: Iterable[str] = (),
                       strict: bool = True, allow_missing: Iterable[str] = ()) -> LoadReport:
    """Load a hand3d weight pickle (``handsegnet-rhd.pickle``, ``posenet-rhd-stb.pickle``, ...).

    Keys ``<scope>/<layer>/weights`` (TF ``(kh, kw, in, out)``) and ``.../biases`` are assigned by
    layer name. Keys of other scopes (``PosePrior``, ``ViewpointNet`` in ``posenet3d-*``) and keys
    containing an ``exclude`` substring are skipped and listed (hand3d ``init`` semantics).

    Args:
        scope: ``"HandSegNet"`` or ``"PoseNet2D"``; inferred from the model name if ``None``.
    """
    if scope is None:
        scope = SCOPES["handsegnet" if model.name.startswith("handsegnet") else "posenet"]
    arrays = _read_pickle(path)
    weights, skipped = _to_model_paths(model, arrays, scope, path, exclude)
    return assign_weights(model, weights, strict=strict, skipped=skipped,
                          allow_missing=allow_missing, source=path)


def read_tf_checkpoint(path: str) -> dict[str, np.ndarray]:
    """All variables of a TF (V1 or V2) checkpoint as numpy arrays."""
    reader = tf.train.load_checkpoint(path)
    return {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()}


def cpm_to_hand3d(arrays: Mapping[str, np.ndarray], net: str):
    """Apply hand3d's discard and rename lists for ``net`` (``"handsegnet"``/``"posenet"``)."""
    rules = CPM_RULES[net]
    kept, skipped = {}, []
    for key, value in arrays.items():
        if any(d in key for d in rules["discard"]):
            skipped.append(key)
            continue
        new = key
        for old, rep in rules["rename"]:
            new = new.replace(old, rep)
        kept[new] = value
    return kept, skipped


def load_cpm_checkpoint(model, path: str, net: str | None = None, strict: bool = True) -> LoadReport:
    """Initialise HandSegNet or PoseNet from hand3d's ``cpm-model-mpii`` TF checkpoint.

    Variables ``CPM/PersonNet/...`` (HandSegNet) or ``CPM/PoseNet/...`` (PoseNet2D) go through
    hand3d's discard and rename lists (docs/reference/handpose.md §7); what hand3d leaves random
    (HandSegNet conv6_*, PoseNet conv5_2 and both refinement stages) is allowed to stay missing,
    everything else must load. The other network's variables are listed as skipped.
    """
    net = net or ("handsegnet" if model.name.startswith("handsegnet") else "posenet")
    if net not in CPM_RULES:
        raise ValueError(f"net must be one of {sorted(CPM_RULES)}, got {net!r}")
    renamed, discarded = cpm_to_hand3d(read_tf_checkpoint(path), net)
    weights, other = _to_model_paths(model, renamed, SCOPES[net], path)
    missing = ([r"^conv6_\d/"] if net == "handsegnet"
               else [r"^conv5_2/", r"^conv[67]_\d/", r"^stage\d_"])
    return assign_weights(model, weights, strict=strict, skipped=discarded + other,
                          allow_missing=missing, source=path)


# --------------------------------------------------------------------------- caffemodel
def _varint(buf: bytes, pos: int):
    result = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def _fields(buf: bytes):
    """Yield ``(field number, wire type, value)`` of a protobuf message (wire format)."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        num, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            n, pos = _varint(buf, pos)
            value, pos = buf[pos:pos + n], pos + n
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire} (field {num}) at byte {pos}")
        yield num, wire, value


def _blob(buf: bytes) -> np.ndarray:
    """BlobProto: ``data``=5 (packed or not), ``double_data``=8, ``shape``=7 (``dim``=1) or the
    legacy ``num``/``channels``/``height``/``width`` = 1..4."""
    data, doubles, dims, legacy = [], [], [], {}
    for num, wire, value in _fields(buf):
        if num == 5:
            data.append(np.frombuffer(value, "<f4") if wire in (2, 5) else None)
        elif num == 8:
            doubles.append(np.frombuffer(value, "<f8"))
        elif num == 7:
            for n2, w2, v2 in _fields(value):
                if n2 == 1:
                    if w2 == 2:
                        pos = 0
                        while pos < len(v2):
                            d, pos = _varint(v2, pos)
                            dims.append(d)
                    else:
                        dims.append(v2)
        elif num in (1, 2, 3, 4) and wire == 0:
            legacy[num] = value
    values = np.concatenate(data) if data else (np.concatenate(doubles) if doubles else np.zeros(0))
    if not dims:
        dims = [legacy.get(i, 1) for i in (1, 2, 3, 4)]
    return values.astype(np.float32).reshape(dims)


def read_caffemodel(path: str) -> dict[str, list[np.ndarray]]:
    """Layer name -> blobs of a ``.caffemodel`` (NetParameter), read without Caffe.

    Reads ``layer`` (field 100; LayerParameter ``name``=1, ``blobs``=7) and the legacy
    ``layers`` (field 2; V1LayerParameter ``name``=4, ``blobs``=6). Layers without blobs are
    omitted. (docs/reference/handpose.md §9 lists the field numbers.)
    """
    with open(path, "rb") as f:
        buf = f.read()
    out = {}
    for num, wire, value in _fields(buf):
        if wire != 2 or num not in (100, 2):
            continue
        name_field, blob_field = (1, 7) if num == 100 else (4, 6)
        name, blobs = None, []
        for n2, w2, v2 in _fields(value):
            if n2 == name_field and w2 == 2:
                name = v2.decode()
            elif n2 == blob_field and w2 == 2:
                blobs.append(_blob(v2))
        if name is not None and blobs:
            out[name] = blobs
    if not out:
        raise ValueError(f"{path}: no layers with blobs found; is it a Caffe NetParameter file?")
    return out


def _cpm_trunk(names):
    return {n: n for n in names}


_VGG = ("conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1", "conv3_2", "conv3_3", "conv3_4",
        "conv4_1", "conv4_2")

#: Caffe layer -> our layer, per (source network, target model) (docs/reference/handpose.md §9).
CAFFE_MAPS = {
    ("cpm_person", "handsegnet"): {**_cpm_trunk(_VGG + ("conv4_3", "conv4_4", "conv5_1")),
                                   "conv5_2_CPM": "conv5_2"},
    ("cpm_pose", "posenet"): {**_cpm_trunk(_VGG), "conv4_3_CPM": "conv4_3",
                              "conv4_4_CPM": "conv4_4", "conv4_5_CPM": "conv4_5",
                              "conv4_6_CPM": "conv4_6", "conv4_7_CPM": "conv4_7",
                              "conv5_1_CPM": "conv5_1"},
    ("cpm_person", "posenet_paper"): _cpm_trunk(_VGG + ("conv4_3", "conv4_4", "conv5_1")),
    ("openpose_hand", "handsegnet"): _cpm_trunk(_VGG + ("conv4_3", "conv4_4", "conv5_1")),
    ("openpose_hand", "posenet"): _cpm_trunk(_VGG),
    ("openpose_hand", "posenet_paper"): _cpm_trunk(_VGG + ("conv4_3", "conv4_4", "conv5_1")),
}


def load_caffemodel(model, path: str, mapping: Mapping[str, str] | str, bgr_to_rgb_input: bool = True,
                    strict: bool = True) -> LoadReport:
    """Load Caffe conv weights by an explicit layer map (e.g. CPM person -> HandSegNet).

    Blob 0 ``(out, in, kh, kw)`` becomes ``(kh, kw, in, out)``, blob 1 the bias. Caffe layers
    outside the map are listed as skipped; model layers outside it may stay missing (partial
    initialisation, as hand3d and the seed paper do). CPM and OpenPose take BGR input, hand3d
    RGB: ``bgr_to_rgb_input`` reverses conv1_1's input channels.

    Args:
        mapping: a dict, or a key ``"source/target"`` of :data:`CAFFE_MAPS` such as
            ``"cpm_person/handsegnet"``.
    """
    if isinstance(mapping, str):
        key = tuple(mapping.split("/"))
        if key not in CAFFE_MAPS:
            raise ValueError(f"unknown Caffe map {mapping!r}; valid: "
                             f"{sorted('/'.join(k) for k in CAFFE_MAPS)}")
        mapping = CAFFE_MAPS[key]
    layers = read_caffemodel(path)
    weights, skipped = {}, []
    for name, blobs in layers.items():
        if name not in mapping:
            skipped.append(name)
            continue
        target = mapping[name]
        if blobs[0].ndim != 4:
            raise ValueError(f"{path}: layer {name!r} blob 0 has shape {blobs[0].shape}, "
                             "expected a 4-d conv kernel (out, in, kh, kw)")
        kernel = oihw_to_hwio(blobs[0])
        if bgr_to_rgb_input and target == "conv1_1":
            kernel = bgr_to_rgb(kernel)
        weights[f"{target}/kernel"] = kernel
        if len(blobs) > 1:
            weights[f"{target}/bias"] = blobs[1].reshape(-1)
    mapped = set(mapping.values())
    missing = [rf"^(?!(?:{'|'.join(re.escape(m) for m in sorted(mapped))})/)"]
    return assign_weights(model, weights, strict=strict, skipped=skipped, allow_missing=missing,
                          source=path)


def write_caffemodel(path: str, layers: Mapping[str, list[np.ndarray]], legacy: bool = False):
    """Write a minimal ``.caffemodel`` (for tests and fixtures): conv layers with blobs."""
    def key(num, wire):
        return _enc_varint(num << 3 | wire)

    def msg(num, payload: bytes):
        return key(num, 2) + _enc_varint(len(payload)) + payload

    out = b""
    for name, blobs in layers.items():
        body = b""
        if legacy:
            body += msg(4, name.encode()) + key(5, 0) + _enc_varint(4)
        else:
            body += msg(1, name.encode()) + msg(2, b"Convolution")
        for blob in blobs:
            blob = np.asarray(blob, np.float32)
            if legacy:
                dims = [1] * (4 - blob.ndim) + list(blob.shape)
                b = b"".join(key(i + 1, 0) + _enc_varint(d) for i, d in enumerate(dims))
            else:
                b = msg(7, msg(1, b"".join(_enc_varint(d) for d in blob.shape)))
            b += msg(5, blob.astype("<f4").tobytes())
            body += msg(6 if legacy else 7, b)
        out += msg(2 if legacy else 100, body)
    with open(path, "wb") as f:
        f.write(msg(1, b"net") + out)


def _enc_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        if value:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


__all__ = ["CAFFE_MAPS", "CPM_RULES", "SCOPES", "cpm_to_hand3d", "load_caffemodel",
           "load_cpm_checkpoint", "load_hand3d_pickle", "read_caffemodel", "read_tf_checkpoint",
           "write_caffemodel"]
