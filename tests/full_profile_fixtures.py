"""Stand-ins for the full profile's downloads, made locally so its real loading code runs offline:
random ResNet-50 weights in a state_dict file, and an Imagenette-format folder of scikit-image photos.

``python tests/full_profile_fixtures.py DIR`` writes both under DIR and prints the environment that
points saltools at them.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
import torchvision
from PIL import Image

import saltools as st


def write_random_weights(path: Path, name: str = "resnet50", seed: int = 0) -> Path:
    """torchvision's ``name`` architecture with random (default-initialized) weights, as a state_dict file."""
    torch.manual_seed(seed)
    torch.save(getattr(torchvision.models, name)(weights=None).state_dict(), path)
    return path


def write_imagenette(root: Path, per_class: dict | None = None, seed: int = 0) -> Path:
    """``root/imagenette2-320/{train,val}/<wnid>/*.JPEG``: ``per_class[split]`` images per class (default 5
    for train, enough reference images for the chapters' 97.5% tail quantile at the smoke scale, and 2 for
    val), random crops and flips of scikit-image's bundled photos, shorter side 320 px as in the "320px"
    release."""
    per_class = per_class or {"train": 5, "val": 2}
    photos = [np.asarray(st.data.photos([name], size=400)[0].permute(1, 2, 0) * 255, dtype=np.uint8)
              for name in st.data.SKIMAGE_PHOTOS]
    rng = np.random.default_rng(seed)
    for split in ("train", "val"):
        for c, wnid in enumerate(st.data.IMAGENETTE_WNIDS):
            folder = root / "imagenette2-320" / split / wnid
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(per_class[split]):
                photo = photos[(c + i) % len(photos)]
                top, left = rng.integers(0, 400 - 320, size=2)
                crop = photo[top:top + 320, left:left + 360 - 40 * (i % 2)]
                crop = crop[:, ::-1] if rng.random() < 0.5 else crop
                Image.fromarray(np.ascontiguousarray(crop)).save(folder / f"{wnid}_{split}_{i}.JPEG", quality=85)
    return root


def full_profile_environment(directory: Path) -> dict[str, str]:
    """Write both stand-ins under ``directory`` (once) and return the variables that use them."""
    weights = directory / "resnet50-random.pth"
    if not weights.exists():
        write_random_weights(weights)
    if not (directory / "data" / "imagenette2-320").exists():
        write_imagenette(directory / "data")
    return {"SALTOOLS_PROFILE": "full", "SALTOOLS_SCALE": "smoke", "SALTOOLS_WEIGHTS": str(weights),
            "SALTOOLS_DATA": str(directory / "data")}


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("full-profile-stand-ins")
    target.mkdir(parents=True, exist_ok=True)
    print(" ".join(f"{k}={v}" for k, v in full_profile_environment(target).items()))
