"""Localization metrics: how much of a saliency map falls on the object's mask (relevance mass and rank,
pointing game, top-k intersection, ROC-AUC), and how much it follows the image's brightness. Where a metric
is undefined for a map it says so (``UndefinedMetricWarning``) and scores NaN: see ``saltools.metrics``."""
from __future__ import annotations

import warnings

import numpy as np
import torch
import torch.nn.functional as F
from scipy import stats

from .. import checks
from ..parameters import POSITIVE, PROBABILITY, Either, checked


class UndefinedMetricWarning(RuntimeWarning):
    """A localization metric met maps it is undefined for (see the module's docstring): NaN there."""


def _nan_where_undefined(scores: torch.Tensor, metric: str, undefined: dict) -> torch.Tensor:
    """``scores`` with NaN in the rows where any mask of ``undefined`` (reason -> [N] bool) holds, and one
    warning that counts them by reason."""
    rows = torch.zeros(len(scores), dtype=torch.bool, device=scores.device)
    reasons = []
    for reason, where in undefined.items():
        if where.any():
            rows |= where
            reasons.append(f"{int(where.sum())} with {reason}")
    if reasons:
        warnings.warn(f"{metric} is undefined for {int(rows.sum())} of {len(rows)} maps ({'; '.join(reasons)}): "
                      "NaN there", UndefinedMetricWarning, stacklevel=3)
    scores = scores if scores.is_floating_point() else scores.float()
    return scores.masked_fill(rows, float("nan"))


def _constant(maps: torch.Tensor, absolute: bool = True) -> torch.Tensor:
    flat = maps.abs().flatten(1) if absolute else maps.flatten(1)
    return flat.amax(1) == flat.amin(1)


def _empty(masks: torch.Tensor) -> torch.Tensor:
    return ~masks.flatten(1).any(1)


