"""Every public function that takes images meets every kind of bad input with a clear ``ValueError`` or
``TypeError`` from the input gate (``saltools.checks``), and float64 images give its float32 result.

``GATED`` lists the functions, each as a call ``f(model, images, labels)``; ``BAD_INPUTS`` the kinds of bad
input, each as a change of the (images, labels) pair. The matrix of both is the test.
"""
from __future__ import annotations

import functools
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

import saltools as st
from saltools.paramsal import DegenerateStatisticsWarning, ParameterSaliency

N = 2


def shapes_batch():
    data = st.data.Shapes(N, split="test")
    return data.images, data.labels


def dataset(x, y):
    return torch.utils.data.TensorDataset(x, y)


@functools.lru_cache(maxsize=1)
def stats_for(model):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateStatisticsWarning)
        return ParameterSaliency(model, progress=False, max_tail=4, sample_size=4).fit(
            st.data.Shapes(4, split="reference"))


def maps_like(x):
    return torch.rand(len(x), *x.shape[-2:]) if x.ndim == 4 else torch.rand(N, 64, 64)


#: name -> f(model, images, labels): every public function (or method) that takes images
GATED = {
    "paramsal.filter_saliency": lambda m, x, y: st.paramsal.filter_saliency(m, x, y),
    "paramsal.filter_saliency_loop": lambda m, x, y: st.paramsal.filter_saliency_loop(m, x, y),
    "ParameterSaliency.fit": lambda m, x, y: ParameterSaliency(m, progress=False).fit(x, y),
    "ParameterSaliency.partial_fit": lambda m, x, y: ParameterSaliency(m, progress=False).partial_fit(x, y),
    "ParameterSaliency.saliency": lambda m, x, y: stats_for(m).saliency(x, y),
    "paramsal.reference_statistics": lambda m, x, y: st.paramsal.reference_statistics(m, dataset(x, y), cache=False,
                                                                                      progress=False),
    "paramsal.intervention_curves": lambda m, x, y: st.paramsal.intervention_curves(
        m, x, y, torch.rand(len(x), len(st.models.filter_index(m))), ks=[1], methods=["finetune"],
        selections=["salient"], progress=False),
    "paramsal.projections": lambda m, x, y: st.paramsal.projections(stats_for(m), x, y),
    "paramsal.edited_probabilities": lambda m, x, y: st.paramsal.edited_probabilities(
        m, x[-1] if x.ndim == 4 and len(x) else x, y[-1] if len(y) else 0, [1], method="finetune"),
    "paramsal.planted_fault_benchmark": lambda m, x, y: st.paramsal.planted_fault_benchmark(
        m, st.data.Shapes(4), dataset(x, y), stages=["layer4"], ks=[1], progress=False),
    "models.predict": lambda m, x, y: st.models.predict(m, x),
    "models.accuracy": lambda m, x, y: st.models.accuracy(m, x, y),
    "models.mistakes": lambda m, x, y: st.models.mistakes(m, dataset(x, y)),
    "models.train": lambda m, x, y: st.models.train(m, dataset(x, y), epochs=1, progress=False),
    "models.fit_normalization": lambda m, x, y: st.models.fit_normalization(m, x),
    "rectgrad.RectGrad": lambda m, x, y: st.rectgrad.RectGrad(m).attribute(x, y),
    "attributions.attribute": lambda m, x, y: st.attributions.attribute(m, "Saliency", x, y),
    "perturb.occlusion": lambda m, x, y: st.perturb.occlusion(m, x, y, window=16, stride=16),
    "perturb.rise": lambda m, x, y: st.perturb.rise(m, x, y, n_masks=4),
    "perturb.superpixels": lambda m, x, y: st.perturb.superpixels(x, n_segments=4),
    "perturb.superpixel_ablation": lambda m, x, y: st.perturb.superpixel_ablation(m, x, y, n_segments=4),
    "perturb.maps_by_baseline": lambda m, x, y: st.perturb.maps_by_baseline(m, x, y, baselines=["black"], window=32,
                                                                            stride=32),
    "baselines.baseline_images": lambda m, x, y: st.baselines.baseline_images("blur", x),
    "baselines.baseline_predictions": lambda m, x, y: st.baselines.baseline_predictions(m, x, range(10), ["black"]),
    "metrics.perturbation_curve": lambda m, x, y: st.metrics.perturbation_curve(m, x, maps_like(x), y, steps=2),
    "metrics.luminance_correlation": lambda m, x, y: st.metrics.luminance_correlation(maps_like(x), x),
    "metrics.road_curve": lambda m, x, y: st.metrics.road_curve(m, x, maps_like(x), y, percentages=(50,)),
    "metrics.faithfulness_correlation": lambda m, x, y: st.metrics.faithfulness_correlation(
        m, x, maps_like(x), y, subset_size=64, n_subsets=4),
    "baselines.road_imputation": lambda m, x, y: st.baselines.road_imputation(x, maps_like(x) < 0.5),
    "data.corrupt": lambda m, x, y: st.data.corrupt(x, "fog", 2),
    "leakage.filled": lambda m, x, y: st.leakage.filled(x, maps_like(x) < 0.5, "road"),
    "leakage.model_leak": lambda m, x, y: st.leakage.model_leak(m, x, maps_like(x) < 0.5, y, substrates=["black"]),
    "experiments.srg_scores": lambda m, x, y: st.experiments.srg_scores(m, x, y, {"a": maps_like(x)},
                                                                        substrates=["black", "road"], steps=2),
    "experiments.blur_control": lambda m, x, y: st.experiments.blur_control(m, x, y, {"a": maps_like(x)}, steps=2,
                                                                            n_subsets=2),
    "experiments.occlusion_distance": lambda m, x, y: st.experiments.occlusion_distance(   # it needs two images
        m, x.repeat(2, 1, 1, 1) if x.ndim == 4 and len(x) == 1 else x, ["black"]),
    "experiments.compare": lambda m, x, y: st.experiments.compare(m, x, y, torch.ones(len(x), *x.shape[-2:]),
                                                                  methods=["Saliency"]),
}
#: functions without labels (or that take an image's predicted class), for the label rows
NO_LABELS = {"models.predict", "models.fit_normalization", "perturb.superpixels", "baselines.baseline_images",
             "baselines.baseline_predictions", "metrics.luminance_correlation", "data.corrupt",
             "baselines.road_imputation", "leakage.filled", "experiments.occlusion_distance",
             "paramsal.planted_fault_benchmark"}


