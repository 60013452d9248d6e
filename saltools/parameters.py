"""Parameter kinds and the ``checked`` decorator: every public numeric and categorical parameter of saltools is
declared with its kind, and a bad value is refused at the call, before any work, with the parameter's name,
what was expected and what came (``TypeError`` for the wrong type, ``ValueError`` for a value out of range,
NaN, or a name outside a fixed set).

    @checked(share=Number(0, 1), order=Choice(("morf", "lerf")))
    def removal_masks(maps, share: float, order: str = "morf"): ...

Parameters named in ``CONVENTIONS`` (``seed``, ``batch_size``, ``chunk``, ``k``, ...) and parameters annotated
``bool`` get their kind without being named. A parameter that is numeric or categorical (``is_checkable``) and
has no kind makes ``checked`` fail when the module is imported, so a new parameter cannot go unchecked;
``tests/test_parameter_gate.py`` finds every public callable by introspection and tries each kind's
``refused`` values on the real call. Only arguments the caller passes are checked (every default is tested to
pass its kind). Written by hand: validation libraries (pydantic's ``validate_call``, beartype) would also
coerce or check the tensors and models, and word their errors their own way. Imports nothing from saltools.
"""
from __future__ import annotations

import dataclasses
import functools
import inspect
import math
import numbers
import operator
from collections.abc import Callable, Sequence

import numpy as np


class Kind:
    """A kind of parameter: ``check(value, name)`` returns the value or raises; ``refused`` are values the
    kind must refuse (the gate test tries each on every parameter of this kind); ``example`` passes."""
    refused: tuple = ()
    example = None

    def words(self) -> str:
        raise NotImplementedError

    def check(self, value, name: str):
        raise NotImplementedError


def _type_error(name: str, expected: str, value) -> TypeError:
    return TypeError(f"{name} must be {expected}; got {type(value).__name__} {value!r}")


@dataclasses.dataclass(frozen=True)
class Integer(Kind):
    """An integer (not a bool; numpy integers and one-element integer tensors too) in [low, high]."""
    low: int | None = None
    high: int | None = None

    def words(self) -> str:
        if self.low == 1 and self.high is None:
            return "a positive integer"
        if self.low == 0 and self.high is None:
            return "a non-negative integer"
        return "an integer" + (f" from {self.low} to {self.high}" if self.high is not None else
                               f" >= {self.low}" if self.low is not None else "")

    def check(self, value, name):
        if isinstance(value, (bool, np.bool_)) or not hasattr(value, "__index__"):
            raise _type_error(name, self.words(), value)
        try:
            value = operator.index(value)                 # numpy and one-element integer tensors too
        except TypeError:
            raise _type_error(name, self.words(), value) from None
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            raise ValueError(f"{name} must be {self.words()}" + (" (>= 1)" if self.words() == "a positive integer"
                                                                  else "") + f"; got {value}")
        return value

    @property
    def refused(self):
        outside = ([self.low - 1] if self.low is not None else []) + ([self.high + 1] if self.high is not None else [])
        return (*outside, 2.5, True, "3")

    @property
    def example(self):
        return self.low if self.low is not None else 0


@dataclasses.dataclass(frozen=True)
class Number(Kind):
    """A finite real number (not a bool) between low and high; ``open`` says which ends are excluded:
    "both", "low", "high" or "neither"."""
    low: float = -math.inf
    high: float = math.inf
    open: str = "neither"

    def words(self) -> str:
        if math.isinf(self.low) and math.isinf(self.high):
            return "a finite number"
        if math.isinf(self.high):
            return f"a finite number {'>' if self.open in ('low', 'both') else '>='} {self.low:g}"
        if math.isinf(self.low):
            return f"a finite number {'<' if self.open in ('high', 'both') else '<='} {self.high:g}"
        left = "(" if self.open in ("low", "both") else "["
        right = ")" if self.open in ("high", "both") else "]"
        return f"a number in {left}{self.low:g}, {self.high:g}{right}"

    def contains(self, value: float) -> bool:
        above = value > self.low if self.open in ("low", "both") else value >= self.low
        below = value < self.high if self.open in ("high", "both") else value <= self.high
        return math.isfinite(value) and above and below

    def check(self, value, name):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            raise _type_error(name, self.words(), value)
        if not self.contains(float(value)):
            raise ValueError(f"{name} must be {self.words()}; got {value!r}")
        return value

    @property
    def refused(self):
        low_open, high_open = self.open in ("low", "both"), self.open in ("high", "both")
        outside = [self.low - 1, self.high + 1] + [self.low] * low_open + [self.high] * high_open
        return (*[v for v in outside if math.isfinite(v)], math.nan, math.inf, True, "0.5")

    @property
    def example(self):
        if math.isfinite(self.low) and math.isfinite(self.high):
            return (self.low + self.high) / 2
        return self.low + 1 if math.isfinite(self.low) else self.high - 1 if math.isfinite(self.high) else 0.0


