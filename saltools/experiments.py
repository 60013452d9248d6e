"""Experiments that combine several concepts: methods scored against masks, the brightness sweep,
cascading randomization (chapter 5), and the effect of baselines and settings on maps and on the
verdicts of causal metrics (chapter 6). Each returns a tidy table that a chapter plots.
"""
from __future__ import annotations

import copy
from typing import Sequence

import pandas as pd
import torch
import torch.nn as nn
from tqdm.auto import tqdm

from . import metrics
from .attributions import METHODS as ATTRIBUTION_METHODS
from .attributions import attribute, to_map
from .baselines import BASELINES
from .data import Shapes
from .models.evaluation import predict
from .perturb import maps_by_baseline, maps_by_setting
from .rectgrad import InSpace


# ----------------------------------------------------------------------------- attribution methods (chapter 5)
def compare(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, masks: torch.Tensor,
            methods: Sequence[str] = tuple(ATTRIBUTION_METHODS), progress: bool = False) -> pd.DataFrame:
    """One row per (method, image): relevance mass and rank accuracy against ``masks`` and the
    correlation of |map| with pixel luminance; maps explain the true class ``labels``."""
    tables = []
    for name in tqdm(methods, disable=not progress, desc="methods"):
        maps = to_map(attribute(model, name, images, labels))
        tables.append(pd.DataFrame({
            "method": name, "image": range(len(images)), "label": labels.tolist(),
            "mass_accuracy": metrics.relevance_mass(maps, masks).numpy(),
            "rank_accuracy": metrics.relevance_rank(maps, masks).numpy(),
            "luminance_correlation": metrics.luminance_correlation(maps, images).numpy(),
        }))
    return pd.concat(tables, ignore_index=True)


def brightness_sweep(model, methods, levels=(0.0, 0.1, 0.2, 0.3, 0.7, 0.8, 0.9, 1.0), n: int = 64,
                     background: float = 0.5, spaces=("unit",), split: str = "test", seed: int = 0,
                     size: int = 64, progress: bool = False) -> pd.DataFrame:
    """The same Shapes objects rendered at every grey ``level`` on one ``background`` grey (geometry
    and texture fixed), each method's localization against the mask, computed with the model seen in
    each input space of ``spaces`` (see ``saltools.rectgrad.SPACES``; "unit" is the model as is).

    One row per (space, method, level, image): ``correct`` (the model still classifies it), mass and
    rank accuracy. methods: names in ``saltools.attributions.METHODS`` (or callables accepted by
    ``attribute``); a dict name -> method relabels them.
    """
    named = methods if isinstance(methods, dict) else {str(m): m for m in methods}
    rows = []
    for level in tqdm(levels, disable=not progress, desc="brightness"):
        ds = Shapes(n, split=split, seed=seed, size=size, object_color=float(level),
                    background_color=float(background))
        images = ds.images
        correct = (predict(model, images).argmax(1) == ds.labels).numpy()
        for space in spaces:
            seen = InSpace(model, space)
            for name, method in named.items():
                maps = to_map(attribute(seen, method, seen.encode(images), ds.labels))
                rows.append(pd.DataFrame({
                    "space": space, "method": name, "level": float(level), "image": range(n), "correct": correct,
                    "mass_accuracy": metrics.relevance_mass(maps, ds.masks).numpy(),
                    "rank_accuracy": metrics.relevance_rank(maps, ds.masks).numpy()}))
    return pd.concat(rows, ignore_index=True)


def randomization_stages(model: nn.Module) -> list[str]:
    """Top-level children that hold parameters, from the output down (the cascade order)."""
    names = [name for name, child in model.named_children() if any(True for _ in child.parameters())]
    return names[::-1]


