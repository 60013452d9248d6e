"""The exact per-sample filter statistic ``s_j(x) = mean |dCE(f(x), y) / dW_j|`` for a whole batch.

A forward hook on every conv keeps its input, a tensor hook on its output receives the gradient there
during one batched backward pass (to the input, so parameter ``.grad`` is never touched), and the
per-sample weight gradients are formed from the two (written by hand: Captum and torch.func offer no
per-sample filter *statistic*, and ``vmap(grad)`` is slower on CPU).
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm.auto import tqdm

from .. import checks
from .._torch import in_layout, memory_layout_fallback, preserved_state
from ..models.filters import conv_layers

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
    if conv.groups == conv.in_channels > 1:
        stat = _depthwise_filter_stat
    else:
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
    g = grad_out.reshape(batch * groups, out_ch // groups, out_h * out_w)
    total = torch.zeros(batch * groups, out_ch // groups, dtype=grad_out.dtype, device=grad_out.device)
    for window in _offset_windows(conv, padded, (out_h, out_w)):
        cols = window.permute(0, 2, 3, 1).reshape(batch, out_h * out_w, groups, in_ch)
        cols = cols.permute(0, 2, 1, 3).reshape(batch * groups, out_h * out_w, in_ch)
        total += torch.bmm(g, cols).abs_().sum(-1)
    return total.view(batch, out_ch)


def _depthwise_filter_stat(conv: nn.Conv2d, inputs: torch.Tensor, grad_out: torch.Tensor, padding,
                           workspace: "_Workspace") -> torch.Tensor:
    """Depthwise convolutions (one input channel per group): each offset's per-sample gradient is one
    number per output channel, an elementwise product summed over positions; no matmul, no copies of
    the window (5-10x faster than the grouped path's per-group matmuls)."""
    (ph, pw), multiplier = padding, conv.out_channels // conv.in_channels
    padded = F.pad(inputs, (pw, pw, ph, ph))
    if multiplier > 1:
        padded = padded.repeat_interleave(multiplier, dim=1)
    total = torch.zeros(grad_out.shape[:2], dtype=grad_out.dtype, device=grad_out.device)
    for window in _offset_windows(conv, padded, grad_out.shape[-2:]):
        total += (grad_out * window).sum((2, 3)).abs_()
    return total


def _offset_windows(conv: nn.Conv2d, padded: torch.Tensor, out_size) -> Iterator[torch.Tensor]:
    """For each kernel offset, the strided view of ``padded`` that the offset's weight multiplies:
    [B, C, out_h, out_w] (no copy)."""
    (kh, kw), (sh, sw), (dh, dw), (out_h, out_w) = conv.kernel_size, conv.stride, conv.dilation, out_size
    for dy in range(kh):
        for dx in range(kw):
            y0, x0 = dy * dh, dx * dw
            yield padded[:, :, y0:y0 + sh * (out_h - 1) + 1:sh, x0:x0 + sw * (out_w - 1) + 1:sw]


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
    images, labels = checks.images_and_labels(images, labels, model=model)
    batch_size = checks.positive_int(batch_size, "batch_size")
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
    images, labels = checks.images_and_labels(images, labels, model=model)
    labels = checks.labels_for(model, labels, images)
    weights = [conv.weight for _, conv in convs]
    rows = []
    with preserved_state(model):
        model.eval()
        for p in weights:
            p.requires_grad_(True)
        for x, y in zip(checks.model_input(images, model), labels):
            loss = F.cross_entropy(model(x[None]), y[None].to(weights[0].device))
            grads = torch.autograd.grad(loss, weights)
            rows.append(torch.cat([g.abs().mean(dim=(1, 2, 3)) for g in grads]))
    return torch.stack(rows)
