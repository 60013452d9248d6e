"""Experiments that combine several concepts: methods scored against masks, the brightness sweep,
cascading randomization (chapter 5), the effect of baselines and settings on maps and on the
verdicts of causal metrics (chapter 6), and the remedies proposed since (SRG under every baseline and
ROAD, how far occluded images lie from the data, the blur control, Smooth MPRT; chapter 7). Each returns a
tidy table that a chapter plots.
"""
from __future__ import annotations

import copy
import math
from typing import Sequence

import pandas as pd
import torch
import torch.nn as nn
from torchvision.transforms.functional import gaussian_blur
from tqdm.auto import tqdm

from . import checks, metrics
from ._torch import preserved_state
from .attributions import METHODS as ATTRIBUTION_METHODS
from .attributions import attribute, to_map
from .baselines import BASELINES, ROAD, SUBSTRATES
from .data import Shapes
from .leakage import filled
from .models.evaluation import predict
from .parameters import TEXT, Choice, Each, checked
from .perturb import METHODS as PERTURBATION_METHODS
from .perturb import maps_by_baseline, maps_by_setting
from .rectgrad import InSpace


# ----------------------------------------------------------------------------- attribution methods (chapter 5)
@checked(methods=Each(Choice(tuple(ATTRIBUTION_METHODS))))
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


