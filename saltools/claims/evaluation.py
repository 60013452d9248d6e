"""Evaluating claims: the registry of every claim, verdicts on one model's contexts or on several
models, and their Markdown for the chapters."""
from __future__ import annotations

import pandas as pd
from tqdm.auto import tqdm

from .context import Context
from .core import FAILS, HOLDS, INCONCLUSIVE, Claim
from .input_bias import CLAIMS as INPUT_BIAS_CLAIMS
from .input_bias import InputBiasContext
from .parameter_saliency import CLAIMS as PARAMETER_SALIENCY_CLAIMS
from .perturbation import CLAIMS as PERTURBATION_CLAIMS
from .perturbation import PerturbationContext
from .remedies import CLAIMS as REMEDY_CLAIMS
from .remedies import RemedyContext

CLAIMS: dict[str, Claim] = {claim.id: claim
                            for claim in PARAMETER_SALIENCY_CLAIMS + INPUT_BIAS_CLAIMS + PERTURBATION_CLAIMS
                            + REMEDY_CLAIMS}
CONTEXTS = (Context, InputBiasContext, PerturbationContext, RemedyContext)


def _claims(ids) -> list[Claim]:
    ids = list(CLAIMS) if ids is None else [ids] if isinstance(ids, str) else list(ids)
    unknown = [i for i in ids if i not in CLAIMS]
    if unknown:
        raise ValueError(f"unknown claim ids {unknown}; expected ids from saltools.claims.CLAIMS")
    return [CLAIMS[i] for i in ids]


def _contexts(contexts) -> list:
    contexts = list(contexts) if isinstance(contexts, (list, tuple)) else [contexts]
    wrong = [type(c).__name__ for c in contexts if not isinstance(c, CONTEXTS)]
    if wrong or not contexts:
        raise TypeError(f"expected one or more of {[c.__name__ for c in CONTEXTS]} from saltools.claims; "
                        f"got {wrong or 'nothing'}")
    return contexts


def evaluate(contexts, ids=None, progress: bool = False) -> pd.DataFrame:
    """The verdict of each claim (all that apply, or those in ``ids``) on one context or a list of
    contexts: one row per (context's model, claim). A claim in ``ids`` that no context can evaluate
    raises ``ValueError``."""
    contexts, claims = _contexts(contexts), _claims(ids)
    unanswered = [c.id for c in claims if not any(c.applies_to(context) for context in contexts)]
    if ids is not None and unanswered:
        raise ValueError(f"no context given can evaluate {unanswered}: they need a "
                         f"{sorted({CLAIMS[i].context.__name__ for i in unanswered})}")
    rows = [dict(claim.evaluate(context), model=context.name) for context in contexts
            for claim in tqdm([c for c in claims if c.applies_to(context)], disable=not progress, desc=context.name)]
    return pd.DataFrame(rows)


def scoreboard(contexts, ids=None, progress: bool = False) -> pd.DataFrame:
    """``evaluate`` on the contexts of several models (e.g. the model zoo): one row per (model, claim)."""
    return evaluate(contexts, ids, progress)


def markdown(table: pd.DataFrame, ids=None) -> str:
    """The verdicts of ``table`` (from ``evaluate``) as Markdown, one line per claim, for a chapter."""
    rows = table if ids is None else table.set_index("claim").loc[[c.id for c in _claims(ids)]].reset_index()
    lines = []
    for row in rows.itertuples():
        lines.append(f"- **{row.verdict}** ({row.model}): {row.statement} {row.effect_name}: "
                     f"{row.effect:.3g}, 95% interval [{row.low:.3g}, {row.high:.3g}], n = {row.n} {row.unit}. "
                     f"<small>`{row.claim}`</small>")
    return "\n".join(lines)


def zoo_markdown(board: pd.DataFrame, chapter: int) -> str:
    """Per claim of ``chapter``: on how many of ``board``'s models (from ``scoreboard``) it holds, and
    how the others went, as Markdown lines for a chapter's summary."""
    rows = board[board.chapter == chapter]
    if rows.empty:
        raise ValueError(f"the table has no claims of chapter {chapter}")
    n_models = rows.model.nunique()
    lines = []
    for claim, group in rows.groupby("claim", sort=False):
        counts = group.verdict.value_counts()
        others = ", ".join(f"{verdict} on {counts[verdict]}" for verdict in (FAILS, INCONCLUSIVE) if counts.get(verdict, 0))
        lines.append(f"- `{claim}`: holds on **{counts.get(HOLDS, 0)} of {n_models}** zoo models"
                     + (f" ({others})" if others else "") + ".")
    return "\n".join(lines)
