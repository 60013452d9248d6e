"""Claims of chapters 1-4: parameter saliency, its normality assumption, POT, and depth bias.

Sources: Levin et al. 2022 (parameter saliency, NeurIPS) and Wang & Sato 2023 (POT, arXiv
2310.17951). Each evidence function takes a ``Context`` and returns ``Evidence``.
"""
from __future__ import annotations

import functools

import numpy as np
import scipy.stats as ss

from ..depth import statistic_by_stage
from ..metrics import relevance_mass
from ..paramsal import pot, projections, scorer_agreement
from .context import Context
from .core import Claim, Evidence, Rule, difference_interval, mean_interval, proportion_interval, statistic_interval

LEVIN = "Levin et al. 2022, NeurIPS (arXiv 2108.01335)"
WANG_SATO = "Wang & Sato 2023 (arXiv 2310.17951)"


# ----------------------------------------------------------------------------- chapter 1
def _paired(context, column: str, method: str, first: str, second: str, scorer="zscore") -> Evidence:
    a = context.per_image(scorer, column, method, first)
    b = context.per_image(scorer, column, method, second)
    return mean_interval((a - b).to_numpy(), "mistakes", method=method)


def _least_effect(context) -> Evidence:
    return mean_interval(context.per_image("zscore", "d_wrong", "zero", "least").to_numpy(), "mistakes")


def _corrected_at_kmax(context) -> Evidence:
    curves = context.curves("zscore")
    rows = curves[(curves.method == "zero") & (curves.selection == "salient") & (curves.k == curves.k.max())]
    return proportion_interval(int(rows.corrected.sum()), len(rows), "mistakes", k=int(curves.k.max()))


def _projection_on_object(context, n: int = 20) -> Evidence:
    """Per mistake: share of the input-space projection on the object minus the object's share of the
    image (needs object masks, as Shapes has; NaN evidence otherwise)."""
    masks = getattr(context.queries, "masks", None)
    if masks is None:
        return Evidence(np.nan, np.nan, np.nan, 0, "mistakes", {"reason": "the query data has no object masks"})
    wrong = context.wrong
    maps = projections(context.stats, wrong.images[:n], wrong.labels[:n])
    inside = masks[wrong.indices[:n]]
    excess = relevance_mass(maps, inside) - inside.double().mean((1, 2))
    return mean_interval(excess.numpy(), "mistakes")


# ----------------------------------------------------------------------------- chapter 2
def _normality_rejected(context) -> Evidence:
    tested = context.normality[~context.normality.constant]
    return proportion_interval(int(tested.reject_shapiro.sum()), len(tested), "filters")


def _skewness(context) -> Evidence:
    skew = context.normality.skewness.dropna().to_numpy()
    return statistic_interval(skew, np.median, "filters")


def _three_sigma(context) -> Evidence:
    stats = context.stats
    exceed = (stats.sample_.double() > stats.mean_ + 3 * stats.std_).double().mean(0).numpy()
    return statistic_interval(exceed / ss.norm.sf(3), np.median, "filters")


# ----------------------------------------------------------------------------- chapter 3
def _gpd_shape(context) -> Evidence:
    return statistic_interval(context.stats.tail_fit(0.9).shape, np.median, "filters")


def _agreement(context, column: str) -> Evidence:
    table = scorer_agreement(context.stats, context.values, "zscore", "pot", k=context.k)
    return mean_interval(table[column].to_numpy(), "mistakes")


def _pot_repairs_like_zscore(context, method: str) -> Evidence:
    a = context.per_image("pot", "corrected", method, "salient")
    b = context.per_image("zscore", "corrected", method, "salient")
    return mean_interval((a - b).to_numpy(), "mistakes", method=method)


# ----------------------------------------------------------------------------- chapter 4
def _last_stage_excess(context, scorer="zscore") -> Evidence:
    share = context.last_stage_share(scorer).numpy()
    filter_share = context.last_stage.double().mean().item()
    return mean_interval(share - filter_share, "mistakes", share=float(share.mean()), filter_share=filter_share)


