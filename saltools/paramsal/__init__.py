"""Parameter saliency (Levin et al. 2022): which conv filters an image's loss blames.

``statistic`` computes the exact per-sample, per-filter statistic for a batch (each conv layer with the
kernel of ``kernels`` that is fastest for its shape); ``reference`` fits its
reference statistics (streaming, mergeable), ``storage`` is their checked file format and ``cache``
reuses them; ``scorers`` turn a query's statistic into scores (z-score, POT, ...); ``interventions`` zero
or fine-tune the top filters; ``projection`` maps them back to pixels; ``faults`` plants known faulty
filters.
"""
from . import storage
from .cache import cache_dir, reference_statistics
from .faults import planted_fault_benchmark, planted_faults
from .interventions import (SELECTIONS, edited_filters, edited_probabilities, filter_columns, intervention_curves,
                            summarize_interventions)
from .projection import input_projection, projections
from .reference import ParameterSaliency, reference_batches
from .scorers import (MIN_REFERENCE, SCORER, SCORERS, DegenerateStatisticsWarning, TailFit, exponential_tail, last_stage_raw,
                      pot, random_scores, resolve_scorer, scorer_agreement, zscore)
from .statistic import filter_saliency, filter_saliency_loop
from .storage import StatisticsFileError

__all__ = ["DegenerateStatisticsWarning", "MIN_REFERENCE", "ParameterSaliency", "SCORER", "SCORERS", "SELECTIONS",
           "StatisticsFileError", "TailFit", "cache_dir", "edited_filters", "edited_probabilities", "exponential_tail",
           "filter_columns", "filter_saliency", "filter_saliency_loop", "input_projection", "intervention_curves",
           "last_stage_raw", "planted_fault_benchmark", "planted_faults", "pot", "projections", "random_scores",
           "reference_batches", "reference_statistics", "resolve_scorer", "scorer_agreement", "storage",
           "summarize_interventions", "zscore"]
