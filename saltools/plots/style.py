"""How every saltools figure is drawn: colours that survive colour-vision deficiency, and a text alternative.

``CATEGORICAL`` is Okabe and Ito's palette (blue and vermillion first, yellow last: it is faint on white);
``VERDICT_COLORS`` pairs sky blue (holds) with orange (does not hold) and two greys, each light enough for
black text; stages are ordered, so they take ``STAGE_PALETTE`` (viridis). ``tests/test_accessibility.py``
simulates protanopia, deuteranopia and tritanopia (Machado et al., 2009, via colorspacious) and requires every
pair of colours in each palette to differ by at least ``MIN_CVD_DIFFERENCE`` (CIEDE2000) under each.
``accessible`` draws a plotting function's figure with ``CATEGORICAL`` as the colour cycle (seaborn's default
``hue`` colours included) and attaches its docstring's first sentence to the figure's text alternative.
"""
from __future__ import annotations

import contextlib
import functools
import inspect
import re

import matplotlib.pyplot as plt
from cycler import cycler

from .alt import with_summary

CATEGORICAL = ("#0072B2", "#D55E00", "#009E73", "#E69F00", "#56B4E9", "#CC79A7", "#000000", "#F0E442")
VERDICT_COLORS = {"holds": "#56B4E9", "inconclusive": "#b3b3b3", "does not hold": "#E69F00",
                  "not evaluated": "#ececec"}
#: a symbol per verdict, drawn beside its colour so that colour never carries the verdict alone
VERDICT_MARKS = {"holds": "\u2713", "inconclusive": "?", "does not hold": "\u2717", "not evaluated": "\u2013"}
VERDICT_HATCHES = {"holds": "", "inconclusive": "..", "does not hold": "//", "not evaluated": ""}
STAGE_PALETTE = "viridis"
#: the colours of the classes in a prediction: the true label, the top class when it is wrong, the others
PREDICTION_COLORS = {"label": CATEGORICAL[0], "wrong": CATEGORICAL[1], "other": "#999999"}
#: the smallest CIEDE2000 difference between two colours of a palette, under each simulated deficiency
MIN_CVD_DIFFERENCE = 10.0


def first_sentence(function) -> str:
    """The first sentence of ``function``'s docstring, without reST markup: what its figure shows."""
    doc = " ".join((inspect.getdoc(function) or function.__name__).split("\n\n")[0].split())
    doc = re.sub(r"``([^`]*)``", r"\1", doc)
    match = re.match(r"(.+?)[.;](\s|$)", doc)
    return (match.group(1) if match else doc.rstrip(".")) + "."


def accessible(function):
    """Decorator for a function returning a Figure: draw it with the ``CATEGORICAL`` colour cycle and
    attach ``first_sentence`` of its docstring (if it has one) as the summary of its text alternative."""
    summary = first_sentence(function) if inspect.getdoc(function) else ""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with categorical_colours():
            figure = function(*args, **kwargs)
        return with_summary(figure, summary) if summary and isinstance(figure, plt.Figure) else figure
    return wrapper


@contextlib.contextmanager
def categorical_colours():
    """``CATEGORICAL`` as matplotlib's colour cycle while the block runs, and only that: ``plt.rc_context`` would
    also restore ``interactive``, which Jupyter's inline backend turns on when the first figure is drawn (every
    later figure would then go undisplayed)."""
    before = plt.rcParams["axes.prop_cycle"]
    plt.rcParams["axes.prop_cycle"] = cycler(color=list(CATEGORICAL))
    try:
        yield
    finally:
        plt.rcParams["axes.prop_cycle"] = before
