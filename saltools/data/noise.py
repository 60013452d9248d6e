"""Counter-based random fields: smooth value noise and per-pixel noise, keyed per image (see ``_hashing``)."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from .._hashing import key as hash_key, name_id, normal_stream, uniform as hash_uniform, uniform_stream
from ..parameters import POSITIVE, Each, checked


def _interpolation_matrix(grid: int, size: int) -> torch.Tensor:
    """[size, grid] weights of bilinear interpolation (align_corners=True) along one axis."""
    pos = torch.linspace(0, grid - 1, size, dtype=torch.float64)
    lo = pos.floor().clamp(max=grid - 2).long()
    frac = pos - lo
    weights = torch.zeros(size, grid, dtype=torch.float64)
    weights[torch.arange(size), lo] = 1 - frac
    weights[torch.arange(size), lo + 1] = frac
    return weights.float()


@checked(grids=Each(POSITIVE))
def smooth_noise(keys: np.ndarray, channels: int, size: int, grids: Sequence[int]) -> torch.Tensor:
    """Smooth value noise in about [-0.5, 0.5]: hashed grids upsampled bilinearly, summed.

    The upsampling is two small matrix products per grid (faster than ``F.interpolate`` here).
    """
    out = torch.zeros(len(keys), channels, size, size)
    weights = np.linspace(1.0, 0.5, len(grids))
    weights = weights / weights.sum()
    for grid, weight in zip(grids, weights):
        cells = np.arange(channels * grid * grid) + (grid << 20)
        values = hash_uniform(keys[:, None], cells[None, :]) - 0.5
        lattice = torch.from_numpy(values.astype(np.float32)).view(-1, channels, grid, grid)
        interp = _interpolation_matrix(grid, size)
        out += weight * (interp @ lattice @ interp.T)
    return out


@checked(shape=Each(POSITIVE))
def noise_field(keys: np.ndarray, stream: str, shape: tuple[int, ...], normal: bool) -> torch.Tensor:
    """Independent uniform (or standard normal) values [len(keys), *shape], one stream per image key."""
    base = hash_key(keys, name_id(stream)) << np.uint64(24)        # room for 2^23 pixels per image
    draw = normal_stream if normal else uniform_stream
    values = draw(base, int(np.prod(shape)))
    return torch.from_numpy(values.astype(np.float32)).view(len(keys), *shape)
