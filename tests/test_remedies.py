"""The metrics proposed since Brunke et al., each against its definition or a case with a known answer: ROAD's
noisy linear imputation (against a dense solve) and curve, SRG, the pointing game, top-k intersection,
the ROC-AUC of a map against a mask and faithfulness correlation."""
import numpy as np
import pytest
import scipy.stats
import torch
import torch.nn as nn

from saltools import metrics
from saltools.baselines import ROAD_NEIGHBOURS, road_imputation


def _dense_road(image: torch.Tensor, removed: torch.Tensor) -> torch.Tensor:
    """ROAD's equations written out pixel by pixel and solved densely (the definition)."""
    _, h, w = image.shape
    unknown = [(y, x) for y in range(h) for x in range(w) if removed[y, x]]
    index = {p: k for k, p in enumerate(unknown)}
    a, b = np.zeros((len(unknown), len(unknown))), np.zeros((len(unknown), image.shape[0]))
    for k, (y, x) in enumerate(unknown):
        for (dy, dx), weight in ROAD_NEIGHBOURS:
            if 0 <= y + dy < h and 0 <= x + dx < w:
                a[k, k] += weight
                if (y + dy, x + dx) in index:
                    a[k, index[y + dy, x + dx]] -= weight
                else:
                    b[k] += weight * image[:, y + dy, x + dx].numpy()
    out = image.clone()
    for (y, x), value in zip(unknown, np.linalg.solve(a, b)):
        out[:, y, x] = torch.from_numpy(value)
    return out


def test_road_imputation_equals_a_dense_solve_of_its_equations():
    torch.manual_seed(0)
    images = torch.rand(3, 3, 7, 9, dtype=torch.float64)
    removed = torch.rand(3, 7, 9) < torch.tensor([0.2, 0.6, 0.95])[:, None, None]
    removed[2, 3, 4] = False                                       # one kept pixel is enough
    got = road_imputation(images, removed[:, None], noise=0.0)
    for image, mask, result in zip(images, removed, got):
        torch.testing.assert_close(result, _dense_road(image, mask), rtol=1e-12, atol=1e-12)
    assert (ROAD_NEIGHBOURS[1] == ((-1, 0), 1 / 6)) and sum(w for _, w in ROAD_NEIGHBOURS) == pytest.approx(1)


def test_road_noise_is_added_to_removed_pixels_only_with_its_standard_deviation():
    images = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    removed = torch.zeros(2, 64, 64, dtype=torch.bool)
    removed[:, 8:56, 8:56] = True
    clean, noisy = road_imputation(images, removed, noise=0.0), road_imputation(images, removed, noise=0.01, seed=3)
    difference = (noisy - clean).permute(1, 0, 2, 3)
    assert torch.equal(difference[:, ~removed], torch.zeros_like(difference[:, ~removed]))
    assert difference[:, removed].std().item() == pytest.approx(0.01, rel=0.03)
    assert torch.equal(noisy, road_imputation(images, removed, noise=0.01, seed=3))
    constant = torch.full((1, 3, 8, 8), 0.3)
    torch.testing.assert_close(road_imputation(constant, torch.rand(1, 8, 8) < 0.7, noise=0.0), constant)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_road_imputation_leaves_its_input_unchanged(dtype, layout):
    images = torch.rand(2, 3, 8, 8, dtype=dtype).contiguous(memory_format=layout)
    before = images.clone()
    removed = torch.zeros(2, 8, 8, dtype=torch.bool)
    removed[:, 2:6, 2:6] = True
    filled = road_imputation(images, removed)
    assert torch.equal(images, before) and not torch.equal(filled, before)


