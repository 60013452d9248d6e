"""Property-based tests (hypothesis): the input gate, the metrics, the GPD fit, occlusion against Captum and
the statistics file format hold for every input hypothesis can think of, not only the ones we picked."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.stats as ss
import torch
import torch.nn as nn
from captum.attr import Occlusion
from hypothesis import HealthCheck, given, settings, strategies as hs
from hypothesis.extra.numpy import arrays

import saltools as st
from saltools import checks
from saltools.paramsal import storage

FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                        HealthCheck.function_scoped_fixture])
unit_floats = hs.floats(0, 1, width=32)


def image_batches(max_side: int = 6):
    shapes = hs.tuples(hs.integers(1, 3), hs.integers(1, 3), hs.integers(1, max_side), hs.integers(1, max_side))
    return shapes.flatmap(lambda shape: arrays(np.float32, shape, elements=unit_floats))


# ----------------------------------------------------------------------------- the input gate
@FAST
@given(image_batches(), hs.sampled_from([torch.float32, torch.float64]))
def test_images_in_zero_one_pass_unchanged(batch, dtype):
    x = torch.from_numpy(batch).to(dtype)
    assert checks.images(x) is x


@FAST
@given(image_batches(), hs.data(), hs.sampled_from([float("nan"), float("inf"), -float("inf")]))
def test_one_non_finite_value_is_refused_and_located(batch, data, bad):
    x = torch.from_numpy(batch)
    where = tuple(data.draw(hs.integers(0, s - 1)) for s in x.shape)
    x[where] = bad
    with pytest.raises(ValueError, match=rf"must be finite; .* the first at images\[{', '.join(map(str, where))}\]"):
        checks.images(x)


@FAST
@given(image_batches(), hs.data(), hs.floats(1e-3, 1e6) | hs.floats(-1e6, -1e-3))
def test_values_outside_zero_one_are_refused(batch, data, offset):
    x = torch.from_numpy(batch).double()
    where = tuple(data.draw(hs.integers(0, s - 1)) for s in x.shape)
    x[where] = (1 + offset) if offset > 0 else offset
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        checks.images(x)


@FAST
@given(image_batches(), hs.sampled_from([torch.uint8, torch.int32, torch.int64, torch.bool]))
def test_integer_images_are_refused_by_type(batch, dtype):
    with pytest.raises(TypeError, match="floating point"):
        checks.images(torch.from_numpy(batch).to(dtype))


@FAST
@given(hs.integers(1, 20), hs.data())
def test_labels_pass_exactly_when_they_are_in_range(classes, data):
    labels = data.draw(hs.lists(hs.integers(-3, classes + 3), min_size=1, max_size=12))
    if all(0 <= y < classes for y in labels):
        assert checks.labels(labels, len(labels), classes=classes).tolist() == labels
    else:
        with pytest.raises(ValueError, match="must lie in"):
            checks.labels(labels, len(labels), classes=classes)


@FAST
@given(hs.integers(-10, 10) | hs.floats(-3, 3) | hs.booleans())
def test_positive_int(value):
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        assert checks.positive_int(value, "n") == value
    else:
        with pytest.raises((TypeError, ValueError), match="n must be a positive integer"):
            checks.positive_int(value, "n")


# ----------------------------------------------------------------------------- metrics
curves = hs.tuples(hs.integers(1, 4), hs.integers(2, 12)).flatmap(
    lambda shape: arrays(np.float64, shape, elements=hs.floats(-10, 10)))


@FAST
@given(curves, hs.floats(-5, 5), hs.floats(-5, 5))
def test_auc_is_linear_and_bounded_and_aopc_of_a_flat_curve_is_zero(c, scale, shift):
    c = torch.from_numpy(c)
    area = st.metrics.auc(c)
    assert torch.all(area >= c.min(1).values - 1e-9) and torch.all(area <= c.max(1).values + 1e-9)
    assert torch.allclose(st.metrics.auc(scale * c + shift), scale * area + shift, atol=1e-9)
    flat = c[:, :1].expand_as(c)
    assert torch.allclose(st.metrics.aopc(flat), torch.zeros(len(c), dtype=c.dtype))


maps_and_masks = hs.tuples(hs.integers(1, 3), hs.integers(1, 6), hs.integers(1, 6)).flatmap(
    lambda shape: hs.tuples(arrays(np.float32, shape, elements=hs.floats(-5, 5, width=32)),
                            arrays(np.bool_, shape)))


@FAST
@given(maps_and_masks)
def test_localization_scores_are_shares(pair):
    """Shares in [0, 1] wherever defined, NaN exactly where undefined (an empty mask, a map without
    relevance for the mass, a constant map for the rank)."""
    maps, masks = torch.from_numpy(pair[0]), torch.from_numpy(pair[1])
    flat = maps.abs().flatten(1)
    empty, live, constant = ~masks.flatten(1).any(1), flat.sum(1) > 0, flat.amax(1) == flat.amin(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", st.metrics.UndefinedMetricWarning)
        mass, rank = st.metrics.relevance_mass(maps, masks), st.metrics.relevance_rank(maps, masks)
        whole = st.metrics.relevance_mass(maps, torch.ones_like(masks))
    for score, undefined in ((mass, empty | ~live), (rank, empty | constant)):
        assert torch.equal(torch.isnan(score), undefined)
        assert torch.all((score[~undefined] >= 0) & (score[~undefined] <= 1 + 1e-6))
    assert torch.allclose(whole[live], torch.ones(int(live.sum())))


@FAST
@given(hs.integers(2, 8).flatmap(lambda n: hs.tuples(arrays(np.float64, n, elements=hs.integers(0, 4)),
                                                     arrays(np.float64, n, elements=hs.integers(0, 4)))))
def test_kendall_tau_equals_scipy_with_ties(pair):
    x, y = pair
    theirs = ss.kendalltau(x, y).statistic
    ours = st.metrics.kendall_tau(x, y)
    assert (np.isnan(ours) and np.isnan(theirs)) or np.isclose(ours, theirs)


# ----------------------------------------------------------------------------- the GPD fit
excess_rows = hs.tuples(hs.integers(1, 4), hs.integers(12, 60)).flatmap(
    lambda shape: arrays(np.float64, shape, elements=hs.floats(1e-3, 1e3)))


@FAST
@given(excess_rows, hs.floats(1e-2, 1e2))
def test_gpd_fit_is_scale_equivariant_valid_and_at_least_as_good_as_the_exponential(y, c):
    shape, scale = st.evt.fit_gpd(y)
    assert np.all(shape >= -1) and np.all(scale > 0)
    shape_c, scale_c = st.evt.fit_gpd(c * y)
    assert np.allclose(shape_c, shape, atol=1e-5) and np.allclose(scale_c, c * scale, rtol=1e-4)
    fitted = st.evt.gpd_loglik(y, shape, scale)
    exponential = st.evt.gpd_loglik(y, np.zeros(len(y)), y.mean(1))
    assert np.all(fitted >= exponential - 1e-9)


@settings(max_examples=10, deadline=None)
@given(hs.floats(-0.4, 0.8), hs.integers(0, 10 ** 6))
def test_gpd_fit_is_at_least_as_likely_as_scipys(true_shape, seed):
    y = ss.genpareto.rvs(true_shape, scale=2.0, size=150, random_state=seed)[None]
    shape, scale = st.evt.fit_gpd(y)
    c, _, s = ss.genpareto.fit(y[0], floc=0)
    assert st.evt.gpd_loglik(y, shape, scale)[0] >= st.evt.gpd_loglik(y, [c], [s])[0] - 1e-6


# ----------------------------------------------------------------------------- occlusion against Captum
@settings(max_examples=25, deadline=None)
@given(hs.integers(4, 12), hs.integers(4, 12), hs.data())
def test_occlusion_windows_equal_captums_for_every_window_and_stride(h, w, data):
    window = data.draw(hs.integers(1, min(h, w)))
    stride = data.draw(hs.integers(1, window))
    weights = torch.rand(3, h, w, dtype=torch.float64, generator=torch.Generator().manual_seed(h * w))

    def linear(x):
        return torch.stack([(x * weights).sum((1, 2, 3)), -(x * weights).sum((1, 2, 3))], 1)
    model = LinearModel(linear)
    images = torch.rand(1, 3, h, w, dtype=torch.float64)
    ours = st.perturb.occlusion(model, images, 0, window=window, stride=stride)
    theirs = Occlusion(linear).attribute(images, sliding_window_shapes=(3, window, window),
                                         strides=(3, stride, stride), baselines=0.0, target=0)
    assert torch.allclose(ours, theirs.double().sum(1) / 3, atol=1e-5)


class LinearModel(nn.Module):
    def __init__(self, function):
        super().__init__()
        self.function = function
        self.anchor = nn.Parameter(torch.zeros(1, dtype=torch.float64))      # a parameter: the device and dtype

    def forward(self, x):
        return self.function(x)


# ----------------------------------------------------------------------------- the statistics file format
INDEX = st.models.filter_index(nn.Sequential(nn.Conv2d(3, 4, 3), nn.Conv2d(4, 2, 1)))


@hs.composite
def statistics(draw):
    n, max_tail, sample_size = draw(hs.integers(1, 40)), draw(hs.integers(1, 8)), draw(hs.integers(1, 8))
    f = len(INDEX)
    values = hs.floats(0, 1e3, width=32)
    return {"n": n, "max_tail": max_tail, "sample_size": sample_size,
            "mean": torch.from_numpy(draw(arrays(np.float64, f, elements=values))),
            "m2": torch.from_numpy(draw(arrays(np.float64, f, elements=values))),
            "tail": torch.from_numpy(draw(arrays(np.float32, (min(max_tail + 1, n), f), elements=values))),
            "sample": torch.from_numpy(draw(arrays(np.float32, (min(sample_size, n), f), elements=values))),
            "fingerprints": torch.from_numpy(draw(arrays(np.int64, n)))}


@FAST
@given(statistics(), hs.data())
def test_statistics_files_round_trip_and_a_flipped_byte_never_loads_other_values(tmp_path, state, data):
    path = tmp_path / "stats.pt"
    storage.write(state, INDEX, path)
    back = storage.read(path, INDEX)
    for key in ("mean", "m2", "tail", "sample", "fingerprints"):
        assert torch.equal(back[key], state[key])
    raw = bytearray(path.read_bytes())
    position = data.draw(hs.integers(0, len(raw) - 1))
    raw[position] ^= 1 << data.draw(hs.integers(0, 7))
    path.write_bytes(bytes(raw))
    try:
        again = storage.read(path, INDEX)
    except storage.StatisticsFileError:
        return
    assert all(torch.equal(again[key], state[key]) for key in ("mean", "m2", "tail", "sample", "fingerprints"))
    assert [int(again[k]) for k in ("n", "max_tail", "sample_size")] == [state[k] for k in ("n", "max_tail",
                                                                                             "sample_size")]
