"""Claims of chapter 7: do the remedies proposed since Brunke et al. survive the baseline problem?

- SRG (Bluecher et al., TMLR 2024): does ranking methods by LeRF minus MoRF deletion area make the
  substrates agree (Kendall's tau and Krippendorff's alpha across substrates), beyond each ranking's own
  split-half reliability? Do substrates whose occluded images stay closer to the data agree more?
- ROAD (Rong et al., ICML 2022): does noisy linear imputation hide the removed region's outline, which
  names the class (``leakage``)?
- The blur control (Song et al. 2023): does a blurred map, which by construction knows no more of the
  model, score better?
- Smooth MPRT (Hedstroem et al. 2024): does averaging over noisy copies change the randomization
  verdict on Guided Backprop and RectGrad?
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
from ..baselines import ROAD, SUBSTRATES
from ..data import Shapes
from ..experiments import blur_control, occlusion_distance, parameter_randomization, srg_scores
from ..leakage import model_leak, probe_leak, removal_masks
from ..metrics import kendall_tau
from ..models.evaluation import predict
from ..parameters import Choice, checked
from ..perturb import occlusion
from .core import Claim, Evidence, Rule, fingerprint, mean_interval, resampled_interval, spread_interval
from .perturbation import GRADIENT_METHODS, SAME_SUBSTRATES, copied_substrates, split_half_agreement

BLUECHER = "Bluecher et al. 2024, TMLR"
RONG = "Rong et al. 2022, ICML (ROAD, arXiv 2202.00449)"
SONG = "Song et al. 2023 (arXiv 2304.13836)"
HEDSTROEM = "Hedstroem et al. 2024 (Smooth MPRT, arXiv 2401.06465)"
ADEBAYO = "Adebayo et al. 2018, NeurIPS"

WAYS = ("MoRF", "LeRF", "SRG")
BLURRED = ("Saliency", "InputXGradient", "GuidedBackprop", "IntegratedGradients")
RANDOMIZED = ("Saliency", "GuidedBackprop", "RectGrad")


class RemedyContext:
    """A classifier and the Shapes images chapter 7 scores (with object masks); every table is
    computed once. ``images`` are graded by the methods under every substrate; ``leak_images`` (many
    more, their masks only read off) measure the leak through the outline; ``randomized`` of the
    images go through the randomization tests (``smooth`` noisy copies each for Smooth MPRT)."""

    @checked()
    def __init__(self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor, masks: torch.Tensor, *,
                 leak_images: int = 960, randomized: int = 16, smooth: int = 8, steps: int = 10,
                 substrates=SUBSTRATES, name: str = "model"):
        if not len(images) == len(labels) == len(masks) or len(images) < 8:
            raise ValueError(f"expected at least 8 images with as many labels and masks; got {len(images)} images, "
                             f"{len(labels)} labels, {len(masks)} masks")
        checks.returns_logits(model, images)
        self.model, self.images, self.labels, self.masks, self.name = model, images, labels, masks, name
        self.leak_images, self.randomized, self.smooth, self.steps = leak_images, randomized, smooth, steps
        self.substrates = tuple(substrates)

    @classmethod
    @checked()
    def for_shapes(cls, model: nn.Module, n: int = 48, **kwargs) -> "RemedyContext":
        """The first ``n`` correctly classified of 2.5 n Shapes test images (seed 1: not chapter 6's), and
        20 n leak images unless ``leak_images`` is given."""
        shapes = Shapes(max(20, round(2.5 * n)), split="test", seed=1)
        right = predict(model, shapes.images).argmax(1) == shapes.labels
        kwargs.setdefault("leak_images", 20 * n)
        return cls(model, shapes.images[right][:n], shapes.labels[right][:n], shapes.masks[right][:n], **kwargs)

    def fingerprint(self) -> str:
        """A hash of the weights, images, labels, masks and settings (equal fingerprints, equal verdicts)."""
        return fingerprint([self.leak_images, self.randomized, self.smooth, self.steps, self.substrates], self.model,
                           self.images, self.labels, self.masks)

    # -- tables
    @cached_property
    def maps(self) -> dict[str, torch.Tensor]:
        """The graded methods: chapter 6's gradient methods and occlusion (black, window 8, stride 4)."""
        maps = {name: to_map(attribute(self.model, name, self.images, self.labels)) for name in GRADIENT_METHODS}
        maps["Occlusion"] = occlusion(self.model, self.images, self.labels, window=8, stride=4)
        return maps

    @cached_property
    def scores(self) -> pd.DataFrame:
        """``experiments.srg_scores`` of every method under every substrate."""
        return self.grade(self.substrates)

    def grade(self, substrates) -> pd.DataFrame:
        """``experiments.srg_scores`` under ``substrates``, each graded once and kept: a chapter can grade in
        parts, each part a cell of its own (the same rows as one call: every substrate uses the same seed)."""
        graded = self.__dict__.setdefault("graded_", {})
        for substrate in [s for s in substrates if s not in graded]:
            graded[substrate] = srg_scores(self.model, self.images, self.labels, self.maps, [substrate], steps=self.steps)
        return pd.concat([graded[s] for s in substrates], ignore_index=True)

    @cached_property
    def distance(self) -> pd.DataFrame:
        """``experiments.occlusion_distance`` of every substrate."""
        return occlusion_distance(self.model, self.images, self.substrates)

    @cached_property
    def leak_data(self) -> Shapes:
        return Shapes(self.leak_images, split="leak")

    @cached_property
    def carriers(self) -> torch.Tensor:
        """Images without an object: the leak images' backgrounds (the object drawn in the background colour
        and half its texture, so it barely shows)."""
        return Shapes(self.leak_images, split="leak", object_color=self.leak_data.params.background_rgb).images

    @cached_property
    def leak(self) -> pd.DataFrame:
        """``leakage.model_leak`` for two removal masks per leak image: its object (what MoRF removes first
        for a map that is exactly on the object) and the top 10% of Guided Backprop's |map|."""
        data = self.leak_data
        guided = to_map(attribute(self.model, "GuidedBackprop", data.images, data.labels))
        removed = {"object": data.masks, "GuidedBackprop": removal_masks(guided, 0.1)}
        return pd.concat([model_leak(self.model, self.carriers, r, data.labels, self.substrates).assign(mask=name)
                          for name, r in removed.items()], ignore_index=True)

    @cached_property
    def untouched_leak(self) -> pd.DataFrame:
        """``leakage.model_leak`` with nothing removed (the carriers as they are, black "fill"): the negative
        control of the leak claims, where no outline can name a class."""
        nothing = torch.zeros_like(self.leak_data.masks)
        return model_leak(self.model, self.carriers, nothing, self.leak_data.labels, ("black",)).assign(mask="nothing")

    @cached_property
    def probe(self) -> pd.DataFrame:
        """``leakage.probe_leak`` on the leak images' object masks (half train the probe)."""
        return probe_leak(self.leak_data.masks, self.leak_data.labels)

    @cached_property
    def probe_on_other_masks(self) -> pd.DataFrame:
        """``probe_leak`` with each label paired with another image's mask (a fixed random permutation): the
        negative control, where no outline belongs to its label."""
        order = torch.from_numpy(np.random.default_rng(0).permutation(self.leak_images))
        return probe_leak(self.leak_data.masks[order], self.leak_data.labels)

    @cached_property
    def blur(self) -> pd.DataFrame:
        """``experiments.blur_control`` of the dense gradient maps (sigma 2 pixels)."""
        return blur_control(self.model, self.images, self.labels, {m: self.maps[m] for m in BLURRED},
                            steps=self.steps)

    @cached_property
    def randomization(self) -> pd.DataFrame:
        """Independent layer randomization, plain and Smooth MPRT, on the first ``randomized`` images."""
        images, labels = self.images[:self.randomized], self.labels[:self.randomized]
        return pd.concat([parameter_randomization(self.model, images, labels, RANDOMIZED, mode="independent",
                                                  smooth=smooth).assign(test=test)
                          for test, smooth in (("MPRT", 0), ("Smooth MPRT", self.smooth))], ignore_index=True)

    # -- arrays
    @checked(way=Choice(WAYS))
    def quality(self, way: str) -> np.ndarray:
        """Higher-is-better quality [substrate, method, image]: MoRF (negated area), LeRF (area) or SRG."""
        if way not in WAYS:
            raise ValueError(f"way must be one of {WAYS}; got {way!r}")
        column, sign = {"MoRF": ("morf_auc", -1), "LeRF": ("lerf_auc", 1), "SRG": ("srg", 1)}[way]
        cube = self.scores.pivot_table(index=["substrate", "method"], columns="image", values=column)
        cube = cube.reindex(pd.MultiIndex.from_product([self.substrates, sorted(self.maps)]))
        return sign * cube.to_numpy().reshape(len(self.substrates), len(self.maps), len(self.images))


# ----------------------------------------------------------------------------- agreement of substrates
@checked(way=Choice(WAYS))
def method_ranks(context: RemedyContext, way: str) -> pd.DataFrame:
    """Rank of each method (1 = best, by the mean over images) under each substrate: [substrate x method]."""
    means = context.quality(way).mean(2)
    return pd.DataFrame(ss.rankdata(-means, axis=1), index=pd.Index(context.substrates, name="substrate"),
                        columns=sorted(context.maps))


def substrate_taus(quality: np.ndarray, images) -> np.ndarray:
    """Kendall's tau [substrate, substrate] between the method rankings (means over ``images``)."""
    means = quality[:, :, images].mean(2)
    return kendall_tau(means[:, None], means[None])


def cross_substrate_agreement(quality: np.ndarray, images) -> float:
    """Mean Kendall tau between the method rankings of every pair of substrates."""
    taus = substrate_taus(quality, images)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)                     # constant rankings give NaN
        return float(np.nanmean(taus[~np.eye(len(taus), dtype=bool)]))


