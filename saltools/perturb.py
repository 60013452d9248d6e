"""Perturbation saliency and the baselines it silently depends on (Brunke et al. 2020).

Every method here replaces parts of an image by a *baseline* ("what missing looks like"):
``perturbed = image * keep + fill * (1 - keep)``. ``BASELINES`` names the usual choices; all live in
the model's input space of images in [0, 1] (for a model that normalizes inside, "zero in normalized
space", Captum's default, is the ``dataset_mean`` baseline here).

Occlusion, RISE and superpixel ablation are written here, on one batched loop, because they must
take every baseline, including fills that depend on the removed region, which Captum's ``Occlusion``
and ``FeatureAblation`` cannot; the tests check them against Captum where Captum applies. Superpixels
are scikit-image's SLIC segments.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm.auto import tqdm

from .models import _device, class_targets, in_layout, memory_layout_fallback, preserved_state


# ----------------------------------------------------------------------------- baselines
def _gaussian_blur(images: torch.Tensor, sigma: float = 5.0, kernel: int = 11) -> torch.Tensor:
    coords = torch.arange(kernel, dtype=images.dtype) - (kernel - 1) / 2
    weights = torch.exp(-coords ** 2 / (2 * sigma ** 2))
    weights = (weights / weights.sum()).to(images.device)
    c = images.shape[1]
    padded = F.pad(images, (kernel // 2,) * 4, mode="reflect")
    out = F.conv2d(padded, weights.view(1, 1, 1, -1).expand(c, 1, 1, kernel), groups=c)
    return F.conv2d(out, weights.view(1, 1, -1, 1).expand(c, 1, kernel, 1), groups=c)


def diffusion_fill(images: torch.Tensor, removed: torch.Tensor, iterations: int = 12) -> torch.Tensor:
    """Fill the ``removed`` pixels [N, 1, H, W] (bool) of ``images`` from their surroundings by Jacobi
    iterations of the Laplace equation, coarse to fine (a cheap, batched stand-in for biharmonic
    inpainting). Kept pixels are returned unchanged."""
    removed = removed.to(images.dtype)
    keep = 1 - removed
    # start from the mean of the kept pixels of each image, refined on a pyramid
    kept = keep.sum((2, 3), keepdim=True)
    start = torch.where(kept > 0, (images * keep).sum((2, 3), keepdim=True) / kept.clamp_min(1),
                        images.mean((2, 3), keepdim=True))
    filled = images * keep + start * removed
    kernel = torch.tensor([[0, 0.25, 0], [0.25, 0, 0.25], [0, 0.25, 0]], dtype=images.dtype, device=images.device)
    kernel = kernel.view(1, 1, 3, 3).expand(images.shape[1], 1, 3, 3)
    for scale in (4, 2, 1):
        if scale > 1 and min(images.shape[-2:]) // scale >= 4:
            small_img = F.avg_pool2d(filled, scale)
            small_keep = F.avg_pool2d(keep, scale) > 0.99
            small = _jacobi(small_img, small_keep.to(images.dtype), kernel, iterations * scale)
            up = F.interpolate(small, size=images.shape[-2:], mode="bilinear", align_corners=False)
            filled = images * keep + up * removed
        elif scale == 1:
            filled = _jacobi(filled, keep, kernel, iterations)
    return filled


def _jacobi(x, keep, kernel, iterations):
    fixed = x * keep
    for _ in range(iterations):
        x = fixed + (1 - keep) * F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernel, groups=x.shape[1])
    return x


@dataclass(frozen=True)
class Baseline:
    """A named fill for removed pixels: ``fill(images, removed, generator, dataset_mean) -> [N, C, H, W]``."""

    name: str
    fill: Callable
    doc: str
    depends_on_region: bool = False


def _constant(value):
    return lambda x, removed, g, mean: torch.full_like(x, value)


BASELINES: dict[str, Baseline] = {b.name: b for b in [
    Baseline("black", _constant(0.0), "all channels 0 in [0, 1]; Captum's default when inputs are in [0, 1]"),
    Baseline("white", _constant(1.0), "all channels 1 in [0, 1]"),
    Baseline("dataset_mean", lambda x, r, g, mean: mean.to(x).view(1, -1, 1, 1).expand_as(x).clone(),
             "the data set's mean colour; equals 0 after mean/std normalization (RISE's and Captum's "
             "default for normalized inputs)"),
    Baseline("image_mean", lambda x, r, g, mean: x.mean(dim=(2, 3), keepdim=True).expand_as(x).clone(),
             "each image's own mean colour (Quantus' 'mean' is one value over all channels)"),
    Baseline("blur", lambda x, r, g, mean: _gaussian_blur(x), "Gaussian blur, kernel 11, sigma 5 (RISE's "
             "insertion substrate)"),
    Baseline("uniform", lambda x, r, g, mean: torch.rand(x.shape, generator=g).to(x),
             "uniform noise U(0, 1) per pixel and channel"),
    Baseline("gaussian", lambda x, r, g, mean: (x + 0.2 * torch.randn(x.shape, generator=g).to(x)).clamp(0, 1),
             "the image plus Gaussian noise of standard deviation 0.2, clipped to [0, 1]"),
    Baseline("inpaint", lambda x, r, g, mean: diffusion_fill(x, r), "the removed region filled from its "
             "surroundings (diffusion fill); depends on the region removed", depends_on_region=True),
    Baseline("noisy_inpaint", lambda x, r, g, mean: _noisy_fill(x, r, g), "noisy linear imputation (ROAD, Rong "
             "et al. 2022): the diffusion fill plus Gaussian noise of standard deviation 0.05 on the removed "
             "pixels, so the fill does not trace the removed region's shape", depends_on_region=True),
]}


def _noisy_fill(images, removed, generator):
    noise = 0.05 * torch.randn(images.shape, generator=generator).to(images)
    return (diffusion_fill(images, removed) + noise * removed.to(images)).clamp(0, 1)


def baseline_images(name: str, images: torch.Tensor, removed: torch.Tensor | None = None, seed: int = 0,
                    dataset_mean=(0.5, 0.5, 0.5)) -> torch.Tensor:
    """The baseline ``name`` for ``images`` [N, C, H, W] in [0, 1]; ``removed`` [N, 1, H, W] (bool) is the
    region to be replaced (used by region-dependent fills; default: the whole image)."""
    if name not in BASELINES:
        raise ValueError(f"unknown baseline {name!r}; expected one of {sorted(BASELINES)}")
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        raise ValueError(f"images must be a tensor [N, C, H, W]; got {getattr(images, 'shape', type(images))}")
    if removed is None:
        removed = torch.ones(len(images), 1, *images.shape[-2:], dtype=torch.bool, device=images.device)
    generator = torch.Generator().manual_seed(seed)
    return BASELINES[name].fill(images, removed, generator, torch.as_tensor(dataset_mean, dtype=images.dtype))


def baseline_predictions(model: nn.Module, images: torch.Tensor, classes, names=tuple(BASELINES),
                         seed: int = 0, dataset_mean=(0.5, 0.5, 0.5)) -> pd.DataFrame:
    """Is the neutral baseline neutral? The model's prediction on each pure baseline image: one row per
    (baseline, image) with the predicted class, its probability and the entropy (log(classes) = uniform)."""
    from .models import predict
    rows = []
    for name in names:
        probs = F.softmax(predict(model, baseline_images(name, images, seed=seed, dataset_mean=dataset_mean)), 1)
        top = probs.max(1)
        entropy = -(probs * probs.clamp_min(1e-12).log()).sum(1)
        rows.append(pd.DataFrame({"baseline": name, "image": range(len(images)),
                                  "predicted": [classes[i] for i in top.indices.tolist()],
                                  "probability": top.values.numpy(), "entropy": entropy.numpy()}))
    return pd.concat(rows, ignore_index=True)


# ----------------------------------------------------------------------------- scoring helpers
def _target_scores(model: nn.Module, batch: torch.Tensor, target: torch.Tensor, output: str) -> torch.Tensor:
    logits = model(batch)
    if output == "probability":
        logits = F.softmax(logits, dim=1)
    return logits.gather(1, target[:, None])[:, 0]


def _perturbed_scores(model, image, fill, keep, target, output, chunk):
    """Scores of ``image * keep + fill * (1 - keep)`` for masks ``keep`` [P, 1, H, W] (fill: [C, H, W]
    or [P, C, H, W]), ``chunk`` perturbed images per forward pass."""
    def scores(channels_last: bool) -> torch.Tensor:
        out = []
        for lo in range(0, len(keep), chunk):
            k = keep[lo:lo + chunk]
            f = fill if fill.ndim == 3 else fill[lo:lo + chunk]
            batch = in_layout(image * k + f * (1 - k), channels_last)
            out.append(_target_scores(model, batch, target.expand(len(k)), output))
        return torch.cat(out)
    return memory_layout_fallback(model, scores)


def _prepare(model, images, target):
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or len(images) == 0:
        raise ValueError(f"images must be a non-empty tensor [N, C, H, W]; got {getattr(images, 'shape', type(images))}")
    device = _device(model)
    images = images.to(device)
    with torch.no_grad():
        logits = model(images)
    return images, class_targets(target, len(images), logits, device=device)


def _fills(baseline: str, image: torch.Tensor, removed: torch.Tensor, seed: int, dataset_mean) -> torch.Tensor:
    """Baseline fill for one image: [C, H, W], or [P, C, H, W] for region-dependent fills."""
    if BASELINES[baseline].depends_on_region:
        return baseline_images(baseline, image.expand(len(removed), -1, -1, -1), removed, seed, dataset_mean)
    return baseline_images(baseline, image[None], seed=seed, dataset_mean=dataset_mean)[0]


# ----------------------------------------------------------------------------- occlusion
def occlusion_masks(size: tuple[int, int], window: int, stride: int) -> torch.Tensor:
    """Keep-masks [P, 1, H, W] (0 inside the window) for every window position, as Captum's Occlusion."""
    h, w = size
    if not (1 <= window <= min(h, w)) or stride < 1:
        raise ValueError(f"window must lie in [1, {min(h, w)}] and stride be >= 1; got {window}, {stride}")
    tops = range(0, h - window + 1, stride)
    lefts = range(0, w - window + 1, stride)
    keep = torch.ones(len(tops) * len(lefts), 1, h, w)
    for p, (i, j) in enumerate((i, j) for i in tops for j in lefts):
        keep[p, :, i:i + window, j:j + window] = 0
    return keep


