"""Causal metrics: deletion / insertion curves, their area and AOPC, ROAD, the symmetric relevance gain
and the faithfulness correlation: what removing the pixels a map ranks first does to the model's score."""
from __future__ import annotations

import torch

from .. import checks
from .._torch import in_layout, memory_layout_fallback, preserved_state
from ..baselines import BASELINES, SUBSTRATES, fills_for, prepared_targets, road_imputation, target_scores
from ..parameters import Choice, checked
from .localization import pearson_rows, ranks_from_top


@checked(mode=Choice(("deletion", "insertion")), substrate=Choice(SUBSTRATES))
def perturbation_curve(model, images: torch.Tensor, maps: torch.Tensor, target=None, *, mode: str = "deletion",
                       order: str = "morf", substrate: str = "black", steps: int = 32, output: str = "probability",
                       chunk: int = 64, seed: int = 0, dataset_mean=(0.5, 0.5, 0.5)) -> torch.Tensor:
    """Target scores [N, steps + 1] as pixels are deleted (replaced by the ``substrate`` baseline, see
    ``saltools.perturb.BASELINES``) or inserted (into the substrate), ``order`` "morf" (most relevant
    first) or "lerf" (least relevant first) by |map|; step t changes the first t/steps of the pixels.
    Each image's steps go through the model in batches of ``chunk``."""
    images = checks.images(images, model=model)
    maps = checks.maps(maps, shape=(len(images), *images.shape[2:]))
    steps, chunk = checks.positive_int(steps, "steps"), checks.positive_int(chunk, "chunk")
    pixels, steps_shape = maps[0].numel(), (steps + 1, 1, *maps.shape[1:])
    thresholds = torch.linspace(0, pixels, steps + 1).round()
    with preserved_state(model), torch.no_grad():
        model.eval()
        images, target = prepared_targets(model, images, target)
        rank = ranks_from_top(maps.abs() if order == "morf" else -maps.abs(), absolute=False)
        changed = (rank[:, None] < thresholds[None, :, None]).view(len(images), *steps_shape).to(images)
        keep = 1 - changed if mode == "deletion" else changed
        group = max(1, chunk // (steps + 1))        # images per forward pass: about ``chunk`` perturbed images
        curves = [_curve_scores(model, images[lo:lo + group], keep[lo:lo + group], target[lo:lo + group], substrate,
                                seed + lo, dataset_mean, output) for lo in range(0, len(images), group)]
    return torch.cat(curves).cpu()


def _curve_scores(model, images, keep, target, substrate, seed, dataset_mean, output) -> torch.Tensor:
    """Scores [n, steps + 1] of a group of images under their keep-masks [n, steps + 1, 1, H, W]; each
    image's fill is drawn with its own seed (``seed`` + its position)."""
    fills = torch.stack([fills_for(substrate, image, k < 0.5, seed + i, dataset_mean).expand(len(k), *image.shape)
                         for i, (image, k) in enumerate(zip(images, keep))])
    batch = (images[:, None] * keep + fills * (1 - keep)).flatten(0, 1)
    targets = target.repeat_interleave(keep.shape[1])
    scores = memory_layout_fallback(model, lambda channels_last: target_scores(model, in_layout(batch, channels_last),
                                                                               targets, output))
    return scores.view(len(images), -1)


def _curves(curves) -> torch.Tensor:
    curves = torch.as_tensor(curves).double()
    if curves.ndim != 2 or curves.shape[1] < 2:
        raise ValueError(f"curves must have shape [N, T] with at least two steps; got {tuple(curves.shape)}")
    return checks.values(curves, "curves")          # a NaN would make the area NaN without a word


def auc(curves: torch.Tensor) -> torch.Tensor:
    """Area under each curve [N, T] with x running from 0 to 1 (trapezoid rule): [N]."""
    curves = _curves(curves)
    return torch.trapezoid(curves, dx=1.0 / (curves.shape[1] - 1), dim=1)


@checked()
def aopc(curves: torch.Tensor, k: int | None = None) -> torch.Tensor:
    """Area over the MoRF perturbation curve (Samek et al. 2017): mean drop from the unperturbed score
    over the first ``k`` + 1 steps (default all): [N]."""
    curves = _curves(curves)
    k = curves.shape[1] - 1 if k is None else k
    if not 1 <= k < curves.shape[1]:
        raise ValueError(f"k must lie in [1, {curves.shape[1] - 1}] (steps after the unperturbed one); got {k}")
    return (curves[:, :1] - curves[:, :k + 1]).mean(1)


def symmetric_relevance_gain(morf: torch.Tensor, lerf: torch.Tensor) -> torch.Tensor:
    """SRG (Bluecher et al., TMLR 2024): AUC of the least-influential-first curve minus AUC of the
    most-influential-first curve (``auc``, x from 0 to 1), per image: [N]. Positive when removing the
    map's least relevant pixels hurts the model less than removing its most relevant ones; a shift of
    both curves by the same amount (a baseline that moves every score) cancels."""
    morf, lerf = torch.as_tensor(morf), torch.as_tensor(lerf)
    if morf.shape != lerf.shape:
        raise ValueError(f"morf and lerf curves must have the same shape; got {tuple(morf.shape)} and "
                         f"{tuple(lerf.shape)}")
    return auc(lerf) - auc(morf)


@checked()
def road_curve(model, images: torch.Tensor, maps: torch.Tensor, target=None, *, order: str = "morf",
               percentages=(10, 20, 30, 40, 50, 60, 70, 80, 90), noise: float = 0.01, output: str = "probability",
               seed: int = 0, chunk: int = 64) -> torch.Tensor:
    """ROAD (Rong et al., ICML 2022): target scores [N, P] after removing the ``percentages`` of pixels with
    the highest (``order="morf"``) or lowest ("lerf") |relevance| and filling them by
    ``baselines.road_imputation`` (noise drawn afresh per percentage from ``seed``). Each percentage is
    one sparse solve for the whole batch and forward passes of ``chunk`` images."""
    images = checks.images(images, model=model)
    maps = checks.maps(maps, shape=(len(images), *images.shape[2:]))
    shares = torch.as_tensor(percentages, dtype=torch.float64) / 100
    if shares.ndim != 1 or not len(shares) or not bool(((shares >= 0) & (shares < 1)).all()):
        raise ValueError(f"percentages must be numbers in [0, 100); got {percentages}")
    chunk = checks.positive_int(chunk, "chunk")
    ranks = ranks_from_top(maps.abs() if order == "morf" else -maps.abs(), absolute=False)
    columns = []
    with preserved_state(model), torch.no_grad():
        model.eval()
        _, target = prepared_targets(model, images, target)
        for step, share in enumerate(shares.tolist()):
            removed = (ranks < round(share * ranks.shape[1])).view(len(images), *images.shape[2:])
            filled = checks.model_input(road_imputation(images, removed, noise, seed + step), model)
            columns.append(_scores_in_chunks(model, filled, target, output, chunk))
    return torch.stack(columns, 1).cpu()


def _scores_in_chunks(model, batch: torch.Tensor, target: torch.Tensor, output: str, chunk: int) -> torch.Tensor:
    def scores(channels_last: bool) -> torch.Tensor:
        return torch.cat([target_scores(model, in_layout(batch[lo:lo + chunk], channels_last), target[lo:lo + chunk],
                                        output) for lo in range(0, len(batch), chunk)])
    return memory_layout_fallback(model, scores)


@checked(baseline=Choice(tuple(BASELINES)))
def faithfulness_correlation(model, images: torch.Tensor, maps: torch.Tensor, target=None, *,
                             subset_size: int = 224, n_subsets: int = 100, baseline: str = "black",
                             output: str = "probability", seed: int = 0, chunk: int = 64,
                             dataset_mean=(0.5, 0.5, 0.5)) -> torch.Tensor:
    """Faithfulness correlation (Bhatt et al., IJCAI 2020): per image, the Pearson correlation over
    ``n_subsets`` random sets of ``subset_size`` pixels between the map's sum over the set and the drop of
    the target score when the set is replaced by ``baseline``: [N] (0 where either side is constant)."""
    images = checks.images(images, model=model)
    maps = checks.maps(maps, shape=(len(images), *images.shape[2:])).flatten(1).double()
    subset_size = checks.positive_int(subset_size, "subset_size")
    n_subsets = checks.positive_int(n_subsets, "n_subsets")
    pixels = maps.shape[1]
    if subset_size > pixels or n_subsets < 2:
        raise ValueError(f"need subset_size <= {pixels} pixels and n_subsets >= 2; got {subset_size}, {n_subsets}")
    generator, group = torch.Generator().manual_seed(seed), max(1, chunk // (n_subsets + 1))
    sums, drops = [], []
    with preserved_state(model), torch.no_grad():
        model.eval()
        images, target = prepared_targets(model, images, target)
        for lo in range(0, len(images), group):
            n = len(images[lo:lo + group])
            chosen = torch.rand(n, n_subsets, pixels, generator=generator).argsort(-1)[..., :subset_size]
            removed = torch.zeros(n, n_subsets, pixels, dtype=torch.float64).scatter_(2, chosen, 1.0)
            sums.append(torch.einsum("nsp,np->ns", removed, maps[lo:lo + n]))
            keep = torch.cat([torch.ones(n, 1, pixels, dtype=torch.float64), 1 - removed], 1)
            keep = keep.view(n, n_subsets + 1, 1, *images.shape[2:]).to(images)
            scores = _curve_scores(model, images[lo:lo + n], keep, target[lo:lo + n], baseline, seed + lo,
                                   dataset_mean, output).cpu().double()
            drops.append(scores[:, :1] - scores[:, 1:])
    return pearson_rows(torch.cat(sums), torch.cat(drops))
