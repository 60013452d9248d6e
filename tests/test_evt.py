import numpy as np
import pytest
from hypothesis import given, strategies as hst
import scipy.stats as ss
import torch

import saltools as st
from saltools import evt
from saltools.data import Shapes


@pytest.fixture(scope="module")
def synthetic_tails():
    rng = np.random.default_rng(1)
    shapes = rng.uniform(-0.4, 0.8, 240)
    scales = np.exp(rng.uniform(np.log(1e-4), np.log(10), 240))
    sizes = rng.integers(80, 500, 240)
    tails = [ss.genpareto.rvs(c, scale=s, size=m, random_state=rng) for c, s, m in zip(shapes, scales, sizes)]
    return shapes, scales, sizes, tails


def test_fit_gpd_matches_or_beats_scipy_likelihood_filter_by_filter(synthetic_tails):
    shapes, scales, sizes, tails = synthetic_tails
    padded = np.zeros((len(tails), sizes.max()))
    for i, t in enumerate(tails):
        padded[i, :len(t)] = t
    xi, sigma = evt.fit_gpd(padded, counts=sizes)
    ours = evt.gpd_loglik(padded, xi, sigma, counts=sizes)
    for i in range(0, len(tails), 4):                               # scipy on every 4th tail (speed)
        c, _, s = ss.genpareto.fit(tails[i], floc=0)
        theirs = evt.gpd_loglik(tails[i][None], [c], [s])[0]
        assert ours[i] >= theirs - 1e-9, (i, shapes[i], xi[i], c)
    assert np.abs(xi - shapes).mean() < 0.12                        # recovers the true shapes
    assert np.all(xi >= -1)


def test_dense_and_padded_inputs_agree(synthetic_tails):
    _, _, _, tails = synthetic_tails
    dense = np.stack([t[:80] for t in tails[:20]])
    padded = np.hstack([dense, np.zeros((20, 30))])
    a = evt.fit_gpd(dense)
    b = evt.fit_gpd(padded, counts=np.full(20, 80))
    np.testing.assert_allclose(a[0], b[0], atol=1e-8)
    np.testing.assert_allclose(a[1], b[1], rtol=1e-8)


def test_exponential_and_negative_shapes():
    rng = np.random.default_rng(2)
    expo = rng.exponential(2.0, size=(5, 3000))
    xi, sigma = evt.fit_gpd(expo)
    assert np.abs(xi).max() < 0.08 and np.abs(sigma - 2).max() < 0.2
    bounded = ss.genpareto.rvs(-0.3, scale=1.0, size=(5, 3000), random_state=rng)
    xi, _ = evt.fit_gpd(bounded)
    assert np.all(np.abs(xi + 0.3) < 0.08)


def test_too_few_excesses_fall_back_with_a_warning():
    y = np.zeros((3, 50))
    y[0] = np.random.default_rng(0).exponential(1.0, 50)
    y[1, :4] = [1, 2, 3, 4]
    with pytest.warns(RuntimeWarning, match="exponential fit"):
        xi, sigma = evt.fit_gpd(y, counts=[50, 4, 0])
    assert xi[1] == 0 and sigma[1] == pytest.approx(2.5) and xi[2] == 0 and sigma[2] == 0


def test_bad_excesses_are_rejected():
    with pytest.raises(ValueError, match=">= 0"):
        evt.fit_gpd(-np.ones((2, 20)))
    with pytest.raises(ValueError, match="counts"):
        evt.fit_gpd(np.ones((2, 20)), counts=[30, 1])


def test_log_sf_in_log_space_and_beyond_the_endpoint():
    np.testing.assert_allclose(evt.gpd_log_sf(3.0, 0.5, 2.0), ss.genpareto.logsf(3.0, 0.5, scale=2.0))
    np.testing.assert_allclose(evt.gpd_log_sf(3.0, 0.0, 2.0), -1.5)
    assert evt.gpd_log_sf(1e6, 0.5, 1.0) > -np.inf                       # heavy tail: tiny but positive
    assert evt.gpd_log_sf(1e300, 0.5, 1.0) < -1000                      # no underflow to a NaN
    assert evt.gpd_log_sf(5.0, -0.5, 2.0) == -np.inf                     # endpoint at 4: probability 0