def occlusion(model: nn.Module, images: torch.Tensor, target=None, *, baseline: str = "black", window: int = 8,
              stride: int = 4, output: str = "logit", chunk: int = 256, seed: int = 0,
              dataset_mean=(0.5, 0.5, 0.5), progress: bool = False) -> torch.Tensor:
    """Sliding-window occlusion maps [N, H, W]: the drop of the target score when a window is replaced by
    the baseline, averaged over the windows covering each pixel (0 where no window does).

    ``chunk`` perturbed images go through the model per forward pass; ``output`` is "logit" (Captum's
    convention) or "probability".
    """
    masks = occlusion_masks(tuple(images.shape[-2:]), window, stride)
    return _mask_attribution(model, images, target, baseline, lambda n: masks, output, chunk, seed, dataset_mean,
                             progress, mode="occlusion")


# ----------------------------------------------------------------------------- RISE
def rise_masks(n: int, size: tuple[int, int], grid: int = 8, p1: float = 0.5, seed: int = 0) -> torch.Tensor:
    """RISE's masks [n, 1, H, W] (Petsiuk et al. 2018): a random ``grid`` x ``grid`` binary grid (cells kept
    with probability ``p1``), upsampled bilinearly to (grid + 1) cells and cropped at a random shift."""
    if n < 1 or grid < 1 or not 0 < p1 <= 1:
        raise ValueError(f"need n >= 1, grid >= 1 and p1 in (0, 1]; got {n}, {grid}, {p1}")
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


