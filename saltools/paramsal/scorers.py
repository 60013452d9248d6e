"""Scorers: how a query's raw filter statistic becomes a saliency score (higher = more salient).

``zscore`` (Levin et al.), ``pot`` (peaks over threshold with a GPD tail per filter, Wang & Sato),
``exponential`` (the same with the shape fixed at 0, what the published POT code effectively fits),
``random`` (the baseline every scorer must beat) and ``last_stage_raw`` (Wang & Sato's heuristic).
Each takes fitted reference statistics (a ``ParameterSaliency``) and values [N, F].
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np
import pandas as pd
import scipy.stats as ss
import torch

from .. import evt
from ..parameters import CALLABLE, NON_NEGATIVE, TEXT, Choice, Either, Number, checked, checked_fields

#: reference images below which ``fit`` warns: mean and std per filter are poorly estimated
MIN_REFERENCE = 30


class DegenerateStatisticsWarning(RuntimeWarning):
    """Statistics that can be computed but are not to be trusted: too few reference images or excesses,
    non-finite query values."""


class ReferenceStatistics(Protocol):
    """What a scorer reads from fitted reference statistics (a ``paramsal.ParameterSaliency``)."""

    n_: int
    mean_: torch.Tensor
    std_: torch.Tensor
    tail_: torch.Tensor
    sample_: torch.Tensor
    index_: pd.DataFrame
    seed: int

    @checked()
    def tail_fit(self, quantile: float = 0.9, exponential: bool = False) -> "TailFit": ...

    @checked(scorer=Either((TEXT, CALLABLE)))
    def score(self, values: torch.Tensor, scorer="zscore") -> torch.Tensor: ...


def zscore(stats: ReferenceStatistics, values: torch.Tensor) -> torch.Tensor:
    """``(s - mean) / std`` per filter; a std <= 1e-14 (a filter constant over the reference set) counts as 1
    (as the original code). ValueError for fewer than 2 reference images (no std at all)."""
    if stats.n_ < 2:
        raise ValueError(f"the z-score needs at least 2 reference images (a standard deviation); these "
                         f"statistics have {stats.n_}")
    std = stats.std_.clone()
    std[std <= 1e-14] = 1.0
    return ((values.double() - stats.mean_) / std).float()


@checked_fields(log_rate=Number(), n_excesses=NON_NEGATIVE)
@dataclass(frozen=True)
class TailFit:
    """Per-filter peaks-over-threshold model: threshold, GPD shape and scale, log of P(S > threshold)."""

    quantile: float
    threshold: np.ndarray
    shape: np.ndarray
    scale: np.ndarray
    log_rate: float
    n_excesses: int

    @classmethod
    @checked()
    def from_stats(cls, stats: ReferenceStatistics, quantile: float, exponential: bool = False) -> "TailFit":
        if not 0 < quantile < 1:
            raise ValueError(f"quantile must lie in (0, 1); got {quantile}")
        k = int(np.floor((1 - quantile) * stats.n_ + 1e-9))
        if k > len(stats.tail_) - 1:
            warnings.warn(f"the {quantile} quantile needs {k} tail values per filter but only "
                          f"{len(stats.tail_) - 1} were kept (max_tail); using a higher threshold",
                          RuntimeWarning, stacklevel=3)
            k = len(stats.tail_) - 1
        if k < 1:
            raise ValueError(f"{stats.n_} reference images leave no excesses above the {quantile} quantile")
        tail = stats.tail_.double().numpy()
        threshold = tail[k]
        excesses = (tail[:k] - threshold).T                       # [F, k]
        if exponential:
            shape, scale = np.zeros(len(threshold)), excesses.mean(1)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)      # counted and reported below
                shape, scale = evt.fit_gpd(excesses)
            _warn_fallbacks(excesses, stats.n_, quantile)
        return cls(quantile, threshold, shape, scale, float(np.log(k / stats.n_)), k)

    def log_tail_probability(self, values: torch.Tensor, sample: torch.Tensor) -> torch.Tensor:
        """log P(S >= s) per value [N, F]: GPD tail above the threshold (log space; 0 beyond a negative
        shape's endpoint gives -inf), empirical tail of the reservoir sample below it."""
        v = values.double().numpy()
        above = v > self.threshold
        with np.errstate(divide="ignore", invalid="ignore"):
            live = self.scale > 0                                # a filter constant in the reference has none
            excess = np.where(above, v - self.threshold, 0.0)    # below the threshold (or NaN) the GPD is not used
            gpd = self.log_rate + evt.gpd_log_sf(excess, self.shape, np.where(live, self.scale, 1.0))
            gpd = np.where(live, gpd, -np.inf)
        ordered = torch.sort(sample.double().T.contiguous(), dim=1).values          # [F, S]
        below_count = torch.searchsorted(ordered, values.double().T.contiguous(), side="left")   # [F, N]
        at_least = (ordered.shape[1] - below_count).T.numpy()
        empirical = np.log((at_least + 1) / (ordered.shape[1] + 1))
        return torch.from_numpy(np.where(above, gpd, empirical))


def _warn_fallbacks(excesses: np.ndarray, n: int, quantile: float) -> None:
    """Warn, with the numbers, when live filters (not constant in their tail) get the exponential fallback
    of ``evt.fit_gpd`` because too few excesses lie above the threshold."""
    live = excesses.max(1) > 0
    fell_back = live & ~evt.gpd_fittable(excesses)
    if fell_back.any():
        warnings.warn(f"POT at the {quantile} quantile of {n} reference images keeps {excesses.shape[1]} excesses "
                      f"per filter (a GPD fit needs {evt.MIN_EXCESSES}): {int(fell_back.sum())} of {int(live.sum())} "
                      f"live filters fell back to an exponential tail ({int((~live).sum())} constant filters "
                      f"also do); use more reference images or a lower quantile", DegenerateStatisticsWarning,
                      stacklevel=4)


@checked()
def pot(stats: ReferenceStatistics, values: torch.Tensor, quantile: float = 0.9) -> torch.Tensor:
    """Peaks-over-threshold saliency (Wang & Sato): ``-log P(S_j >= s_j)`` from a GPD fitted per filter
    to the reference values above its ``quantile``; +inf beyond a negative shape's endpoint."""
    fit = stats.tail_fit(quantile)
    return (-fit.log_tail_probability(values, stats.sample_)).float()


@checked()
def exponential_tail(stats: ReferenceStatistics, values: torch.Tensor, quantile: float = 0.9) -> torch.Tensor:
    """Like ``pot`` with the GPD shape fixed at 0 (an exponential tail): what the published code's
    fitting effectively returned on heavy-tailed data."""
    fit = stats.tail_fit(quantile, exponential=True)
    return (-fit.log_tail_probability(values, stats.sample_)).float()


def random_scores(stats: ReferenceStatistics, values: torch.Tensor) -> torch.Tensor:
    """A random ranking (seeded by the statistics' seed): the baseline every scorer must beat."""
    generator = torch.Generator().manual_seed(stats.seed)
    return torch.rand(values.shape, generator=generator)


def last_stage_raw(stats: ReferenceStatistics, values: torch.Tensor) -> torch.Tensor:
    """The "largest raw statistic in the last stage" heuristic: last-stage filters ordered by their raw
    value, all other filters after them (Wang & Sato's strongest baseline)."""
    index = stats.index_
    last = torch.tensor((index.stage == index.stage.iloc[-1]).to_numpy())
    return torch.where(last, values.float(), torch.full_like(values.float(), -torch.inf))


SCORERS: dict[str, Callable[[ReferenceStatistics, torch.Tensor], torch.Tensor]] = {
    "zscore": zscore, "pot": pot, "exponential": exponential_tail, "random": random_scores,
    "last_stage_raw": last_stage_raw}
#: the kind of a ``scorer`` argument: a name in ``SCORERS`` or a function (stats, values) -> scores
SCORER = Either((Choice(SCORERS), CALLABLE))


def resolve_scorer(scorer) -> Callable:
    """The scorer function for a name in ``SCORERS``, or the callable itself."""
    if callable(scorer):
        return scorer
    if scorer not in SCORERS:
        raise ValueError(f"unknown scorer {scorer!r}; expected one of {sorted(SCORERS)} or a callable")
    return SCORERS[scorer]


@checked(first=SCORER, second=SCORER)
def scorer_agreement(stats: ReferenceStatistics, values: torch.Tensor, first="zscore", second="pot",
                     k: int = 20) -> pd.DataFrame:
    """Per image: Spearman correlation of two scorers' scores and the overlap of their top-k sets."""
    a, b = stats.score(values, first).double(), stats.score(values, second).double()
    rows = []
    for n in range(len(values)):
        finite = torch.isfinite(a[n]) & torch.isfinite(b[n])
        rho = ss.spearmanr(a[n][finite].numpy(), b[n][finite].numpy()).statistic
        top_a = set(torch.argsort(a[n], descending=True)[:k].tolist())
        top_b = set(torch.argsort(b[n], descending=True)[:k].tolist())
        rows.append({"image": n, "spearman": rho, "overlap": len(top_a & top_b) / k, "k": k})
    return pd.DataFrame(rows)
