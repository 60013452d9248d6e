"""The book's figures: one function per kind of figure, each returning its matplotlib Figure."""
from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
import torch


def image_grid(images: torch.Tensor, titles: Sequence[str] | None = None, masks: torch.Tensor | None = None,
               ncols: int = 8, size: float = 1.4, suptitle: str | None = None) -> plt.Figure:
    """Images [N, 3, H, W] in [0, 1] in a grid; masks [N, H, W] (optional) drawn as a yellow outline."""
    n = len(images)
    nrows = max(1, -(-n // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * size, nrows * (size + 0.25)), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        ax.imshow(images[i].permute(1, 2, 0).clamp(0, 1).cpu().numpy(), interpolation="nearest")
        if masks is not None:
            ax.contour(masks[i].float().cpu().numpy(), levels=[0.5], colors="yellow", linewidths=0.8)
        if titles is not None:
            ax.set_title(titles[i], fontsize=8)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def robustness(table: pd.DataFrame) -> plt.Figure:
    """Accuracy against corruption severity (one line per corruption), clean domains as reference lines."""
    fig, ax = plt.subplots(figsize=(7, 4))
    corrupted = table[table.corruption != "none"]
    sns.lineplot(data=corrupted, x="severity", y="accuracy", hue="corruption", marker="o", ax=ax)
    styles = {"source": "-", "target": "--"}
    for row in table[table.corruption == "none"].itertuples():
        ax.axhline(row.accuracy, color="black", ls=styles.get(row.domain, ":"), lw=1)
        ax.text(5.05, row.accuracy, f"clean {row.domain}", va="center", fontsize=8)
    ax.set(ylim=(0, 1.02), xticks=[1, 2, 3, 4, 5], xlabel="corruption severity", ylabel="top-1 accuracy")
    ax.legend(loc="lower left", fontsize=8, ncol=2)
    sns.despine(fig)
    fig.tight_layout()
    return fig


def filters_per_stage(index: pd.DataFrame) -> plt.Figure:
    """Number of conv filters per stage, split into 3x3 (and stem) filters and 1x1 shortcut filters."""
    fig, ax = plt.subplots(figsize=(6, 3))
    counts = index.assign(kind=index.downsample.map({True: "1x1 shortcut", False: "main path"}))
    sns.countplot(data=counts, x="stage", hue="kind", ax=ax)
    ax.set(xlabel="stage", ylabel="filters")
    sns.despine(fig)
    fig.tight_layout()
    return fig


STAGE_PALETTE = "viridis"


def _show(ax, image: torch.Tensor, title: str | None = None) -> None:
    ax.imshow(image.permute(1, 2, 0).clamp(0, 1).cpu().numpy(), interpolation="nearest")
    ax.set_title(title, fontsize=9)
    ax.axis("off")


def prediction(image: torch.Tensor, probabilities: torch.Tensor, classes, label: int, top: int = 5) -> plt.Figure:
    """An image with its true label, and the model's top class probabilities as bars."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(7, 2.8), gridspec_kw={"width_ratios": [1, 1.4]})
    _show(left, image, f"true: {classes[label]}")
    values, order = probabilities.topk(min(top, len(probabilities)))
    names = [classes[i] for i in order.tolist()]
    colors = ["tab:green" if i == label else "tab:red" if j == 0 else "tab:gray" for j, i in enumerate(order.tolist())]
    right.barh(names[::-1], values.tolist()[::-1], color=colors[::-1])
    right.set(xlim=(0, 1), xlabel="softmax probability")
    sns.despine(ax=right)
    fig.tight_layout()
    return fig


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


def top_filters(ranking: pd.DataFrame, k: int = 10) -> plt.Figure:
    """The k highest-scoring filters of one image as labelled bars."""
    top = ranking.nsmallest(k, "rank").assign(name=lambda t: t.layer + " #" + t["filter"].astype(str))
    fig, ax = plt.subplots(figsize=(6, 0.3 * k + 1))
    sns.barplot(data=top, y="name", x="score", hue="stage", palette=STAGE_PALETTE, dodge=False, ax=ax)
    ax.set(ylabel="", xlabel="score")
    ax.legend(fontsize=8, title="stage")
    sns.despine(fig)
    fig.tight_layout()
    return fig


def stage_shares(ranking: pd.DataFrame, index: pd.DataFrame, k: int = 20) -> plt.Figure:
    """Share of each stage among the top-k filters (over all images) next to its share of all filters."""
    top = ranking[ranking["rank"] <= k].stage.value_counts(normalize=True)
    base = index.stage.value_counts(normalize=True)
    shares = pd.DataFrame({f"top {k}": top, "all filters": base}).fillna(0).reindex(base.sort_index().index)
    tidy = shares.reset_index(names="stage").melt(id_vars="stage", var_name="set", value_name="share")
    fig, ax = plt.subplots(figsize=(6, 3))
    sns.barplot(data=tidy, x="stage", y="share", hue="set", ax=ax)
    ax.set(ylabel="share of filters")
    sns.despine(fig)
    fig.tight_layout()
    return fig


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


def projection(image: torch.Tensor, heat: torch.Tensor, title: str = "input-space projection") -> plt.Figure:
    """An image next to a heat map of the same size, and the map over the image."""
    fig, axes = plt.subplots(1, 3, figsize=(7.5, 2.6))
    _show(axes[0], image, "image")
    axes[1].imshow(heat.cpu().numpy(), cmap="magma")
    axes[1].set_title(title, fontsize=9)
    axes[1].axis("off")
    _show(axes[2], image, "overlay")
    axes[2].imshow(heat.cpu().numpy(), cmap="magma", alpha=0.6)
    fig.tight_layout()
    return fig