@dataclasses.dataclass(frozen=True)
class OfType(Kind):
    """A value of one of ``types`` (a bool only if ``bool`` is among them): ``FLAG``, ``TEXT``, ``REAL``,
    ``CALLABLE``."""
    types: tuple
    description: str
    refused: tuple
    example: object

    def words(self) -> str:
        return self.description

    def check(self, value, name):
        if not isinstance(value, self.types) or (isinstance(value, (bool, np.bool_)) and bool not in self.types):
            raise _type_error(name, self.words(), value)
        return value


@dataclasses.dataclass(frozen=True)
class Choice(Kind):
    """One name from a set (a tuple, or a registry such as a dict, read at each call)."""
    options: tuple | dict

    def words(self) -> str:
        return f"one of {list(self.options)}"

    def check(self, value, name):
        if not isinstance(value, str):
            raise _type_error(name, self.words(), value)
        if value not in self.options:
            raise ValueError(f"{name} must be one of {list(self.options)}; got {value!r}")
        return value

    @property
    def refused(self):
        return ("no such option", 3)

    @property
    def example(self):
        return next(iter(self.options))


@dataclasses.dataclass(frozen=True)
class Each(Kind):
    """A non-empty sequence (not one string, whose letters would be iterated) of values of one kind."""
    kind: Kind

    def words(self) -> str:
        return f"a list or tuple of {self.kind.words()}s"

    def check(self, value, name):
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
            raise _type_error(name, self.words(), value)
        if not value:
            raise ValueError(f"{name} must hold at least one value; got {list(value)!r}")
        for element in value:
            self.kind.check(element, f"every element of {name}")
        return value

    @property
    def refused(self):
        return (self.kind.example, [], [self.kind.refused[0]])

    @property
    def example(self):
        return [self.kind.example]


@dataclasses.dataclass(frozen=True)
class Optional(Kind):
    """None, or a value of ``kind``."""
    kind: Kind

    def words(self) -> str:
        return f"{self.kind.words()} or None"

    def check(self, value, name):
        return None if value is None else self.kind.check(value, name)

    @property
    def refused(self):
        return self.kind.refused

    @property
    def example(self):
        return self.kind.example


@dataclasses.dataclass(frozen=True)
class Either(Kind):
    """A value of the first kind that accepts it (``k`` as a count or a share, a method name or a callable)."""
    kinds: tuple

    def words(self) -> str:
        return " or ".join(kind.words() for kind in self.kinds)

    def check(self, value, name):
        for kind in self.kinds:
            try:
                return kind.check(value, name)
            except ValueError:
                raise                                     # the first kind of the value's type words the error
            except TypeError:
                pass
        raise _type_error(name, self.words(), value)

    @property
    def refused(self):
        candidates = [v for kind in self.kinds for v in kind.refused]
        return tuple(v for v in candidates if all(_refuses(kind, v) for kind in self.kinds))

    @property
    def example(self):
        return self.kinds[0].example


def _refuses(kind: Kind, value) -> bool:
    try:
        kind.check(value, "x")
    except (TypeError, ValueError):
        return True
    return False


