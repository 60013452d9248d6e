"""Reference statistics of the filter statistic: streaming moments, tail, reservoir sample, persistence.

``ParameterSaliency.fit`` streams a reference set in batches and keeps per filter what the scorers
need, never the N x F matrix of all values.
"""
from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn as nn
from tqdm.auto import tqdm

from .. import checks
from ..models.filters import filter_index
from ..parameters import checked
from . import storage
from .scorers import MIN_REFERENCE, SCORER, DegenerateStatisticsWarning, TailFit, resolve_scorer
from .statistic import filter_saliency


def _fingerprints(images: torch.Tensor) -> torch.Tensor:
    """One int64 per image: a hash of its float32 pixels (to recognize reference images)."""
    flat = images.detach().to("cpu", torch.float32).contiguous().view(len(images), -1).numpy()
    return torch.tensor([int.from_bytes(hashlib.blake2b(row.tobytes(), digest_size=8).digest(), "little", signed=True)
                         for row in flat], dtype=torch.int64)


@checked()
def reference_batches(reference, labels, batch_size: int):
    """Yield (images, labels) batches from a tensor (+labels), a Dataset, or an iterable of batches."""
    if isinstance(reference, torch.Tensor):
        if labels is None:
            raise ValueError("labels are required when the reference set is a tensor of images")
        reference, labels = checks.images_and_labels(reference, labels, allow_empty=True)
        for lo in range(0, len(reference), batch_size):
            yield reference[lo:lo + batch_size], labels[lo:lo + batch_size]
    elif hasattr(reference, "batches"):                                     # Shapes: already in memory
        yield from reference.batches(batch_size)
    elif isinstance(reference, torch.utils.data.Dataset):
        loader = torch.utils.data.DataLoader(reference, batch_size=batch_size, shuffle=False)
        for batch in loader:
            yield batch[0], batch[1]
    else:
        for batch in reference:
            yield batch[0], batch[1]


