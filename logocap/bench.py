"""The speed-accuracy comparison of the LOGO-CAP supplement (its Fig. 1): end-to-end images/s at
batch 1, per stage, for LOGO-CAP and the center-offset baseline.

Each configuration is a backbone at a test size (the supplement's W32-384, W32-512, W48-640,
plus the stacked-hourglass backbone and the narrow ``smoke`` backbone of the CPU runs). One
image goes through the whole test protocol of :func:`logocap.decode.predict_image`: resize,
the network on the image and its mirror, flip averaging, decoding (centres, initial poses, the
adaptation level: ``full`` for LOGO-CAP, ``none`` for the baseline), pose NMS. Stages are timed
like the reference's ``tools/test.py`` (network, decoding = local KEM + KAM + global KEM,
NMS); images/s = images / total seconds after ``warmup`` untimed images. All models of one
call are measured in one process, so their ratios hold on a noisy machine; absolute numbers
belong to the machine (``device`` in the output).

Weights: random (seeded); speed does not depend on them except through the number of centres
above 0.01 (up to 30).
AP comes from evaluations of trained runs (``ap``); without any, the plot shows FPS only and
says so.

GFLOPs: the network (backbone + heads) on one ``size x size`` image, counted by TensorFlow's
profiler on the frozen graph (multiply-add = 2 FLOPs), and the CMP net per person instance
(analytic: 121 positions x the convs' multiply-adds x 2).
"""
from __future__ import annotations

import json
import os
import platform
import time

import numpy as np

# Modules that load TensorFlow are imported inside the functions: `repro list` imports this
# module (through logocap.tables) and must answer in a second (docs/design.md).

#: The supplement's configurations (Fig. 1) plus the hourglass backbone; sizes are test sizes.
CONFIGS = (("w32", 384), ("w32", 512), ("w48", 640), ("hourglass", 512))
#: The supplement's reported speed of W32-384 on its GPU (§3: AP 65.9 at 24.0 FPS).
PAPER_FPS = {("logocap", "w32", 384): 24.0}
HEADS = ("center_offset", "logocap")
#: Timed stages (the reference's backbone / local-kem / local-kam / global-kam, and NMS).
STAGES = ("network", "centres", "local_kam", "global_kam", "nms")