def test_normality_tests_reject_skewed_and_keep_normal_columns():
    rng = np.random.default_rng(0)
    samples = np.column_stack([rng.normal(size=(500, 20)), rng.lognormal(sigma=1.0, size=(500, 20)),
                               np.zeros((500, 1))])
    table = evt.normality_tests(samples)
    assert len(table) == 41 and table.constant.iloc[-1] and table.loc[40, "p_shapiro"] != table.loc[40, "p_shapiro"]
    for test in ("shapiro", "dagostino", "anderson", "lilliefors"):
        assert table[f"reject_{test}"].iloc[20:40].all()
        assert table[f"reject_{test}"].iloc[:20].mean() <= 0.1
    assert (table.skewness.iloc[20:40] > 1).all()
    with pytest.raises(ValueError, match="n >= 20"):
        evt.normality_tests(np.ones((5, 3)))


# ----------------------------------------------------------------------------- POT scoring
@pytest.fixture(scope="module")
def fitted(shapes_model):
    stats = st.paramsal.ParameterSaliency(shapes_model, progress=False).fit(Shapes(600, split="val"))
    return stats


def test_pot_scores_follow_the_fitted_tail(fitted):
    fit = fitted.tail_fit(0.9)
    assert fit.n_excesses == 60 and np.isclose(fit.log_rate, np.log(60 / 600))
    j = int(np.argmax(fit.scale))
    values = torch.zeros(2, len(fitted.index_))
    values[0, j] = float(fit.threshold[j] + fit.scale[j])
    values[1, j] = float(fit.threshold[j]) * 0.5
    pot = fitted.score(values, "pot")
    expected = -(fit.log_rate + evt.gpd_log_sf(fit.scale[j], fit.shape[j], fit.scale[j]))
    assert pot[0, j].item() == pytest.approx(expected, rel=1e-5)
    below = (fitted.sample_[:, j] >= values[1, j]).sum().item()
    assert pot[1, j].item() == pytest.approx(-np.log((below + 1) / (len(fitted.sample_) + 1)), rel=1e-5)


def test_values_beyond_a_negative_endpoint_rank_first(fitted):
    fit = fitted.tail_fit(0.9)
    bounded = np.flatnonzero((fit.shape < 0) & (fit.scale > 0))
    j = int(bounded[0]) if len(bounded) else None
    if j is None:                                     # no bounded tail here: make one
        object.__setattr__(fit, "shape", fit.shape.copy())
        j = int(np.argmax(fit.scale))
        fit.shape[j] = -0.5
    values = torch.as_tensor(fit.threshold, dtype=torch.float32)[None].repeat(1, 1) * 0.9
    values[0, j] = float(fit.threshold[j] - 3 * fit.scale[j] / fit.shape[j])    # past the endpoint
    scores = fitted.score(values, "pot")
    assert torch.isinf(scores[0, j]) and fitted.rank(values, "pot").query("column == @j")["rank"].item() == 1


def test_exponential_and_random_scorers_plug_in(fitted):
    values = torch.rand(3, len(fitted.index_)) * 1e-3
    for scorer in ("zscore", "pot", "exponential", "random"):
        table = fitted.rank(values, scorer)
        assert table.groupby("image")["rank"].apply(lambda r: sorted(r) == list(range(1, len(fitted.index_) + 1))).all()


def test_tail_quantile_needing_more_than_kept_warns(shapes_model):
    stats = st.paramsal.ParameterSaliency(shapes_model, max_tail=20, progress=False).fit(Shapes(400, split="val"))
    with pytest.warns(RuntimeWarning, match="max_tail"):
        fit = stats.tail_fit(0.9)
    assert fit.n_excesses == 20


# ----------------------------------------------------------------------------- planted faults
def test_planted_faults_restore_the_model(shapes_model):
    model = st.models.load("shapes-resnet")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(RuntimeError):
        with st.paramsal.planted_faults(model, [0, 700], factor=-1.0):
            assert torch.equal(model.conv1.weight[0], -before["conv1.weight"][0])
            raise RuntimeError("boom")
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    with pytest.raises(ValueError, match="out of range"):
        with st.paramsal.planted_faults(model, [10**6]):
            pass


def test_planted_fault_benchmark_table(shapes_model):
    model = st.models.load("shapes-resnet")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    table = st.paramsal.planted_fault_benchmark(model, Shapes(200, split="reference"), Shapes(300, split="test"),
                                                stages=["conv1"], n_faults=3, seeds=(0,), progress=False,
                                                reference_model="clean")
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert {"stage", "scorer", "recall@5", "best_rank", "n_induced"} <= set(table.columns)
    assert table.n_induced.iloc[0] > 0 and set(table.scorer) == {"zscore", "pot", "exponential", "random"}
    assert table["recall@50"].between(0, 1).all()


