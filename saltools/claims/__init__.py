"""Every statement of fact of the book as code: evidence with a 95% interval and a verdict.

``CLAIMS`` maps a claim id to its ``Claim``. A claim reads one kind of context: ``Context`` (parameter
saliency, chapters 1-4), ``InputBiasContext`` (input bias of attribution maps, chapter 5, on Shapes
models) or ``PerturbationContext`` (baselines and metrics, chapter 6). ``evaluate`` computes the
verdicts of every claim that applies to the given contexts of one model, ``scoreboard`` on several
models, ``markdown`` renders verdicts where a chapter states the finding. On your own model::

    context = st.claims.Context(model, reference=my_reference_set, queries=my_test_set)
    table = st.claims.evaluate(context)          # one row per claim: effect, interval, verdict
"""
from __future__ import annotations

import pandas as pd
from tqdm.auto import tqdm

from .context import Context
from .core import FAILS, HOLDS, INCONCLUSIVE, VERDICTS, Claim, Evidence, Rule
from .input_bias import CLAIMS as INPUT_BIAS_CLAIMS
from .input_bias import InputBiasContext
from .parameter_saliency import CLAIMS as PARAMETER_SALIENCY_CLAIMS
from .perturbation import CLAIMS as PERTURBATION_CLAIMS
from .perturbation import PerturbationContext

CLAIMS: dict[str, Claim] = {claim.id: claim
                            for claim in PARAMETER_SALIENCY_CLAIMS + INPUT_BIAS_CLAIMS + PERTURBATION_CLAIMS}
CONTEXTS = (Context, InputBiasContext, PerturbationContext)

__all__ = ["CLAIMS", "CONTEXTS", "Claim", "Context", "Evidence", "FAILS", "HOLDS", "INCONCLUSIVE", "InputBiasContext",
           "PerturbationContext", "Rule", "VERDICTS", "evaluate", "markdown", "scoreboard", "zoo_contexts"]


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
    claims = _claims(ids)
    tables = [evaluate(context, [c.id for c in claims if c.applies_to(context)])
              for context in tqdm(_contexts(contexts), disable=not progress, desc="contexts")
              if any(c.applies_to(context) for c in claims)]
    return pd.concat(tables, ignore_index=True)


def zoo_contexts(models: dict, profile, n_images: int = 32, n_objects: int = 16, **kwargs) -> list:
    """A ``Context`` (with ``kwargs``) and an ``InputBiasContext`` (``n_images`` test images,
    ``n_objects`` objects per grey level) for each Shapes model of ``models`` (name -> model), all
    sharing one copy of the profile's data."""
    data = Context.profile_data(profile)
    return [context for name, model in models.items()
            for context in (Context.for_profile(model, profile, name=name, data=data, **kwargs),
                            InputBiasContext(model, n=n_images, n_sweep=n_objects, name=name))]


def markdown(table: pd.DataFrame, ids=None) -> str:
    """The verdicts of ``table`` (from ``evaluate``) as Markdown, one line per claim, for a chapter."""
    rows = table if ids is None else table.set_index("claim").loc[[c.id for c in _claims(ids)]].reset_index()
    lines = []
    for row in rows.itertuples():
        lines.append(f"- **{row.verdict}** ({row.model}): {row.statement} {row.effect_name}: "
                     f"{row.effect:.3g}, 95% interval [{row.low:.3g}, {row.high:.3g}], n = {row.n} {row.unit}. "
                     f"<small>`{row.claim}`</small>")
    return "\n".join(lines)
