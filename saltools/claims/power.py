"""Power before data: the smallest effect each claim must detect, and the size that detects it.

Each claim names, before any data, the smallest distance from its threshold that matters
(``SMALLEST_EFFECT``, in the claim's effect units; for an equivalence claim, its band). ``power_plan``
turns a pilot's spread per unit into the number of units at which an interval decides the claim with
80% probability when the true effect sits that far from the threshold (or, for an equivalence claim, at
zero): the normal approximation n = ((z(0.975) + z(power)) * sd / delta)^2, with z(power) taken two-sided
for equivalence (both bounds must fall inside the band). Written by hand: statsmodels' power classes
take a standardized effect and a test, not an interval rule on an arbitrary statistic.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.stats as ss

from ..parameters import checked
from .core import CONFIDENCE, NOT_EVALUATED

#: per directional claim, the smallest distance from its threshold the book must be able to detect
SMALLEST_EFFECT: dict[str, float] = {
    # chapter 1: shares of corrected mistakes, probabilities and mass shares (5 points)
    "ch1.zeroing-salient-corrects-more-than-random": 0.05, "ch1.zeroing-salient-lowers-wrong-confidence": 0.05,
    "ch1.finetuning-salient-corrects-more-than-random": 0.05, "ch1.projection-concentrates-on-the-object": 0.05,
    # chapter 2: a share of filters, a skewness, a ratio of tail frequencies
    "ch2.statistic-is-not-normal": 0.05, "ch2.statistic-is-right-skewed": 0.5,
    "ch2.three-sigma-far-more-common-than-normal": 1.0,
    # chapter 3: a GPD shape, a correlation, an overlap
    "ch3.tails-are-heavy": 0.1, "ch3.pot-and-zscore-rankings-correlate": 0.05, "ch3.pot-and-zscore-top20-differ": 0.05,
    # chapter 4: shares of the top-k in the last stage (5 points), a tenfold ratio to within a factor 1.8
    "ch4.zscore-favours-the-last-stage": 0.05, "ch4.pot-less-last-stage-than-zscore@q0.85": 0.05,
    "ch4.pot-less-last-stage-than-zscore@q0.90": 0.05, "ch4.pot-less-last-stage-than-zscore@q0.95": 0.05,
    "ch4.published-pot-less-last-stage-than-zscore": 0.05, "ch4.statistic-shrinks-with-depth": 0.25,
    "ch4.domain-shift-increases-the-bias": 0.05, "ch4.corruption-increases-the-bias": 0.05,
    "ch4.pot-less-last-stage-than-zscore-on-target": 0.05, "ch4.pot-less-last-stage-than-zscore-under-corruption": 0.05,
    # chapter 5: correlations with luminance (0.05), mass accuracies (0.1), rank correlations after randomization
    "ch5.rectgrad-follows-luminance-more-than-nobias": 0.05,
    "ch5.input-x-gradient-follows-luminance-more-than-saliency": 0.05,
    "ch5.rectgrad-climbs-with-brightness": 0.1, "ch5.input-x-gradient-climbs-with-brightness": 0.1,
    "ch5.integrated-gradients-climbs-with-brightness": 0.1, "ch5.nobias-sees-black-objects": 0.1,
    "ch5.rectgrad-beats-nobias-on-white-objects": 0.05, "ch5.rectgrad-is-blind-at-the-zero-point@unit": 0.1,
    "ch5.rectgrad-is-blind-at-the-zero-point@symmetric": 0.1, "ch5.rectgrad-is-blind-at-the-zero-point@standardized": 0.1,
    "ch5.rectgrad-follows-luminance-on-photos": 0.05, "ch5.guided-backprop-ignores-the-top-layer": 0.05,
    "ch5.rectgrad-ignores-the-top-layer": 0.05, "ch5.nobias-rectgrad-ignores-the-top-layer": 0.05,
    "ch5.saliency-depends-on-the-top-layer": 0.1,
    # chapter 6: entropies and probabilities (0.05-0.1), correlations and agreements (0.05-0.1), winners (one)
    "ch6.no-baseline-is-neutral": 0.1, "ch6.flat-baselines-read-as-one-class": 0.1,
    "ch6.noise-baselines-read-with-near-certainty": 0.05, "ch6.baseline-changes-occlusion-maps": 0.1,
    "ch6.some-baselines-agree-on-occlusion": 0.1, "ch6.rise-baselines-within-seed-noise": 0.05,
    "ch6.uniform-baseline-changes-rise-beyond-seed-noise": 0.05, "ch6.neighbouring-windows-agree": 0.1,
    "ch6.large-window-changes-occlusion": 0.1, "ch6.rise-grid-12-beyond-seed-noise": 0.05,
    "ch6.rise-keep-probability-0.1-beyond-seed-noise": 0.05, "ch6.averaging-over-baselines-helps": 0.05,
    "ch6.substrate-picks-the-winner": 1.0, "ch6.substrate-rankings-are-reliable": 0.1,
    "ch6.substrates-disagree-beyond-reliability": 0.1, "ch6.images-disagree-within-substrates": 0.1,
    "ch6.morf-and-lerf-are-inconsistent": 0.1, "ch6.no-causal-metric-matches-the-masks": 0.1,
    "ch6.noisy-imputation-raises-image-agreement": 0.05,
    # chapter 7: agreements (0.05-0.1), a correlation over substrates (0.3), hit rates (0.1), scores (0.05)
    "ch7.srg-makes-substrates-agree-more-than-morf": 0.05, "ch7.srg-makes-substrates-agree-more-than-lerf": 0.05,
    "ch7.srg-narrows-the-gap-to-reliability": 0.05, "ch7.srg-substrates-disagree-beyond-reliability": 0.1,
    "ch7.closer-substrates-agree-more": 0.3, "ch7.outline-alone-names-the-class": 0.1,
    "ch7.black-fill-leaks-the-outline": 0.1, "ch7.road-leaks-less-than-black-on-attribution-masks": 0.05,
    "ch7.blurring-improves-road": 0.05, "ch7.blurring-improves-black-deletion": 0.05,
    "ch7.blurring-improves-faithfulness-correlation": 0.05,
    "ch7.guided-backprop-ignores-the-top-layer-under-smooth-mprt": 0.05,
    "ch7.rectgrad-ignores-the-top-layer-under-smooth-mprt": 0.05,
}

#: the probability of deciding a claim whose true effect sits at its smallest effect
POWER = 0.8


@checked()
def units_needed(half_width, n, delta, equivalence, power: float = POWER):
    """Units at which a 95% interval decides with probability ``power``, from a pilot interval's
    ``half_width`` on ``n`` units (spread per unit: half-width * sqrt(n) / z(0.975)) and the smallest effect
    ``delta``; ``equivalence``: both bounds must clear the band, so z(power) is two-sided. Arrays broadcast."""
    z_interval = ss.norm.ppf(1 - (1 - CONFIDENCE) / 2)
    z_power = np.where(equivalence, ss.norm.ppf(1 - (1 - power) / 2), ss.norm.ppf(power))
    spread = np.asarray(half_width, dtype=float) * np.sqrt(np.asarray(n, dtype=float)) / z_interval
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.ceil(((z_interval + z_power) * spread / np.asarray(delta, dtype=float)) ** 2)


@checked()
def power_plan(table: pd.DataFrame, power: float = POWER) -> pd.DataFrame:
    """Per evaluated row of ``table`` (from ``evaluate``, read as a pilot): the claim's smallest effect
    (``SMALLEST_EFFECT``, or the band of an equivalence claim), the units its interval needs to decide it with
    probability ``power`` (``units_needed``), and whether the row's own size reaches it (``powered``). A
    normal approximation: it is as good as the pilot's spread and as the width's 1 / sqrt(n) shrinkage."""
    rows = table[table.verdict != NOT_EVALUATED]
    equivalence = (rows.rule_kind == "within").to_numpy()
    delta = np.where(equivalence, rows.rule_threshold, [SMALLEST_EFFECT.get(c, np.nan) for c in rows.claim])
    needed = units_needed((rows.high - rows.low) / 2, rows.n, delta, equivalence, power)
    return pd.DataFrame({"model": rows.model, "claim": rows.claim, "smallest_effect": delta, "n": rows.n,
                         "unit": rows.unit, "n_needed": needed, "powered": rows.n.to_numpy() >= needed},
                        index=rows.index)
