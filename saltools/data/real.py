"""Real photos for the full profile: scikit-image's bundled photos and torchvision's Imagenette."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import skimage.data
import torch
import torch.nn.functional as F
from torchvision import datasets, transforms

from .._network import reachable
from ..parameters import Choice, Each, checked


SKIMAGE_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "camera", "cat")


@checked(names=Each(Choice(SKIMAGE_PHOTOS)))
def photos(names: Sequence[str] = SKIMAGE_PHOTOS, size: int = 224) -> torch.Tensor:
    """scikit-image's bundled sample photos (no download), centre-cropped and resized: [N, 3, size, size]."""
    out = []
    for name in names:
        if not hasattr(skimage.data, name):
            raise ValueError(f"scikit-image has no sample image {name!r}; try one of {SKIMAGE_PHOTOS}")
        img = torch.as_tensor(np.asarray(getattr(skimage.data, name)()), dtype=torch.float32) / 255
        img = img[..., None].expand(*img.shape, 3) if img.ndim == 2 else img[..., :3]
        img = img.permute(2, 0, 1)
        side = min(img.shape[1:])
        top, left = (img.shape[1] - side) // 2, (img.shape[2] - side) // 2
        img = img[:, top:top + side, left:left + side]
        out.append(F.interpolate(img[None], size=(size, size), mode="bilinear", antialias=True, align_corners=False)[0])
    return torch.stack(out).clamp(0, 1)


# Imagenette's ten WordNet ids and their ImageNet-1k class indices.
IMAGENETTE_WNIDS: dict[str, int] = {
    "n01440764": 0, "n02102040": 217, "n02979186": 482, "n03000684": 491, "n03028079": 497,
    "n03394916": 566, "n03417042": 569, "n03425413": 571, "n03445777": 574, "n03888257": 701,
}


class _ToImageNetIndex:
    """Target transform: Imagenette folder index -> ImageNet-1k class index (picklable)."""

    def __init__(self, wnids: Sequence[str]):
        self.indices = [IMAGENETTE_WNIDS[w] for w in wnids]

    def __call__(self, label: int) -> int:
        return self.indices[label]


@checked(split=Choice(("train", "val")))
def imagenette(root: str | Path, split: str = "val", size: int = 224, download: bool = False):
    """torchvision's Imagenette (full profile): images in [0, 1], labels as ImageNet-1k class indices.

    Reads ``root/imagenette2-320/{train,val}/<wnid>/*.JPEG``. A missing folder raises at once with the
    way out; with ``download=True`` an offline machine fails within seconds instead of a urllib trace.
    """


    transform = transforms.Compose([transforms.Resize(size), transforms.CenterCrop(size), transforms.ToTensor()])
    folder = Path(root) / "imagenette2-320"
    advice = (f"Imagenette is not under {folder}. Download it once with internet "
              f"(saltools.data.imagenette(root, download=True)), or use the embedded profile "
              f"(SALTOOLS_PROFILE=embedded) and its Shapes data.")
    if not folder.exists() and (not download or not reachable("s3.amazonaws.com")):
        raise RuntimeError(advice)
    try:
        ds = datasets.Imagenette(str(root), split=split, size="320px", download=download, transform=transform)
    except (RuntimeError, OSError) as err:
        raise RuntimeError(f"{advice} ({err})") from err
    ds.target_transform = _ToImageNetIndex(ds.wnids)
    return ds