def test_road_imputation_refuses_what_it_cannot_solve():
    with pytest.raises(ValueError, match="at least one kept pixel"):
        road_imputation(torch.rand(2, 3, 4, 4), torch.ones(2, 4, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="noise"):
        road_imputation(torch.rand(1, 3, 4, 4), torch.zeros(1, 4, 4, dtype=torch.bool), noise=-1)
    with pytest.raises(ValueError, match="removed"):
        road_imputation(torch.rand(1, 3, 4, 4), torch.zeros(1, 5, 4, dtype=torch.bool))


class _CentreModel(nn.Module):
    """Two classes; the logit of class 0 is 10 x the mean of the central 4 x 4 pixels (channel 0)."""

    def forward(self, x):
        centre = 10 * x[:, 0, 6:10, 6:10].mean((1, 2))
        return torch.stack([centre, torch.zeros_like(centre)], 1)


def test_road_curves_remove_the_most_or_least_relevant_pixels_first():
    images = torch.zeros(2, 3, 16, 16)
    images[:, :, 6:10, 6:10] = 1.0
    maps = torch.zeros(2, 16, 16)
    maps[:, 6:10, 6:10] = 1.0                                       # the map points at what the model reads
    model = _CentreModel()
    intact = torch.sigmoid(torch.tensor(10.0)).item()
    lerf = metrics.road_curve(model, images, maps, 0, order="lerf", noise=0.0)
    morf = metrics.road_curve(model, images, maps, 0, order="morf", noise=0.0)
    assert lerf.shape == morf.shape == (2, 9)
    torch.testing.assert_close(lerf, torch.full((2, 9), intact))   # 90% removed, all outside the centre
    assert (morf < 0.51).all()                                      # centre filled from its dark surroundings
    start = metrics.road_curve(model, images, maps, 0, percentages=(0,), noise=0.01)
    torch.testing.assert_close(start, torch.full((2, 1), intact))
    assert (metrics.symmetric_relevance_gain(morf, lerf) > 0.4).all()
    with pytest.raises(ValueError, match="percentages"):
        metrics.road_curve(model, images, maps, 0, percentages=(50, 100))


def test_symmetric_relevance_gain_is_the_difference_of_the_two_areas():
    morf, lerf = torch.tensor([[1.0, 0.5, 0.0]]), torch.tensor([[1.0, 1.0, 1.0]])
    assert metrics.symmetric_relevance_gain(morf, lerf).item() == pytest.approx(1.0 - (0.75 / 2 + 0.25 / 2))
    shifted = metrics.symmetric_relevance_gain(morf + 0.3, lerf + 0.3)
    torch.testing.assert_close(shifted, metrics.symmetric_relevance_gain(morf, lerf))
    with pytest.raises(ValueError, match="same shape"):
        metrics.symmetric_relevance_gain(morf, lerf[:, :2])


def test_pointing_game_hits_only_when_the_maximum_is_in_the_mask_or_within_tolerance():
    maps = torch.zeros(1, 10, 10)
    maps[0, 2, 3] = 5.0
    masks = torch.zeros(1, 10, 10, dtype=torch.bool)
    masks[0, 2, 3] = True
    assert metrics.pointing_game(maps, masks).item() == 1.0
    far = torch.zeros_like(masks)
    far[0, 2, 6] = True                                             # 3 pixels to the right
    assert metrics.pointing_game(maps, far).item() == 0.0
    assert metrics.pointing_game(maps, far, tolerance=2).item() == 0.0
    assert metrics.pointing_game(maps, far, tolerance=3).item() == 1.0
    signed = -maps
    signed[0, 7, 7] = 1.0
    assert metrics.pointing_game(signed, masks).item() == 1.0       # |map|: the -5 pixel
    assert metrics.pointing_game(signed, masks, absolute=False).item() == 0.0
    ties = torch.zeros(1, 10, 10)
    ties[0, 0, :2] = 1.0
    corner = torch.zeros_like(masks)
    corner[0, 0, 0] = True
    assert metrics.pointing_game(ties, corner).item() == 1.0        # the first maximum in row-major order


def test_top_k_intersection_counts_the_top_pixels_in_the_mask():
    maps = torch.arange(16.0).view(1, 4, 4)                        # the top 4 are the last row
    masks = torch.zeros(1, 4, 4, dtype=torch.bool)
    masks[0, 3, :2] = True
    assert metrics.top_k_intersection(maps, masks, 4).item() == 0.5
    assert metrics.top_k_intersection(maps, masks, 0.125).item() == 0.0     # 2 pixels: (3, 3) and (3, 2)
    torch.testing.assert_close(metrics.top_k_intersection(maps, masks, int(masks.sum())),
                               metrics.relevance_rank(maps, masks).float())
    with pytest.raises(ValueError, match="at most the number of pixels"):
        metrics.top_k_intersection(maps, masks, 17)


def test_mask_roc_auc_is_the_mann_whitney_statistic():
    masks = torch.zeros(2, 6, 6, dtype=torch.bool)
    masks[:, :2] = True
    perfect = masks.float()
    assert metrics.mask_roc_auc(perfect, masks).tolist() == [1.0, 1.0]
    assert metrics.mask_roc_auc(-perfect, masks, absolute=False).tolist() == [0.0, 0.0]
    assert metrics.mask_roc_auc(torch.ones(2, 6, 6), masks).tolist() == [0.5, 0.5]
    maps = torch.rand(2, 6, 6, generator=torch.Generator().manual_seed(0)).round(decimals=1)   # with ties
    expected = [scipy.stats.mannwhitneyu(m[k].numpy(), m[~k].numpy()).statistic / (k.sum() * (~k).sum()).item()
                for m, k in zip(maps, masks)]
    np.testing.assert_allclose(metrics.mask_roc_auc(maps, masks).numpy(), expected)
    with pytest.warns(metrics.UndefinedMetricWarning, match="2 with an empty mask"):
        assert torch.isnan(metrics.mask_roc_auc(maps, torch.zeros_like(masks))).all()


class _LinearModel(nn.Module):
    """Class 0's logit is sum(w * x), class 1's is 0: removing a set S to black lowers it by sum_S w * x."""

    def __init__(self, weights):
        super().__init__()
        self.register_buffer("weights", weights)

    def forward(self, x):
        score = (x * self.weights).sum((1, 2, 3))
        return torch.stack([score, torch.zeros_like(score)], 1)


def test_faithfulness_correlation_is_one_for_the_exact_attribution_of_a_linear_model():
    generator = torch.Generator().manual_seed(0)
    weights = torch.randn(1, 3, 12, 12, generator=generator)
    images = torch.rand(3, 3, 12, 12, generator=generator)
    model = _LinearModel(weights)
    exact = (images * weights).sum(1)                               # gradient x input = each pixel's share
    kwargs = dict(subset_size=20, n_subsets=30, output="logit", baseline="black")
    torch.testing.assert_close(metrics.faithfulness_correlation(model, images, exact, 0, **kwargs),
                               torch.ones(3, dtype=torch.float64))
    torch.testing.assert_close(metrics.faithfulness_correlation(model, images, -exact, 0, **kwargs),
                               -torch.ones(3, dtype=torch.float64))
    unrelated = torch.rand(3, 12, 12, generator=generator)
    assert metrics.faithfulness_correlation(model, images, unrelated, 0, **kwargs).abs().max() < 0.8
    with pytest.raises(ValueError, match="n_subsets >= 2"):
        metrics.faithfulness_correlation(model, images, exact, 0, subset_size=200, n_subsets=30)


def test_srg_under_every_substrate_is_computed_from_the_two_deletion_curves(shapes_model):
    from saltools import experiments
    from saltools.data import Shapes
    data = Shapes(3, split="test")
    maps = {"object": data.masks.float(), "random": torch.rand(3, 64, 64, generator=torch.Generator().manual_seed(0))}
    table = experiments.srg_scores(shapes_model, data.images, data.labels, maps, substrates=("black", "road"), steps=4)
    assert len(table) == 2 * 2 * 3 and set(table.substrate) == {"black", "road"}
    np.testing.assert_allclose(table.srg, table.lerf_auc - table.morf_auc)
    morf = metrics.road_curve(shapes_model, data.images, maps["object"], data.labels, percentages=(0, 25, 50, 75))
    lerf = metrics.road_curve(shapes_model, data.images, maps["object"], data.labels, order="lerf",
                              percentages=(0, 25, 50, 75))
    road = table[(table.substrate == "road") & (table.method == "object")]
    np.testing.assert_allclose(road.srg, metrics.symmetric_relevance_gain(morf, lerf).numpy(), rtol=1e-6)
    black = metrics.perturbation_curve(shapes_model, data.images, maps["random"], data.labels, steps=4)[:, :-1]
    row = table[(table.substrate == "black") & (table.method == "random")]
    np.testing.assert_allclose(row.morf_auc, metrics.auc(black).numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="srg_scores: every element of substrates must be one of .*; got 'nope'"):
        experiments.srg_scores(shapes_model, data.images, data.labels, maps, substrates=("nope",))


def test_occlusion_distance_is_zero_without_occlusion_and_grows_with_it(shapes_model):
    from saltools import experiments
    from saltools.data import Shapes
    images = Shapes(6, split="test").images
    none = experiments.occlusion_distance(shapes_model, images, ("black", "road"), share=0.0)
    assert (none.distance == 0).all()
    half = experiments.occlusion_distance(shapes_model, images, ("black", "road"), share=0.5)
    assert (half.distance > 0).all() and list(half.columns) == ["substrate", "image", "distance"]
    cells = experiments._random_cells(4, (64, 64), 8, 0.25, seed=0)
    assert cells.shape == (4, 64, 64) and (cells.float().mean((1, 2)) == 0.25).all()
    with pytest.raises(ValueError, match="share"):
        experiments.occlusion_distance(shapes_model, images, ("black",), share=1.0)


def test_independent_randomization_resets_one_stage_at_a_time_on_copies(shapes_model):
    from saltools import experiments
    from saltools.data import Shapes
    data = Shapes(3, split="test")
    before = {k: v.clone() for k, v in shapes_model.state_dict().items()}
    cascade = experiments.parameter_randomization(shapes_model, data.images, data.labels, ["Saliency"])
    alone = experiments.parameter_randomization(shapes_model, data.images, data.labels, ["Saliency"],
                                                mode="independent")
    assert all(torch.equal(v, before[k]) for k, v in shapes_model.state_dict().items())
    stages = experiments.randomization_stages(shapes_model)
    assert list(alone.randomized.unique()) == stages and len(alone) == len(cascade) == 3 * len(stages)
    first = ["spearman_abs", "spearman", "ssim"]
    np.testing.assert_allclose(alone[alone.depth == 1][first], cascade[cascade.depth == 1][first])  # same reset
    last = alone[alone.depth == len(stages)].spearman_abs.mean(), cascade[cascade.depth == len(stages)].spearman_abs
    assert last[0] > last[1].mean()              # only the stem reset keeps more of the map than resetting all
    with pytest.raises(ValueError, match="mode"):
        experiments.parameter_randomization(shapes_model, data.images, data.labels, ["Saliency"], mode="nope")


def test_smooth_mprt_averages_maps_over_noisy_copies(shapes_model):
    from saltools import experiments
    from saltools.data import Shapes
    data = Shapes(2, split="test")
    plain = experiments.parameter_randomization(shapes_model, data.images, data.labels, ["Saliency"])
    silent = experiments.parameter_randomization(shapes_model, data.images, data.labels, ["Saliency"], smooth=3,
                                                 noise=0.0)
    columns = ["spearman_abs", "spearman", "ssim"]
    np.testing.assert_allclose(silent[columns], plain[columns], rtol=1e-5, atol=1e-6)
    smooth = experiments.parameter_randomization(shapes_model, data.images, data.labels, ["Saliency"], smooth=4)
    again = experiments.parameter_randomization(shapes_model, data.images, data.labels, ["Saliency"], smooth=4)
    assert smooth[columns].notna().all().all() and smooth[columns].equals(again[columns])
    assert not np.allclose(smooth.spearman_abs, plain.spearman_abs)
