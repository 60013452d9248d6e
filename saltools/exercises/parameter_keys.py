"""The answer keys of the parameter-saliency chapters' exercises (chapters 1-4): each recomputes the right
answer from the objects the check cell passes (the chapter's model, statistics, mistakes, ...), by the
route the solution takes, and registers itself under the id its check cell names."""
from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.stats as ss
import torch

from .. import depth, evt, paramsal
from .core import Exercise, register


# ----------------------------------------------------------------------------- chapter 1
def _curves(model, wrong, scores, k, lr):
    return paramsal.intervention_curves(model, wrong.images, wrong.labels, scores, ks=(k,), methods=("finetune",),
                                        selections=("salient",), lr=lr, progress=False)


def _true_gain(model, wrong, scores, k, lr):
    return float(_curves(model, wrong, scores, k, lr).d_true.mean())


def _rank_agreement(stats, model, reference, values, scorer="zscore", average=np.median, correlation="spearman"):
    """Per mistake, the rank (or linear) correlation of all filters' scores under the chapter's statistics and under
    statistics fitted on ``reference``; averaged over the mistakes."""
    smaller = paramsal.reference_statistics(model, reference, progress=False)
    first, second = stats.score(values, scorer).double().numpy(), smaller.score(values, scorer).double().numpy()
    measure = ss.spearmanr if correlation == "spearman" else ss.pearsonr
    return float(average([measure(a, b).statistic for a, b in zip(first, second)]))


def _last_stage_share(ranking, index, k):
    return float((ranking[ranking["rank"] <= k].stage == index.stage.iloc[-1]).mean())


register(Exercise(
    "ch01.learning-rate", lambda model, wrong, scores, k: _true_gain(model, wrong, scores, k, lr=1e-2),
    "Whatever the step gains, whether the salient filters deserve the credit is what the random filters in the "
    "chapter's summary decide.",
    mistakes={"That is the chapter's step (lr=1e-3); pass lr=1e-2.":
              lambda model, wrong, scores, k: _true_gain(model, wrong, scores, k, lr=1e-3),
              "That step is a hundred times the chapter's; pass lr=1e-2.":
              lambda model, wrong, scores, k: _true_gain(model, wrong, scores, k, lr=1e-1),
              "That is the share of mistakes corrected; average `d_true`, the change in the true class's "
              "probability.": lambda model, wrong, scores, k: float(_curves(model, wrong, scores, k, 1e-2)
                                                                    .corrected.mean())},
    outcome=lambda expected, model, wrong, scores, k: (
        f"the true class's probability rises by {expected:.3f} on average with lr=1e-2, by "
        f"{_true_gain(model, wrong, scores, k, lr=1e-3):.3f} with the chapter's lr=1e-3")))
register(Exercise(
    "ch01.smaller-reference", _rank_agreement,
    "The further below 1, the more the reference set decides which filters look unusual.",
    mistakes={"Those are POT's scores; compare the z-scores (the default scorer).":
              lambda stats, model, reference, values: _rank_agreement(stats, model, reference, values, "pot"),
              "That is the mean over the mistakes; take the median.":
              lambda stats, model, reference, values: _rank_agreement(stats, model, reference, values,
                                                                      average=np.mean),
              "That is Pearson's (linear) correlation; compare ranks (Spearman's).":
              lambda stats, model, reference, values: _rank_agreement(stats, model, reference, values,
                                                                      correlation="pearson")},
    routes={"pandas": lambda stats, model, reference, values: float(np.median([
        pd.Series(a).corr(pd.Series(b), method="spearman") for a, b in zip(
            stats.score(values).double().numpy(),
            paramsal.reference_statistics(model, reference, progress=False).score(values).double().numpy())]))}))
register(Exercise(
    "ch01.top1-stage", lambda ranking, index: _last_stage_share(ranking, index, 1),
    "Compare with the last stage's share of all filters: a top-1 share above it means a depth bias among the "
    "single most salient filters; chapter 4 measures it for the top-20.",
    mistakes={"That is the share among the top 20; take only rank 1.":
              lambda ranking, index: _last_stage_share(ranking, index, 20)}))


