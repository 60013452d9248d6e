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