def cross_substrate_alpha(quality: np.ndarray, images) -> float:
    """Krippendorff's alpha (ordinal) of the substrates as raters of the methods' ranks."""
    ranks = ss.rankdata(-quality[:, :, images].mean(2), axis=1)
    return float(krippendorff.alpha(reliability_data=ranks, level_of_measurement="ordinal"))


def _srg_against(context: RemedyContext, alone: str, measure, first: str = "SRG") -> Evidence:
    srg, other = context.quality(first), context.quality(alone)
    return resampled_interval(lambda i: measure(srg, i) - measure(other, i), len(context.images), "images",
                              resamples=500)


def _gap_narrowed(context: RemedyContext, second: str = "SRG") -> Evidence:
    """Per random half split (the same splits for both): MoRF's gap between within- and across-substrate
    agreement minus SRG's (``second``)."""
    gaps = [np.subtract(*split_half_agreement(context.quality(way))) for way in ("MoRF", second)]
    return spread_interval(gaps[0] - gaps[1], len(context.images), "images", splits=len(gaps[0]))


def _beyond_reliability(context: RemedyContext, control: bool = False) -> Evidence:
    """SRG's split-half tau within substrates minus across them; ``control``: every substrate a copy of the
    first (they agree as well as each agrees with itself, by construction)."""
    quality = context.quality("SRG")
    if control:
        quality = copied_substrates(quality)
    gaps = np.subtract(*split_half_agreement(quality))
    return spread_interval(gaps, len(context.images), "images", splits=len(gaps))