def with_nan(x, y, value=float("nan")):
    x = x.clone()
    x[-1, 1, 5, 7] = value
    return x, y


#: kind -> (change of (images, labels), the error, words the message must contain)
BAD_INPUTS = {
    "NaN pixel": (with_nan, ValueError, "must be finite"),
    "Inf pixel": (lambda x, y: with_nan(x, y, -float("inf")), ValueError, "must be finite"),
    "0..255 floats": (lambda x, y: (x * 255, y), ValueError, "divide by 255"),
    "normalized": (lambda x, y: ((x - 0.5) / 0.25, y), ValueError, "look normalized"),
    "uint8": (lambda x, y: ((x * 255).to(torch.uint8), y), TypeError, "divide by 255"),
    "one image without the batch axis": (lambda x, y: (x[0] if x.ndim == 4 else x[0, 0], y), ValueError, "shape"),
    "empty batch": (lambda x, y: (x[:0], y[:0]), ValueError, "at least one image|empty|has no images|must have shape"),
    "two channels": (lambda x, y: (x[:, :2] if x.ndim == 4 else x, y), ValueError,
                     "2 channels but the model's first convolution takes 3|must be RGB"),
    "labels out of range": (lambda x, y: (x, y + 10), ValueError, "must lie in"),
    "wrong number of labels": (lambda x, y: (x, y[:-1]), ValueError, "one label per image"),
    "float labels": (lambda x, y: (x, y.float()), TypeError, "integer class indices|label must be a non-negative integer"),
}
#: functions of images alone (no model), whose operations hold for any number of channels
ANY_CHANNELS = {"baselines.baseline_images", "baselines.road_imputation", "data.corrupt", "leakage.filled",
                "models.fit_normalization", "perturb.superpixels"}
SINGLE_IMAGE = {"paramsal.edited_probabilities"}          # takes one image [C, H, W]: its "batch axis" row differs
#: functions that read (image, label) pairs from a Dataset, which cannot hold a wrong number of labels
FROM_DATASETS = {"paramsal.reference_statistics", "models.mistakes", "models.train"}
#: an empty batch has a well-defined empty answer here (no mistakes, no logits)
EMPTY_ANSWERS = {"models.predict": lambda out: out.numel() == 0, "models.mistakes": lambda out: len(out) == 0}


def cases():
    for name in sorted(GATED):
        for kind in BAD_INPUTS:
            if "label" in kind and name in NO_LABELS or (kind == "wrong number of labels" and
                                                         name in FROM_DATASETS | SINGLE_IMAGE):
                continue
            if kind == "two channels" and name in ANY_CHANNELS:
                continue
            yield name, kind


@pytest.fixture(scope="module")
def model():
    return st.models.load("shapes-resnet")