@checked(split=TEXT)
def brightness_sweep(model, methods, levels=(0.0, 0.1, 0.2, 0.3, 0.7, 0.8, 0.9, 1.0), n: int = 64,
                     background: float = 0.5, spaces=("unit",), split: str = "test", seed: int = 0, size: int = 64,
                     progress: bool = False, space_mean=None, space_std=None) -> pd.DataFrame:
    """The same Shapes objects rendered at every grey ``level`` on one ``background`` grey (geometry
    and texture fixed), each method's localization against the mask, computed with the model seen in
    each input space of ``spaces`` (see ``saltools.rectgrad.SPACES``; "unit" is the model as is;
    ``space_mean`` / ``space_std``: the "standardized" space's statistics for a model without its own).

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
            seen = InSpace(model, space, space_mean, space_std)
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


@checked(methods=Each(Choice(tuple(ATTRIBUTION_METHODS))))
def cascading_randomization(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                            methods: Sequence[str] = tuple(ATTRIBUTION_METHODS), seed: int = 0,
                            progress: bool = False) -> pd.DataFrame:
    """Adebayo et al.'s cascading randomization on a copy of the model: re-initialize the stages
    from the top down, one more each step, and compare every method's maps with the original ones.

    One row per (method, stage randomized down to, image): Spearman correlation of |map| and of the
    signed map, and SSIM of the |maps| scaled to [0, 1]. The caller's model is not touched.
    """
    return parameter_randomization(model, images, labels, methods, seed=seed, progress=progress)


@checked(methods=Each(Choice(tuple(ATTRIBUTION_METHODS))), mode=Choice(("cascading", "independent")))
def parameter_randomization(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                            methods: Sequence[str] = tuple(ATTRIBUTION_METHODS), *, mode: str = "cascading",
                            smooth: int = 0, noise: float = 0.1, seed: int = 0, progress: bool = False) -> pd.DataFrame:
    """The model parameter randomization test on copies of the model (the caller's is not touched).

    ``mode="cascading"`` (Adebayo et al. 2018) re-initializes the stages of ``randomization_stages`` from
    the top down, one more each step; ``"independent"`` re-initializes one stage at a time, the others as
    trained. ``smooth`` > 0 gives Smooth MPRT (Hedstroem et al. 2024): each map, before and after, is the
    mean over ``smooth`` copies of the image plus Gaussian noise of standard deviation ``noise`` (clipped
    to [0, 1], the input range), which removes the gradient noise that can pass for sensitivity. One row
    per (method, stage, image) with the ``metrics.map_agreement`` scores of the maps before and after.
    """
    stages = randomization_stages(model)
    if not stages:
        raise ValueError("the model has no child module with parameters to randomize")
    smooth = checks.positive_int(smooth + 1, "smooth + 1") - 1
    generator_state = torch.random.get_rng_state()
    originals = {name: _smoothed_map(model, name, images, labels, smooth, noise, seed) for name in methods}
    rows, randomized = [], copy.deepcopy(model)
    try:
        torch.manual_seed(seed)
        for depth, stage in enumerate(tqdm(stages, disable=not progress, desc="randomize"), start=1):
            if mode == "independent":
                randomized = copy.deepcopy(model)
            for module in getattr(randomized, stage).modules():
                if hasattr(module, "reset_parameters"):
                    module.reset_parameters()
            for name in methods:
                agreement = metrics.map_agreement(originals[name],
                                                  _smoothed_map(randomized, name, images, labels, smooth, noise, seed))
                agreement.insert(0, "method", name)
                agreement.insert(1, "randomized_to" if mode == "cascading" else "randomized", stage)
                agreement.insert(2, "depth", depth)
                rows.append(agreement)
    finally:
        torch.random.set_rng_state(generator_state)
    return pd.concat(rows, ignore_index=True)


def _smoothed_map(model, method, images, labels, smooth: int, noise: float, seed: int) -> torch.Tensor:
    """The method's maps; with ``smooth`` > 0 the mean over that many noisy copies (one batched call)."""
    if not smooth:
        return to_map(attribute(model, method, images, labels))
    generator = torch.Generator().manual_seed(seed)
    copies = images.repeat(smooth, 1, 1, 1)
    noisy = (copies + noise * torch.randn(copies.shape, generator=generator).to(copies)).clamp(0, 1)
    maps = to_map(attribute(model, method, noisy, torch.as_tensor(labels).repeat(smooth)))
    return maps.view(smooth, len(images), *maps.shape[1:]).mean(0)


# ----------------------------------------------------------------------------- baselines and settings (chapter 6)
@checked(method=Choice(tuple(PERTURBATION_METHODS)))
def baseline_effect(model: nn.Module, images: torch.Tensor, target=None, method="occlusion",
                    baselines=tuple(BASELINES), progress: bool = False, **params) -> pd.DataFrame:
    """Experiment (a) as a table: how alike the maps of every pair of baselines are (one row per
    baseline pair and image; ``metrics.map_agreement``'s columns)."""
    return metrics.pairwise_agreement(maps_by_baseline(model, images, target, method, baselines, progress, **params))


@checked(method=Choice(tuple(PERTURBATION_METHODS)))
def setting_effect(model: nn.Module, images: torch.Tensor, target=None, method="occlusion",
                   settings: dict | None = None, progress: bool = False, **fixed) -> pd.DataFrame:
    """Experiment (b) as a table: how alike the maps of every pair of hyperparameter settings are."""
    return metrics.pairwise_agreement(maps_by_setting(model, images, target, method, settings, progress, **fixed))


@checked()
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


# ----------------------------------------------------------------------------- remedies since Brunke (chapter 7)
@checked(substrates=Each(Choice(SUBSTRATES)))
def srg_scores(model: nn.Module, images: torch.Tensor, target, maps: dict[str, torch.Tensor],
               substrates: Sequence[str] = (*BASELINES, ROAD), steps: int = 10, seed: int = 0,
               progress: bool = False) -> pd.DataFrame:
    """SRG (Bluecher et al., TMLR 2024) of every method under every substrate: one row per (substrate,
    method, image) with the deletion AUCs ``morf_auc`` and ``lerf_auc`` and ``srg`` = lerf - morf. Every
    substrate's curves run over the removed shares 0, 1/steps, ..., (steps - 1)/steps (ROAD cannot
    remove every pixel), so areas compare across substrates."""
    unknown = set(substrates) - set(BASELINES) - {ROAD}
    if unknown:
        raise ValueError(f"unknown substrates {sorted(unknown)}; expected names from {sorted(BASELINES) + [ROAD]}")
    rows = []
    for substrate in tqdm(substrates, disable=not progress, desc="substrates"):
        for method, m in maps.items():
            morf, lerf = (_deletion_curve(model, images, m, target, substrate, order, steps, seed)
                          for order in ("morf", "lerf"))
            rows.append(pd.DataFrame({"substrate": substrate, "method": method, "image": range(len(images)),
                                      "morf_auc": metrics.auc(morf).numpy(), "lerf_auc": metrics.auc(lerf).numpy(),
                                      "srg": metrics.symmetric_relevance_gain(morf, lerf).numpy()}))
    return pd.concat(rows, ignore_index=True)


def _deletion_curve(model, images, maps, target, substrate, order, steps, seed) -> torch.Tensor:
    if substrate == ROAD:
        return metrics.road_curve(model, images, maps, target, order=order, seed=seed,
                                  percentages=[100 * t / steps for t in range(steps)])
    return metrics.perturbation_curve(model, images, maps, target, order=order, substrate=substrate, steps=steps,
                                      seed=seed)[:, :-1]


@checked(substrates=Each(Choice(SUBSTRATES)))
def occlusion_distance(model: nn.Module, images: torch.Tensor, substrates: Sequence[str] = (*BASELINES, ROAD),
                       share: float = 0.5, patch: int = 8, seed: int = 0) -> pd.DataFrame:
    """How far occluded images lie from the data: our stand-in for R-OMS (Bluecher et al. 2024). Random
    ``patch`` x ``patch`` cells covering ``share`` of each image are filled by each substrate; the distance
    of the occluded image's penultimate features (the input of the model's last ``nn.Linear``) to the
    nearest clean image's features is divided by the median distance from a clean image to its nearest
    other clean image (1: as far from the data as clean images are from each other). One row per
    (substrate, image) with ``distance``."""
    images = checks.images(images, model=model)
    if len(images) < 2 or not 0 <= share < 1:
        raise ValueError(f"need at least 2 images and share in [0, 1); got {len(images)} and {share}")
    removed = _random_cells(len(images), images.shape[-2:], checks.positive_int(patch, "patch"), share, seed)
    clean = _penultimate(model, images)
    nearest_other = torch.cdist(clean, clean).fill_diagonal_(float("inf")).amin(1).median()
    rows = []
    for substrate in substrates:
        occluded = _penultimate(model, filled(images, removed, substrate, seed))
        distance = torch.cdist(occluded, clean).amin(1) / nearest_other
        rows.append(pd.DataFrame({"substrate": substrate, "image": range(len(images)), "distance": distance.numpy()}))
    return pd.concat(rows, ignore_index=True)


@checked(substrates=Each(Choice(SUBSTRATES)))
def blur_control(model: nn.Module, images: torch.Tensor, target, maps: dict[str, torch.Tensor], sigma: float = 2.0,
                 substrates: Sequence[str] = ("black", ROAD), steps: int = 10, n_subsets: int = 50, seed: int = 0,
                 progress: bool = False) -> pd.DataFrame:
    """The blur control of Song et al. (2023): each |map| blurred by a Gaussian of ``sigma`` pixels
    (torchvision's ``gaussian_blur``, a transformation that knows nothing of the model, so by the data
    processing inequality it adds no information about it) and scored like the original. One row per
    (score, method, image) with ``original`` and ``blurred``: the MoRF deletion AUC under each substrate
    (lower is better; ``steps`` shares as in ``srg_scores``) and the faithfulness correlation (black,
    ``n_subsets`` random sets of 5% of the pixels; higher is better)."""
    if not sigma > 0:
        raise ValueError(f"sigma must be a positive number of pixels; got {sigma}")
    kernel = 2 * math.ceil(3 * sigma) + 1
    rows = []
    for method, m in tqdm(maps.items(), disable=not progress, desc="methods"):
        blurred = gaussian_blur(m.abs()[:, None], [kernel, kernel], [sigma, sigma])[:, 0]
        versions = {"original": m.abs(), "blurred": blurred}
        for substrate in substrates:
            aucs = {k: metrics.auc(_deletion_curve(model, images, v, target, substrate, "morf", steps, seed)).numpy()
                    for k, v in versions.items()}
            rows.append(pd.DataFrame({"score": f"{substrate} deletion (MoRF AUC)", "method": method,
                                      "image": range(len(images)), **aucs}))
        size = round(0.05 * m[0].numel())
        faithful = {k: metrics.faithfulness_correlation(model, images, v, target, subset_size=size, n_subsets=n_subsets,
                                                        seed=seed).numpy() for k, v in versions.items()}
        rows.append(pd.DataFrame({"score": "faithfulness correlation", "method": method, "image": range(len(images)),
                                  **faithful}))
    return pd.concat(rows, ignore_index=True)


def _random_cells(n: int, size, patch: int, share: float, seed: int) -> torch.Tensor:
    """[n, H, W] bool: round(share x cells) random patch cells per image (cells cut at the borders)."""
    rows, cols = -(-size[0] // patch), -(-size[1] // patch)
    chosen = torch.rand(n, rows * cols, generator=torch.Generator().manual_seed(seed)).argsort(1)
    cells = chosen < round(share * rows * cols)
    grid = cells.view(n, rows, cols).repeat_interleave(patch, 1).repeat_interleave(patch, 2)
    return grid[:, :size[0], :size[1]]


def _penultimate(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """The input of the model's last ``nn.Linear`` for ``images`` (flattened): [N, D]."""
    linear = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linear:
        raise ValueError("the model has no nn.Linear layer whose input could serve as its features")
    features = []
    handle = linear[-1].register_forward_hook(lambda module, args, output: features.append(args[0].flatten(1)))
    try:                                # not ``predict``: ROAD's noise may leave [0, 1] by a few hundredths
        with preserved_state(model), torch.no_grad():
            model.eval()
            for lo in range(0, len(images), 64):
                model(checks.model_input(images[lo:lo + 64], model))
    finally:
        handle.remove()
    return torch.cat(features).cpu().double()
