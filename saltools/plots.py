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


# ----------------------------------------------------------------------------- chapters 2-3: distributions and tails
def representative_filters(index: pd.DataFrame, stats) -> list[int]:
    """One filter per stage: the one whose reference std is the stage's median (columns)."""
    std = pd.Series(stats.std_.numpy(), index=index.column)
    picks = []
    for _, group in index.groupby("stage", sort=False):
        s = std[group.column]
        picks.append(int((s - s.median()).abs().idxmin()))
    return picks


def distributions(sample: torch.Tensor, index: pd.DataFrame, columns) -> plt.Figure:
    """Per filter: histogram of the statistic over reference images with the fitted normal, and a normal QQ plot."""
    import numpy as np
    import scipy.stats as ss

    fig, axes = plt.subplots(2, len(columns), figsize=(2.6 * len(columns), 4.8), squeeze=False)
    for ax_hist, ax_qq, col in zip(axes[0], axes[1], columns):
        x = sample[:, col].double().numpy()
        row = index.iloc[col]
        ax_hist.hist(x, bins=60, density=True, color="tab:blue", alpha=0.7)
        grid = np.linspace(x.min(), x.max(), 200)
        ax_hist.plot(grid, ss.norm.pdf(grid, x.mean(), x.std()), color="tab:red", lw=1, label="normal fit")
        ax_hist.set_title(f"{row.layer} #{row['filter']}", fontsize=8)
        ax_hist.set_yticks([])
        (theoretical, ordered), (slope, intercept, _) = ss.probplot(x, dist="norm")
        ax_qq.plot(theoretical, ordered, ".", ms=2)
        ax_qq.plot(theoretical, slope * theoretical + intercept, color="tab:red", lw=1)
        ax_qq.set_xlabel("normal quantile", fontsize=8)
    axes[0, 0].legend(fontsize=7)
    axes[1, 0].set_ylabel("statistic")
    fig.tight_layout()
    return fig


def rejection_by_stage(table: pd.DataFrame) -> plt.Figure:
    """Share of filters per stage whose normality is rejected (after Benjamini-Hochberg), per test."""
    tests = [c for c in table.columns if c.startswith("reject_")]
    tidy = table[~table.constant].melt(id_vars="stage", value_vars=tests, var_name="test", value_name="rejected")
    tidy["test"] = tidy.test.str.removeprefix("reject_")
    fig, ax = plt.subplots(figsize=(7, 3))
    sns.barplot(data=tidy, x="stage", y="rejected", hue="test", errorbar=None, ax=ax)
    ax.set(ylim=(0, 1.05), ylabel="share of filters rejecting normality")
    ax.legend(fontsize=8, ncol=4, loc="lower center")
    sns.despine(fig)
    fig.tight_layout()
    return fig


def moments_by_stage(table: pd.DataFrame) -> plt.Figure:
    """Skewness and excess kurtosis of every filter's statistic, by stage (a normal has 0 and 0)."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3))
    for ax, col in zip(axes, ["skewness", "excess_kurtosis"]):
        sns.boxplot(data=table, x="stage", y=col, ax=ax, color="tab:blue", fliersize=1)
        ax.set(yscale="log", ylabel=col.replace("_", " ") + " (log scale)")
    sns.despine(fig)
    fig.tight_layout()
    return fig


def three_sigma_exceedance(exceedance, normal: float) -> plt.Figure:
    """Histogram over filters of the empirical P(S > mean + 3 std), with the normal distribution's value."""
    fig, ax = plt.subplots(figsize=(6, 3))
    sns.histplot(exceedance, bins=40, ax=ax)
    ax.axvline(normal, color="tab:red", lw=1.5)
    ax.text(normal, ax.get_ylim()[1] * 0.9, " normal", color="tab:red", fontsize=8)
    ax.set(xlabel="share of reference images with s > mean + 3 std", ylabel="filters")
    sns.despine(fig)
    fig.tight_layout()
    return fig


