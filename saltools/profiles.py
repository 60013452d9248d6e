"""Profiles: one object that tells a chapter which model, data and sizes to use.

``embedded``: the shipped Shapes ResNet and synthetic Shapes data on the CPU (offline, minutes).
``full``: torchvision's ImageNet ResNet-50 and real photos on a GPU (Colab).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace

import torch

from .models import torchvision_weights_obtainable

ENV_VAR = "SALTOOLS_PROFILE"


@dataclass(frozen=True)
class Profile:
    """Sizes and choices a chapter reads instead of branching on the profile name.

    model: name for ``saltools.models.load``; data: "shapes" or "imagenette"; image_size: pixels.
    n_reference: images in the reference set of parameter saliency; n_query: query images a chapter
    analyses; n_eval: images per accuracy estimate; batch_size: images per forward/backward pass;
    top_k: filters a chapter zeroes or fine-tunes at most; n_sample: per-filter sample kept for
    normality tests; tail_quantile: POT threshold quantile; rise_masks: masks per RISE map;
    domains: the clean data domains the profile's data has (corruptions apply to all).
    """

    name: str
    device: str
    model: str
    data: str
    image_size: int
    n_reference: int
    n_query: int
    n_eval: int
    batch_size: int
    top_k: int
    n_sample: int
    tail_quantile: float
    rise_masks: int
    domains: tuple[str, ...] = ("source",)

    def __str__(self) -> str:
        return "\n".join(f"{f.name:>13}: {getattr(self, f.name)}" for f in fields(self))

    def with_(self, **changes) -> "Profile":
        """A copy with some fields changed (e.g. smaller sizes for a quick run)."""
        return replace(self, **changes)


PROFILES: dict[str, Profile] = {
    "embedded": Profile(name="embedded", device="cpu", model="shapes-resnet", data="shapes", image_size=64,
                        n_reference=4000, n_query=200, n_eval=2000, batch_size=256, top_k=25,
                        n_sample=1000, tail_quantile=0.90, rise_masks=500, domains=("source", "target")),
    "full": Profile(name="full", device="cuda", model="resnet50", data="imagenette", image_size=224,
                    n_reference=10000, n_query=500, n_eval=3925, batch_size=64, top_k=50,
                    n_sample=2000, tail_quantile=0.90, rise_masks=4000),
}


def get(name: str) -> Profile:
    """The profile called ``name`` ("embedded" or "full")."""
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; expected one of {sorted(PROFILES)}")
    profile = PROFILES[name]
    if profile.device == "cuda" and not torch.cuda.is_available():
        profile = profile.with_(device="cpu")
    return profile


def current() -> Profile:
    """``$SALTOOLS_PROFILE`` if set, else ``full`` when a GPU is present and the ResNet-50 weights are
    cached or reachable, else ``embedded``."""
    chosen = os.environ.get(ENV_VAR, "").strip()
    if chosen:
        return get(chosen)
    return get("full" if torch.cuda.is_available() and _full_weights_obtainable() else "embedded")


def _full_weights_obtainable() -> bool:
    return torchvision_weights_obtainable(PROFILES["full"].model)
