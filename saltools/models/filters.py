"""The conv filter index: one row per filter, the column order of every per-filter vector."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import torch
import torch.nn as nn

from .._torch import device_of, preserved_state


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


#: square input sizes tried, in order, when stages are inferred from the spatial resolution
PROBE_SIZES = (64, 224, 32)


def resolution_stages(model: nn.Module, sizes=PROBE_SIZES) -> dict[str, str] | None:
    """Stages of a model whose module names do not say them: conv layer name -> ``stage1``, ``stage2``
    .., a new stage wherever a conv's output resolution is below the last one's (one forward pass of a
    black image, the first of ``sizes`` the model accepts). None when no size runs (the model is left
    as found)."""
    convs = conv_layers(model)
    names = {conv: name for name, conv in convs}
    seen: dict[str, int] = {}

    def record(module, inputs, output) -> None:
        seen.setdefault(names[module], output.shape[-2] * output.shape[-1])
    hooks = [conv.register_forward_hook(record) for _, conv in convs]
    try:
        with preserved_state(model), torch.no_grad():
            model.eval()
            for size in sizes:
                seen.clear()
                try:
                    model(torch.zeros(1, 3, size, size, device=device_of(model)))
                    break
                except (RuntimeError, ValueError, TypeError):
                    continue
            else:
                return None
    finally:
        for hook in hooks:
            hook.remove()
    stages, stage, last = {}, 0, None
    for name, pixels in seen.items():                    # in the order the convs ran
        if last is not None and pixels < last:
            stage += 1
        stages[name], last = f"stage{stage + 1}", pixels
    return {name: stages.get(name, f"stage{stage + 1}") for name, _ in convs}


def _stages(model: nn.Module, names: list[str], stages) -> list[str]:
    if stages is not None:
        if callable(stages):
            return [str(stages(name)) for name in names]
        missing = [name for name in names if name not in stages]
        if missing:
            raise ValueError(f"stages must name the stage of every conv layer; missing {missing[:5]}"
                             f"{' ...' if len(missing) > 5 else ''}")
        return [str(stages[name]) for name in names]
    if any(_STAGE.match(part) for name in names for part in name.split(".")):
        return [_stage(name) for name in names]
    inferred = resolution_stages(model)
    return [inferred[name] for name in names] if inferred else [_stage(name) for name in names]


def filter_index(model: nn.Module, stages=None) -> pd.DataFrame:
    """One row per conv filter (output channel), in the column order of per-filter vectors.

    Columns: ``column`` (position in an [N, F] saliency tensor), ``layer`` (module name),
    ``stage``, ``depth`` (index of the conv layer in registration order), ``filter`` (output channel),
    ``kernel`` ("3x3"), ``downsample`` (a 1x1 shortcut conv), ``fan_in`` (weights per filter).

    ``stage``: ``conv1``, ``layer1`` .. where the module names say so (torchvision's ResNets, the
    Shapes zoo); otherwise ``stage1``, ``stage2`` .. from where the spatial resolution drops
    (``resolution_stages``); or what ``stages`` gives (a dict or a function: layer name -> stage).
    """
    convs = conv_layers(model)
    stage_of = dict(zip([name for name, _ in convs], _stages(model, [name for name, _ in convs], stages)))
    rows = []
    for depth, (name, conv) in enumerate(convs):
        out_ch, in_ch, kh, kw = conv.weight.shape
        for j in range(out_ch):
            rows.append((name, stage_of[name], depth, j, f"{kh}x{kw}", "downsample" in name, in_ch * kh * kw))
    index = pd.DataFrame(rows, columns=["layer", "stage", "depth", "filter", "kernel", "downsample", "fan_in"])
    index.insert(0, "column", np.arange(len(index)))
    return index
