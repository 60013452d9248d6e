"""The exact per-sample filter statistic ``s_j(x) = mean |dCE(f(x), y) / dW_j|`` for a whole batch.

A forward hook on every conv keeps its input, a tensor hook on its output receives the gradient there
during one batched backward pass (to the outputs of the convs that read the images, so parameter
``.grad`` is never touched), and the layer's kernel in ``kernels`` forms the per-sample statistic from
the two.
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
from ..parameters import checked
from .kernels import Workspace, filter_statistic


@contextmanager
def _filter_stat_hooks(model: nn.Module, columns: list, roots: list, workspace: Workspace) -> Iterator[None]:
    """Hooks that fill ``columns[i]`` with the [B, out] statistic of conv ``i`` during backward, and
    collect in ``roots`` the outputs of convs whose input needs no gradient (those that read the images)."""
    handles = []
    calls = [0] * len(columns)

    def forward_hook(i, conv):
        def hook(module, args, output):
            calls[i] += 1
            if calls[i] > 1:
                raise ValueError(f"conv layer {conv} is called more than once per forward pass (shared "
                                 "weights); its per-sample filter statistic is not supported")
            x, version = args[0].detach(), args[0]._version

            def on_grad(grad):
                if x._version != version:            # the statistic would read the edited values
                    raise ValueError(f"the model edits the input of conv layer {conv} in place after the conv read "
                                     "it (an in-place ReLU, +=, ...), so its filter statistic cannot be computed: "
                                     "make that operation out of place (e.g. inplace=False)")
                columns[i] = filter_statistic(conv, x, grad, workspace)
            if output.requires_grad:
                output.register_hook(on_grad)
                if not args[0].requires_grad:
                    roots.append(output)
        return hook

    try:
        for i, (_, conv) in enumerate(conv_layers(model)):
            handles.append(conv.register_forward_hook(forward_hook(i, conv)))
        yield
    finally:
        for handle in handles:
            handle.remove()


@checked()
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
    labels = checks.labels_for(model, labels, images)
    batch_size = checks.positive_int(batch_size, "batch_size")
    with preserved_state(model):
        model.eval()
        for _, conv in convs:                   # frozen layers too (restored on exit)
            conv.weight.requires_grad_(True)
        return memory_layout_fallback(model, lambda channels_last: _filter_saliency(
            model, convs, images, labels, batch_size, progress, channels_last))


def _filter_saliency(model, convs, images, labels, batch_size, progress, channels_last) -> torch.Tensor:
    """Backward from the loss to the outputs of the convs that read the images (not to the images: their
    gradient costs a tenth of the plain backward); to the images only where that misses a conv."""
    param = next(model.parameters())
    workspace, out, through_input = Workspace(), [], False
    for lo in tqdm(range(0, len(images), batch_size), disable=not progress, desc="filter saliency"):
        x = in_layout(images[lo:lo + batch_size].to(param), channels_last)
        y = labels[lo:lo + batch_size].to(param.device)
        columns = None if through_input else _batch_columns(model, convs, x, y, workspace, through_input=False)
        if columns is None or any(column is None for column in columns):
            through_input = True
            columns = _batch_columns(model, convs, x.requires_grad_(True), y, workspace, through_input=True)
        missing = [name for (name, _), col in zip(convs, columns) if col is None]
        if missing:
            raise RuntimeError(f"no gradient reached conv layers {missing[:3]}: are they used in forward?")
        out.append(torch.cat(columns, dim=1).detach())
    if not out:
        return torch.empty(0, sum(c.out_channels for _, c in convs))
    return torch.cat(out)


def _batch_columns(model, convs, x, y, workspace, through_input: bool) -> list | None:
    """Each conv's [B, out] statistic for one batch (``None`` where no gradient reached it), or ``None``
    when no conv reads the images directly."""
    columns: list = [None] * len(convs)
    roots: list = []
    with _filter_stat_hooks(model, columns, roots, workspace), torch.enable_grad():
        loss = F.cross_entropy(model(x), y, reduction="sum")
        if not (through_input or roots):
            return None
        torch.autograd.grad(loss, [x] if through_input else roots, allow_unused=True)
    return columns


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