def test_anderson_darling_matches_statsmodels_where_it_is_finite():
    from statsmodels.stats.diagnostic import normal_ad
    x = np.random.default_rng(3).normal(size=(300, 6)) ** np.array([1, 1, 1, 3, 3, 3])
    ours, theirs = evt._anderson_darling_pvalue(x), normal_ad(x, axis=0)[1]
    finite = np.isfinite(theirs)
    assert finite[:3].all() and np.isfinite(ours).all()          # statsmodels overflows on heavy tails
    np.testing.assert_allclose(ours[finite], theirs[finite], rtol=1e-8, atol=1e-300)
    assert (ours[3:] < 1e-6).all()


def test_exponential_log_likelihood_has_the_right_sign():
    """Published-code defect 2b: the xi = 0 log-likelihood had the wrong sign."""
    y = np.random.default_rng(4).exponential(3.0, size=(1, 200))
    assert evt.gpd_loglik(y, [0.0], [3.0])[0] == pytest.approx(ss.expon.logpdf(y[0], scale=3.0).mean())
    assert evt.gpd_loglik(y, [0.0], [3.0])[0] > evt.gpd_loglik(y, [0.0], [30.0])[0]


def test_heavy_tails_get_positive_shapes_not_an_exponential():
    """Published-code defect 2a: its Grimshaw solver returned an exponential fit on heavy tails."""
    y = ss.genpareto.rvs(0.6, scale=1.0, size=(20, 400), random_state=np.random.default_rng(5))
    xi, _ = evt.fit_gpd(y)
    assert (xi > 0.3).all()


@pytest.mark.parametrize("builder, first_layer4", [("resnet18", 2240), ("resnet50", 15296)])
def test_last_stage_boundary_comes_from_the_model_not_a_constant(builder, first_layer4):
    """Published-code defect 3: a hard-coded conv5_x cut-off (ResNet-18's) used for ResNet-50."""
    import torchvision
    index = st.models.filter_index(getattr(torchvision.models, builder)(weights=None))
    assert index[index.stage == "layer4"].column.min() == first_layer4


# ----------------------------------------------------------------------------- the GPD's parameters, refused when invalid
SHAPES = hst.floats(-0.9, 2.0, allow_nan=False)
SCALES = hst.floats(1e-3, 1e3, allow_nan=False)
EXCESSES = hst.floats(0.0, 1e6, allow_nan=False)


@given(EXCESSES, SHAPES, SCALES)
def test_gpd_log_sf_is_a_log_probability_equal_to_scipy_s(excess, shape, scale):
    out = float(evt.gpd_log_sf(excess, shape, scale))
    assert out <= 0.0
    expected = float(ss.genpareto.logsf(excess, shape, scale=scale))
    assert out == expected or np.isclose(out, expected, rtol=1e-7, atol=1e-9), (out, expected)


@given(EXCESSES, SHAPES, hst.one_of(hst.floats(max_value=0.0, allow_nan=False), hst.just(float("nan")),
                                    hst.just(float("inf"))))
def test_gpd_log_sf_refuses_a_scale_no_gpd_has(excess, shape, scale):
    with pytest.raises(ValueError, match="scales must be finite and > 0"):
        evt.gpd_log_sf(excess, shape, scale)


@pytest.mark.parametrize("excess, shape, scale, message", [
    (1.0, float("nan"), 1.0, "shapes must be finite"), (1.0, float("inf"), 1.0, "shapes must be finite"),
    (float("nan"), 0.1, 1.0, "must not be NaN"), ([1.0, 2.0, 3.0], [0.1, 0.2], 1.0, "do not broadcast"),
])
def test_gpd_log_sf_refuses_nan_and_misshaped_input(excess, shape, scale, message):
    with pytest.raises(ValueError, match=message):
        evt.gpd_log_sf(excess, shape, scale)


def test_the_review_s_probability_above_one_is_refused():
    with pytest.raises(ValueError, match="scales must be finite and > 0"):
        evt.gpd_log_sf(1.0, 0.1, -1.0)          # returned +1.05 before


@pytest.mark.parametrize("excesses", [np.array([]), np.zeros((3, 0)), np.zeros((2, 2, 2))])
def test_fit_gpd_refuses_empty_or_misshaped_excesses(excesses):
    with pytest.raises(ValueError, match=r"non-empty \[F, n\] array"):
        evt.fit_gpd(excesses)


def test_gpd_loglik_refuses_invalid_parameters():
    y = np.ones((2, 12))
    with pytest.raises(ValueError, match="scales"):
        evt.gpd_loglik(y, [0.1, 0.1], [1.0, 0.0])
    with pytest.raises(ValueError, match="one value per row"):
        evt.gpd_loglik(y, [0.1], [1.0])
