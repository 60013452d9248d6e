"""What chapter 7's claims say about each remedy: it worked here, did not, or is undecided, with the verdicts
that decide it."""
from __future__ import annotations

import pandas as pd

from .core import FAILS, HOLDS

#: the methods chapter 7 smooths, and the key their claims' ids use
SMOOTHED = {"GuidedBackprop": "guided-backprop", "RectGrad": "rectgrad"}

#: per remedy: the claims that must hold for it to have worked here, and those whose holding says it did not
REMEDIES = {
    "SRG makes the ranking of the methods survive the substrate": (
        ["ch7.srg-makes-substrates-agree-more-than-morf", "ch7.srg-makes-substrates-agree-more-than-lerf",
         "ch7.srg-narrows-the-gap-to-reliability"], ["ch7.srg-substrates-disagree-beyond-reliability"]),
    "Substrates that stay closer to the data rank more consistently": (["ch7.closer-substrates-agree-more"], []),
    "ROAD's noisy linear imputation hides the outline of the removed pixels": (
        ["ch7.road-hides-the-outline", "ch7.road-leaks-less-than-black-on-attribution-masks"], []),
    "ROAD's score rewards only what a map knows of the model (passes the blur control)": (
        [], ["ch7.blurring-improves-road"]),
    **{f"Smooth MPRT makes {m} notice a randomized top layer (chapter 5's plain test)": (
        [], [f"ch7.{key}-ignores-the-top-layer-under-smooth-mprt", f"ch7.smoothing-keeps-the-{key}-verdict"])
       for m, key in SMOOTHED.items()},
}


def outcome(verdicts: dict, needed, against) -> str:
    """"worked", "did not work" or "undecided" from the ``verdicts`` (claim id -> verdict) of a remedy's
    claims: it worked when every needed claim holds and every claim against it does not."""
    if any(verdicts[c] == FAILS for c in needed) or any(verdicts[c] == HOLDS for c in against):
        return "did not work"
    if all(verdicts[c] == HOLDS for c in needed) and all(verdicts[c] == FAILS for c in against):
        return "worked"
    return "undecided"


def summary(table: pd.DataFrame) -> str:
    """Per remedy of ``REMEDIES``: whether it worked on the model of ``table`` (from ``claims.evaluate``),
    with the verdicts that decide it, as Markdown lines."""
    verdicts = dict(zip(table.claim, table.verdict))
    missing = sorted({c for needed, against in REMEDIES.values() for c in needed + against} - set(verdicts))
    if missing:
        raise ValueError(f"the table lacks the verdicts of {missing}; evaluate every chapter-7 claim first")
    lines = []
    for remedy, (needed, against) in REMEDIES.items():
        said = ", ".join(f"`{c}` {verdicts[c]}" for c in needed + against)
        lines.append(f"- **{outcome(verdicts, needed, against)} here**: {remedy} ({said}).")
    return "\n".join(lines)
