"""Metrics on saliency maps: localization against ground-truth masks (more metrics join with chapters 5-6)."""
from __future__ import annotations

import torch


def _check_maps(maps: torch.Tensor, masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    maps, masks = torch.as_tensor(maps), torch.as_tensor(masks)
    if maps.ndim == 2:
        maps, masks = maps[None], masks[None]
    if maps.ndim != 3 or maps.shape != masks.shape:
        raise ValueError(f"maps and masks must both have shape [N, H, W] (or [H, W]); got "
                         f"{tuple(maps.shape)} and {tuple(masks.shape)}")
    return maps.float(), masks.bool()


def relevance_mass(maps: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Share of the total |relevance| that falls inside the mask, per map (Arras et al. 2022): [N]."""
    maps, masks = _check_maps(maps, masks)
    total = maps.abs().sum(dim=(1, 2))
    return (maps.abs() * masks).sum(dim=(1, 2)) / total.clamp_min(torch.finfo(maps.dtype).tiny)


def relevance_rank(maps: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Share of the top-|mask| pixels by |relevance| that lie inside the mask, per map: [N]."""
    maps, masks = _check_maps(maps, masks)
    flat, inside = maps.abs().flatten(1), masks.flatten(1)
    sizes = inside.sum(1)
    order = flat.argsort(dim=1, descending=True, stable=True)
    ranks = torch.empty_like(order)
    ranks.scatter_(1, order, torch.arange(flat.shape[1]).expand_as(order))
    hits = (inside & (ranks < sizes[:, None])).sum(1)
    return hits / sizes.clamp_min(1)
