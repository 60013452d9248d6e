"""The answer keys of the attribution chapters' exercises (chapters 5-7): each recomputes the right answer
from the objects the check cell passes (the chapter's model, images, context, ...), by the route the
solution takes. A key registers itself under the id its chapter's check cell names."""
from __future__ import annotations

import numpy as np

from .. import metrics, perturb, rectgrad
from ..attributions import attribute, to_map
from ..claims.core import resampled_interval
from ..claims.remedies import cross_substrate_agreement
from ..leakage import model_leak, removal_masks
from .core import Exercise, register

NOISE = ("uniform", "gaussian")


# ----------------------------------------------------------------------------- chapter 5
def _mass_by_percentile(model, images, labels, masks, percentiles=(50, 90, 99.5)):
    return {q: metrics.relevance_mass(to_map(rectgrad.RectGrad(model, percentile=q).attribute(images, labels)),
                                      masks).mean().item() for q in percentiles}


def _inside(model, dark, space, part=lambda m: m.clamp(min=0)):
    """The share of ``part`` of RectGrad's map (default: its positive part) inside the black objects."""
    seen = rectgrad.InSpace(model, space)
    kept = part(to_map(rectgrad.RectGrad(seen).attribute(seen.encode(dark.images), dark.labels)))
    return ((kept * dark.masks).sum((1, 2)) / kept.sum((1, 2)).clamp_min(1e-12)).mean().item()


def _lrp_mass(model, dark, light):
    def mass(objects):
        relevance = to_map(attribute(model, "LRP-epsilon", objects.images, objects.labels))
        return metrics.relevance_mass(relevance, objects.masks).mean().item()
    return {"black": mass(dark), "white": mass(light)}


register(Exercise(
    "ch05.percentile", _mass_by_percentile,
    "A higher percentile keeps fewer units per layer: compare where the mass accuracy peaks with the chapter's "
    "default q = 98.",
    mistakes={"RectGrad's percentile is in percent (0 to 100), not a fraction: pass percentile=q.":
              lambda model, images, labels, masks: dict(zip((50, 90, 99.5), _mass_by_percentile(
                  model, images, labels, masks, percentiles=(0.5, 0.9, 0.995)).values()))},
    outcome=lambda expected, **given: "mass accuracy " + ", ".join(f"{v:.3f} at q = {q}" for q, v in expected.items())))
register(Exercise(
    "ch05.sign", lambda model, dark: {space: _inside(model, dark, space) for space in ("unit", "symmetric")},
    "In [0, 1] a black pixel's input is 0, so it holds no relevance; in [-1, 1] its sign follows the gradient's.",
    mistakes={"That is the share of |relevance|; keep only the positive part, m.clamp(min=0).":
              lambda model, dark: {space: _inside(model, dark, space, part=lambda m: m.abs())
                                   for space in ("unit", "symmetric")}}))
register(Exercise(
    "ch05.lrp-dark", _lrp_mass,
    "Compare with RectGrad's mass accuracy on the same objects in the figure above.",
    mistakes={"Black and white are swapped: `dark` holds the black objects.":
              lambda model, dark, light: dict(zip(("white", "black"), _lrp_mass(model, dark, light).values()))}))


# ----------------------------------------------------------------------------- chapter 6
def _rise_floor(model, images, labels, n_masks):
    mean = perturb.rise(model, images, labels, n_masks=n_masks)
    return {"seed floor": metrics.map_agreement(mean, perturb.rise(model, images, labels, n_masks=n_masks, seed=1))
            .spearman_abs.mean(),
            "mean colour vs black": metrics.map_agreement(mean, perturb.rise(model, images, labels, n_masks=n_masks,
                                                                             baseline="black")).spearman_abs.mean()}


def _aopc_by_substrate(model, images, labels, maps, k=4):
    """Mean AOPC over the first ``k`` steps per substrate and method."""
    return {s: {name: metrics.aopc(metrics.perturbation_curve(model, images, m, labels, substrate=s, steps=16),
                                   k=k).mean().item() for name, m in maps.items()} for s in ("black", "blur")}


