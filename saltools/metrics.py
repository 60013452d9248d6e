"""Metrics on saliency maps: localization against masks, map agreement, causal (deletion / insertion)
metrics and the agreement of metric variants on a ranking of methods."""
from __future__ import annotations

import itertools
import warnings

import krippendorff
import numpy as np
import pandas as pd
import torch
from scipy import stats
from skimage.metrics import structural_similarity

from . import checks
from ._torch import in_layout, memory_layout_fallback, preserved_state
from .baselines import BASELINES, fills_for, prepared_targets, target_scores


def _check_maps(maps: torch.Tensor, masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    maps, masks = torch.as_tensor(maps), torch.as_tensor(masks)
    if maps.ndim == 2:
        maps, masks = maps[None], masks[None]
    maps = checks.maps(maps)
    return maps, checks.masks(masks, shape=maps.shape)


def relevance_mass(maps: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Share of the total |relevance| that falls inside the mask, per map (Arras et al. 2022): [N]; 0 for a
    map without any relevance."""
    maps, masks = _check_maps(maps, masks)
    total = maps.abs().sum(dim=(1, 2))
    inside = (maps.abs() * masks).sum(dim=(1, 2))
    return torch.where(total > 0, inside / torch.where(total > 0, total, 1.0), 0.0)


def relevance_rank(maps: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Share of the top-|mask| pixels by |relevance| that lie inside the mask, per map: [N]."""
    maps, masks = _check_maps(maps, masks)
    flat, inside = maps.abs().flatten(1), masks.flatten(1)
    sizes = inside.sum(1)
    order = flat.argsort(dim=1, descending=True, stable=True)
    ranks = torch.empty_like(order)
    ranks.scatter_(1, order, torch.arange(flat.shape[1]).expand_as(order))
    hits = (inside & (ranks < sizes[:, None])).sum(1)
    return hits / sizes.clamp_min(1)


def _pearson_rows(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    a, b = a - a.mean(1, keepdim=True), b - b.mean(1, keepdim=True)
    denominator = (a.norm(dim=1) * b.norm(dim=1)).clamp_min(torch.finfo(a.dtype).tiny)
    return (a * b).sum(1) / denominator


def luminance(images: torch.Tensor) -> torch.Tensor:
    """Rec. 601 luminance [N, H, W] of RGB images [N, 3, H, W] in [0, 1]."""
    weights = torch.tensor([0.299, 0.587, 0.114], dtype=images.dtype, device=images.device)
    return torch.einsum("nchw,c->nhw", images, weights)


def luminance_correlation(maps: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """Pearson correlation, per image, of |relevance| with pixel luminance: [N]. Near 0 means the map
    does not care how bright a pixel is; strongly positive means bright pixels get the relevance."""
    images = checks.images(images)
    if images.shape[1] != 3:
        raise ValueError(f"images must be RGB [N, 3, H, W]; got {tuple(images.shape)}")
    maps = checks.maps(maps, shape=(len(images), *images.shape[2:]))
    return _pearson_rows(maps.abs().flatten(1), luminance(images.float()).flatten(1))


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


# ----------------------------------------------------------------------------- causal metrics
def perturbation_curve(model, images: torch.Tensor, maps: torch.Tensor, target=None, *, mode: str = "deletion",
                       order: str = "morf", substrate: str = "black", steps: int = 32, output: str = "probability",
                       chunk: int = 64, seed: int = 0, dataset_mean=(0.5, 0.5, 0.5)) -> torch.Tensor:
    """Target scores [N, steps + 1] as pixels are deleted (replaced by the ``substrate`` baseline, see
    ``saltools.perturb.BASELINES``) or inserted (into the substrate), ``order`` "morf" (most relevant
    first) or "lerf" (least relevant first) by |map|; step t changes the first t/steps of the pixels.
    Each image's steps go through the model in batches of ``chunk``."""
    if mode not in ("deletion", "insertion") or order not in ("morf", "lerf"):
        raise ValueError(f"mode must be 'deletion' or 'insertion' and order 'morf' or 'lerf'; got {mode!r}, {order!r}")
    images = checks.images(images, model=model)
    maps = checks.maps(maps, shape=(len(images), *images.shape[2:]))
    steps, chunk = checks.positive_int(steps, "steps"), checks.positive_int(chunk, "chunk")
    if substrate not in BASELINES:
        raise ValueError(f"unknown substrate {substrate!r}; expected one of {sorted(BASELINES)}")
    pixels, steps_shape = maps[0].numel(), (steps + 1, 1, *maps.shape[1:])
    thresholds = torch.linspace(0, pixels, steps + 1).round()
    with preserved_state(model), torch.no_grad():
        model.eval()
        images, target = prepared_targets(model, images, target)
        relevance = maps.flatten(1).abs().float()
        ranking = relevance.argsort(dim=1, descending=order == "morf", stable=True)
        rank = torch.empty_like(ranking).scatter_(1, ranking, torch.arange(pixels).expand_as(ranking).contiguous())
        changed = (rank[:, None] < thresholds[None, :, None]).view(len(images), *steps_shape).to(images)
        keep = 1 - changed if mode == "deletion" else changed
        group = max(1, chunk // (steps + 1))        # images per forward pass: about ``chunk`` perturbed images
        curves = [_curve_scores(model, images[lo:lo + group], keep[lo:lo + group], target[lo:lo + group], substrate,
                                seed + lo, dataset_mean, output) for lo in range(0, len(images), group)]
    return torch.cat(curves).cpu()


def _curve_scores(model, images, keep, target, substrate, seed, dataset_mean, output) -> torch.Tensor:
    """Scores [n, steps + 1] of a group of images under their keep-masks [n, steps + 1, 1, H, W]; each
    image's fill is drawn with its own seed (``seed`` + its position)."""
    fills = torch.stack([fills_for(substrate, image, k < 0.5, seed + i, dataset_mean).expand(len(k), *image.shape)
                         for i, (image, k) in enumerate(zip(images, keep))])
    batch = (images[:, None] * keep + fills * (1 - keep)).flatten(0, 1)
    targets = target.repeat_interleave(keep.shape[1])
    scores = memory_layout_fallback(model, lambda channels_last: target_scores(model, in_layout(batch, channels_last),
                                                                               targets, output))
    return scores.view(len(images), -1)


def auc(curves: torch.Tensor) -> torch.Tensor:
    """Area under each curve [N, T] with x running from 0 to 1 (trapezoid rule): [N]."""
    curves = torch.as_tensor(curves).double()
    if curves.ndim != 2 or curves.shape[1] < 2:
        raise ValueError(f"curves must have shape [N, T] with at least two steps; got {tuple(curves.shape)}")
    return torch.trapezoid(curves, dx=1.0 / (curves.shape[1] - 1), dim=1)


def aopc(curves: torch.Tensor, k: int | None = None) -> torch.Tensor:
    """Area over the MoRF perturbation curve (Samek et al. 2017): mean drop from the unperturbed score
    over the first ``k`` + 1 steps (default all): [N]."""
    curves = torch.as_tensor(curves).double()
    if curves.ndim != 2 or curves.shape[1] < 2:
        raise ValueError(f"curves must have shape [N, T] with at least two steps; got {tuple(curves.shape)}")
    k = curves.shape[1] - 1 if k is None else k
    if not 1 <= k < curves.shape[1]:
        raise ValueError(f"k must lie in [1, {curves.shape[1] - 1}] (steps after the unperturbed one); got {k}")
    return (curves[:, :1] - curves[:, :k + 1]).mean(1)


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
