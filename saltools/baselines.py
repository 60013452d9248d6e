"""Baselines: what "missing" looks like when a perturbation method or metric removes pixels.

A perturbed image is ``image * keep + fill * (1 - keep)``; ``BASELINES`` names the fills. All live in
the model's input space of images in [0, 1] (for a model that normalizes inside, "zero in normalized
space", Captum's default, is the ``dataset_mean`` baseline here). ``perturbed_scores`` applies a fill
under many keep-masks and reads the target score, batched: the shared core of ``perturb`` and
``metrics``. ``road_imputation`` is ROAD's noisy linear imputation, solved exactly.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
import scipy.sparse
import scipy.sparse.linalg
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import checks
from ._torch import in_layout, memory_layout_fallback
from .models.evaluation import predict
from .parameters import TEXT, Choice, checked, checked_fields


def _gaussian_blur(images: torch.Tensor, sigma: float = 5.0, kernel: int = 11) -> torch.Tensor:
    coords = torch.arange(kernel, dtype=images.dtype) - (kernel - 1) / 2
    weights = torch.exp(-coords ** 2 / (2 * sigma ** 2))
    weights = (weights / weights.sum()).to(images.device)
    c = images.shape[1]
    padded = F.pad(images, (kernel // 2,) * 4, mode="reflect")
    out = F.conv2d(padded, weights.view(1, 1, 1, -1).expand(c, 1, 1, kernel), groups=c)
    return F.conv2d(out, weights.view(1, 1, -1, 1).expand(c, 1, kernel, 1), groups=c)


@checked()
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
    for scale in (4, 2, 1):
        if scale > 1 and min(images.shape[-2:]) // scale >= 4:
            small_img = F.avg_pool2d(filled, scale)
            small_keep = F.avg_pool2d(keep, scale) > 0.99
            small = jacobi(small_img, small_keep.to(images.dtype), iterations * scale)
            up = F.interpolate(small, size=images.shape[-2:], mode="bilinear", align_corners=False)
            filled = images * keep + up * removed
        elif scale == 1:
            filled = jacobi(filled, keep, iterations)
    return filled


def jacobi(x, keep, iterations):
    """Jacobi steps: every free pixel becomes the mean of its four neighbours (edges replicated). Sums of
    shifted slices: 3-8x faster on a CPU than the same stencil as a grouped convolution
    (``benchmarks/bench_perturb.py``)."""
    fixed, free = x * keep, 1 - keep
    for _ in range(iterations):
        padded = F.pad(x, (1, 1, 1, 1), mode="replicate")
        vertical = padded[..., :-2, 1:-1] + padded[..., 2:, 1:-1]
        neighbours = vertical + (padded[..., 1:-1, :-2] + padded[..., 1:-1, 2:])
        x = fixed + free * (0.25 * neighbours)
    return x


#: ROAD's neighbourhood: (dy, dx) and weight; direct neighbours 1/6, diagonal ones 1/12 (they sum to 1)
ROAD_NEIGHBOURS = tuple(((dy, dx), 1 / 12 if dy and dx else 1 / 6)
                        for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx)


#: images per sparse system in ``road_imputation`` (see ``_solve_in_groups``)
ROAD_GROUP = 2
#: the substrate name of ROAD's noisy linear imputation (``road_imputation``) next to ``BASELINES``
ROAD = "road"


@checked()
def road_imputation(images: torch.Tensor, removed: torch.Tensor, noise: float = 0.01, seed: int = 0) -> torch.Tensor:
    """ROAD's noisy linear imputation (Rong et al., ICML 2022), exactly: every removed pixel equals the
    weighted mean of its neighbours inside the image (``ROAD_NEIGHBOURS``, the weights of the neighbours
    that exist renormalized at borders), kept pixels are fixed, and Gaussian noise of standard deviation
    ``noise`` (ROAD's default 0.01, absolute, no clipping) is added to the removed pixels only.

    One sparse linear system per ``ROAD_GROUP`` images (block diagonal, one block per image, factored by
    ``scipy.sparse.linalg.splu`` and solved for all channels at once), in float64. ``images`` [N, C, H, W] in [0, 1];
    ``removed`` [N, 1, H, W] or [N, H, W] (bool). Every image must keep at least one pixel."""
    images = checks.images(images)
    n, c, h, w = images.shape
    removed = torch.as_tensor(removed)
    removed = checks.masks(removed[:, 0] if removed.ndim == 4 and removed.shape[1] == 1 else removed, "removed",
                           shape=(n, h, w))
    if noise < 0 or not np.isfinite(noise):
        raise ValueError(f"noise must be a finite standard deviation >= 0; got {noise}")
    everything = removed.flatten(1).all(1)
    if everything.any():
        raise ValueError(f"ROAD imputation needs at least one kept pixel per image; images "
                         f"{everything.nonzero().flatten().tolist()[:5]} have none")
    missing = removed.flatten().cpu().numpy()
    # a copy: for float64 channels-last images the view below would alias the caller's tensor
    pixels = images.detach().permute(0, 2, 3, 1).reshape(-1, c).to("cpu", torch.float64, copy=True).numpy()
    solved = _solve_in_groups(missing, pixels, (h, w))
    generator = torch.Generator().manual_seed(seed)
    solved += noise * torch.randn(solved.shape, generator=generator, dtype=torch.float64).numpy()
    pixels[missing] = solved
    out = torch.from_numpy(pixels).view(n, h, w, c).permute(0, 3, 1, 2)
    return out.to(images.dtype).to(images.device).contiguous()


def _solve_in_groups(missing: np.ndarray, pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``_solve_neighbour_means`` for ``ROAD_GROUP`` images at a time, on one thread per core: SuperLU's
    cost grows faster than the block-diagonal system of a whole batch, and it releases the GIL
    (``benchmarks/bench_road.py``: 48 images, about 2x faster than one system on 2 cores)."""
    per_image = size[0] * size[1]
    groups = [slice(lo, lo + ROAD_GROUP * per_image) for lo in range(0, len(missing), ROAD_GROUP * per_image)]
    with ThreadPoolExecutor(max(1, torch.get_num_threads())) as pool:
        parts = list(pool.map(lambda g: _solve_neighbour_means(missing[g], pixels[g], size), groups))
    return np.concatenate(parts)


def neighbour_mean_system(missing: np.ndarray, pixels: np.ndarray, size: tuple[int, int]):
    """ROAD's linear system for the U ``missing`` pixels (flat bool over images, rows, columns) of ``pixels``
    [N * H * W, C]: ``sum_j w_j (x_i - x_j) = 0`` over each missing pixel's in-image neighbours, known
    ``x_j`` moved to the right. Returns (sparse CSC matrix [U, U], right-hand sides [U, C]); the matrix is
    symmetric positive definite when every image keeps a pixel."""
    h, w = size
    unknown = np.flatnonzero(missing)
    variable = np.full(len(missing), -1)
    variable[unknown] = np.arange(len(unknown))
    image, rest = np.divmod(unknown, h * w)
    row, col = np.divmod(rest, w)
    diagonal, rhs = np.zeros(len(unknown)), np.zeros((len(unknown), pixels.shape[1]))
    rows, cols, values = [np.arange(len(unknown))], [np.arange(len(unknown))], [None]
    for (dy, dx), weight in ROAD_NEIGHBOURS:
        inside = (row + dy >= 0) & (row + dy < h) & (col + dx >= 0) & (col + dx < w)
        eq = np.flatnonzero(inside)
        neighbour = image[eq] * h * w + (row[eq] + dy) * w + col[eq] + dx
        diagonal[eq] += weight
        known = ~missing[neighbour]
        rhs[eq[known]] += weight * pixels[neighbour[known]]
        rows.append(eq[~known])
        cols.append(variable[neighbour[~known]])
        values.append(np.full((~known).sum(), -weight))
    values[0] = diagonal
    matrix = scipy.sparse.csc_matrix((np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))),
                                     shape=(len(unknown), len(unknown)))
    return matrix, rhs