POSITIVE, NON_NEGATIVE = Integer(low=1), Integer(low=0)
PROBABILITY = Number(0, 1, open="both")
#: True or False (a string such as "no" would be truthy)
FLAG = OfType((bool, np.bool_), "True or False", ("no", 2), True)
#: any string: a title, a label, a column, or a name looked up (and refused with its options) further in
TEXT = OfType((str,), "a string", (3, b"bytes"), "text")
#: any real number, NaN and infinities included (an estimate that may be undefined)
REAL = OfType((numbers.Real,), "a real number", (True, "0.5", None), 0.0)
#: a function (of the signature the parameter's docstring gives)
CALLABLE = OfType((Callable,), "callable", (3,), print)
#: kinds by parameter name, used where a decorated function does not name the parameter's kind itself
CONVENTIONS: dict[str, Kind] = {
    **dict.fromkeys(("seed", "start", "tolerance", "smooth", "clutter"), NON_NEGATIVE),
    **dict.fromkeys((
        "batch_size", "chunk", "steps", "epochs", "n_masks", "n_segments", "resamples", "n_subsets", "max_tail",
        "sample_size", "grid", "iterations", "n_mistakes", "n_repairs", "n_images", "n_objects", "n_perturbed",
        "n_graded", "n_leak", "n_reference", "n_sweep", "n_photos", "rise_masks", "leak_images", "randomized",
        "splits", "pool", "n_train", "newton_steps", "n_faults", "k_max", "mistakes", "limit", "n_frames", "top_k",
        "n_sample", "n_query", "n_eval", "ncols", "window", "stride", "patch", "batch", "subset_size", "convs",
        "blocks", "head", "expand", "num_classes", "classes", "image_size", "photo_size", "k", "n", "top", "grain",
        "n_filters", "in_channels", "channels", "number", "n_options", "highlight"), POSITIVE),
    **dict.fromkeys(("alpha", "quantile", "power", "familywise", "p1", "train_share", "tail_quantile"), PROBABILITY),
    **dict.fromkeys(("lr", "sigma", "epsilon", "compactness", "boost"), Number(0, open="low")),
    **dict.fromkeys(("noise", "weight_decay", "rtol", "atol", "texture", "min_contrast"), Number(0)),
    **dict.fromkeys(("background", "space_background", "tint", "share"), Number(0, 1)),
    **dict.fromkeys(("factor", "brightness", "threshold", "level", "normal", "floor", "q"), Number()),
    "percentile": Number(0, 100),
    "size": Number(0, open="low"),
    "output": Choice(("logit", "probability")),
    "order": Choice(("morf", "lerf")),
    **dict.fromkeys((
        "name", "title", "suptitle", "label", "doc", "description", "statement", "explanation", "message", "reason",
        "unit", "id", "paper", "source", "paper_value", "control_note", "css_class", "summary", "alt", "who", "key",
        "file", "sha256", "expected_sha256", "url", "stream", "exercise", "claim", "column", "variant", "value",
        "reference", "y", "weights", "role", "way", "selection", "device", "model", "data"),
        TEXT),
}
#: annotations (without "| None") of the parameters that must have a kind
CHECKABLE_ANNOTATIONS = {"int", "float", "str", "bool", "int | float", "Sequence[str]", "Sequence[int]",
                         "Sequence[float]", "tuple[str, ...]", "tuple[int, ...]"}


def _annotation(parameter: inspect.Parameter) -> str:
    annotation = parameter.annotation
    return "" if annotation is parameter.empty else annotation if isinstance(annotation, str) else (
        inspect.formatannotation(annotation))


def is_checkable(parameter: inspect.Parameter) -> bool:
    """Whether a parameter is numeric or categorical: annotated as a number, a bool, a string or a sequence of
    them, or (without an annotation) defaulting to one."""
    annotation = _annotation(parameter)
    if annotation:
        parts = [p.strip() for p in annotation.split("|") if p.strip() != "None"]
        if " | ".join(parts) in CHECKABLE_ANNOTATIONS:
            return True
    default = parameter.default
    return default is not parameter.empty and default is not None and isinstance(default, (bool, int, float, str))


def _kind_for(parameter: inspect.Parameter, declared: dict) -> Kind | None:
    is_bool = _annotation(parameter) in ("bool", "bool | None") or isinstance(parameter.default, bool)
    kind = declared.get(parameter.name, FLAG if is_bool else CONVENTIONS.get(parameter.name))
    if kind is not None and (parameter.default is None or "None" in _annotation(parameter)):
        kind = kind if isinstance(kind, Optional) else Optional(kind)
    return kind


def kinds_of(function, **declared: Kind) -> dict[str, Kind]:
    """The kind of every checkable parameter of ``function``: as ``declared``, by convention, or ``FLAG`` for a
    bool. TypeError (at import) for a checkable parameter without a kind or a declared name it does not have."""
    parameters = inspect.signature(function).parameters
    unknown = set(declared) - set(parameters)
    if unknown:
        raise TypeError(f"{function.__qualname__} has no parameters {sorted(unknown)}")
    kinds = {}
    for parameter in parameters.values():
        if parameter.name in declared or is_checkable(parameter):
            kind = _kind_for(parameter, declared)
            if kind is None:
                raise TypeError(f"{function.__qualname__}: parameter {parameter.name!r} "
                                f"({parameter.annotation}) needs a kind in @checked(...)")
            kinds[parameter.name] = kind
    return kinds


def checked(**declared: Kind):
    """Decorator: check the arguments the caller passes against their kinds (``kinds_of``) before the call.
    The kinds are kept as ``function.parameter_kinds``."""
    def decorate(function):
        signature, kinds = inspect.signature(function), kinds_of(function, **declared)
        where = function.__qualname__.removesuffix(".__init__")

        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            arguments = signature.bind(*args, **kwargs).arguments
            for name, kind in kinds.items():
                if name in arguments:
                    try:
                        kind.check(arguments[name], name)
                    except (TypeError, ValueError) as error:
                        raise type(error)(f"{where}: {error}") from None
            return function(*args, **kwargs)
        wrapper.parameter_kinds = kinds
        return wrapper
    return decorate


def checked_fields(**declared: Kind):
    """Class decorator for a dataclass: its generated ``__init__`` (and so ``dataclasses.replace``) checked
    like ``checked``. Put it above ``@dataclass``."""
    def decorate(cls):
        cls.__init__ = checked(**declared)(cls.__init__)
        return cls
    return decorate
