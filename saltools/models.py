"""Models: the small Shapes ResNet (shipped weights), torchvision ImageNet ResNets, the conv filter index.

Every model here takes images in [0, 1]: input normalization is the model's first module.
"""
from __future__ import annotations

import hashlib
import os
import re
import socket
import weakref
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Iterator, Sequence
from urllib.error import URLError
from urllib.parse import urlparse

import numpy as np
import pandas as pd
import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.models.resnet import BasicBlock
from tqdm.auto import tqdm

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights are neither cached nor downloadable (offline machine)."""


class ChecksumError(RuntimeError):
    """A weights file does not have the expected sha256."""


# ----------------------------------------------------------------------------- architectures
class Normalize(nn.Module):
    """``(x - mean) / std`` per channel, so the model takes images in [0, 1]."""

    def __init__(self, mean: Sequence[float] = (0.5, 0.5, 0.5), std: Sequence[float] = (0.25, 0.25, 0.25)):
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class Normalized(nn.Module):
    """A network preceded by input normalization: ``net(normalize(x))``."""

    def __init__(self, net: nn.Module, mean: Sequence[float], std: Sequence[float]):
        super().__init__()
        self.normalize = Normalize(mean, std)
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.normalize(x))


class ShapesResNet(nn.Module):
    """A narrow torchvision-style ResNet for 64x64 Shapes images (ResNet-18 layout at 1/4 width by default).

    Stages are named as in torchvision (``conv1``, ``layer1`` .. ``layer4``, ``fc``) and built from
    torchvision's own ``BasicBlock``; the stem is a stride-2 3x3 conv without max-pool.
    """

    def __init__(self, num_classes: int = 10, layers: Sequence[int] = (2, 2, 2, 2),
                 widths: Sequence[int] = (16, 32, 64, 128)):
        super().__init__()
        self.normalize = Normalize()
        self.conv1 = nn.Conv2d(3, widths[0], 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        inplanes = widths[0]
        for i, (blocks, width) in enumerate(zip(layers, widths)):
            stride = 1 if i == 0 else 2
            stage = []
            for b in range(blocks):
                downsample = None
                if b == 0 and (stride != 1 or inplanes != width):
                    downsample = nn.Sequential(nn.Conv2d(inplanes, width, 1, stride=stride, bias=False),
                                               nn.BatchNorm2d(width))
                stage.append(BasicBlock(inplanes, width, stride if b == 0 else 1, downsample))
                inplanes = width
            setattr(self, f"layer{i + 1}", nn.Sequential(*stage))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(inplanes, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(self.normalize(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


# ----------------------------------------------------------------------------- loading
@dataclass(frozen=True)
class ShippedModel:
    """A checkpoint inside the package: file name, sha256 and the constructor arguments."""

    file: str
    sha256: str
    kwargs: dict
    classes: tuple[str, ...]


def _shapes_classes() -> tuple[str, ...]:
    from .data import CLASSES
    return CLASSES


SHIPPED: dict[str, ShippedModel] = {
    "shapes-resnet": ShippedModel(
        file="shapes_resnet.pt",
        sha256="1528689b10ad7d5f80aeb32a2dc3dacba23b5dd25f17696f72ce1bf5eb1bf2b2",
        kwargs={"num_classes": 10, "layers": (2, 2, 2, 2), "widths": (16, 32, 64, 128)},
        classes=_shapes_classes(),
    ),
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


def _asset_path(file: str) -> Path:
    """Path of a file shipped in ``saltools/assets``."""
    return Path(str(resources.files("saltools.assets") / file))


def load_checked(path: str | Path, expected_sha256: str) -> dict:
    """``torch.load(path, weights_only=True)`` after checking the file's sha256 (ChecksumError if wrong)."""
    found = sha256(path)
    if found != expected_sha256:
        raise ChecksumError(f"weights file {path} has sha256 {found}, expected {expected_sha256}: it is "
                            "corrupted or was replaced; reinstall saltools (pip install -r requirements.txt)")
    return torch.load(path, map_location="cpu", weights_only=True)


