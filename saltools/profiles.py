"""Profiles: one object that tells a chapter which model, data and sizes to use.

``embedded``: the shipped Shapes ResNet and synthetic Shapes data on the CPU (offline, minutes).
``full``: torchvision's ImageNet ResNet-50 and real photos on a GPU (Colab).

Either runs at a *scale*: ``default``, or ``smoke`` (``$SALTOOLS_SCALE=smoke``), which shrinks every
size a chapter reads to seconds per cell without changing any code path, so that CI can execute the
full profile's code on a CPU.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace

import torch

from .models import torchvision_weights_obtainable
from .parameters import Choice, Each, checked, checked_fields

ENV_VAR = "SALTOOLS_PROFILE"
SCALE_VAR = "SALTOOLS_SCALE"
WEIGHTS_VAR = "SALTOOLS_WEIGHTS"

#: the sizes of the smoke scale (each size is the smaller of the profile's and this; the Shapes models
#: make few mistakes, so their query pools, four evaluation sets, stay large enough to hold some)
SMOKE_SIZES = {"n_reference": 48, "n_query": 6, "n_eval": 256, "batch_size": 16, "top_k": 4, "n_sample": 48,
               "rise_masks": 40, "n_images": 8, "n_objects": 4, "n_perturbed": 4, "n_graded": 8, "n_frames": 2}
SCALES = ("default", "smoke")


@checked_fields(domains=Each(Choice(("source", "target"))), scale=Choice(SCALES))
@dataclass(frozen=True)
class Profile:
    """Sizes and choices a chapter reads instead of branching on the profile name.

    model: name for ``saltools.models.load``; weights: a local state_dict file for it (None: the shipped
    or torchvision weights); data: "shapes" or "imagenette"; image_size: pixels.
    n_reference: images in the reference set of parameter saliency; n_query: query images a chapter
    analyses; n_eval: images per accuracy estimate; batch_size: images per forward/backward pass;
    top_k: filters a chapter zeroes or fine-tunes at most; n_sample: per-filter sample kept for
    normality tests; tail_quantile: POT threshold quantile; rise_masks: masks per RISE map;
    n_images: Shapes test images of the localization checks (chapter 5); n_objects: objects per grey
    level (chapter 5); n_perturbed: images whose maps and metrics chapter 6 computes; n_graded: images whose
    methods chapter 7 grades under every substrate (48 on 2 CPU cores keeps it within 3 minutes); n_frames: values
    per control that a widget precomputes for the static book at most (None: the widget's own choice);
    domains: the clean data domains the profile's data has (corruptions apply to all); scale: "default"
    or "smoke".
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
    n_images: int = 64
    n_objects: int = 32
    n_perturbed: int = 8
    n_graded: int = 48
    n_frames: int | None = None
    domains: tuple[str, ...] = ("source",)
    weights: str | None = None
    scale: str = "default"

    def __str__(self) -> str:
        return "\n".join(f"{f.name:>13}: {getattr(self, f.name)}" for f in fields(self))

    def with_(self, **changes) -> "Profile":
        """A copy with some fields changed (e.g. smaller sizes for a quick run)."""
        return replace(self, **changes)

    @checked(scale=Choice(SCALES))
    def at_scale(self, scale: str) -> "Profile":
        """This profile at ``scale``: "default" (as defined) or "smoke" (every size at most ``SMOKE_SIZES``)."""
        if scale == "default":
            return self
        return self.with_(scale=scale, **{k: min(getattr(self, k) or v, v) for k, v in SMOKE_SIZES.items()})

    @property
    def intervention_ks(self) -> tuple[int, ...]:
        """The filter counts the chapters' repair claims edit: 1, 2, 5, 10, 15, 20 below ``top_k``, and ``top_k``."""
        return tuple(k for k in (1, 2, 5, 10, 15, 20) if k < self.top_k) + (self.top_k,)


PROFILES: dict[str, Profile] = {
    "embedded": Profile(name="embedded", device="cpu", model="shapes-resnet", data="shapes", image_size=64,
                        n_reference=4000, n_query=200, n_eval=2000, batch_size=256, top_k=25,
                        n_sample=1000, tail_quantile=0.90, rise_masks=500, domains=("source", "target")),
    "full": Profile(name="full", device="cuda", model="resnet50", data="imagenette", image_size=224,
                    n_reference=10000, n_query=250, n_eval=3925, batch_size=64, top_k=50,
                    n_sample=2000, tail_quantile=0.90, rise_masks=4000, n_graded=192),
}


def scale() -> str:
    """``$SALTOOLS_SCALE`` ("default" when unset)."""
    chosen = os.environ.get(SCALE_VAR, "").strip() or "default"
    if chosen not in SCALES:
        raise ValueError(f"{SCALE_VAR}={chosen!r} is not a scale; expected one of {list(SCALES)}")
    return chosen


@checked()
def get(name: str) -> Profile:
    """The profile called ``name`` ("embedded" or "full") at the scale ``$SALTOOLS_SCALE``, on the CPU
    where CUDA is missing, with the weights file ``$SALTOOLS_WEIGHTS`` for the full profile's model."""
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; expected one of {sorted(PROFILES)}")
    profile = PROFILES[name].at_scale(scale())
    if profile.device == "cuda" and not torch.cuda.is_available():
        profile = profile.with_(device="cpu")
    weights = os.environ.get(WEIGHTS_VAR, "").strip()
    if weights and name != "embedded":
        profile = profile.with_(weights=weights)
    return profile


def current() -> Profile:
    """``$SALTOOLS_PROFILE`` if set, else ``full`` when a GPU is present and the ResNet-50 weights are
    cached, reachable or given by ``$SALTOOLS_WEIGHTS``, else ``embedded``."""
    chosen = os.environ.get(ENV_VAR, "").strip()
    if chosen:
        return get(chosen)
    return get("full" if torch.cuda.is_available() and _full_weights_obtainable() else "embedded")


def building_book() -> bool:
    """True while the book is being built (``SALTOOLS_BOOK_BUILD=1``, set by the book's Sphinx extension):
    widgets then precompute frames and quizzes write static HTML, so the pages work without a kernel, and
    exercise checks audit their declared mistakes on the chapter's data."""
    return os.environ.get("SALTOOLS_BOOK_BUILD") == "1"


def _full_weights_obtainable() -> bool:
    return bool(os.environ.get(WEIGHTS_VAR, "").strip()) or torchvision_weights_obtainable(PROFILES["full"].model)
