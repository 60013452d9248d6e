"""Saliency methods behind one interface: Captum's gradient methods, RectGrad, LRP (via Zennit).

``attribute(model, "RectGrad", images, target)`` gives maps [N, C, H, W] for any entry of ``METHODS``,
batched, in eval mode, leaving the model as it was. Experiments that score methods against masks or
randomize the model are in ``saltools.experiments``.
"""
from __future__ import annotations

import warnings
from typing import Callable

import torch
import torch.nn as nn
from captum.attr import Deconvolution, GuidedBackprop, InputXGradient, IntegratedGradients, Saliency
from tqdm.auto import tqdm
from zennit.attribution import Gradient
from zennit.composites import LayerMapComposite, layer_map_base
from zennit.rules import Epsilon, Pass
from zennit.torchvision import ResNetCanonizer
from zennit.types import Convolution

from . import checks
from ._torch import in_layout, memory_layout_fallback, preserved_state
from .models.architectures import Normalize
from .parameters import CALLABLE, Choice, Either, checked
from .rectgrad import RectGrad


class LRPEpsilon:
    """LRP with the epsilon rule on every conv and linear layer, Captum-style ``attribute``.

    Captum's LRP has no rule for the residual additions of a ResNet (its relevance diverges there:
    sums of order 1e8 for logits of order 10 on the Shapes ResNet), so this wraps Zennit, the LRP
    library built for it: BatchNorm merged into the preceding conv, additions split by the Norm rule,
    the input normalization passed through.
    """

    multiplies_by_inputs = True

    @checked()
    def __init__(self, model: nn.Module, epsilon: float = 0.25):
        self.forward_func, self.epsilon = model, float(epsilon)

    def attribute(self, inputs: torch.Tensor, target=None) -> torch.Tensor:
        rules = layer_map_base() + [(Convolution, Epsilon(self.epsilon)), (nn.Linear, Epsilon(self.epsilon)),
                                    (Normalize, Pass())]
        composite = LayerMapComposite(rules, canonizers=[ResNetCanonizer()])
        with preserved_state(self.forward_func), torch.enable_grad():
            self.forward_func.eval()
            with torch.no_grad():
                logits = self.forward_func(inputs)
            target = checks.class_targets(target, len(inputs), logits, device=inputs.device)
            onehot = torch.zeros_like(logits)
            onehot[torch.arange(len(inputs)), target] = 1
            with Gradient(model=self.forward_func, composite=composite) as attributor:
                _, relevance = attributor(inputs.detach(), onehot)
        return relevance


def _integrated_gradients(model: nn.Module) -> Callable:
    method = IntegratedGradients(model)
    return lambda x, target: method.attribute(x, baselines=0.0, target=target, n_steps=16,
                                              internal_batch_size=len(x) * 16)


#: name -> (constructor taking the model and returning an object with ``attribute(x, target=...)``,
#: whether the map multiplies by the input). Integrated Gradients uses a black baseline (x = 0).
METHODS: dict[str, tuple[Callable, bool]] = {
    "Saliency": (lambda m: Saliency(m).attribute, False),
    "InputXGradient": (lambda m: InputXGradient(m).attribute, True),
    "GuidedBackprop": (lambda m: GuidedBackprop(m).attribute, False),
    "Deconvolution": (lambda m: Deconvolution(m).attribute, False),
    "IntegratedGradients": (_integrated_gradients, True),
    "LRP-epsilon": (lambda m: LRPEpsilon(m).attribute, True),
    "RectGrad": (lambda m: RectGrad(m).attribute, True),
    "NoBias RectGrad": (lambda m: RectGrad(m, multiply_by_inputs=False).attribute, False),
}


@checked(method=Either((Choice(tuple(METHODS)), CALLABLE)))
def attribute(model: nn.Module, method: str | Callable, images: torch.Tensor, target=None,
              batch_size: int = 64, progress: bool = False) -> torch.Tensor:
    """Attribution maps [N, C, H, W] of ``method`` (a name in ``METHODS`` or a callable
    ``f(model) -> attribute(x, target=...)``) for ``images``; target defaults to the predicted class."""
    build = METHODS[method][0] if isinstance(method, str) else method
    images = checks.images(images, model=model)
    batch_size = checks.positive_int(batch_size, "batch_size")
    out = []
    with preserved_state(model), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*(require[sd]?_?grad|backward hooks).*")
        model.eval()
        if target is not None:
            target = checks.labels_for(model, target, images, "target")
        run = build(model)
        for lo in tqdm(range(0, len(images), batch_size), disable=not progress, desc=str(method)):
            x = checks.model_input(images[lo:lo + batch_size], model)
            t = None if target is None else target[lo:lo + batch_size].to(x.device)
            maps = memory_layout_fallback(model, lambda channels_last: run(in_layout(x, channels_last), target=t))
            out.append(maps.detach().cpu().contiguous())
    return torch.cat(out)


def to_map(attributions: torch.Tensor) -> torch.Tensor:
    """Pixel maps [N, H, W]: attributions summed over colour channels (signed)."""
    return attributions.sum(dim=1)