def _occlusion_localization(model, images, labels, masks, window, metric=metrics.relevance_mass):
    maps = perturb.occlusion(model, images, labels, window=window, stride=window // 2)
    return metric(maps, masks).mean().item()


register(Exercise(
    "ch06.more-masks", lambda model, images, labels, n_masks: _rise_floor(model, images, labels, n_masks),
    "With four times the masks the seed floor is the bar a baseline effect must clear.",
    mistakes={"Those use the profile's number of masks; pass n_masks=4 * shapes.rise_masks.":
              lambda model, images, labels, n_masks: _rise_floor(model, images, labels, n_masks // 4)}))
register(Exercise(
    "ch06.aopc-winner",
    lambda model, images, labels, maps: {s: max(d, key=d.get) for s, d in _aopc_by_substrate(
        model, images, labels, maps).items()},
    "AOPC looks only at the first steps of the curve, so it can crown another method than the whole area.",
    mistakes={"You picked the method with the *smallest* AOPC; a larger early drop is better.":
              lambda model, images, labels, maps: {
                  s: min(d, key=d.get) for s, d in _aopc_by_substrate(model, images, labels, maps).items()}}))
register(Exercise(
    "ch06.window-16", lambda model, images, labels, masks: _occlusion_localization(model, images, labels, masks, 16),
    "A larger window smooths the map and spreads it over the object's surroundings.",
    mistakes={"That is the 8-pixel window's mass accuracy; use window=16 (stride 8).":
              lambda model, images, labels, masks: _occlusion_localization(model, images, labels, masks, 8),
              "That is the pointing game's hit rate; measure the relevance mass inside the masks.":
              lambda model, images, labels, masks: _occlusion_localization(model, images, labels, masks, 16,
                                                                           metric=metrics.pointing_game)},
    outcome=lambda expected, model, images, labels, masks: (
        f"mass accuracy {expected:.3f} with the 16-pixel window, "
        f"{_occlusion_localization(model, images, labels, masks, 8):.3f} with the 8-pixel one")))


# ----------------------------------------------------------------------------- chapter 7
def _interval_width(context, n):
    srg, morf = context.quality("SRG"), context.quality("MoRF")
    evidence = resampled_interval(lambda i: cross_substrate_agreement(srg[:, :, :n], i)
                                  - cross_substrate_agreement(morf[:, :, :n], i), n, "images", resamples=300)
    return evidence.high - evidence.low


def _without_noise(context, drop=NOISE):
    keep = [i for i, s in enumerate(context.substrates) if s not in drop]
    every = np.arange(len(context.images))
    return {way: cross_substrate_agreement(context.quality(way)[keep], every) for way in ("MoRF", "SRG")}


def _leak(context, model, least: bool, n: int = 480):
    """Leak per substrate (black, ROAD) of the 10% least (or most) relevant pixels of Guided Backprop, on
    the first ``n`` leak images."""
    images, labels = context.leak_data.images[:n], context.leak_data.labels[:n]
    guided = to_map(attribute(model, "GuidedBackprop", images, labels)).abs()
    removed = removal_masks(guided, 0.1, order="lerf" if least else "morf")
    leak = model_leak(model, context.carriers[:n], removed, labels,
                      substrates=("black", "road"))
    return (leak.named.astype(float) - leak.named_other.astype(float)).groupby(leak.substrate).mean().to_dict()


register(Exercise(
    "ch07.interval-width", lambda context: _interval_width(context, len(context.images) // 2),
    "An interval of a mean narrows roughly with the square root of the number of images.",
    mistakes={"That is the width on all the images; use the first half.":
              lambda context: _interval_width(context, len(context.images))}))
register(Exercise(
    "ch07.without-noise", _without_noise,
    "Compare with the agreement over all the substrates: does SRG's advantage need the noise fills?",
    mistakes={"That is the agreement over all the substrates; drop uniform and gaussian.":
              lambda context: _without_noise(context, drop=()),
              "Those are the noise substrates alone; keep the others.":
              lambda context: _without_noise(context, drop=tuple(s for s in context.substrates if s not in NOISE))},
    outcome=lambda expected, context: "; ".join(
        f"{way}: {_without_noise(context, drop=())[way]:.2f} over all substrates, {expected[way]:.2f} without noise"
        for way in ("MoRF", "SRG"))))
register(Exercise(
    "ch07.lerf-leak", lambda context, model: _leak(context, model, least=True),
    "Compare with the leak of the most relevant pixels in the chapter's figure: how much of the class does the "
    "outline of the least relevant ones give away?",
    mistakes={"Those are the most relevant pixels (MoRF): removal masks rank |relevance|, so negating the map "
              "changes nothing; ask for the least relevant ones (order=\"lerf\").":
              lambda context, model: _leak(context, model, least=False)}, atol=1e-9))
