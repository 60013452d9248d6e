"""The input gate: every public function that takes images, labels, maps, masks or sizes checks them here.

A bad input gets a ``TypeError`` (wrong kind: not a tensor, uint8 or integer images, float labels) or a
``ValueError`` (wrong shape, NaN/Inf, values outside the model's input range, labels out of range,
empty batches, sizes below 1) that names the argument, what was expected and what came. The checks are
one pass over the data each (``aminmax`` finds range violations, NaN and Inf at once), negligible next
to a forward pass (``benchmarks/bench_checks.py``). Imports only ``saltools._torch`` and
``saltools.parameters``, whose kinds (``Integer``, ``Number``, ``Choice``, ``Each``, ``POSITIVE``, ``FLAG``, ...)
check every numeric or categorical parameter and are reachable here too.

The value range is [0, 1] unless the model declares another one as ``model.input_range = (low, high)``
(``None``: any finite value), as ``saltools.rectgrad.InSpace`` does for its encoded inputs.
"""
from __future__ import annotations

import numbers

import numpy as np

import torch
import torch.nn as nn

from ._torch import preserved_state
# the parameter kinds (one per kind of parameter), also reachable as ``checks.Number``, ``checks.POSITIVE``, ...
from .parameters import (CALLABLE, FLAG, NON_NEGATIVE, POSITIVE, PROBABILITY, REAL, TEXT, Choice,  # noqa: F401
                         Each, Either, Integer, Number, Optional, checked, checked_fields)

UNIT = (0.0, 1.0)
#: how far outside the range a value may stray (float rounding of resampling, blurs, corruptions)
TOLERANCE = 1e-4


def input_range(model: nn.Module | None) -> tuple[float, float] | None:
    """The value range a model takes: its ``input_range`` attribute, else [0, 1]."""
    return getattr(model, "input_range", UNIT) if model is not None else UNIT


@checked(ndim=Integer(3, 4))
def images(x, name: str = "images", *, model: nn.Module | None = None, ndim: int = 4,
           allow_empty: bool = False) -> torch.Tensor:
    """``x`` checked as a floating-point image batch [N, C, H, W] (``ndim=3``: one image [C, H, W]) in the
    model's input range (``input_range``), finite, non-empty. Returns ``x`` unchanged."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor {_shape_words(ndim)}; got {type(x).__name__}"
                        + (" (use torch.as_tensor)" if hasattr(x, "__array__") else ""))
    if x.ndim != ndim:
        raise ValueError(f"{name} must have shape {_shape_words(ndim)}; got {tuple(x.shape)}")
    if not x.is_floating_point():
        hint = (": divide by 255 (images.float() / 255)" if x.dtype == torch.uint8 else
                ": use images.float()")
        raise TypeError(f"{name} must be floating point (float32 or float64) in [0, 1]; got {x.dtype}{hint}")
    if not allow_empty and (x.numel() == 0):
        raise ValueError(f"{name} must hold at least one image with at least one pixel; got shape {tuple(x.shape)}")
    if x.numel():
        values(x, name, value_range=input_range(model))
    if model is not None:
        fits(model, x, name, channel_axis=ndim - 3)
    return x


@checked(channel_axis=Integer(0, 1))
def fits(model: nn.Module, x: torch.Tensor, name: str = "images", channel_axis: int = 1) -> None:
    """Refuse a ``model`` that cannot take ``x``: weights on the meta device (never loaded), or a first
    convolution that expects another number of channels than ``x`` has."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    if any(p.is_meta for p in model.parameters()):
        raise ValueError("model has weights on the meta device (no values): load its weights first, e.g. "
                         "model.to_empty(device='cpu') then model.load_state_dict(...)")
    first = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    if first is not None and x.shape[channel_axis] != first.in_channels:
        raise ValueError(f"{name} have {x.shape[channel_axis]} channels but the model's first convolution takes "
                         f"{first.in_channels}" + (": repeat a grey channel (x.expand(-1, 3, -1, -1))"
                                                   if first.in_channels == 3 and x.shape[channel_axis] == 1 else ""))


@checked()
def values(x: torch.Tensor, name: str, *, value_range: tuple[float, float] | None = None) -> torch.Tensor:
    """``x`` (a floating-point tensor) checked to be finite and, given ``value_range``, inside it."""
    low, high = torch.aminmax(x.detach())
    low, high = low.item(), high.item()
    if not (abs(low) < float("inf") and abs(high) < float("inf")):        # NaN or Inf somewhere
        raise ValueError(f"{name} must be finite; {_where_not_finite(x, name)}")
    if value_range is not None and (low < value_range[0] - TOLERANCE or high > value_range[1] + TOLERANCE):
        raise ValueError(f"{name} must lie in [{value_range[0]:g}, {value_range[1]:g}]; got values in "
                         f"[{low:.4g}, {high:.4g}]{_range_hint(low, high, value_range)}")
    return x


