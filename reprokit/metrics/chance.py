"""A result beside its chance level, with the margin in standard errors.

Every reproduction's demo row states whether it beat chance: :func:`chance_margin` pairs the
model's and the chance predictor's score on the same evaluation units (images, frames), so the
standard error is that of the paired difference; :func:`bootstrap_margin` does the same for a
metric that is not a mean over units (mIoU of a summed confusion matrix), by resampling the
units. A row "beats chance" at a margin of :data:`MIN_MARGIN` standard errors or more.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

#: margin (in standard errors of the paired difference) from which a row counts as above chance
MIN_MARGIN = 3.0


def verdict(value, chance, se, higher_is_better, metric, units) -> dict:
    """The margin record of ``value`` against ``chance`` with standard error ``se``."""
    diff = (value - chance) if higher_is_better else (chance - value)
    margin = float(diff / se) if se > 0 else (float("inf") if diff > 0 else 0.0)
    return {"metric": metric, "value": float(value), "chance": float(chance),
            "difference": float(diff), "se": float(se), "margin_se": margin, "units": int(units),
            "higher_is_better": bool(higher_is_better), "beats_chance": margin >= MIN_MARGIN}


def chance_margin(model_scores, chance_scores, metric: str, higher_is_better: bool = True) -> dict:
    """``value`` = mean of ``model_scores`` over the units (rows), ``chance`` the same of
    ``chance_scores``; ``se`` = standard error of the mean paired difference; NaN units (no
    valid keypoint, say) are dropped from both."""
    a, b = np.asarray(model_scores, np.float64), np.asarray(chance_scores, np.float64)
    if a.shape != b.shape:
        raise ValueError(f"model and chance scores differ in shape: {a.shape} vs {b.shape}")
    keep = np.isfinite(a) & np.isfinite(b)
    a, b = a[keep], b[keep]
    if a.size < 2:
        raise ValueError(f"{metric}: a margin needs at least 2 units, got {a.size}")
    se = np.std(a - b, ddof=1) / np.sqrt(a.size)
    return verdict(a.mean(), b.mean(), se, higher_is_better, metric, a.size)


def binomial_margin(p_model: float, p_chance: float, n: int, metric: str) -> dict:
    """For a proportion of ``n`` binary outcomes (PCKh: joints within the threshold): ``se`` of
    the difference as if the two were independent, ``sqrt(p1 q1 / n + p2 q2 / n)`` (paired
    outcomes on the same joints vary less, so this is conservative)."""
    if n < 2:
        raise ValueError(f"{metric}: a margin needs at least 2 outcomes, got {n}")
    se = np.sqrt((p_model * (1 - p_model) + p_chance * (1 - p_chance)) / n)
    return verdict(p_model, p_chance, se, True, metric, n)


def bootstrap_margin(model_units, chance_units, metric_of_sum: Callable, metric: str,
                     higher_is_better: bool = True, resamples: int = 200, seed: int = 0) -> dict:
    """For a metric of the **sum** of per-unit counts (mIoU of the summed confusion matrices):
    ``metric_of_sum(sum of units)`` for the value and the chance level; ``se`` = standard
    deviation of the paired difference over ``resamples`` bootstrap draws of the units (the same
    draw for model and chance, as multiplicities, so large evaluation sets stay cheap)."""
    a = np.asarray(model_units, np.float64).reshape(len(model_units), -1)
    b = np.asarray(chance_units, np.float64).reshape(len(chance_units), -1)
    shape = np.asarray(model_units).shape[1:]
    if a.shape != b.shape or len(a) < 2:
        raise ValueError(f"{metric}: need the same number (>= 2) of model and chance units")
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(resamples):
        w = np.bincount(rng.integers(0, len(a), len(a)), minlength=len(a)).astype(np.float64)
        diffs.append(metric_of_sum((w @ a).reshape(shape)) - metric_of_sum((w @ b).reshape(shape)))
    return verdict(metric_of_sum(a.sum(0).reshape(shape)), metric_of_sum(b.sum(0).reshape(shape)),
                    float(np.std(diffs, ddof=1)), higher_is_better, metric, len(a))


def margin_line(v: dict) -> str:
    """One line for a results file: value, chance, margin and the verdict."""
    word = "beats chance" if v["beats_chance"] else "does NOT beat chance"
    return (f"{v['metric']} {v['value']:.3f} vs chance {v['chance']:.3f}: margin "
            f"{v['margin_se']:.1f} standard errors over {v['units']} units -> {word} "
            f"(threshold {MIN_MARGIN:g})")


def row_checks(rows: dict, suffix: str = "") -> list[dict]:
    """``[{"row": name + suffix, **verdict}]`` for the rows whose results carry a
    ``chance_check`` (what a reproduction's ``results.json`` lists and ``repro demo`` prints)."""
    return [{"row": f"{name}{suffix}", **r["chance_check"]} for name, r in rows.items()
            if "chance_check" in r]


def chance_section(checks: list[dict]) -> str:
    """Markdown: one line per row (``{"row": ..., **verdict}``) with its margin and verdict."""
    if not checks:
        return ""
    lines = ["", f"Against chance (margin in standard errors of the difference; a row beats "
             f"chance at {MIN_MARGIN:g} or more):", ""]
    lines += [f"- {c['row']}: {margin_line(c)}" for c in checks]
    return "\n".join(lines) + "\n"


__all__ = ["row_checks", "chance_section", "verdict", "MIN_MARGIN", "binomial_margin", "bootstrap_margin", "chance_margin", "margin_line"]
