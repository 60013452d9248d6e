"""Loading models: the shipped Shapes checkpoints (sha256-checked) and torchvision's ImageNet ResNets.

torchvision weights come from the torch.hub cache (``$TORCH_HOME``) or, when the host answers
within seconds, a download; offline, loading fails fast with a message that names the way out.
"""
from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from urllib.error import URLError
from urllib.parse import urlparse

import torch
import torch.nn as nn
import torchvision.models as tvm

from .._network import reachable
from ..data import CLASSES
from ..parameters import TEXT, Choice, Each, checked, checked_fields
from .architectures import IMAGENET_MEAN, IMAGENET_STD, Normalized, ShapesMobileNet, ShapesResNet, ShapesVGG


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights are neither cached nor downloadable (offline machine)."""


class ChecksumError(RuntimeError):
    """A weights file does not have the expected sha256."""


@checked_fields(classes=Each(TEXT), architecture=Choice(("resnet", "vgg", "mobilenet")))
@dataclass(frozen=True)
class ShippedModel:
    """A checkpoint inside the package: file name, sha256, architecture (a name in ``ARCHITECTURES``)
    and its constructor arguments, the training seed of ``models.train_shapes_model``, class names."""

    file: str
    sha256: str
    kwargs: dict
    classes: tuple[str, ...]
    architecture: str = "resnet"
    seed: int = 0


ARCHITECTURES: dict[str, type[nn.Module]] = {"resnet": ShapesResNet, "vgg": ShapesVGG, "mobilenet": ShapesMobileNet}


_RESNET18_QUARTER = {"num_classes": 10, "layers": (2, 2, 2, 2), "widths": (16, 32, 64, 128)}

#: The Shapes model zoo, all trained by ``models.train_shapes_model(name)`` on the source domain.
SHIPPED: dict[str, ShippedModel] = {
    "shapes-resnet": ShippedModel(
        "shapes_resnet.pt", "1528689b10ad7d5f80aeb32a2dc3dacba23b5dd25f17696f72ce1bf5eb1bf2b2", _RESNET18_QUARTER, CLASSES),
    "shapes-resnet-seed1": ShippedModel(
        "shapes_resnet_seed1.pt", "9ecde4b6462426241c07a1a490e205c0759386270ad4a743858a9d7aa30b07b5", _RESNET18_QUARTER,
        CLASSES, seed=1),
    "shapes-resnet-seed2": ShippedModel(
        "shapes_resnet_seed2.pt", "7c3ce7ce98fecde6f1534300d61e2c2638143c57bbccbb61fe507ac371af4e40", _RESNET18_QUARTER,
        CLASSES, seed=2),
    "shapes-resnet-deep": ShippedModel(
        "shapes_resnet_deep.pt", "c89102df15499bd2748d876f14e3ed4bb08e21a58f590a0796394fc2af384b98",
        {**_RESNET18_QUARTER, "layers": (3, 3, 3, 3)}, CLASSES),
    "shapes-vgg": ShippedModel(
        "shapes_vgg.pt", "a16754dcd6248c024535d2f30e9bb653d7e9d20e197bc1f4b1fc4c43c88cc6be", {"num_classes": 10},
        CLASSES, architecture="vgg"),
    "shapes-mobilenet": ShippedModel(
        "shapes_mobilenet.pt", "18b77975c29287c9d5d86a4f8be5921802612b11bff16b2ab7e43dd8f4bbe2f0", {"num_classes": 10},
        CLASSES, architecture="mobilenet"),
}

# name -> (torchvision builder, weights enum member); V1 weights are the ones the papers used.
TORCHVISION: dict[str, tuple[str, str]] = {
    "resnet18": ("resnet18", "IMAGENET1K_V1"),
    "resnet50": ("resnet50", "IMAGENET1K_V1"),
}


def available() -> list[str]:
    """Names ``load`` accepts."""
    return sorted(SHIPPED) + sorted(TORCHVISION)


def sha256(path: str | Path) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@checked()
def load(name: str = "shapes-resnet", *, device: str | torch.device | None = None,
         weights: str | Path | None = None) -> nn.Module:
    """A model in eval mode taking images in [0, 1], with ``model.classes`` (class names).

    Parameters
    ----------
    name : "shapes-resnet" (shipped, checked by sha256) or a torchvision name ("resnet18", "resnet50").
    device : where to put it (default CPU).
    weights : a local state_dict file to load instead of the shipped or torchvision weights.
    """
    if name in SHIPPED:
        model = _load_shipped(name, weights)
    elif name in TORCHVISION:
        model = _load_torchvision(name, weights)
    else:
        raise ValueError(f"unknown model {name!r}; expected one of {available()}")
    model.eval()
    return model.to(device) if device is not None else model


@checked()
def asset_path(file: str) -> Path:
    """Path of a file shipped in ``saltools/assets``."""
    return Path(str(resources.files("saltools.assets") / file))


@checked()
def load_checked(path: str | Path, expected_sha256: str) -> dict:
    """``torch.load(path, weights_only=True)`` after checking the file's sha256 (ChecksumError if wrong)."""
    found = sha256(path)
    if found != expected_sha256:
        raise ChecksumError(f"weights file {path} has sha256 {found}, expected {expected_sha256}: it is "
                            "corrupted or was replaced; reinstall saltools (pip install -r requirements.txt)")
    return torch.load(path, map_location="cpu", weights_only=True)


