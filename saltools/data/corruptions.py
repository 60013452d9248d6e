"""ImageNet-C-style corruptions (Hendrycks & Dietterich 2019) of images in [0, 1], seeded per image."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.transforms.functional import gaussian_blur

from .. import checks
from .._hashing import key as hash_key, name_id
from ..parameters import Choice, Integer, checked, checked_fields
from .noise import noise_field, smooth_noise


def _gaussian_noise(x, level, keys):
    return x + level * noise_field(keys, "gaussian_noise", tuple(x.shape[1:]), normal=True)


def _impulse_noise(x, level, keys):
    u = noise_field(keys, "impulse_noise", tuple(x.shape[1:]), normal=False)
    x = torch.where(u < level / 2, torch.zeros_like(x), x)
    return torch.where(u > 1 - level / 2, torch.ones_like(x), x)


def _blur(x, sigma, keys):
    """Gaussian blur; ``sigma`` is in pixels of a 64 px image and scales with the image size, so that a
    severity blurs the same share of the image at 224 px (the full profile) as at 64 px."""
    sigma = sigma * x.shape[-1] / 64
    radius = max(1, math.ceil(3 * sigma))
    return gaussian_blur(x, kernel_size=2 * radius + 1, sigma=sigma)


def _pixelate(x, factor, keys):
    size = x.shape[-1]
    small = F.interpolate(x, size=max(1, round(size * factor)), mode="area")
    return F.interpolate(small, size=size, mode="nearest")


def _contrast(x, factor, keys):
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * factor + mean


def _brightness(x, delta, keys):
    """Add ``delta`` to the HSV value channel (hue and saturation kept), as ImageNet-C."""
    value = x.amax(dim=1, keepdim=True)
    new_value = (value + delta).clamp(0, 1)
    scale = torch.where(value > 0, new_value / value.clamp_min(1e-12), torch.zeros_like(value))
    return torch.where(value > 0, x * scale, new_value.expand_as(x))


def _fog(x, amount, keys):
    fog = smooth_noise(keys ^ np.uint64(name_id("fog")), 1, x.shape[-1], grids=(2, 4, 8)) + 0.5
    peak = x.amax(dim=(1, 2, 3), keepdim=True)
    return (x + amount * fog) * peak / (peak + amount)


@checked_fields()
@dataclass(frozen=True)
class Corruption:
    """An ImageNet-C-style corruption: ``apply(images, level, keys)`` with one level per severity.

    The kinds follow ImageNet-C (Hendrycks & Dietterich 2019); the levels are scaled so that the
    shipped 64x64 model goes from barely affected at severity 1 to badly hurt at severity 5.
    """

    apply: Callable
    levels: tuple[float, float, float, float, float]
    description: str


CORRUPTIONS: dict[str, Corruption] = {
    "gaussian_noise": Corruption(_gaussian_noise, (0.04, 0.06, 0.08, 0.10, 0.13), "additive N(0, s^2) per pixel and channel"),
    "impulse_noise": Corruption(_impulse_noise, (0.005, 0.01, 0.02, 0.03, 0.05), "salt and pepper: share of pixels set to 0 or 1"),
    "gaussian_blur": Corruption(_blur, (0.5, 0.8, 1.1, 1.5, 2.0), "Gaussian blur, sigma in pixels at 64 px (scaled with size)"),
    "pixelate": Corruption(_pixelate, (0.5, 0.375, 0.3125, 0.25, 0.1875), "area downsampling by a factor (64 px to 32, 24, 20, 16, 12), nearest upsampling"),
    "contrast": Corruption(_contrast, (0.6, 0.45, 0.3, 0.2, 0.1), "blend towards the image mean, keeping a factor"),
    "brightness": Corruption(_brightness, (0.1, 0.2, 0.3, 0.4, 0.5), "add to the HSV value channel"),
    "fog": Corruption(_fog, (0.4, 0.6, 0.8, 1.0, 1.3), "add low-frequency grey noise, renormalize the peak"),
}


@checked(corruption=Choice(tuple(CORRUPTIONS)), severity=Integer(1, 5))
def corrupt(images: torch.Tensor, corruption: str, severity: int, keys: np.ndarray | None = None) -> torch.Tensor:
    """Apply a named corruption at severity 1-5 to a batch of images in [0, 1]; returns a new batch.

    ``keys`` (one uint64 per image) seeds the random corruptions; by default the batch position.
    """
    checks.images(images)
    if images.shape[1] != 3:
        raise ValueError(f"images must have shape [N, 3, H, W]; got {tuple(images.shape)}")
    keys = np.arange(len(images), dtype=np.uint64) if keys is None else np.asarray(keys, dtype=np.uint64)
    spec = CORRUPTIONS[corruption]
    return spec.apply(images.float(), spec.levels[severity - 1], keys).clamp(0, 1)


class Corrupted(torch.utils.data.Dataset):
    """Any Dataset of (image in [0, 1], label, ...) with a corruption applied to each image (keyed by
    its index, so item i is always corrupted the same way)."""

    @checked(corruption=Choice(tuple(CORRUPTIONS)), severity=Integer(1, 5))
    def __init__(self, dataset, corruption: str, severity: int):
        corrupt(torch.zeros(1, 3, 8, 8), corruption, severity)          # validates both
        self.dataset, self.corruption, self.severity = dataset, corruption, severity

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i):
        image, *rest = self.dataset[i]
        key = np.array([hash_key(name_id("corrupted"), i)], dtype=np.uint64)
        return (corrupt(image[None], self.corruption, self.severity, key)[0], *rest)