@pytest.mark.parametrize("name, kind", list(cases()))
def test_bad_input_gets_a_clear_error(model, name, kind):
    change, error, words = BAD_INPUTS[kind]
    x, y = change(*shapes_batch())
    if kind == "one image without the batch axis":
        if name in SINGLE_IMAGE:
            x = x[0]                                                       # [H, W] for a one-image function
        elif name in FROM_DATASETS | {"paramsal.planted_fault_benchmark"}:
            x = shapes_batch()[0][:, 0]                                    # a Dataset of [H, W] items
    if kind == "empty batch" and name in EMPTY_ANSWERS:
        assert EMPTY_ANSWERS[name](GATED[name](model, x, y))
        return
    with pytest.raises(error, match=words):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DegenerateStatisticsWarning)
            GATED[name](model, x, y)


FLOAT64_EXEMPT = {"models.train", "models.fit_normalization", "ParameterSaliency.fit", "ParameterSaliency.partial_fit",
                  "paramsal.reference_statistics", "paramsal.planted_fault_benchmark"}   # change state: compared below


@pytest.mark.parametrize("name", sorted(set(GATED) - FLOAT64_EXEMPT))
def test_float64_images_give_the_float32_result(model, name):
    x, y = (t[:1] for t in shapes_batch())
    torch.manual_seed(0)
    single = GATED[name](model, x, y)
    torch.manual_seed(0)
    double = GATED[name](model, x.double(), y)
    assert_close(single, double)


def assert_close(single, double):
    if isinstance(single, dict):
        for key in single:
            assert_close(single[key], double[key])
    elif isinstance(single, torch.Tensor):
        assert torch.allclose(double.float(), single.float(), rtol=1e-3, atol=1e-5)
    elif isinstance(single, st.models.Mistakes):
        assert torch.equal(single.indices, double.indices) and torch.equal(single.predictions, double.predictions)
    elif isinstance(single, float):
        assert single == pytest.approx(double, abs=1e-6)
    else:
        numeric = single.select_dtypes("number").columns
        assert (single[numeric] - double[numeric]).abs().max().max() < 1e-3


def test_float64_reference_sets_fit_the_float32_statistics(model):
    x, y = shapes_batch()
    single = ParameterSaliency(model, progress=False).fit(x, y)
    double = ParameterSaliency(model, progress=False).fit(x.double(), y)
    assert torch.allclose(single.mean_, double.mean_, rtol=1e-4)


#: name -> f(model, images, labels, size): every size argument (batch sizes, chunks, counts, windows)
SIZES = {
    "filter_saliency(batch_size)": lambda m, x, y, k: st.paramsal.filter_saliency(m, x, y, batch_size=k),
    "ParameterSaliency(batch_size)": lambda m, x, y, k: ParameterSaliency(m, batch_size=k),
    "ParameterSaliency(max_tail)": lambda m, x, y, k: ParameterSaliency(m, max_tail=k),
    "ParameterSaliency(sample_size)": lambda m, x, y, k: ParameterSaliency(m, sample_size=k),
    "reference_statistics(batch_size)": lambda m, x, y, k: st.paramsal.reference_statistics(
        m, dataset(x, y), batch_size=k, cache=False),
    "input_projection(top)": lambda m, x, y, k: st.paramsal.input_projection(stats_for(m), x[0], int(y[0]), top=k),
    "predict(batch_size)": lambda m, x, y, k: st.models.predict(m, x, batch_size=k),
    "accuracy(batch_size)": lambda m, x, y, k: st.models.accuracy(m, dataset(x, y), batch_size=k),
    "mistakes(batch_size)": lambda m, x, y, k: st.models.mistakes(m, dataset(x, y), batch_size=k),
    "mistakes(limit)": lambda m, x, y, k: st.models.mistakes(m, dataset(x, y), limit=k),
    "train(epochs)": lambda m, x, y, k: st.models.train(m, dataset(x, y), epochs=k, progress=False),
    "train(batch_size)": lambda m, x, y, k: st.models.train(m, dataset(x, y), batch_size=k, progress=False),
    "attribute(batch_size)": lambda m, x, y, k: st.attributions.attribute(m, "Saliency", x, y, batch_size=k),
    "occlusion(window)": lambda m, x, y, k: st.perturb.occlusion(m, x, y, window=k),
    "occlusion(stride)": lambda m, x, y, k: st.perturb.occlusion(m, x, y, stride=k),
    "occlusion(chunk)": lambda m, x, y, k: st.perturb.occlusion(m, x, y, chunk=k),
    "rise(n_masks)": lambda m, x, y, k: st.perturb.rise(m, x, y, n_masks=k),
    "rise(grid)": lambda m, x, y, k: st.perturb.rise(m, x, y, grid=k),
    "rise(chunk)": lambda m, x, y, k: st.perturb.rise(m, x, y, chunk=k),
    "superpixel_ablation(n_segments)": lambda m, x, y, k: st.perturb.superpixel_ablation(m, x, y, n_segments=k),
    "superpixel_ablation(chunk)": lambda m, x, y, k: st.perturb.superpixel_ablation(m, x, y, chunk=k),
    "perturbation_curve(steps)": lambda m, x, y, k: st.metrics.perturbation_curve(m, x, maps_like(x), y, steps=k),
    "perturbation_curve(chunk)": lambda m, x, y, k: st.metrics.perturbation_curve(m, x, maps_like(x), y, chunk=k),
}