def cascading_randomization(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                            methods: Sequence[str] = tuple(ATTRIBUTION_METHODS), seed: int = 0,
                            progress: bool = False) -> pd.DataFrame:
    """Adebayo et al.'s cascading randomization on a copy of the model: re-initialize the stages
    from the top down, one more each step, and compare every method's maps with the original ones.

    One row per (method, stage randomized down to, image): Spearman correlation of |map| and of the
    signed map, and SSIM of the |maps| scaled to [0, 1]. The caller's model is not touched.
    """
    stages = randomization_stages(model)
    if not stages:
        raise ValueError("the model has no child module with parameters to randomize")
    randomized = copy.deepcopy(model)
    generator_state = torch.random.get_rng_state()
    originals = {name: to_map(attribute(model, name, images, labels)) for name in methods}
    rows = []
    try:
        torch.manual_seed(seed)
        for depth, stage in enumerate(tqdm(stages, disable=not progress, desc="randomize"), start=1):
            for module in getattr(randomized, stage).modules():
                if hasattr(module, "reset_parameters"):
                    module.reset_parameters()
            for name in methods:
                after = to_map(attribute(randomized, name, images, labels))
                agreement = metrics.map_agreement(originals[name], after)
                agreement.insert(0, "method", name)
                agreement.insert(1, "randomized_to", stage)
                agreement.insert(2, "depth", depth)
                rows.append(agreement)
    finally:
        torch.random.set_rng_state(generator_state)
    return pd.concat(rows, ignore_index=True)


# ----------------------------------------------------------------------------- baselines and settings (chapter 6)
def baseline_effect(model: nn.Module, images: torch.Tensor, target=None, method="occlusion",
                    baselines=tuple(BASELINES), progress: bool = False, **params) -> pd.DataFrame:
    """Experiment (a) as a table: how alike the maps of every pair of baselines are (one row per
    baseline pair and image; ``metrics.map_agreement``'s columns)."""
    return metrics.pairwise_agreement(maps_by_baseline(model, images, target, method, baselines, progress, **params))


def setting_effect(model: nn.Module, images: torch.Tensor, target=None, method="occlusion",
                   settings: dict | None = None, progress: bool = False, **fixed) -> pd.DataFrame:
    """Experiment (b) as a table: how alike the maps of every pair of hyperparameter settings are."""
    return metrics.pairwise_agreement(maps_by_setting(model, images, target, method, settings, progress, **fixed))


def causal_scores(model: nn.Module, images: torch.Tensor, target, maps: dict[str, torch.Tensor],
                  substrates=("black", "dataset_mean", "blur", "uniform"), modes=("deletion", "insertion"),
                  orders=("morf",), steps: int = 16, progress: bool = False) -> pd.DataFrame:
    """Experiment (c): every method's deletion / insertion AUC under every substrate (the metric's own
    baseline). One row per (substrate, mode, order, method, image) with ``auc``; for deletion lower
    is better, for insertion higher."""
    rows = []
    jobs = [(s, m, o) for s in substrates for m in modes for o in orders]
    for substrate, mode, order in tqdm(jobs, disable=not progress, desc="metric variants"):
        for method, m in maps.items():
            curves = metrics.perturbation_curve(model, images, m, target, mode=mode, order=order,
                                                substrate=substrate, steps=steps)
            rows.append(pd.DataFrame({"substrate": substrate, "mode": mode, "order": order, "method": method,
                                      "image": range(len(images)), "auc": metrics.auc(curves).numpy()}))
    return pd.concat(rows, ignore_index=True)


def localization(maps: dict[str, torch.Tensor], masks: torch.Tensor) -> pd.DataFrame:
    """Experiment (d): relevance mass and rank accuracy of every map set against the object masks."""
    return pd.concat([pd.DataFrame({"method": name, "image": range(len(m)),
                                    "mass_accuracy": metrics.relevance_mass(m, masks).numpy(),
                                    "rank_accuracy": metrics.relevance_rank(m, masks).numpy()})
                      for name, m in maps.items()], ignore_index=True)


def quality_table(scores: pd.DataFrame, localization_table: pd.DataFrame | None = None) -> pd.DataFrame:
    """One "higher is better" score per (variant, method, image) from ``causal_scores`` (deletion MoRF
    AUC negated; deletion LeRF and insertion AUC as they are) and, optionally, the localization rank
    accuracy as one more variant, ready for ``metrics.ranking_agreement``."""
    better_low = (scores["mode"] == "deletion") & (scores.order == "morf")
    table = pd.DataFrame({"variant": scores.substrate + " / " + scores["mode"] + " / " + scores.order,
                          "method": scores.method, "image": scores.image,
                          "score": scores.auc.where(~better_low, -scores.auc)})
    if localization_table is not None:
        table = pd.concat([table, pd.DataFrame({"variant": "localization (rank accuracy)",
                                                "method": localization_table.method,
                                                "image": localization_table.image,
                                                "score": localization_table.rank_accuracy})], ignore_index=True)
    return table
