"""Claims of chapter 5: Rectified Gradients, the input bias of multiplying by the input, and the
sanity checks.

Sources: Kim et al. 2019 (RectGrad), Brocki & Chung 2020 (the input bias and NoBias RectGrad),
Adebayo et al. 2018 and Khakzar et al. 2021 (cascading randomization). The evidence needs a Shapes
classifier: objects are re-rendered at exact grey levels, with their masks.
"""
from __future__ import annotations

import copy
import functools
from functools import cached_property

import numpy as np
import pandas as pd
import torch.nn as nn
from captum.attr import GuidedBackprop

from .. import checks
from ..attributions import attribute, to_map
from ..data import Shapes, photos
from ..experiments import brightness_sweep, cascading_randomization, compare
from ..metrics import luminance_correlation
from ..parameters import TEXT, Choice, Number, checked
from ..rectgrad import SPACES, InSpace, RectGrad
from .core import Claim, ClaimRefused, Evidence, Rule, mean_interval

BROCKI = "Brocki & Chung 2020 (arXiv 2010.07937)"
KIM = "Kim et al. 2019, AAAI (arXiv 1808.05486)"
ADEBAYO = "Adebayo et al. 2018, NeurIPS; Khakzar et al. 2021"

MULTIPLYING = ("RectGrad", "InputXGradient", "IntegratedGradients")
GRADIENT_ONLY = ("NoBias RectGrad", "GuidedBackprop", "Saliency")
RECTIFYING = ("GuidedBackprop", "RectGrad", "NoBias RectGrad")
COMPARED = ("Saliency", "InputXGradient", "RectGrad", "NoBias RectGrad")


class InputBiasContext:
    """A Shapes classifier and the images chapter 5 measures it on; every table is computed once.

    Parameters
    ----------
    model : a classifier of Shapes images in [0, 1] (left as found).
    n : test images (random colours) for localization and luminance, scored for ``compare_methods`` and
    the methods the claims compare; n_sweep : objects per grey level.
    methods, levels, background : the brightness sweep (the claims read levels 0 and 1).
    space_levels, space_background : the sweep in every input space of ``saltools.rectgrad.SPACES``.
    cascade_methods : methods of the randomization check.
    n_photos, photo_size, photo_model : photos for the luminance check (and the model explaining them:
    by default ``model``).
    mean, std : per-channel statistics of the "standardized" input space, for a model that does not
    normalize its inputs itself (``saltools.rectgrad.InSpace``); by default the model's own.
    """

    @checked()
    def __init__(self, model: nn.Module, *, n: int = 64, n_sweep: int = 32, compare_methods=(),
                 methods=MULTIPLYING + GRADIENT_ONLY + ("LRP-epsilon",), levels=(0.0, 1.0), background: float = 0.5,
                 space_methods=("RectGrad", "NoBias RectGrad"), space_levels=(0.0, 0.5, 1.0),
                 space_background: float = 0.15, cascade_methods=RECTIFYING + ("Saliency",), n_photos: int = 4,
                 photo_model: nn.Module | None = None, photo_size: int = 128, name: str = "model", mean=None,
                 std=None):
        missing = {0.0, 1.0} - set(map(float, levels))
        if missing:
            raise ValueError(f"levels must include black (0.0) and white (1.0) objects; missing {sorted(missing)}")
        checks.returns_logits(model, Shapes(2, split="test").images)
        self.model, self.n, self.n_sweep, self.name = model, n, n_sweep, name
        self.compare_methods = list(dict.fromkeys(list(compare_methods) + list(COMPARED)))
        self.methods, self.levels, self.background = list(methods), tuple(levels), background
        self.space_methods, self.space_levels, self.space_background = list(space_methods), tuple(space_levels), space_background
        self.cascade_methods, self.n_photos, self.photo_size = list(cascade_methods), n_photos, photo_size
        self.photo_model = model if photo_model is None else photo_model
        self.mean, self.std = mean, std

    @cached_property
    def test(self) -> Shapes:
        return Shapes(self.n, split="test")

    @cached_property
    def scores(self) -> pd.DataFrame:
        """``experiments.compare`` on the test images: mass, rank accuracy and luminance correlation."""
        return compare(self.model, self.test.images, self.test.labels, self.test.masks, methods=self.compare_methods)

    @cached_property
    def sweep(self) -> pd.DataFrame:
        return brightness_sweep(self.model, self.methods, levels=self.levels, n=self.n_sweep,
                                background=self.background)

    @cached_property
    def by_space(self) -> pd.DataFrame:
        return brightness_sweep(self.model, self.space_methods, levels=self.space_levels, n=self.n_sweep,
                                background=self.space_background, spaces=tuple(SPACES), space_mean=self.mean,
                                space_std=self.std)

    @cached_property
    def zero_points(self) -> dict[str, float]:
        """The grey level each input space maps to 0 (its blind point)."""
        return {space: InSpace(self.model, space, self.mean, self.std).zero_point().mean().item() for space in SPACES}

    @cached_property
    def standardized_is_symmetric(self) -> bool:
        """Whether the standardized space is [-1, 1] up to a scale: mean 0.5 and equal channel stds (within 5%;
        RectGrad thresholds by percentiles, so a common scale does not change its map)."""
        space = InSpace(self.model, "standardized", self.mean, self.std)
        std = space.std.flatten()
        return bool((space.mean - 0.5).abs().max() < 0.05 * 0.5 and std.max() / std.min() < 1.05)

    @cached_property
    def cascade(self) -> pd.DataFrame:
        probe = Shapes(16, split="test", start=100)
        return cascading_randomization(self.model, probe.images, probe.labels, methods=self.cascade_methods)

    @cached_property
    def photo_correlations(self) -> pd.DataFrame:
        """Per photo (scikit-image), the correlation of |map| with luminance, RectGrad and NoBias."""
        images = photos(size=self.photo_size)[:self.n_photos]
        return pd.DataFrame({name: luminance_correlation(to_map(attribute(self.photo_model, name, images)),
                                                         images).numpy()
                             for name in ("RectGrad", "NoBias RectGrad")})

    @cached_property
    def guided_backprop_gap(self) -> float:
        """Largest |RectGrad(threshold 0) - Guided Backprop x input| in float64, relative to the largest value."""
        model64 = copy.deepcopy(self.model).double()
        x, y = self.test.images[:8].double(), self.test.labels[:8]
        ours = RectGrad(model64, threshold=0.0).attribute(x, target=y)
        theirs = GuidedBackprop(model64).attribute(x.clone(), target=y) * x
        return ((ours - theirs).abs().max() / theirs.abs().max()).item()

    @checked(method=TEXT, level=Number(), space=Choice(tuple(SPACES)))
    def mass(self, method: str, level: float, table: pd.DataFrame | None = None, space: str = "unit") -> pd.Series:
        """Mass accuracy per object of ``method`` at grey ``level`` (NaN where the model is wrong)."""
        table = self.sweep if table is None else table
        rows = table[(table.method == method) & (table.level == level) & (table.space == space)].set_index("image")
        return rows.mass_accuracy.where(rows.correct)


