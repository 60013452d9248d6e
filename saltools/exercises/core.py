"""Self-checking exercises for the book's chapters: ``check(exercise_id, answer, **given)`` compares a
student's answer with the answer key of that exercise, computed from the same objects (``given``), and
says what is wrong: a gap left open, the wrong type or shape, a value outside the tolerance, or a common
mistake with its hint. Written by hand (no notebook-grading library fits a pip-installed package used on
Colab); the chapters' student versions keep the check cells and drop the solutions.

    answer = ...                                   # the student's code fills the gap
    st.exercises.check("ch06.aopc-winner", answer, scores=scores)
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from numbers import Real
from typing import Any, Callable

import numpy as np
import torch

from ..parameters import checked, checked_fields
from ..profiles import building_book, scale
from . import cores
from .cores import CORES, add_once


@checked_fields()
@dataclass(frozen=True)
class Feedback:
    """The verdict on one answer: ``passed`` and a message (shown as Markdown in a notebook). ``audit`` (only
    while the book builds, for a passed answer): whether the check rejects each declared mistake and accepts
    each declared correct route on the chapter's data, stored in the output's metadata for the tests."""

    exercise: str
    passed: bool
    message: str
    audit: dict | None = None

    def __bool__(self) -> bool:
        return self.passed

    def _repr_markdown_(self):
        text = f"{'✅ **Correct.**' if self.passed else '❌ **Not yet.**'} {self.message}"
        return (text, {AUDIT_KEY: self.audit}) if self.audit is not None else text

    def __repr__(self) -> str:
        return f"{'Correct.' if self.passed else 'Not yet.'} {self.message}"


@checked_fields()
@dataclass(frozen=True)
class Exercise:
    """An answer key: ``expected(**given)`` gives the right answer; ``mistakes`` maps a hint to a function
    ``(**given) -> a common wrong answer`` (each must give a value the check rejects); ``routes`` maps a name to
    another correct way to the answer (another library's estimator, another order of operations; each must
    be accepted); numbers compare within ``rtol`` / ``atol``."""

    id: str
    expected: Callable[..., Any]
    explanation: str
    mistakes: dict[str, Callable[..., Any]] = field(default_factory=dict)
    rtol: float = 1e-4
    atol: float = 1e-8
    routes: dict[str, Callable[..., Any]] = field(default_factory=dict)
    outcome: Callable[..., str] | None = None       # a "predict first" exercise: (expected, **given) -> the result
                                                    # in words, shown beside the student's recorded prediction


#: where a passed check's audit goes in the output's metadata (``Feedback.audit``)
AUDIT_KEY = "saltools-exercise-audit"


EXERCISES: dict[str, Exercise] = {}


def register(exercise: Exercise) -> Exercise:
    return add_once(EXERCISES, exercise)


def _has_gap(answer) -> bool:
    if answer is Ellipsis or answer is None:
        return True
    if isinstance(answer, dict):
        return any(_has_gap(v) for v in answer.values())
    if isinstance(answer, (list, tuple)):
        return any(_has_gap(v) for v in answer)
    return False


def _as_array(value) -> np.ndarray | None:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().double().numpy()
    if isinstance(value, (np.ndarray, list, tuple)):
        try:
            return np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            return None
    return None


@checked()
def difference(answer, expected, rtol: float = 1e-4, atol: float = 1e-8) -> str | None:
    """Why ``answer`` is not ``expected`` (None when it is): type, keys, shape or value, recursively."""
    if isinstance(expected, (bool, np.bool_)):
        if not isinstance(answer, (bool, np.bool_)):
            return f"expected True or False, got {type(answer).__name__}"
        return None if bool(answer) == bool(expected) else "the truth value is the other one"
    if isinstance(expected, str):
        if not isinstance(answer, str):
            return f"expected a name (a string), got {type(answer).__name__}"
        return None if answer.strip().lower() == expected.strip().lower() else f"{answer!r} is not the one"
    if isinstance(expected, dict):
        if not isinstance(answer, dict):
            return f"expected a dict with keys {sorted(expected)}, got {type(answer).__name__}"
        if set(answer) != set(expected):
            return f"expected the keys {sorted(expected)}, got {sorted(answer)}"
        problems = [f"[{k!r}]: {p}" for k in expected if (p := difference(answer[k], expected[k], rtol, atol))]
        return "; ".join(problems) or None
    if isinstance(expected, (set, frozenset)):
        if not isinstance(answer, (set, frozenset, list, tuple)):
            return f"expected a set (or list) of {len(expected)} names, got {type(answer).__name__}"
        return None if set(answer) == set(expected) else "the set is not the right one"
    if isinstance(expected, Real) or (isinstance(expected, torch.Tensor) and expected.ndim == 0):
        single = isinstance(answer, (torch.Tensor, np.ndarray)) and np.asarray(_as_array(answer)).size == 1
        value = answer.item() if single else answer
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, Real):
            return f"expected a number, got {type(answer).__name__}"
        close = np.isclose(float(value), float(expected), rtol=rtol, atol=atol, equal_nan=True)   # NaN is NaN
        return None if close else f"{float(value):.6g} is not the value (tolerance {rtol:g} relative)"
    want, got = _as_array(expected), _as_array(answer)
    if want is None:
        return None if answer == expected else "not the expected value"
    if got is None:
        return f"expected an array of shape {tuple(want.shape)}, got {type(answer).__name__}"
    if got.shape != want.shape:
        return f"expected shape {tuple(want.shape)}, got {tuple(got.shape)}"
    return None if np.allclose(got, want, rtol=rtol, atol=atol, equal_nan=True) else "the values differ"


@checked()
def check(exercise: str, answer, prediction=None, **given) -> Feedback:
    """Check ``answer`` to ``exercise`` (an id of ``EXERCISES``), the key computed from ``given``. A "predict
    first" exercise needs the ``prediction`` written down before the answer, and shows it beside the result. An
    implement-the-core exercise (an id of ``cores.CORES``) takes the student's function as ``answer`` and runs it
    on many random and edge cases against saltools."""
    if exercise in CORES:
        passed, message = cores.grade(CORES[exercise], answer)
        return Feedback(exercise, passed, message, cores.audit(CORES[exercise]) if passed and _auditing() else None)
    if exercise not in EXERCISES:
        raise ValueError(f"unknown exercise {exercise!r}; expected one of {sorted(EXERCISES) + sorted(CORES)}")
    key = EXERCISES[exercise]
    if key.outcome is not None and (_has_gap(prediction) or not str(prediction).strip()):
        return Feedback(exercise, False, "Write down your prediction first (`prediction = ...`, in a few words), "
                                         "then run this cell again.")
    if _has_gap(answer):
        return Feedback(exercise, False, "Fill in the gaps marked `...` first, then run this cell again.")
    expected = _key(exercise, key, given)
    problem = difference(answer, expected, key.rtol, key.atol)
    if problem is None:
        message = key.explanation
        if key.outcome is not None:
            message = f"You predicted: *{prediction}*. The result: {key.outcome(expected, **given)}. {message}"
        return Feedback(exercise, True, message, audit(key, expected, given) if _auditing() else None)
    for hint, mistake in key.mistakes.items():
        if difference(answer, mistake(**given), key.rtol, key.atol) is None:
            return Feedback(exercise, False, hint)
    return Feedback(exercise, False, f"{problem[0].upper()}{problem[1:]}.")


def _key(exercise: str, key, given: dict):
    """The exercise's key from the chapter's objects ``given``; a TypeError naming what it needs if they are not."""
    try:
        return key.expected(**given)
    except (AttributeError, TypeError) as error:
        needs = ", ".join(inspect.signature(key.expected).parameters)
        got = ", ".join(f"{name}={type(value).__name__}" for name, value in given.items()) or "nothing"
        raise TypeError(f"check({exercise!r}, ...) computes its key from the chapter's {needs}; got {got} "
                        f"({type(error).__name__}: {error})") from error


def _auditing() -> bool:
    """Audit passed checks while the book builds at its own scale (the smoke scale of CI's full-profile run
    only shrinks the work; auditing there would multiply it)."""
    return building_book() and scale() == "default"


def audit(key: Exercise, expected, given: dict) -> dict:
    """On ``given`` (a chapter's data): for each declared mistake, whether the check rejects it, and for each
    declared route, whether the check accepts it. A mistake that equals the key there cannot be told from
    understanding, and a correct route refused would fail a student who was right."""
    return {"mistakes_rejected": {hint: difference(mistake(**given), expected, key.rtol, key.atol) is not None
                                  for hint, mistake in key.mistakes.items()},
            "routes_accepted": {name: difference(route(**given), expected, key.rtol, key.atol) is None
                                for name, route in key.routes.items()}}


__all__ = ["AUDIT_KEY", "EXERCISES", "audit", "Exercise", "Feedback", "check", "difference", "register"]