def rise(model: nn.Module, images: torch.Tensor, target=None, *, baseline: str = "dataset_mean", n_masks: int = 2000,
         grid: int = 8, p1: float = 0.5, output: str = "probability", chunk: int = 256, seed: int = 0,
         dataset_mean=(0.5, 0.5, 0.5), progress: bool = False) -> torch.Tensor:
    """RISE maps [N, H, W]: ``sum_i score(x * M_i + b * (1 - M_i)) M_i / (N p1)`` over ``n_masks`` masks
    (``rise_masks``), scores the target's softmax probability as in the original code. The default
    baseline is the original's (0 in normalized space, the dataset mean colour)."""
    masks = rise_masks(n_masks, tuple(images.shape[-2:]), grid, p1, seed)
    maps = _mask_attribution(model, images, target, baseline, lambda n: masks, output, chunk, seed, dataset_mean,
                             progress, mode="rise")
    return maps / (n_masks * p1)


def _mask_attribution(model, images, target, baseline, masks_for, output, chunk, seed, dataset_mean,
                      progress, mode):
    """Shared loop of occlusion, RISE and superpixel ablation: for image n, keep-masks ``masks_for(n)``
    [P, 1, H, W]; "occlusion" mode averages the score drop over the masks removing each pixel, "rise"
    mode sums the scores weighted by the masks."""
    if baseline not in BASELINES:
        raise ValueError(f"unknown baseline {baseline!r}; expected one of {sorted(BASELINES)}")
    if output not in ("logit", "probability"):
        raise ValueError(f"output must be 'logit' or 'probability'; got {output!r}")
    maps = []
    with preserved_state(model), torch.no_grad():
        model.eval()
        images, target = _prepare(model, images, target)
        for n in tqdm(range(len(images)), disable=not progress, desc=mode):
            keep = masks_for(n).to(images)
            flat_keep = keep.flatten(1)
            fill = _fills(baseline, images[n], keep < 0.5, seed + n, dataset_mean)
            scores = _perturbed_scores(model, images[n], fill, keep, target[n:n + 1], output, chunk)
            if mode == "occlusion":
                full = _target_scores(model, images[n:n + 1], target[n:n + 1], output)
                removed = 1 - flat_keep
                total = (full - scores) @ removed
                count = removed.sum(0)
                maps.append(torch.where(count > 0, total / count.clamp_min(1), torch.zeros_like(total)))
            else:
                maps.append(scores @ flat_keep)
    return torch.stack(maps).view(len(images), *images.shape[-2:]).cpu()


