"""Claims of chapters 1-4: parameter saliency, its normality assumption, POT, and depth bias.

Sources: Levin et al. 2022 (parameter saliency, NeurIPS) and Wang & Sato 2023 (POT, arXiv
2310.17951). Each evidence function takes a ``Context`` and returns ``Evidence``.
"""
from __future__ import annotations

import dataclasses
import functools
import warnings

import pandas as pd

import numpy as np
import scipy.stats as ss
import torch

from .. import evt
from ..depth import statistic_by_stage
from ..metrics import relevance_mass
from ..parameters import checked
from ..paramsal import pot, scorer_agreement
from .context import Context
from .core import (Claim, ClaimRefused, Evidence, Rule, difference_interval, mean_interval, proportion_interval,
                   resampled_interval)

LEVIN = "Levin et al. 2022, NeurIPS (arXiv 2108.01335)"
WANG_SATO = "Wang & Sato 2023 (arXiv 2310.17951)"


# ----------------------------------------------------------------------------- chapter 1
#: seeds of the random rankings each claim of chapter 1 compares with, and of those its control compares them with
RANDOM_SEEDS, CONTROL_SEEDS = (1, 2, 3, 4), (5, 6, 7, 8)


@checked()
def random_ranking(stats, values: torch.Tensor, seed: int) -> torch.Tensor:
    """A random ranking of every query's filters, seeded (a scorer for ``Context.curves``)."""
    return torch.rand(values.shape, generator=torch.Generator().manual_seed(seed))


def _random_mean(context, column: str, method: str, seeds) -> pd.Series:
    return sum(context.per_image(P(random_ranking, seed=s), column, method, "salient") for s in seeds) / len(seeds)


def _versus_random(context, column: str, method: str, control: bool = False) -> Evidence:
    """Per mistake: the z-score's top-k minus the mean of four random rankings' top-k (one random draw
    per image is too noisy a baseline: single draws differed by up to 0.08 in corrected share on the
    shipped model). ``control``: four other random rankings in place of the z-score."""
    first = (_random_mean(context, column, method, CONTROL_SEEDS) if control
             else context.per_image("zscore", column, method, "salient"))
    return mean_interval((first - _random_mean(context, column, method, RANDOM_SEEDS)).to_numpy(), "mistakes",
                         method=method)


def _zeroing_effect(context, selection: str = "least") -> Evidence:
    return mean_interval(context.per_image("zscore", "d_wrong", "zero", selection).to_numpy(), "mistakes")


def _projection_on_object(context, n: int = 20, shuffled: bool = False) -> Evidence:
    """Per mistake: share of the input-space projection on the object minus the object's share of the
    image (needs object masks, as Shapes has). ``shuffled``: against the next mistake's object (the
    negative control: a projection knows nothing of another image's object)."""
    masks = getattr(context.queries, "masks", None)
    if masks is None:
        raise ClaimRefused("the query data has no object masks (st.data.Shapes has them)")
    wrong = context.wrong
    maps = context.projections(n)
    inside = masks[wrong.indices[:len(maps)]]
    if shuffled:
        inside = inside.roll(1, dims=0)
    excess = relevance_mass(maps, inside) - inside.double().mean((1, 2))
    return mean_interval(excess.numpy(), "mistakes")


# ----------------------------------------------------------------------------- chapter 2
@checked()
def normal_twin(sample: np.ndarray, seed: int = 0) -> np.ndarray:
    """Normal draws with each column's mean and std and the shape of ``sample`` [n, F]: the statistic
    as it would be if the normality assumption held (the chapter 2 and 3 claims' negative control)."""
    sample = np.asarray(sample, dtype=float)
    return np.random.default_rng(seed).normal(sample.mean(0), sample.std(0, ddof=1), size=sample.shape)


def _sample(context, control: bool) -> np.ndarray:
    sample = context.stats.sample_.double().numpy()
    return normal_twin(sample) if control else sample