# ----------------------------------------------------------------------------- evidence
def _paired(first: pd.Series, second: pd.Series, unit: str = "objects") -> Evidence:
    return mean_interval((first - second).to_numpy(), unit)


def _test_difference(context, column: str, first: str, second: str) -> Evidence:
    """Per test image, ``column`` of method ``first`` minus ``second``; ``second="uniform"``: a map that is
    the same everywhere (its mass accuracy is the object's share of the image)."""
    table = context.scores.pivot_table(index="image", columns="method", values=column)
    if second == "uniform":
        return _paired(table[first], pd.Series(context.test.masks.double().mean((1, 2)).numpy(), index=table.index),
                       "images")
    return _paired(table[first], table[second], "images")


def _climb(context, method: str, dark: float = 0.0) -> Evidence:
    return _paired(context.mass(method, 1.0), context.mass(method, dark))


def _at_level(context, first: str, second: str, level: float) -> Evidence:
    return _paired(context.mass(first, level), context.mass(second, level))


def _blind_point(context, space: str, control: bool = False) -> Evidence:
    """Mass far from the space's zero point minus mass at it (levels nearest and farthest from it);
    ``control``: the level at the zero point against itself. The standardized space is refused where it
    is the symmetric one up to a scale (the same RectGrad map: the claim @symmetric decides it)."""
    if space == "standardized" and context.standardized_is_symmetric:
        raise ClaimRefused("this model's standardized space is the symmetric one up to a scale (mean 0.5 and "
                           "equal channel stds, within 5%), where RectGrad's map is the same: "
                           "ch5.rectgrad-is-blind-at-the-zero-point@symmetric decides it")
    zero = context.zero_points[space]
    levels = np.asarray(context.space_levels)
    near, far = levels[np.argmin(abs(levels - zero))], levels[np.argmax(abs(levels - zero))]
    far = near if control else far
    table = context.by_space
    return _paired(context.mass("RectGrad", float(far), table, space), context.mass("RectGrad", float(near), table, space))