def _solve_neighbour_means(missing: np.ndarray, pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The values [U, C] that solve ``neighbour_mean_system``: a symmetric ordering factors it 1.3-1.5x
    faster than ``spsolve``'s default."""
    if not missing.any():
        return np.zeros((0, pixels.shape[1]))
    matrix, rhs = neighbour_mean_system(missing, pixels, size)
    factor = scipy.sparse.linalg.splu(matrix, permc_spec="MMD_AT_PLUS_A", options={"SymmetricMode": True})
    return factor.solve(rhs).reshape(len(rhs), -1)


@checked_fields()
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
    Baseline("blur", lambda x, r, g, mean: _gaussian_blur(x), "the image blurred by a separable Gaussian "
             "(11 taps, sigma 5, borders reflected) in [0, 1] space; like RISE's insertion substrate in spirit, "
             "not its kernel (RISE blurs in normalized space with zero padding)"),
    Baseline("uniform", lambda x, r, g, mean: torch.rand(x.shape, generator=g).to(x),
             "uniform noise U(0, 1) per pixel and channel"),
    Baseline("gaussian", lambda x, r, g, mean: (x + 0.2 * torch.randn(x.shape, generator=g).to(x)).clamp(0, 1),
             "the image plus Gaussian noise of standard deviation 0.2, clipped to [0, 1]"),
    Baseline("inpaint", lambda x, r, g, mean: diffusion_fill(x, r), "the removed region filled from its "
             "surroundings: ``diffusion_fill``, 12 Jacobi sweeps of the Laplace equation per pyramid level (1/4, "
             "1/2, full size) from the kept pixels' mean; a cheap, not fully converged harmonic fill, not "
             "biharmonic inpainting; depends on the region removed", depends_on_region=True),
    Baseline("noisy_inpaint", lambda x, r, g, mean: _noisy_fill(x, r, g), "the ``inpaint`` fill plus Gaussian "
             "noise of standard deviation 0.05 on the removed pixels, clipped to [0, 1]: the idea of ROAD's noisy "
             "linear imputation (Rong et al. 2022), not its solver (``road_imputation`` solves ROAD's neighbour-average "
             "system exactly)", depends_on_region=True),
]}
#: every fill a removed region can get: the baselines and ROAD's noisy linear imputation
SUBSTRATES = (*BASELINES, ROAD)


