"""Agreement: how alike two sets of maps are (rank correlations, top-pixel overlap, SSIM), and how much
metric variants agree on a ranking of methods (Kendall's tau, Krippendorff's alpha)."""
from __future__ import annotations

import itertools
import warnings

import krippendorff
import numpy as np
import pandas as pd
import torch
from scipy import stats
from skimage.metrics import structural_similarity

from .. import checks
from ..parameters import PROBABILITY, TEXT, checked


@checked(top=PROBABILITY)
def map_agreement(first: torch.Tensor, second: torch.Tensor, top: float = 0.1) -> pd.DataFrame:
    """How alike two sets of maps [N, H, W] are, one row per image: Spearman correlation of |map| and of
    the signed map, Kendall's tau of |map|, the share of the top ``top`` fraction of pixels (by |map|)
    that both maps pick, and SSIM of the |maps| each scaled to [0, 1] (scikit-image)."""
    first = checks.maps(first, "first")
    second = checks.maps(second, "second", shape=first.shape)
    if not 0 < top <= 1:
        raise ValueError(f"top must be a fraction in (0, 1]; got {top!r}")
    a, b = first.flatten(1).numpy(), second.flatten(1).numpy()
    spearman_abs = _rank_correlation(np.abs(a), np.abs(b))
    spearman = _rank_correlation(a, b)
    k = max(1, int(round(top * a.shape[1])))
    top_a = np.argsort(-np.abs(a), axis=1, kind="stable")[:, :k]
    top_b = np.argsort(-np.abs(b), axis=1, kind="stable")[:, :k]
    overlap = [len(np.intersect1d(x, y)) / k for x, y in zip(top_a, top_b)]
    kendall = [stats.kendalltau(x, y).statistic for x, y in zip(np.abs(a), np.abs(b))]
    scaled_a = first.abs() / first.abs().flatten(1).amax(1).clamp_min(1e-30)[:, None, None]
    scaled_b = second.abs() / second.abs().flatten(1).amax(1).clamp_min(1e-30)[:, None, None]
    ssim = _ssim(scaled_a, scaled_b)
    return pd.DataFrame({"image": np.arange(len(a)), "spearman_abs": spearman_abs, "spearman": spearman,
                         "kendall_abs": kendall, "top_overlap": overlap, "ssim": ssim})


def _ssim(first: torch.Tensor, second: torch.Tensor) -> np.ndarray:
    """SSIM per map pair with scikit-image's 7 x 7 window, or the largest odd window that fits smaller
    maps (with a warning); NaN, with a warning, for maps under 3 x 3."""
    window = min(7, min(first.shape[1:]) - (1 - min(first.shape[1:]) % 2))
    if window < 7:
        warnings.warn(f"maps of {tuple(first.shape[1:])} pixels are smaller than SSIM's 7 x 7 window: "
                      + (f"using a {window} x {window} window" if window >= 3 else "SSIM is NaN"), RuntimeWarning,
                      stacklevel=3)
    if window < 3:
        return np.full(len(first), np.nan)
    return np.array([structural_similarity(x.numpy(), y.numpy(), data_range=1.0, win_size=window)
                     for x, y in zip(first, second)])


def _rank_correlation(a, b):
    """Spearman correlation of each row pair (average ranks for ties; NaN for a constant row)."""
    ra, rb = stats.rankdata(a, axis=1), stats.rankdata(b, axis=1)
    ra, rb = ra - ra.mean(1, keepdims=True), rb - rb.mean(1, keepdims=True)
    denominator = np.sqrt((ra ** 2).sum(1) * (rb ** 2).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, (ra * rb).sum(1) / denominator, np.nan)


def kendall_tau(x, y) -> np.ndarray:
    """Kendall's tau-b between ``x`` and ``y`` along their last axis, for many short rankings at once
    (leading axes broadcast): ``sum a_ij b_ij / sqrt(sum a_ij^2 sum b_ij^2)`` with ``a_ij = sign(x_i -
    x_j)``, equal to ``scipy.stats.kendalltau`` (NaN where one side is constant). Written by hand because
    scipy takes one pair per call (about 200x slower for rankings of 8, ``benchmarks/bench_kendall.py``);
    this form costs O(n^2) memory per pair, so keep n small (methods, not pixels)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    a = np.sign(x[..., :, None] - x[..., None, :])
    b = np.sign(y[..., :, None] - y[..., None, :])
    with np.errstate(invalid="ignore", divide="ignore"):
        return (a * b).sum((-1, -2)) / np.sqrt((a * a).sum((-1, -2)) * (b * b).sum((-1, -2)))


@checked(method=TEXT)
def ranking_agreement(scores: pd.DataFrame, variant: str = "variant", method: str = "method",
                      value: str = "score", unit: str = "image", higher_is_better: bool = True,
                      reference: str | None = None) -> pd.DataFrame:
    """Do metric variants agree on which method is best? ``scores`` is tidy (one row per variant, method
    and unit, e.g. image). Returns one row per pair of variants: Kendall's tau between the methods'
    mean-score rankings, plus each variant's Krippendorff's alpha (ordinal) of the per-unit method
    rankings (Tomsett et al. 2020: do images agree on the order of the methods?). With ``reference``
    (a variant name), only the pairs with it, the other variant always in ``variant_a``."""
    means = scores.groupby([variant, method])[value].mean().unstack(method)
    alpha = {}
    for name, sub in scores.groupby(variant):
        table = sub.pivot_table(index=unit, columns=method, values=value)
        ranks = table.rank(axis=1, ascending=not higher_is_better)
        alpha[name] = krippendorff.alpha(reliability_data=ranks.to_numpy(), level_of_measurement="ordinal")
    rows = []
    for a, b in itertools.combinations(means.index, 2):
        rows.append({"variant_a": a, "variant_b": b, "kendall_tau": stats.kendalltau(means.loc[a], means.loc[b]).statistic,
                     "alpha_a": alpha[a], "alpha_b": alpha[b],
                     "best_a": means.loc[a].idxmax() if higher_is_better else means.loc[a].idxmin(),
                     "best_b": means.loc[b].idxmax() if higher_is_better else means.loc[b].idxmin()})
    table = pd.DataFrame(rows)
    if reference is None:
        return table
    if reference not in means.index:
        raise ValueError(f"reference {reference!r} is not one of the variants {list(means.index)}")
    swap = table.variant_a == reference
    for left, right in (("variant_a", "variant_b"), ("alpha_a", "alpha_b"), ("best_a", "best_b")):
        table.loc[swap, [left, right]] = table.loc[swap, [right, left]].to_numpy()
    return table[swap | (table.variant_b == reference)].reset_index(drop=True)


@checked(top=PROBABILITY)
def pairwise_agreement(maps: dict, top: float = 0.1) -> pd.DataFrame:
    """``map_agreement`` for every pair of map sets in ``maps`` (name -> [N, H, W]): one row per
    (a, b, image)."""
    tables = []
    for a, b in itertools.combinations(maps, 2):
        table = map_agreement(maps[a], maps[b], top=top)
        table.insert(0, "a", a)
        table.insert(1, "b", b)
        tables.append(table)
    return pd.concat(tables, ignore_index=True)
