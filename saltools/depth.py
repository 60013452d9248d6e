"""Depth bias of filter rankings: which stages the top-ranked filters come from, and why.

Wang & Sato report that z-score parameter saliency puts most of its top filters in the last stage
and that POT does so less. These functions measure that for any model, scorer and set of queries.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.stats as ss
import torch
from tqdm.auto import tqdm

from .paramsal import ParameterSaliency, intervention_curves, summarize_interventions

DEFAULT_SCORERS = ("zscore", "pot", "exponential", "random", "last_stage_raw")


def stage_shares(stats: ParameterSaliency, values: torch.Tensor, scorers=DEFAULT_SCORERS, k: int = 20) -> pd.DataFrame:
    """Share of each stage among the top-k filters of the queries, per scorer.

    One row per (scorer, stage): ``count`` (top-k slots over all queries), ``share``, ``filter_share``
    (the stage's share of all filters) and ``ratio`` = share / filter_share (1 = no depth preference).
    """
    index = stats.index_
    filter_share = index.stage.value_counts(normalize=True)
    rows = []
    for scorer in scorers:
        ranking = stats.rank(values, scorer)
        counts = ranking[ranking["rank"] <= k].stage.value_counts().reindex(filter_share.index, fill_value=0)
        for stage, count in counts.items():
            share = count / counts.sum()
            rows.append({"scorer": scorer, "stage": stage, "count": int(count), "share": share,
                         "filter_share": filter_share[stage], "ratio": share / filter_share[stage]})
    table = pd.DataFrame(rows)
    order = list(dict.fromkeys(index.stage))
    table["stage"] = pd.Categorical(table.stage, categories=order, ordered=True)
    return table.sort_values(["scorer", "stage"]).reset_index(drop=True)


def depth_test(shares: pd.DataFrame) -> pd.DataFrame:
    """Per scorer: chi-square goodness of fit of the top-k stage counts against the filter-count
    proportions, its p-value and Cohen's w (effect size: 0.1 small, 0.3 medium, 0.5 large).

    The top-k slots of one image are not independent draws, so the p-value is optimistic; the effect
    size is the number to read.
    """
    rows = []
    for scorer, group in shares.groupby("scorer", observed=True):
        observed = group["count"].to_numpy()
        expected = group.filter_share.to_numpy() * observed.sum()
        chi2, p = ss.chisquare(observed, expected)
        last = group.iloc[-1]
        rows.append({"scorer": scorer, "chi2": chi2, "p_value": p, "cohens_w": np.sqrt(chi2 / observed.sum()),
                     "last_stage_share": last.share, "last_stage_filter_share": last.filter_share})
    return pd.DataFrame(rows)


def statistic_by_stage(stats: ParameterSaliency) -> pd.DataFrame:
    """Median over each stage's filters of the reference mean and std of the statistic (the suspected
    cause: dividing by a small std inflates z-scores of deep filters)."""
    frame = stats.index_[["stage"]].assign(mean=stats.mean_.numpy(), std=stats.std_.numpy())
    table = frame.groupby("stage", sort=False)[["mean", "std"]].median().reset_index()
    return table


def shift_conditions(corruptions=None, severities=(1, 2, 3, 4, 5)) -> list[dict]:
    """The query conditions of the depth-bias study: source and target domains, and every corruption
    of the source domain at every severity (keyword arguments for ``data.Shapes``)."""
    from .data import CORRUPTIONS

    conditions = [{"domain": "source"}, {"domain": "target"}]
    for corruption in (CORRUPTIONS if corruptions is None else corruptions):
        conditions += [{"domain": "source", "corruption": corruption, "severity": s} for s in severities]
    return conditions


def condition_name(condition: dict) -> str:
    if "corruption" in condition:
        return f"{condition['corruption']} {condition['severity']}"
    return f"{condition['domain']} domain"


def depth_under_shift(stats: ParameterSaliency, pool_for, conditions, *, mistakes: int = 40,
                      scorers=DEFAULT_SCORERS, k: int = 20, progress: bool = True) -> pd.DataFrame:
    """Stage shares of the top-k filters of the mistakes made under each condition, per scorer.

    ``pool_for(condition)`` returns a data set of query images for a condition; its first
    ``mistakes`` misclassified images are the queries. Rows as ``stage_shares`` plus the condition's
    ``domain``, ``corruption``, ``severity``, ``condition`` name and ``n_mistakes``.
    """
    from .models import mistakes as find_mistakes

    tables = []
    for condition in tqdm(conditions, disable=not progress, desc="conditions"):
        wrong = find_mistakes(stats.model, pool_for(condition), limit=mistakes)
        if len(wrong) == 0:
            continue
        values = stats.saliency(wrong.images, wrong.labels)
        table = stage_shares(stats, values, scorers, k)
        table["domain"] = condition.get("domain", "source")
        table["corruption"] = condition.get("corruption", "none")
        table["severity"] = condition.get("severity", 0)
        table["condition"] = condition_name(condition)
        table["n_mistakes"] = len(wrong)
        tables.append(table)
    return pd.concat(tables, ignore_index=True)


def repairs_under_shift(stats: ParameterSaliency, pool_for, conditions, *, mistakes: int = 30,
                        scorers=("zscore", "pot", "last_stage_raw"), ks=range(1, 26), progress: bool = True) -> pd.DataFrame:
    """Per condition and scorer: how often zeroing / one SGD step on the top-k filters repairs the
    mistakes (``summarize_interventions`` of the salient filters, plus a random control)."""
    from .models import mistakes as find_mistakes

    rows = []
    for condition in tqdm(conditions, disable=not progress, desc="repairs"):
        wrong = find_mistakes(stats.model, pool_for(condition), limit=mistakes)
        if len(wrong) == 0:
            continue
        values = stats.saliency(wrong.images, wrong.labels)
        for scorer in scorers:
            selections = ("salient", "random") if scorer == scorers[0] else ("salient",)
            curves = intervention_curves(stats.model, wrong.images, wrong.labels, stats.score(values, scorer),
                                         ks=ks, selections=selections, progress=False)
            summary = summarize_interventions(curves)
            summary["scorer"] = np.where(summary.selection == "random", "random", scorer)
            summary["condition"] = condition_name(condition)
            summary["n_mistakes"] = len(wrong)
            rows.append(summary)
    return pd.concat(rows, ignore_index=True)
