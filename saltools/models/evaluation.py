"""Using a trained model: batched prediction, accuracy, its mistakes, and robustness to shift."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import pandas as pd
import torch
import torch.nn as nn
from tqdm.auto import tqdm

from .. import checks
from .._torch import in_layout, memory_layout_fallback, preserved_state
from ..data import CORRUPTIONS, Shapes, first_images
from ..parameters import TEXT, Choice, Each, Integer, checked


@checked()
def predict(model: nn.Module, images, batch_size: int = 64, progress: bool = False) -> torch.Tensor:
    """Logits [N, classes] for images in [0, 1] (a tensor or a Dataset), in eval mode, batched, in
    channels-last memory where the model takes it (batches of 64 stay in a CPU's cache: up to 2.4x
    faster than 256 for the zoo's MobileNet, ``benchmarks/bench_perturb.py``)."""
    images = checks.images(as_images(images), model=model, allow_empty=True)
    batch_size = checks.positive_int(batch_size, "batch_size")

    def logits(channels_last: bool) -> list[torch.Tensor]:
        return [model(in_layout(checks.model_input(images[lo:lo + batch_size], model), channels_last)).float().cpu()
                for lo in tqdm(range(0, len(images), batch_size), disable=not progress, desc="predict")]
    with preserved_state(model), torch.no_grad():
        model.eval()
        if not len(images):                    # no images: [0, classes], the classes read off one blank image
            blank = checks.model_input(torch.zeros(1, *images.shape[1:], dtype=images.dtype), model)
            return torch.empty(0, model(blank).shape[1])
        out = memory_layout_fallback(model, logits)
    return torch.cat(out)


@checked()
def accuracy(model: nn.Module, dataset, labels: torch.Tensor | None = None, batch_size: int = 64) -> float:
    """Top-1 accuracy on a Dataset of (image, label, ...) or on images with labels (one pass over the data)."""
    batch_size = checks.positive_int(batch_size, "batch_size")
    if labels is None and not hasattr(dataset, "labels"):
        if not len(dataset):
            raise ValueError("accuracy of an empty data set is undefined")
        correct = sum(_predictions(model, x, y, batch_size).eq(y).sum().item()
                      for _, x, y in _growing_batches(dataset, batch_size, batch_size))
        return correct / len(dataset)
    images = as_images(dataset)
    if not len(images):
        raise ValueError("accuracy of an empty data set is undefined")
    labels = dataset.labels if labels is None else labels
    return _predictions(model, images, labels, batch_size).eq(torch.as_tensor(labels)).float().mean().item()


def _predictions(model: nn.Module, images: torch.Tensor, labels, batch_size: int) -> torch.Tensor:
    """Predicted classes of ``images``, after checking ``labels`` against the model's classes."""
    logits = predict(model, images, batch_size)
    checks.labels(labels, len(images), classes=logits.shape[-1])
    return logits.argmax(1)


def as_images(images) -> torch.Tensor:
    """Images [N, C, H, W] from a tensor, a Shapes data set or any Dataset of (image, ...)."""
    if isinstance(images, torch.Tensor):
        if images.ndim != 4:
            raise ValueError(f"images must have shape [N, C, H, W]; got {tuple(images.shape)}")
        return images
    if hasattr(images, "images"):
        return images.images
    if isinstance(images, torch.utils.data.Dataset):
        return first_images(images)[0]
    raise TypeError(f"expected a tensor [N, C, H, W] or a Dataset; got {type(images).__name__}")


@dataclass(frozen=True)
class Mistakes:
    """Misclassified images of a data set: images, true labels, predicted labels, dataset indices."""

    images: torch.Tensor
    labels: torch.Tensor
    predictions: torch.Tensor
    indices: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)


@checked()
def mistakes(model: nn.Module, dataset, limit: int | None = None, batch_size: int = 64) -> Mistakes:
    """The images the model misclassifies (at most ``limit``, in dataset order). The data is read in
    batches that start at ``limit`` images (at least 8) and double up to ``batch_size``, so a model that
    errs often is not run on more images than it needs."""
    found = {"images": [], "labels": [], "predictions": [], "indices": []}
    batch_size = checks.positive_int(batch_size, "batch_size")
    if limit is not None:
        limit = checks.positive_int(limit, "limit")
    first = batch_size if limit is None else min(batch_size, max(8, limit))
    for lo, x, y in _growing_batches(dataset, first, batch_size):
        pred = _predictions(model, x, y, batch_size)
        wrong = (pred != y).nonzero().flatten()
        for key, value in zip(found, (x[wrong], y[wrong], pred[wrong], wrong + lo)):
            found[key].append(value)
        if limit is not None and sum(len(v) for v in found["labels"]) >= limit:
            break
    out = {k: torch.cat(v)[:limit] for k, v in found.items() if v}
    if not out:                                       # an empty data set: empty tensors of the right kinds
        out = {"images": torch.empty(0, 3, 0, 0), **{k: torch.empty(0, dtype=torch.long) for k in list(found)[1:]}}
    return Mistakes(**out)


def _growing_batches(dataset, first: int, last: int):
    """(start, images, labels) of consecutive slices of ``dataset``, ``first`` images long and doubling
    up to ``last`` (a Shapes slice is rendered at once; other Datasets are read item by item)."""
    lo, size = 0, first
    while lo < len(dataset):
        hi = min(lo + size, len(dataset))
        if isinstance(dataset, Shapes):
            x, y = dataset[lo:hi][:2]
        else:
            x, y = first_images(torch.utils.data.Subset(dataset, range(lo, hi)))
        yield lo, x, torch.as_tensor(y)
        lo, size = hi, min(2 * size, last)


@checked(split=TEXT, corruptions=Each(Choice(tuple(CORRUPTIONS))), severities=Each(Integer(1, 5)))
def robustness(model: nn.Module, n: int = 1000, *, split: str = "test", seed: int = 0,
               corruptions: Sequence[str] | None = None, severities: Sequence[int] = (1, 2, 3, 4, 5),
               batch_size: int = 64, progress: bool = True) -> pd.DataFrame:
    """Accuracy of a Shapes model on the clean source and target domains and on every corruption
    of the source domain at every severity: one row per condition (domain, corruption, severity, accuracy).

    Clean conditions have ``corruption="none"`` and ``severity=0``.
    """
    corruptions = list(CORRUPTIONS) if corruptions is None else list(corruptions)
    conditions = [("source", None, 0), ("target", None, 0)]
    conditions += [("source", c, s) for c in corruptions for s in severities]
    rows = []
    for domain, corruption, severity in tqdm(conditions, disable=not progress, desc="conditions"):
        data = Shapes(n, split=split, seed=seed, domain=domain, corruption=corruption, severity=severity)
        rows.append({"domain": domain, "corruption": corruption or "none", "severity": severity,
                     "accuracy": accuracy(model, data, batch_size=batch_size)})
    return pd.DataFrame(rows)
