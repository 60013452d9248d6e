"""Figures of chapter 7: the remedies since Brunke et al. (SRG, distance from the data, the leak through
the mask's outline, the blur control, Smooth MPRT)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from ..parameters import TEXT, checked
from .style import CATEGORICAL, accessible


@accessible
def way_ranks(ranks: dict[str, pd.DataFrame]) -> plt.Figure:
    """One heat map per way of scoring (name -> ranks [substrate x method], 1 = best): where the order of
    the methods changes with the substrate."""
    fig, axes = plt.subplots(1, len(ranks), figsize=(4.2 * len(ranks), 3.8), sharey=True, squeeze=False)
    for ax, (way, table) in zip(axes[0], ranks.items()):
        sns.heatmap(table, annot=True, fmt=".0f", cmap="viridis_r", cbar=False, ax=ax, annot_kws={"fontsize": 7})
        ax.set(title=f"ranked by {way}", xlabel="", ylabel="substrate" if ax is axes[0, 0] else "")
        ax.tick_params(labelsize=7)
    fig.suptitle("rank of each method (1 = best) under each substrate", fontsize=10)
    fig.tight_layout()
    return fig


@accessible
def closeness(table: pd.DataFrame) -> plt.Figure:
    """Each substrate's distance from the data against its agreement with the other substrates."""
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    ax.scatter(table.distance, table.agreement, color=CATEGORICAL[0])
    for name, row in table.iterrows():
        ax.annotate(name, (row.distance, row.agreement), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set(xlabel="distance of occluded images from the data (1 = typical gap between clean images)",
           ylabel="mean Kendall tau with the other substrates", title="closer to the data, more consistent?")
    sns.despine(fig)
    fig.tight_layout()
    return fig


@accessible
def leak_rates(leak: pd.DataFrame) -> plt.Figure:
    """Per substrate and removal mask: how much more often the model names the class of the image whose
    outline it sees than another image's (0: no leak), with 95% intervals over images."""
    table = leak.assign(leak=leak.named.astype(float) - leak.named_other.astype(float))
    order = table[table["mask"] == table["mask"].iloc[0]].groupby("substrate").leak.mean().sort_values().index
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    sns.barplot(saturation=1, data=table, y="substrate", x="leak", hue="mask", order=order, errorbar=("ci", 95), ax=ax)
    ax.axvline(0, color="black", lw=0.8)
    ax.set(xlabel="hit rate, own class - another image's (the leak)", ylabel="",
           title="does the filled outline name the class?")
    ax.legend(title="removal mask", fontsize=7, title_fontsize=8)
    sns.despine(fig)
    fig.tight_layout()
    return fig


@accessible
def blur_gains(blur: pd.DataFrame) -> plt.Figure:
    """Per score and method: the improvement from blurring the map, with 95% intervals over images."""
    lower = blur.score.str.contains("deletion")
    table = blur.assign(gain=np.where(lower, blur.original - blur.blurred, blur.blurred - blur.original))
    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    sns.pointplot(data=table, y="score", x="gain", hue="method", errorbar=("ci", 95), dodge=0.5, linestyle="none",
                  ax=ax)
    ax.axvline(0, color="black", lw=0.8)
    ax.set(xlabel="improvement from blurring the map (> 0: the blurred map scores better)", ylabel="",
           title="the blur control")
    ax.legend(fontsize=7)
    sns.despine(fig)
    fig.tight_layout()
    return fig


@accessible
@checked(measure=TEXT)
def randomization_by_stage(table: pd.DataFrame, measure: str = "spearman_abs") -> plt.Figure:
    """Similarity to the original maps when one stage alone is randomized, plain and smoothed."""
    order = list(dict.fromkeys(table.randomized))
    fig, axes = plt.subplots(1, table.method.nunique(), figsize=(3.6 * table.method.nunique(), 3.4), sharey=True,
                             squeeze=False)
    for ax, (method, rows) in zip(axes[0], table.groupby("method", sort=False)):
        sns.lineplot(data=rows, x="depth", y=measure, hue="test", style="test", markers=True, dashes=False,
                     errorbar=("ci", 95), ax=ax, legend=ax is axes[0, -1])
        ax.set(xticks=range(1, len(order) + 1), xlabel="stage randomized alone", ylim=(-0.1, 1.05), title=method,
               ylabel="Spearman correlation of |map|" if ax is axes[0, 0] else "")
        ax.set_xticklabels(order, rotation=30, fontsize=7)
    sns.despine(fig)
    fig.tight_layout()
    return fig
