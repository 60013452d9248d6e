"""Perturbation saliency and the baselines it silently depends on (Brunke et al. 2020).

Every method here replaces parts of an image by a *baseline* (``saltools.baselines``, re-exported
here as ``BASELINES``): occlusion, RISE and superpixel ablation are written on one batched loop,
because they must take every baseline, including fills that depend on the removed region, which
Captum's ``Occlusion`` and ``FeatureAblation`` cannot; the tests check them against Captum where
Captum applies. Superpixels are scikit-image's SLIC segments.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from skimage.segmentation import slic
from tqdm.auto import tqdm

from . import checks
from ._torch import preserved_state
from .baselines import (BASELINES, Baseline, baseline_images, baseline_predictions, diffusion_fill, fills_for,
                        perturbed_scores, prepared_targets, target_scores)
from .parameters import Choice, checked

__all__ = ["BASELINES", "Baseline", "METHODS", "average_maps", "baseline_images", "baseline_predictions",
           "diffusion_fill", "maps_by_baseline", "maps_by_setting", "occlusion", "occlusion_masks",
           "resolve_method", "rise", "rise_masks", "superpixel_ablation", "superpixels"]


# ----------------------------------------------------------------------------- occlusion
@checked()
def occlusion_masks(size: tuple[int, int], window: int, stride: int) -> torch.Tensor:
    """Keep-masks [P, 1, H, W] (0 inside the window) for every window position, as Captum's Occlusion:
    windows start every ``stride`` (<= ``window``) pixels, and where ``size - window`` is not a multiple of
    ``stride`` a last window, clipped at the edge, covers the remaining rows and columns."""
    h, w = size
    window, stride = checks.positive_int(window, "window"), checks.positive_int(stride, "stride")
    if not (window <= min(h, w)) or stride > window:
        raise ValueError(f"window must lie in [1, {min(h, w)}] and stride in [1, window] (a larger stride never "
                         f"occludes the pixels between windows; Captum refuses it too); got {window}, {stride}")
    tops = range(0, min(h, math.ceil((h - window) / stride) * stride + 1), stride)
    lefts = range(0, min(w, math.ceil((w - window) / stride) * stride + 1), stride)
    keep = torch.ones(len(tops) * len(lefts), 1, h, w)
    for p, (i, j) in enumerate((i, j) for i in tops for j in lefts):
        keep[p, :, i:i + window, j:j + window] = 0
    return keep


@checked(baseline=Choice(tuple(BASELINES)))
def occlusion(model: nn.Module, images: torch.Tensor, target=None, *, baseline: str = "black", window: int = 8,
              stride: int = 4, output: str = "logit", chunk: int = 64, seed: int = 0,
              dataset_mean=(0.5, 0.5, 0.5), progress: bool = False) -> torch.Tensor:
    """Sliding-window occlusion maps [N, H, W]: the drop of the target score when a window is replaced by
    the baseline, averaged over the windows covering each pixel (0 where no window does).

    ``chunk`` perturbed images go through the model per forward pass (64 keeps a small CNN's activations
    in a CPU's cache: as fast as 256 on most zoo models and 2x faster on the MobileNet,
    ``benchmarks/bench_perturb.py``); ``output`` is
    "logit" (Captum's convention) or "probability".
    """
    masks = occlusion_masks(tuple(checks.images(images, model=model).shape[-2:]), window, stride)
    return _mask_attribution(model, images, target, baseline, lambda n: masks, output, chunk, seed, dataset_mean,
                             progress, mode="occlusion")


# ----------------------------------------------------------------------------- RISE
@checked()
def rise_masks(n: int, size: tuple[int, int], grid: int = 8, p1: float = 0.5, seed: int = 0) -> torch.Tensor:
    """RISE's masks [n, 1, H, W] (Petsiuk et al. 2018): a random ``grid`` x ``grid`` binary grid (cells kept
    with probability ``p1``), upsampled bilinearly to (grid + 1) cells and cropped at a random shift."""
    n, grid = checks.positive_int(n, "n_masks"), checks.positive_int(grid, "grid")
    if not 0 < p1 <= 1:
        raise ValueError(f"p1 (the share of cells kept) must lie in (0, 1]; got {p1!r}")
    h, w = size
    g = torch.Generator().manual_seed(seed)
    cell_h, cell_w = math.ceil(h / grid), math.ceil(w / grid)
    cells = (torch.rand(n, 1, grid, grid, generator=g) < p1).float()
    up = F.interpolate(cells, size=((grid + 1) * cell_h, (grid + 1) * cell_w), mode="bilinear", align_corners=False)
    dy = torch.randint(0, cell_h, (n,), generator=g)
    dx = torch.randint(0, cell_w, (n,), generator=g)
    rows = (dy[:, None] + torch.arange(h)[None])[:, :, None]
    cols = (dx[:, None] + torch.arange(w)[None])[:, None, :]
    return up[torch.arange(n)[:, None, None], 0, rows, cols][:, None].clamp_(0, 1)


@checked(baseline=Choice(tuple(BASELINES)))
def rise(model: nn.Module, images: torch.Tensor, target=None, *, baseline: str = "dataset_mean", n_masks: int = 2000,
         grid: int = 8, p1: float = 0.5, output: str = "probability", chunk: int = 64, seed: int = 0,
         dataset_mean=(0.5, 0.5, 0.5), progress: bool = False) -> torch.Tensor:
    """RISE maps [N, H, W]: ``sum_i score(x * M_i + b * (1 - M_i)) M_i / (N p1)`` over ``n_masks`` masks
    (``rise_masks``), scores the target's softmax probability as in the original code. The default
    baseline is the original's (0 in normalized space, the dataset mean colour)."""
    masks = rise_masks(n_masks, tuple(checks.images(images, model=model).shape[-2:]), grid, p1, seed)
    maps = _mask_attribution(model, images, target, baseline, lambda n: masks, output, chunk, seed, dataset_mean,
                             progress, mode="rise")
    return maps / (n_masks * p1)