def _load_shipped(name: str, weights: str | Path | None) -> nn.Module:
    spec = SHIPPED[name]
    model = ShapesResNet(**spec.kwargs)
    if weights is None:
        state = load_checked(_asset_path(spec.file), spec.sha256)
    else:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    model.classes = spec.classes
    return model


def _load_torchvision(name: str, weights: str | Path | None) -> nn.Module:
    import torchvision.models as tvm

    builder, member = TORCHVISION[name]
    enum = tvm.get_model_weights(builder)[member]
    net = getattr(tvm, builder)(weights=None)
    if weights is None:
        weights = _torchvision_weights_file(enum.url)
    net.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    model = Normalized(net, IMAGENET_MEAN, IMAGENET_STD)
    model.classes = tuple(enum.meta["categories"])
    return model


def _torchvision_weights_path(url: str) -> Path:
    """Where torch.hub caches the checkpoint at ``url`` (under ``$TORCH_HOME``)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(url).path)


def _torchvision_weights_file(url: str) -> Path:
    """The cached torchvision checkpoint, downloaded first if the host answers within seconds."""
    cached = _torchvision_weights_path(url)
    if cached.exists():
        return cached
    advice = (f"pretrained weights {cached.name} are not cached under {cached.parent} and cannot be "
              f"downloaded from {urlparse(url).netloc} (offline?). Either use the embedded profile "
              f"(SALTOOLS_PROFILE=embedded, model 'shapes-resnet'), or put the file there once from a "
              f"machine with internet (set TORCH_HOME to choose the cache folder), or pass weights=PATH.")
    if not _reachable(urlparse(url).netloc):
        raise WeightsUnavailableError(advice)
    try:
        torch.hub.load_state_dict_from_url(url, progress=True, check_hash=True)
    except (URLError, OSError) as err:
        raise WeightsUnavailableError(f"{advice} ({err})") from err
    return cached


def _reachable(host: str, timeout: float = 3.0) -> bool:
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


# ----------------------------------------------------------------------------- filter index
_STAGE = re.compile(r"^(conv1|layer\d+)$")


def conv_layers(model: nn.Module) -> list[tuple[str, nn.Conv2d]]:
    """Every ``nn.Conv2d`` of the model, in registration order; ValueError if there is none."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected a torch.nn.Module; got {type(model).__name__}")
    convs = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ValueError(f"{type(model).__name__} has no nn.Conv2d layer, so it has no filters to index")
    return convs


def _stage(layer: str) -> str:
    for part in layer.split("."):
        if _STAGE.match(part):
            return part
    return layer.split(".")[0]


def filter_index(model: nn.Module) -> pd.DataFrame:
    """One row per conv filter (output channel), in the column order of per-filter vectors.

    Columns: ``column`` (position in an [N, F] saliency tensor), ``layer`` (module name),
    ``stage`` (``conv1``, ``layer1`` .. for ResNets, else the top-level module), ``depth`` (index
    of the conv layer in registration order), ``filter`` (output channel), ``kernel`` ("3x3"),
    ``downsample`` (a 1x1 shortcut conv), ``fan_in`` (weights per filter).
    """
    rows = []
    for depth, (name, conv) in enumerate(conv_layers(model)):
        out_ch, in_ch, kh, kw = conv.weight.shape
        for j in range(out_ch):
            rows.append((name, _stage(name), depth, j, f"{kh}x{kw}", "downsample" in name, in_ch * kh * kw))
    index = pd.DataFrame(rows, columns=["layer", "stage", "depth", "filter", "kernel", "downsample", "fan_in"])
    index.insert(0, "column", np.arange(len(index)))
    return index


# ----------------------------------------------------------------------------- using and training
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


