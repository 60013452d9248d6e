"""Cached reference statistics: fitted once per model, reference set and settings, then reused."""
from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path

import torch
import torch.nn as nn

from ..parameters import checked
from .reference import ParameterSaliency, reference_batches
from . import storage
from .storage import StatisticsFileError


def cache_dir() -> Path:
    """Where fitted statistics are cached: ``$SALTOOLS_CACHE`` or ``~/.cache/saltools/stats``."""
    return Path(os.environ.get("SALTOOLS_CACHE", Path.home() / ".cache" / "saltools" / "stats"))


def _cache_key(model: nn.Module, reference, settings: dict) -> str:
    digest = hashlib.sha256(repr((storage.VERSION, sorted(settings.items()))).encode())
    digest.update(storage.weights_fingerprint(model).encode())
    for images, labels in reference_batches(reference, None, 512):
        digest.update(images.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
        digest.update(torch.as_tensor(labels).to(torch.int64).numpy().tobytes())
    return digest.hexdigest()[:32]


@checked()
def reference_statistics(model: nn.Module, reference, *, cache: bool = True, max_tail: int = 2000,
                         sample_size: int = 1000, batch_size: int = 128, seed: int = 0,
                         progress: bool = True) -> ParameterSaliency:
    """``ParameterSaliency(model, ...).fit(reference)``, reused from the cache when this model (its
    weights), these reference images and labels and these settings were fitted before. A cache file that
    cannot be used (damaged, altered, another format) is moved aside to ``<name>.bad`` with a warning and
    the statistics are fitted again."""
    settings = {"max_tail": max_tail, "sample_size": sample_size, "seed": seed}
    stats = ParameterSaliency(model, batch_size=batch_size, progress=progress, **settings)
    if not cache:
        return stats.fit(reference)
    path = cache_dir() / f"{_cache_key(model, reference, settings)}.pt"
    if path.exists():
        try:
            return ParameterSaliency.load(model, path, batch_size=batch_size, progress=progress)
        except StatisticsFileError as error:
            aside = path.with_suffix(".bad")
            path.replace(aside)
            warnings.warn(f"unusable cached statistics, moved to {aside} and fitted again: {error}", RuntimeWarning,
                          stacklevel=2)
    stats.fit(reference)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        stats.save(path)
    except OSError as error:                    # a read-only or full cache: the fit is not lost
        warnings.warn(f"could not cache the fitted statistics in {path.parent} ({type(error).__name__}: {error}); "
                      "they are returned, and will be fitted again next time", RuntimeWarning, stacklevel=2)
    return stats
