"""Figures of filter rankings: one mistake's saliency profile, interventions (chapter 1) and depth bias (chapter 4)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
import torch

from ..parameters import NON_NEGATIVE, checked
from .basics import show_image
from .style import PREDICTION_COLORS, STAGE_PALETTE, accessible


@accessible
@checked(label=NON_NEGATIVE)
def prediction(image: torch.Tensor, probabilities: torch.Tensor, classes, label: int, top: int = 5) -> plt.Figure:
    """An image with its true label, and the model's top class probabilities as bars."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(7, 2.8), gridspec_kw={"width_ratios": [1, 1.4]})
    show_image(left, image, f"true: {classes[label]}")
    values, order = probabilities.topk(min(top, len(probabilities)))
    names = [classes[i] for i in order.tolist()]
    colors = [PREDICTION_COLORS["label" if i == label else "wrong" if j == 0 else "other"]
              for j, i in enumerate(order.tolist())]
    right.barh(names[::-1], values.tolist()[::-1], color=colors[::-1])
    right.set(xlim=(0, 1), xlabel="softmax probability")
    sns.despine(ax=right)
    fig.tight_layout()
    return fig


@accessible
@checked(highlight=NON_NEGATIVE)
def saliency_profile(ranking: pd.DataFrame, highlight: int = 10) -> plt.Figure:
    """Scores of one image's filters in network order, coloured by stage; the top ``highlight`` marked."""
    fig, ax = plt.subplots(figsize=(9, 3))
    sns.scatterplot(data=ranking, x="column", y="score", hue="stage", palette=STAGE_PALETTE, s=8,
                    linewidth=0, ax=ax)
    top = ranking[ranking["rank"] <= highlight]
    ax.scatter(top.column, top.score, s=40, facecolors="none", edgecolors="red", label=f"top {highlight}")
    ax.set(xlabel="filter (network order: conv1 ... layer4)", ylabel="score")
    ax.legend(fontsize=8, markerscale=2, ncol=3)
    sns.despine(fig)
    fig.tight_layout()
    return fig


@accessible
@checked()
def top_filters(ranking: pd.DataFrame, k: int = 10) -> plt.Figure:
    """The k highest-scoring filters of one image as labelled bars."""
    top = ranking.nsmallest(k, "rank").assign(name=lambda t: t.layer + " #" + t["filter"].astype(str))
    fig, ax = plt.subplots(figsize=(6, 0.3 * k + 1))
    sns.barplot(saturation=1, data=top, y="name", x="score", hue="stage", palette=STAGE_PALETTE, dodge=False, ax=ax)
    ax.set(ylabel="", xlabel="score")
    ax.legend(fontsize=8, title="stage")
    sns.despine(fig)
    fig.tight_layout()
    return fig


@accessible
@checked()
def stage_shares(ranking: pd.DataFrame, index: pd.DataFrame, k: int = 20) -> plt.Figure:
    """Share of each stage among the top-k filters (over all images) next to its share of all filters."""
    top = ranking[ranking["rank"] <= k].stage.value_counts(normalize=True)
    base = index.stage.value_counts(normalize=True)
    shares = pd.DataFrame({f"top {k}": top, "all filters": base}).fillna(0).reindex(base.sort_index().index)
    tidy = shares.reset_index(names="stage").melt(id_vars="stage", var_name="set", value_name="share")
    fig, ax = plt.subplots(figsize=(6, 3))
    sns.barplot(saturation=1, data=tidy, x="stage", y="share", hue="set", ax=ax)
    ax.set(ylabel="share of filters")
    sns.despine(fig)
    fig.tight_layout()
    return fig


@accessible
def intervention_curves(curves: pd.DataFrame) -> plt.Figure:
    """Share of mistakes corrected and change of wrong-class probability against k, per method and selection."""
    tidy = curves.melt(id_vars=["method", "selection", "k", "image"], value_vars=["corrected", "d_wrong"],
                       var_name="measure", value_name="value")
    tidy["measure"] = tidy.measure.map({"corrected": "share corrected", "d_wrong": "change of wrong-class prob."})
    tidy["method"] = tidy.method.map({"zero": "zero the filters", "finetune": "one SGD step on the filters"})
    grid = sns.relplot(data=tidy, x="k", y="value", hue="selection", col="method", row="measure", kind="line",
                       errorbar=("ci", 95), height=2.6, aspect=1.4, facet_kws={"sharey": "row"},
                       hue_order=["salient", "random", "least"])
    grid.set_titles("{col_name}")
    for (measure, _), ax in grid.axes_dict.items():
        ax.set_ylabel(measure)
        ax.axhline(0, color="black", lw=0.5)
    grid.set_xlabels("k (filters edited)")
    return grid.figure


