"""Claims of chapter 6, second part, and the context of the whole chapter: do perturbation metrics agree
with themselves and with each other? (Brunke et al. 2020: the substrate picks the winner; Tomsett et al.
2020: images and MoRF / LeRF disagree; Rong et al. 2022: noisy linear imputation.) A disagreement is
compared with a floor of the same kind: between substrates, with each substrate's own split-half
reliability. The claims on baselines and hyperparameters are in ``claims.baselines``.
"""
from __future__ import annotations

import functools
import warnings
from functools import cached_property

import krippendorff
import numpy as np
import pandas as pd
import scipy.stats as ss
import torch
import torch.nn as nn

from .. import checks
from ..attributions import attribute, to_map
from ..baselines import baseline_predictions
from ..data import CLASSES, Shapes
from ..experiments import causal_scores, localization
from ..metrics import kendall_tau, map_agreement, pairwise_agreement
from ..models.evaluation import predict
from ..parameters import Choice, checked
from ..perturb import maps_by_baseline, maps_by_setting, rise
from .core import Claim, Evidence, Rule, fingerprint, largest_resampled, resampled_interval, spread_interval

BRUNKE = "Brunke et al. 2020 (arXiv 2012.08189)"
TOMSETT = "Tomsett et al. 2020, AAAI (arXiv 1912.01451)"
STURMFELS = "Sturmfels et al. 2020, Distill"
RONG = "Rong et al. 2022, ICML (ROAD, arXiv 2202.00449)"

GRADIENT_METHODS = ("Saliency", "InputXGradient", "GuidedBackprop", "IntegratedGradients", "RectGrad",
                    "NoBias RectGrad")
SUBSTRATES = ("black", "dataset_mean", "blur", "uniform", "inpaint", "noisy_inpaint")
WINDOWS = {"4/2": dict(window=4, stride=2), "8/4": dict(window=8, stride=4), "16/8": dict(window=16, stride=8)}
RISE_CHANGES = {"s=12": dict(grid=12), "p1=0.1": dict(p1=0.1)}
RISE_CHANGE_IDS = {"s=12": "grid-12", "p1=0.1": "keep-probability-0.1"}
DENSE = ("Saliency", "InputXGradient", "IntegratedGradients", "Occlusion", "RISE")
FLAT = ("black", "white", "dataset_mean", "image_mean", "inpaint")
AVERAGED = (("black", "white", "dataset_mean", "blur"), ("image_mean", "uniform", "gaussian", "inpaint"))