#: resamples of the reference images, and the most filters each one recomputes (a random subset past it)
IMAGE_RESAMPLES, MAX_FILTERS = 200, 500


@checked()
def over_images(sample: np.ndarray, statistic, smooth: bool = False, seed: int = 0) -> np.ndarray:
    """``statistic(rows of sample)`` on ``IMAGE_RESAMPLES`` bootstrap resamples of the reference images (the rows
    of ``sample`` [n, F], the independent unit: every filter is measured on the same images), each on at most
    ``MAX_FILTERS`` filters drawn at random. ``smooth``: a smoothed bootstrap (Gaussian jitter of Silverman's
    bandwidth per filter), for statistics that ties from resampling would bias, such as Shapiro-Wilk's."""
    rng = np.random.default_rng(seed)
    n, filters = sample.shape
    bandwidth = 1.06 * sample.std(0, ddof=1) * n ** -0.2
    values = []
    for _ in range(IMAGE_RESAMPLES):
        columns = np.sort(rng.choice(filters, MAX_FILTERS, replace=False)) if filters > MAX_FILTERS else slice(None)
        resample = sample[rng.integers(0, n, n)][:, columns]
        if smooth:
            resample = resample + rng.normal(size=resample.shape) * bandwidth[columns]
        values.append(statistic(resample))
    return np.asarray(values, dtype=float)


def _live(sample: np.ndarray) -> np.ndarray:
    return sample[:, sample.std(0) > 1e-12 * np.maximum(np.abs(sample).max(0), 1e-300)]


def _rejected_share(sample: np.ndarray) -> float:
    return float((ss.false_discovery_control(ss.shapiro(sample, axis=0).pvalue) < 0.05).mean())


def _normality_rejected(context, control: bool = False) -> Evidence:
    """Share of the non-constant filters whose Shapiro-Wilk test rejects (BH 5%), on the reference sample. The
    interval is the hull of a smoothed bootstrap over the reference images (the independent unit) and the
    Wilson interval over the filters: the doubt from both, never a zero width where every filter rejects."""
    table = evt.normality_tests(_sample(context, True), context.index) if control else context.normality
    tested = table[~table.constant]
    sample = _live(_sample(context, control))
    boot = over_images(sample, _rejected_share, smooth=True)
    wilson = proportion_interval(int(tested.reject_shapiro.sum()), len(tested), "filters")
    low, high = min(wilson.low, np.percentile(boot, 2.5)), max(wilson.high, np.percentile(boot, 97.5))
    return Evidence(wilson.effect, float(low), float(high), len(sample), "reference images",
                    {"filters": len(tested)})


def _skewness(context, control: bool = False) -> Evidence:
    """Median skewness over the non-constant filters, with the interval from resampling the reference images
    (the independent unit; the filters are measured on the same images)."""
    sample = _sample(context, control)
    sample = sample[:, sample.std(0) > 0]
    def median_skew(rows):
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)          # a filter constant in a resample: NaN
            return np.nanmedian(ss.skew(sample[rows], axis=0))
    return resampled_interval(median_skew, len(sample), "reference images", resamples=500, filters=sample.shape[1])


def _three_sigma(context, control: bool = False) -> Evidence:
    """Median over filters of P(s > mean + 3 std) / P(Z > 3), with the interval from resampling the
    reference images (the independent unit) of the kept sample."""
    sample = _sample(context, control)
    if control:
        bar = sample.mean(0) + 3 * sample.std(0, ddof=1)
    else:
        bar = (context.stats.mean_ + 3 * context.stats.std_).double().numpy()
    exceed = sample > bar
    return resampled_interval(lambda rows: np.median(exceed[rows].mean(0)) / ss.norm.sf(3), len(sample),
                              "reference images", resamples=500)