def mean_residual_life(tail: torch.Tensor, column: int, label: str = "") -> plt.Figure:
    """Mean excess over a threshold against the threshold, from one filter's kept tail values; a GPD tail
    shows a straight line (slope xi / (1 - xi)) above a good threshold."""
    import numpy as np

    values = np.sort(tail[:, column].double().numpy())[::-1]
    thresholds = values[5:-1]
    excess = [values[values > u].mean() - u for u in thresholds]
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.plot(thresholds, excess, ".-", ms=2)
    ax.set(xlabel="threshold u", ylabel="mean excess above u", title=f"mean residual life {label}")
    sns.despine(fig)
    fig.tight_layout()
    return fig


def gpd_qq(excesses, shape: float, scale: float, label: str = "") -> plt.Figure:
    """QQ plot of one filter's excesses against the fitted GPD."""
    import numpy as np
    import scipy.stats as ss

    y = np.sort(np.asarray(excesses, dtype=float))
    probs = (np.arange(1, len(y) + 1) - 0.5) / len(y)
    model = ss.genpareto.ppf(probs, shape, scale=scale)
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.loglog(model, y, ".", ms=3)
    lims = [min(model[model > 0].min(), y[y > 0].min()), max(model.max(), y.max())]
    ax.plot(lims, lims, color="tab:red", lw=1)
    ax.set(xlabel="fitted GPD quantile", ylabel="excess", title=f"GPD QQ {label} (shape {shape:.2f})")
    sns.despine(fig)
    fig.tight_layout()
    return fig


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


def planted_recall(table: pd.DataFrame, k: int = 20) -> plt.Figure:
    """Share of planted faulty filters found in the top k, per stage of planting and scorer."""
    found = table.dropna(subset=["scorer"])
    fig, ax = plt.subplots(figsize=(7, 3))
    sns.barplot(data=found, x="stage", y=f"recall@{k}", hue="scorer", errorbar=None, ax=ax,
                hue_order=[s for s in ("zscore", "pot", "exponential", "random") if s in set(found.scorer)])
    ax.set(ylabel=f"planted filters in the top {k}", ylim=(0, 1))
    ax.legend(fontsize=8, ncol=4)
    sns.despine(fig)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- chapter 4: depth bias
def depth_shares(shares: pd.DataFrame, title: str | None = None) -> plt.Figure:
    """Share of each stage among the top-k filters per scorer; black ticks: the stage's share of all filters."""
    fig, ax = plt.subplots(figsize=(8, 3.2))
    sns.barplot(data=shares, x="stage", y="share", hue="scorer", ax=ax)
    base = shares.drop_duplicates("stage")
    ax.scatter(range(len(base)), base.filter_share, marker="_", s=900, color="black", zorder=5,
               label="share of all filters")
    ax.set(ylim=(0, 1), ylabel="share of the top-k filters", title=title)
    ax.legend(fontsize=7, ncol=3)
    sns.despine(fig)
    fig.tight_layout()
    return fig


def statistic_by_stage(table: pd.DataFrame) -> plt.Figure:
    """Median reference mean and std of the filter statistic per stage (log scale)."""
    tidy = table.melt(id_vars="stage", value_vars=["mean", "std"], var_name="moment", value_name="value")
    fig, ax = plt.subplots(figsize=(6, 3))
    sns.pointplot(data=tidy, x="stage", y="value", hue="moment", ax=ax)
    ax.set(yscale="log", ylabel="median over the stage's filters")
    sns.despine(fig)
    fig.tight_layout()
    return fig


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


def repairs_by_condition(table: pd.DataFrame) -> plt.Figure:
    """Share of mistakes repaired (averaged over k) per condition and scorer, for both edits."""
    data = table.assign(method=table.method.map({"zero": "zero the filters", "finetune": "one SGD step"}))
    grid = sns.catplot(data=data, x="condition", y="corrected_mean_k", hue="scorer", col="method", kind="bar",
                       height=3, aspect=1.6, errorbar=None)
    grid.set_titles("{col_name}")
    grid.set_axis_labels("", "share repaired (mean over k)")
    for ax in grid.axes.flat:
        ax.tick_params(axis="x", rotation=30, labelsize=7)
    return grid.figure


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