def class_targets(target, n: int, logits: torch.Tensor | None = None, device=None) -> torch.Tensor:
    """Class indices [n] (int64) from an int, a list or a tensor; ``None`` takes the argmax of ``logits``.
    Raises ValueError for a wrong count, a non-integer type or (given ``logits``) an index out of range."""
    if target is None:
        if logits is None:
            raise ValueError("target=None needs the logits to pick the predicted class")
        return logits.detach().argmax(1)
    target = torch.as_tensor(target, device=device)
    if target.ndim == 0:
        target = target.expand(n)
    if target.shape != (n,) or target.is_floating_point() or target.dtype == torch.bool:
        raise ValueError(f"target must be an int or {n} class indices; got {tuple(target.shape)} {target.dtype}")
    if logits is not None and bool(((target < 0) | (target >= logits.shape[-1])).any()):
        raise ValueError(f"target class indices must lie in [0, {logits.shape[-1]}); got {target.tolist()}")
    return target.long()


def _device(model: nn.Module) -> torch.device:
    p = next(iter(model.parameters()), None)
    return p.device if p is not None else torch.device("cpu")


def predict(model: nn.Module, images, batch_size: int = 256, progress: bool = False) -> torch.Tensor:
    """Logits [N, classes] for images in [0, 1] (a tensor or a Dataset), in eval mode, batched."""
    images = _as_images(images)
    device = _device(model)
    out = []
    with preserved_state(model), torch.no_grad():
        model.eval()
        for lo in tqdm(range(0, len(images), batch_size), disable=not progress, desc="predict"):
            out.append(model(images[lo:lo + batch_size].to(device)).float().cpu())
    return torch.cat(out) if out else torch.empty(0)


def accuracy(model: nn.Module, dataset, labels: torch.Tensor | None = None, batch_size: int = 256) -> float:
    """Top-1 accuracy on a Dataset of (image, label, ...) or on images with labels."""
    if labels is None:
        labels = getattr(dataset, "labels", None)
        if labels is None:
            labels = torch.as_tensor([item[1] for item in dataset])
    return (predict(model, dataset, batch_size).argmax(1) == torch.as_tensor(labels)).float().mean().item()


def _as_images(images) -> torch.Tensor:
    if isinstance(images, torch.Tensor):
        if images.ndim != 4:
            raise ValueError(f"images must have shape [N, C, H, W]; got {tuple(images.shape)}")
        return images
    if hasattr(images, "images"):
        return images.images
    if isinstance(images, torch.utils.data.Dataset):
        return torch.stack([images[i][0] for i in range(len(images))])
    raise TypeError(f"expected a tensor [N, C, H, W] or a Dataset; got {type(images).__name__}")


def fit_normalization(model: nn.Module, images: torch.Tensor) -> None:
    """Set the model's input ``Normalize`` to the per-channel mean and std of ``images``."""
    norm = next((m for m in model.modules() if isinstance(m, Normalize)), None)
    if norm is None:
        raise ValueError("the model has no Normalize module to fit")
    norm.mean.copy_(images.mean(dim=(0, 2, 3)).view(1, -1, 1, 1))
    norm.std.copy_(images.std(dim=(0, 2, 3)).view(1, -1, 1, 1))