class PerturbationContext:
    """A classifier and the images chapter 6 perturbs (with object masks); every map and score is
    computed once. ``rise_changes`` are RISE settings changed one at a time from the reference
    (``rise_masks`` masks, grid 8, keep probability 0.5); ``windows`` occlusion window/stride settings."""

    @checked()
    def __init__(self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor, masks: torch.Tensor, *,
                 rise_masks: int = 500, rise_baselines=("black", "dataset_mean", "blur", "uniform"),
                 windows=None, rise_changes=None, methods=GRADIENT_METHODS, substrates=SUBSTRATES,
                 steps: int = 16, name: str = "model"):
        if not len(images) == len(labels) == len(masks) or len(images) < 4:
            raise ValueError(f"expected at least 4 images with as many labels and masks; got {len(images)} images, "
                             f"{len(labels)} labels, {len(masks)} masks")
        checks.returns_logits(model, images)
        self.model, self.images, self.labels, self.masks, self.name = model, images, labels, masks, name
        self.rise_masks, self.rise_baselines, self.steps = rise_masks, list(rise_baselines), steps
        self.windows = {**WINDOWS, **(windows or {})}
        self.rise_changes = {**RISE_CHANGES, **(rise_changes or {})}
        self.methods, self.substrates = list(methods), tuple(substrates)

    @classmethod
    @checked()
    def for_shapes(cls, model: nn.Module, n: int = 8, pool: int = 40, **kwargs) -> "PerturbationContext":
        """The first ``n`` correctly classified of ``pool`` Shapes test images (the chapter's choice)."""
        shapes = Shapes(pool, split="test")
        right = predict(model, shapes.images).argmax(1) == shapes.labels
        return cls(model, shapes.images[right][:n], shapes.labels[right][:n], shapes.masks[right][:n], **kwargs)

    def fingerprint(self) -> str:
        """A hash of everything the claims read: the model's weights, the images, labels and masks, and
        the settings of the claims' maps and scores (two contexts with equal fingerprints give the same
        verdicts; figure-only settings do not count)."""
        settings = [self.rise_masks, self.rise_baselines, self.steps, self.methods, self.substrates,
                    {k: self.windows.get(k) for k in WINDOWS}, {k: self.rise_changes.get(k) for k in RISE_CHANGES}]
        return fingerprint(settings, self.model, self.images, self.labels, self.masks)

    # -- maps
    @cached_property
    def neutral(self) -> pd.DataFrame:
        return baseline_predictions(self.model, self.images, CLASSES)

    @cached_property
    def indifferent_neutral(self) -> pd.DataFrame:
        """``neutral`` for a classifier that gives every class the same logit (perfectly neutral by
        construction): the negative control of the neutrality claims."""
        return baseline_predictions(Indifferent(len(CLASSES)), self.images, CLASSES)

    @checked()
    def random_maps(self, like: torch.Tensor, seed: int = 0) -> torch.Tensor:
        """Uniform noise maps shaped like ``like`` (they know nothing of the images: the controls of the
        agreement claims)."""
        return torch.rand(like.shape, generator=torch.Generator().manual_seed(seed), dtype=like.dtype)

    @cached_property
    def occlusion_maps(self) -> dict[str, torch.Tensor]:
        return maps_by_baseline(self.model, self.images, self.labels, "occlusion", window=8, stride=4)

    @cached_property
    def rise_maps(self) -> dict[str, torch.Tensor]:
        return maps_by_baseline(self.model, self.images, self.labels, "rise", baselines=self.rise_baselines,
                                n_masks=self.rise_masks)

    @cached_property
    def occlusion_agreement(self) -> pd.DataFrame:
        """``metrics.pairwise_agreement`` of the occlusion maps of every pair of baselines."""
        return pairwise_agreement(self.occlusion_maps)

    @cached_property
    def rise_agreement(self) -> pd.DataFrame:
        """``metrics.pairwise_agreement`` of the RISE maps of every pair of baselines."""
        return pairwise_agreement(self.rise_maps)

    @cached_property
    def floor(self) -> pd.Series:
        """Per image: rank correlation of two RISE maps (mean colour) that differ only in their random masks."""
        other = rise(self.model, self.images, self.labels, n_masks=self.rise_masks, seed=1)
        return map_agreement(self.rise_maps["dataset_mean"], other).spearman_abs

    @cached_property
    def window_maps(self) -> dict[str, torch.Tensor]:
        """Occlusion (black) per window / stride setting; window 8 / stride 4 is ``occlusion_maps``' own."""
        own = dict(window=8, stride=4)
        other = {k: v for k, v in self.windows.items() if v != own}
        maps = (maps_by_setting(self.model, self.images, self.labels, "occlusion", other, baseline="black")
                if other else {})
        return {k: self.occlusion_maps["black"] if v == own else maps[k] for k, v in self.windows.items()}

    @cached_property
    def rise_setting_maps(self) -> dict[str, torch.Tensor]:
        reference = dict(n_masks=self.rise_masks, grid=8, p1=0.5)
        return maps_by_setting(self.model, self.images, self.labels, "rise",
                               {k: {**reference, **v} for k, v in self.rise_changes.items()}, baseline="dataset_mean")

    @cached_property
    def maps(self) -> dict[str, torch.Tensor]:
        """The graded methods: gradient methods, occlusion (black) and RISE (mean colour)."""
        maps = {name: to_map(attribute(self.model, name, self.images, self.labels)) for name in self.methods}
        maps["Occlusion"], maps["RISE"] = self.occlusion_maps["black"], self.rise_maps["dataset_mean"]
        return maps

    # -- metric verdicts
    @cached_property
    def scores(self) -> pd.DataFrame:
        """Deletion (MoRF and LeRF) and insertion (MoRF) AUC per substrate, method and image."""
        common = dict(substrates=self.substrates, steps=self.steps)
        table = pd.concat([
            causal_scores(self.model, self.images, self.labels, self.maps, modes=("deletion",), orders=("morf", "lerf"),
                          **common),
            causal_scores(self.model, self.images, self.labels, self.maps, modes=("insertion",), orders=("morf",),
                          **common)], ignore_index=True)
        return table.assign(variant=table.substrate + " / " + table["mode"] + " / " + table.order)

    @cached_property
    def located(self) -> pd.DataFrame:
        return localization(self.maps, self.masks)

    @cached_property
    def split_half(self) -> tuple[np.ndarray, np.ndarray]:
        """Per random half split of the images: each substrate's ranking agreement with itself between
        the halves, and across substrates (see ``split_half_agreement``)."""
        return split_half_agreement(self.quality())

    def quality(self) -> np.ndarray:
        """Deletion (MoRF) quality, higher is better (the negated AUC) [substrate, method, image]."""
        return -self.auc("deletion", "morf")

    @checked(mode=Choice(("deletion", "insertion")))
    def auc(self, mode: str, order: str) -> np.ndarray:
        """AUC as an array [substrate, method, image]."""
        rows = self.scores[(self.scores["mode"] == mode) & (self.scores.order == order)]
        cube = rows.pivot_table(index=["substrate", "method"], columns="image", values="auc")
        return cube.to_numpy().reshape(len(self.substrates), len(self.maps), len(self.images))

    @checked()
    def substrate_index(self, name: str) -> int:
        return sorted(self.substrates).index(name)


