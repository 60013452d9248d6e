"""Metrics on saliency maps: localization against masks (relevance mass and rank, pointing game, top-k
intersection, ROC-AUC), map agreement, causal metrics (deletion / insertion curves, AOPC, ROAD, SRG,
faithfulness correlation) and the agreement of metric variants on a ranking of methods.

Where a localization metric is undefined for a map, its score is NaN and one ``UndefinedMetricWarning``
counts those maps (never a 0 or a 1 that looks like a result):

- every localization metric: an empty mask (nothing to find);
- ``relevance_mass``: a map without relevance (all zero);
- ``relevance_rank``, ``pointing_game``, ``top_k_intersection``: a constant map (no highest pixel: the
  order of pixels would decide); partial ties are broken in row-major order;
- ``mask_roc_auc``: a mask that covers the whole image (no pixel outside); a constant map is defined
  there (ties count half: 0.5, chance);
- ``luminance_correlation``: a constant map or an image of constant luminance (Pearson's r is 0 / 0).
"""
from .agreement import kendall_tau, map_agreement, pairwise_agreement, ranking_agreement
from .causal import (aopc, auc, faithfulness_correlation, perturbation_curve, road_curve,
                     symmetric_relevance_gain)
from .localization import (UndefinedMetricWarning, luminance, luminance_correlation, mask_roc_auc, pearson_rows,
                           pointing_game, ranks_from_top, relevance_mass, relevance_rank, top_k_intersection)

__all__ = ["UndefinedMetricWarning", "aopc", "auc", "faithfulness_correlation", "kendall_tau", "luminance",
           "luminance_correlation", "map_agreement", "mask_roc_auc", "pairwise_agreement", "pearson_rows",
           "perturbation_curve", "pointing_game", "ranking_agreement", "ranks_from_top", "relevance_mass",
           "relevance_rank", "road_curve", "symmetric_relevance_gain", "top_k_intersection"]
