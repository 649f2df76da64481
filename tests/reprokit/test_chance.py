"""Margins against chance: paired standard errors, the binomial and bootstrap forms."""
import numpy as np
import pytest

from reprokit.metrics.chance import (MIN_MARGIN, binomial_margin, bootstrap_margin, chance_margin,
                                     chance_section)


def test_paired_margin_uses_the_standard_error_of_the_differences():
    rng = np.random.default_rng(0)
    chance = rng.uniform(4, 6, 400)
    model = chance - 0.1 + rng.normal(0, 0.5, 400)       # an error: lower is better
    v = chance_margin(model, chance, "EPE", higher_is_better=False)
    se = np.std(model - chance, ddof=1) / np.sqrt(400)
    assert v["se"] == pytest.approx(se)
    assert v["difference"] == pytest.approx(chance.mean() - model.mean())
    assert v["margin_se"] == pytest.approx((chance.mean() - model.mean()) / se)
    assert v["beats_chance"] == (v["margin_se"] >= MIN_MARGIN)
    same = chance_margin(chance, chance + rng.normal(0, 1e-3, 400), "EPE", higher_is_better=False)
    assert not same["beats_chance"]
    with pytest.raises(ValueError, match="shape"):
        chance_margin([1, 2], [1, 2, 3], "x")
    # NaN units (a frame without a visible keypoint) are dropped from both
    assert chance_margin([1.0, np.nan, 3.0], [0.0, 1.0, 1.0], "x")["units"] == 2


def test_binomial_and_bootstrap_margins():
    v = binomial_margin(0.387, 0.240, 1792, "PCKh")
    assert v["se"] == pytest.approx(np.sqrt((0.387 * 0.613 + 0.24 * 0.76) / 1792))
    assert v["beats_chance"] and v["margin_se"] > 8
    rng = np.random.default_rng(0)
    counts = rng.integers(0, 50, (30, 2, 2))
    counts[:, 1, 1] += 40                                 # the model finds class 1 often
    background = np.zeros_like(counts)
    background[:, :, 0] = counts.sum(2)

    def acc(cm):
        return np.trace(cm) / cm.sum()
    b = bootstrap_margin(counts, background, acc, "accuracy")
    assert b["value"] == pytest.approx(acc(counts.sum(0))) and b["units"] == 30
    assert b["se"] > 0 and b["beats_chance"]
    assert "does NOT beat chance" in chance_section([{"row": "r", **binomial_margin(0.3, 0.3, 100, "x")}])
