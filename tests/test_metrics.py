import warnings

import numpy as np
import pytest
import torch

import saltools as st

from saltools.metrics import relevance_mass, relevance_rank


def test_relevance_mass_and_rank_on_hand_made_maps():
    masks = torch.zeros(2, 4, 4, dtype=torch.bool)
    masks[:, :2, :2] = True                                   # 4 of 16 pixels
    maps = torch.zeros(2, 4, 4)
    maps[0, :2, :2] = 1.0                                     # all relevance inside
    maps[1] = 1.0                                             # uniform
    maps[1, 3, 3] = -5.0                                      # strongest pixel (by |R|) outside
    torch.testing.assert_close(relevance_mass(maps, masks), torch.tensor([1.0, 4 / 20]))
    rank = relevance_rank(maps, masks)
    assert rank[0] == 1.0 and rank[1] < 1.0


EMPTY = torch.zeros(1, 4, 4, dtype=torch.bool)
SQUARE = torch.zeros(1, 4, 4, dtype=torch.bool)
SQUARE[0, :2, :2] = True
PEAK = torch.zeros(1, 4, 4)                                  # all relevance on the mask, no ties there
PEAK[0, :2, :2] = torch.tensor([[4.0, 3.0], [2.0, 1.0]])


@pytest.mark.parametrize("metric, maps, masks, why", [
    (st.metrics.relevance_mass, PEAK, EMPTY, "1 with an empty mask"),
    (st.metrics.relevance_mass, torch.zeros(1, 4, 4), SQUARE, "1 with a map without relevance"),
    (st.metrics.relevance_rank, PEAK, EMPTY, "1 with an empty mask"),
    (st.metrics.relevance_rank, torch.full((1, 4, 4), 0.3), SQUARE, "1 with a constant map"),
    (st.metrics.pointing_game, PEAK, EMPTY, "1 with an empty mask"),
    (st.metrics.pointing_game, torch.zeros(1, 4, 4), SQUARE, "1 with a constant map"),
    (lambda maps, masks: st.metrics.top_k_intersection(maps, masks, 2), PEAK, EMPTY, "1 with an empty mask"),
    (lambda maps, masks: st.metrics.top_k_intersection(maps, masks, 2), -torch.ones(1, 4, 4), SQUARE,
     "1 with a constant map"),
    (st.metrics.mask_roc_auc, PEAK, EMPTY, "1 with an empty mask"),
    (st.metrics.mask_roc_auc, PEAK, ~EMPTY, "1 with a mask covering the whole image"),
])
def test_a_localization_metric_is_nan_with_a_warning_where_it_is_undefined(metric, maps, masks, why):
    """A map with no information, or a mask with nothing to find, gets no 0 or 1 that reads like a result."""
    both = (torch.cat([PEAK, maps]), torch.cat([SQUARE, masks]))
    with pytest.warns(st.metrics.UndefinedMetricWarning, match=f"undefined for 1 of 2 maps \\({why}\\)"):
        scores = metric(*both)
    assert scores[0] == 1.0 and torch.isnan(scores[1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")                      # a defined case does not warn
        assert metric(PEAK, SQUARE).item() == 1.0


def test_a_constant_map_is_chance_for_the_roc_auc_and_undefined_for_the_luminance_correlation():
    assert st.metrics.mask_roc_auc(torch.ones(1, 4, 4), SQUARE).item() == 0.5     # ties count half: defined
    images = torch.rand(2, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    images[1] = 0.5
    maps = torch.stack([st.metrics.luminance(images[:1])[0], torch.rand(4, 4)])
    with pytest.warns(st.metrics.UndefinedMetricWarning, match=r"1 with a constant image"):
        r = st.metrics.luminance_correlation(maps, images)
    assert r[0] > 0.99 and torch.isnan(r[1])
    with pytest.warns(st.metrics.UndefinedMetricWarning, match=r"2 with a constant map"):
        assert torch.isnan(st.metrics.luminance_correlation(torch.zeros(2, 4, 4), images)).all()


def test_single_map_and_shape_errors():
    assert relevance_mass(torch.ones(3, 3), torch.ones(3, 3, dtype=torch.bool)).shape == (1,)
    with pytest.raises(ValueError, match=r"\[N, H, W\]"):
        relevance_mass(torch.ones(2, 3, 3), torch.ones(2, 4, 4, dtype=torch.bool))


def test_luminance_correlation_sees_brightness_following_maps():
    images = torch.rand(3, 3, 16, 16)
    lum = st.metrics.luminance(images)
    assert torch.allclose(st.metrics.luminance_correlation(lum, images), torch.ones(3), atol=1e-5)
    assert torch.allclose(st.metrics.luminance_correlation(-lum, images), torch.ones(3), atol=1e-5)  # |map|
    assert st.metrics.luminance_correlation(1 - lum, images).max() < -0.99
    with pytest.raises(ValueError, match=r"must have shape \[N, H, W\] = \[3, 16, 16\]"):
        st.metrics.luminance_correlation(lum[:2], images)


def test_map_agreement_identity_reversal_and_ties():
    maps = torch.rand(4, 8, 8)
    same = st.metrics.map_agreement(maps, maps * 3)
    assert np.allclose(same[["spearman_abs", "spearman", "kendall_abs", "top_overlap", "ssim"]], 1)
    flipped = st.metrics.map_agreement(maps, 1 - maps)
    assert np.allclose(flipped.spearman, -1) and np.allclose(flipped.kendall_abs, -1)
    from scipy import stats
    sparse = maps * (maps > 0.8)
    table = st.metrics.map_agreement(sparse, maps)
    expected = [stats.spearmanr(a.flatten(), b.flatten()).statistic for a, b in zip(sparse, maps)]
    assert np.allclose(table.spearman, expected)
    with pytest.raises(ValueError, match=r"second must have shape \[N, H, W\] = \[4, 8, 8\]"):
        st.metrics.map_agreement(maps, maps[:2])


def test_brightness_sweep_is_controlled(shapes_model):
    table = st.experiments.brightness_sweep(shapes_model, ["Saliency"], levels=(0.0, 1.0), n=4)
    assert len(table) == 8 and set(table.level) == {0.0, 1.0}
    assert table.mass_accuracy.between(0, 1).all() and table.correct.dtype == bool


def test_auc_needs_at_least_two_steps():
    with pytest.raises(ValueError, match="two steps"):
        st.metrics.auc(torch.ones(3, 1))
    assert torch.allclose(st.metrics.auc(torch.ones(2, 5)), torch.ones(2, dtype=torch.float64))


def test_a_curve_with_a_nan_gets_no_area_srg_or_aopc():
    curves = torch.rand(3, 5)
    curves[1, 2] = float("nan")
    for score in (st.metrics.auc, st.metrics.aopc, lambda c: st.metrics.symmetric_relevance_gain(c, torch.rand(3, 5))):
        with pytest.raises(ValueError, match=r"curves must be finite; got 1 NaN .* curves\[1, 2\]"):
            score(curves)
    assert torch.isfinite(st.metrics.symmetric_relevance_gain(torch.rand(3, 5), torch.rand(3, 5))).all()