def substrate_closeness(context: RemedyContext, images=None) -> pd.DataFrame:
    """Per substrate: mean ``distance`` of its occluded images from the data, and ``agreement``, the mean
    Kendall tau of its MoRF ranking with every other substrate's (over ``images``, default all)."""
    images = np.arange(len(context.images)) if images is None else images
    distance = context.distance.pivot_table(index="substrate", columns="image", values="distance")
    taus = substrate_taus(context.quality("MoRF"), images)
    np.fill_diagonal(taus, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        agreement = np.nanmean(taus, 1)
    return pd.DataFrame({"distance": distance.loc[list(context.substrates)].to_numpy()[:, images].mean(1),
                         "agreement": agreement}, index=pd.Index(context.substrates, name="substrate"))


def _closeness(context: RemedyContext, control: bool = False) -> Evidence:
    """Spearman correlation over substrates of distance and agreement; ``control``: the agreement itself as
    the distance (farther substrates agree more, by construction)."""
    def rho(i):
        table = substrate_closeness(context, i)
        return ss.spearmanr(table.agreement if control else table.distance, table.agreement).statistic
    return resampled_interval(rho, len(context.images), "images", resamples=500)


# ----------------------------------------------------------------------------- leak, blur, randomization
def _leak(context: RemedyContext, mask: str, substrate: str, against: str | None = None) -> Evidence:
    """Per leak image: own-class minus other-class hits (minus ``against``'s); ``mask="nothing"``: none removed."""
    table = context.untouched_leak if mask == "nothing" else context.leak[context.leak["mask"] == mask]
    rows = table.set_index(["substrate", "image"])
    leak = rows.named.astype(float) - rows.named_other.astype(float)
    difference = leak.loc[substrate] - (leak.loc[against] if against else 0.0)
    return mean_interval(difference.to_numpy(), "leak images")


def _probe(context: RemedyContext, control: bool = False) -> Evidence:
    table = context.probe_on_other_masks if control else context.probe
    return mean_interval((table.named.astype(float) - table.named_other.astype(float)).to_numpy(), "held-out masks")


def _blur(context: RemedyContext, score: str, control: bool = False) -> Evidence:
    """Per image, the score's gain from blurring (mean over methods); ``control``: no blur."""
    rows = context.blur[context.blur.score == score]
    blurred = rows.original if control else rows.blurred
    gain = rows.original - blurred if "deletion" in score else blurred - rows.original
    per_image = gain.groupby(rows.image).mean()
    return mean_interval(per_image.to_numpy(), "images", methods=list(BLURRED))


def _top_layer(context: RemedyContext, method: str, test: str | None = None, plain: str | None = None) -> Evidence:
    """Similarity after randomizing the top layer under ``test``, or Smooth MPRT minus ``plain``'s MPRT."""
    table = context.randomization
    top = table[table.depth == 1].pivot_table(index="image", columns=["method", "test"], values="spearman_abs")
    values = top[method, test] if test else top[method, "Smooth MPRT"] - top[plain or method, "MPRT"]
    return mean_interval(values.to_numpy(), "images", randomized=str(table.randomized.iloc[0]))


def _claim(*args, **kwargs) -> Claim:
    return Claim(*args, context=RemedyContext, **kwargs)


_IDS = {"GuidedBackprop": "guided-backprop", "RectGrad": "rectgrad"}

ITSELF = "the ranking compared with itself (no gain by construction)"

CLAIMS = [
    *[_claim(f"ch7.srg-makes-substrates-agree-more-than-{alone.lower()}", 7,
             f"Ranking the methods by SRG (LeRF minus MoRF deletion area) makes the substrates agree more than "
             f"ranking them by {alone} deletion alone.",
             f"mean Kendall tau across substrates, SRG - {alone}", Rule("above", 0.0),
             functools.partial(_srg_against, alone=alone, measure=cross_substrate_agreement),
             paper="rankings by SRG are consistent across occlusion strategies", source=BLUECHER,
             control=functools.partial(_srg_against, alone=alone, measure=cross_substrate_agreement, first=alone),
             control_note=f"{alone} in place of SRG ({ITSELF})") for alone in ("MoRF", "LeRF")],
    _claim("ch7.srg-narrows-the-gap-to-reliability", 7,
           "SRG narrows the gap between one substrate's split-half reliability and the agreement across substrates "
           "that MoRF leaves.",
           "gap (split-half tau within - across substrates), MoRF - SRG", Rule("above", 0.0), _gap_narrowed,
           source=BLUECHER, control=functools.partial(_gap_narrowed, second="MoRF"),
           control_note=f"MoRF in place of SRG ({ITSELF})"),
    _claim("ch7.srg-substrates-disagree-beyond-reliability", 7,
           "Even ranked by SRG, substrates disagree on the order of the methods more than one substrate "
           "disagrees with itself between halves of the images.",
           "split-half tau of SRG within substrates - across substrates", Rule("above", 0.0), _beyond_reliability,
           control=functools.partial(_beyond_reliability, control=True), control_note=SAME_SUBSTRATES),
    _claim("ch7.closer-substrates-agree-more", 7,
           "Substrates whose occluded images lie closer to the data (the model's features) rank the methods more "
           "like the other substrates do.",
           "Spearman correlation over substrates, distance from the data vs agreement", Rule("below", 0.0),
           _closeness, paper="occlusions closer to the data distribution give more consistent evaluations",
           source=BLUECHER, control=functools.partial(_closeness, control=True),
           control_note="each substrate's agreement in place of its distance (farther agrees more, by construction)"),
    _claim("ch7.outline-alone-names-the-class", 7,
           "A probe trained on removal masks alone (the object's outline) names the class more often than it names "
           "another image's.",
           "probe's hit rate, own class - another image's", Rule("above", 0.0), _probe,
           paper="class information leaks through the shape of the removed pixels", source=RONG,
           control=functools.partial(_probe, control=True),
           control_note="the probe trained and tested on masks paired with other images' labels (no outline "
                        "belongs to its label)"),
    _claim("ch7.black-fill-leaks-the-outline", 7,
           "Filled black on an image without an object, the outline of a removed object makes the model name that "
           "object's class.",
           "hit rate, own class - another image's (object masks, black)", Rule("above", 0.0),
           functools.partial(_leak, mask="object", substrate="black"), source=RONG,
           control=functools.partial(_leak, mask="nothing", substrate="black"),
           control_note="nothing removed (the carriers alone show no outline)"),
    _claim("ch7.road-hides-the-outline", 7,
           "Filled by ROAD's noisy linear imputation, the same outline leaves the model's hit rate within 0.05 of "
           "chance.",
           "hit rate, own class - another image's (object masks, ROAD)", Rule("within", 0.05),
           functools.partial(_leak, mask="object", substrate=ROAD), paper="noisy linear imputation removes the "
           "leak through the mask", source=RONG, control=functools.partial(_leak, mask="object", substrate="black"),
           control_note="black in place of ROAD (a fill that shows the outline)"),
    _claim("ch7.road-leaks-less-than-black-on-attribution-masks", 7,
           "On Guided Backprop's removal masks (top 10%), ROAD leaks less of the class than black does.",
           "leak, black - ROAD (Guided Backprop masks)", Rule("above", 0.0),
           functools.partial(_leak, mask="GuidedBackprop", substrate="black", against=ROAD), source=RONG,
           control=functools.partial(_leak, mask="GuidedBackprop", substrate="black", against="black"),
           control_note="black against itself (no difference by construction)"),
    *[_claim(f"ch7.blurring-improves-{key}", 7,
             f"Blurring a gradient map (Gaussian, sigma 2 pixels) improves its {label}.",
             f"{label}, blurred - original (improvement; mean over 4 methods)", Rule("above", 0.0),
             functools.partial(_blur, score=score), paper="model-agnostic blurring, which adds no information about "
             "the model, can improve removal-based scores", source=SONG,
             control=functools.partial(_blur, score=score, control=True),
             control_note="the original map in place of the blurred one (no change by construction)")
      for key, label, score in (("road", "ROAD deletion score", f"{ROAD} deletion (MoRF AUC)"),
                                ("black-deletion", "black deletion score", "black deletion (MoRF AUC)"),
                                ("faithfulness-correlation", "faithfulness correlation", "faithfulness correlation"))],
    *[_claim(f"ch7.{_IDS[m]}-ignores-the-top-layer-under-smooth-mprt", 7,
             f"Under Smooth MPRT, randomizing only the top layer leaves {m}'s maps almost unchanged (rank "
             "correlation of |map| above 0.9).",
             "Spearman correlation of |map| after randomizing the top layer (smoothed)", Rule("above", 0.9),
             functools.partial(_top_layer, method=m, test="Smooth MPRT"),
             paper="smoothing removes the noise that can pass for sensitivity", source=HEDSTROEM,
             control=functools.partial(_top_layer, method="Saliency", test="Smooth MPRT"),
             control_note="the plain gradient in its place (it reads the top layer's weights, by construction)")
      for m in _IDS],
    *[_claim(f"ch7.smoothing-keeps-the-{_IDS[m]}-verdict", 7,
             f"Smoothing changes {m}'s similarity after top-layer randomization by less than 0.1.",
             "Spearman correlation after randomizing the top layer, Smooth MPRT - MPRT", Rule("within", 0.1),
             functools.partial(_top_layer, method=m), source=HEDSTROEM,
             control=functools.partial(_top_layer, method=m, plain="Saliency"),
             control_note="the plain gradient's MPRT in place of the method's own (a change of method, not of "
                          "smoothing)") for m in _IDS],
]

__all__ = ["CLAIMS", "RemedyContext", "cross_substrate_agreement", "cross_substrate_alpha", "method_ranks",
           "substrate_closeness", "substrate_taus"]