def _where_not_finite(x: torch.Tensor, name: str) -> str:
    nan, inf = torch.isnan(x), torch.isinf(x)
    first = tuple((nan | inf).nonzero()[0].tolist())
    rows = int((nan | inf).flatten(1).any(1).sum()) if x.ndim > 1 else int((nan | inf).sum())
    return (f"got {int(nan.sum())} NaN and {int(inf.sum())} Inf values in {rows} of {len(x)} "
            f"{'rows' if x.ndim > 1 else 'entries'}, the first at {name}[{', '.join(map(str, first))}]")


def _range_hint(low: float, high: float, value_range) -> str:
    if tuple(value_range) != UNIT:
        return ""
    if low >= 0 and high <= 255.5:
        return " (these look like 0..255 values: divide by 255)"
    if low < 0:
        return (" (these look normalized: saltools takes images in [0, 1] and a model that normalizes inside, "
                "e.g. saltools.models.Normalized(net, mean, std); a model made for another range can say so "
                "with model.input_range = (low, high))")
    return ""


@checked(n=NON_NEGATIVE)
def labels(y, n: int, name: str = "labels", *, classes: int | None = None) -> torch.Tensor:
    """``y`` as int64 class indices [n] (from an int, a list or a tensor), each in [0, classes)."""
    if isinstance(y, numbers.Integral) and not isinstance(y, bool):
        y = torch.full((n,), int(y), dtype=torch.long)
    try:
        y = torch.as_tensor(y)
    except (TypeError, ValueError, RuntimeError) as error:
        raise TypeError(f"{name} must be integer class indices; got {type(y).__name__} ({error})") from None
    if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise TypeError(f"{name} must be integer class indices; got dtype {y.dtype}")
    if y.shape != (n,):
        raise ValueError(f"{name} must be class indices, one label per image, shape ({n},); got {tuple(y.shape)}")
    if n and (int(y.min()) < 0 or (classes is not None and int(y.max()) >= classes)):
        upper = f"{classes - 1}" if classes is not None else "the number of classes - 1"
        bad = ((y < 0) | (y >= classes if classes is not None else y < 0)).nonzero().flatten()
        raise ValueError(f"{name} must lie in [0, {upper}]; got {y[bad[0]].item()} at position {bad[0].item()} "
                         f"({len(bad)} out of range)")
    return y.long()


@checked(n=NON_NEGATIVE)
def class_targets(target, n: int, logits: torch.Tensor | None = None, device=None) -> torch.Tensor:
    """Class indices [n] (int64, on ``device``) from an int, a list or a tensor, checked by ``labels``
    against the width of ``logits`` when given; ``None`` takes the argmax of ``logits`` (the prediction)."""
    if target is None:
        if logits is None:
            raise ValueError("target=None needs the logits to pick the predicted class")
        return logits.detach().argmax(1)
    classes = None if logits is None else logits.shape[-1]
    return labels(target.cpu() if isinstance(target, torch.Tensor) else target, n, "target",
                  classes=classes).to(device)


@checked()
def labels_for(model: nn.Module, y, images: torch.Tensor, name: str = "labels") -> torch.Tensor:
    """``labels`` checked against the model's classes, read from its output for the first image (one
    forward pass in eval mode, without gradients; the model is left as found)."""
    y = labels(y, len(images), name)
    if len(images):
        labels(y, len(images), name, classes=first_outputs(model, images, 1).shape[-1])
    return y