def train(model: nn.Module, dataset, *, epochs: int = 8, batch_size: int = 128, lr: float = 3e-3,
          weight_decay: float = 5e-4, seed: int = 0, flips: bool = True, noise: float = 0.0,
          progress: bool = True) -> pd.DataFrame:
    """Train with AdamW and a one-cycle schedule; returns one row per epoch.

    Augmentation: random horizontal flips; with ``noise > 0``, Gaussian pixel noise whose standard
    deviation is drawn per image from U(0, noise) (a little sensor noise, so that the model does not
    collapse at the first speck of it).

    Changes the model's parameters (that is its purpose) and restores its train/eval mode.
    """
    images, labels = _as_images(dataset), torch.as_tensor(dataset.labels)
    device = _device(model)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    steps = epochs * ((len(images) + batch_size - 1) // batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    history = []
    with preserved_state(model):
        model.train()
        bar = tqdm(total=steps, disable=not progress, desc="train")
        for epoch in range(epochs):
            order = torch.randperm(len(images), generator=gen)
            total_loss, correct = 0.0, 0
            for lo in range(0, len(images), batch_size):
                idx = order[lo:lo + batch_size]
                x, y = images[idx].to(device), labels[idx].to(device)
                if flips:
                    flip = torch.rand(len(idx), generator=gen) < 0.5
                    x = torch.where(flip.to(device)[:, None, None, None], x.flip(-1), x)
                if noise > 0:
                    sigma = noise * torch.rand(len(idx), 1, 1, 1, generator=gen)
                    x = (x + sigma.to(device) * torch.randn(x.shape, generator=gen).to(device)).clamp(0, 1)
                logits = model(x)
                loss = F.cross_entropy(logits, y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                total_loss += loss.item() * len(idx)
                correct += (logits.argmax(1) == y).sum().item()
                bar.update()
            history.append({"epoch": epoch + 1, "loss": total_loss / len(images), "accuracy": correct / len(images)})
            bar.set_postfix(loss=f"{history[-1]['loss']:.3f}", acc=f"{history[-1]['accuracy']:.3f}")
        bar.close()
    return pd.DataFrame(history)


def train_shapes_resnet(n_train: int = 20000, epochs: int = 6, seed: int = 0, noise: float = 0.05,
                        progress: bool = True):
    """The recipe of the shipped ``shapes-resnet`` checkpoint: returns (model in eval mode, history).

    Trains on ``Shapes(n_train, split="train", seed=seed)`` (source domain), never on "test"/"val".
    """
    from .data import Shapes

    torch.manual_seed(seed)
    data = Shapes(n_train, split="train", seed=seed)
    model = ShapesResNet(**SHIPPED["shapes-resnet"].kwargs)
    with torch.no_grad():
        fit_normalization(model, data.images[:4096])
    history = train(model, data, epochs=epochs, seed=seed, noise=noise, progress=progress)
    return model.eval(), history


def robustness(model: nn.Module, n: int = 1000, *, split: str = "test", seed: int = 0,
               corruptions: Sequence[str] | None = None, severities: Sequence[int] = (1, 2, 3, 4, 5),
               batch_size: int = 256, progress: bool = True) -> pd.DataFrame:
    """Accuracy of a Shapes model on the clean source and target domains and on every corruption
    of the source domain at every severity: one row per condition (domain, corruption, severity, accuracy).

    Clean conditions have ``corruption="none"`` and ``severity=0``.
    """
    from .data import CORRUPTIONS, Shapes

    corruptions = list(CORRUPTIONS) if corruptions is None else list(corruptions)
    conditions = [("source", None, 0), ("target", None, 0)]
    conditions += [("source", c, s) for c in corruptions for s in severities]
    rows = []
    for domain, corruption, severity in tqdm(conditions, disable=not progress, desc="conditions"):
        data = Shapes(n, split=split, seed=seed, domain=domain, corruption=corruption, severity=severity)
        rows.append({"domain": domain, "corruption": corruption or "none", "severity": severity,
                     "accuracy": accuracy(model, data, batch_size=batch_size)})
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class Mistakes:
    """Misclassified images of a data set: images, true labels, predicted labels, dataset indices."""

    images: torch.Tensor
    labels: torch.Tensor
    predictions: torch.Tensor
    indices: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)


def mistakes(model: nn.Module, dataset, limit: int | None = None, batch_size: int = 256) -> Mistakes:
    """The images the model misclassifies (at most ``limit``, in dataset order)."""
    loader = (dataset.batches(batch_size) if hasattr(dataset, "batches")
              else torch.utils.data.DataLoader(dataset, batch_size=batch_size))
    found = {"images": [], "labels": [], "predictions": [], "indices": []}
    seen = 0
    for batch in loader:
        x, y = batch[0], torch.as_tensor(batch[1])
        pred = predict(model, x, batch_size).argmax(1)
        wrong = (pred != y).nonzero().flatten()
        for key, value in zip(found, (x[wrong], y[wrong], pred[wrong], wrong + seen)):
            found[key].append(value)
        seen += len(y)
        if limit is not None and sum(len(v) for v in found["labels"]) >= limit:
            break
    out = {k: torch.cat(v)[:limit] if v else torch.empty(0) for k, v in found.items()}
    return Mistakes(**out)