def _last_stage_share(context, scorer="zscore") -> Evidence:
    share = context.last_stage_share(scorer).numpy()
    return mean_interval(share, "mistakes", filter_share=context.last_stage.double().mean().item())


def _pot_minus_zscore_share(context, scorer) -> Evidence:
    diff = (context.last_stage_share(scorer) - context.last_stage_share("zscore")).numpy()
    return mean_interval(diff, "mistakes")


def _moments_shrink(context) -> Evidence:
    """log10 of the ratio of the first to the last stage's median reference std (bootstrap over filters)."""
    stats, index = context.stats, context.index
    std = stats.std_.numpy()
    first = std[(index.stage == index.stage.iloc[0]).to_numpy()]
    last = std[(index.stage == index.stage.iloc[-1]).to_numpy()]
    ratio = np.log10(np.median(first) / np.median(last))
    rng = np.random.default_rng(0)
    boot = [np.log10(np.median(rng.choice(first, len(first))) / np.median(rng.choice(last, len(last))))
            for _ in range(2000)]
    low, high = np.percentile(boot, [2.5, 97.5])
    return Evidence(float(ratio), float(low), float(high), len(first) + len(last), "filters",
                    {"by_stage": statistic_by_stage(stats)})


def _no_queries(condition: str) -> Evidence:
    return Evidence(np.nan, np.nan, np.nan, 0, "mistakes", {"reason": f"no {condition} queries"})


def _shift_increases_bias(context, condition: str = "shifted") -> Evidence:
    """Last-stage share of the z-score top-k, mistakes under ``condition`` ("shifted" domain or
    "corrupted") minus source-domain mistakes."""
    values = getattr(context, f"{condition}_values")
    if values is None:
        return _no_queries(condition)
    shifted = context.last_stage_share("zscore", values).numpy()
    return difference_interval(shifted, context.last_stage_share("zscore").numpy(), "mistakes")


def _pot_minus_zscore_under(context, condition: str) -> Evidence:
    """POT's last-stage share minus the z-score's on the mistakes under ``condition``."""
    values = getattr(context, f"{condition}_values")
    if values is None:
        return _no_queries(condition)
    pot_share = context.last_stage_share(_pot_at(0.9), values)
    return mean_interval((pot_share - context.last_stage_share("zscore", values)).numpy(), "mistakes")


def _random_share(context) -> Evidence:
    share = context.last_stage_share("random").numpy()
    return mean_interval(share - context.last_stage.double().mean().item(), "mistakes")


def _pot_at(q: float):
    return functools.partial(pot, quantile=q)


def _claim(*args, **kwargs) -> Claim:
    return Claim(*args, context=Context, **kwargs)