@checked(classes=POSITIVE)
def images_and_labels(x, y, *, model: nn.Module | None = None, classes: int | None = None,
                      allow_empty: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """``images`` [N, C, H, W] checked by ``images`` and ``labels`` [N] by ``labels``."""
    x = images(x, model=model, allow_empty=allow_empty)
    return x, labels(y, len(x), classes=classes)


@checked()
def positive_int(value, name: str) -> int:
    """``value`` as an int >= 1 (batch sizes, chunks, counts); TypeError/ValueError otherwise."""
    return POSITIVE.check(value, name)


@checked()
def maps(m, name: str = "maps", *, shape: tuple | None = None) -> torch.Tensor:
    """Saliency maps [N, H, W] (floating point, finite; ``shape`` when given) as float32."""
    if not isinstance(m, torch.Tensor):
        m = torch.as_tensor(m) if hasattr(m, "__array__") else m
    if not isinstance(m, torch.Tensor):
        raise TypeError(f"{name} must be a tensor [N, H, W]; got {type(m).__name__}")
    if m.ndim != 3 or (shape is not None and tuple(m.shape) != tuple(shape)):
        raise ValueError(f"{name} must have shape [N, H, W]{'' if shape is None else f' = {list(shape)}'}; "
                         f"got {tuple(m.shape)}")
    if not (m.is_floating_point() or m.dtype in (torch.int32, torch.int64, torch.bool)):
        raise TypeError(f"{name} must hold real numbers; got dtype {m.dtype}")
    if len(m) == 0:
        raise ValueError(f"{name} must hold at least one map; got shape {tuple(m.shape)}")
    m = m.float()
    values(m, name)
    return m


@checked()
def masks(m, name: str = "masks", *, shape: tuple | None = None) -> torch.Tensor:
    """Binary masks [N, H, W] (bool, or numbers that are all 0 or 1) as bool."""
    m = torch.as_tensor(m)
    if m.ndim != 3 or (shape is not None and tuple(m.shape) != tuple(shape)):
        raise ValueError(f"{name} must have shape [N, H, W]{'' if shape is None else f' = {list(shape)}'}; "
                         f"got {tuple(m.shape)}")
    if m.dtype != torch.bool and not bool(((m == 0) | (m == 1)).all()):
        raise ValueError(f"{name} must be binary (bool, or values 0 and 1 only); got values in "
                         f"[{m.min().item():.4g}, {m.max().item():.4g}]")
    return m.bool()


def model_input(x: torch.Tensor, model: nn.Module) -> torch.Tensor:
    """``x`` on the model's device and in its floating-point dtype (float64 images for a float32 model
    become float32, so every function treats both alike)."""
    p = next(iter(model.parameters()), None)
    if p is None or not p.is_floating_point():
        return x
    return x.to(device=p.device, dtype=p.dtype)


@checked(n=NON_NEGATIVE)
def first_outputs(model: nn.Module, images: torch.Tensor, n: int) -> torch.Tensor:
    """The model's outputs on a copy of its first ``n`` images (a model may edit its input in place): one
    forward pass in eval mode, without gradients; the model is left as found."""
    with preserved_state(model), torch.no_grad():
        model.eval()
        return model(model_input(images[:n].clone(), model))


@checked()
def returns_logits(model: nn.Module, images: torch.Tensor, name: str = "model") -> None:
    """Refuse a classifier whose outputs on (the first two of) ``images`` are probabilities (rows in [0, 1]
    that sum to 1) or log-probabilities (rows whose log-sum-exp is 0): the claims read logits. One forward
    pass in eval mode, without gradients; the model is left as found."""
    out = first_outputs(model, images, 2).double()
    if out.ndim != 2 or out.shape[1] < 2:
        return
    ones = torch.ones(len(out), dtype=out.dtype, device=out.device)
    kind = ("probabilities (rows in [0, 1] that sum to 1)"
            if bool(((out >= 0) & (out <= 1)).all()) and torch.allclose(out.sum(1), ones, atol=1e-4)
            else "log-probabilities (rows whose log-sum-exp is 0)"
            if torch.allclose(out.logsumexp(1), 0 * ones, atol=1e-4) else None)
    if kind is not None:
        raise ValueError(f"{name} must return logits, which the claims' evidence reads; its outputs are {kind}: "
                         "pass the model without its final softmax (or log-softmax)")


def _shape_words(ndim: int) -> str:
    return {4: "[N, C, H, W]", 3: "[C, H, W]"}.get(ndim, f"with {ndim} dimensions")


def gpd_parameters(shape, scale) -> tuple[np.ndarray, np.ndarray]:
    """Generalized Pareto shapes and scales as float arrays: ValueError unless every shape is finite and every
    scale finite and > 0 (no GPD has another scale; a NaN shape is no fit)."""
    shape, scale = np.asarray(shape, dtype=np.float64), np.asarray(scale, dtype=np.float64)
    if not np.isfinite(shape).all():
        raise ValueError(f"GPD shapes must be finite numbers; got {shape[~np.isfinite(shape)][:3].tolist()} "
                         f"among {shape.size}")
    if not (np.isfinite(scale) & (scale > 0)).all():
        bad = scale[~(np.isfinite(scale) & (scale > 0))]
        raise ValueError(f"GPD scales must be finite and > 0; got {bad[:3].tolist()} among {scale.size}")
    return shape, scale


@checked()
def fraction(value, name: str) -> float:
    """``value`` as a float strictly between 0 and 1 (a level, a quantile, a share): TypeError for a non-number
    or a bool, ValueError for NaN or a value outside (0, 1)."""
    return float(PROBABILITY.check(value, name))
