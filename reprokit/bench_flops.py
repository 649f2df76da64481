"""The arithmetic of a traced step and the machine's matrix-multiply peak: the roofline beside the
``python -m reprokit.bench`` timings.

:func:`graph_flops` counts the multiply-adds (2 FLOP each) of the convolutions and matrix products
in a traced graph from its static shapes: ``Conv2D`` and its two gradients, the depthwise
convolution and its gradients, ``MatMul`` and ``BatchMatMul``. A training step's graph holds the
forward pass and the backward pass, so the count is what the step has to compute, whatever the
framework (the tape also builds the gradient with respect to the input image, which nothing
reads and which is pruned before it runs: it is not counted).
Element-wise work (BatchNorm, activations, the optimizer) is left out: it is memory-bound and
small beside the convolutions here.

:func:`matmul_gflops` times a large float32 ``tf.matmul`` in this process: the fastest these
kernels multiply on this machine. ``flops / peak`` is then the step time at that rate: a
yardstick for how close a step is to the machine, not a hard bound (oneDNN's convolution kernels
can beat its matrix product: PoseNet's step ran at 106% of the peak on 2026-12-02, and a shared
machine's speed drifts between the two timings; docs/performance.md, "What the figures say").
"""
from __future__ import annotations

import time

import numpy as np

_CONV = {"Conv2D": 2, "Conv2DBackpropInput": 2, "Conv2DBackpropFilter": 2,
         "DepthwiseConv2dNative": 2, "DepthwiseConv2dNativeBackpropInput": 2,
         "DepthwiseConv2dNativeBackpropFilter": 2}


def _shape(t):
    dims = t.shape.as_list() if t.shape.rank is not None else None
    if dims is None or any(d is None for d in dims):
        return None
    return dims


def op_flops(op) -> int | None:
    """FLOP of one graph op (0 for ops that are not counted, None if a shape is unknown)."""
    kind = op.type
    if kind in ("Conv2D", "DepthwiseConv2dNative"):
        out, filt = _shape(op.outputs[0]), _shape(op.inputs[1])
        if out is None or filt is None:
            return None
        per_output = filt[0] * filt[1] * (filt[2] if kind == "Conv2D" else 1)
        return 2 * int(np.prod(out)) * per_output
    if kind in ("Conv2DBackpropInput", "DepthwiseConv2dNativeBackpropInput"):
        dy, filt = _shape(op.inputs[2]), _shape(op.inputs[1])
        if dy is None or filt is None:
            return None
        # the filter's shape is a tensor input here: its value, when constant
        filt = _const_value(op.inputs[1]) if len(filt) == 1 else filt
        if filt is None:
            return None
        per_output = filt[0] * filt[1] * (filt[2] if kind == "Conv2DBackpropInput" else 1)
        return 2 * int(np.prod(dy)) * per_output
    if kind in ("Conv2DBackpropFilter", "DepthwiseConv2dNativeBackpropFilter"):
        dy, filt = _shape(op.inputs[2]), _shape(op.outputs[0])
        if dy is None or filt is None:
            return None
        per_output = filt[0] * filt[1] * (filt[2] if kind == "Conv2DBackpropFilter" else 1)
        return 2 * int(np.prod(dy)) * per_output
    if kind in ("MatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3"):
        out, a = _shape(op.outputs[0]), _shape(op.inputs[0])
        if out is None or a is None:
            return None
        adj = op.get_attr("transpose_a" if kind == "MatMul" else "adj_x")
        k = a[-2] if adj else a[-1]
        return 2 * int(np.prod(out)) * k
    return 0


def _const_value(t):
    from tensorflow.python.framework import tensor_util   # lazy: TF is imported by the caller

    value = tensor_util.constant_value(t)
    return None if value is None else [int(v) for v in value]


def graph_flops(graph) -> dict:
    """``{"flops": total, "ops": counted ops, "unknown": ops whose shapes were not static}`` over
    the ops of ``graph`` that run (functions it calls are not entered: a Keras train step calls
    none)."""
    total, counted, unknown = 0, 0, 0
    for op in _live_ops(graph):
        if op.type not in _CONV and "MatMul" not in op.type:
            continue
        f = op_flops(op)
        if f is None:
            unknown += 1
        elif f:
            total, counted = total + f, counted + 1
    return {"flops": total, "ops": counted, "unknown": unknown}


def _live_ops(graph):
    """The ops the function's outputs and side effects (its control outputs: the variable
    updates) depend on; the rest, such as the gradient of the input image that the tape builds
    and nothing reads, is pruned before it runs."""
    stack = [t.op for t in graph.outputs] + list(getattr(graph, "control_outputs", ()))
    seen = set()
    while stack:
        op = stack.pop()
        if op.name in seen:
            continue
        seen.add(op.name)
        stack.extend(t.op for t in op.inputs)
        stack.extend(op.control_inputs)
    return [op for op in graph.get_operations() if op.name in seen]


def matmul_gflops(sizes=(1024, 2048, 3072), repeats: int = 5) -> float:
    """The best float32 ``tf.matmul`` rate over ``sizes`` (square, GFLOP/s; median of
    ``repeats`` timed calls per size, after one warm-up)."""
    import tensorflow as tf   # lazy: this module's counting needs no TensorFlow import

    best = 0.0
    for n in sizes:
        a = tf.random.stateless_normal((n, n), seed=(0, n))
        b = tf.random.stateless_normal((n, n), seed=(1, n))
        mm = tf.function(tf.matmul)
        mm(a, b)[0, 0].numpy()     # one element back: waits for the product, copies nothing
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            mm(a, b)[0, 0].numpy()
            times.append(time.perf_counter() - t0)
        best = max(best, 2 * n ** 3 / sorted(times)[len(times) // 2] / 1e9)
    return best
