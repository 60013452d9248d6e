"""Does the shape of the removed region give the class away? ROAD's argument (Rong et al., ICML 2022):
a removal mask cut from an attribution map follows the object, so its outline alone can name the class,
and a fill that makes the removed region stand out hands that outline to the model under evaluation.
Noisy linear imputation is meant to hide it.

Two readers of the outline, both written by hand (no library measures this):

- ``probe_leak``: a small CNN (the *probe*) trained to name image ``i``'s class from its binary removal
  mask alone, scored on held-out images: does the outline carry the class?
- ``model_leak``: the model under evaluation shown a *carrier* (an image without an object of its own)
  whose pixels under image ``i``'s mask are removed and filled by a substrate: does it name ``i``'s class?

Both count a hit against the same reader naming the class of another image (the next one, whose mask it
did not see): without a leak the two rates are equal, so their difference per image is the leak.
"""
from __future__ import annotations

from typing import Sequence

import pandas as pd
import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm.auto import tqdm

from . import checks
from .baselines import BASELINES, ROAD, SUBSTRATES, baseline_images, road_imputation
from .models.evaluation import predict
from .parameters import PROBABILITY, Choice, Each, checked


@checked(share=PROBABILITY)
def removal_masks(maps: torch.Tensor, share: float, order: str = "morf") -> torch.Tensor:
    """[N, H, W] bool: the ``share`` of pixels with the highest |relevance| per map (``order="morf"``, MoRF's
    removed region at that share) or the lowest (``"lerf"``); ties broken by position. The ranking is by
    |relevance|, so negating a map changes nothing: ask for "lerf"."""
    maps = checks.maps(maps)
    flat = maps.abs().flatten(1)
    order = flat.argsort(dim=1, descending=order == "morf", stable=True)
    removed = torch.zeros_like(flat, dtype=torch.bool)
    removed.scatter_(1, order[:, :round(share * flat.shape[1])], True)
    return removed.view(maps.shape)


@checked(substrate=Choice(SUBSTRATES))
def filled(carriers: torch.Tensor, removed: torch.Tensor, substrate: str, seed: int = 0) -> torch.Tensor:
    """``carriers`` with the ``removed`` pixels [N, H, W] filled by ``substrate`` (``ROAD`` or a name of
    ``baselines.BASELINES``)."""
    carriers = checks.images(carriers, "carriers")
    removed = checks.masks(removed, "removed", shape=(len(carriers), *carriers.shape[2:]))
    if substrate == ROAD:
        return road_imputation(carriers, removed, seed=seed)
    keep = (~removed[:, None]).to(carriers.dtype)
    return carriers * keep + baseline_images(substrate, carriers, removed[:, None], seed) * (1 - keep)


@checked()
def probe(in_channels: int, classes: int) -> nn.Module:
    """The probe: three 3x3 conv blocks (16, 32, 32 channels, each halving the size), a 4 x 4 average
    pool that keeps the layout, one linear layer."""
    blocks = [nn.Sequential(nn.Conv2d(a, b, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
              for a, b in ((in_channels, 16), (16, 32), (32, 32))]
    return nn.Sequential(*blocks, nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(32 * 16, classes))


def _hits(predicted: torch.Tensor, labels: torch.Tensor) -> dict:
    """Per image: the reader named its class, and it named the next image's class (the control)."""
    return {"named": (predicted == labels).numpy(), "named_other": (predicted == labels.roll(-1, 0)).numpy()}


@checked()
def probe_leak(removed: torch.Tensor, labels: torch.Tensor, *, train_share: float = 0.5, epochs: int = 15,
               batch: int = 64, seed: int = 0) -> pd.DataFrame:
    """Train a fresh ``probe`` (Adam, cross-entropy) on the first ``train_share`` of the binary masks
    ``removed`` [N, H, W] to name ``labels``; one row per held-out image with ``named`` and
    ``named_other`` (see the module's docstring). The global random state is left as found."""
    removed = checks.masks(removed, "removed")
    labels = checks.labels(labels, len(removed))
    if len(removed) < 20 or not 0 < train_share < 1:
        raise ValueError(f"need at least 20 masks and train_share in (0, 1); got {len(removed)} and {train_share}")
    train = torch.arange(len(removed)) < round(train_share * len(removed))
    x, y = removed[:, None].float(), labels
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = probe(1, int(labels.max()) + 1)
        optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
        for _ in range(checks.positive_int(epochs, "epochs")):
            order = torch.nonzero(train).flatten()[torch.randperm(int(train.sum()))]
            for lo in range(0, len(order), batch):
                optimizer.zero_grad()
                F.cross_entropy(net(x[order[lo:lo + batch]]), y[order[lo:lo + batch]]).backward()
                optimizer.step()
        with torch.no_grad():
            predicted = net.eval()(x[~train]).argmax(1)
    return pd.DataFrame({"image": torch.nonzero(~train).flatten().numpy(), **_hits(predicted, y[~train])})


@checked(substrates=Each(Choice(SUBSTRATES)))
def model_leak(model: nn.Module, carriers: torch.Tensor, removed: torch.Tensor, labels: torch.Tensor,
               substrates: Sequence[str] = (*BASELINES, ROAD), seed: int = 0, progress: bool = False) -> pd.DataFrame:
    """The model under evaluation reading image ``i``'s removal mask ``removed[i]`` off ``carriers[i]``
    filled by each substrate: one row per (substrate, image) with ``named`` (it predicts ``labels[i]``)
    and ``named_other`` (it predicts ``labels[i + 1]``)."""
    carriers = checks.images(carriers, "carriers", model=model)
    labels = checks.labels_for(model, labels, carriers)
    rows = []
    for substrate in tqdm(substrates, disable=not progress, desc="substrates"):
        predicted = predict(model, filled(carriers, removed, substrate, seed).clamp(0, 1)).argmax(1)
        rows.append(pd.DataFrame({"substrate": substrate, "image": range(len(carriers)), **_hits(predicted, labels)}))
    return pd.concat(rows, ignore_index=True)


__all__ = ["filled", "model_leak", "probe", "probe_leak", "removal_masks"]