class ParameterSaliency:
    """Reference statistics of the filter statistic over a reference set, and filter rankings for queries.

    ``fit`` streams the reference set in batches and keeps, per filter: the count, mean and sum of
    squared deviations (Welford/Chan, mergeable across shards with ``merge``); the ``max_tail + 1``
    largest values (for peaks-over-threshold); and a uniform random sample of ``sample_size``
    reference images' values (reservoir, for normality tests). Memory grows with
    ``(max_tail + sample_size) x F`` plus 8 bytes per reference image (their fingerprints), never
    with ``N x F``.

    Fitted attributes end in ``_``: ``n_``, ``mean_``, ``std_``, ``tail_`` ([T, F], descending),
    ``sample_`` ([S, F]), ``index_`` (``models.filter_index``).
    """

    @checked()
    def __init__(self, model: nn.Module, *, max_tail: int = 2000, sample_size: int = 1000,
                 batch_size: int = 128, seed: int = 0, progress: bool = True):
        self.index_ = filter_index(model)
        self.model = model
        self.max_tail, self.sample_size = checks.positive_int(max_tail, "max_tail"), checks.positive_int(
            sample_size, "sample_size")
        self.batch_size, self.seed, self.progress = checks.positive_int(batch_size, "batch_size"), int(seed), progress
        self._reset()

    def _reset(self) -> None:
        n_filters = len(self.index_)
        self.n_ = 0
        self.mean_ = torch.zeros(n_filters, dtype=torch.float64)
        self._m2 = torch.zeros(n_filters, dtype=torch.float64)
        self.tail_ = torch.empty(0, n_filters)
        self.sample_ = torch.empty(0, n_filters)
        self._fingerprints = torch.empty(0, dtype=torch.int64)
        self._rng = np.random.default_rng(self.seed)
        self._tail_fits: dict = {}

    # -- fitting
    _STATE = ("n_", "mean_", "_m2", "_tail", "_pending", "_tail_lent", "sample_", "_fingerprints", "_rng",
              "_tail_fits")

    def fit(self, reference, labels=None) -> "ParameterSaliency":
        """Reference statistics from a Dataset of (image, label, ...), a loader of batches, or images + labels.

        The new statistics replace earlier ones only when the whole reference set went through: on an
        error (a bad image, an empty set) the previous fit is kept. Warns (``DegenerateStatisticsWarning``)
        below ``MIN_REFERENCE`` reference images."""
        self._tail_lent = True                                      # kept for a restore: never merged into
        previous = {name: getattr(self, name) for name in self._STATE}
        try:
            self._reset()
            self._stream(reference, labels)
        except BaseException:
            for name, value in previous.items():
                setattr(self, name, value)
            raise
        if self.n_ < MIN_REFERENCE:
            warnings.warn(f"{self.n_} reference image(s): the z-score needs at least 2 (below that every std is "
                          f"0) and estimates mean and std poorly below {MIN_REFERENCE}; POT needs about "
                          f"{MIN_REFERENCE * 10} for 10 excesses per filter above its 0.9 quantile",
                          DegenerateStatisticsWarning, stacklevel=2)
        return self

    def _stream(self, reference, labels) -> None:
        total = len(reference) if hasattr(reference, "__len__") else None
        bar = tqdm(total=total, disable=not self.progress, desc="reference statistics")
        seen = 0
        for images, batch_labels in reference_batches(reference, labels, self.batch_size):
            try:                                                    # filter_saliency checks the batch first
                self.partial_fit(images, batch_labels)
            except (TypeError, ValueError) as error:
                raise type(error)(f"reference images {seen} to {seen + len(images) - 1}: {error}") from None
            seen += len(images)
            bar.update(len(images))
        bar.close()
        if self.n_ == 0:
            raise ValueError("the reference set is empty")

    def partial_fit(self, images: torch.Tensor, labels) -> "ParameterSaliency":
        """Add one batch of reference images to the statistics."""
        values = filter_saliency(self.model, images, labels, self.batch_size)
        return self.update(values, _fingerprints(images))

    def update(self, values: torch.Tensor, fingerprints: torch.Tensor) -> "ParameterSaliency":
        """Add the statistic values [B, F] of B reference images computed elsewhere (``filter_saliency``, e.g.
        on another machine) with the images' fingerprints [B] (int64; they let ``saliency`` refuse reference
        images as queries). The path every fit takes after computing the values."""
        values, fingerprints = torch.as_tensor(values), torch.as_tensor(fingerprints)
        if values.ndim != 2 or values.shape[1] != len(self.index_) or fingerprints.shape != (len(values),):
            raise ValueError(f"expected values [B, {len(self.index_)}] and fingerprints [B]; got "
                             f"{tuple(values.shape)} and {tuple(fingerprints.shape)}")
        checks.values(values.float(), "values")
        self._fingerprints = torch.cat([self._fingerprints, fingerprints.long()])
        self._update(values.to("cpu", torch.float32))
        return self

    def _update(self, values: torch.Tensor) -> None:
        wide = values.double()
        mean = wide.mean(0)
        batch = _Moments(len(values), mean, wide.sub_(mean).square_().sum(0))
        del wide
        merged = _Moments(self.n_, self.mean_, self._m2).merge(batch)
        seen = self.n_
        self.n_, self.mean_, self._m2 = merged.n, merged.mean, merged.m2
        self._pending.append(values)
        if sum(len(p) for p in self._pending) > self.max_tail // 2:  # half a tail waits: merge (amortized)
            self._merge_pending()
        self.sample_ = self._reservoir(self.sample_, values, seen)
        self._tail_fits = {}

    def _reservoir(self, sample: torch.Tensor, values: torch.Tensor, seen: int) -> torch.Tensor:
        """Algorithm R over image rows, vectorized within the batch (last write to a slot wins)."""
        size = self.sample_size
        fill = max(0, min(size - len(sample), len(values)))
        sample = torch.cat([sample, values[:fill]])
        rest = np.arange(fill, len(values))
        if len(rest):
            counts = seen + rest + 1                                   # 1-based position in the stream
            slots = np.floor(self._rng.random(len(rest)) * counts).astype(np.int64)
            chosen = slots < size
            slots, rows = slots[chosen], rest[chosen]
            _, last = np.unique(slots[::-1], return_index=True)        # last occurrence of each slot
            pick = len(slots) - 1 - last
            sample[torch.from_numpy(slots[pick])] = values[torch.from_numpy(rows[pick])]
        return sample

    def merge(self, other: "ParameterSaliency") -> "ParameterSaliency":
        """Combine with statistics fitted on another shard of the reference set (Chan et al.)."""
        if len(other.index_) != len(self.index_) or not (other.index_.layer.values == self.index_.layer.values).all():
            raise ValueError("cannot merge statistics of different models (filter indexes differ)")
        n_self, n_other = self.n_, other.n_
        merged = _Moments(self.n_, self.mean_, self._m2).merge(_Moments(other.n_, other.mean_, other._m2))
        self.n_, self.mean_, self._m2 = merged.n, merged.mean, merged.m2
        self.tail_ = _top_rows([self.tail_, other.tail_], self.max_tail + 1)
        self.sample_ = self._merge_samples(self.sample_, n_self, other.sample_, n_other)
        self._fingerprints = torch.cat([self._fingerprints, other._fingerprints])
        self._tail_fits = {}
        return self

    def _merge_samples(self, a, n_a, b, n_b):
        """A uniform sample of the union from uniform samples of two shards (hypergeometric split)."""
        size = min(self.sample_size, len(a) + len(b))
        from_a = int(self._rng.hypergeometric(n_a, n_b, size)) if n_a and n_b else (size if n_a else 0)
        from_a = min(max(from_a, size - len(b)), len(a))
        pick_a = torch.from_numpy(self._rng.choice(len(a), from_a, replace=False))
        pick_b = torch.from_numpy(self._rng.choice(len(b), size - from_a, replace=False))
        return torch.cat([a[pick_a], b[pick_b]])

    @property
    def tail_(self) -> torch.Tensor:
        """The ``max_tail + 1`` largest values per filter so far, descending: [T, F]. Batches wait in a buffer
        until half a tail's worth has come and are merged then: one top-k per ``max_tail / 2`` images, not
        one per batch (``benchmarks/bench_reference_memory.py`` measures the result). A merge writes into
        the tail in place unless the tail was handed out since (copy on write: a tensor you hold never
        changes)."""
        self._merge_pending()
        self._tail_lent = True
        return self._tail

    @tail_.setter
    def tail_(self, value: torch.Tensor) -> None:
        self._tail, self._pending, self._tail_lent = value, [], True

    def _merge_pending(self) -> None:
        if self._pending:
            in_place = not self._tail_lent and len(self._tail) == self.max_tail + 1
            self._tail = _top_rows([self._tail, *self._pending], self.max_tail + 1,
                                   out=self._tail if in_place else None)
            self._pending, self._tail_lent = [], False

    @property
    def std_(self) -> torch.Tensor:
        """Unbiased standard deviation per filter."""
        self.check_fitted()
        return (self._m2 / max(self.n_ - 1, 1)).sqrt()

    @checked()
    def tail_fit(self, quantile: float = 0.9, exponential: bool = False) -> "TailFit":
        """GPD (or exponential) fit per filter to the reference values above the ``quantile`` (cached)."""
        self.check_fitted()
        key = (float(quantile), exponential)
        if key not in self._tail_fits:
            self._tail_fits[key] = TailFit.from_stats(self, quantile, exponential)
        return self._tail_fits[key]

    def check_fitted(self) -> None:
        """RuntimeError unless ``fit`` (or ``load``) has run."""
        if self.n_ == 0:
            raise RuntimeError("ParameterSaliency is not fitted: call fit(reference) first")

    # -- queries
    @checked()
    def saliency(self, images: torch.Tensor, labels, allow_reference_images: bool = False) -> torch.Tensor:
        """The raw statistic [N, F] of query images; refuses images of the reference set unless allowed."""
        self.check_fitted()
        images, labels = checks.images_and_labels(images, labels, model=self.model)
        if not allow_reference_images:
            overlap = torch.isin(_fingerprints(images), self._fingerprints)
            if overlap.any():
                raise ValueError(f"{int(overlap.sum())} query image(s) are part of the reference set "
                                 f"(first at position {int(overlap.nonzero()[0])}); query with images the "
                                 "statistics never saw, or pass allow_reference_images=True")
        return filter_saliency(self.model, images, labels, self.batch_size).cpu()

    @checked(scorer=SCORER)
    def score(self, values: torch.Tensor, scorer="zscore") -> torch.Tensor:
        """Scores [N, F] of raw statistic values, higher = more salient, by a name in SCORERS or a callable."""
        self.check_fitted()
        values = torch.as_tensor(values)
        if values.ndim != 2 or values.shape[1] != len(self.index_):
            raise ValueError(f"values must have shape [N, {len(self.index_)}]; got {tuple(values.shape)}")
        if not values.is_floating_point():
            raise TypeError(f"values must be the raw statistic (floating point); got dtype {values.dtype}")
        missing = ~torch.isfinite(values).all(1)
        if missing.any():
            warnings.warn(f"values have NaN or Inf in {int(missing.sum())} of {len(values)} rows (first: row "
                          f"{int(missing.nonzero()[0])}); their scores are not meaningful",
                          DegenerateStatisticsWarning, stacklevel=2)
        return resolve_scorer(scorer)(self, values.to(torch.float32).cpu())

    @checked(scorer=SCORER)
    def rank(self, values: torch.Tensor, scorer="zscore") -> pd.DataFrame:
        """Tidy ranking: one row per (image, filter) with layer, stage, depth, filter, statistic, score,
        rank (1 = most salient; all filters of all layers ranked together)."""
        scores = self.score(values, scorer)
        n, f = scores.shape
        order = torch.argsort(scores, dim=1, descending=True, stable=True)
        ranks = torch.empty_like(order)
        ranks.scatter_(1, order, torch.arange(1, f + 1).expand(n, f))
        table = self.index_.iloc[np.tile(np.arange(f), n)].reset_index(drop=True)
        table.insert(0, "image", np.repeat(np.arange(n), f))
        table["statistic"] = torch.as_tensor(values).reshape(-1).numpy()
        table["score"] = scores.reshape(-1).numpy()
        table["rank"] = ranks.reshape(-1).numpy()
        return table

    # -- persistence
    def state_dict(self) -> dict:
        """The fitted statistics as plain tensors and ints (what ``save`` writes, without the header)."""
        self.check_fitted()
        return {"n": self.n_, "mean": self.mean_, "m2": self._m2, "tail": self.tail_, "sample": self.sample_,
                "fingerprints": self._fingerprints, "max_tail": self.max_tail, "sample_size": self.sample_size}

    def save(self, path) -> None:
        """Save the fitted statistics (not the model) in the versioned format of ``paramsal.storage``:
        with the model's layer names, filter counts and weights fingerprint and a checksum, checked by ``load``."""
        storage.write(self.state_dict(), self.index_, path, storage.weights_fingerprint(self.model))

    @classmethod
    def load(cls, model: nn.Module, path, **kwargs) -> "ParameterSaliency":
        """Fitted statistics from ``save``, for the same model (architecture and weights);
        ``storage.StatisticsFileError`` (a ValueError naming the file and the problem) for a damaged, altered or
        foreign file, or one fitted for other weights (both fingerprints named)."""
        probe = filter_index(model)
        state = storage.read(path, probe, storage.weights_fingerprint(model))
        ps = cls(model, max_tail=max(int(state["max_tail"]), 1), sample_size=max(int(state["sample_size"]), 1),
                 **kwargs)
        ps.n_, ps.mean_, ps._m2 = int(state["n"]), state["mean"], state["m2"]
        ps.tail_, ps.sample_, ps._fingerprints = state["tail"], state["sample"], state["fingerprints"]
        return ps


