"""Figures of the statistic's distribution and tails: normality (chapter 2), POT fits and planted faults (chapter 3)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import scipy.stats as ss
import seaborn as sns
import torch

from ..parameters import NON_NEGATIVE, Number, checked
from .style import CATEGORICAL, accessible


def representative_filters(index: pd.DataFrame, stats) -> list[int]:
    """One filter per stage: the one whose reference std is the stage's median (columns)."""
    std = pd.Series(stats.std_.numpy(), index=index.column)
    picks = []
    for _, group in index.groupby("stage", sort=False):
        s = std[group.column]
        picks.append(int((s - s.median()).abs().idxmin()))
    return picks


@accessible
def distributions(sample: torch.Tensor, index: pd.DataFrame, columns) -> plt.Figure:
    """Per filter: histogram of the statistic over reference images with the fitted normal, and a normal QQ plot."""
    fig, axes = plt.subplots(2, len(columns), figsize=(2.6 * len(columns), 4.8), squeeze=False)
    for ax_hist, ax_qq, col in zip(axes[0], axes[1], columns):
        x = sample[:, col].double().numpy()
        row = index.iloc[col]
        ax_hist.hist(x, bins=60, density=True, color=CATEGORICAL[0], alpha=0.7)
        grid = np.linspace(x.min(), x.max(), 200)
        ax_hist.plot(grid, ss.norm.pdf(grid, x.mean(), x.std()), color=CATEGORICAL[1], lw=1, label="normal fit")
        ax_hist.set_title(f"{row.layer} #{row['filter']}", fontsize=8)
        ax_hist.set_yticks([])
        (theoretical, ordered), (slope, intercept, _) = ss.probplot(x, dist="norm")
        ax_qq.plot(theoretical, ordered, ".", ms=2)
        ax_qq.plot(theoretical, slope * theoretical + intercept, color=CATEGORICAL[1], lw=1)
        ax_qq.set_xlabel("normal quantile", fontsize=8)
    axes[0, 0].legend(fontsize=7)
    axes[1, 0].set_ylabel("statistic")
    fig.tight_layout()
    return fig


@accessible
def rejection_by_stage(table: pd.DataFrame) -> plt.Figure:
    """Share of filters per stage whose normality is rejected (after Benjamini-Hochberg), per test."""
    tests = [c for c in table.columns if c.startswith("reject_")]
    tidy = table[~table.constant].melt(id_vars="stage", value_vars=tests, var_name="test", value_name="rejected")
    tidy["test"] = tidy.test.str.removeprefix("reject_")
    fig, ax = plt.subplots(figsize=(7, 3))
    sns.barplot(saturation=1, data=tidy, x="stage", y="rejected", hue="test", errorbar=None, ax=ax)
    ax.set(ylim=(0, 1.05), ylabel="share of filters rejecting normality")
    ax.legend(fontsize=8, ncol=4, loc="lower center")
    sns.despine(fig)
    fig.tight_layout()
    return fig


@accessible
def moments_by_stage(table: pd.DataFrame) -> plt.Figure:
    """Skewness and excess kurtosis of every filter's statistic, by stage (a normal has 0 and 0)."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3))
    for ax, col in zip(axes, ["skewness", "excess_kurtosis"]):
        sns.boxplot(data=table, x="stage", y=col, ax=ax, color=CATEGORICAL[0], fliersize=1)
        ax.set(yscale="log", ylabel=col.replace("_", " ") + " (log scale)")
    sns.despine(fig)
    fig.tight_layout()
    return fig


@accessible
@checked(normal=Number(0, 1))
def three_sigma_exceedance(exceedance, normal: float) -> plt.Figure:
    """Histogram over filters of the empirical P(S > mean + 3 std), with the normal distribution's value."""
    fig, ax = plt.subplots(figsize=(6, 3))
    sns.histplot(exceedance, bins=40, ax=ax)
    ax.axvline(normal, color=CATEGORICAL[1], lw=1.5)
    ax.text(normal, ax.get_ylim()[1] * 0.9, " normal", color=CATEGORICAL[1], fontsize=8)
    ax.set(xlabel="share of reference images with s > mean + 3 std", ylabel="filters")
    sns.despine(fig)
    fig.tight_layout()
    return fig


