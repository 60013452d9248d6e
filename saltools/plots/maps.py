"""Figures of attribution maps and their metrics: RectGrad and brightness (chapter 5), baselines (chapter 6)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
import torch

from ..parameters import TEXT, checked
from .basics import show_image
from .style import CATEGORICAL, accessible


@accessible
@checked()
def attribution_maps(images: torch.Tensor, maps: dict, masks: torch.Tensor | None = None,
                     suptitle: str | None = None, size: float = 1.6) -> plt.Figure:
    """Rows of images and their maps [N, H, W] per method (signed, red positive, blue negative, each map
    scaled to its own largest |value|); masks outlined on the image."""
    n, names = len(images), list(maps)
    fig, axes = plt.subplots(n, len(names) + 1, figsize=((len(names) + 1) * size, n * size + 0.4), squeeze=False)
    for i in range(n):
        show_image(axes[i, 0], images[i], "image" if i == 0 else None)
        if masks is not None:
            axes[i, 0].contour(masks[i].float().numpy(), levels=[0.5], colors="yellow", linewidths=0.7)
        for j, name in enumerate(names, start=1):
            m = maps[name][i].float()
            limit = max(m.abs().max().item(), 1e-12)
            axes[i, j].imshow(m.numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
            axes[i, j].axis("off")
            if i == 0:
                axes[i, j].set_title(name, fontsize=8)
    if suptitle:
        fig.suptitle(suptitle, fontsize=9)
    fig.tight_layout()
    return fig


@accessible
@checked()
def brightness_curves(table: pd.DataFrame, y: str = "mass_accuracy", background: float | None = None) -> plt.Figure:
    """Localization against object grey level, one line per method (correctly classified images)."""
    fig, ax = plt.subplots(figsize=(7, 3.6))
    sns.lineplot(data=table[table.correct], x="level", y=y, hue="method", style="method", markers=True,
                 dashes=False, ax=ax, errorbar=("ci", 95))
    if background is not None:
        ax.axvline(background, color="gray", ls=":", lw=1)
        ax.text(background, ax.get_ylim()[1], " background", fontsize=7, va="top", color="gray")
    ax.set(xlabel="object grey level (0 black, 1 white)", ylabel=y.replace("_", " "), ylim=(0, 1))
    ax.legend(fontsize=7, ncol=2)
    sns.despine(fig)
    fig.tight_layout()
    return fig


@accessible
@checked()
def blind_points(table: pd.DataFrame, zero_points: dict, y: str = "mass_accuracy") -> plt.Figure:
    """Localization against object grey level, one panel per method, one line per input space; the
    grey level each space maps to zero (its blind point) as a dotted line of the same colour."""
    methods = list(dict.fromkeys(table.method))
    fig, axes = plt.subplots(1, len(methods), figsize=(3.6 * len(methods), 3.2), sharey=True, squeeze=False)
    colors = dict(zip(zero_points, sns.color_palette(n_colors=len(zero_points))))
    for ax, method in zip(axes[0], methods):
        sub = table[(table.method == method) & table.correct]
        sns.lineplot(data=sub, x="level", y=y, hue="space", palette=colors, marker="o", ax=ax,
                     legend=ax is axes[0, 0], errorbar=None)
        for space, point in zero_points.items():
            ax.axvline(point, color=colors[space], ls=":", lw=1.2)
        ax.set(title=method, xlabel="object grey level", ylabel=y.replace("_", " "), ylim=(0, 1))
    sns.despine(fig)
    fig.tight_layout()
    return fig


@accessible
def method_scores(table: pd.DataFrame) -> plt.Figure:
    """Mean relevance mass accuracy, rank accuracy and luminance correlation per method."""
    tidy = table.melt(id_vars="method", value_vars=["mass_accuracy", "rank_accuracy", "luminance_correlation"],
                      var_name="measure", value_name="value")
    grid = sns.catplot(saturation=1, data=tidy, y="method", x="value", col="measure", kind="bar", height=3.2,
                       aspect=0.95,
                       sharex=False, errorbar=("ci", 95), color=CATEGORICAL[0])
    grid.set_titles("{col_name}")
    grid.set_axis_labels("", "")
    return grid.figure


@accessible
def randomization_curves(table: pd.DataFrame, measures=("spearman_abs", "ssim")) -> plt.Figure:
    """Similarity of each method's maps to the original ones as stages are randomized from the top."""
    order = list(dict.fromkeys(table.randomized_to))
    fig, axes = plt.subplots(1, len(measures), figsize=(5 * len(measures), 3.4), sharey=True, squeeze=False)
    for ax, measure in zip(axes[0], measures):
        sns.lineplot(data=table, x="depth", y=measure, hue="method", style="method", markers=True, dashes=False,
                     ax=ax, errorbar=None, legend=ax is axes[0, -1])
        ax.set(xticks=range(1, len(order) + 1), xlabel="randomized from the top down to", ylim=(-0.1, 1.05),
               ylabel="similarity to the original maps", title=measure.replace("_", " "))
        ax.set_xticklabels(order, rotation=30, fontsize=7)
    if axes[0, -1].get_legend():
        axes[0, -1].legend(fontsize=7, bbox_to_anchor=(1.02, 1), loc="upper left")
    sns.despine(fig)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- chapter 6: perturbation
