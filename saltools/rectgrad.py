"""Rectified Gradient (Kim et al. 2019) and NoBias RectGrad (Brocki & Chung 2020) as Captum-style attributions.

Written by hand because no library has it: Captum, Zennit and Quantus ship Guided Backprop and LRP but
not RectGrad. The rule replaces the derivative of every ReLU: with ``a`` the ReLU's output and ``R`` the
gradient arriving at it, ``R`` passes where ``a * R > tau`` (strictly) and is zeroed elsewhere, where
``tau`` is the ``percentile``-th percentile of ``a * R`` over all units of that ReLU call (C, H, W
together) for each sample, or a constant ``threshold``. Every other operation keeps its ordinary
gradient. The map is gradient x input, or the gradient alone for the NoBias variant.

ReLUs are caught as calls, not as modules (a ``TorchFunctionMode`` sees ``F.relu``, ``torch.relu``,
``Tensor.relu`` and their in-place forms), so functional ReLUs and a ReLU module used twice in a block
(torchvision's ``BasicBlock``) are each rectified at every call with their own percentile.
"""
from __future__ import annotations

import collections
import math
import numbers

from contextlib import contextmanager
from typing import Iterator

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from . import checks
from ._torch import preserved_state
from .models.architectures import Normalize
from .parameters import Choice, Number, checked

_RELUS = {F.relu: False, torch.relu: False, torch.Tensor.relu: False,
          F.relu_: True, torch.relu_: True, torch.Tensor.relu_: True}
#: the other elementwise nonlinearities (by the name torch calls them): RectGrad's rule is defined at ReLUs only,
#: so a model with any of them on the gradient path would get plain gradients there, silently
UNRECTIFIED = frozenset(
    f"{name}{suffix}" for name in ("leaky_relu", "hardtanh", "relu6", "gelu", "silu", "hardswish", "sigmoid", "tanh",
                                   "elu", "softplus", "mish", "prelu", "hardsigmoid", "selu", "celu", "rrelu",
                                   "logsigmoid", "softsign", "tanhshrink", "threshold", "hardshrink", "softshrink",
                                   "glu") for suffix in ("", "_"))


@checked(q=Number(0, 100))
def percentile_rows(values: torch.Tensor, q: float) -> torch.Tensor:
    """The q-th percentile of each row of ``values`` [N, M] with linear interpolation (numpy's
    default), via ``kthvalue`` so there is no size limit (``torch.quantile`` stops at 16M elements)."""
    m = values.shape[1]
    position = q / 100 * (m - 1)
    lower = int(position)
    low = values.kthvalue(lower + 1, dim=1).values
    if lower + 1 >= m or position == lower:
        return low
    high = values.kthvalue(lower + 2, dim=1).values
    return low + (position - lower) * (high - low)


class _RectifiedReLU(torch.autograd.Function):
    """ReLU forward; backward passes the incoming gradient where ``output * grad > tau``."""

    @staticmethod
    def forward(ctx, x, inplace: bool, gate: "_Gate"):
        if inplace:
            ctx.mark_dirty(x)
            out = x.clamp_(min=0)
        else:
            out = x.clamp(min=0)
        ctx.save_for_backward(out)
        ctx.gate = gate
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return ctx.gate(out, grad), None, None


class _Gate:
    """The thresholding rule, with either a per-sample percentile or a constant threshold."""

    def __init__(self, percentile: float | None, threshold: float | None):
        self.percentile, self.threshold = percentile, threshold

    def tau(self, importance: torch.Tensor) -> torch.Tensor:
        if self.threshold is not None:
            return torch.as_tensor(self.threshold, dtype=importance.dtype, device=importance.device)
        flat = importance.reshape(importance.shape[0], -1)
        return percentile_rows(flat, self.percentile).view(-1, *([1] * (importance.ndim - 1)))

    def __call__(self, out: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
        importance = out * grad
        return torch.where(importance > self.tau(importance), grad, torch.zeros_like(grad))


def _check_rule(percentile, threshold) -> None:
    """A constant ``threshold`` must be a finite number (NaN would zero every map); otherwise ``percentile`` must be
    a number in [0, 100]."""
    if threshold is not None:
        if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real) or not math.isfinite(threshold):
            raise ValueError(f"threshold must be a finite number (or None for the percentile rule); got {threshold!r}")
    elif isinstance(percentile, bool) or not isinstance(percentile, numbers.Real) or not 0 <= percentile <= 100:
        raise ValueError(f"percentile must be a number in [0, 100]; got {percentile!r}")