def _top_rows(parts: list[torch.Tensor], k: int, columns: int = 2048, out: torch.Tensor | None = None) -> torch.Tensor:
    """The ``k`` largest entries of each column of the row-wise concatenation of ``parts``, descending.
    Column block by column block, so neither the concatenation nor the int64 indices ``topk`` also
    returns exist in full (for 26,560 filters and 2,001 rows, 425 MB of indices). ``out`` may be
    ``parts[0]`` itself (each block is read before it is overwritten)."""
    k = min(k, sum(len(p) for p in parts))
    if out is None or out.shape != (k, parts[0].shape[1]):
        out = torch.empty(k, parts[0].shape[1], dtype=parts[0].dtype)
    for lo in range(0, out.shape[1], columns):
        out[:, lo:lo + columns] = torch.cat([p[:, lo:lo + columns] for p in parts]).topk(k, dim=0).values
    return out


@dataclass(frozen=True)
class _Moments:
    n: int
    mean: torch.Tensor
    m2: torch.Tensor

    def merge(self, other: "_Moments") -> "_Moments":
        """Chan et al.'s pairwise combination of counts, means and sums of squared deviations."""
        n = self.n + other.n
        if other.n == 0:
            return self
        if self.n == 0:
            return other
        delta = other.mean - self.mean
        return _Moments(n, self.mean + delta * (other.n / n), self.m2 + other.m2 + delta**2 * (self.n * other.n / n))
