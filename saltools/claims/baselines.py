"""Claims of chapter 6, first part: perturbation baselines and hyperparameters (Brunke et al. 2020,
Sturmfels et al. 2020). Is any baseline neutral, and how far do the baseline, occlusion's window and
RISE's settings change a map, measured against RISE's own seed-to-seed noise? The context is
``PerturbationContext`` (``claims.perturbation``, which holds the claims on the metrics' verdicts).
"""
from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from ..data import CLASSES
from ..metrics import map_agreement, pairwise_agreement
from ..perturb import average_maps
from .core import Claim, Evidence, Rule, largest_resampled, mean_interval, proportion_interval
from .perturbation import AVERAGED, BRUNKE, FLAT, RISE_CHANGE_IDS, RISE_CHANGES, STURMFELS, PerturbationContext

def _neutral(context, control: bool) -> pd.DataFrame:
    return context.indifferent_neutral if control else context.neutral


def _least_neutral(context, control: bool = False) -> Evidence:
    """The largest mean relative entropy over baselines, with Bonferroni-simultaneous intervals per
    baseline (``largest_resampled``: no percentile bootstrap of a maximum)."""
    entropy = _neutral(context, control).pivot_table(index="baseline", columns="image", values="entropy").to_numpy()
    relative = entropy / np.log(len(CLASSES))
    return largest_resampled(lambda i: relative[:, i].mean(1), relative.shape[1], "images")


#: flat baselines that are one and the same image whatever image they replace (counted once)
IMAGE_INDEPENDENT = ("black", "white", "dataset_mean")


def _flat_one_class(context, control: bool = False) -> Evidence:
    """Share of distinct flat-baseline images read as the most common class: the image-independent fills
    count once, the per-image fills (image mean, inpainting) once per image. ``control``: classes drawn
    uniformly at random in place of the model's (seeded)."""
    flat = context.neutral[context.neutral.baseline.isin(FLAT)]
    if control:
        flat = flat.assign(predicted=np.random.default_rng(0).integers(0, len(CLASSES), len(flat)))
    first = flat.image == flat.image.min()
    distinct = flat[first | ~flat.baseline.isin(IMAGE_INDEPENDENT)]
    return proportion_interval(int((distinct.predicted == distinct.predicted.mode()[0]).sum()), len(distinct),
                               "distinct baseline images")


def _noise_certainty(context, control: bool = False) -> Evidence:
    neutral = _neutral(context, control)
    noise = neutral[neutral.baseline.isin(["uniform", "gaussian"])]
    return mean_interval(noise.groupby("image").probability.mean().to_numpy(), "images")


def _occlusion_pairs(context, extreme: str, control: str | None = None) -> Evidence:
    """Per image, the ``extreme`` ("min" or "max") Spearman correlation over pairs of baselines; ``control``
    "same": one pair, a map with itself; "random": one pair, a map with a noise map."""
    table = context.occlusion_agreement
    if control:
        black = context.occlusion_maps["black"]
        table = pairwise_agreement({"black": black, control: black if control == "same" else context.random_maps(black)})
    pairs = table.pivot_table(index="image", columns=["a", "b"], values="spearman_abs")
    return mean_interval(getattr(pairs, extreme)(axis=1).to_numpy(), "images")


def _rise_against_floor(context, with_uniform: bool, control: bool = False) -> Evidence:
    """Agreement between baselines (without uniform noise) minus the seed floor, or the floor minus the
    agreement with uniform noise. ``control``: noise maps in place of the other baselines' maps, or the
    seed pair in place of the uniform baseline's pairs."""
    pairs = context.rise_agreement
    uses_uniform = (pairs.a == "uniform") | (pairs.b == "uniform")
    agreement = pairs[uses_uniform == with_uniform].groupby("image").spearman_abs.mean()
    if control:
        own = context.rise_maps["dataset_mean"]
        agreement = context.floor if with_uniform else map_agreement(own, context.random_maps(own)).spearman_abs
    difference = context.floor - agreement if with_uniform else agreement - context.floor
    return mean_interval(difference.to_numpy(), "images")


def _windows(context, first: str, second: str | None) -> Evidence:
    """Spearman correlation of the occlusion maps of two window settings; ``second=None``: a noise map."""
    own = context.window_maps[first]
    table = map_agreement(own, context.random_maps(own) if second is None else context.window_maps[second])
    return mean_interval(table.spearman_abs.to_numpy(), "images")


def _rise_setting(context, setting: str | None) -> Evidence:
    """The seed floor minus the agreement with a changed setting; ``setting=None``: the reference setting
    with another seed (the floor itself)."""
    if setting is None:
        agreement = context.floor
    else:
        agreement = map_agreement(context.rise_maps["dataset_mean"], context.rise_setting_maps[setting]).spearman_abs
    return mean_interval((context.floor - agreement).to_numpy(), "images")


def _averaging(context, control: bool = False) -> Evidence:
    """Agreement of the averages over two disjoint sets of baselines minus the mean agreement of two single
    baselines; ``control``: the second average taken over another image (rolled by one)."""
    maps = context.occlusion_maps
    second = average_maps(maps, AVERAGED[1])
    second = second.roll(1, 0) if control else second
    averaged = map_agreement(average_maps(maps, AVERAGED[0]), second).spearman_abs
    single = context.occlusion_agreement.groupby("image").spearman_abs.mean()
    return mean_interval((averaged - single).to_numpy(), "images")


def _claim(*args, **kwargs) -> Claim:
    return Claim(*args, context=PerturbationContext, **kwargs)