@pytest.mark.parametrize("name", sorted(SIZES))
@pytest.mark.parametrize("size, error", [(0, ValueError), (-3, ValueError), (2.5, TypeError), (True, TypeError)])
def test_sizes_below_one_or_not_integers_are_refused(model, name, size, error):
    x, y = shapes_batch()
    with pytest.raises(error, match="must be a positive integer"):
        SIZES[name](model, x, y, size)


# ----------------------------------------------------------------------------- parameters, second pass (issue 32)
@pytest.mark.parametrize("call, error, message", [
    (lambda: st.profiles.get("embedded").with_(batch_size=0), ValueError, "Profile: batch_size must be a positive"),
    (lambda: st.profiles.get("embedded").with_(n_reference=-5), ValueError, "Profile: n_reference must be a positive"),
    (lambda: st.profiles.get("embedded").with_(tail_quantile=1.0), ValueError, r"Profile: tail_quantile must be a number in \(0, 1\); got 1.0"),
    (lambda: st.profiles.get("embedded").with_(scale="huge"), ValueError, "Profile: scale must be one of"),
    (lambda: st.data.Shapes(2, start=-1), ValueError, "start must be a non-negative integer"),
    (lambda: st.data.Shapes(2, texture=-0.5), ValueError, "texture must be a finite number >= 0"),
    (lambda: st.data.Shapes(2, clutter=-2), ValueError, "clutter must be a non-negative integer"),
    (lambda: st.evt.normality_tests(np.random.default_rng(0).random((30, 4)), alpha=2), ValueError,
     r"normality_tests: alpha must be a number in \(0, 1\); got 2"),
    (lambda: st.evt.normality_tests(np.random.default_rng(0).random((30, 4)), alpha=True), TypeError,
     "alpha must be a number"),
    (lambda: st.evt.normality_tests(np.random.default_rng(0).random((30, 4)), index=pd.DataFrame({"a": [1, 2]})),
     ValueError, "index must have one row per filter"),
    (lambda: st.rectgrad.RectGrad(st.models.load("shapes-resnet"), threshold=float("nan")), ValueError,
     "threshold must be a finite number"),
    (lambda: st.rectgrad.RectGrad(st.models.load("shapes-resnet"), percentile=101), ValueError,
     "percentile must be a number in"),
    (lambda: st.depth.top_k_counts(torch.zeros(2, 3), ["a", "b", "c"], 0), ValueError, "k must be a positive"),
    (lambda: st.depth.top_k_counts(torch.zeros(2, 3), ["a", "b"], 1), ValueError, r"scores must be \[N, 2\]"),
    (lambda: st.leakage.removal_masks(torch.zeros(1, 4, 4), 0.5, order="least"), ValueError, "order must be"),
    (lambda: st.depth.shift_conditions(corruptions=["fog", "snowstorm"]), ValueError,
     r"unknown corruptions \['snowstorm'\]"),
    (lambda: st.depth.shift_conditions(domains=["source", "winter"]), ValueError, r"unknown domains \['winter'\]"),
    (lambda: st.depth.shift_conditions(severities=(0, 3, 6)), ValueError, r"severities must be integers from 1 to 5; got \[0, 6\]"),
    (lambda: st.metrics.auc(torch.tensor([[0.1, float("nan")]])), ValueError, "curves must be finite"),
])
def test_parameters_are_refused_with_what_was_expected_and_what_came(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_predict_on_no_images_has_one_column_per_class():
    model = st.models.load("shapes-resnet")
    assert st.models.predict(model, torch.zeros(0, 3, 64, 64)).shape == (0, model(torch.zeros(1, 3, 64, 64)).shape[1])


def test_a_model_with_no_weights_yet_is_refused_before_any_computation():
    model = st.models.load("shapes-resnet").to("meta")
    x, y = shapes_batch()
    for call in (lambda: st.models.predict(model, x), lambda: st.attributions.attribute(model, "Saliency", x, y)):
        with pytest.raises(ValueError, match="meta device .* load its weights first"):
            call()
