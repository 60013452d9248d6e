"""Chapter 6's remedies since Brunke et al. as claims: does the symmetric relevance gain (SRG, Bluecher et
al. 2024) make the substrates agree on the ranking of the methods? Read from the deletion areas (MoRF and
LeRF) that the chapter's ``PerturbationContext`` computes anyway, so they cost nothing more."""
from __future__ import annotations

import warnings

import numpy as np

from ..metrics import kendall_tau
from .core import Claim, Evidence, Rule, resampled_interval
from .perturbation import PerturbationContext, split_half_agreement

BLUECHER = "Bluecher et al. 2024, TMLR"


def srg(context: PerturbationContext) -> np.ndarray:
    """SRG = LeRF deletion area - MoRF deletion area, as an array [substrate, method, image]."""
    return context.auc("deletion", "lerf") - context.auc("deletion", "morf")


def cross_substrate_agreement(quality: np.ndarray, images) -> float:
    """Mean Kendall tau between the method rankings (means over ``images``) of every pair of substrates."""
    means = quality[:, :, images].mean(2)                                   # [substrate, method]
    taus = kendall_tau(means[:, None], means[None])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)                     # constant rankings give NaN
        return float(np.nanmean(taus[~np.eye(len(means), dtype=bool)]))


def _srg_against(context, alone: str) -> Evidence:
    gain = srg(context)
    other = -context.auc("deletion", "morf") if alone == "morf" else context.auc("deletion", "lerf")
    return resampled_interval(lambda i: cross_substrate_agreement(gain, i) - cross_substrate_agreement(other, i),
                              gain.shape[2], "images", resamples=500)


def _srg_beyond_reliability(context) -> Evidence:
    within, between = split_half_agreement(srg(context))
    values = (within - between)[np.isfinite(within - between)]
    low, high = np.percentile(values, [2.5, 97.5])
    return Evidence(float(values.mean()), float(low), float(high), len(values), "random half splits")


def _claim(*args, **kwargs) -> Claim:
    return Claim(*args, context=PerturbationContext, paper="rankings by SRG are consistent across occlusion "
                 "strategies", source=BLUECHER, **kwargs)


CLAIMS = [
    _claim("ch6.srg-makes-substrates-agree-more-than-morf", 6,
           "Ranking the methods by SRG (LeRF minus MoRF deletion area) makes the substrates agree more than "
           "ranking them by MoRF deletion alone.",
           "mean Kendall tau across substrates, SRG - MoRF", Rule("above", 0.0),
           lambda context: _srg_against(context, "morf")),
    _claim("ch6.srg-makes-substrates-agree-more-than-lerf", 6,
           "Ranking the methods by SRG makes the substrates agree more than ranking them by LeRF deletion alone.",
           "mean Kendall tau across substrates, SRG - LeRF", Rule("above", 0.0),
           lambda context: _srg_against(context, "lerf")),
    _claim("ch6.srg-substrates-disagree-beyond-reliability", 6,
           "Even ranked by SRG, substrates disagree on the order of the methods more than one substrate "
           "disagrees with itself between halves of the images.",
           "split-half tau of SRG within substrates - across substrates", Rule("above", 0.0),
           _srg_beyond_reliability),
]

__all__ = ["CLAIMS", "cross_substrate_agreement", "srg"]