@accessible
@checked(measure=TEXT)
def agreement_matrix(table: pd.DataFrame, measure: str = "spearman_abs", title: str | None = None) -> plt.Figure:
    """Mean agreement between every pair of map sets (from ``metrics.pairwise_agreement``) as a heat map."""
    means = table.groupby(["a", "b"])[measure].mean()
    names = list(dict.fromkeys(list(table.a) + list(table.b)))
    square = pd.DataFrame(1.0, index=names, columns=names)
    for (a, b), value in means.items():
        square.loc[a, b] = square.loc[b, a] = value
    fig, ax = plt.subplots(figsize=(0.75 * len(names) + 2.2, 0.6 * len(names) + 1.2))
    sns.heatmap(square, annot=True, fmt=".2f", vmin=min(0.0, float(means.min())), vmax=1, cmap="viridis", ax=ax,
                cbar_kws={"shrink": 0.7},
                annot_kws={"fontsize": 7})
    ax.set_title(title or f"mean {measure.replace('_', ' ')} between maps", fontsize=9)
    ax.tick_params(labelsize=7)
    fig.tight_layout()
    return fig


@accessible
@checked(measure=TEXT)
def setting_agreement(table: pd.DataFrame, floor: float | None = None, measure: str = "spearman_abs") -> plt.Figure:
    """Agreement of each changed setting with the reference maps (rows: ``setting``, ``measure``); the
    agreement of two runs differing only in the random seed as a dotted line (the noise floor)."""
    fig, ax = plt.subplots(figsize=(7, 3))
    sns.barplot(saturation=1, data=table, x="setting", y=measure, hue="method", ax=ax, errorbar=("ci", 95))
    if floor is not None:
        ax.axhline(floor, color="black", ls=":", lw=1)
        ax.text(ax.get_xlim()[1], floor, " same settings,\n other seed", fontsize=7, va="center")
    ax.set(ylim=(0, 1), xlabel="changed setting", ylabel=f"{measure.replace('_', ' ')} with the reference")
    ax.legend(fontsize=7)
    sns.despine(fig)
    fig.tight_layout()
    return fig


@accessible
@checked()
def method_ranks(table: pd.DataFrame, variant: str = "variant", value: str = "auc",
                 lower_is_better=lambda v: "deletion" in v and "lerf" not in v) -> plt.Figure:
    """Rank of every method (1 = best) under every metric variant: where the winner changes."""
    means = table.groupby([variant, "method"])[value].mean().unstack("method")
    ranks = means.apply(lambda row: row.rank(ascending=lower_is_better(row.name)), axis=1).astype(int)
    fig, ax = plt.subplots(figsize=(0.8 * ranks.shape[1] + 2.5, 0.4 * ranks.shape[0] + 1.4))
    sns.heatmap(ranks, annot=True, fmt="d", cmap="viridis_r", cbar=False, ax=ax, annot_kws={"fontsize": 8})
    ax.set(xlabel="", ylabel="metric (substrate / curve / order)")
    ax.set_title("rank of each method (1 = best) under each metric variant", fontsize=9)
    ax.tick_params(labelsize=7)
    fig.tight_layout()
    return fig


@accessible
@checked()
def ranking_bars(table: pd.DataFrame, title: str, lower_is_better: bool) -> plt.Figure:
    """Mean AUC per method under one metric variant, best first."""
    order = table.groupby("method").auc.mean().sort_values(ascending=lower_is_better).index
    fig, ax = plt.subplots(figsize=(6, 3))
    sns.barplot(saturation=1, data=table, y="method", x="auc", order=order, ax=ax, errorbar=("ci", 95),
                color=CATEGORICAL[0])
    ax.set(xlabel="area under the curve" + (" (lower is better)" if lower_is_better else " (higher is better)"),
           ylabel="", title=title)
    sns.despine(fig)
    fig.tight_layout()
    return fig