class Indifferent(nn.Module):
    """A classifier that gives each of its ``classes`` the same logit whatever the image."""

    @checked()
    def __init__(self, classes: int):
        super().__init__()
        self.classes = classes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.new_zeros(len(x), self.classes)


# ----------------------------------------------------------------------------- evidence: metric verdicts
def twin_gap(context) -> float:
    """Largest |insertion (MoRF) - deletion (LeRF) AUC| over substrates and the maps without ties (sparse
    maps order their many equal values arbitrarily): 0 by construction where a substrate is the same
    for both, so a fact of the metrics, not a finding."""
    dense = [i for i, name in enumerate(sorted(context.maps)) if name in DENSE]
    gap = (context.auc("insertion", "morf") - context.auc("deletion", "lerf"))[:, dense]
    return float(np.abs(gap.mean(2)).max())


@checked()
def winner_bounds(quality: np.ndarray, seed: int = 0, resamples: int = 2000) -> tuple[int, int, int]:
    """The number of distinct winners (best mean quality) over substrates of ``quality`` [substrate, method,
    image], with a 95% confidence range from simultaneous intervals rather than a bootstrap of a count of
    maxima: paired-bootstrap intervals over images of every within-substrate difference of two methods, at
    the Bonferroni level 1 - 0.05 / (number of differences). Lower bound: distinct methods that beat every
    other in some substrate; upper: distinct methods that no other beats in some substrate (capped by the
    substrates). Returns (lower, estimate, upper)."""
    n_sub, n_methods, n = quality.shape
    rng = np.random.default_rng(seed)
    boot = np.stack([quality[:, :, rng.integers(0, n, n)].mean(2) for _ in range(resamples)])   # [b, sub, method]
    differences = boot[:, :, :, None] - boot[:, :, None, :]                                     # [b, sub, m, m']
    alpha = 0.05 / (n_sub * n_methods * (n_methods - 1) / 2)
    low, high = np.percentile(differences, [100 * alpha / 2, 100 * (1 - alpha / 2)], axis=0)
    others = ~np.eye(n_methods, dtype=bool)
    certain = (low > 0) | ~others
    beaten = ((high < 0) & others).any(2)                                                       # [sub, m]
    estimate = len(set(quality.mean(2).argmax(1)))
    lower = len({int(m) for s in range(n_sub) for m in np.flatnonzero(certain[s].all(1))})
    upper = min(n_sub, int((~beaten).any(0).sum()))
    return min(lower, estimate), estimate, max(upper, estimate)


def _winners(context, control: bool = False) -> Evidence:
    """Distinct winners over substrates (``winner_bounds``); ``control``: every substrate a copy of the first."""
    quality = context.quality()
    if control:
        quality = copied_substrates(quality)
    lower, estimate, upper = winner_bounds(quality)
    return Evidence(float(estimate), float(lower), float(upper), quality.shape[2], "images",
                    {"substrates": quality.shape[0]})


