"""Every statement of fact of the book as code: evidence with a 95% interval and a verdict.

``CLAIMS`` maps a claim id to its ``Claim``. A claim reads one kind of context: ``Context`` (parameter
saliency, chapters 1-4), ``InputBiasContext`` (input bias of attribution maps, chapter 5, on Shapes
models), ``PerturbationContext`` (baselines and metrics, chapter 6) or ``RemedyContext`` (the remedies
since, chapter 7). ``evaluate`` computes the
verdicts of every claim that applies to the given contexts of one model, ``scoreboard`` on several
models, ``markdown`` renders verdicts where a chapter states the finding, ``simultaneous`` adds verdicts
with Bonferroni-simultaneous intervals per chapter, ``power_plan`` the size that detects each claim's
smallest effect and ``n_to_decide`` the size that would decide an inconclusive claim. On your own model::

    context = st.claims.Context(model, reference=my_reference_set, queries=my_test_set)
    table = st.claims.evaluate(context)          # one row per claim: effect, interval, verdict
"""
from .context import Context
from .core import FAILS, HOLDS, INCONCLUSIVE, NOT_EVALUATED, VERDICTS, Claim, ClaimRefused, Evidence, Rule
from .evaluation import (CLAIMS, CONTEXTS, evaluate, markdown, n_to_decide, registry, registry_hash, scoreboard,
                         simultaneous, zoo_markdown)
from .power import power_plan
from .input_bias import InputBiasContext, nobias_space_gap
from .perturbation import PerturbationContext, twin_gap
from .remedies import RemedyContext
from .zoo import zoo_contexts, zoo_note, zoo_settings, zoo_verdicts

__all__ = ["CLAIMS", "CONTEXTS", "Claim", "ClaimRefused", "Context", "Evidence", "FAILS", "HOLDS", "INCONCLUSIVE",
           "InputBiasContext", "NOT_EVALUATED", "PerturbationContext", "RemedyContext", "Rule", "VERDICTS", "evaluate",
           "markdown", "n_to_decide", "nobias_space_gap", "power_plan", "registry", "registry_hash", "scoreboard", "simultaneous",
           "twin_gap",
           "zoo_contexts", "zoo_markdown", "zoo_note", "zoo_settings", "zoo_verdicts"]
