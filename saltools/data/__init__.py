"""Data: the synthetic Shapes images (embedded profile), their domains and corruptions, real photos.

``shapes`` renders the Shapes data set, ``corruptions`` the ImageNet-C-style corruptions, ``noise``
the keyed random fields both use, ``real`` the photos and Imagenette of the full profile; this
module picks the data a chapter uses under a profile (``for_profile``).
"""
from __future__ import annotations

import os
from pathlib import Path

import torch

from ..parameters import checked
from .corruptions import CORRUPTIONS, Corrupted, Corruption, corrupt
from .real import IMAGENETTE_WNIDS, SKIMAGE_PHOTOS, imagenette, photos
from .shapes import CLASSES, DOMAINS, Domain, Shapes

__all__ = ["CLASSES", "CORRUPTIONS", "Corrupted", "Corruption", "DOMAINS", "Domain", "IMAGENETTE_WNIDS",
           "SHAPES_SPLITS", "SKIMAGE_PHOTOS", "Shapes", "corrupt", "data_root", "first_images", "for_profile",
           "imagenette", "photos"]


SHAPES_SPLITS = {"reference": "reference", "query": "test", "eval": "test"}


def data_root() -> Path:
    """Where real data sets live: ``$SALTOOLS_DATA`` or ``~/.cache/saltools``."""
    return Path(os.environ.get("SALTOOLS_DATA", Path.home() / ".cache" / "saltools"))


@checked()
def first_images(dataset, n: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``n`` (default: all) images [n, C, H, W] and labels [n] of a Shapes data set (rendered at
    once) or of any Dataset of (image, label, ...), such as the full profile's Imagenette subsets."""
    if not isinstance(dataset, torch.utils.data.Dataset):
        raise TypeError(f"expected a Dataset of (image, label, ...); got {type(dataset).__name__}")
    n = len(dataset) if n is None else min(int(n), len(dataset))
    if isinstance(dataset, Shapes):
        return dataset.images[:n], dataset.labels[:n]
    if n == 0:
        raise ValueError("the dataset has no images")
    items = [dataset[i] for i in range(n)]
    labels = torch.as_tensor([torch.as_tensor(item[1]).item() for item in items])
    if labels.is_floating_point():
        raise TypeError(f"the dataset's labels must be integer class indices; got {labels.dtype} values")
    return torch.stack([item[0] for item in items]), labels


@checked()
def for_profile(profile, role: str, n: int | None = None, seed: int = 0, **shapes_kwargs):
    """The data a chapter uses in a role under a profile: a Dataset of (image in [0, 1], label, ...).

    role : "reference" (fits parameter-saliency statistics), "query" (images to explain) or "eval"
        (accuracy). Reference and query images never overlap.
    n : how many images (default: the profile's ``n_reference`` or ``n_eval``).
    Shapes keyword arguments (domain, corruption, ...) apply to the embedded profile only.
    """
    if role not in SHAPES_SPLITS:
        raise ValueError(f"role must be one of {sorted(SHAPES_SPLITS)}; got {role!r}")
    n = n if n is not None else (profile.n_reference if role == "reference" else profile.n_eval)
    if profile.data == "shapes":
        return Shapes(n, split=SHAPES_SPLITS[role], seed=seed, size=profile.image_size, **shapes_kwargs)
    if profile.data == "imagenette":
        corruption, severity = shapes_kwargs.pop("corruption", None), shapes_kwargs.pop("severity", 0)
        if shapes_kwargs.pop("domain", "source") != "source" or shapes_kwargs:
            raise ValueError(f"Imagenette has only the source domain and corruptions; got {shapes_kwargs}")
        split = "train" if role == "reference" else "val"
        ds = imagenette(data_root(), split=split, size=profile.image_size, download=True)
        order = torch.randperm(len(ds), generator=torch.Generator().manual_seed(seed))[:n]
        subset = torch.utils.data.Subset(ds, order.tolist())
        return subset if corruption is None else Corrupted(subset, corruption, severity)
    raise ValueError(f"profile {profile.name!r} has unknown data {profile.data!r}")
