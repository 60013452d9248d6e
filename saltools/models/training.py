"""Training: the one reproducible recipe behind the shipped Shapes checkpoints."""
from __future__ import annotations

import pandas as pd
import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm.auto import tqdm

from .. import checks
from .._torch import device_of, preserved_state
from ..data import Shapes, first_images
from ..parameters import checked
from .architectures import Normalize
from .evaluation import as_images
from .loading import ARCHITECTURES, SHIPPED


def fit_normalization(model: nn.Module, images: torch.Tensor) -> None:
    """Set the model's input ``Normalize`` to the per-channel mean and std of ``images`` (at least two
    images in [0, 1]; every channel must vary, or its std would be 0). Nothing changes on an error."""
    norm = next((m for m in model.modules() if isinstance(m, Normalize)), None)
    if norm is None:
        raise ValueError("the model has no Normalize module to fit")
    images = checks.images(images)
    if len(images) < 2 or images.shape[1] != norm.mean.shape[1]:
        raise ValueError(f"fit_normalization needs at least 2 images with {norm.mean.shape[1]} channels; got "
                         f"shape {tuple(images.shape)}")
    mean, std = images.mean(dim=(0, 2, 3)), images.std(dim=(0, 2, 3))
    if not bool((std > 0).all()):
        raise ValueError(f"every channel must vary over the images; the std per channel is {std.tolist()}")
    norm.mean.copy_(mean.view(1, -1, 1, 1))
    norm.std.copy_(std.view(1, -1, 1, 1))


@checked()
def train(model: nn.Module, dataset, *, epochs: int = 8, batch_size: int = 128, lr: float = 3e-3,
          weight_decay: float = 5e-4, seed: int = 0, flips: bool = True, noise: float = 0.0,
          progress: bool = True) -> pd.DataFrame:
    """Train with AdamW and a one-cycle schedule; returns one row per epoch.

    Augmentation: random horizontal flips; with ``noise > 0``, Gaussian pixel noise whose standard
    deviation is drawn per image from U(0, noise) (a little sensor noise, so that the model does not
    collapse at the first speck of it).

    Changes the model's parameters and BatchNorm statistics (that is its purpose) and restores its
    train/eval mode. The inputs are checked first; if training fails midway (or is interrupted), the
    parameters and buffers are restored to what they were.
    """
    images, labels = (as_images(dataset), dataset.labels) if hasattr(dataset, "labels") else first_images(dataset)
    images, labels = checks.images_and_labels(images, labels, model=model)
    epochs, batch_size = checks.positive_int(epochs, "epochs"), checks.positive_int(batch_size, "batch_size")
    labels = checks.labels_for(model, labels, images)
    saved = {name: value.detach().clone() for name, value in model.state_dict(keep_vars=True).items()}
    try:
        return _train(model, images, labels, epochs, batch_size, lr, weight_decay, seed, flips, noise, progress)
    except BaseException:
        with torch.no_grad():
            for name, value in model.state_dict(keep_vars=True).items():
                value.copy_(saved[name])
        raise


def _train(model, images, labels, epochs, batch_size, lr, weight_decay, seed, flips, noise, progress):
    device = device_of(model)
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
                x, y = checks.model_input(images[idx], model), labels[idx].to(device)
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


def _train_from_seed(spec, seed: int, n_train: int, epochs: int, noise: float, progress: bool):
    torch.manual_seed(seed)
    data = Shapes(n_train, split="train", seed=seed)
    model = ARCHITECTURES[spec.architecture](**spec.kwargs)
    with torch.no_grad():
        fit_normalization(model, data.images[:4096])
    history = train(model, data, epochs=epochs, seed=seed, noise=noise, progress=progress)
    model.classes = spec.classes
    return model.eval(), history


@checked()
def train_shapes_model(name: str = "shapes-resnet", n_train: int = 20000, epochs: int = 6, noise: float = 0.05,
                       progress: bool = True):
    """The one recipe behind every shipped Shapes model (``SHIPPED[name]``): returns (model in eval
    mode, history). Trains the entry's architecture from its seed on ``Shapes(n_train, split="train",
    seed=seed)`` (source domain) only, never on "test"/"val"/"reference" images."""
    if name not in SHIPPED:
        raise ValueError(f"unknown Shapes model {name!r}; expected one of {sorted(SHIPPED)}")
    return _train_from_seed(SHIPPED[name], SHIPPED[name].seed, n_train, epochs, noise, progress)


@checked()
def train_shapes_resnet(n_train: int = 20000, epochs: int = 6, seed: int = 0, noise: float = 0.05,
                        progress: bool = True):
    """The recipe of the shipped ``shapes-resnet`` checkpoint with any ``seed``: returns (model in eval
    mode, history). Trains on ``Shapes(n_train, split="train", seed=seed)`` (source domain) only."""
    return _train_from_seed(SHIPPED["shapes-resnet"], seed, n_train, epochs, noise, progress)
