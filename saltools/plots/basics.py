"""Figures shared by every chapter: image grids, the data and model overview, speed bars."""
from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
import torch

from ..parameters import TEXT, Each, checked
from .style import CATEGORICAL, accessible

@accessible
@checked(titles=Each(TEXT))
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


@checked()
def show_image(ax, image: torch.Tensor, title: str | None = None) -> None:
    """Draw an image [3, H, W] in [0, 1] on ``ax`` with a small title and no axes."""
    ax.imshow(image.permute(1, 2, 0).clamp(0, 1).cpu().numpy(), interpolation="nearest")
    ax.set_title(title, fontsize=9)
    ax.axis("off")


@accessible
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


@accessible
def filters_per_stage(index: pd.DataFrame) -> plt.Figure:
    """Number of conv filters per stage, split into 3x3 (and stem) filters and 1x1 shortcut filters."""
    fig, ax = plt.subplots(figsize=(6, 3))
    counts = index.assign(kind=index.downsample.map({True: "1x1 shortcut", False: "main path"}))
    sns.countplot(saturation=1, data=counts, x="stage", hue="kind", ax=ax)
    ax.set(xlabel="stage", ylabel="filters")
    sns.despine(fig)
    fig.tight_layout()
    return fig


@accessible
@checked()
def speed_bars(seconds_per_image: dict, reference: str) -> plt.Figure:
    """Milliseconds per image of each way to compute the same thing, with its speed-up over ``reference``."""
    names = list(seconds_per_image)
    ms = [1e3 * seconds_per_image[name] for name in names]
    fig, ax = plt.subplots(figsize=(6.5, 0.5 + 0.45 * len(names)))
    ax.barh(names, ms, color=["#999999" if name == reference else CATEGORICAL[0] for name in names])
    for y, (name, value) in enumerate(zip(names, ms)):
        ratio = seconds_per_image[reference] / seconds_per_image[name]
        ax.text(value, y, f" {value:.2f} ms" + ("" if name == reference else f"  ({ratio:.1f}x faster)"),
                va="center")
    ax.invert_yaxis()
    ax.set(xlabel="milliseconds per image", xlim=(0, 1.6 * max(ms)))
    sns.despine(fig)
    fig.tight_layout()
    return fig