def _mask_attribution(model, images, target, baseline, masks_for, output, chunk, seed, dataset_mean,
                      progress, mode):
    """Shared loop of occlusion, RISE and superpixel ablation: for image n, keep-masks ``masks_for(n)``
    [P, 1, H, W]; "occlusion" mode averages the score drop over the masks removing each pixel, "rise"
    mode sums the scores weighted by the masks."""
    chunk = checks.positive_int(chunk, "chunk")
    maps = []
    with preserved_state(model), torch.no_grad():
        model.eval()
        images, target = prepared_targets(model, images, target)
        for n in tqdm(range(len(images)), disable=not progress, desc=mode):
            keep = masks_for(n).to(images)
            flat_keep = keep.flatten(1)
            fill = fills_for(baseline, images[n], keep < 0.5, seed + n, dataset_mean)
            scores = perturbed_scores(model, images[n], fill, keep, target[n:n + 1], output, chunk)
            if mode == "occlusion":
                full = target_scores(model, images[n:n + 1], target[n:n + 1], output)
                removed = 1 - flat_keep
                total = (full - scores) @ removed
                count = removed.sum(0)
                maps.append(torch.where(count > 0, total / count.clamp_min(1), torch.zeros_like(total)))
            else:
                maps.append(scores @ flat_keep)
    return torch.stack(maps).view(len(images), *images.shape[-2:]).cpu()


# ----------------------------------------------------------------------------- superpixel ablation
@checked()
def superpixels(images: torch.Tensor, n_segments: int = 40, compactness: float = 10.0) -> torch.Tensor:
    """SLIC superpixels (scikit-image) per image: integer labels [N, H, W]."""
    checks.images(images)
    n_segments = checks.positive_int(n_segments, "n_segments")
    labels = [slic(x.permute(1, 2, 0).cpu().double().numpy(), n_segments=n_segments, compactness=compactness,
                   start_label=0) for x in images]
    return torch.from_numpy(np.stack(labels)).long()


@checked(baseline=Choice(tuple(BASELINES)))
def superpixel_ablation(model: nn.Module, images: torch.Tensor, target=None, *, baseline: str = "black",
                        n_segments: int = 40, output: str = "logit", chunk: int = 64, seed: int = 0,
                        dataset_mean=(0.5, 0.5, 0.5), progress: bool = False) -> torch.Tensor:
    """Feature ablation over SLIC superpixels: each segment's relevance is the drop of the target score
    when it alone is replaced by the baseline (what Captum's ``FeatureAblation`` computes, here batched
    and with every baseline, including fills of the removed segment); maps [N, H, W]."""
    segments = superpixels(checks.images(images, model=model), n_segments)

    def masks_for(n: int) -> torch.Tensor:
        labels = segments[n]
        return (labels[None] != labels.unique()[:, None, None]).float()[:, None]

    return _mask_attribution(model, images, target, baseline, masks_for, output, chunk, seed, dataset_mean,
                             progress, mode="occlusion")


# ----------------------------------------------------------------------------- one method, many baselines or settings
METHODS = {"occlusion": occlusion, "rise": rise, "superpixels": superpixel_ablation}


def resolve_method(method):
    """The perturbation method for a name in ``METHODS``, or the callable itself."""
    if callable(method):
        return method
    if method not in METHODS:
        raise ValueError(f"unknown perturbation method {method!r}; expected one of {sorted(METHODS)}")
    return METHODS[method]


@checked(method=Choice(tuple(METHODS)))
def maps_by_baseline(model: nn.Module, images: torch.Tensor, target=None, method="occlusion",
                     baselines=tuple(BASELINES), progress: bool = False, **params) -> dict[str, torch.Tensor]:
    """Experiment (a): the same method and settings, only the baseline changes: name -> maps [N, H, W]."""
    run = resolve_method(method)
    return {name: run(model, images, target, baseline=name, **params)
            for name in tqdm(baselines, disable=not progress, desc="baselines")}


@checked(method=Choice(tuple(METHODS)))
def maps_by_setting(model: nn.Module, images: torch.Tensor, target=None, method="occlusion",
                    settings: dict | None = None, progress: bool = False, **fixed) -> dict[str, torch.Tensor]:
    """Experiment (b): the same method and baseline, only a hyperparameter changes. ``settings`` maps
    a label to keyword arguments, e.g. ``{"window 4": {"window": 4, "stride": 2}}``."""
    if not settings:
        raise ValueError("give settings: a dict label -> keyword arguments of the method")
    run = resolve_method(method)
    return {label: run(model, images, target, **{**fixed, **kwargs})
            for label, kwargs in tqdm(settings.items(), disable=not progress, desc="settings")}


def average_maps(maps: dict[str, torch.Tensor], names) -> torch.Tensor:
    """The mean of several maps of the same images (the remedy of averaging over baselines), each map
    first scaled to unit mean |value| per image so no baseline dominates by scale."""
    scaled = [maps[n] / maps[n].abs().mean(dim=(1, 2), keepdim=True).clamp_min(1e-12) for n in names]
    return torch.stack(scaled).mean(0)