@accessible
@checked(column=NON_NEGATIVE)
def mean_residual_life(tail: torch.Tensor, column: int, label: str = "") -> plt.Figure:
    """Mean excess over a threshold against the threshold, from one filter's kept tail values; a GPD tail
    shows a straight line (slope xi / (1 - xi)) above a good threshold."""
    values = np.sort(tail[:, column].double().numpy())[::-1]
    thresholds = values[5:-1]
    excess = [values[values > u].mean() - u for u in thresholds]
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.plot(thresholds, excess, ".-", ms=2)
    ax.set(xlabel="threshold u", ylabel="mean excess above u", title=f"mean residual life {label}")
    sns.despine(fig)
    fig.tight_layout()
    return fig


@accessible
@checked(shape=Number(), scale=Number(0, open="low"))
def gpd_qq(excesses, shape: float, scale: float, label: str = "") -> plt.Figure:
    """QQ plot of one filter's excesses against the fitted GPD."""
    y = np.sort(np.asarray(excesses, dtype=float))
    probs = (np.arange(1, len(y) + 1) - 0.5) / len(y)
    model = ss.genpareto.ppf(probs, shape, scale=scale)
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.loglog(model, y, ".", ms=3)
    lims = [min(model[model > 0].min(), y[y > 0].min()), max(model.max(), y.max())]
    ax.plot(lims, lims, color=CATEGORICAL[1], lw=1)
    ax.set(xlabel="fitted GPD quantile", ylabel="excess", title=f"GPD QQ {label} (shape {shape:.2f})")
    sns.despine(fig)
    fig.tight_layout()
    return fig


@accessible
def shapes_by_stage(shape, index: pd.DataFrame) -> plt.Figure:
    """Fitted GPD shape of every filter's tail, by stage."""
    fig, ax = plt.subplots(figsize=(6, 3))
    sns.boxplot(x=index.stage, y=shape, ax=ax, color="tab:orange", fliersize=1)
    ax.axhline(0, color="black", lw=0.5)
    ax.axhline(0.5, color="gray", lw=0.5, ls="--")
    ax.text(ax.get_xlim()[1], 0.5, " infinite variance above", fontsize=7, va="bottom", ha="right")
    ax.set(ylabel="fitted GPD shape")
    sns.despine(fig)
    fig.tight_layout()
    return fig


@accessible
def scorer_agreement(agreement: pd.DataFrame) -> plt.Figure:
    """Per image: Spearman correlation and top-k overlap between two scorers' rankings."""
    fig, axes = plt.subplots(1, 2, figsize=(8, 3))
    sns.histplot(agreement.spearman, bins=20, ax=axes[0])
    axes[0].set(xlabel="Spearman rank correlation", ylabel="mistakes")
    sns.histplot(agreement.overlap, bins=20, ax=axes[1])
    axes[1].set(xlabel=f"top-{agreement.k.iloc[0]} overlap", ylabel="mistakes")
    sns.despine(fig)
    fig.tight_layout()
    return fig


@accessible
@checked()
def planted_recall(table: pd.DataFrame, k: int = 20) -> plt.Figure:
    """Share of planted faulty filters found in the top k, per stage of planting and scorer."""
    found = table.dropna(subset=["scorer"])
    fig, ax = plt.subplots(figsize=(7, 3))
    sns.barplot(saturation=1, data=found, x="stage", y=f"recall@{k}", hue="scorer", errorbar=None, ax=ax,
                hue_order=[s for s in ("zscore", "pot", "exponential", "random") if s in set(found.scorer)])
    ax.set(ylabel=f"planted filters in the top {k}", ylim=(0, 1))
    ax.legend(fontsize=8, ncol=4)
    sns.despine(fig)
    fig.tight_layout()
    return fig