# ----------------------------------------------------------------------------- chapter 2
def _median_skewness(sample, average=np.nanmedian, axis=0):
    """The average over filters (``axis=0``: each filter's skewness over images) of the sample skewness."""
    sample = torch.as_tensor(sample).double().numpy()
    with np.errstate(all="ignore"):
        return float(average(ss.skew(sample, axis=axis)))


def _log_statistic(stats, index, log=True, average="median"):
    sample = torch.log(stats.sample_.double() + 1e-12) if log else stats.sample_.double()
    live = evt.normality_tests(sample, index)
    live = live[~live.constant]
    return {"reject": float(live.reject_shapiro.mean()), "median skewness": float(getattr(live.skewness, average)())}


def _kurtosis_by_stage(tests, average="median", offset=0.0):
    grouped = tests[~tests.constant].groupby("stage", observed=True).excess_kurtosis
    return {str(stage): float(value) + offset for stage, value in getattr(grouped, average)().items()}


def _live_columns(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.loc[:, frame.std() > 0]


register(Exercise(
    "ch02.sample-size", lambda stats, index: _median_skewness(stats.sample_[:50]),
    "If the median skewness grows with the sample, a few extreme images dominate it: the signature of a heavy "
    "right tail, whose skewness no sample of this size pins down.",
    mistakes={"That is the median skewness of the whole sample; use its first 50 rows.":
              lambda stats, index: _median_skewness(stats.sample_),
              "That is the first 50 filters (columns) over every image; take the first 50 rows (images).":
              lambda stats, index: _median_skewness(stats.sample_[:, :50]),
              "That is the skewness across filters for each image (axis=1); each filter's skewness is over images "
              "(axis=0).": lambda stats, index: _median_skewness(stats.sample_[:50], axis=1)},
    rtol=0.05,             # pandas' .skew() (bias-corrected) and scipy's (not) differ by 3% at 50 values: both pass
    routes={"pandas (bias-corrected)": lambda stats, index: float(
        _live_columns(pd.DataFrame(stats.sample_[:50].double().numpy())).skew().median())},
    outcome=lambda expected, stats, index: (f"median skewness {expected:.2f} with 50 values, "
                                            f"{_median_skewness(stats.sample_):.2f} with all {len(stats.sample_)}")))
register(Exercise(
    "ch02.log-scale", _log_statistic,
    "Compare both numbers with the raw statistic's: a log makes a right tail more symmetric, not necessarily normal.",
    mistakes={"Those are the raw statistic's numbers; test torch.log(stats.sample_.double() + 1e-12).":
              lambda stats, index: _log_statistic(stats, index, log=False),
              "That is the mean skewness; take the median.":
              lambda stats, index: _log_statistic(stats, index, average="mean")},
    rtol=5e-3,             # pandas' bias-corrected skewness differs from scipy's by 0.15% at 1,000 values
    routes={"pandas (bias-corrected)": lambda stats, index: {
        "reject": _log_statistic(stats, index)["reject"],
        "median skewness": float(_live_columns(pd.DataFrame(torch.log(stats.sample_.double() + 1e-12).numpy()))
                                 .skew().median())}}))
register(Exercise(
    "ch02.heaviest-stage", _kurtosis_by_stage,
    "The heaviest tails are where a z-score of 3 is least rare; compare the medians' sizes, not only their order: "
    "close medians can swap places in a second sample of the same size.",
    mistakes={"Those are means per stage; take the median (a few filters dominate a mean).":
              lambda tests: _kurtosis_by_stage(tests, average="mean"),
              "That is Pearson's kurtosis; the excess kurtosis is 3 less (0 for a normal).":
              lambda tests: _kurtosis_by_stage(tests, offset=3.0)}))


# ----------------------------------------------------------------------------- chapter 3
def _median_overlap(stats, values, first, second):
    return float(paramsal.scorer_agreement(stats, values, first, second, k=20).overlap.median())


def _planted_recall(model, reference, pool, factor, batch_size):
    table = paramsal.planted_fault_benchmark(model, reference, pool, factor=factor, seeds=(0,), reference_model="clean",
                                             batch_size=batch_size, progress=False)
    return table.groupby("scorer")["recall@20"].mean().to_dict()


def _infinite_mean_share(stats, quantile):
    return float((stats.tail_fit(quantile).shape > 1).mean())


register(Exercise(
    "ch03.exponential", lambda stats, values: _median_overlap(stats, values, "pot", "exponential"),
    "Fixing the GPD shape at 0 changes how fast the tail probability falls, and with it which filters come first.",
    mistakes={"That is the overlap of POT with the z-score; compare POT with 'exponential'.":
              lambda stats, values: _median_overlap(stats, values, "zscore", "pot")}))
register(Exercise(
    "ch03.planting-scale",
    lambda model, reference, pool, batch_size: _planted_recall(model, reference, pool, 3.0, batch_size),
    "A filter tripled in place is a larger change than one flipped only if its gradient grows with it: compare "
    "each scorer's recall with the flipped filters'.",
    mistakes={"That is the flipped filters' recall (factor=-1); pass factor=3.0.":
              lambda model, reference, pool, batch_size: _planted_recall(model, reference, pool, -1.0, batch_size)},
    outcome=lambda expected, **given: "recall@20 of the tripled filters: " + ", ".join(
        f"{scorer} {recall:.2f}" for scorer, recall in expected.items()) + " (the flipped filters' are in the "
        "chapter's table above)"))
register(Exercise(
    "ch03.higher-threshold", lambda stats: _infinite_mean_share(stats, 0.95),
    "How much a share moves with the threshold says how much of it is the threshold's choice, and how few "
    "excesses a high threshold leaves to fit.",
    mistakes={"That is the share at the 90% threshold; fit at the 95% quantile.":
              lambda stats: _infinite_mean_share(stats, 0.9)}))


# ----------------------------------------------------------------------------- chapter 4
def _last_share(stats, values, scorer, k):
    return float(depth.stage_shares(stats, values, scorers=(scorer,), k=k).share.iloc[-1])


def _main_path_share(stats, values):
    ranking = stats.rank(values, "zscore")
    main_path = ranking[~ranking.downsample].copy()
    main_path["rank"] = main_path.groupby("image").score.rank(ascending=False, method="first")
    last = stats.index_.stage.iloc[-1]
    return float((main_path[main_path["rank"] <= 20].stage == last).mean())


register(Exercise(
    "ch04.k", lambda stats, values: {k: _last_share(stats, values, "zscore", k) for k in (5, 100)},
    "A ranking without depth preference would give the last stage its share of all filters at every k.",
    mistakes={"Those are POT's shares; use the z-score.":
              lambda stats, values: {k: _last_share(stats, values, "pot", k) for k in (5, 100)}},
    outcome=lambda expected, stats, values: (
        f"the last stage holds {expected[5]:.2f} of the top 5, {_last_share(stats, values, 'zscore', 20):.2f} of "
        f"the top 20 and {expected[100]:.2f} of the top 100")))
register(Exercise(
    "ch04.without-shortcuts", _main_path_share,
    "Compare with the share counting the 1x1 downsample filters: how much of the bias do the shortcuts carry?",
    mistakes={"That share still counts the downsample filters; drop them before re-ranking.":
              lambda stats, values: _last_share(stats, values, "zscore", 20)}))
register(Exercise(
    "ch04.pot-share", lambda stats, values: _last_share(stats, values, "pot", 20),
    "Compare with the z-score's share in the figure above and with the last stage's share of all filters.",
    mistakes={"That is the z-score's share; rank with 'pot'.":
              lambda stats, values: _last_share(stats, values, "zscore", 20)}))
