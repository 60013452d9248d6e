"""Claims as code: a statement of fact, the evidence computed for it, and a verdict by a fixed rule.

A ``Claim`` carries the paper's wording and source (where it comes from a paper), the testable
version the book states, a function from a ``Context`` (model, data, profile) to ``Evidence`` (an
effect size with a 95% interval), and a ``Rule`` fixed in advance that turns the interval into
"holds", "does not hold" or "inconclusive". Intervals come from ``scipy.stats.bootstrap`` over the
honest unit (query images, filters) or from Wilson intervals for proportions (statsmodels).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import scipy.stats as ss
from statsmodels.stats.proportion import proportion_confint

from ..parameters import NON_NEGATIVE, REAL, TEXT, Choice, Integer, checked, checked_fields

HOLDS, FAILS, INCONCLUSIVE = "holds", "does not hold", "inconclusive"
#: a claim that cannot be evaluated on a context (``ClaimRefused``): the row says why
NOT_EVALUATED = "not evaluated"
VERDICTS = (HOLDS, FAILS, INCONCLUSIVE, NOT_EVALUATED)
CONFIDENCE = 0.95


class ClaimRefused(ValueError):
    """A claim that cannot be evaluated on a context (a model with one stage for a depth claim, data
    without masks, ...): the message says why and what would make it evaluable."""


@checked_fields(effect=REAL, low=REAL, high=REAL, n=NON_NEGATIVE)
@dataclass(frozen=True)
class Evidence:
    """An effect size with its 95% interval, over ``n`` units (images, filters, ...)."""

    effect: float
    low: float
    high: float
    n: int
    unit: str
    details: dict = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.effect:.3g} [{self.low:.3g}, {self.high:.3g}] (n = {self.n} {self.unit})"


@checked_fields(kind=Choice(("above", "below", "within")))
@dataclass(frozen=True)
class Rule:
    """A verdict rule on the interval, fixed before any data is seen.

    ``above``: holds when the whole interval lies above ``threshold``, does not hold when it lies
    wholly below (or at) it. ``below``: the mirror image. ``within``: holds when the interval lies
    inside ``[-threshold, threshold]`` (an equivalence test), does not hold when it lies wholly
    outside. Anything else is inconclusive.
    """

    kind: str
    threshold: float = 0.0

    def verdict(self, evidence: Evidence) -> str:
        low, high, t = evidence.low, evidence.high, self.threshold
        if not (np.isfinite(low) and np.isfinite(high)):
            return INCONCLUSIVE
        if self.kind == "above":
            return HOLDS if low > t else FAILS if high <= t else INCONCLUSIVE
        if self.kind == "below":
            return HOLDS if high < t else FAILS if low >= t else INCONCLUSIVE
        return HOLDS if -t < low and high < t else FAILS if high < -t or low > t else INCONCLUSIVE

    def __str__(self) -> str:
        words = {"above": "the 95% interval lies above", "below": "the 95% interval lies below",
                 "within": "the 95% interval lies within +-"}
        return f"holds when {words[self.kind]} {self.threshold:g}; does not hold when it lies wholly on the other side"


@checked_fields(chapter=Integer(0, 8), effect=TEXT)
@dataclass(frozen=True)
class Claim:
    """One statement of fact of the book, testable on any model the evidence function accepts."""

    id: str
    chapter: int
    statement: str
    effect: str
    rule: Rule
    evidence: Callable
    paper: str | None = None
    source: str | None = None
    paper_value: str | None = None
    context: type = object
    control: Callable | None = None
    control_note: str = ""
    exploratory: bool = False

    def applies_to(self, context) -> bool:
        """Whether ``context`` is the kind of context this claim's evidence function reads."""
        return isinstance(context, self.context)

    def evaluate(self, context) -> dict:
        """One tidy row: the claim, its evidence and its verdict on ``context``."""
        return self._row(self.evidence(context))

    def evaluate_control(self, context) -> dict:
        """The row of the claim's negative control on ``context``: the same rule on evidence built so that
        the claim is false by construction (``control_note`` says how); its verdict must not be "holds"."""
        if self.control is None:
            raise ValueError(f"claim {self.id} has no negative control")
        return dict(self._row(self.control(context)), control=self.control_note)

    @checked()
    def refused(self, reason: str) -> dict:
        """The row of a claim that could not be evaluated: verdict "not evaluated" and the ``reason``."""
        return dict(self._row(Evidence(np.nan, np.nan, np.nan, 0, "")), verdict=NOT_EVALUATED, reason=reason)

    def _row(self, evidence: Evidence) -> dict:
        return {"claim": self.id, "chapter": self.chapter, "statement": self.statement, "effect_name": self.effect,
                "effect": evidence.effect, "low": evidence.low, "high": evidence.high, "n": evidence.n,
                "unit": evidence.unit, "verdict": self.rule.verdict(evidence), "rule": str(self.rule),
                "rule_kind": self.rule.kind, "rule_threshold": self.rule.threshold,
                "paper_value": self.paper_value, "exploratory": self.exploratory}


@checked()
def mean_interval(values, unit: str, seed: int = 0, **details) -> Evidence:
    """The mean of ``values`` with a percentile-bootstrap 95% interval (2,000 resamples)."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if len(x) < 2:
        return Evidence(float(x.mean()) if len(x) else np.nan, np.nan, np.nan, len(x), unit, details)
    if np.ptp(x) == 0:
        return Evidence(float(x[0]), float(x[0]), float(x[0]), len(x), unit, details)
    ci = ss.bootstrap((x,), np.mean, n_resamples=2000, confidence_level=CONFIDENCE, method="percentile",
                      random_state=seed).confidence_interval
    return Evidence(float(x.mean()), float(ci.low), float(ci.high), len(x), unit, details)


@checked()
def statistic_interval(values, statistic: Callable, unit: str, seed: int = 0, **details) -> Evidence:
    """Any vectorizable ``statistic(x, axis)`` of ``values`` with a percentile-bootstrap 95% interval."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if len(x) < 2:
        return Evidence(np.nan, np.nan, np.nan, len(x), unit, details)
    ci = ss.bootstrap((x,), statistic, n_resamples=2000, confidence_level=CONFIDENCE, method="percentile",
                      random_state=seed).confidence_interval
    return Evidence(float(statistic(x, axis=-1)), float(ci.low), float(ci.high), len(x), unit, details)


