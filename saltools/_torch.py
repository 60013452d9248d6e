"""Leave-the-model-as-found machinery, the lowest layer of saltools (it imports nothing of saltools).

``preserved_state`` restores train/eval flags and ``requires_grad`` on exit; ``memory_layout_fallback``
and ``in_layout`` run a model on channels-last inputs where it can take them; ``device_of`` is where a
model's parameters live.
The input gate is ``saltools.checks``.
"""
from __future__ import annotations

import weakref
from contextlib import contextmanager
from typing import Iterator

import torch
import torch.nn as nn


@contextmanager
def preserved_state(model: nn.Module) -> Iterator[nn.Module]:
    """Restore the model's ``training`` flags and ``requires_grad`` flags on exit, also on error."""
    modes = {m: m.training for m in model.modules()}
    grads = {p: p.requires_grad for p in model.parameters()}
    try:
        yield model
    finally:
        for m, mode in modes.items():
            m.training = mode
        for p, flag in grads.items():
            p.requires_grad_(flag)


_CONTIGUOUS_ONLY: "weakref.WeakSet[nn.Module]" = weakref.WeakSet()


def memory_layout_fallback(model: nn.Module, run):
    """``run(True)``: inputs in channels-last memory, where oneDNN convolutions run 1.3-1.7x faster on
    CPU. A model that ``.view()``s its activations cannot take them: it gets ``run(False)``, now and
    in later calls."""
    if model not in _CONTIGUOUS_ONLY:
        try:
            return run(True)
        except RuntimeError as error:
            if "view size is not compatible" not in str(error):
                raise
            _CONTIGUOUS_ONLY.add(model)
    return run(False)


def in_layout(images: torch.Tensor, channels_last: bool) -> torch.Tensor:
    """``images`` in channels-last (NHWC) memory or in the default contiguous (NCHW) memory."""
    return images.contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)


def device_of(model: nn.Module) -> torch.device:
    """The device of the model's first parameter (CPU for a model without parameters)."""
    p = next(iter(model.parameters()), None)
    return p.device if p is not None else torch.device("cpu")