def nobias_space_gap(context) -> float:
    """Largest |mass accuracy difference| of NoBias RectGrad between any input space and the unit space
    (zero up to rounding, by construction, where the spaces' channel stds are equal)."""
    rows = context.by_space[context.by_space.method == "NoBias RectGrad"]
    wide = rows.pivot_table(index=["level", "image"], columns="space", values="mass_accuracy")
    return float(wide.sub(wide["unit"], axis=0).abs().to_numpy().max())


def _photos(context, second: str = "NoBias RectGrad") -> Evidence:
    table = context.photo_correlations
    return _paired(table["RectGrad"], table[second], "photos")


def _after_top_layer(context, method: str, column: str = "spearman_abs") -> Evidence:
    """Per image: similarity of ``method``'s map to the original after randomizing the top layer."""
    cascade = context.cascade
    first = cascade[(cascade.method == method) & (cascade.depth == 1)]
    return mean_interval(first[column].to_numpy(), "images", randomized=str(first.randomized_to.iloc[0]))


def _fully_randomized_gap(context, second: str = "NoBias RectGrad") -> Evidence:
    cascade = context.cascade
    last = cascade[cascade.depth == cascade.depth.max()].pivot_table(index="image", columns="method", values="ssim")
    return _paired(last["RectGrad"], last[second], "images")


def _claim(*args, **kwargs) -> Claim:
    return Claim(*args, context=InputBiasContext, **kwargs)


_NAMES = {"RectGrad": "rectgrad", "InputXGradient": "input-x-gradient", "IntegratedGradients": "integrated-gradients",
          "NoBias RectGrad": "nobias-rectgrad", "GuidedBackprop": "guided-backprop", "Saliency": "saliency"}

P = functools.partial
ITSELF = "the method (or level) compared with itself (no difference by construction)"
CLIMBER = ("Input x Gradient in its place (it multiplies by the input, so it sees white objects better than black "
           "ones by construction)")

