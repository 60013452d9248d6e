"""The parameter gate (issue 32): every numeric or categorical parameter of every public saltools callable has a
declared kind (``saltools.parameters``), found by introspecting the signatures, so a new parameter cannot be
forgotten; every value its kind refuses is refused by the real call with the parameter's name and what came;
every default passes its kind.
"""
from __future__ import annotations

import importlib
import inspect
import math
import pkgutil

import pytest

import saltools
from saltools import parameters
from saltools.parameters import REAL, TEXT, Choice, Each, Either, Integer, Number, Optional, checked


def public_callables():
    """(qualified name, the callable to call, the function whose signature it has) for every public function,
    class ``__init__`` and public method defined in a public saltools module."""
    for info in pkgutil.walk_packages(saltools.__path__, "saltools."):
        if any(part.startswith("_") for part in info.name.split(".")[1:]) or info.name == "saltools.parameters":
            continue                   # the kinds themselves: checked by the tests at the end of this file
        module = importlib.import_module(info.name)
        for name, obj in sorted(vars(module).items()):
            if name.startswith("_") or getattr(obj, "__module__", None) != info.name:
                continue
            if inspect.isfunction(obj):
                yield f"{info.name}.{name}", obj, obj
            elif inspect.isclass(obj):
                yield from _members(f"{info.name}.{name}", obj)


def _members(qualname, cls):
    for name, member in vars(cls).items():
        if name != "__init__" and name.startswith("_"):
            continue
        function = getattr(member, "__func__", member)
        if not inspect.isfunction(function):
            continue
        bound = isinstance(member, (classmethod, staticmethod))
        yield f"{qualname}.{name}", getattr(cls, name) if bound else function, function


def checkable(function) -> list[str]:
    return [p.name for p in inspect.signature(function).parameters.values()
            if p.name not in ("self", "cls") and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
            and parameters.is_checkable(p)]


CALLABLES = {name: (call, function) for name, call, function in public_callables()}
WITH_PARAMETERS = sorted(name for name, (_, function) in CALLABLES.items() if checkable(function))


def test_the_inventory_finds_the_public_surface():
    assert len(CALLABLES) > 300 and len(WITH_PARAMETERS) > 200
    assert {"saltools.perturb.occlusion", "saltools.profiles.Profile.__init__",
            "saltools.claims.context.Context.for_profile"} <= set(WITH_PARAMETERS)
    assert set(checkable(saltools.perturb.occlusion)) >= {"baseline", "window", "stride", "output", "chunk", "seed"}


@pytest.mark.parametrize("name", WITH_PARAMETERS)
def test_every_numeric_or_categorical_parameter_has_a_kind(name):
    function = CALLABLES[name][1]
    kinds = getattr(function, "parameter_kinds", {})
    assert set(checkable(function)) <= set(kinds), f"{name}: no kind for {set(checkable(function)) - set(kinds)}"


class Sentinel:
    """Stands for a required argument the test does not vary: no kind checks it, and the call never starts."""


def call_with(name: str, parameter: str, value):
    call, function = CALLABLES[name]
    kinds = function.parameter_kinds
    signature = inspect.signature(function)
    args, kwargs = [], {}
    for p in signature.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or (p.name == "cls" and call is not function):
            continue
        if p.name == "self" and call is function:
            args.append(Sentinel())
        elif p.name == parameter:
            kwargs[p.name] = value
        elif p.default is p.empty:
            kwargs[p.name] = kinds[p.name].example if p.name in kinds else Sentinel()
    if call is not function and "self" in signature.parameters:
        raise AssertionError(f"{name}: unexpected bound call")
    return call(*args, **kwargs)


def refused_cases():
    for name in WITH_PARAMETERS:
        kinds = getattr(CALLABLES[name][1], "parameter_kinds", {})
        for parameter, kind in kinds.items():
            for value in kind.refused:
                yield pytest.param(name, parameter, value, id=f"{name}({parameter}={value!r})")


@pytest.mark.parametrize("name, parameter, value", list(refused_cases()))
def test_a_refused_value_is_refused_by_the_call_naming_the_parameter(name, parameter, value):
    with pytest.raises((TypeError, ValueError)) as error:
        call_with(name, parameter, value)
    where = CALLABLES[name][1].__qualname__.removesuffix(".__init__")
    assert str(error.value).startswith(f"{where}: ") and parameter in str(error.value) and "; got " in str(
        error.value), str(error.value)


@pytest.mark.parametrize("name", WITH_PARAMETERS)
def test_every_default_passes_its_kind(name):
    function = CALLABLES[name][1]
    for p in inspect.signature(function).parameters.values():
        if p.name in getattr(function, "parameter_kinds", {}) and p.default is not p.empty:
            function.parameter_kinds[p.name].check(p.default, p.name)


# ----------------------------------------------------------------------------------------- the kinds themselves
@pytest.mark.parametrize("kind, good", [
    (Integer(low=1), [1, 7]), (Integer(0, 5), [0, 5]), (Number(0, 1, open="both"), [0.5, 1e-9]),
    (Number(0, open="low"), [1e-12, 3]), (Number(), [-1e300, 0]), (Choice(("a", "b")), ["b"]),
    (Each(Choice(("a", "b"))), [["a"], ("a", "b")]), (Each(Integer(low=1)), [[1, 2]]), (TEXT, ["", "x"]),
    (Optional(Integer(low=1)), [None, 1]), (REAL, [math.nan, -math.inf, 2]),
    (Either((Integer(low=1), Number(0, 1, open="both"))), [3, 0.25]),
])
def test_each_kind_accepts_its_values_and_refuses_its_refused(kind, good):
    for value in good:
        kind.check(value, "x")
    assert kind.refused, "a kind that refuses nothing cannot fail"
    for value in kind.refused:
        with pytest.raises((TypeError, ValueError), match="^x must|^every element of x must"):
            kind.check(value, "x")


def test_nan_and_infinity_are_refused_by_every_number_kind():
    for kind in (Number(), Number(0, 1), Number(0, open="low")):
        for value in (math.nan, math.inf, -math.inf):
            with pytest.raises(ValueError, match="finite|in \\["):
                kind.check(value, "x")


def test_a_checkable_parameter_without_a_kind_fails_at_definition():
    """The negative control of the inventory: a function with an unknown numeric parameter cannot be defined."""
    with pytest.raises(TypeError, match="parameter 'wobble' .* needs a kind"):
        @checked()
        def f(x, wobble: float = 0.5):
            return x
    with pytest.raises(TypeError, match="has no parameters \\['wobbel'\\]"):
        @checked(wobbel=Number())
        def g(x, wobble: float = 0.5):
            return x


def test_an_undecorated_function_is_caught_by_the_inventory():
    def h(images, window: int = 8):
        return images
    assert checkable(h) == ["window"] and not getattr(h, "parameter_kinds", {})


def test_only_passed_arguments_are_checked_and_good_values_pass_through():
    @checked(share=Number(0, 1))
    def removal(maps, share: float = 0.5, order: str = "morf"):
        return maps, share, order
    assert removal("m") == ("m", 0.5, "morf")
    assert removal("m", 1, order="lerf") == ("m", 1, "lerf")
    with pytest.raises(ValueError, match=r"order must be one of \['morf', 'lerf'\]; got 'least'"):
        removal("m", order="least")
