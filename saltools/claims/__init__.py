"""Every statement of fact of the book as code: evidence with a 95% interval and a verdict.

``CLAIMS`` maps a claim id to its ``Claim``; ``evaluate`` computes the verdicts on one model and its
data (a ``Context``), ``scoreboard`` on several models, ``markdown`` renders verdicts where a
chapter states the finding. On your own model::

    context = st.claims.Context(model, reference=my_reference_set, queries=my_test_set)
    table = st.claims.evaluate(context)          # one row per claim: effect, interval, verdict
"""
from __future__ import annotations

import pandas as pd
from tqdm.auto import tqdm

from .context import Context
from .core import FAILS, HOLDS, INCONCLUSIVE, VERDICTS, Claim, Evidence, Rule
from .parameter_saliency import CLAIMS as PARAMETER_SALIENCY_CLAIMS

CLAIMS: dict[str, Claim] = {claim.id: claim for claim in PARAMETER_SALIENCY_CLAIMS}

__all__ = ["CLAIMS", "Claim", "Context", "Evidence", "FAILS", "HOLDS", "INCONCLUSIVE", "Rule", "VERDICTS", "evaluate",
           "markdown", "scoreboard"]


def _claims(ids) -> list[Claim]:
    ids = list(CLAIMS) if ids is None else [ids] if isinstance(ids, str) else list(ids)
    unknown = [i for i in ids if i not in CLAIMS]
    if unknown:
        raise ValueError(f"unknown claim ids {unknown}; expected ids from saltools.claims.CLAIMS")
    return [CLAIMS[i] for i in ids]


def evaluate(context: Context, ids=None, progress: bool = False) -> pd.DataFrame:
    """The verdict of each claim (all, or those in ``ids``) on ``context``: one row per claim."""
    if not isinstance(context, Context):
        raise TypeError(f"expected a saltools.claims.Context; got {type(context).__name__}")
    rows = [claim.evaluate(context) for claim in tqdm(_claims(ids), disable=not progress, desc=context.name)]
    return pd.DataFrame(rows).assign(model=context.name)


def scoreboard(contexts, ids=None, progress: bool = False) -> pd.DataFrame:
    """``evaluate`` on several contexts (e.g. the model zoo): one row per (model, claim)."""
    return pd.concat([evaluate(c, ids) for c in tqdm(list(contexts), disable=not progress, desc="models")],
                     ignore_index=True)


def markdown(table: pd.DataFrame, ids=None) -> str:
    """The verdicts of ``table`` (from ``evaluate``) as Markdown, one line per claim, for a chapter."""
    rows = table if ids is None else table.set_index("claim").loc[[c.id for c in _claims(ids)]].reset_index()
    lines = []
    for row in rows.itertuples():
        lines.append(f"- **{row.verdict}** ({row.model}): {row.statement} {row.effect_name}: "
                     f"{row.effect:.3g}, 95% interval [{row.low:.3g}, {row.high:.3g}], n = {row.n} {row.unit}. "
                     f"<small>`{row.claim}`</small>")
    return "\n".join(lines)