@checked()
def rectify(activation: torch.Tensor, relevance: torch.Tensor, percentile: float | None = 98.0,
            threshold: float | None = None) -> torch.Tensor:
    """RectGrad's rule at one ReLU: the relevance passes where the importance ``activation * relevance`` exceeds
    tau and is zeroed elsewhere; tau is the ``percentile`` of each sample's importances (over all its units,
    linear interpolation) or a constant ``threshold``. Tensors [N, ...] of one shape."""
    if activation.shape != relevance.shape or activation.ndim < 2:
        raise ValueError(f"activation and relevance must share one shape [N, ...]; got {tuple(activation.shape)} "
                         f"and {tuple(relevance.shape)}")
    _check_rule(percentile, threshold)
    return _Gate(None if threshold is not None else percentile, threshold)(activation, relevance)


class _RectifyReLUs(TorchFunctionMode):
    """Routes every ReLU call made while active through ``_RectifiedReLU``, and counts the calls of other
    nonlinearities on the gradient path (``UNRECTIFIED``) in ``unrectified``."""

    def __init__(self, gate: _Gate):
        super().__init__()
        self.gate = gate
        self.unrectified: collections.Counter = collections.Counter()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        if name in UNRECTIFIED and any(getattr(a, "requires_grad", False) for a in (*args, *kwargs.values())):
            self.unrectified[name] += 1
        if func in _RELUS:
            x = args[0] if args else kwargs["input"]
            inplace = _RELUS[func] or bool(kwargs.get("inplace", args[1] if len(args) > 1 else False))
            if x.requires_grad:
                return _RectifiedReLU.apply(x, inplace, self.gate)
        return func(*args, **kwargs)


def _zero_border(grad: torch.Tensor) -> torch.Tensor:
    grad = grad.clone()
    grad[..., 0, :] = 0
    grad[..., -1, :] = 0
    grad[..., :, 0] = 0
    grad[..., :, -1] = 0
    return grad


@contextmanager
def _padding_trick(model: nn.Module, enabled: bool) -> Iterator[None]:
    """Zero the 1-pixel border of the gradient at the output of every zero-padded conv (original code)."""
    def hook(_module, _inputs, output):
        if output.requires_grad:
            output.register_hook(_zero_border)

    handles = []
    try:
        if enabled:
            handles = [m.register_forward_hook(hook) for m in model.modules()
                       if isinstance(m, nn.Conv2d) and any(p > 0 for p in _padding(m))]
        yield
    finally:
        for handle in handles:
            handle.remove()


def _padding(conv: nn.Conv2d) -> tuple[int, ...]:
    if isinstance(conv.padding, str):
        return (0,) if conv.padding == "valid" else (1,)
    return tuple(conv.padding)


class RectGrad:
    """Rectified Gradient as a Captum-style attribution: ``RectGrad(model).attribute(x, target)``.

    Parameters
    ----------
    model : any module whose nonlinearities are ReLUs (modules or functional calls); ``gradient`` and
        ``attribute`` refuse a model with another nonlinearity (``UNRECTIFIED``) on the gradient path.
    percentile : q of the per-sample, per-layer threshold (98 in the paper and its code).
    threshold : a constant tau replacing the percentile (the original code's ``rectgradconst``);
        ``threshold=0`` is exactly Guided Backprop.
    multiply_by_inputs : True gives the original map gradient x input; False the NoBias variant.
    padding_trick : zero the border of the gradient at zero-padded conv outputs, as the original code.
    """

    @checked()
    def __init__(self, model: nn.Module, percentile: float = 98.0, threshold: float | None = None,
                 multiply_by_inputs: bool = True, padding_trick: bool = False):
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")
        _check_rule(percentile, threshold)
        self.forward_func = model
        self.percentile, self.threshold = float(percentile), threshold
        self.multiplies_by_inputs = bool(multiply_by_inputs)
        self.padding_trick = bool(padding_trick)

    def gradient(self, inputs: torch.Tensor, target=None, additional_forward_args=None) -> torch.Tensor:
        """The rectified gradient of the target logit with respect to the inputs (no multiplication)."""
        model = self.forward_func
        inputs = _check_inputs(inputs, model)
        extra = _as_tuple(additional_forward_args)
        with preserved_state(model), torch.enable_grad():
            model.eval()
            x = checks.model_input(inputs.detach(), model).clone().requires_grad_(True)
            rectifying = _RectifyReLUs(_Gate(self.percentile, self.threshold))
            with _padding_trick(model, self.padding_trick), rectifying:
                logits = model(x, *extra)
            if rectifying.unrectified:
                found = ", ".join(f"{name} ({count} call{'s' * (count > 1)})"
                                  for name, count in sorted(rectifying.unrectified.items()))
                raise ValueError(f"RectGrad rectifies ReLUs only, and the model computes {found} on the gradient "
                                 "path, where it would pass plain gradients; replace them by ReLU or explain the "
                                 "model with another method")
            chosen = _select(logits, target)
            (grad,) = torch.autograd.grad(chosen.sum(), x)
        return grad.to(inputs.dtype)

    def attribute(self, inputs: torch.Tensor, target=None, additional_forward_args=None) -> torch.Tensor:
        """Maps shaped like ``inputs``: rectified gradient x input (or the gradient alone if
        ``multiply_by_inputs=False``). ``target``: class index (int, list or tensor [N]); default the
        predicted class."""
        grad = self.gradient(inputs, target, additional_forward_args)
        return grad * inputs.detach() if self.multiplies_by_inputs else grad

    def __repr__(self) -> str:
        rule = f"threshold={self.threshold}" if self.threshold is not None else f"percentile={self.percentile}"
        return f"RectGrad({rule}, multiply_by_inputs={self.multiplies_by_inputs}, padding_trick={self.padding_trick})"


