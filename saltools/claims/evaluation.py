"""Evaluating claims: the registry of every claim, verdicts on one model's contexts or on several
models, and their Markdown for the chapters."""
from __future__ import annotations

import hashlib
import json

import pandas as pd
from tqdm.auto import tqdm

from .context import Context
from .core import FAILS, HOLDS, INCONCLUSIVE, NOT_EVALUATED, Claim, ClaimRefused
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


#: what stops one claim on one context without stopping the others (the row records the reason)
REFUSALS = (ClaimRefused, ValueError, TypeError, RuntimeError, NotImplementedError, IndexError, KeyError)


def evaluate(contexts, ids=None, progress: bool = False, controls: bool = False) -> pd.DataFrame:
    """The verdict of each claim (all that apply, or those in ``ids``) on one context or a list of
    contexts: one row per (context's model, claim). A claim in ``ids`` that no context can evaluate
    raises ``ValueError``.

    A claim that fails on a context (a model with one stage for a depth claim, a context whose data
    cannot give the evidence) does not stop the others: its row has the verdict "not evaluated" and
    the ``reason``. ``controls=True`` evaluates each claim's negative control instead (column
    ``control`` says how it was built): a claim whose control "holds" cannot fail.
    """
    contexts, claims = _contexts(contexts), _claims(ids)
    unanswered = [c.id for c in claims if not any(c.applies_to(context) for context in contexts)]
    if ids is not None and unanswered:
        raise ValueError(f"no context given can evaluate {unanswered}: they need a "
                         f"{sorted({CLAIMS[i].context.__name__ for i in unanswered})}")
    if controls:
        claims = [c for c in claims if c.control is not None]
    rows = [dict(_row(claim, context, controls), model=context.name) for context in contexts
            for claim in tqdm([c for c in claims if c.applies_to(context)], disable=not progress, desc=context.name)]
    table = pd.DataFrame(rows)
    if "reason" not in table:
        table["reason"] = ""
    table["reason"] = table["reason"].fillna("")
    return table


def _row(claim: Claim, context, control: bool) -> dict:
    try:
        return claim.evaluate_control(context) if control else claim.evaluate(context)
    except REFUSALS as error:
        return {"claim": claim.id, "chapter": claim.chapter, "statement": claim.statement,
                "effect_name": claim.effect, "effect": float("nan"), "low": float("nan"), "high": float("nan"),
                "n": 0, "unit": "", "verdict": NOT_EVALUATED, "rule": str(claim.rule), "rule_kind": claim.rule.kind,
                "rule_threshold": claim.rule.threshold, "paper_value": claim.paper_value,
                "reason": f"{type(error).__name__}: {error}"}


def registry(claims=None) -> pd.DataFrame:
    """What the book commits to before seeing data, one row per claim: id, chapter, statement, effect,
    rule (kind, threshold) and its negative control."""
    claims = CLAIMS.values() if claims is None else claims
    return pd.DataFrame([{"claim": c.id, "chapter": c.chapter, "statement": c.statement, "effect": c.effect,
                          "rule_kind": c.rule.kind, "rule_threshold": c.rule.threshold,
                          "context": c.context.__name__, "control": c.control_note} for c in claims])


def registry_hash() -> str:
    """SHA-256 (first 16 hex digits) of the registry: every claim's statement, effect, rule, threshold,
    kind of context and control. It changes with any of them, and ``book/claims_changelog.md`` must
    record each change (a test compares the two)."""
    return hashlib.sha256(json.dumps(registry().to_dict(orient="records"), sort_keys=True).encode()).hexdigest()[:16]


def scoreboard(contexts, ids=None, progress: bool = False) -> pd.DataFrame:
    """``evaluate`` on the contexts of several models (e.g. the model zoo): one row per (model, claim)."""
    return evaluate(contexts, ids, progress)


def markdown(table: pd.DataFrame, ids=None) -> str:
    """The verdicts of ``table`` (from ``evaluate``) as Markdown, one line per claim, for a chapter."""
    rows = table if ids is None else table.set_index("claim").loc[[c.id for c in _claims(ids)]].reset_index()
    lines = []
    for row in rows.itertuples():
        if row.verdict == NOT_EVALUATED:
            lines.append(f"- **{row.verdict}** ({row.model}): {row.statement} Why: {row.reason} "
                         f"<small>`{row.claim}`</small>")
            continue
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
        others = ", ".join(f"{verdict} on {counts[verdict]}" for verdict in (FAILS, INCONCLUSIVE, NOT_EVALUATED)
                           if counts.get(verdict, 0))
        lines.append(f"- `{claim}`: holds on **{counts.get(HOLDS, 0)} of {n_models}** zoo models"
                     + (f" ({others})" if others else "") + ".")
    return "\n".join(lines)