@checked()
def difference_interval(first, second, unit: str, seed: int = 0, **details) -> Evidence:
    """mean(first) - mean(second) for two independent samples, percentile-bootstrap 95% interval."""
    a, b = (np.asarray(v, dtype=float) for v in (first, second))
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if min(len(a), len(b)) < 2:
        return Evidence(np.nan, np.nan, np.nan, len(a) + len(b), unit, details)
    ci = ss.bootstrap((a, b), lambda x, y, axis: x.mean(axis) - y.mean(axis), n_resamples=2000,
                      confidence_level=CONFIDENCE, method="percentile", random_state=seed).confidence_interval
    return Evidence(float(a.mean() - b.mean()), float(ci.low), float(ci.high), len(a) + len(b), unit, details)


@checked(successes=NON_NEGATIVE, total=NON_NEGATIVE)
def proportion_interval(successes: int, total: int, unit: str, **details) -> Evidence:
    """A proportion with its Wilson 95% interval."""
    if total == 0:
        return Evidence(np.nan, np.nan, np.nan, 0, unit, details)
    low, high = proportion_confint(int(successes), int(total), alpha=1 - CONFIDENCE, method="wilson")
    share = successes / total           # Wilson's bounds at 0 or 1 successes can miss the share by rounding
    return Evidence(share, float(min(low, share)), float(max(high, share)), int(total), unit, details)


@checked(n=NON_NEGATIVE)
def resampled_interval(statistic: Callable, n: int, unit: str, seed: int = 0, resamples: int = 1000,
                       **details) -> Evidence:
    """``statistic(indices)`` of the ``n`` units, with a percentile-bootstrap 95% interval from
    resampling the units with replacement (for statistics of whole tables: rankings, agreement)."""
    if n < 2:
        return Evidence(np.nan, np.nan, np.nan, n, unit, details)
    rng = np.random.default_rng(seed)
    values = np.array([statistic(rng.integers(0, n, n)) for _ in range(resamples)], dtype=float)
    values = values[np.isfinite(values)]
    low, high = np.percentile(values, [2.5, 97.5]) if len(values) else (np.nan, np.nan)
    return Evidence(float(statistic(np.arange(n))), float(low), float(high), n, unit, details)


@checked(n=NON_NEGATIVE)
def spread_interval(values, n: int, unit: str, **details) -> Evidence:
    """The mean of ``values`` (one per random split of the ``n`` units, e.g. half splits of the images), with
    the 2.5-97.5 percentile spread of the values themselves as the interval (not a bootstrap of their
    mean); n is the units split, and ``details["splits"]`` how many splits the values come from."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if not len(values):
        return Evidence(np.nan, np.nan, np.nan, n, unit, details)
    low, high = np.percentile(values, [2.5, 97.5])
    return Evidence(float(values.mean()), float(low), float(high), n, unit, {"splits": len(values), **details})


@checked(n=NON_NEGATIVE)
def largest_of(estimates, lows, highs, unit: str, n: int, **details) -> Evidence:
    """The largest of several effects, with a valid 95% interval for it: each effect's interval must be
    simultaneous at 95% (Bonferroni, e.g. each at 1 - 0.05 / m); then [max of the lows, max of the
    highs] covers the largest true effect whenever every interval covers its own, and it always
    contains the largest estimate (unlike a percentile bootstrap of a maximum)."""
    estimates, lows, highs = (np.asarray(v, dtype=float) for v in (estimates, lows, highs))
    if not len(estimates) or not np.isfinite(estimates).any():
        return Evidence(np.nan, np.nan, np.nan, n, unit, details)
    return Evidence(float(np.nanmax(estimates)), float(np.nanmax(lows)), float(np.nanmax(highs)), n, unit,
                    {**details, "components": len(estimates)})


@checked(n=NON_NEGATIVE)
def largest_resampled(statistic: Callable, n: int, unit: str, seed: int = 0, resamples: int = 2000,
                      **details) -> Evidence:
    """The largest component of ``statistic(indices)`` (a vector of m effects of the ``n`` units), with
    percentile-bootstrap intervals per component at the Bonferroni level 1 - 0.05 / m, combined by
    ``largest_of``."""
    if n < 2:
        return Evidence(np.nan, np.nan, np.nan, n, unit, details)
    rng = np.random.default_rng(seed)
    boot = np.array([statistic(rng.integers(0, n, n)) for _ in range(resamples)], dtype=float)   # [resample, m]
    alpha = (1 - CONFIDENCE) / boot.shape[1]
    with np.errstate(all="ignore"):
        lows, highs = np.nanpercentile(boot, [100 * alpha / 2, 100 * (1 - alpha / 2)], axis=0)
    return largest_of(statistic(np.arange(n)), lows, highs, unit, n, **details)


def fingerprint(settings, model, *tensors) -> str:
    """A hash of a context's ``settings`` (by ``repr``), its ``model``'s weights and its data ``tensors``:
    two contexts with equal fingerprints give the same verdicts."""
    digest = hashlib.sha256(repr(settings).encode())
    for tensor in [*model.state_dict().values(), *tensors]:
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()
