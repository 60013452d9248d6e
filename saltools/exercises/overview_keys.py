"""The answer keys of the overview pages' exercises: the setup chapter (0) and the scoreboard (8). Each
recomputes the right answer from the objects the check cell passes and registers itself under the id its
check cell names."""
from __future__ import annotations

from .. import data, models
from ..claims.core import FAILS, HOLDS, INCONCLUSIVE
from ..claims.evaluation import evaluate
from .core import Exercise, register

ZEROING_CLAIM = "ch1.zeroing-salient-corrects-more-than-random"


# ----------------------------------------------------------------------------- chapter 0
def _accuracy(model, n, **colours):
    return models.accuracy(model, data.Shapes(n, split="test", **colours))


def _worst_corruption(table, severity):
    return str(table[table.severity == severity].sort_values("accuracy").corruption.iloc[0])


register(Exercise(
    "ch00.dark-accuracy", lambda model, n: _accuracy(model, n, object_color=0.0, background_color=0.5),
    "Chapter 5 explains these black objects; a model that still recognizes them is one whose maps are worth reading.",
    mistakes={"That is the accuracy on the ordinary test images; render them with object_color=0.0 and "
              "background_color=0.5.": lambda model, n: _accuracy(model, n)}))
register(Exercise(
    "ch00.last-stage-share", lambda index: float((index.stage == index.stage.iloc[-1]).mean()),
    "A ranking that ignores depth puts this share of its top filters in the last stage: chapter 4's yardstick.",
    mistakes={"That is the last stage's share of the conv *layers*; count filters (rows of the index).":
              lambda index: float((index.drop_duplicates("layer").stage == index.stage.iloc[-1]).mean())}))
register(Exercise(
    "ch00.worst-corruption", lambda table: _worst_corruption(table, 3),
    "The corruptions that hurt most are where chapter 4 finds the most mistakes to explain.",
    mistakes={"That is the worst corruption at severity 5; take severity 3.":
              lambda table: _worst_corruption(table, 5)}))


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


register(Exercise(
    "ch08.more-mistakes", lambda context, board: _width(context),
    "An interval of a mean narrows roughly with the square root of the number of mistakes.",
    mistakes={"That is the width on the scoreboard (the zoo's smaller budget); evaluate the claim on `wide`.":
              lambda context, board: _board_width(board)}))
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