@checked()
def NoBiasRectGrad(model: nn.Module, percentile: float = 98.0, **kwargs) -> RectGrad:
    """RectGrad without the final multiplication by the input (Brocki & Chung 2020)."""
    return RectGrad(model, percentile=percentile, multiply_by_inputs=False, **kwargs)


def _as_tuple(args) -> tuple:
    if args is None:
        return ()
    return args if isinstance(args, tuple) else (args,)


def _check_inputs(inputs, model: nn.Module) -> torch.Tensor:
    checks.images(inputs, "inputs", model=model)
    device = next((p.device for p in model.parameters()), inputs.device)
    if inputs.device != device:
        raise ValueError(f"inputs are on {inputs.device} but the model is on {device}")
    return inputs


def _select(logits: torch.Tensor, target) -> torch.Tensor:
    """The target logit of each sample; ``None`` picks the predicted class."""
    target = checks.class_targets(target, logits.shape[0], logits, device=logits.device)
    return logits.gather(1, target[:, None])[:, 0]


# ----------------------------------------------------------------------------- input spaces
SPACES = {
    "unit": "inputs in [0, 1]: the zero point, where x * gradient is blind, is black",
    "symmetric": "inputs in [-1, 1] (the original RectGrad code): the zero point is mid-grey",
    "standardized": "(x - mean) / std: the zero point is the dataset mean colour",
}


class InSpace(nn.Module):
    """The same model, fed inputs in another space: ``InSpace(model, space)(encode(x)) == model(x)``.

    Only the space the attribution multiplies by changes; the function the model computes does not.
    ``space`` is one of ``SPACES``; "standardized" uses ``mean``/``std`` (default: the model's own
    ``normalize`` module when it has one).
    """

    @checked(space=Choice(tuple(SPACES)))
    def __init__(self, model: nn.Module, space: str, mean=None, std=None):
        super().__init__()
        if space not in SPACES:
            raise ValueError(f"space must be one of {sorted(SPACES)}; got {space!r}")
        self.model, self.space = model, space
        if space == "unit":
            mean, std = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)
        elif space == "symmetric":
            mean, std = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)
        elif mean is None or std is None:
            own = getattr(model, "normalize", None)
            if not isinstance(own, Normalize):
                raise ValueError("give mean= and std= for the standardized space of a model "
                                 "without a saltools Normalize module called `normalize`")
            mean, std = own.mean.flatten().tolist(), own.std.flatten().tolist()
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    @property
    def input_range(self) -> tuple[float, float]:
        """The values encoded images take (what ``saltools.checks`` accepts as this model's inputs)."""
        ends = self.encode(torch.tensor([0.0, 1.0]).view(2, 1, 1, 1).expand(2, len(self.mean.flatten()), 1, 1))
        return float(ends.min()), float(ends.max())

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] -> this space."""
        return (images - self.mean.to(images)) / self.std.to(images)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """This space -> images in [0, 1]."""
        return z * self.std.to(z) + self.mean.to(z)

    def zero_point(self) -> torch.Tensor:
        """The [0, 1] colour that this space maps to 0: the colour x * gradient cannot see."""
        return self.decode(torch.zeros_like(self.mean)).flatten()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.model(self.decode(z))
