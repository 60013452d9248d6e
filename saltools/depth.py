"""Depth bias of filter rankings: which stages the top-ranked filters come from, and why.

Wang & Sato report that z-score parameter saliency puts most of its top filters in the last stage
and that POT does so less. These functions measure that for any model, scorer and set of queries.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.stats as ss
import torch
from tqdm.auto import tqdm

from . import checks
from .data import CORRUPTIONS, DOMAINS
from .models import Mistakes
from .models import mistakes as find_mistakes
from .parameters import checked
from .paramsal import ParameterSaliency, intervention_curves, summarize_interventions

DEFAULT_SCORERS = ("zscore", "pot", "exponential", "random", "last_stage_raw")


@checked()
def top_k_counts(scores, stages, k: int) -> pd.Series:
    """How many of each query's top-``k`` filters (``scores`` [N, F], highest first, ties in filter order, as
    ``rank``) lie in each stage (``stages``: the stage of each of the F filters), summed over the queries."""
    scores = torch.as_tensor(scores)
    stages = np.asarray(stages)
    if scores.ndim != 2 or scores.shape[1] != len(stages):
        raise ValueError(f"scores must be [N, {len(stages)}] (one column per filter); got {tuple(scores.shape)}")
    k = checks.positive_int(k, "k")
    top = torch.argsort(scores, dim=1, descending=True, stable=True)[:, :k]
    return pd.Series(stages[top.reshape(-1).numpy()]).value_counts()


@checked()
def stage_shares(stats: ParameterSaliency, values: torch.Tensor, scorers=DEFAULT_SCORERS, k: int = 20) -> pd.DataFrame:
    """Share of each stage among the top-k filters of the queries, per scorer.

    One row per (scorer, stage): ``count`` (top-k slots over all queries), ``share``, ``filter_share``
    (the stage's share of all filters) and ``ratio`` = share / filter_share (1 = no depth preference).
    """
    index = stats.index_
    filter_share = index.stage.value_counts(normalize=True)
    rows = []
    for scorer in scorers:
        counts = top_k_counts(stats.score(values, scorer), index.stage, k).reindex(filter_share.index, fill_value=0)
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


def shift_conditions(domains=("source", "target"), corruptions=None, severities=(1, 2, 3, 4, 5)) -> list[dict]:
    """The query conditions of the depth-bias study: each clean domain, and every corruption of the
    source domain at every severity (keyword arguments for ``data.for_profile``)."""
    corruptions = list(CORRUPTIONS if corruptions is None else corruptions)
    for kind, given, known in (("domains", domains, DOMAINS), ("corruptions", corruptions, CORRUPTIONS)):
        unknown = [name for name in given if name not in known]
        if unknown:
            raise ValueError(f"unknown {kind} {unknown}; expected names from {sorted(known)}")
    bad = [s for s in severities if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or not 1 <= s <= 5]
    if bad:
        raise ValueError(f"severities must be integers from 1 to 5; got {bad}")
    conditions = [{"domain": domain} for domain in domains]
    for corruption in corruptions:
        conditions += [{"domain": "source", "corruption": corruption, "severity": s} for s in severities]
    return conditions


def condition_name(condition: dict) -> str:
    if "corruption" in condition:
        return f"{condition['corruption']} {condition['severity']}"
    return f"{condition['domain']} domain"


@dataclass(frozen=True)
class ShiftQueries:
    """The mistakes made under one condition and their raw filter statistic."""

    condition: dict
    wrong: Mistakes
    values: torch.Tensor

    @property
    def name(self) -> str:
        return condition_name(self.condition)


@checked()
def shift_queries(stats: ParameterSaliency, pool_for, conditions, mistakes: int = 40,
                  progress: bool = True) -> list[ShiftQueries]:
    """For each condition, the first ``mistakes`` misclassified images of ``pool_for(condition)`` and
    their statistic (computed once, shared by ``depth_under_shift`` and ``repairs_under_shift``)."""
    out = []
    for condition in tqdm(conditions, disable=not progress, desc="conditions"):
        wrong = find_mistakes(stats.model, pool_for(condition), limit=mistakes)
        if len(wrong):
            out.append(ShiftQueries(condition, wrong, stats.saliency(wrong.images, wrong.labels)))
    return out


@checked()
def depth_under_shift(stats: ParameterSaliency, queries: list[ShiftQueries], scorers=DEFAULT_SCORERS,
                      k: int = 20) -> pd.DataFrame:
    """Stage shares of the top-k filters of each condition's mistakes, per scorer: rows as
    ``stage_shares`` plus ``domain``, ``corruption``, ``severity``, ``condition`` and ``n_mistakes``."""
    tables = []
    for query in queries:
        table = stage_shares(stats, query.values, scorers, k)
        table["domain"] = query.condition.get("domain", "source")
        table["corruption"] = query.condition.get("corruption", "none")
        table["severity"] = query.condition.get("severity", 0)
        table["condition"] = query.name
        table["n_mistakes"] = len(query.wrong)
        tables.append(table)
    return pd.concat(tables, ignore_index=True)


@checked()
def repairs_under_shift(stats: ParameterSaliency, queries: list[ShiftQueries],
                        scorers=("zscore", "pot", "last_stage_raw"), ks=range(1, 26), limit: int | None = None,
                        progress: bool = True) -> pd.DataFrame:
    """Per condition and scorer: how often zeroing / one SGD step on the top-k filters repairs the
    mistakes (``summarize_interventions`` of the salient filters, plus a random control), with the
    condition's ``domain``, ``corruption`` and ``severity``; ``limit`` caps the mistakes per condition.
    Conditions without mistakes are left out."""
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit must be a positive integer or None; got {limit!r}")
    rows = []
    for query in tqdm(queries, disable=not progress, desc="repairs"):
        images, labels, values = query.wrong.images[:limit], query.wrong.labels[:limit], query.values[:limit]
        if len(images) == 0:
            continue
        for scorer in scorers:
            selections = ("salient", "random") if scorer == scorers[0] else ("salient",)
            curves = intervention_curves(stats.model, images, labels, stats.score(values, scorer), ks=ks,
                                         selections=selections, progress=False)
            summary = summarize_interventions(curves)
            summary["scorer"] = np.where(summary.selection == "random", "random", scorer)
            summary["condition"] = query.name
            summary["corruption"] = query.condition.get("corruption", "none")
            summary["severity"] = query.condition.get("severity", 0)
            summary["n_mistakes"] = len(images)
            rows.append(summary)
    if not rows:
        raise ValueError("no condition has mistakes to repair")
    return pd.concat(rows, ignore_index=True)