@checked()
def split_half_agreement(quality: np.ndarray, splits: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """For ``splits`` random splits of the images into halves, from ``quality`` [substrate, method, image]
    (higher is better): the mean Kendall tau of each substrate's method ranking between the two halves
    (its split-half reliability) and of different substrates across the halves."""
    n_sub, n = quality.shape[0], quality.shape[2]
    rng = np.random.default_rng(seed)
    orders = np.array([rng.permutation(n) for _ in range(splits)])
    a = quality[:, :, orders[:, :n // 2]].mean(3).transpose(2, 0, 1)        # [split, substrate, method]
    b = quality[:, :, orders[:, n // 2:]].mean(3).transpose(2, 0, 1)
    taus = kendall_tau(a[:, :, None], b[:, None, :])                        # [split, substrate of a, of b]
    same = np.eye(n_sub, dtype=bool)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)                     # a split of constant qualities
        return np.nanmean(taus[:, same], 1), np.nanmean(taus[:, ~same], 1)


def copied_substrates(quality: np.ndarray) -> np.ndarray:
    """``quality`` [substrate, method, image] with every substrate a copy of the first: substrates that agree
    by construction (the negative control of the claims that they disagree)."""
    return np.broadcast_to(quality[:1], quality.shape)


def _shuffled_methods(quality: np.ndarray, seed: int = 0) -> np.ndarray:
    """``quality`` with the methods shuffled independently per (substrate, image): no method is better than
    another, by construction."""
    return np.random.default_rng(seed).permuted(quality, axis=1)


def _reliability(context, control: bool = False) -> Evidence:
    """Each substrate's split-half Kendall tau; ``control``: methods shuffled per image."""
    within = split_half_agreement(_shuffled_methods(context.quality()))[0] if control else context.split_half[0]
    return spread_interval(within, len(context.images), "images")


def _beyond_reliability(context, control: bool = False) -> Evidence:
    """Split-half tau within substrates minus across; ``control``: every substrate a copy of the first."""
    if control:
        quality = context.quality()
        within, between = split_half_agreement(copied_substrates(quality))
    else:
        within, between = context.split_half
    return spread_interval(within - between, len(context.images), "images")


def _alphas(quality: np.ndarray, images) -> np.ndarray:
    """Krippendorff's alpha (ordinal) of the images' method rankings, per substrate."""
    ranks = ss.rankdata(-quality[:, :, images], axis=1)
    return np.array([krippendorff.alpha(reliability_data=ranks[s].T, level_of_measurement="ordinal")
                     for s in range(len(ranks))])


def _images_agree(context, control: bool = False) -> Evidence:
    """The largest Krippendorff's alpha over substrates; ``control``: every image a copy of the first (the
    images agree perfectly, by construction)."""
    quality = context.quality()
    if control:
        quality = np.broadcast_to(quality[:, :, :1], quality.shape)
    return largest_resampled(lambda i: _alphas(quality, i), quality.shape[2], "images", resamples=500)


def _morf_lerf(context, control: bool = False) -> Evidence:
    """Kendall tau between the MoRF and LeRF areas' rankings; ``control``: LeRF's areas the negated MoRF ones
    (exactly opposite, by construction)."""
    morf = context.auc("deletion", "morf")
    lerf = -morf if control else context.auc("deletion", "lerf")
    return resampled_interval(lambda i: np.nanmean(kendall_tau(morf[:, :, i].mean(2), lerf[:, :, i].mean(2))),
                              morf.shape[2], "images")


def _masks(context, control: bool = False) -> Evidence:
    """The largest Kendall tau of a deletion variant's ranking with the localization ranking; ``control``: the
    localization scores themselves as the only variant (they match by construction)."""
    located = context.located.pivot_table(index="method", columns="image", values="rank_accuracy")
    located = located.loc[sorted(context.maps)].to_numpy()
    if control:
        variants = located[None, None]                                             # [1, 1, method, image]
    else:
        variants = np.stack([context.quality(), context.auc("deletion", "lerf")])  # [variant, substrate, method, image]

    def taus(i):
        return kendall_tau(variants[:, :, :, i].mean(3), located[:, i].mean(1)).ravel()
    return largest_resampled(taus, located.shape[1], "images")


def _noisy_imputation(context, control: bool = False) -> Evidence:
    """Krippendorff's alpha under noisy imputation minus under black; ``control``: black minus black."""
    quality = context.quality()
    black = context.substrate_index("black")
    noisy = black if control else context.substrate_index("noisy_inpaint")

    def gain(i):
        alphas = _alphas(quality, i)
        return alphas[noisy] - alphas[black]
    return resampled_interval(gain, quality.shape[2], "images", resamples=500)


def _claim(*args, **kwargs) -> Claim:
    return Claim(*args, context=PerturbationContext, **kwargs)


SAME_SUBSTRATES = "every substrate a copy of the first (they agree, by construction)"


CLAIMS = [
    _claim("ch6.substrate-picks-the-winner", 6,
           "The best method under deletion (MoRF) depends on the substrate: more than one method wins somewhere.",
           "number of distinct winners over the substrates", Rule("above", 1.0), _winners,
           paper="which method wins depends on the metric's baseline", source=BRUNKE,
           control=functools.partial(_winners, control=True), control_note=SAME_SUBSTRATES),
    _claim("ch6.substrate-rankings-are-reliable", 6,
           "Each substrate's ranking of the methods is reproducible between two random halves of the images "
           "(mean Kendall tau above 0.5).",
           "split-half Kendall tau within a substrate (mean over substrates)", Rule("above", 0.5), _reliability,
           control=functools.partial(_reliability, control=True),
           control_note="the methods shuffled per image (no method better than another, by construction)"),
    _claim("ch6.substrates-disagree-beyond-reliability", 6,
           "Substrates disagree on the ranking of the methods more than one substrate disagrees with itself "
           "between halves of the images.",
           "split-half tau within substrates - across substrates", Rule("above", 0.0), _beyond_reliability,
           paper="metrics are inconsistent with each other", source=BRUNKE,
           control=functools.partial(_beyond_reliability, control=True), control_note=SAME_SUBSTRATES),
    _claim("ch6.images-disagree-within-substrates", 6,
           "Within every substrate the images disagree on the order of the methods (Krippendorff's alpha below 0.5).",
           "largest Krippendorff's alpha over substrates", Rule("below", 0.5), _images_agree,
           paper="saliency metrics are unreliable across images", source=TOMSETT,
           control=functools.partial(_images_agree, control=True),
           control_note="every image a copy of the first (they agree perfectly, by construction)"),
    _claim("ch6.morf-and-lerf-are-inconsistent", 6,
           "MoRF and LeRF rank the methods far from oppositely (mean Kendall tau over substrates above -0.5).",
           "Kendall tau between MoRF and LeRF areas (mean over substrates)", Rule("above", -0.5), _morf_lerf,
           paper="MoRF and LeRF are internally inconsistent", source=TOMSETT,
           control=functools.partial(_morf_lerf, control=True),
           control_note="LeRF's areas replaced by the negated MoRF ones (opposite rankings, by construction)"),
    _claim("ch6.no-causal-metric-matches-the-masks", 6,
           "No deletion variant ranks the methods like their localization of the object (Kendall tau below 0.7).",
           "largest Kendall tau of a deletion variant with the mask ranking", Rule("below", 0.7), _masks,
           control=functools.partial(_masks, control=True),
           control_note="the localization scores as the only variant (they match the masks, by construction)"),
    _claim("ch6.noisy-imputation-raises-image-agreement", 6,
           "Noisy linear imputation as the substrate makes the images agree more on the order of the methods than "
           "black does.",
           "Krippendorff's alpha, noisy imputation - black", Rule("above", 0.0), _noisy_imputation,
           paper="noisy linear imputation makes removal-based metrics more consistent", source=RONG,
           control=functools.partial(_noisy_imputation, control=True),
           control_note="black in place of noisy imputation (no gain by construction)"),
]

__all__ = ["CLAIMS", "Indifferent", "PerturbationContext", "SAME_SUBSTRATES", "copied_substrates", "split_half_agreement",
           "twin_gap", "winner_bounds"]