# ----------------------------------------------------------------------------- chapter 3
def _median_tail_shape(sample: np.ndarray) -> float:
    """Median over filters of the GPD shape fitted to the excesses over each filter's top-10% threshold."""
    sample = np.sort(sample, axis=0)
    keep = max(2, len(sample) // 10)
    tails = sample[-keep:] - sample[-keep - 1]
    live = tails.max(0) > 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # too few distinct excesses: exponential fits
        shape, _ = evt.fit_gpd(tails[:, live].T)
    return float(np.median(shape))


def _gpd_shape(context, control: bool = False) -> Evidence:
    """Median GPD shape over filters on the reference sample, +-1.96 bootstrap standard errors over the
    reference images. Not the resamples' percentiles: their ties (repeated images give zero excesses) pull
    the fitted shapes down by about 1.5 standard errors in simulation, while their spread matches the
    sampling spread of fresh samples."""
    sample = _sample(context, control)
    shape = _median_tail_shape(sample)
    error = over_images(sample, _median_tail_shape).std(ddof=1)
    low, high = shape - ss.norm.ppf(0.975) * error, shape + ss.norm.ppf(0.975) * error
    return Evidence(shape, float(low), float(high), len(sample), "reference images", {"filters": sample.shape[1]})


def _agreement(context, column: str, second="pot") -> Evidence:
    table = scorer_agreement(context.stats, context.values, "zscore", second, k=context.k)
    return mean_interval(table[column].to_numpy(), "mistakes")


def _repairs_like_zscore(context, method: str, scorer="pot", selection: str = "salient") -> Evidence:
    """Corrected share of ``scorer``'s ``selection`` minus the z-score's salient filters, per mistake
    (the control: the z-score's own random filters, which chapter 1 shows to repair less)."""
    a = context.per_image(scorer, "corrected", method, selection)
    b = context.per_image("zscore", "corrected", method, "salient")
    return mean_interval((a - b).to_numpy(), "mistakes", method=method)


# ----------------------------------------------------------------------------- chapter 4
def _last_stage_excess(context, scorer="zscore") -> Evidence:
    share = context.last_stage_share(scorer).numpy()
    filter_share = context.last_stage.double().mean().item()
    return mean_interval(share - filter_share, "mistakes", share=float(share.mean()), filter_share=filter_share)


def _pot_minus_zscore_share(context, scorer) -> Evidence:
    diff = (context.last_stage_share(scorer) - context.last_stage_share("zscore")).numpy()
    return mean_interval(diff, "mistakes")


def _moments_shrink(context, shuffled: bool = False) -> Evidence:
    """log10 of the ratio of the first to the last stage's median std over the reference sample, with the
    interval from resampling the reference images (the independent unit); ``shuffled``: with the filters'
    stages permuted (the negative control: no depth at all)."""
    context.last_stage                                  # refuses a model with one stage
    stages = context.index.stage.to_numpy()
    if shuffled:
        stages = np.random.default_rng(0).permutation(stages)
    sample = context.stats.sample_.double().numpy()
    first, last = stages == context.index.stage.iloc[0], stages == context.index.stage.iloc[-1]
    def log_ratio(rows):
        std = sample[rows].std(0, ddof=1)
        return np.log10(np.median(std[first]) / np.median(std[last]))
    evidence = resampled_interval(log_ratio, len(sample), "reference images", resamples=IMAGE_RESAMPLES,
                                  filters=int(first.sum() + last.sum()))
    return dataclasses.replace(evidence, details={**evidence.details, "by_stage": statistic_by_stage(context.stats)})


def _condition_values(context, condition: str):
    what = {"shifted": "target-domain (shifted)", "corrupted": "corrupted"}[condition]
    given = getattr(context, condition)
    if given is None or len(given) == 0:
        raise ClaimRefused(f"the context has no {what} queries (give Context(..., {condition}=...))")
    values = getattr(context, f"{condition}_values")          # None where the model made no mistake there
    if (made := 0 if values is None else len(values)) < 2:
        raise ClaimRefused(f"the model made {made} mistakes on the context's {what} queries; an interval needs at "
                           "least 2 (give more queries)")
    return values


def _shift_increases_bias(context, condition: str = "shifted", control: bool = False) -> Evidence:
    """Last-stage share of the z-score top-k, mistakes under ``condition`` ("shifted" domain or
    "corrupted") minus source-domain mistakes; ``control``: one half of the source mistakes minus the
    other (no shift at all)."""
    source = context.last_stage_share("zscore").numpy()
    if control:
        return difference_interval(source[::2], source[1::2], "mistakes")
    shifted = context.last_stage_share("zscore", _condition_values(context, condition)).numpy()
    return difference_interval(shifted, source, "mistakes")


def _pot_minus_zscore_under(context, condition: str, scorer=None) -> Evidence:
    """POT's (or ``scorer``'s) last-stage share minus the z-score's on the mistakes under ``condition``."""
    values = _condition_values(context, condition)
    share = context.last_stage_share(_pot_at(0.9) if scorer is None else scorer, values)
    return mean_interval((share - context.last_stage_share("zscore", values)).numpy(), "mistakes")


def _pot_at(q: float):
    return functools.partial(pot, quantile=q)


P = functools.partial


def _claim(*args, **kwargs) -> Claim:
    return Claim(*args, context=Context, **kwargs)


RANDOM_RANKING = "four other random rankings in place of the z-score's"
SELF = "the z-score compared with itself (no difference by construction)"
NORMAL = "a normal sample with each filter's mean, std and sample size (the normality assumption made true)"

CLAIMS = [
    # chapter 1
    _claim("ch1.zeroing-salient-corrects-more-than-random", 1,
          "Zeroing a mistake's most salient filters corrects it more often than zeroing as many random filters.",
          "corrected share, salient - random (mean over k and 4 random rankings)", Rule("above", 0.0),
          P(_versus_random, column="corrected", method="zero"),
          paper="turning off salient filters corrects misclassifications", source=LEVIN,
          control=P(_versus_random, column="corrected", method="zero", control=True),
          control_note=RANDOM_RANKING),
    _claim("ch1.zeroing-salient-lowers-wrong-confidence", 1,
          "Zeroing the most salient filters lowers the confidence in the wrong class more than random filters.",
          "change of p(wrong class), salient - random (mean over k and 4 random rankings)", Rule("below", 0.0),
          P(_versus_random, column="d_wrong", method="zero"),
          paper="zeroing the top-k filters lowers the wrong-class confidence (~25% at k = 50 on ImageNet)",
          source=WANG_SATO, paper_value="-25% relative at k = 50 (ImageNet, ResNet-50)",
          control=P(_versus_random, column="d_wrong", method="zero", control=True),
          control_note=RANDOM_RANKING),
    _claim("ch1.finetuning-salient-corrects-more-than-random", 1,
          "One SGD step on the most salient filters corrects more mistakes than the same step on random filters.",
          "corrected share, salient - random (mean over k and 4 random rankings)", Rule("above", 0.0),
          P(_versus_random, column="corrected", method="finetune"),
          paper="fine-tuning 25 salient filters corrects about half of the mistakes", source=WANG_SATO,
          paper_value="about 50% at k = 25 (ImageNet)",
          control=P(_versus_random, column="corrected", method="finetune", control=True),
          control_note=RANDOM_RANKING),
    _claim("ch1.least-salient-filters-barely-matter", 1,
          "Zeroing the least salient filters leaves the wrong-class confidence nearly unchanged (within 0.02).",
          "change of p(wrong class), least salient", Rule("within", 0.02), _zeroing_effect, source=LEVIN,
          control=P(_zeroing_effect, selection="salient"),
          control_note="the most salient filters zeroed instead of the least (the band must tell them apart)"),
    _claim("ch1.projection-concentrates-on-the-object", 1,
          "The input-space projection puts more of its mass on the object than the object's share of the image.",
          "projection mass on the object - object's area share (first 20 mistakes)", Rule("above", 0.0),
          _projection_on_object, paper="the input-space projection highlights the object", source=LEVIN,
          control=P(_projection_on_object, shuffled=True),
          control_note="each projection scored against the next mistake's object mask"),
    # chapter 2
    _claim("ch2.statistic-is-not-normal", 2,
          "Shapiro-Wilk rejects normality (BH 5%) for more than 90% of the non-constant filters.",
          "share of filters rejecting normality", Rule("above", 0.9), _normality_rejected,
          paper="the per-filter statistic is not normally distributed", source=WANG_SATO,
          control=P(_normality_rejected, control=True), control_note=NORMAL),
    _claim("ch2.statistic-is-right-skewed", 2,
          "The median skewness of the per-filter statistic exceeds 1 (a heavy right tail).",
          "median skewness over filters", Rule("above", 1.0), _skewness, source=WANG_SATO,
          control=P(_skewness, control=True), control_note=NORMAL),
    _claim("ch2.three-sigma-far-more-common-than-normal", 2,
          "Values beyond mean + 3 std are over three times as common as a normal distribution allows.",
          "median over filters of P(s > mean + 3 std) / 0.00135", Rule("above", 3.0), _three_sigma,
          control=P(_three_sigma, control=True), control_note=NORMAL),
    # chapter 3
    _claim("ch3.tails-are-heavy", 3,
          "The GPD fitted above the 0.90 quantile has a positive shape (a heavy tail) for the median filter.",
          "median GPD shape over filters (fitted on the reference sample)", Rule("above", 0.0), _gpd_shape, source=WANG_SATO,
          control=P(_gpd_shape, control=True), control_note=NORMAL + ", its top 10% fitted"),
    _claim("ch3.pot-and-zscore-rankings-correlate", 3,
          "POT and z-score rank a mistake's filters alike overall (Spearman correlation above 0.7).",
          "Spearman correlation of the two scores per mistake", Rule("above", 0.7),
          P(_agreement, column="spearman"), control=P(_agreement, column="spearman", second="random"),
          control_note="a random ranking in place of POT's"),
    _claim("ch3.pot-and-zscore-top20-differ", 3,
          "POT and z-score pick different top-20 filters (overlap below 0.9).",
          "top-20 overlap per mistake", Rule("below", 0.9), P(_agreement, column="overlap"),
          control=P(_agreement, column="overlap", second="zscore"), control_note=SELF),
    _claim("ch3.pot-zeroing-repairs-like-zscore", 3,
          "Zeroing POT's top filters corrects as many mistakes as zeroing the z-score's (within 0.05).",
          "corrected share, POT - z-score (zero, mean over k)", Rule("within", 0.05),
          P(_repairs_like_zscore, method="zero"), paper="POT performs about as well as the z-score", source=WANG_SATO,
          control=P(_repairs_like_zscore, method="zero", scorer="zscore", selection="random"),
          control_note="random filters in place of POT's top filters"),
    _claim("ch3.pot-finetuning-repairs-like-zscore", 3,
          "Fine-tuning POT's top filters corrects as many mistakes as fine-tuning the z-score's (within 0.05).",
          "corrected share, POT - z-score (finetune, mean over k)", Rule("within", 0.05),
          P(_repairs_like_zscore, method="finetune"), paper="POT performs about as well as the z-score",
          source=WANG_SATO, control=P(_repairs_like_zscore, method="finetune", scorer="zscore", selection="random"),
          control_note="random filters in place of POT's top filters"),
    # chapter 4
    _claim("ch4.zscore-favours-the-last-stage", 4,
          "The z-score's top-20 holds more last-stage filters than the last stage's share of all filters.",
          "last-stage share of the top-20 - its share of filters", Rule("above", 0.0), _last_stage_excess,
          paper="z-score saliency concentrates in the last stage", source=WANG_SATO,
          paper_value="96% (MNIST->SVHN, ResNet-18); 73.6% of the top-25 (ImageNet, ResNet-50)",
          control=P(_last_stage_excess, scorer="random"), control_note="a random ranking in place of the z-score"),
    *[_claim(f"ch4.pot-less-last-stage-than-zscore@q{q:.2f}", 4,
            f"POT (threshold quantile {q:.2f}) puts fewer last-stage filters in its top-20 than the z-score.",
            "last-stage share of the top-20, POT - z-score", Rule("below", 0.0),
            P(_pot_minus_zscore_share, scorer=_pot_at(q)),
            paper="POT is less biased towards the last stage than the z-score", source=WANG_SATO,
            paper_value="POT 40% vs z 96% (MNIST->SVHN); 50.8% vs 73.6% (ImageNet)",
            control=P(_pot_minus_zscore_share, scorer="zscore"), control_note=SELF)
      for q in (0.85, 0.90, 0.95)],
    _claim("ch4.published-pot-less-last-stage-than-zscore", 4,
          "POT with the published code's effectively exponential tail puts fewer last-stage filters in its "
          "top-20 than the z-score.",
          "last-stage share of the top-20, exponential tail - z-score", Rule("below", 0.0),
          P(_pot_minus_zscore_share, scorer="exponential"), source=WANG_SATO,
          paper_value="POT 40% vs z 96% (MNIST->SVHN); 50.8% vs 73.6% (ImageNet)",
          control=P(_pot_minus_zscore_share, scorer="zscore"), control_note=SELF),
    _claim("ch4.statistic-shrinks-with-depth", 4,
          "The reference std of the statistic shrinks over tenfold from the first to the last stage.",
          "log10(median std first stage / median std last stage), reference sample", Rule("above", 1.0), _moments_shrink,
          paper="mean and std of the statistic shrink with depth; dividing by a small std favours deep layers",
          source=WANG_SATO, control=P(_moments_shrink, shuffled=True),
          control_note="the filters' stages permuted at random"),
    _claim("ch4.domain-shift-increases-the-bias", 4,
          "Target-domain mistakes put more last-stage filters in the z-score top-20 than source-domain mistakes.",
          "last-stage share of the top-20, target - source", Rule("above", 0.0), _shift_increases_bias,
          paper="the depth bias is strong under domain shift (MNIST -> SVHN)", source=WANG_SATO,
          control=P(_shift_increases_bias, control=True),
          control_note="one half of the source mistakes against the other (no shift)"),
    _claim("ch4.corruption-increases-the-bias", 4,
          "Mistakes on corrupted images (every corruption at severity 5, equal numbers) put more last-stage "
          "filters in the z-score top-20 than source-domain mistakes.",
          "last-stage share of the top-20, corrupted - source", Rule("above", 0.0),
          P(_shift_increases_bias, condition="corrupted"), control=P(_shift_increases_bias, control=True),
          control_note="one half of the source mistakes against the other (no corruption)"),
    *[_claim(f"ch4.pot-less-last-stage-than-zscore-{where}", 4,
             f"On {label} mistakes, POT (threshold quantile 0.90) puts fewer last-stage filters in its top-20 "
             "than the z-score.",
             f"last-stage share of the top-20, POT - z-score ({label} mistakes)", Rule("below", 0.0),
             P(_pot_minus_zscore_under, condition=condition),
             paper="POT is less biased towards the last stage than the z-score", source=WANG_SATO,
             control=P(_pot_minus_zscore_under, condition=condition, scorer="zscore"), control_note=SELF)
      for where, label, condition in (("on-target", "target-domain", "shifted"),
                                      ("under-corruption", "corrupted-image", "corrupted"))],
]

__all__ = ["CLAIMS", "normal_twin"]
