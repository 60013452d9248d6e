"""Counter-based random numbers: the same value for the same key on every machine.

Written by hand because the data must be reproducible *per item*: image ``i`` of a split may
not depend on how many images are generated, in which order, or on which platform. numpy's and
torch's generators are sequential streams; a hash of ``(seed, split, index, stream, cell)``
(splitmix64 finalizer, integer arithmetic only) is not, and it vectorizes.
"""
from __future__ import annotations

import zlib

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finalizer on a uint64 array (wrap-around arithmetic)."""
    x = (x + _GOLDEN).astype(np.uint64)
    x = (x ^ (x >> np.uint64(30))) * _M1
    x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


def key(*parts) -> np.ndarray:
    """Hash integer (array) parts into one uint64 key array, broadcasting them."""
    with np.errstate(over="ignore"):
        h = np.zeros((), dtype=np.uint64)
        for part in parts:
            h = _mix(h ^ np.asarray(part).astype(np.uint64))
    return h


def name_id(name: str) -> int:
    """A stable integer for a string (split or stream name)."""
    return zlib.crc32(name.encode("utf-8"))


def uniform(*parts) -> np.ndarray:
    """Uniform floats in [0, 1), one per broadcast element of the key parts."""
    return (key(*parts) >> np.uint64(11)).astype(np.float64) * (1.0 / 2**53)


def uniform_stream(base: np.ndarray, count: int) -> np.ndarray:
    """[len(base), count] uniforms in [0, 1): one mix per value, for long per-item streams (pixels)."""
    with np.errstate(over="ignore"):
        counters = base.astype(np.uint64)[:, None] + np.arange(count, dtype=np.uint64)[None, :]
        return (_mix(counters) >> np.uint64(11)).astype(np.float64) * (1.0 / 2**53)


def normal_stream(base: np.ndarray, count: int) -> np.ndarray:
    """[len(base), count] standard normals (Box-Muller on one stream of 2 * count uniforms)."""
    u = uniform_stream(base, 2 * count)
    return np.sqrt(-2.0 * np.log1p(-u[:, :count])) * np.cos(2.0 * np.pi * u[:, count:])


def normal(*parts) -> np.ndarray:
    """Standard normal floats (Box-Muller on two hashed uniforms)."""
    u1 = uniform(*parts, 1)
    u2 = uniform(*parts, 2)
    return np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * np.pi * u2)