def bench_image(seed: int = 0, hw=(480, 640)) -> np.ndarray:
    """A deterministic smooth RGB image of COCO's most common size (480 x 640)."""
    import cv2

    rng = np.random.default_rng(seed)
    low = rng.uniform(0, 255, (hw[0] // 16 + 1, hw[1] // 16 + 1, 3)).astype(np.float32)
    img = cv2.resize(low, (hw[1], hw[0]), interpolation=cv2.INTER_LINEAR)
    return np.clip(img + rng.normal(0, 6, img.shape), 0, 255).astype(np.uint8)


def build(head: str, backbone: str, seed: int = 0, **logocap_kwargs):
    """A test-time model (any input size) with seeded random weights (``logocap_kwargs``: e.g.
    the global window of a LOGO-CAP model)."""
    import keras

    from logocap.model import build_center_offset, build_logocap

    keras.utils.set_random_seed(seed)
    if head == "logocap":
        return build_logocap(backbone, (None, None, 3), **logocap_kwargs)
    return build_center_offset(backbone, (None, None, 3))


def network_gflops(backbone: str, size: int, head: str = "logocap") -> float:
    """GFLOPs of the network (backbone + heads, + the embedding head for LOGO-CAP) on one
    ``size x size`` image (TensorFlow's profiler on the frozen graph)."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    from logocap.model import CMP_WIDTHS, build_center_offset

    emb = CMP_WIDTHS[backbone][0] if head == "logocap" else 0
    net = build_center_offset(backbone, (size, size, 3), embedding=emb)
    fn = tf.function(lambda x: net(x, training=False)).get_concrete_function(
        tf.TensorSpec([1, size, size, 3], tf.float32))
    frozen = convert_variables_to_constants_v2(fn)
    opts = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    opts["output"] = "none"
    prof = tf.compat.v1.profiler.profile(graph=frozen.graph, run_meta=tf.compat.v1.RunMetadata(),
                                         cmd="op", options=opts)
    return prof.total_float_ops / 1e9


def cmp_gflops_per_instance(backbone: str = "w32") -> float:
    """GFLOPs of the CMP net for one person instance (17 KAMs of 11 x 11)."""
    from logocap.data import NUM_KEYPOINTS
    from logocap.model import CMP_WIDTHS

    emb, widths = CMP_WIDTHS[backbone]
    c_in, macs = NUM_KEYPOINTS * emb, 0
    for w in widths:
        macs += c_in * w * 9
        c_in = w
    macs += c_in * NUM_KEYPOINTS
    return 2 * 121 * macs / 1e9


def measure(model, size: int, level: str, images, warmup: int = 1) -> dict:
    """Seconds per stage and images/s of ``predict_image`` over ``images`` (after warmup)."""
    from logocap.decode import predict_image

    for img in images[:warmup]:
        predict_image(model, img, size, True, level=level)
    timing: dict = {}
    start = time.perf_counter()
    for img in images[warmup:]:
        predict_image(model, img, size, True, level=level, timing=timing)
    total = time.perf_counter() - start
    n = len(images) - warmup
    return {"fps": n / total, "seconds": total / n, **{k: v / n for k, v in timing.items()}}


def run_bench(configs=CONFIGS, heads=HEADS, images: int = 3, warmup: int = 1, ap: dict | None = None,
              seed: int = 0, progress=print, logocap_kwargs: dict | None = None) -> dict:
    """Measure every (head, backbone, size); returns ``{"rows": [...], "device": ...}``.

    ``ap``: ``{"head/backbone/size": AP}`` from trained runs' evaluations, attached to the rows.
    ``logocap_kwargs``: ``{backbone: build_logocap keyword arguments}`` (the smoke scale's
    global window for ``smoke``).
    """
    import keras

    imgs = [bench_image(seed + i) for i in range(images + warmup)]
    rows = []
    for backbone, size in configs:
        for head in heads:
            model = build(head, backbone, seed, **(logocap_kwargs or {}).get(backbone, {})) \
                if head == "logocap" else build(head, backbone, seed)
            level = "full" if head == "logocap" else "none"
            r = measure(model, size, level, imgs, warmup)
            key = f"{head}/{backbone}/{size}"
            row = {"head": head, "backbone": backbone, "size": size, "level": level, **r,
                   "ap": (ap or {}).get(key), "paper_fps": PAPER_FPS.get((head, backbone, size))}
            rows.append(row)
            progress(f"{key}: {r['fps']:.2f} images/s ({r['seconds'] * 1000:.0f} ms: " + ", ".join(
                f"{k} {r.get(k, 0) * 1000:.0f}" for k in STAGES) + ")")
            keras.backend.clear_session()
    return {"rows": rows, "device": device_name(), "images": images, "warmup": warmup}


def device_name() -> str:
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        detail = tf.config.experimental.get_device_details(gpus[0])
        return f"GPU: {detail.get('device_name', gpus[0].name)}"
    return f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def markdown(result: dict, gflops: dict | None = None) -> str:
    lines = [f"# LOGO-CAP supplement Fig. 1: speed ({result['device']})", "",
             f"Batch 1, flip test, {result['images']} timed images after {result['warmup']} "
             "warm-up (480 x 640, resized to the test size's short side), random weights (up to "
             "30 centres above 0.01). Global KEM 97 px (25 px for `smoke`, its training "
             "setting). Ratios hold within this run; absolute numbers belong to this machine. "
             "AP: from trained runs (`smoke`: `logocap.adaptation`; the center-offset row is the "
             "run LOGO-CAP started from).", "",
             "Stages in ms: network (resize, image + mirror, flip averaging, upsampling), centres "
             "(centre NMS, top 30, initial poses: the reference's local-kem), local KAM (local KEM "
             "sampling + CMP), global KAM (global KEM + adaptation), NMS.", "",
             "| model | backbone | size | images/s | ms/image | network | centres | local KAM | "
             "global KAM | NMS | vs center-offset | AP | paper FPS |", "|---" * 13 + "|"]
    base = {(r["backbone"], r["size"]): r["fps"] for r in result["rows"] if r["head"] == "center_offset"}
    for r in result["rows"]:
        ratio = r["fps"] / base[(r["backbone"], r["size"])] if (r["backbone"], r["size"]) in base else None
        lines.append("| " + " | ".join([
            "LOGO-CAP (full)" if r["head"] == "logocap" else "center-offset", r["backbone"],
            str(r["size"]), f"{r['fps']:.2f}", f"{r['seconds'] * 1000:.0f}",
            *(f"{r.get(k, 0) * 1000:.1f}" for k in STAGES), "-" if ratio is None else f"{ratio:.2f}x",
            "-" if r.get("ap") is None else f"{r['ap']:.3f}",
            "-" if r.get("paper_fps") is None else f"{r['paper_fps']:g}"]) + " |")
    if gflops:
        lines += ["", "GFLOPs per image (network: backbone + heads; TensorFlow profiler, "
                  "multiply-add = 2):", "", "| backbone | size | center-offset | LOGO-CAP network | "
                  "CMP per person |", "|---|---|---|---|---|"]
        for (backbone, size), g in gflops.items():
            lines.append(f"| {backbone} | {size} | {g['center_offset']:.1f} | {g['logocap']:.1f} | "
                         f"{g['cmp_per_instance']:.2f} |")
    return "\n".join(lines) + "\n"


def plot(result: dict, path: str):
    """Left: AP vs images/s (log x) for the configurations with trained weights (or a note that
    there are none); right: images/s of every configuration."""
    from reprokit.viz import pyplot

    plt = pyplot()
    rows = result["rows"]
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.0), dpi=100, gridspec_kw={"width_ratios": [1, 1.4]})
    colours = {"center_offset": "tab:blue", "logocap": "tab:orange"}
    names = {"center_offset": "center-offset", "logocap": "LOGO-CAP (full)"}
    with_ap = [r for r in rows if r.get("ap") is not None]
    if with_ap:
        for head in HEADS:
            pts = [r for r in with_ap if r["head"] == head]
            ax.plot([r["fps"] for r in pts], [r["ap"] for r in pts], "o-", color=colours[head],
                    label=names[head])
            for r in pts:
                ax.annotate(f"{r['backbone']}-{r['size']}", (r["fps"], r["ap"]), fontsize=7)
        ax.set(xscale="log", xlabel="images / s", ylabel="COCO AP")
        ax.legend(fontsize=8)
        ax.set_title("AP vs speed (configurations with trained weights)", fontsize=9)
    else:
        ax.text(0.5, 0.5, "no trained weights for these\nconfigurations: speed only", ha="center",
                va="center", transform=ax.transAxes)
        ax.set_axis_off()
    labels = [f"{r['backbone']}-{r['size']}" for r in rows if r["head"] == "center_offset"]
    for i, head in enumerate(HEADS):
        fps = [r["fps"] for r in rows if r["head"] == head]
        bx.bar([j + (i - 0.5) * 0.4 for j in range(len(fps))], fps, 0.4, color=colours[head],
               label=names[head])
    bx.set_xticks(range(len(labels)))
    bx.set_xticklabels(labels, fontsize=8)
    bx.set(ylabel="images / s (batch 1, flip test)", yscale="log")
    bx.legend(fontsize=8)
    bx.set_title(f"speed ({result['device']})", fontsize=9)
    for a in (ax, bx):
        a.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write(result: dict, out_dir: str, gflops: dict | None = None) -> str:
    """``speed.json``, ``speed.md`` and ``speed.png`` in ``out_dir``; returns the markdown path."""
    from reprokit.files import write_json_atomic

    os.makedirs(out_dir, exist_ok=True)
    payload = {**result, "gflops": {f"{b}/{s}": g for (b, s), g in (gflops or {}).items()}}
    write_json_atomic(os.path.join(out_dir, "speed.json"), payload)
    path = os.path.join(out_dir, "speed.md")
    with open(path, "w", encoding="utf-8") as f:
        f.write(markdown(result, gflops))
    plot(result, os.path.join(out_dir, "speed.png"))
    return path


def gflops_table(configs=CONFIGS) -> dict:
    out = {}
    for backbone, size in configs:
        out[(backbone, size)] = {"center_offset": network_gflops(backbone, size, "center_offset"),
                                 "logocap": network_gflops(backbone, size, "logocap"),
                                 "cmp_per_instance": cmp_gflops_per_instance(backbone)}
    return out


def load_ap(paths) -> dict:
    """``{"head/backbone/size": AP}`` from ``logocap.adaptation`` results (``results.json``)."""
    out = {}
    for path in paths or ():
        with open(path, encoding="utf-8") as f:
            res = json.load(f)
        for r in res.get("rows", {}).values():
            if "full" in r.get("levels", {}):
                out[f"logocap/{r['backbone']}/{r['size']}"] = r["levels"]["full"]["AP"]
            if r.get("center_offset"):              # the center-offset run LOGO-CAP started from
                out[f"center_offset/{r['backbone']}/{r['size']}"] = r["center_offset"]["AP"]
    return out


__all__ = ["CONFIGS", "HEADS", "PAPER_FPS", "STAGES", "build", "cmp_gflops_per_instance", "gflops_table",
           "bench_image", "load_ap", "markdown", "measure", "network_gflops", "plot", "run_bench",
           "write"]
