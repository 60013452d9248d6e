"""Per-sample filter statistic kernels: for one conv layer, its batch of inputs ``x`` and output gradients
``g``, the ``[B, out]`` statistic ``mean over (in, kh, kw) of |dL/dW|`` of every image, with
``dW[b, o, c, dy, dx] = sum_p g[b, o, p] x[b, c, p * stride + (dy, dx) * dilation]``.

Written by hand: Captum and torch.func give no per-sample filter *statistic*, and ``vmap(grad)`` is
slower on CPU. Each kernel is the fastest measured for its layer shapes on CPU
(``python benchmarks/bench_filter_saliency.py --layers`` prints every layer's time against the batch's
summed weight gradient, the floor):

===========  =====================================  ==================================================
kernel       layers                                 why it exists
===========  =====================================  ==================================================
per_image    at most 4 input channels (RGB stems)   a matmul per kernel offset has an inner size of 3;
                                                    oneDNN's weight gradient, one image per call, is
                                                    4.5-8x faster for ResNet's stem at 224 px than
                                                    im2col, groups=B or per-offset matmuls (on par at
                                                    64 px)
pointwise    1x1, ungrouped, unpadded, any stride   no kernel offsets: one matmul over positions,
                                                    read in place from channels-last memory (9x faster
                                                    than the offset kernel for 64>256 at 56 px)
stride1      other stride-1 ungrouped               one matmul per offset on a contiguous slice of the
                                                    padded input; no window copies
strided      other strided or grouped               one matmul per offset on a strided window
depthwise    one input channel per group            no matmul: a product summed over positions
===========  =====================================  ==================================================

The batch is cut into chunks whose ``[chunk, out, in]`` products stay in a 2 MB L2 cache, and buffers
are reused across layers and batches (a ``Workspace``).
"""
from __future__ import annotations

from typing import Iterator

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..parameters import TEXT, checked

CHUNK_BYTES = 2 ** 21
MAX_CHUNK = 32
MAX_STEM_CHANNELS = 4


class Workspace:
    """Buffers reused by every conv hook of one call: fresh large allocations cost page faults."""

    def __init__(self):
        self._buffers: dict = {}

    def buffer(self, role, shape, like: torch.Tensor) -> torch.Tensor:
        """A buffer that starts as zeros; callers that write only its interior keep its borders zero."""
        key = (role, tuple(shape), like.dtype, like.device)
        if key not in self._buffers:
            self._buffers[key] = torch.zeros(shape, dtype=like.dtype, device=like.device)
        return self._buffers[key]


def kernel_name(conv: nn.Conv2d) -> str:
    """Which kernel ``filter_statistic`` uses for ``conv`` (see the module's table)."""
    in_per_group = conv.in_channels // conv.groups
    if conv.groups == conv.in_channels > 1:
        return "depthwise"
    if conv.groups == 1 and in_per_group <= MAX_STEM_CHANNELS:
        return "per_image"
    if conv.groups == 1 and conv.kernel_size == (1, 1) and _padding(conv) == (0, 0):
        return "pointwise"
    return "stride1" if conv.groups == 1 and conv.stride == (1, 1) else "strided"