CLAIMS = [
    # chapter 1
    _claim("ch1.zeroing-salient-corrects-more-than-random", 1,
          "Zeroing a mistake's most salient filters corrects it more often than zeroing as many random filters.",
          "corrected share, salient - random (mean over k)", Rule("above", 0.0),
          functools.partial(_paired, column="corrected", method="zero", first="salient", second="random"),
          paper="turning off salient filters corrects misclassifications", source=LEVIN),
    _claim("ch1.zeroing-salient-lowers-wrong-confidence", 1,
          "Zeroing the most salient filters lowers the confidence in the wrong class more than random filters.",
          "change of p(wrong class), salient - random", Rule("below", 0.0),
          functools.partial(_paired, column="d_wrong", method="zero", first="salient", second="random"),
          paper="zeroing the top-k filters lowers the wrong-class confidence (~25% at k = 50 on ImageNet)",
          source=WANG_SATO, paper_value="-25% relative at k = 50 (ImageNet, ResNet-50)"),
    _claim("ch1.finetuning-salient-corrects-more-than-random", 1,
          "One SGD step on the most salient filters corrects more mistakes than the same step on random filters.",
          "corrected share, salient - random (mean over k)", Rule("above", 0.0),
          functools.partial(_paired, column="corrected", method="finetune", first="salient", second="random"),
          paper="fine-tuning 25 salient filters corrects about half of the mistakes", source=WANG_SATO,
          paper_value="about 50% at k = 25 (ImageNet)"),
    _claim("ch1.least-salient-filters-barely-matter", 1,
          "Zeroing the least salient filters leaves the wrong-class confidence nearly unchanged (within 0.02).",
          "change of p(wrong class), least salient", Rule("within", 0.02), _least_effect, source=LEVIN),
    _claim("ch1.zeroing-kmax-corrects-a-minority", 1,
          "Zeroing the top-k_max filters corrects fewer than half of the mistakes.",
          "share corrected at k_max (zero, salient)", Rule("below", 0.5), _corrected_at_kmax,
          paper="zeroing 50 filters corrects up to 12% of ImageNet mistakes", source=WANG_SATO,
          paper_value="up to 12% at k = 50 (ImageNet, ResNet-50)"),
    _claim("ch1.projection-concentrates-on-the-object", 1,
          "The input-space projection puts more of its mass on the object than the object's share of the image.",
          "projection mass on the object - object's area share (first 20 mistakes)", Rule("above", 0.0),
          _projection_on_object, paper="the input-space projection highlights the object", source=LEVIN),
    # chapter 2
    _claim("ch2.statistic-is-not-normal", 2,
          "Shapiro-Wilk rejects normality (BH 5%) for more than 90% of the non-constant filters.",
          "share of filters rejecting normality", Rule("above", 0.9), _normality_rejected,
          paper="the per-filter statistic is not normally distributed", source=WANG_SATO),
    _claim("ch2.statistic-is-right-skewed", 2,
          "The median skewness of the per-filter statistic exceeds 1 (a heavy right tail).",
          "median skewness over filters", Rule("above", 1.0), _skewness, source=WANG_SATO),
    _claim("ch2.three-sigma-far-more-common-than-normal", 2,
          "Values beyond mean + 3 std are over three times as common as a normal distribution allows.",
          "median over filters of P(s > mean + 3 std) / 0.00135", Rule("above", 3.0), _three_sigma),
    # chapter 3
    _claim("ch3.tails-are-heavy", 3,
          "The GPD fitted above the 0.90 quantile has a positive shape (a heavy tail) for the median filter.",
          "median fitted GPD shape", Rule("above", 0.0), _gpd_shape, source=WANG_SATO),
    _claim("ch3.pot-and-zscore-rankings-correlate", 3,
          "POT and z-score rank a mistake's filters alike overall (Spearman correlation above 0.7).",
          "Spearman correlation of the two scores per mistake", Rule("above", 0.7),
          functools.partial(_agreement, column="spearman")),
    _claim("ch3.pot-and-zscore-top20-differ", 3,
          "POT and z-score pick different top-20 filters (overlap below 0.9).",
          "top-20 overlap per mistake", Rule("below", 0.9), functools.partial(_agreement, column="overlap")),
    _claim("ch3.pot-zeroing-repairs-like-zscore", 3,
          "Zeroing POT's top filters corrects as many mistakes as zeroing the z-score's (within 0.05).",
          "corrected share, POT - z-score (zero, mean over k)", Rule("within", 0.05),
          functools.partial(_pot_repairs_like_zscore, method="zero"),
          paper="POT performs about as well as the z-score", source=WANG_SATO),
    _claim("ch3.pot-finetuning-repairs-like-zscore", 3,
          "Fine-tuning POT's top filters corrects as many mistakes as fine-tuning the z-score's (within 0.05).",
          "corrected share, POT - z-score (finetune, mean over k)", Rule("within", 0.05),
          functools.partial(_pot_repairs_like_zscore, method="finetune"),
          paper="POT performs about as well as the z-score", source=WANG_SATO),
    # chapter 4
    _claim("ch4.zscore-favours-the-last-stage", 4,
          "The z-score's top-20 holds more last-stage filters than the last stage's share of all filters.",
          "last-stage share of the top-20 - its share of filters", Rule("above", 0.0), _last_stage_excess,
          paper="z-score saliency concentrates in the last stage", source=WANG_SATO,
          paper_value="96% (MNIST->SVHN, ResNet-18); 73.6% of the top-25 (ImageNet, ResNet-50)"),
    _claim("ch4.zscore-last-stage-majority", 4,
          "Most of the z-score's top-20 filters lie in the last stage.",
          "last-stage share of the top-20", Rule("above", 0.5), _last_stage_share, source=WANG_SATO,
          paper_value="96% (MNIST->SVHN, ResNet-18); 73.6% (ImageNet, ResNet-50)"),
    _claim("ch4.random-has-no-depth-preference", 4,
          "A random ranking puts the last stage in its top-20 at its share of filters (within 0.05).",
          "last-stage share of the top-20 - its share of filters", Rule("within", 0.05),
          functools.partial(_last_stage_excess, scorer="random")),
    *[_claim(f"ch4.pot-less-last-stage-than-zscore@q{q:.2f}", 4,
            f"POT (threshold quantile {q:.2f}) puts fewer last-stage filters in its top-20 than the z-score.",
            "last-stage share of the top-20, POT - z-score", Rule("below", 0.0),
            functools.partial(_pot_minus_zscore_share, scorer=_pot_at(q)),
            paper="POT is less biased towards the last stage than the z-score", source=WANG_SATO,
            paper_value="POT 40% vs z 96% (MNIST->SVHN); 50.8% vs 73.6% (ImageNet)")
      for q in (0.85, 0.90, 0.95)],
    _claim("ch4.published-pot-less-last-stage-than-zscore", 4,
          "POT with the published code's effectively exponential tail puts fewer last-stage filters in its "
          "top-20 than the z-score.",
          "last-stage share of the top-20, exponential tail - z-score", Rule("below", 0.0),
          functools.partial(_pot_minus_zscore_share, scorer="exponential"), source=WANG_SATO,
          paper_value="POT 40% vs z 96% (MNIST->SVHN); 50.8% vs 73.6% (ImageNet)"),
    _claim("ch4.statistic-shrinks-with-depth", 4,
          "The reference std of the statistic shrinks over tenfold from the first to the last stage.",
          "log10(median std first stage / median std last stage)", Rule("above", 1.0), _moments_shrink,
          paper="mean and std of the statistic shrink with depth; dividing by a small std favours deep layers",
          source=WANG_SATO),
    _claim("ch4.domain-shift-increases-the-bias", 4,
          "Target-domain mistakes put more last-stage filters in the z-score top-20 than source-domain mistakes.",
          "last-stage share of the top-20, target - source", Rule("above", 0.0), _shift_increases_bias,
          paper="the depth bias is strong under domain shift (MNIST -> SVHN)", source=WANG_SATO),
    _claim("ch4.corruption-increases-the-bias", 4,
          "Mistakes on corrupted images (every corruption at severity 5, equal numbers) put more last-stage "
          "filters in the z-score top-20 than source-domain mistakes.",
          "last-stage share of the top-20, corrupted - source", Rule("above", 0.0),
          functools.partial(_shift_increases_bias, condition="corrupted")),
    *[_claim(f"ch4.pot-less-last-stage-than-zscore-{where}", 4,
             f"On {label} mistakes, POT (threshold quantile 0.90) puts fewer last-stage filters in its top-20 "
             "than the z-score.",
             f"last-stage share of the top-20, POT - z-score ({label} mistakes)", Rule("below", 0.0),
             functools.partial(_pot_minus_zscore_under, condition=condition),
             paper="POT is less biased towards the last stage than the z-score", source=WANG_SATO)
      for where, label, condition in (("on-target", "target-domain", "shifted"),
                                      ("under-corruption", "corrupted-image", "corrupted"))],
]

__all__ = ["CLAIMS"]