def _noisy_fill(images, removed, generator):
    noise = 0.05 * torch.randn(images.shape, generator=generator).to(images)
    return (diffusion_fill(images, removed) + noise * removed.to(images)).clamp(0, 1)


@checked(name=Choice(BASELINES))
def baseline_images(name: str, images: torch.Tensor, removed: torch.Tensor | None = None, seed: int = 0,
                    dataset_mean=(0.5, 0.5, 0.5)) -> torch.Tensor:
    """The baseline ``name`` for ``images`` [N, C, H, W] in [0, 1]; ``removed`` [N, 1, H, W] (bool) is the
    region to be replaced (used by region-dependent fills; default: the whole image)."""
    return _filled(name, checks.images(images), removed, seed, dataset_mean)


def _filled(name: str, images: torch.Tensor, removed: torch.Tensor | None, seed: int, dataset_mean) -> torch.Tensor:
    """``baseline_images`` without the checks, for images already checked (the perturbation loops)."""
    if removed is None:
        removed = torch.ones(len(images), 1, *images.shape[-2:], dtype=torch.bool, device=images.device)
    generator = torch.Generator().manual_seed(seed)
    return BASELINES[name].fill(images, removed, generator, torch.as_tensor(dataset_mean, dtype=images.dtype))


@checked()
def baseline_predictions(model: nn.Module, images: torch.Tensor, classes, names=tuple(BASELINES),
                         seed: int = 0, dataset_mean=(0.5, 0.5, 0.5)) -> pd.DataFrame:
    """Is the neutral baseline neutral? The model's prediction on each pure baseline image: one row per
    (baseline, image) with the predicted class, its probability and the entropy (log(classes) = uniform)."""
    rows = []
    for name in names:
        probs = F.softmax(predict(model, baseline_images(name, images, seed=seed, dataset_mean=dataset_mean)), 1)
        top = probs.max(1)
        entropy = -(probs * probs.clamp_min(1e-12).log()).sum(1)
        rows.append(pd.DataFrame({"baseline": name, "image": range(len(images)),
                                  "predicted": [classes[i] for i in top.indices.tolist()],
                                  "probability": top.values.numpy(), "entropy": entropy.numpy()}))
    return pd.concat(rows, ignore_index=True)


# ----------------------------------------------------------------------------- applying a baseline
@checked()
def target_scores(model: nn.Module, batch: torch.Tensor, target: torch.Tensor, output: str) -> torch.Tensor:
    """The target class's logit or softmax probability (``output``) per image of ``batch``: [B]."""
    logits = model(batch)
    if output == "probability":
        logits = F.softmax(logits, dim=1)
    return logits.gather(1, target[:, None])[:, 0]


def perturbed_scores(model, image, fill, keep, target, output, chunk):
    """Scores of ``image * keep + fill * (1 - keep)`` for masks ``keep`` [P, 1, H, W] (fill: [C, H, W]
    or [P, C, H, W]), ``chunk`` perturbed images per forward pass."""
    def scores(channels_last: bool) -> torch.Tensor:
        out = []
        for lo in range(0, len(keep), chunk):
            k = keep[lo:lo + chunk]
            f = fill if fill.ndim == 3 else fill[lo:lo + chunk]
            batch = in_layout(image * k + f * (1 - k), channels_last)
            out.append(target_scores(model, batch, target.expand(len(k)), output))
        return torch.cat(out)
    return memory_layout_fallback(model, scores)


def prepared_targets(model: nn.Module, images: torch.Tensor, target) -> tuple[torch.Tensor, torch.Tensor]:
    """``images`` on the model's device and their class targets [N] (``target=None``: the prediction)."""
    images = checks.model_input(checks.images(images, model=model), model)
    with torch.no_grad():
        logits = model(images)
    return images, checks.class_targets(target, len(images), logits, device=images.device)


@checked(baseline=TEXT)
def fills_for(baseline: str, image: torch.Tensor, removed: torch.Tensor, seed: int, dataset_mean) -> torch.Tensor:
    """Baseline fill for one image that its caller has checked: [C, H, W], or [P, C, H, W] for region-dependent
    fills."""
    if BASELINES[baseline].depends_on_region:
        return _filled(baseline, image.expand(len(removed), -1, -1, -1), removed, seed, dataset_mean)
    return _filled(baseline, image[None], None, seed, dataset_mean)[0]