@checked(kernel=TEXT)
def filter_statistic(conv: nn.Conv2d, inputs: torch.Tensor, grad_out: torch.Tensor, workspace: Workspace,
                     kernel: str | None = None) -> torch.Tensor:
    """[B, out_channels]: mean over (in, kh, kw) of |per-sample dL/dW| of one conv layer.

    ``kernel`` overrides the choice of ``kernel_name`` (for benchmarks and tests; all are exact).
    """
    kernel = kernel or kernel_name(conv)
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {sorted(KERNELS)}; got {kernel!r}")
    padding = _padding(conv)
    if conv.padding_mode != "zeros":
        inputs, padding = F.pad(inputs, conv._reversed_padding_repeated_twice, mode=conv.padding_mode), (0, 0)
    stat = KERNELS[kernel]
    per_image = conv.out_channels * conv.in_channels // conv.groups * grad_out.element_size()
    step = max(1, min(MAX_CHUNK, CHUNK_BYTES // per_image))
    chunks = [stat(conv, inputs[lo:lo + step], grad_out[lo:lo + step], padding, workspace)
              for lo in range(0, len(inputs), step)]
    fan_in = conv.in_channels // conv.groups * conv.kernel_size[0] * conv.kernel_size[1]
    return torch.cat(chunks) / fan_in


def _padding(conv: nn.Conv2d) -> tuple[int, int]:
    """The conv's zero padding as two numbers ('valid' and symmetric 'same' resolved)."""
    if not isinstance(conv.padding, str):
        return tuple(conv.padding)
    if conv.padding == "valid":
        return (0, 0)
    if any((d * (k - 1)) % 2 for d, k in zip(conv.dilation, conv.kernel_size)):
        raise ValueError(f"padding='same' with an asymmetric pad is not supported ({conv})")
    return tuple(d * (k - 1) // 2 for d, k in zip(conv.dilation, conv.kernel_size))


def _per_image(conv: nn.Conv2d, inputs, grad_out, padding, workspace: Workspace) -> torch.Tensor:
    """oneDNN's (or cuDNN's) weight-only convolution backward for one image at a time: B calls of the
    library kernel, close to the batch's summed weight gradient (15.9 against 12.6 ms for ResNet's stem
    at batch 16), where every batched route is slower.
    The weight placeholder takes the inputs' memory format (a mismatch costs oneDNN 3x in reorders)."""
    layout = torch.channels_last if inputs.is_contiguous(memory_format=torch.channels_last) else None
    weight = inputs.new_empty(conv.weight.shape).contiguous(memory_format=layout or torch.contiguous_format)
    grads = [torch.ops.aten.convolution_backward(g[None], x[None], weight, None, conv.stride, padding, conv.dilation,
                                                 False, [0, 0], conv.groups, [False, True, False])[1]
             for x, g in zip(inputs, grad_out)]
    return torch.stack(grads).abs_().sum((2, 3, 4))


def _pointwise(conv: nn.Conv2d, inputs, grad_out, padding, workspace: Workspace) -> torch.Tensor:
    """1x1: ``dW[b] = g[b] @ x[b]^T`` over positions, one batched matmul; channels-last tensors are
    read in place (transposed operands go to BLAS as they are)."""
    (sh, sw), batch = conv.stride, len(inputs)
    x = inputs[:, :, ::sh, ::sw].permute(0, 2, 3, 1).reshape(batch, -1, conv.in_channels)
    g = grad_out.permute(0, 2, 3, 1).reshape(batch, -1, conv.out_channels)
    product = workspace.buffer("product", (batch, conv.out_channels, conv.in_channels), grad_out)
    return torch.bmm(g.transpose(1, 2), x, out=product).abs_().sum(-1)


def _stride1(conv: nn.Conv2d, inputs, grad_out, padding, workspace: Workspace) -> torch.Tensor:
    """Stride 1, ungrouped, without copies per offset: each kernel offset is a contiguous slice of the
    flattened channels-last padded input, paired with the gradient padded by zero columns to the
    padded width (the zeros cancel the terms that wrap around row ends). The zero borders of both
    buffers are written once and kept."""
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
    product = workspace.buffer("product", (batch, out_ch, in_ch), grad_out)
    total = torch.zeros(batch, out_ch, dtype=grad_out.dtype, device=grad_out.device)
    for start in (dy * dh * width + dx * dw for dy in range(kh) for dx in range(kw)):
        total += torch.bmm(g, flat[:, start:start + out_h * width], out=product).abs_().sum(-1)
    return total


def _strided(conv: nn.Conv2d, inputs, grad_out, padding, workspace: Workspace) -> torch.Tensor:
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


def _depthwise(conv: nn.Conv2d, inputs, grad_out, padding, workspace: Workspace) -> torch.Tensor:
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


#: every kernel by name (``kernel_name`` chooses among them)
KERNELS = {"per_image": _per_image, "pointwise": _pointwise, "stride1": _stride1, "strided": _strided,
           "depthwise": _depthwise}