# ----------------------------------------------------------------------------- chapter 5: attributions
def attribution_maps(images: torch.Tensor, maps: dict, masks: torch.Tensor | None = None,
                     suptitle: str | None = None, size: float = 1.6) -> plt.Figure:
    """Rows of images and their maps [N, H, W] per method (signed, red positive, blue negative, each map
    scaled to its own largest |value|); masks outlined on the image."""
    n, names = len(images), list(maps)
    fig, axes = plt.subplots(n, len(names) + 1, figsize=((len(names) + 1) * size, n * size + 0.4), squeeze=False)
    for i in range(n):
        _show(axes[i, 0], images[i], "image" if i == 0 else None)
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


def method_scores(table: pd.DataFrame) -> plt.Figure:
    """Mean relevance mass accuracy, rank accuracy and luminance correlation per method."""
    tidy = table.melt(id_vars="method", value_vars=["mass_accuracy", "rank_accuracy", "luminance_correlation"],
                      var_name="measure", value_name="value")
    grid = sns.catplot(data=tidy, y="method", x="value", col="measure", kind="bar", height=3.2, aspect=0.95,
                       sharex=False, errorbar=("ci", 95), color="tab:blue")
    grid.set_titles("{col_name}")
    grid.set_axis_labels("", "")
    return grid.figure


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


def setting_agreement(table: pd.DataFrame, floor: float | None = None, measure: str = "spearman_abs") -> plt.Figure:
    """Agreement of each changed setting with the reference maps (rows: ``setting``, ``measure``); the
    agreement of two runs differing only in the random seed as a dotted line (the noise floor)."""
    fig, ax = plt.subplots(figsize=(7, 3))
    sns.barplot(data=table, x="setting", y=measure, hue="method", ax=ax, errorbar=("ci", 95))
    if floor is not None:
        ax.axhline(floor, color="black", ls=":", lw=1)
        ax.text(ax.get_xlim()[1], floor, " same settings,\n other seed", fontsize=7, va="center")
    ax.set(ylim=(0, 1), xlabel="changed setting", ylabel=f"{measure.replace('_', ' ')} with the reference")
    ax.legend(fontsize=7)
    sns.despine(fig)
    fig.tight_layout()
    return fig


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


def ranking_bars(table: pd.DataFrame, title: str, lower_is_better: bool) -> plt.Figure:
    """Mean AUC per method under one metric variant, best first."""
    order = table.groupby("method").auc.mean().sort_values(ascending=lower_is_better).index
    fig, ax = plt.subplots(figsize=(6, 3))
    sns.barplot(data=table, y="method", x="auc", order=order, ax=ax, errorbar=("ci", 95), color="tab:blue")
    ax.set(xlabel="area under the curve" + (" (lower is better)" if lower_is_better else " (higher is better)"),
           ylabel="", title=title)
    sns.despine(fig)
    fig.tight_layout()
    return fig


def speed_bars(seconds_per_image: dict, reference: str) -> plt.Figure:
    """Milliseconds per image of each way to compute the same thing, with its speed-up over ``reference``."""
    names = list(seconds_per_image)
    ms = [1e3 * seconds_per_image[name] for name in names]
    fig, ax = plt.subplots(figsize=(6.5, 0.5 + 0.45 * len(names)))
    ax.barh(names, ms, color=["tab:gray" if name == reference else "tab:blue" for name in names])
    for y, (name, value) in enumerate(zip(names, ms)):
        ratio = seconds_per_image[reference] / seconds_per_image[name]
        ax.text(value, y, f" {value:.2f} ms" + ("" if name == reference else f"  ({ratio:.1f}x faster)"),
                va="center")
    ax.invert_yaxis()
    ax.set(xlabel="milliseconds per image", xlim=(0, 1.6 * max(ms)))
    sns.despine(fig)
    fig.tight_layout()
    return fig
