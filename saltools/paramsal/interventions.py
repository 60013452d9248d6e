"""Interventions: zero the salient filters of a mistake, or fine-tune only them, and measure the effect.

The model itself is never modified: ``edited_filters`` evaluates every edited variant of a batch at
once through forward hooks, removed on exit.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import numpy as np
import pandas as pd
import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm.auto import tqdm

from .. import checks
from .._torch import preserved_state
from ..models.filters import conv_layers
from ..parameters import NON_NEGATIVE, Choice, checked


@contextmanager
@checked()
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


@checked(label=NON_NEGATIVE, method=Choice(("zero", "finetune")))
def edited_probabilities(model: nn.Module, image: torch.Tensor, label: int, columns, method: str = "zero",
                         lr: float = 1e-3) -> torch.Tensor:
    """Softmax probabilities of one image after zeroing (or one SGD step on) the filters ``columns``."""
    n_filters = sum(c.out_channels for _, c in conv_layers(model))
    columns = filter_columns(columns, n_filters)
    x = checks.model_input(checks.images(image, "image", model=model, ndim=3), model)
    mask = torch.zeros(1, n_filters, device=x.device)
    mask[0, columns.to(x.device)] = 1.0
    label = int(checks.labels_for(model, [label], x[None], "label")[0])
    with preserved_state(model):
        model.eval()
        if method == "zero":
            edit = edited_filters(model, keep=1 - mask)
        else:
            edit = edited_filters(model, step=mask, grads=_conv_weight_grads(model, x, label), lr=lr)
        with edit, torch.no_grad():
            return F.softmax(model(x[None]), dim=1)[0].cpu()


@checked()
def filter_columns(columns, n_filters: int) -> torch.Tensor:
    """``columns`` as distinct filter indices in [0, n_filters) (int64 [K]); ValueError for negative,
    out-of-range or repeated ones (a negative index would silently mean a filter counted from the end)."""
    columns = torch.as_tensor(columns)
    if columns.is_floating_point() or columns.dtype == torch.bool:
        raise TypeError(f"filter columns must be integers; got dtype {columns.dtype}")
    columns = columns.long().reshape(-1)
    if len(columns) and (columns.min() < 0 or columns.max() >= n_filters):
        bad = columns[(columns < 0) | (columns >= n_filters)]
        raise ValueError(f"filter columns must lie in [0, {n_filters}) (no negative indices); {len(bad)} out of "
                         f"range: {bad.tolist()[:10]}")
    if len(columns.unique()) != len(columns):
        raise ValueError(f"filter columns must be distinct; got {columns.tolist()[:20]}")
    return columns

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


@checked()
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
    images, labels = checks.images_and_labels(images, labels, model=model)
    labels = checks.labels_for(model, labels, images)
    scores = torch.as_tensor(scores)
    n_filters = sum(c.out_channels for _, c in conv_layers(model))
    if scores.shape != (len(images), n_filters):
        raise ValueError(f"scores must have shape [{len(images)}, {n_filters}]; got {tuple(scores.shape)}")
    if scores.is_floating_point() and bool(scores.isnan().any()):
        raise ValueError(f"scores must not be NaN (+inf is allowed: most salient); got NaN in rows "
                         f"{scores.isnan().any(1).nonzero().flatten().tolist()[:10]}")
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
            x, y = checks.model_input(images[n], model), int(labels[n])
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


def summarize_interventions(curves: pd.DataFrame) -> pd.DataFrame:
    """Per method and selection: share corrected and change of wrong/true-class probability, averaged
    over images and over all k (``*_mean_k``) and at the largest k (``*_at_kmax``)."""
    kmax = curves.k.max()
    per_k = curves.groupby(["method", "selection", "k"])[["corrected", "d_wrong", "d_true"]].mean()
    mean_k = per_k.groupby(["method", "selection"]).mean().add_suffix("_mean_k")
    at_max = per_k.xs(kmax, level="k").add_suffix("_at_kmax")
    return mean_k.join(at_max).reset_index()
