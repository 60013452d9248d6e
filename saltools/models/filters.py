"""The conv filter index: one row per filter, the column order of every per-filter vector."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import torch.nn as nn


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