INDIFFERENT = "a classifier that gives every class the same logit (perfectly neutral, by construction)"
SAME_MAP = "a map compared with itself (they agree perfectly, by construction)"
NOISE_MAP = "a map compared with uniform noise (no agreement, by construction)"
SEED_PAIR = "the reference setting with another seed in place of the change (seed noise only, by construction)"


CLAIMS = [
    _claim("ch6.no-baseline-is-neutral", 6,
           "No baseline is neutral: even the least confident one leaves the model's predictive entropy below 70% "
           "of the uniform distribution's.",
           "largest mean entropy over baselines / log(classes)", Rule("below", 0.7), _least_neutral,
           paper="\"arguably neutral\" baselines carry evidence of their own", source=BRUNKE,
           control=functools.partial(_least_neutral, control=True), control_note=INDIFFERENT),
    _claim("ch6.flat-baselines-read-as-one-class", 6,
           "The flat baselines (black, white, the mean colours, the inpainted fill) are read as one class "
           "(over 80% of the distinct baseline images).",
           "share of distinct flat-baseline images in the most common class", Rule("above", 0.8), _flat_one_class,
           control=functools.partial(_flat_one_class, control=True),
           control_note="classes drawn uniformly at random in place of the model's"),
    _claim("ch6.noise-baselines-read-with-near-certainty", 6,
           "The noise baselines are classified with near-certainty (mean top probability above 0.9).",
           "mean top-class probability, uniform and Gaussian noise", Rule("above", 0.9), _noise_certainty,
           control=functools.partial(_noise_certainty, control=True), control_note=INDIFFERENT),
    _claim("ch6.baseline-changes-occlusion-maps", 6,
           "For a typical image, some pair of baselines gives occlusion maps that rank the pixels differently "
           "(rank correlation of |map| below 0.5).",
           "per image, the least agreeing pair's Spearman correlation", Rule("below", 0.5),
           functools.partial(_occlusion_pairs, extreme="min"),
           paper="the choice of baseline changes the map", source=BRUNKE,
           control=functools.partial(_occlusion_pairs, extreme="min", control="same"), control_note=SAME_MAP),
    _claim("ch6.some-baselines-agree-on-occlusion", 6,
           "For a typical image, some pair of baselines gives nearly the same occlusion map (rank correlation "
           "above 0.8).",
           "per image, the most agreeing pair's Spearman correlation", Rule("above", 0.8),
           functools.partial(_occlusion_pairs, extreme="max"),
           control=functools.partial(_occlusion_pairs, extreme="max", control="random"), control_note=NOISE_MAP),
    _claim("ch6.rise-baselines-within-seed-noise", 6,
           "RISE maps with different baselines (uniform noise aside) agree at least as well as two runs with "
           "one baseline and different random masks.",
           "rank correlation between baselines - between seeds", Rule("above", 0.0),
           functools.partial(_rise_against_floor, with_uniform=False),
           control=functools.partial(_rise_against_floor, with_uniform=False, control=True), control_note=NOISE_MAP),
    _claim("ch6.uniform-baseline-changes-rise-beyond-seed-noise", 6,
           "The uniform-noise baseline changes RISE maps beyond the seed-to-seed noise.",
           "rank correlation between seeds - with the uniform baseline", Rule("above", 0.0),
           functools.partial(_rise_against_floor, with_uniform=True), source=BRUNKE,
           control=functools.partial(_rise_against_floor, with_uniform=True, control=True), control_note=SEED_PAIR),
    _claim("ch6.neighbouring-windows-agree", 6,
           "Occlusion with window 4 / stride 2 and with window 8 / stride 4 gives similar maps (rank correlation "
           "above 0.8).",
           "Spearman correlation of |map|, 4/2 vs 8/4", Rule("above", 0.8),
           functools.partial(_windows, first="4/2", second="8/4"),
           control=functools.partial(_windows, first="4/2", second=None), control_note=NOISE_MAP),
    _claim("ch6.large-window-changes-occlusion", 6,
           "A 16-pixel window ranks the pixels differently from a 4-pixel one (rank correlation below 0.7).",
           "Spearman correlation of |map|, 4/2 vs 16/8", Rule("below", 0.7),
           functools.partial(_windows, first="4/2", second="16/8"),
           paper="window size and stride change occlusion maps", source=BRUNKE,
           control=functools.partial(_windows, first="4/2", second="4/2"), control_note=SAME_MAP),
    *[_claim(f"ch6.rise-{RISE_CHANGE_IDS[setting]}-beyond-seed-noise", 6,
             f"Changing RISE's setting to {setting} changes the map beyond the seed-to-seed noise.",
             "rank correlation between seeds - with the changed setting", Rule("above", 0.0),
             functools.partial(_rise_setting, setting=setting),
             paper="RISE's hyperparameters change the map", source=BRUNKE,
             control=functools.partial(_rise_setting, setting=None), control_note=SEED_PAIR)
      for setting in RISE_CHANGES],
    _claim("ch6.averaging-over-baselines-helps", 6,
           "Averages over two disjoint sets of baselines agree better than two single baselines do.",
           "rank correlation, two averages - two single baselines (mean over pairs)", Rule("above", 0.0), _averaging,
           paper="averaging over several baselines reduces the dependence on one", source=STURMFELS,
           control=functools.partial(_averaging, control=True),
           control_note="the second average taken over another image (averages of different images cannot agree "
                        "better than one image's single baselines)"),
]

__all__ = ["CLAIMS", "IMAGE_INDEPENDENT"]