def _check_maps(maps: torch.Tensor, masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    maps, masks = torch.as_tensor(maps), torch.as_tensor(masks)
    if maps.ndim == 2:
        maps, masks = maps[None], masks[None]
    maps = checks.maps(maps)
    return maps, checks.masks(masks, shape=maps.shape)


def relevance_mass(maps: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Share of the total |relevance| that falls inside the mask, per map (Arras et al. 2022): [N]; NaN, with
    a warning, for a map without any relevance or an empty mask."""
    maps, masks = _check_maps(maps, masks)
    total = maps.abs().sum(dim=(1, 2))
    inside = (maps.abs() * masks).sum(dim=(1, 2))
    share = inside / torch.where(total > 0, total, 1.0)
    return _nan_where_undefined(share, "relevance_mass", {"an empty mask": _empty(masks),
                                                          "a map without relevance": total == 0})


@checked()
def ranks_from_top(maps: torch.Tensor, absolute: bool) -> torch.Tensor:
    """Each pixel's place [N, H*W] when the map's pixels are sorted by relevance, highest first (stable)."""
    flat = maps.abs().flatten(1) if absolute else maps.flatten(1)
    order = flat.argsort(dim=1, descending=True, stable=True)
    return torch.empty_like(order).scatter_(1, order, torch.arange(flat.shape[1]).expand_as(order).contiguous())


def relevance_rank(maps: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Share of the top-|mask| pixels by |relevance| that lie inside the mask, per map: [N]; NaN, with a
    warning, for an empty mask or a constant map."""
    maps, masks = _check_maps(maps, masks)
    inside = masks.flatten(1)
    sizes = inside.sum(1)
    hits = (inside & (ranks_from_top(maps, absolute=True) < sizes[:, None])).sum(1)
    return _nan_where_undefined(hits / sizes.clamp_min(1), "relevance_rank",
                                {"an empty mask": _empty(masks), "a constant map": _constant(maps)})


@checked()
def pointing_game(maps: torch.Tensor, masks: torch.Tensor, tolerance: int = 0, absolute: bool = True) -> torch.Tensor:
    """Pointing game (Zhang et al. 2018): 1.0 where the map's highest pixel (by |relevance|, or by signed
    relevance with ``absolute=False``; the first in row-major order on ties) lies in the mask or within
    ``tolerance`` pixels of it (Euclidean; the original uses 15 at 224 px), else 0.0: [N]; NaN, with a
    warning, for an empty mask or a constant map (no highest pixel)."""
    maps, masks = _check_maps(maps, masks)
    tolerance = checks.positive_int(tolerance + 1, "tolerance + 1") - 1
    undefined = {"an empty mask": _empty(masks), "a constant map": _constant(maps, absolute)}
    if tolerance:
        offsets = torch.arange(-tolerance, tolerance + 1, dtype=torch.float32)
        disk = ((offsets[:, None] ** 2 + offsets[None] ** 2) <= tolerance ** 2).float()[None, None]
        masks = F.conv2d(masks[:, None].float(), disk, padding=tolerance)[:, 0] > 0
    top = ranks_from_top(maps, absolute) == 0
    return _nan_where_undefined((top & masks.flatten(1)).any(1).float(), "pointing_game", undefined)


@checked(k=Either((POSITIVE, PROBABILITY)))
def top_k_intersection(maps: torch.Tensor, masks: torch.Tensor, k: int | float) -> torch.Tensor:
    """Share of the map's ``k`` highest pixels by |relevance| (a count, or a share of the pixels when
    ``k`` < 1) that lie in the mask: [N]; NaN, with a warning, for an empty mask or a constant map.
    ``relevance_rank`` is the case k = the mask's size."""
    maps, masks = _check_maps(maps, masks)
    pixels = maps[0].numel()
    count = round(k * pixels) if isinstance(k, float) and 0 < k < 1 else k
    count = checks.positive_int(count, "k")
    if count > pixels:
        raise ValueError(f"k must be at most the number of pixels ({pixels}); got {k}")
    shares = ((ranks_from_top(maps, True) < count) & masks.flatten(1)).sum(1) / count
    return _nan_where_undefined(shares, "top_k_intersection",
                                {"an empty mask": _empty(masks), "a constant map": _constant(maps)})


@checked()
def mask_roc_auc(maps: torch.Tensor, masks: torch.Tensor, absolute: bool = True) -> torch.Tensor:
    """ROC-AUC of the map (|relevance|, or signed with ``absolute=False``) as a score that separates mask
    pixels from the rest: the probability that a random mask pixel outranks a random other pixel, ties
    counting half (Mann-Whitney U / (n_in n_out), from average ranks): [N]; NaN, with a warning, where the
    mask is empty or covers the whole image (a constant map scores 0.5)."""
    maps, masks = _check_maps(maps, masks)
    values = (maps.abs() if absolute else maps).flatten(1).double().numpy()
    inside = masks.flatten(1).numpy()
    ranks = stats.rankdata(values, axis=1)
    n_in = inside.sum(1).astype(float)
    n_out = inside.shape[1] - n_in
    u = (ranks * inside).sum(1) - n_in * (n_in + 1) / 2
    auc = torch.from_numpy(u / np.maximum(n_in * n_out, 1))
    return _nan_where_undefined(auc, "mask_roc_auc", {"an empty mask": torch.from_numpy(n_in == 0),
                                                      "a mask covering the whole image": torch.from_numpy(n_out == 0)})


def pearson_rows(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pearson's r of each row of ``a`` [N, P] with the same row of ``b``: [N] (0 where a row is constant)."""
    a, b = a - a.mean(1, keepdim=True), b - b.mean(1, keepdim=True)
    denominator = (a.norm(dim=1) * b.norm(dim=1)).clamp_min(torch.finfo(a.dtype).tiny)
    return (a * b).sum(1) / denominator


def luminance(images: torch.Tensor) -> torch.Tensor:
    """Rec. 601 luminance [N, H, W] of RGB images [N, 3, H, W] in [0, 1]."""
    weights = torch.tensor([0.299, 0.587, 0.114], dtype=images.dtype, device=images.device)
    return torch.einsum("nchw,c->nhw", images, weights)


def luminance_correlation(maps: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """Pearson correlation, per image, of |relevance| with pixel luminance: [N]. Near 0 means the map
    does not care how bright a pixel is; strongly positive means bright pixels get the relevance. NaN, with
    a warning, for a constant map or an image of constant luminance."""
    images = checks.images(images)
    if images.shape[1] != 3:
        raise ValueError(f"images must be RGB [N, 3, H, W]; got {tuple(images.shape)}")
    maps = checks.maps(maps, shape=(len(images), *images.shape[2:]))
    brightness = luminance(images.float())
    return _nan_where_undefined(pearson_rows(maps.abs().flatten(1), brightness.flatten(1)), "luminance_correlation",
                                {"a constant map": _constant(maps), "a constant image": _constant(brightness)})
