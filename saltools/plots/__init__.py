"""The book's figures: one function per kind of figure, each returning its matplotlib Figure.

``basics`` (image grids, overview, speed), ``rankings`` (filter rankings, interventions, depth
bias), ``tails`` (distributions and tail fits), ``maps`` (attribution maps and metrics), ``remedies``
(chapter 7's remedies), ``claims`` (the replication scoreboard). ``style``: the colours (safe under
colour-vision deficiency) and the decorator that gives every figure its text alternative (``alt``).
"""
from .basics import filters_per_stage, image_grid, robustness, show_image, speed_bars
from .claims import claim_across_models, scoreboard, verdict_counts
from .maps import (agreement_matrix, attribution_maps, blind_points, brightness_curves, method_ranks,
                   method_scores, randomization_curves, ranking_bars, setting_agreement)
from .remedies import blur_gains, closeness, leak_rates, randomization_by_stage, way_ranks
from .rankings import (depth_shares, intervention_curves, last_stage_under_shift, prediction, projection,
                       repairs_by_condition, repairs_under_shift, saliency_profile, stage_shares,
                       statistic_by_stage, top_filters)
from .style import CATEGORICAL, STAGE_PALETTE, VERDICT_COLORS, VERDICT_MARKS, accessible
from .tails import (distributions, gpd_qq, mean_residual_life, moments_by_stage, planted_recall,
                    rejection_by_stage, representative_filters, scorer_agreement, shapes_by_stage,
                    three_sigma_exceedance)

__all__ = ["CATEGORICAL", "STAGE_PALETTE", "VERDICT_COLORS", "VERDICT_MARKS", "accessible", "claim_across_models", "scoreboard", "verdict_counts", "agreement_matrix", "attribution_maps", "blind_points", "brightness_curves",
           "depth_shares", "distributions", "filters_per_stage", "gpd_qq", "image_grid", "intervention_curves",
           "last_stage_under_shift", "mean_residual_life", "method_ranks", "method_scores", "moments_by_stage",
           "planted_recall", "prediction", "projection", "randomization_curves", "ranking_bars",
           "rejection_by_stage", "repairs_by_condition", "repairs_under_shift", "representative_filters",
           "robustness", "saliency_profile", "scorer_agreement", "setting_agreement", "shapes_by_stage",
           "show_image", "speed_bars", "stage_shares", "statistic_by_stage", "three_sigma_exceedance",
           "top_filters", "blur_gains", "closeness", "leak_rates", "randomization_by_stage", "way_ranks"]
