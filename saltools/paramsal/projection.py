"""The input-space projection of parameter saliency (Levin et al.): which pixels drive the salient filters."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .. import checks
from .._torch import preserved_state
from ..models.filters import conv_layers
from ..parameters import NON_NEGATIVE, checked
from .reference import ParameterSaliency


@checked(label=NON_NEGATIVE)
def input_projection(stats: ParameterSaliency, image: torch.Tensor, label: int, top: int = 10,
                     boost: float = 100.0) -> torch.Tensor:
    """Which pixels drive the image's most salient filters (Levin et al.): an [H, W] map.

    The image's z-scored saliency profile ``z(x)`` is compared (cosine similarity) with a copy whose
    ``top`` largest entries are multiplied by ``boost``; the map is ``max_c |d sim / d x_c|``. Needs
    a double backward through the network (one image at a time).
    """
    stats.check_fitted()
    checks.images(image, "image", model=stats.model, ndim=3)
    label = int(checks.labels_for(stats.model, [label], image[None], "label")[0])
    return _projection(stats, image, label, checks.positive_int(top, "top"), boost)


def _projection(stats: ParameterSaliency, image: torch.Tensor, label: int, top: int, boost: float) -> torch.Tensor:
    """``input_projection`` of an image and label already checked."""
    model = stats.model
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


@checked()
def projections(stats: ParameterSaliency, images: torch.Tensor, labels, top: int = 10,
                boost: float = 100.0, progress: bool = False) -> torch.Tensor:
    """``input_projection`` for several images: [N, H, W] (one double backward per image)."""
    stats.check_fitted()
    images, labels = checks.images_and_labels(images, labels, model=stats.model)
    labels = checks.labels_for(stats.model, labels, images)
    top = checks.positive_int(top, "top")
    maps = [_projection(stats, x, int(y), top, boost)
            for x, y in tqdm(zip(images, labels), total=len(images), disable=not progress, desc="projections")]
    return torch.stack(maps) if maps else torch.empty(0, *images.shape[-2:])