def _load_shipped(name: str, weights: str | Path | None) -> nn.Module:
    spec = SHIPPED[name]
    model = ARCHITECTURES[spec.architecture](**spec.kwargs)
    if weights is None:
        state = load_checked(asset_path(spec.file), spec.sha256)
    else:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    model.classes = spec.classes
    return model


def _load_torchvision(name: str, weights: str | Path | None) -> nn.Module:
    builder, member = TORCHVISION[name]
    enum = tvm.get_model_weights(builder)[member]
    net = getattr(tvm, builder)(weights=None)
    if weights is None:
        weights = _torchvision_weights_file(enum.url)
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
        net.load_state_dict(state)
    except FileNotFoundError:
        raise
    except Exception as error:                    # truncated, not a state_dict, or for another architecture
        raise ValueError(f"{weights} is not a usable state_dict for torchvision's {builder} "
                         f"({type(error).__name__}: {str(error)[:300]})") from None
    model = Normalized(net, IMAGENET_MEAN, IMAGENET_STD)
    model.classes = tuple(enum.meta["categories"])
    return model


@checked()
def torchvision_weights_path(url: str) -> Path:
    """Where torch.hub caches the checkpoint at ``url`` (under ``$TORCH_HOME``)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(url).path)


def _torchvision_weights_file(url: str) -> Path:
    """The cached torchvision checkpoint, downloaded first if the host answers within seconds."""
    cached = torchvision_weights_path(url)
    if cached.exists():
        return check_hash_prefix(cached)
    advice = (f"pretrained weights {cached.name} are not cached under {cached.parent} and cannot be "
              f"downloaded from {urlparse(url).netloc} (offline?). Either use the embedded profile "
              f"(SALTOOLS_PROFILE=embedded, model 'shapes-resnet'), or put the file there once from a "
              f"machine with internet (set TORCH_HOME to choose the cache folder), or pass weights=PATH.")
    if not reachable(urlparse(url).netloc):
        raise WeightsUnavailableError(advice)
    try:
        torch.hub.load_state_dict_from_url(url, progress=True, check_hash=True)
    except (URLError, OSError) as err:
        raise WeightsUnavailableError(f"{advice} ({err})") from err
    return cached



def check_hash_prefix(path: Path) -> Path:
    """``path`` if its sha256 starts with the hex digits after the last "-" of its name (torch.hub's
    convention for checkpoints, e.g. ``resnet50-0676ba61.pth``); ChecksumError otherwise."""
    match = re.search(r"-([0-9a-f]{8,})\.", path.name)
    if match and not sha256(path).startswith(match.group(1)):
        raise ChecksumError(f"the cached weights file {path} does not have the sha256 its name promises "
                            f"({match.group(1)}...): it is truncated or was replaced; delete it to download it "
                            "again, or pass weights=PATH to load a file of your own")
    return path


@checked()
def torchvision_weights_url(name: str) -> str:
    """The download address of the torchvision weights that ``load(name)`` uses."""
    builder, member = TORCHVISION[name]
    return tvm.get_model_weights(builder)[member].url


@checked()
def torchvision_weights_obtainable(name: str) -> bool:
    """Whether ``load(name)`` can get its torchvision weights: cached, or the host answers."""
    url = torchvision_weights_url(name)
    return torchvision_weights_path(url).exists() or reachable(urlparse(url).netloc)