CLAIMS = [
    _claim("ch5.rectgrad-localizes-like-nobias-on-random-colours", 5,
           "On test objects of random colours, RectGrad and NoBias RectGrad localize equally well on average "
           "(mass accuracy within 0.05).",
           "mass accuracy, RectGrad - NoBias RectGrad", Rule("within", 0.05),
           P(_test_difference, column="mass_accuracy", first="RectGrad", second="NoBias RectGrad"),
           control=P(_test_difference, column="mass_accuracy", first="RectGrad", second="uniform"),
           control_note="RectGrad against a map that is the same everywhere (no localization at all)"),
    _claim("ch5.rectgrad-follows-luminance-more-than-nobias", 5,
           "RectGrad's |map| correlates more with pixel luminance than NoBias RectGrad's.",
           "luminance correlation, RectGrad - NoBias RectGrad", Rule("above", 0.0),
           P(_test_difference, column="luminance_correlation", first="RectGrad", second="NoBias RectGrad"),
           paper="multiplying by the input favours bright pixels", source=BROCKI,
           control=P(_test_difference, column="luminance_correlation", first="NoBias RectGrad",
                     second="NoBias RectGrad"), control_note=ITSELF),
    _claim("ch5.input-x-gradient-follows-luminance-more-than-saliency", 5,
           "Input x Gradient's |map| correlates more with pixel luminance than the plain gradient's.",
           "luminance correlation, Input x Gradient - Saliency", Rule("above", 0.0),
           P(_test_difference, column="luminance_correlation", first="InputXGradient", second="Saliency"),
           source=BROCKI, control=P(_test_difference, column="luminance_correlation", first="Saliency",
                                    second="Saliency"), control_note=ITSELF),
    *[_claim(f"ch5.{_NAMES[m]}-climbs-with-brightness", 5,
             f"{m} localizes white objects better than black ones (mass accuracy up by more than 0.2).",
             "mass accuracy, white - black object (same object)", Rule("above", 0.2), P(_climb, method=m),
             paper="multiplying by the input gives zero relevance to pixels at the input's zero point",
             source=BROCKI, control=P(_climb, method=m, dark=1.0), control_note="white objects against themselves")
      for m in MULTIPLYING],
    *[_claim(f"ch5.{_NAMES[m]}-is-flat-in-brightness", 5,
             f"{m} localizes black and white objects alike (mass accuracy within 0.1).",
             "mass accuracy, white - black object (same object)", Rule("within", 0.1),
             P(_climb, method=m), source=BROCKI, control=P(_climb, method="InputXGradient"), control_note=CLIMBER)
      for m in GRADIENT_ONLY],
    _claim("ch5.nobias-sees-black-objects", 5,
           "On black objects NoBias RectGrad localizes far better than RectGrad (mass accuracy up by more than 0.2).",
           "mass accuracy on black objects, NoBias RectGrad - RectGrad", Rule("above", 0.2),
           P(_at_level, first="NoBias RectGrad", second="RectGrad", level=0.0),
           paper="NoBias RectGrad removes the input bias", source=BROCKI,
           control=P(_at_level, first="RectGrad", second="RectGrad", level=0.0), control_note=ITSELF),
    _claim("ch5.rectgrad-beats-nobias-on-white-objects", 5,
           "On white objects RectGrad localizes better than NoBias RectGrad.",
           "mass accuracy on white objects, RectGrad - NoBias RectGrad", Rule("above", 0.0),
           P(_at_level, first="RectGrad", second="NoBias RectGrad", level=1.0),
           control=P(_at_level, first="NoBias RectGrad", second="NoBias RectGrad", level=1.0), control_note=ITSELF),
    _claim("ch5.lrp-sees-black-and-white-alike", 5,
           "LRP-epsilon, which multiplies by the normalized input, localizes black and white objects on mid-grey "
           "alike (mass accuracy within 0.1).",
           "mass accuracy, white - black object (same object)", Rule("within", 0.1), P(_climb, method="LRP-epsilon"),
           control=P(_climb, method="InputXGradient"), control_note=CLIMBER),
    *[_claim(f"ch5.rectgrad-is-blind-at-the-zero-point@{space}", 5,
             f"With inputs in the {space} space, RectGrad localizes objects at the space's zero point worse than "
             "objects far from it (objects on a dark background).",
             "mass accuracy, object far from the zero point - object at it", Rule("above", 0.0),
             P(_blind_point, space=space), paper="the blind point is the input's zero point", source=BROCKI,
             control=P(_blind_point, space=space, control=True), control_note=ITSELF) for space in SPACES],
    _claim("ch5.rectgrad-follows-luminance-on-photos", 5,
           "On photos, RectGrad's |map| correlates more with luminance than NoBias RectGrad's.",
           "luminance correlation, RectGrad - NoBias RectGrad", Rule("above", 0.0), _photos, source=BROCKI,
           control=P(_photos, second="RectGrad"), control_note=ITSELF),
    *[_claim(f"ch5.{_NAMES[m]}-ignores-the-top-layer", 5,
             f"Randomizing only the top layer leaves {m}'s maps almost unchanged (rank correlation of |map| "
             "above 0.9).",
             "Spearman correlation of |map| after randomizing the top layer", Rule("above", 0.9),
             P(_after_top_layer, method=m),
             paper="methods that keep only positive evidence fail the randomization check", source=ADEBAYO,
             control=P(_after_top_layer, method="Saliency"),
             control_note="the plain gradient in its place (it reads the top layer's weights, by construction)")
      for m in RECTIFYING],
    _claim("ch5.saliency-depends-on-the-top-layer", 5,
           "Randomizing only the top layer changes the plain gradient's maps (rank correlation of |map| below 0.8).",
           "Spearman correlation of |map| after randomizing the top layer", Rule("below", 0.8),
           P(_after_top_layer, method="Saliency"), source=ADEBAYO,
           control=P(_after_top_layer, method="GuidedBackprop"),
           control_note="Guided Backprop in its place (its maps survive the top layer's randomization)"),
    _claim("ch5.nobias-fails-the-check-like-rectgrad", 5,
           "Fully randomized, NoBias RectGrad's maps stay as similar to the originals as RectGrad's (SSIM within 0.1).",
           "SSIM to the original map, RectGrad - NoBias RectGrad", Rule("within", 0.1), _fully_randomized_gap,
           control=P(_fully_randomized_gap, second="Saliency"),
           control_note="the plain gradient in place of NoBias RectGrad (it passes the check: its maps decay)"),
]

__all__ = ["CLAIMS", "InputBiasContext", "nobias_space_gap"]