# ----------------------------------------------------------------------------- superpixel ablation
def superpixels(images: torch.Tensor, n_segments: int = 40, compactness: float = 10.0) -> torch.Tensor:
    """SLIC superpixels (scikit-image) per image: integer labels [N, H, W]."""
    from skimage.segmentation import slic
    labels = [slic(x.permute(1, 2, 0).cpu().double().numpy(), n_segments=n_segments, compactness=compactness,
                   start_label=0) for x in images]
    return torch.from_numpy(np.stack(labels)).long()


def superpixel_ablation(model: nn.Module, images: torch.Tensor, target=None, *, baseline: str = "black",
                        n_segments: int = 40, output: str = "logit", chunk: int = 256, seed: int = 0,
                        dataset_mean=(0.5, 0.5, 0.5), progress: bool = False) -> torch.Tensor:
    """Feature ablation over SLIC superpixels: each segment's relevance is the drop of the target score
    when it alone is replaced by the baseline (what Captum's ``FeatureAblation`` computes, here batched
    and with every baseline, including fills of the removed segment); maps [N, H, W]."""
    images = torch.as_tensor(images)
    segments = superpixels(images)

    def masks_for(n: int) -> torch.Tensor:
        labels = segments[n]
        return (labels[None] != labels.unique()[:, None, None]).float()[:, None]

    return _mask_attribution(model, images, target, baseline, masks_for, output, chunk, seed, dataset_mean,
                             progress, mode="occlusion")


# ----------------------------------------------------------------------------- experiments
METHODS = {"occlusion": occlusion, "rise": rise, "superpixels": superpixel_ablation}


def _method(method):
    if callable(method):
        return method
    if method not in METHODS:
        raise ValueError(f"unknown perturbation method {method!r}; expected one of {sorted(METHODS)}")
    return METHODS[method]


def maps_by_baseline(model: nn.Module, images: torch.Tensor, target=None, method="occlusion",
                     baselines=tuple(BASELINES), progress: bool = False, **params) -> dict[str, torch.Tensor]:
    """Experiment (a): the same method and settings, only the baseline changes: name -> maps [N, H, W]."""
    run = _method(method)
    return {name: run(model, images, target, baseline=name, **params)
            for name in tqdm(baselines, disable=not progress, desc="baselines")}


