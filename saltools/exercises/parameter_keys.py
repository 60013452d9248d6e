"""The answer keys of the parameter-saliency chapters' exercises (chapters 1-4): each recomputes the right
answer from the objects the check cell passes (the chapter's model, statistics, mistakes, ...), by the
route the solution takes, and registers itself under the id its check cell names."""
from __future__ import annotations

import torch

from .. import depth, evt, paramsal
from .core import Exercise, register


# ----------------------------------------------------------------------------- chapter 1
def _corrected(model, wrong, scores, k, lr):
    curves = paramsal.intervention_curves(model, wrong.images, wrong.labels, scores, ks=(k,), methods=("finetune",),
                                          selections=("salient",), lr=lr, progress=False)
    return float(curves.corrected.mean())


def _shared_top10(stats, model, reference, values):
    smaller = paramsal.reference_statistics(model, reference, progress=False)
    first = values[:1]
    return len(set(stats.rank(first).nsmallest(10, "rank").column)
               & set(smaller.rank(first).nsmallest(10, "rank").column))


def _last_stage_share(ranking, index, k):
    return float((ranking[ranking["rank"] <= k].stage == index.stage.iloc[-1]).mean())


register(Exercise(
    "ch01.learning-rate",
    lambda model, wrong, scores, k: _corrected(model, wrong, scores, k, lr=1e-2),
    "A larger step moves more predictions; compare it with the random filters' share in the chapter's summary "
    "before calling the ranking better.",
    mistakes={"That is the chapter's step (lr=1e-3); pass lr=1e-2.":
              lambda model, wrong, scores, k: _corrected(model, wrong, scores, k, lr=1e-3)}))
register(Exercise(
    "ch01.smaller-reference", _shared_top10,
    "The fewer filters are shared, the more the reference set decides which filters look unusual.",
    mistakes={"You counted the filters of the top 10 that are *not* shared; count the intersection.":
              lambda stats, model, reference, values: 10 - _shared_top10(stats, model, reference, values)}))
register(Exercise(
    "ch01.top1-stage", lambda ranking, index: _last_stage_share(ranking, index, 1),
    "Compare with the last stage's share of all filters: a top-1 share above it means a depth bias among the "
    "single most salient filters; chapter 4 measures it for the top-20.",
    mistakes={"That is the share among the top 20; take only rank 1.":
              lambda ranking, index: _last_stage_share(ranking, index, 20)}))


# ----------------------------------------------------------------------------- chapter 2
def _share_rejecting(sample, index):
    tests = evt.normality_tests(sample, index)
    return float(tests.reject_shapiro[~tests.constant].mean())


def _log_statistic(stats, index):
    logged = evt.normality_tests(torch.log(stats.sample_.double() + 1e-12), index)
    live = logged[~logged.constant]
    return {"reject": float(live.reject_shapiro.mean()), "median skewness": float(live.skewness.median())}


def _stage_by_kurtosis(tests, largest: bool):
    medians = tests[~tests.constant].groupby("stage", observed=True).excess_kurtosis.median()
    return str(medians.idxmax() if largest else medians.idxmin())


register(Exercise(
    "ch02.sample-size", lambda stats, index: _share_rejecting(stats.sample_[:50], index),
    "Fewer values give a test less power; rejections that survive 50 values are not an artefact of a large sample.",
    mistakes={"That is the share on the whole sample; use its first 50 rows.":
              lambda stats, index: _share_rejecting(stats.sample_, index)}))
register(Exercise(
    "ch02.log-scale", _log_statistic,
    "Compare both numbers with the raw statistic's: a log makes a right tail more symmetric, not necessarily normal."))
register(Exercise(
    "ch02.heaviest-stage", lambda tests: _stage_by_kurtosis(tests, largest=True),
    "The heaviest tails are where a z-score of 3 is least rare: compare with the rejection shares by stage.",
    mistakes={"That is the stage with the *smallest* median excess kurtosis.":
              lambda tests: _stage_by_kurtosis(tests, largest=False)}))


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
              lambda model, reference, pool, batch_size: _planted_recall(model, reference, pool, -1.0, batch_size)}))
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
              lambda stats, values: {k: _last_share(stats, values, "pot", k) for k in (5, 100)}}))
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
