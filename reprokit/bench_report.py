"""The ``python -m reprokit.bench suite`` table, and its section of ``docs/performance.md``."""
from __future__ import annotations

import os

BEGIN = "<!-- bench:begin (python -m reprokit.bench suite --write docs/performance.md) -->"
END = "<!-- bench:end -->"


def _ratio(a, b):
    return f"{a / b:.2f}" if a and b else "–"


def suite_markdown(results: dict, command: str) -> str:
    """Markdown: the machine, one row per model, the PyTorch reference and the ratios, the
    first step's split and the pipeline against the model's consumption."""
    m = results["machine"]
    lines = [f"Measured {m['date']} on {m['cpus']} CPUs ({m['processor']}, {m['platform']}, "
             f"Python {m['python']}), every model in a fresh process, one run "
             f"({results['wall_s'] / 60:.1f} min). Command: `{command}`.", "",
             "| model | trainable params | import s | first step s | train step s (batch) | latency batch 1 ms "
             "| throughput img/s (batch) |", "|---|---:|---:|---:|---:|---:|---:|"]
    for r in results["cases"]:
        lines.append(f"| {r['name']}: {r['title']} | {r['params']:,} | {r['import_s']:.1f} | "
                     f"{r['first_step_s']:.1f} | {r['step_s']:.2f} ({r['train_batch']}) | "
                     f"{1000 * r['latency_s']:.0f} | {r['throughput']:.1f} ({r['batch']}) |")
    t = results.get("torch")
    hg = next((r for r in results["cases"] if r["name"] == "hourglass"), None)
    if t:
        lines.append(f"| PyTorch reference hg2 (torch {t['torch']}, channels-last) | "
                     f"{t['params']:,} | {t['import_s']:.1f} | {t['first_step_s']:.1f} | "
                     f"{t['step_s']:.2f} (8) | {1000 * t['latency_s']:.0f} | {t['throughput']:.1f} (8) |")
    lines.append("")
    if t and hg:
        lines += ["Keras / PyTorch, same run (below 1: Keras faster; issue 18's goals: train step "
                  "<= 0.6, first step <= 2):", "",
                  "| figure | Keras | PyTorch | ratio |", "|---|---:|---:|---:|",
                  f"| import s | {hg['import_s']:.1f} | {t['import_s']:.1f} | {_ratio(hg['import_s'], t['import_s'])} |",
                  f"| first training step s | {hg['first_step_s']:.1f} | {t['first_step_s']:.1f} | "
                  f"{_ratio(hg['first_step_s'], t['first_step_s'])} |",
                  f"| training step s, batch 8 | {hg['step_s']:.2f} | {t['step_s']:.2f} | "
                  f"{_ratio(hg['step_s'], t['step_s'])} |",
                  f"| inference latency ms, batch 1 | {1000 * hg['latency_s']:.0f} | "
                  f"{1000 * t['latency_s']:.0f} | {_ratio(hg['latency_s'], t['latency_s'])} |",
                  f"| inference throughput img/s, batch 8 | {hg['throughput']:.1f} | "
                  f"{t['throughput']:.1f} | {_ratio(t['throughput'], hg['throughput'])} |", ""]
    elif hg:
        lines += ["PyTorch reference: torch was not importable (pass `--torch-python`).", ""]
    lines += ["Where the first training step goes (seconds; build = model + compile, tracing = "
              "Python tracing of the train step, Grappler = the first call with Grappler on minus "
              "off, first execution = the rest):", "",
              "| model | build | tracing | Grappler | first execution | first step | steady step |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    for r in results["cases"]:
        grappler = max(0.0, r["first_call_s"] - r["no_grappler_first_call_s"])
        rest = max(0.0, r["first_call_s"] - r["trace_s"] - grappler)
        lines.append(f"| {r['name']} | {r['build_s']:.1f} | {r['trace_s']:.1f} | {grappler:.1f} | "
                     f"{rest:.1f} | {r['first_step_s']:.1f} | {r['step_s']:.2f} |")
    lines += _roofline(results, hg, t)
    if results.get("variants") and hg:
        lines += ["", "The hourglass under other execution settings (same run; ratio to float32 "
                  "without XLA above):", "", "| precision | XLA | first step s | train step s | "
                  "step ratio | latency ms |", "|---|---|---:|---:|---:|---:|"]
        for v in results["variants"]:
            lines.append(f"| {v['precision']} | {'yes' if v['jit'] else 'no'} | "
                         f"{v['first_step_s']:.1f} | {v['step_s']:.2f} | "
                         f"{_ratio(v['step_s'], hg['step_s'])} | {1000 * v['latency_s']:.0f} |")
        for tv in results.get("torch_variants") or ():
            ours = next((v for v in results["variants"] if v["precision"] == "mixed_bfloat16"
                         and not v["jit"]), None)
            if ours and t:
                lines += ["", f"Same precision on both sides: the PyTorch reference under "
                          f"`torch.autocast(\"cpu\", torch.bfloat16)` trains a step in "
                          f"{tv['step_s']:.2f} s (first step {tv['first_step_s']:.1f} s; float32 "
                          f"{t['step_s']:.2f} s); Keras `mixed_bfloat16` / PyTorch bfloat16 = "
                          f"{_ratio(ours['step_s'], tv['step_s'])} (step), "
                          f"{_ratio(ours['first_step_s'], tv['first_step_s'])} (first step)."]
    p = results.get("pipeline")
    if p and hg:
        consumption = hg["train_batch"] / hg["step_s"]
        lines += ["", f"Input pipeline (hourglass, 256 x 256, decode + affine + flip + colour + 16 "
                  f"heatmaps, batch 8, alone on the machine): {p['full_samples_per_s']:.1f} "
                  f"samples/s (decode only {p['decode_only_samples_per_s']:.1f}); the hourglass "
                  f"trains on {consumption:.1f} samples/s: pipeline / consumption = "
                  f"{p['full_samples_per_s'] / consumption:.1f}."]
    return "\n".join(lines) + "\n"


def _roofline(results: dict, hg: dict | None, t: dict | None) -> list[str]:
    """The step's arithmetic against the float32 matmul peak (:mod:`reprokit.bench_flops`)."""
    peak = results.get("matmul_gflops")
    rows = [r for r in results["cases"] if r.get("train_gflop")]
    if not peak or not rows:
        return []
    lines = ["", f"Arithmetic per training step (convolutions and matrix products, forward and "
             f"backward, counted from the traced step's shapes) against the fastest float32 "
             f"`tf.matmul` measured in the same run, {peak:.0f} GFLOP/s: the floor is the step "
             f"at that rate. It is a yardstick, not a hard bound: oneDNN's convolutions can "
             f"outrun its matmul, and the machine's speed drifts during a run (the peak is "
             f"timed once, at the end); a row above 100% shows either.", "",
             "| model | GFLOP per step | achieved GFLOP/s | of the matmul peak | floor s | step s |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        rate = r["train_gflop"] / r["step_s"]
        lines.append(f"| {r['name']} | {r['train_gflop']:.1f} | {rate:.0f} | {rate / peak:.0%} | "
                     f"{r['train_gflop'] / peak:.2f} | {r['step_s']:.2f} |")
    if t and hg and hg.get("train_gflop"):
        rate = hg["train_gflop"] / t["step_s"]
        floor = hg["train_gflop"] / peak
        lines += [f"| PyTorch reference hg2 (the same arithmetic) | {hg['train_gflop']:.1f} | "
                  f"{rate:.0f} | {rate / peak:.0%} | {floor:.2f} | {t['step_s']:.2f} |", "",
                  f"Issue 18's float32 goal, 0.6x the PyTorch reference's step, is "
                  f"{0.6 * t['step_s']:.2f} s = {0.6 * t['step_s'] / floor:.2f}x the floor of "
                  f"{floor:.2f} s."]
    return lines


def write_performance(path: str, text: str) -> str:
    """Replace the text between the bench markers of ``path`` (created with them if absent)."""
    old = open(path, encoding="utf-8").read() if os.path.exists(path) else f"{BEGIN}\n{END}\n"
    if BEGIN not in old or END not in old:
        old = old.rstrip("\n") + f"\n\n{BEGIN}\n{END}\n"
    head, rest = old.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write(f"{head}{BEGIN}\n{text}{END}{tail}")
    os.replace(path + ".tmp", path)
    return path