@accessible
@checked()
def projection(image: torch.Tensor, heat: torch.Tensor, title: str = "input-space projection") -> plt.Figure:
    """An image next to a heat map of the same size, and the map over the image."""
    fig, axes = plt.subplots(1, 3, figsize=(7.5, 2.6))
    show_image(axes[0], image, "image")
    axes[1].imshow(heat.cpu().numpy(), cmap="magma")
    axes[1].set_title(title, fontsize=9)
    axes[1].axis("off")
    show_image(axes[2], image, "overlay")
    axes[2].imshow(heat.cpu().numpy(), cmap="magma", alpha=0.6)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- chapter 4: depth bias
@accessible
@checked()
def depth_shares(shares: pd.DataFrame, title: str | None = None) -> plt.Figure:
    """Share of each stage among the top-k filters per scorer; black ticks: the stage's share of all filters."""
    fig, ax = plt.subplots(figsize=(8, 3.2))
    sns.barplot(saturation=1, data=shares, x="stage", y="share", hue="scorer", ax=ax)
    base = shares.drop_duplicates("stage")
    ax.scatter(range(len(base)), base.filter_share, marker="_", s=900, color="black", zorder=5,
               label="share of all filters")
    ax.set(ylim=(0, 1), ylabel="share of the top-k filters", title=title)
    ax.legend(fontsize=7, ncol=3)
    sns.despine(fig)
    fig.tight_layout()
    return fig


@accessible
def statistic_by_stage(table: pd.DataFrame) -> plt.Figure:
    """Median reference mean and std of the filter statistic per stage (log scale)."""
    tidy = table.melt(id_vars="stage", value_vars=["mean", "std"], var_name="moment", value_name="value")
    fig, ax = plt.subplots(figsize=(6, 3))
    sns.pointplot(data=tidy, x="stage", y="value", hue="moment", ax=ax)
    ax.set(yscale="log", ylabel="median over the stage's filters")
    sns.despine(fig)
    fig.tight_layout()
    return fig


@accessible
def last_stage_under_shift(table: pd.DataFrame, scorers=("zscore", "pot", "random")) -> plt.Figure:
    """Last-stage share of the top-k filters against corruption severity, one panel per scorer; the
    clean source and target domains as horizontal lines."""
    last = table.stage.cat.categories[-1] if hasattr(table.stage, "cat") else table.stage.iloc[-1]
    data = table[(table.stage == last) & table.scorer.isin(scorers)]
    fig, axes = plt.subplots(1, len(scorers), figsize=(3.3 * len(scorers), 3), sharey=True, squeeze=False)
    for ax, scorer in zip(axes[0], scorers):
        sub = data[data.scorer == scorer]
        corrupted = sub[sub.corruption != "none"]
        sns.lineplot(data=corrupted, x="severity", y="share", hue="corruption", marker="o", ax=ax,
                     legend=ax is axes[0, -1])
        for row in sub[sub.corruption == "none"].itertuples():
            ax.axhline(row.share, color="black", ls="-" if row.domain == "source" else "--", lw=1)
        ax.axhline(sub.filter_share.iloc[0], color="gray", ls=":", lw=1)
        ax.set(title=scorer, xlabel="severity", ylabel=f"{last} share of top-k", ylim=(0, 1.02), xticks=[1, 2, 3, 4, 5])
    if axes[0, -1].get_legend():
        axes[0, -1].legend(fontsize=6, loc="lower right")
    fig.text(0.01, 0.01, "solid: clean source, dashed: target domain, dotted: share of all filters", fontsize=7)
    sns.despine(fig)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


@accessible
def repairs_by_condition(table: pd.DataFrame) -> plt.Figure:
    """Share of mistakes repaired (averaged over k) per condition and scorer, for both edits."""
    data = table.assign(method=table.method.map({"zero": "zero the filters", "finetune": "one SGD step"}))
    grid = sns.catplot(saturation=1, data=data, x="condition", y="corrected_mean_k", hue="scorer", col="method",
                       kind="bar", height=3, aspect=1.6, errorbar=None)
    grid.set_titles("{col_name}")
    grid.set_axis_labels("", "share repaired (mean over k)")
    for ax in grid.axes.flat:
        ax.tick_params(axis="x", rotation=30, labelsize=7)
    return grid.figure


@accessible
def repairs_under_shift(table: pd.DataFrame) -> plt.Figure:
    """Share of mistakes repaired (mean over k) against corruption severity, averaged over the
    corruptions (band: 95% interval over corruptions), per scorer and edit."""
    data = table[table.corruption != "none"].assign(
        method=lambda t: t.method.map({"zero": "zero the filters", "finetune": "one SGD step"}))
    grid = sns.relplot(data=data, x="severity", y="corrected_mean_k", hue="scorer", col="method", kind="line",
                       marker="o", height=3, aspect=1.3, errorbar=("ci", 95))
    grid.set_titles("{col_name}")
    grid.set_axis_labels("corruption severity", "share repaired (mean over k)")
    return grid.figure