def maps_by_setting(model: nn.Module, images: torch.Tensor, target=None, method="occlusion",
                    settings: dict | None = None, progress: bool = False, **fixed) -> dict[str, torch.Tensor]:
    """Experiment (b): the same method and baseline, only a hyperparameter changes. ``settings`` maps
    a label to keyword arguments, e.g. ``{"window 4": {"window": 4, "stride": 2}}``."""
    if not settings:
        raise ValueError("give settings: a dict label -> keyword arguments of the method")
    run = _method(method)
    return {label: run(model, images, target, **{**fixed, **kwargs})
            for label, kwargs in tqdm(settings.items(), disable=not progress, desc="settings")}


def baseline_effect(model: nn.Module, images: torch.Tensor, target=None, method="occlusion",
                    baselines=tuple(BASELINES), progress: bool = False, **params) -> pd.DataFrame:
    """Experiment (a) as a table: how alike the maps of every pair of baselines are (one row per
    baseline pair and image; ``metrics.map_agreement``'s columns)."""
    from . import metrics
    return metrics.pairwise_agreement(maps_by_baseline(model, images, target, method, baselines, progress, **params))


def setting_effect(model: nn.Module, images: torch.Tensor, target=None, method="occlusion",
                   settings: dict | None = None, progress: bool = False, **fixed) -> pd.DataFrame:
    """Experiment (b) as a table: how alike the maps of every pair of hyperparameter settings are."""
    from . import metrics
    return metrics.pairwise_agreement(maps_by_setting(model, images, target, method, settings, progress, **fixed))


def average_maps(maps: dict[str, torch.Tensor], names) -> torch.Tensor:
    """The mean of several maps of the same images (the remedy of averaging over baselines), each map
    first scaled to unit mean |value| per image so no baseline dominates by scale."""
    scaled = [maps[n] / maps[n].abs().mean(dim=(1, 2), keepdim=True).clamp_min(1e-12) for n in names]
    return torch.stack(scaled).mean(0)


def causal_scores(model: nn.Module, images: torch.Tensor, target, maps: dict[str, torch.Tensor],
                  substrates=("black", "dataset_mean", "blur", "uniform"), modes=("deletion", "insertion"),
                  orders=("morf",), steps: int = 16, progress: bool = False) -> pd.DataFrame:
    """Experiment (c): every method's deletion / insertion AUC under every substrate (the metric's own
    baseline). One row per (substrate, mode, order, method, image) with ``auc``; for deletion lower
    is better, for insertion higher."""
    from . import metrics
    rows = []
    jobs = [(s, m, o) for s in substrates for m in modes for o in orders]
    for substrate, mode, order in tqdm(jobs, disable=not progress, desc="metric variants"):
        for method, m in maps.items():
            curves = metrics.perturbation_curve(model, images, m, target, mode=mode, order=order,
                                                substrate=substrate, steps=steps)
            rows.append(pd.DataFrame({"substrate": substrate, "mode": mode, "order": order, "method": method,
                                      "image": range(len(images)), "auc": metrics.auc(curves).numpy()}))
    return pd.concat(rows, ignore_index=True)


def localization(maps: dict[str, torch.Tensor], masks: torch.Tensor) -> pd.DataFrame:
    """Experiment (d): relevance mass and rank accuracy of every map set against the object masks."""
    from . import metrics
    return pd.concat([pd.DataFrame({"method": name, "image": range(len(m)),
                                    "mass_accuracy": metrics.relevance_mass(m, masks).numpy(),
                                    "rank_accuracy": metrics.relevance_rank(m, masks).numpy()})
                      for name, m in maps.items()], ignore_index=True)


def quality_table(scores: pd.DataFrame, localization_table: pd.DataFrame | None = None) -> pd.DataFrame:
    """One "higher is better" score per (variant, method, image) from ``causal_scores`` (deletion MoRF
    AUC negated; deletion LeRF and insertion AUC as they are) and, optionally, the localization rank
    accuracy as one more variant, ready for ``metrics.ranking_agreement``."""
    better_low = (scores["mode"] == "deletion") & (scores.order == "morf")
    table = pd.DataFrame({"variant": scores.substrate + " / " + scores["mode"] + " / " + scores.order,
                          "method": scores.method, "image": scores.image,
                          "score": scores.auc.where(~better_low, -scores.auc)})
    if localization_table is not None:
        table = pd.concat([table, pd.DataFrame({"variant": "localization (rank accuracy)",
                                                "method": localization_table.method,
                                                "image": localization_table.image,
                                                "score": localization_table.rank_accuracy})], ignore_index=True)
    return table
