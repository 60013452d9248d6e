"""The answer keys of the overview pages' exercises: the setup chapter (0) and the scoreboard (8). Each
recomputes the right answer from the objects the check cell passes and registers itself under the id its
check cell names."""
from __future__ import annotations

import weakref

from .. import data, models
from ..claims.context import Context
from ..claims.core import FAILS, HOLDS, INCONCLUSIVE
from ..claims.evaluation import evaluate
from .core import Exercise, register

ZEROING_CLAIM = "ch1.zeroing-salient-corrects-more-than-random"


# ----------------------------------------------------------------------------- chapter 0
def _accuracy(model, n, **colours):
    return models.accuracy(model, data.Shapes(n, split="test", **colours))


def _dark_and_faint(model, n, swapped: bool = False):
    """Accuracy on black (0.0) and on faint (0.45) objects over a mid-grey (0.5) background."""
    def shown(obj):
        colours = dict(object_color=0.5, background_color=obj) if swapped else dict(object_color=obj,
                                                                                    background_color=0.5)
        return _accuracy(model, n, **colours)
    return {"black": shown(0.0), "faint": shown(0.45)}


def _dark_outcome(expected, model, n):
    return (f"{expected['black']:.1%} of the black objects and {expected['faint']:.1%} of the faint ones are "
            f"recognized ({_accuracy(model, n):.1%} of ordinary test images)")


def _at_severity(table, severity):
    rows = table[table.severity == severity]
    return {str(c): float(a) for c, a in zip(rows.corruption, rows.accuracy)}


register(Exercise(
    "ch00.dark-accuracy", _dark_and_faint,
    "A model that recognizes black objects is one whose maps of them chapter 5 can read; where faint objects "
    "fail, contrast with the background, not colour, is what limits it.",
    mistakes={"Those are the ordinary test images; render them with object_color=0.0 (or 0.45) and "
              "background_color=0.5.": lambda model, n: {"black": _accuracy(model, n), "faint": _accuracy(model, n)},
              "Object and background are swapped: the object's colour is object_color.":
              lambda model, n: _dark_and_faint(model, n, swapped=True)},
    outcome=_dark_outcome))
register(Exercise(
    "ch00.last-stage-share", lambda index: float((index.stage == index.stage.iloc[-1]).mean()),
    "A ranking that ignores depth puts this share of its top filters in the last stage: chapter 4's yardstick.",
    mistakes={"That is the last stage's share of the conv *layers*; count filters (rows of the index).":
              lambda index: float((index.drop_duplicates("layer").stage == index.stage.iloc[-1]).mean())}))
register(Exercise(
    "ch00.worst-corruption", lambda table: _at_severity(table, 3),
    "The corruptions that hurt most are where chapter 4 finds the most mistakes to explain; compare their order "
    "with severity 5's.",
    mistakes={"Those are the accuracies at severity 5; take severity 3.": lambda table: _at_severity(table, 5),
              "Those are means over every severity; keep the rows of severity 3.":
              lambda table: {str(c): float(a) for c, a in table.groupby("corruption").accuracy.mean().items()}}))


# ----------------------------------------------------------------------------- chapter 8 (the scoreboard)
def _width(context, claim=ZEROING_CLAIM):
    row = evaluate(context, ids=[claim]).iloc[0]
    return float(row.high - row.low)


def _board_width(board, model="shapes-resnet", claim=ZEROING_CLAIM):
    row = board[(board.model == model) & (board.claim == claim)].iloc[0]
    return float(row.high - row.low)


def _holding(board, everywhere: bool):
    holds = board.verdict.eq(HOLDS).groupby(board.claim).agg("all" if everywhere else "any")
    return set(holds[holds].index)


def _count_per_model(board, verdict):
    return board.verdict.eq(verdict).groupby(board.model).sum().astype(int).to_dict()


_WIDTHS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()     # model -> {(profile, n_repairs): width}


def _trusted_width(model, profile, n_repairs=100, claim=ZEROING_CLAIM):
    """The claim's interval width on a context the key builds itself (the student's objects are not trusted),
    computed once per model, profile and budget."""
    known = _WIDTHS.setdefault(model, {})
    if (repr(profile), n_repairs) not in known:
        context = Context.for_profile(model, profile, name="shapes-resnet", n_repairs=n_repairs)
        known[repr(profile), n_repairs] = _width(context, claim)
    return known[repr(profile), n_repairs]


register(Exercise(
    "ch08.more-mistakes", lambda model, profile, board: _trusted_width(model, profile),
    "An interval of a mean narrows roughly with the square root of the number of mistakes.",
    mistakes={"That is the width on the scoreboard (the zoo's smaller budget); evaluate the claim on `wide`.":
              lambda model, profile, board: _board_width(board),
              "That is half the width; the width is row.high - row.low.":
              lambda model, profile, board: _trusted_width(model, profile) / 2},
    outcome=lambda expected, model, profile, board: (f"width {expected:.3f} with up to 100 mistakes, "
                                                     f"{_board_width(board):.3f} on the scoreboard")))
register(Exercise(
    "ch08.holds-everywhere", lambda board: _holding(board, everywhere=True),
    "These claims are properties of the methods on Shapes, not of one network.",
    mistakes={"That set holds on *some* model; keep the claims that hold on every model.":
              lambda board: _holding(board, everywhere=False)}))
register(Exercise(
    "ch08.inconclusive", lambda board: _count_per_model(board, INCONCLUSIVE),
    "An inconclusive verdict is a question the data of that model cannot yet answer, not a failure of the claim.",
    mistakes={"Those are the counts of 'does not hold'; count 'inconclusive'.":
              lambda board: _count_per_model(board, FAILS)}))
