"""Parameter saliency (Levin et al. 2022): which conv filters an image's loss blames.

The per-sample, per-filter statistic ``s_j(x) = mean |dCE(f(x), y) / dW_j|`` (conv weights only, eval
mode) is computed for a whole batch at once: a forward hook on every conv keeps its input, a tensor
hook on its output receives the gradient there during one batched backward pass (to the input, so
parameter ``.grad`` is never touched), and the per-sample weight gradients are formed from the two
(written by hand: Captum and torch.func offer no per-sample filter *statistic*, and
``vmap(grad)`` is slower on CPU).
"""
from __future__ import annotations

import hashlib
import os
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pandas as pd
import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm.auto import tqdm

from . import evt
from .models import conv_layers, filter_index, in_layout, memory_layout_fallback, preserved_state

_CHUNK_BYTES = 2 ** 21          # per-chunk [B, out, in] products stay in a 2 MB L2 cache
_MAX_CHUNK = 32


def _per_sample_filter_stat(conv: nn.Conv2d, inputs: torch.Tensor, grad_out: torch.Tensor,
                            workspace: "_Workspace") -> torch.Tensor:
    """[B, out_channels]: mean over (in, kh, kw) of |per-sample dL/dW| of one conv layer.

    The per-sample weight gradient is ``dW[b, o, c, dy, dx] = sum_p g[b, o, p] x[b, c, p + offset]``.
    Instead of materializing it (or im2col), one batched matmul per kernel offset gives the [B, O, C]
    slice for that offset, and its |.| is accumulated at once: 2-4x faster than unfold + bmm on CPU.
    The batch is cut into chunks whose products stay in cache, and buffers are reused across calls.
    """
    padding = (0, 0)
    if conv.padding_mode != "zeros":
        inputs = F.pad(inputs, conv._reversed_padding_repeated_twice, mode=conv.padding_mode)
    else:
        padding = _explicit_padding(conv) if isinstance(conv.padding, str) else conv.padding
    stat = _stride1_filter_stat if conv.groups == 1 and conv.stride == (1, 1) else _strided_filter_stat
    per_image = conv.out_channels * conv.in_channels // conv.groups * grad_out.element_size()
    step = max(1, min(_MAX_CHUNK, _CHUNK_BYTES // per_image))
    chunks = [stat(conv, inputs[lo:lo + step], grad_out[lo:lo + step], padding, workspace)
              for lo in range(0, len(inputs), step)]
    return torch.cat(chunks) / (conv.in_channels // conv.groups * conv.kernel_size[0] * conv.kernel_size[1])


def _strided_filter_stat(conv: nn.Conv2d, inputs: torch.Tensor, grad_out: torch.Tensor, padding,
                         workspace: "_Workspace") -> torch.Tensor:
    """Any stride and groups: the [B*groups, O/groups, C/groups] slice of each offset from a strided view."""
    (ph, pw), groups = padding, conv.groups
    padded = F.pad(inputs, (pw, pw, ph, ph)).contiguous(memory_format=torch.channels_last)
    batch, out_ch, out_h, out_w = grad_out.shape
    in_ch = padded.shape[1] // groups
    (kh, kw), (sh, sw), (dh, dw) = conv.kernel_size, conv.stride, conv.dilation
    g = grad_out.reshape(batch * groups, out_ch // groups, out_h * out_w)
    total = torch.zeros(batch * groups, out_ch // groups, dtype=grad_out.dtype, device=grad_out.device)
    for dy in range(kh):
        for dx in range(kw):
            y0, x0 = dy * dh, dx * dw
            window = padded[:, :, y0:y0 + sh * (out_h - 1) + 1:sh, x0:x0 + sw * (out_w - 1) + 1:sw]
            cols = window.permute(0, 2, 3, 1).reshape(batch, out_h * out_w, groups, in_ch)
            cols = cols.permute(0, 2, 1, 3).reshape(batch * groups, out_h * out_w, in_ch)
            total += torch.bmm(g, cols).abs_().sum(-1)
    return total.view(batch, out_ch)


def _stride1_filter_stat(conv: nn.Conv2d, inputs: torch.Tensor, grad_out: torch.Tensor, padding,
                         workspace: "_Workspace") -> torch.Tensor:
    """Stride-1, ungrouped case without copies per offset: each kernel offset is a contiguous slice
    of the flattened channels-last padded input, paired with the gradient padded by zero columns to
    the padded width (the zeros cancel the terms that wrap around row ends). The zero borders of
    both buffers are written once and kept."""
    (ph, pw), (kh, kw), (dh, dw) = padding, conv.kernel_size, conv.dilation
    batch, out_ch, out_h, out_w = grad_out.shape
    _, in_ch, in_h, in_w = inputs.shape
    width = in_w + 2 * pw                                       # = out_w + (kw - 1) * dw
    padded = workspace.buffer(("x", ph, pw), (batch, in_h + 2 * ph + 1, width, in_ch), inputs)
    padded[:, ph:ph + in_h, pw:pw + in_w].copy_(inputs.permute(0, 2, 3, 1))
    flat = padded.view(batch, -1, in_ch)
    g = workspace.buffer(("g", out_w), (batch, out_ch, out_h, width), grad_out)
    g[..., :out_w].copy_(grad_out)
    g = g.view(batch, out_ch, out_h * width)
    windows = [flat[:, start:start + out_h * width]
               for start in (dy * dh * width + dx * dw for dy in range(kh) for dx in range(kw))]
    total = torch.bmm(g, windows[0], out=workspace.buffer("total", (batch, out_ch, in_ch), grad_out)).abs_()
    product = workspace.buffer("product", (batch, out_ch, in_ch), grad_out)
    for window in windows[1:]:
        total.add_(torch.bmm(g, window, out=product).abs_())
    return total.sum(-1)


class _Workspace:
    """Buffers reused by every conv hook of one call: fresh large allocations cost page faults."""

    def __init__(self):
        self._buffers: dict = {}

    def buffer(self, role, shape, like: torch.Tensor) -> torch.Tensor:
        """A buffer that starts as zeros; callers that write only its interior keep its borders zero."""
        key = (role, tuple(shape), like.dtype, like.device)
        if key not in self._buffers:
            self._buffers[key] = torch.zeros(shape, dtype=like.dtype, device=like.device)
        return self._buffers[key]


def _explicit_padding(conv: nn.Conv2d) -> tuple[int, int]:
    if conv.padding == "valid":
        return (0, 0)
    if any((d * (k - 1)) % 2 for d, k in zip(conv.dilation, conv.kernel_size)):
        raise ValueError(f"padding='same' with an asymmetric pad is not supported ({conv})")
    return tuple(d * (k - 1) // 2 for d, k in zip(conv.dilation, conv.kernel_size))


@contextmanager
def _filter_stat_hooks(model: nn.Module, columns: list[torch.Tensor], workspace: _Workspace) -> Iterator[None]:
    """Hooks that fill ``columns[i]`` with the [B, out] statistic of conv ``i`` during backward."""
    handles = []
    calls = [0] * len(columns)

    def forward_hook(i, conv):
        def hook(module, args, output):
            calls[i] += 1
            if calls[i] > 1:
                raise ValueError(f"conv layer {conv} is called more than once per forward pass (shared "
                                 "weights); its per-sample filter statistic is not supported")
            x = args[0].detach()

            def on_grad(grad):
                columns[i] = _per_sample_filter_stat(conv, x, grad, workspace)
            if output.requires_grad:
                output.register_hook(on_grad)
        return hook

    try:
        for i, (_, conv) in enumerate(conv_layers(model)):
            handles.append(conv.register_forward_hook(forward_hook(i, conv)))
        yield
    finally:
        for handle in handles:
            handle.remove()


def _check_batch(model: nn.Module, images, labels) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        raise ValueError(f"images must be a tensor [N, C, H, W]; got "
                         f"{tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__}")
    labels = torch.as_tensor(labels)
    if labels.ndim != 1 or len(labels) != len(images):
        raise ValueError(f"labels must be a 1-D tensor with one label per image ({len(images)}); "
                         f"got shape {tuple(labels.shape)}")
    if labels.dtype.is_floating_point or labels.dtype == torch.bool:
        raise TypeError(f"labels must be integer class indices; got dtype {labels.dtype}")
    if not images.dtype.is_floating_point:
        raise TypeError(f"images must be floating point in [0, 1]; got dtype {images.dtype}")
    return images, labels.long()


def filter_saliency(model: nn.Module, images: torch.Tensor, labels, batch_size: int = 128,
                    progress: bool = False) -> torch.Tensor:
    """Per-sample, per-filter saliency ``mean |dCE(f(x_n), y_n) / dW_j|``: a tensor [N, F].

    Columns follow ``saltools.models.filter_index(model)``. The model is used in eval mode (BatchNorm
    with running statistics, so the images do not interact) and left exactly as it was found.
    Exact: equals the one-image-at-a-time definition (to float rounding).

    Parameters
    ----------
    images : [N, C, H, W] floating point in the model's input range.
    labels : [N] integer true labels (the statistic uses the true label, not the prediction).
    batch_size : images per forward/backward pass.
    """
    convs = conv_layers(model)
    images, labels = _check_batch(model, images, labels)
    with preserved_state(model):
        model.eval()
        return memory_layout_fallback(model, lambda channels_last: _filter_saliency(model, convs, images, labels, batch_size, progress, channels_last))


def _filter_saliency(model, convs, images, labels, batch_size, progress, channels_last) -> torch.Tensor:
    param = next(model.parameters())
    workspace, out = _Workspace(), []
    for lo in tqdm(range(0, len(images), batch_size), disable=not progress, desc="filter saliency"):
        x = in_layout(images[lo:lo + batch_size].to(param), channels_last).requires_grad_(True)
        y = labels[lo:lo + batch_size].to(param.device)
        columns: list = [None] * len(convs)
        with _filter_stat_hooks(model, columns, workspace), torch.enable_grad():
            logits = model(x)
            if lo == 0 and (labels.min() < 0 or labels.max() >= logits.shape[1]):
                raise ValueError(f"labels must lie in [0, {logits.shape[1] - 1}] for this model; "
                                 f"got values in [{labels.min().item()}, {labels.max().item()}]")
            torch.autograd.grad(F.cross_entropy(logits, y, reduction="sum"), x)
        missing = [name for (name, _), col in zip(convs, columns) if col is None]
        if missing:
            raise RuntimeError(f"no gradient reached conv layers {missing[:3]}: are they used in forward?")
        out.append(torch.cat(columns, dim=1).detach())
    if not out:
        return torch.empty(0, sum(c.out_channels for _, c in convs))
    return torch.cat(out)


def filter_saliency_loop(model: nn.Module, images: torch.Tensor, labels) -> torch.Tensor:
    """The reference definition, one image at a time with autograd (slow; for tests and benchmarks)."""
    convs = conv_layers(model)
    images, labels = _check_batch(model, images, labels)
    weights = [conv.weight for _, conv in convs]
    rows = []
    with preserved_state(model):
        model.eval()
        for p in weights:
            p.requires_grad_(True)
        for x, y in zip(images, labels):
            loss = F.cross_entropy(model(x[None].to(weights[0].device)), y[None].to(weights[0].device))
            grads = torch.autograd.grad(loss, weights)
            rows.append(torch.cat([g.abs().mean(dim=(1, 2, 3)) for g in grads]))
    return torch.stack(rows)


# ----------------------------------------------------------------------------- reference statistics
def _fingerprints(images: torch.Tensor) -> torch.Tensor:
    """One int64 per image: a hash of its float32 pixels (to recognize reference images)."""
    flat = images.detach().to("cpu", torch.float32).contiguous().view(len(images), -1).numpy()
    return torch.tensor([int.from_bytes(hashlib.blake2b(row.tobytes(), digest_size=8).digest(), "little", signed=True)
                         for row in flat], dtype=torch.int64)


def _batches(reference, labels, batch_size: int):
    """Yield (images, labels) batches from a tensor (+labels), a Dataset, or an iterable of batches."""
    if isinstance(reference, torch.Tensor):
        if labels is None:
            raise ValueError("labels are required when the reference set is a tensor of images")
        labels = torch.as_tensor(labels)
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

    def __init__(self, model: nn.Module, *, max_tail: int = 2000, sample_size: int = 1000,
                 batch_size: int = 128, seed: int = 0, progress: bool = True):
        self.index_ = filter_index(model)
        self.model = model
        self.max_tail, self.sample_size = int(max_tail), int(sample_size)
        self.batch_size, self.seed, self.progress = int(batch_size), int(seed), progress
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
    def fit(self, reference, labels=None) -> "ParameterSaliency":
        """Reference statistics from a Dataset of (image, label, ...), a loader of batches, or images + labels."""
        self._reset()
        total = len(reference) if hasattr(reference, "__len__") else None
        bar = tqdm(total=total, disable=not self.progress, desc="reference statistics")
        for images, batch_labels in _batches(reference, labels, self.batch_size):
            self.partial_fit(images, batch_labels)
            bar.update(len(images))
        bar.close()
        if self.n_ == 0:
            raise ValueError("the reference set is empty")
        return self

    def partial_fit(self, images: torch.Tensor, labels) -> "ParameterSaliency":
        """Add one batch of reference images to the statistics."""
        values = filter_saliency(self.model, images, labels, self.batch_size)
        self._fingerprints = torch.cat([self._fingerprints, _fingerprints(images)])
        self._update(values.to("cpu", torch.float32))
        return self

    def _update(self, values: torch.Tensor) -> None:
        batch = _Moments(len(values), values.double().mean(0), ((values.double() - values.double().mean(0)) ** 2).sum(0))
        merged = _Moments(self.n_, self.mean_, self._m2).merge(batch)
        seen = self.n_
        self.n_, self.mean_, self._m2 = merged.n, merged.mean, merged.m2
        keep = min(self.max_tail + 1, len(self.tail_) + len(values))
        self.tail_ = torch.cat([self.tail_, values]).topk(keep, dim=0).values
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
        keep = min(self.max_tail + 1, len(self.tail_) + len(other.tail_))
        self.tail_ = torch.cat([self.tail_, other.tail_]).topk(keep, dim=0).values
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
    def std_(self) -> torch.Tensor:
        """Unbiased standard deviation per filter."""
        self._check_fitted()
        return (self._m2 / max(self.n_ - 1, 1)).sqrt()

    def tail_fit(self, quantile: float = 0.9, exponential: bool = False) -> "TailFit":
        """GPD (or exponential) fit per filter to the reference values above the ``quantile`` (cached)."""
        self._check_fitted()
        key = (float(quantile), exponential)
        if key not in self._tail_fits:
            self._tail_fits[key] = TailFit.from_stats(self, quantile, exponential)
        return self._tail_fits[key]

    def _check_fitted(self) -> None:
        if self.n_ == 0:
            raise RuntimeError("ParameterSaliency is not fitted: call fit(reference) first")

    # -- queries
    def saliency(self, images: torch.Tensor, labels, allow_reference_images: bool = False) -> torch.Tensor:
        """The raw statistic [N, F] of query images; refuses images of the reference set unless allowed."""
        self._check_fitted()
        if not allow_reference_images:
            overlap = torch.isin(_fingerprints(images), self._fingerprints)
            if overlap.any():
                raise ValueError(f"{int(overlap.sum())} query image(s) are part of the reference set "
                                 f"(first at position {int(overlap.nonzero()[0])}); query with images the "
                                 "statistics never saw, or pass allow_reference_images=True")
        return filter_saliency(self.model, images, labels, self.batch_size).cpu()

    def score(self, values: torch.Tensor, scorer="zscore") -> torch.Tensor:
        """Scores [N, F] of raw statistic values, higher = more salient, by a name in SCORERS or a callable."""
        self._check_fitted()
        values = torch.as_tensor(values)
        if values.ndim != 2 or values.shape[1] != len(self.index_):
            raise ValueError(f"values must have shape [N, {len(self.index_)}]; got {tuple(values.shape)}")
        return _scorer(scorer)(self, values.to(torch.float32).cpu())

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
        """Plain tensors (loadable with ``torch.load(..., weights_only=True)``)."""
        self._check_fitted()
        return {"n": torch.tensor(self.n_), "mean": self.mean_, "m2": self._m2, "tail": self.tail_,
                "sample": self.sample_, "fingerprints": self._fingerprints,
                "layers": torch.tensor([int(d) for d in self.index_.depth]),
                "max_tail": torch.tensor(self.max_tail), "sample_size": torch.tensor(self.sample_size)}

    def save(self, path) -> None:
        """Save the fitted statistics (not the model)."""
        torch.save(self.state_dict(), path)

    @classmethod
    def load(cls, model: nn.Module, path, **kwargs) -> "ParameterSaliency":
        """Fitted statistics from ``save``, for the same model architecture."""
        state = torch.load(path, map_location="cpu", weights_only=True)
        ps = cls(model, max_tail=int(state["max_tail"]), sample_size=int(state["sample_size"]), **kwargs)
        if len(state["mean"]) != len(ps.index_):
            raise ValueError(f"statistics for {len(state['mean'])} filters cannot describe a model with {len(ps.index_)}")
        ps.n_, ps.mean_, ps._m2 = int(state["n"]), state["mean"], state["m2"]
        ps.tail_, ps.sample_, ps._fingerprints = state["tail"], state["sample"], state["fingerprints"]
        return ps


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


# ----------------------------------------------------------------------------- scorers
def zscore(stats: ParameterSaliency, values: torch.Tensor) -> torch.Tensor:
    """``(s - mean) / std`` per filter; a std <= 1e-14 counts as 1 (as the original code)."""
    std = stats.std_.clone()
    std[std <= 1e-14] = 1.0
    return ((values.double() - stats.mean_) / std).float()


@dataclass(frozen=True)
class TailFit:
    """Per-filter peaks-over-threshold model: threshold, GPD shape and scale, log of P(S > threshold)."""

    quantile: float
    threshold: np.ndarray
    shape: np.ndarray
    scale: np.ndarray
    log_rate: float
    n_excesses: int

    @classmethod
    def from_stats(cls, stats: ParameterSaliency, quantile: float, exponential: bool = False) -> "TailFit":
        if not 0 < quantile < 1:
            raise ValueError(f"quantile must lie in (0, 1); got {quantile}")
        k = int(np.floor((1 - quantile) * stats.n_ + 1e-9))
        if k > len(stats.tail_) - 1:
            warnings.warn(f"the {quantile} quantile needs {k} tail values per filter but only "
                          f"{len(stats.tail_) - 1} were kept (max_tail); using a higher threshold",
                          RuntimeWarning, stacklevel=3)
            k = len(stats.tail_) - 1
        if k < 1:
            raise ValueError(f"{stats.n_} reference images leave no excesses above the {quantile} quantile")
        tail = stats.tail_.double().numpy()
        threshold = tail[k]
        excesses = (tail[:k] - threshold).T                       # [F, k]
        if exponential:
            shape, scale = np.zeros(len(threshold)), excesses.mean(1)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)      # dead filters: exponential fallback
                shape, scale = evt.fit_gpd(excesses)
        return cls(quantile, threshold, shape, scale, float(np.log(k / stats.n_)), k)

    def log_tail_probability(self, values: torch.Tensor, sample: torch.Tensor) -> torch.Tensor:
        """log P(S >= s) per value [N, F]: GPD tail above the threshold (log space; 0 beyond a negative
        shape's endpoint gives -inf), empirical tail of the reservoir sample below it."""
        v = values.double().numpy()
        above = v > self.threshold
        with np.errstate(divide="ignore", invalid="ignore"):
            gpd = self.log_rate + evt.gpd_log_sf(v - self.threshold, self.shape, self.scale)
            gpd = np.where(self.scale > 0, gpd, -np.inf)       # a filter constant in the reference
        ordered = torch.sort(sample.double().T.contiguous(), dim=1).values          # [F, S]
        below_count = torch.searchsorted(ordered, values.double().T.contiguous(), side="left")   # [F, N]
        at_least = (ordered.shape[1] - below_count).T.numpy()
        empirical = np.log((at_least + 1) / (ordered.shape[1] + 1))
        return torch.from_numpy(np.where(above, gpd, empirical))


def pot(stats: ParameterSaliency, values: torch.Tensor, quantile: float = 0.9) -> torch.Tensor:
    """Peaks-over-threshold saliency (Wang & Sato): ``-log P(S_j >= s_j)`` from a GPD fitted per filter
    to the reference values above its ``quantile``; +inf beyond a negative shape's endpoint."""
    fit = stats.tail_fit(quantile)
    return (-fit.log_tail_probability(values, stats.sample_)).float()


def exponential_tail(stats: ParameterSaliency, values: torch.Tensor, quantile: float = 0.9) -> torch.Tensor:
    """Like ``pot`` with the GPD shape fixed at 0 (an exponential tail): what the published code's
    fitting effectively returned on heavy-tailed data."""
    fit = stats.tail_fit(quantile, exponential=True)
    return (-fit.log_tail_probability(values, stats.sample_)).float()


def random_scores(stats: ParameterSaliency, values: torch.Tensor) -> torch.Tensor:
    """A random ranking (seeded by the statistics' seed): the baseline every scorer must beat."""
    generator = torch.Generator().manual_seed(stats.seed)
    return torch.rand(values.shape, generator=generator)


def last_stage_raw(stats: ParameterSaliency, values: torch.Tensor) -> torch.Tensor:
    """The "largest raw statistic in the last stage" heuristic: last-stage filters ordered by their raw
    value, all other filters after them (Wang & Sato's strongest baseline)."""
    index = stats.index_
    last = torch.tensor((index.stage == index.stage.iloc[-1]).to_numpy())
    return torch.where(last, values.float(), torch.full_like(values.float(), -torch.inf))


SCORERS: dict[str, Callable[[ParameterSaliency, torch.Tensor], torch.Tensor]] = {
    "zscore": zscore, "pot": pot, "exponential": exponential_tail, "random": random_scores,
    "last_stage_raw": last_stage_raw}


def _scorer(scorer):
    if callable(scorer):
        return scorer
    if scorer not in SCORERS:
        raise ValueError(f"unknown scorer {scorer!r}; expected one of {sorted(SCORERS)} or a callable")
    return SCORERS[scorer]


# ----------------------------------------------------------------------------- interventions
@contextmanager
def edited_filters(model: nn.Module, keep: torch.Tensor | None = None, step: torch.Tensor | None = None,
                   grads: list[torch.Tensor] | None = None, lr: float = 1e-3) -> Iterator[None]:
    """Evaluate batch row ``r`` as if filters had been edited for that row only (hooks, removed on exit).

    keep : [R, F] 1 = keep, 0 = zero the filter's weights (its output becomes its bias).
    step : [R, F] 1 = apply one SGD step ``W_j - lr * grads_j`` to the filter, 0 = leave it.
    Exact, because conv output channel ``j`` depends only on filter ``j``: zeroing it, or moving it by
    ``-lr g_j``, changes that channel alone, by a term one extra convolution computes.
    """
    convs = conv_layers(model)
    bounds = np.cumsum([0] + [c.out_channels for _, c in convs])
    handles = []

    def hook_for(i, conv):
        lo, hi = bounds[i], bounds[i + 1]

        def hook(module, args, output):
            if step is not None:
                update = conv._conv_forward(args[0], grads[i], None)
                output = output - lr * update * step[:, lo:hi, None, None].to(output)
            if keep is not None:
                k = keep[:, lo:hi, None, None].to(output)
                bias = 0.0 if conv.bias is None else conv.bias[None, :, None, None]
                output = output * k + bias * (1 - k)
            return output
        return hook

    try:
        for i, (_, conv) in enumerate(convs):
            handles.append(conv.register_forward_hook(hook_for(i, conv)))
        yield
    finally:
        for handle in handles:
            handle.remove()


def _conv_weight_grads(model: nn.Module, image: torch.Tensor, label: int) -> list[torch.Tensor]:
    weights = [conv.weight for _, conv in conv_layers(model)]
    with torch.enable_grad():
        for w in weights:
            w.requires_grad_(True)
        loss = F.cross_entropy(model(image[None]), torch.tensor([label], device=image.device))
        return [g.detach() for g in torch.autograd.grad(loss, weights)]


def edited_probabilities(model: nn.Module, image: torch.Tensor, label: int, columns, method: str = "zero",
                         lr: float = 1e-3) -> torch.Tensor:
    """Softmax probabilities of one image after zeroing (or one SGD step on) the filters ``columns``."""
    n_filters = sum(c.out_channels for _, c in conv_layers(model))
    device = next(model.parameters()).device
    mask = torch.zeros(1, n_filters, device=device)
    mask[0, torch.as_tensor(columns, dtype=torch.long)] = 1.0
    x = image.to(device)
    with preserved_state(model):
        model.eval()
        if method == "zero":
            edit = edited_filters(model, keep=1 - mask)
        elif method == "finetune":
            edit = edited_filters(model, step=mask, grads=_conv_weight_grads(model, x, int(label)), lr=lr)
        else:
            raise ValueError(f"unknown method {method!r}; expected 'zero' or 'finetune'")
        with edit, torch.no_grad():
            return F.softmax(model(x[None]), dim=1)[0].cpu()


SELECTIONS = ("salient", "random", "least")


def _orderings(scores: torch.Tensor, selections, generator: torch.Generator) -> dict[str, torch.Tensor]:
    out = {}
    for name in selections:
        if name == "salient":
            out[name] = torch.argsort(scores, descending=True, stable=True)
        elif name == "least":
            out[name] = torch.argsort(scores, descending=False, stable=True)
        elif name == "random":
            out[name] = torch.randperm(len(scores), generator=generator)
        else:
            raise ValueError(f"unknown selection {name!r}; expected some of {SELECTIONS}")
    return out


def intervention_curves(model: nn.Module, images: torch.Tensor, labels, scores: torch.Tensor,
                        ks=range(1, 26), methods=("zero", "finetune"), selections=SELECTIONS,
                        lr: float = 1e-3, seed: int = 0, progress: bool = True) -> pd.DataFrame:
    """Edit the top-k filters of each image and measure the effect, for every k, method and selection.

    For image ``n`` the filters are ordered by ``scores[n]`` ("salient": highest first, "least":
    lowest first) or at random ("random", nested sets, seeded). Methods: "zero" sets the filters'
    weights to 0; "finetune" applies one SGD step (``lr``) on the image's own loss to those filters
    only. The model itself is never modified (hooks evaluate every variant in one batch).

    Returns one row per (image, method, selection, k): ``p_true`` / ``p_wrong`` (softmax probability
    of the true class / of the class predicted before editing) before and after, their changes
    ``d_true`` / ``d_wrong``, the relative change ``d_wrong_rel``, and ``corrected`` (the edited
    model predicts the true label).
    """
    images, labels = _check_batch(model, images, labels)
    scores = torch.as_tensor(scores)
    n_filters = sum(c.out_channels for _, c in conv_layers(model))
    if scores.shape != (len(images), n_filters):
        raise ValueError(f"scores must have shape [{len(images)}, {n_filters}]; got {tuple(scores.shape)}")
    ks = [int(k) for k in ks]
    if not ks or min(ks) < 0 or max(ks) > n_filters:
        raise ValueError(f"ks must be filter counts in [0, {n_filters}]; got {ks[:5]}...")
    for m in methods:
        if m not in ("zero", "finetune"):
            raise ValueError(f"unknown method {m!r}; expected 'zero' or 'finetune'")
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(seed)
    rows = []
    with preserved_state(model):
        model.eval()
        for n in tqdm(range(len(images)), disable=not progress, desc="interventions"):
            x, y = images[n].to(device), int(labels[n])
            with torch.no_grad():
                before = F.softmax(model(x[None]), dim=1)[0]
            wrong = int(before.argmax())
            orders = _orderings(scores[n], selections, generator)
            masks = torch.zeros(len(selections) * len(ks), n_filters, device=device)
            for s, name in enumerate(selections):
                for j, k in enumerate(ks):
                    masks[s * len(ks) + j, orders[name][:k]] = 1.0
            batch = x[None].expand(len(masks), *x.shape)
            for method in methods:
                if method == "zero":
                    edit = edited_filters(model, keep=1 - masks)
                else:
                    edit = edited_filters(model, step=masks, grads=_conv_weight_grads(model, x, y), lr=lr)
                with edit, torch.no_grad():
                    after = F.softmax(model(batch), dim=1)
                for s, name in enumerate(selections):
                    for j, k in enumerate(ks):
                        p = after[s * len(ks) + j]
                        rows.append((n, method, name, k, before[y].item(), p[y].item(), before[wrong].item(),
                                     p[wrong].item(), int(p.argmax()) == y))
    table = pd.DataFrame(rows, columns=["image", "method", "selection", "k", "p_true_before", "p_true",
                                       "p_wrong_before", "p_wrong", "corrected"])
    table["d_true"] = table.p_true - table.p_true_before
    table["d_wrong"] = table.p_wrong - table.p_wrong_before
    table["d_wrong_rel"] = table.d_wrong / table.p_wrong_before
    return table


# ----------------------------------------------------------------------------- input-space projection
def input_projection(stats: ParameterSaliency, image: torch.Tensor, label: int, top: int = 10,
                     boost: float = 100.0) -> torch.Tensor:
    """Which pixels drive the image's most salient filters (Levin et al.): an [H, W] map.

    The image's z-scored saliency profile ``z(x)`` is compared (cosine similarity) with a copy whose
    ``top`` largest entries are multiplied by ``boost``; the map is ``max_c |d sim / d x_c|``. Needs
    a double backward through the network (one image at a time).
    """
    stats._check_fitted()
    model = stats.model
    if not isinstance(image, torch.Tensor) or image.ndim != 3:
        raise ValueError(f"image must be a tensor [C, H, W]; got {getattr(image, 'shape', type(image))}")
    device = next(model.parameters()).device
    weights = [conv.weight for _, conv in conv_layers(model)]
    std = stats.std_.clone()
    std[std <= 1e-14] = 1.0
    mean, std = stats.mean_.to(device, torch.float32), std.to(device, torch.float32)
    with preserved_state(model), torch.enable_grad():
        model.eval()
        for w in weights:
            w.requires_grad_(True)
        x = image.to(device, torch.float32).clone().requires_grad_(True)
        loss = F.cross_entropy(model(x[None]), torch.tensor([int(label)], device=device))
        grads = torch.autograd.grad(loss, weights, create_graph=True)
        profile = (torch.cat([g.abs().mean(dim=(1, 2, 3)) for g in grads]) - mean) / std
        target = profile.detach().clone()
        target[target.topk(top).indices] *= boost
        similarity = F.cosine_similarity(profile, target, dim=0)
        (grad_x,) = torch.autograd.grad(similarity, x)
    return grad_x.abs().amax(0).cpu()


# ----------------------------------------------------------------------------- cached fitting
def cache_dir() -> Path:
    """Where fitted statistics are cached: ``$SALTOOLS_CACHE`` or ``~/.cache/saltools/stats``."""
    return Path(os.environ.get("SALTOOLS_CACHE", Path.home() / ".cache" / "saltools" / "stats"))


def _cache_key(model: nn.Module, reference, settings: dict) -> str:
    digest = hashlib.sha256(repr(sorted(settings.items())).encode())
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    for images, labels in _batches(reference, None, 512):
        digest.update(images.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
        digest.update(torch.as_tensor(labels).to(torch.int64).numpy().tobytes())
    return digest.hexdigest()[:32]


def reference_statistics(model: nn.Module, reference, *, cache: bool = True, max_tail: int = 2000,
                         sample_size: int = 1000, batch_size: int = 128, seed: int = 0,
                         progress: bool = True) -> ParameterSaliency:
    """``ParameterSaliency(model, ...).fit(reference)``, reused from the cache when this model (its
    weights), these reference images and labels and these settings were fitted before."""
    settings = {"max_tail": max_tail, "sample_size": sample_size, "seed": seed}
    stats = ParameterSaliency(model, batch_size=batch_size, progress=progress, **settings)
    if not cache:
        return stats.fit(reference)
    path = cache_dir() / f"{_cache_key(model, reference, settings)}.pt"
    if path.exists():
        return ParameterSaliency.load(model, path, batch_size=batch_size, progress=progress)
    stats.fit(reference)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    stats.save(tmp)
    tmp.replace(path)
    return stats


def projections(stats: ParameterSaliency, images: torch.Tensor, labels, top: int = 10,
                boost: float = 100.0, progress: bool = False) -> torch.Tensor:
    """``input_projection`` for several images: [N, H, W] (one double backward per image)."""
    images, labels = _check_batch(stats.model, images, labels)
    maps = [input_projection(stats, x, int(y), top, boost)
            for x, y in tqdm(zip(images, labels), total=len(images), disable=not progress, desc="projections")]
    return torch.stack(maps) if maps else torch.empty(0, *images.shape[-2:])


def summarize_interventions(curves: pd.DataFrame) -> pd.DataFrame:
    """Per method and selection: share corrected and change of wrong/true-class probability, averaged
    over images and over all k (``*_mean_k``) and at the largest k (``*_at_kmax``)."""
    kmax = curves.k.max()
    per_k = curves.groupby(["method", "selection", "k"])[["corrected", "d_wrong", "d_true"]].mean()
    mean_k = per_k.groupby(["method", "selection"]).mean().add_suffix("_mean_k")
    at_max = per_k.xs(kmax, level="k").add_suffix("_at_kmax")
    return mean_k.join(at_max).reset_index()


# ----------------------------------------------------------------------------- planted faults
@contextmanager
def planted_faults(model: nn.Module, columns, factor: float = -1.0) -> Iterator[nn.Module]:
    """Multiply the weights of the filters ``columns`` by ``factor`` (-1 flips them) inside the block;
    the original weights are restored on exit, also on error."""
    convs = conv_layers(model)
    bounds = np.cumsum([0] + [c.out_channels for _, c in convs])
    saved = []
    try:
        with torch.no_grad():
            for col in sorted(int(c) for c in columns):
                i = int(np.searchsorted(bounds, col, side="right") - 1)
                if not 0 <= i < len(convs):
                    raise ValueError(f"filter column {col} is out of range [0, {bounds[-1]})")
                weight = convs[i][1].weight
                saved.append((weight, col - bounds[i], weight[col - bounds[i]].clone()))
                weight[col - bounds[i]] *= factor
        yield model
    finally:
        with torch.no_grad():
            for weight, j, original in reversed(saved):
                weight[j] = original


def planted_fault_benchmark(model: nn.Module, reference, pool, *, stages=None, n_faults: int = 3,
                            factor: float = -1.0, scorers=("zscore", "pot", "exponential", "random"),
                            ks=(1, 5, 10, 20, 50), seeds=(0,), reference_model: str = "faulty",
                            progress: bool = True) -> pd.DataFrame:
    """Plant faults, then ask each scorer to find them from the mistakes they cause.

    For each stage and seed: ``n_faults`` random filters of that stage get their weights multiplied by
    ``factor``; the pool images that the model classified correctly before and wrongly after are the
    queries. ``reference_model="faulty"`` fits the reference statistics on the faulty model (as a user
    diagnosing it would), ``"clean"`` on the model before the fault (statistics kept from a healthy
    deployment).
    ``scorers``: names in SCORERS, or a dict of name -> scorer (e.g. POT at several quantiles).
    Returns one row per (stage, seed, scorer, query image): ``recall@k`` (share of the planted filters
    among its top k) for each k and ``best_rank`` / ``median_rank`` of the planted filters.
    """
    index = filter_index(model)
    stages = list(index.stage.unique()) if stages is None else list(stages)
    if reference_model not in ("faulty", "clean"):
        raise ValueError(f"reference_model must be 'faulty' or 'clean'; got {reference_model!r}")
    clean_pred = _predictions(model, pool)
    labels = torch.as_tensor(pool.labels)
    clean_stats = ParameterSaliency(model, progress=False).fit(reference) if reference_model == "clean" else None
    rows = []
    for stage in tqdm(stages, disable=not progress, desc="planted faults"):
        candidates = index.column[index.stage == stage].to_numpy()
        for seed in seeds:
            rng = np.random.default_rng(seed)
            planted = rng.choice(candidates, size=min(n_faults, len(candidates)), replace=False)
            with planted_faults(model, planted, factor):
                faulty_pred = _predictions(model, pool)
                induced = ((clean_pred == labels) & (faulty_pred != labels)).nonzero().flatten()
                if len(induced) == 0:
                    rows.append({"stage": stage, "seed": seed, "n_induced": 0})
                    continue
                stats = clean_stats or ParameterSaliency(model, progress=False).fit(reference)
                images = torch.stack([pool[int(i)][0] for i in induced])
                values = stats.saliency(images, labels[induced])
                named = scorers.items() if isinstance(scorers, dict) else [(name, name) for name in scorers]
                for scorer, how in named:
                    ranks = stats.rank(values, how)
                    hit = ranks[ranks.column.isin(planted)]
                    for image, group in hit.groupby("image"):
                        row = {"stage": stage, "seed": seed, "n_induced": len(induced), "scorer": scorer,
                               "image": int(induced[image]), "best_rank": group["rank"].min(),
                               "median_rank": group["rank"].median()}
                        row.update({f"recall@{k}": (group["rank"] <= k).mean() for k in ks})
                        rows.append(row)
    return pd.DataFrame(rows)


def _predictions(model: nn.Module, dataset) -> torch.Tensor:
    from .models import predict
    return predict(model, dataset).argmax(1)


def scorer_agreement(stats: ParameterSaliency, values: torch.Tensor, first="zscore", second="pot",
                     k: int = 20) -> pd.DataFrame:
    """Per image: Spearman correlation of two scorers' scores and the overlap of their top-k sets."""
    import scipy.stats as ss

    a, b = stats.score(values, first).double(), stats.score(values, second).double()
    rows = []
    for n in range(len(values)):
        finite = torch.isfinite(a[n]) & torch.isfinite(b[n])
        rho = ss.spearmanr(a[n][finite].numpy(), b[n][finite].numpy()).statistic
        top_a = set(torch.argsort(a[n], descending=True)[:k].tolist())
        top_b = set(torch.argsort(b[n], descending=True)[:k].tolist())
        rows.append({"image": n, "spearman": rho, "overlap": len(top_a & top_b) / k, "k": k})
    return pd.DataFrame(rows)
