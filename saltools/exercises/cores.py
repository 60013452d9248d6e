"""Implement-the-core exercises: in each chapter the student writes the central computation as a function, and
``check(id, function)`` runs it on many random and edge-case inputs against saltools' own implementation
(property style), saying which case failed and how. Each core declares the common wrong implementations it
must reject (``mistakes``) and other correct ones it must accept (``routes``); ``tests/test_exercises.py``
proves both. Written by hand: no testing library grades a student's function with case-by-case feedback.
The chapters' cores are in ``core_keys`` (registered in ``CORES`` on import).
"""
from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from ..parameters import checked, checked_fields


Case = tuple[str, dict]


@checked_fields()
@dataclass(frozen=True)
class Core:
    """An implement-the-core exercise: ``reference(**inputs)`` is saltools' answer for each of ``cases(rng)``
    (named inputs); values compare within ``rtol`` / ``atol`` (NaN equals NaN, infinities must match)."""

    id: str
    reference: Callable[..., Any]
    cases: Callable[[np.random.Generator], list[Case]]
    explanation: str
    mistakes: dict[str, Callable[..., Any]] = field(default_factory=dict)
    routes: dict[str, Callable[..., Any]] = field(default_factory=dict)
    rtol: float = 1e-6
    atol: float = 1e-9


CORES: dict[str, Core] = {}


def add_once(registry: dict, item):
    """``item`` (with an ``id``) added to ``registry``; ValueError if the id is taken."""
    if item.id in registry:
        raise ValueError(f"exercise {item.id!r} is registered twice")
    registry[item.id] = item
    return item


def register_core(core: Core) -> Core:
    return add_once(CORES, core)


def _as_numbers(value) -> np.ndarray | None:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().double().numpy()
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return None


def _disagreement(got, want, rtol: float, atol: float) -> str | None:
    if isinstance(want, str):
        return None if isinstance(got, str) and got == want else f"expected {want!r}, got {got!r}"
    a, b = _as_numbers(got), _as_numbers(want)
    if a is None:
        return f"expected numbers, got {type(got).__name__}"
    if a.shape != b.shape:
        return f"expected shape {b.shape}, got {a.shape}"
    same = np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=True) | ((a == b) & np.isinf(b))
    if same.all():
        return None
    where = tuple(int(i) for i in np.unravel_index(int(np.argmin(same)), same.shape)) if same.ndim else ()
    return f"at {list(where) if where else 'the value'}: expected {b[where]:.6g}, got {a[where]:.6g}"


@checked()
def failures(core: Core, function: Callable, seed: int = 0, reference: Callable | None = None) -> list[str]:
    """The cases of ``core`` on which ``function`` differs from the reference (or from ``reference``) or raises,
    each named with how."""
    found = []
    for name, inputs in core.cases(np.random.default_rng(seed)):
        want = (reference or core.reference)(**copy.deepcopy(inputs))
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore", RuntimeWarning)    # edge cases warn (a zero std); the values count
                got = function(**copy.deepcopy(inputs))
        except Exception as error:                         # a student's bug is feedback, not a crash of the check
            found.append(f"{name}: raised {type(error).__name__}: {error}")
            continue
        if got is Ellipsis:
            return [GAP]
        problem = _disagreement(got, want, core.rtol, core.atol)
        if problem:
            found.append(f"{name}: {problem}")
    return found


GAP = "the function still returns `...`"


def grade(core: Core, function) -> tuple[bool, str]:
    """``(passed, message)`` for a student's ``function``: the explanation, or how many cases fail and the first
    one (and the declared mistake it matches, if any)."""
    if not callable(function):
        return False, f"expected a function (`def ...`), got {type(function).__name__}"
    found = failures(core, function)
    if not found:
        return True, core.explanation
    if found == [GAP]:
        return False, "Fill in the gaps marked `...` in the function first, then run this cell again."
    total = len(core.cases(np.random.default_rng(0)))
    matched = [hint for hint, mistake in core.mistakes.items() if not failures(core, function, reference=mistake)]
    hint = f" It behaves like a common mistake: {matched[0]}." if matched else ""
    return False, f"{len(found)} of {total} cases fail; the first: {found[0]}.{hint}"


def audit(core: Core) -> dict:
    """Whether the cases reject every declared mistake and accept every declared route."""
    return {"mistakes_rejected": {hint: bool(failures(core, m)) for hint, m in core.mistakes.items()},
            "routes_accepted": {name: not failures(core, route) for name, route in core.routes.items()}}
