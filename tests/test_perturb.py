"""Perturbation methods, baselines and causal metrics: exact against Captum and naive formulas."""
import copy

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from captum.attr import Occlusion

import saltools as st
from saltools import perturb as P
from tests.test_rectgrad import _same, _snapshot


def tiny_model():
    torch.manual_seed(3)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(),
                         nn.Linear(16, 5)).double().eval()


@pytest.fixture
def images():
    return torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(0), dtype=torch.float64)


@pytest.mark.parametrize("baseline, window, stride", [("black", 4, 2), ("dataset_mean", 4, 2), ("blur", 4, 2),
                                                      ("uniform", 4, 2), ("black", 6, 5), ("black", 5, 3)])
def test_occlusion_equals_captum(images, baseline, window, stride):
    """Also where the windows do not tile the image (16 - 6 is no multiple of 5): Captum then adds a
    last, edge-clipped window, so every row and column is covered."""
    model, target = tiny_model(), torch.tensor([0, 2, 4])
    ours = P.occlusion(model, images, target, baseline=baseline, window=window, stride=stride, chunk=7)
    fill = P.baseline_images(baseline, images)
    fills = torch.stack([P.baseline_images(baseline, images[n:n + 1], seed=n)[0] for n in range(3)])
    theirs = Occlusion(model).attribute(images, sliding_window_shapes=(3, window, window), strides=(3, stride, stride),
                                        baselines=fills if baseline == "uniform" else fill, target=target,
                                        perturbations_per_eval=1)
    assert torch.allclose(ours, theirs.double().sum(1) / 3, atol=1e-6)   # Captum accumulates in float32
    assert (P.occlusion_masks((16, 16), window, stride) == 0).any(0).all()  # every pixel is occluded once


def test_rise_equals_the_naive_formula(images):
    model, target = tiny_model(), torch.tensor([1, 2, 3])
    masks = P.rise_masks(50, (16, 16), grid=4, p1=0.3, seed=5).double()
    fill = P.baseline_images("dataset_mean", images)
    expected = torch.zeros(3, 16, 16, dtype=torch.float64)
    with torch.no_grad():
        for n in range(3):
            for m in masks:
                x = images[n] * m + fill[n] * (1 - m)
                expected[n] += F.softmax(model(x[None]), 1)[0, target[n]] * m[0]
    expected /= 50 * 0.3
    ours = P.rise(model, images, target, n_masks=50, grid=4, p1=0.3, seed=5, chunk=8)
    assert torch.allclose(ours.double(), expected, atol=1e-10)


def test_rise_masks_follow_the_recipe():
    masks = P.rise_masks(400, (20, 20), grid=5, p1=0.25, seed=1)
    assert masks.shape == (400, 1, 20, 20) and masks.min() >= 0 and masks.max() <= 1
    assert abs(masks.mean().item() - 0.25) < 0.03
    assert torch.equal(masks, P.rise_masks(400, (20, 20), grid=5, p1=0.25, seed=1))
    assert not torch.equal(masks, P.rise_masks(400, (20, 20), grid=5, p1=0.25, seed=2))
    with pytest.raises(ValueError, match="p1"):
        P.rise_masks(10, (20, 20), p1=0)


def test_baselines_are_images_and_inpainting_keeps_the_rest(images):
    for name in P.BASELINES:
        b = P.baseline_images(name, images.float())
        assert b.shape == images.shape and b.min() >= 0 and b.max() <= 1, name
    removed = torch.zeros(3, 1, 16, 16, dtype=torch.bool)
    removed[:, :, 5:11, 5:11] = True
    ramp = torch.linspace(0, 1, 16).view(1, 1, 1, 16).expand(3, 3, 16, 16).clone()
    filled = P.baseline_images("inpaint", ramp, removed)
    assert torch.equal(filled[~removed.expand_as(ramp)], ramp[~removed.expand_as(ramp)])
    assert (filled - ramp).abs().max() < 0.05          # a linear ramp is harmonic: the fill recovers it
    with pytest.raises(ValueError, match="baseline_images: name must be one of"):
        P.baseline_images("grey", images)


def test_methods_leave_the_model_alone_and_reject_bad_input(shapes_model):
    model = copy.deepcopy(shapes_model).train()
    snap = _snapshot(model)
    ds = st.data.Shapes(2)
    P.occlusion(model, ds.images, ds.labels, baseline="inpaint", window=16, stride=16)
    P.rise(model, ds.images, n_masks=20)
    P.superpixel_ablation(model, ds.images, ds.labels)
    assert _same(model, snap)
    with pytest.raises(ValueError, match="window"):
        P.occlusion(model, ds.images, window=100)
    with pytest.raises(ValueError, match="class indices"):
        P.occlusion(model, ds.images, target=[1, 2, 3])
    with pytest.raises(ValueError, match="baseline must be one of"):
        P.rise(model, ds.images, baseline="zeros")
    assert _same(model, snap)


def test_baseline_predictions_table(shapes_model):
    table = P.baseline_predictions(shapes_model, st.data.Shapes(2).images, st.data.CLASSES)
    assert set(table.baseline) == set(P.BASELINES) and table.probability.between(0, 1).all()
    assert (table.entropy <= np.log(10) + 1e-6).all()


def test_perturbation_curves_start_and_end_where_they_must(images):
    model, target = tiny_model(), torch.tensor([0, 1, 2])
    maps = torch.rand(3, 16, 16, dtype=torch.float64)
    with torch.no_grad():
        full = F.softmax(model(images), 1)[torch.arange(3), target]
        empty = F.softmax(model(torch.zeros_like(images)), 1)[torch.arange(3), target]
    deletion = st.metrics.perturbation_curve(model, images, maps, target, steps=8, chunk=3)
    insertion = st.metrics.perturbation_curve(model, images, maps, target, mode="insertion", steps=8)
    assert deletion.shape == (3, 9)
    assert torch.allclose(deletion[:, 0], full) and torch.allclose(deletion[:, -1], empty)
    assert torch.allclose(insertion[:, 0], empty) and torch.allclose(insertion[:, -1], full)
    # step 3 of MoRF deletion: the 3/8 most relevant pixels by |map| replaced by black
    order = maps[1].flatten().argsort(descending=True)[:96]
    x = images[1].clone().view(3, -1)
    x[:, order] = 0
    with torch.no_grad():
        assert torch.isclose(deletion[1, 3], F.softmax(model(x.view(1, 3, 16, 16)), 1)[0, 1])
    lerf = st.metrics.perturbation_curve(model, images, maps, target, order="lerf", steps=8)
    assert torch.allclose(lerf[:, [0, -1]], deletion[:, [0, -1]]) and not torch.allclose(lerf, deletion)


@pytest.mark.parametrize("substrate", ["black", "blur", "dataset_mean"])
def test_insertion_of_the_most_relevant_is_deletion_of_the_least_reversed(images, substrate):
    """An identity of the metrics (chapter 6 prints the gap, no longer a claim): with one substrate,
    MoRF insertion shows the model LeRF deletion's images in reverse order, for maps without ties."""
    model, target = tiny_model(), torch.tensor([0, 1, 2])
    maps = torch.rand(3, 16, 16, dtype=torch.float64)
    insertion = st.metrics.perturbation_curve(model, images, maps, target, mode="insertion", substrate=substrate, steps=8)
    lerf = st.metrics.perturbation_curve(model, images, maps, target, order="lerf", substrate=substrate, steps=8)
    assert torch.allclose(insertion, lerf.flip(1), atol=1e-6)
    morf = st.metrics.perturbation_curve(model, images, maps, target, substrate=substrate, steps=8)
    assert not torch.allclose(insertion, morf.flip(1), atol=1e-6)      # the identity needs the opposite order


def test_auc_and_aopc():
    curves = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.5, 0.0]])
    assert torch.allclose(st.metrics.auc(curves), torch.tensor([1.0, 0.5], dtype=torch.float64))
    assert torch.allclose(st.metrics.aopc(curves), torch.tensor([0.0, 0.5], dtype=torch.float64))
    assert torch.allclose(st.metrics.aopc(curves, k=1), torch.tensor([0.0, 0.25], dtype=torch.float64))


def test_ranking_agreement_detects_flips():
    rng = np.random.default_rng(0)
    rows = []
    for variant, sign in (("a", 1), ("b", 1), ("flipped", -1)):
        for image in range(20):
            for m, quality in enumerate([0.1, 0.5, 0.9]):
                rows.append({"variant": variant, "image": image, "method": f"m{m}",
                             "score": sign * quality + 0.01 * rng.normal()})
    table = st.metrics.ranking_agreement(pd.DataFrame(rows)).set_index(["variant_a", "variant_b"])
    assert table.loc[("a", "b"), "kendall_tau"] == pytest.approx(1.0)
    assert table.loc[("a", "flipped"), "kendall_tau"] == pytest.approx(-1.0)
    assert table.loc[("a", "b"), "alpha_a"] > 0.9


def test_ranking_agreement_against_a_reference_variant():
    rows = [{"variant": v, "image": i, "method": m, "score": s}
            for v, scale in (("metric", 1), ("masks", 1), ("zz", -1)) for i in range(5)
            for m, s in (("a", 0.1 * scale + 0.01 * i), ("b", 0.5 * scale), ("c", 0.9 * scale))]
    table = st.metrics.ranking_agreement(pd.DataFrame(rows), reference="masks")
    assert set(table.variant_a) == {"metric", "zz"} and set(table.variant_b) == {"masks"}
    assert table.set_index("variant_a").kendall_tau.to_dict() == pytest.approx({"metric": 1.0, "zz": -1.0})
    with pytest.raises(ValueError, match="reference"):
        st.metrics.ranking_agreement(pd.DataFrame(rows), reference="nope")


def test_experiment_helpers(images):
    model, target = tiny_model(), torch.tensor([0, 1, 2])
    by_baseline = P.maps_by_baseline(model, images, target, "occlusion", baselines=["black", "white"], window=4, stride=4)
    assert set(by_baseline) == {"black", "white"} and by_baseline["black"].shape == (3, 16, 16)
    settings = P.maps_by_setting(model, images, target, "occlusion", {"a": {"window": 4}, "b": {"window": 8}}, stride=4)
    assert torch.equal(settings["a"], by_baseline["black"])
    with pytest.raises(ValueError, match="settings"):
        P.maps_by_setting(model, images, target, "occlusion", {})
    with pytest.raises(ValueError, match="method must be one of"):
        P.maps_by_baseline(model, images, target, "lime")
    scores = st.experiments.causal_scores(model, images, target, by_baseline, substrates=("black",), steps=4)
    quality = st.experiments.quality_table(scores, st.experiments.localization(by_baseline, torch.ones(3, 16, 16, dtype=torch.bool)))
    deletion = quality[quality.variant == "black / deletion / morf"].score
    assert (deletion <= 0).all() and set(quality.variant) == {"black / deletion / morf", "black / insertion / morf",
                                                              "localization (rank accuracy)"}
    m = by_baseline["black"]
    averaged = P.average_maps({"x": m, "y": 3 * m}, ["x", "y"])        # scale does not let one map dominate
    assert torch.allclose(averaged, m / m.abs().mean(dim=(1, 2), keepdim=True))


@pytest.mark.parametrize("baseline", ["black", "blur"])
def test_superpixel_ablation_equals_captum_feature_ablation(images, baseline):
    from captum.attr import FeatureAblation
    model, target = tiny_model(), torch.tensor([0, 3, 4])
    ours = P.superpixel_ablation(model, images, target, baseline=baseline, chunk=5)
    segments = P.superpixels(images)
    for n in range(3):
        theirs = FeatureAblation(model).attribute(images[n:n + 1], target=target[n:n + 1],
                                                  baselines=P.baseline_images(baseline, images[n:n + 1]),
                                                  feature_mask=segments[n][None, None])
        assert torch.allclose(ours[n].double(), theirs[0, 0].double(), atol=1e-6)
    inpainted = P.superpixel_ablation(model, images, target, baseline="inpaint")
    assert inpainted.shape == (3, 16, 16) and not torch.allclose(inpainted, ours)


def test_effect_tables_are_tidy(images):
    model, target = tiny_model(), torch.tensor([0, 1, 2])
    table = st.experiments.baseline_effect(model, images, target, baselines=["black", "white", "blur"], window=4, stride=4)
    assert len(table) == 3 * 3 and {"a", "b", "image", "spearman_abs", "ssim"} <= set(table.columns)
    table = st.experiments.setting_effect(model, images, target, "rise", {"s=2": {"grid": 2}, "s=4": {"grid": 4}}, n_masks=20)
    assert len(table) == 3 and set(zip(table.a, table.b)) == {("s=2", "s=4")}


def test_models_that_view_activations_get_contiguous_batches(images):
    """The masked batches go channels-last for speed; a model that ``.view()``s them must still work."""
    torch.manual_seed(3)
    conv, fc = nn.Conv2d(3, 4, 3, padding=1).double(), nn.Linear(4 * 16 * 16, 5).double()

    class ViewNet(nn.Module):
        def forward(self, x):
            x = F.relu(conv(x))
            return fc(x.view(len(x), -1))

    flatten_net = nn.Sequential(conv, nn.ReLU(), nn.Flatten(), fc).eval()
    ours = P.occlusion(ViewNet().eval(), images, 1, window=4, stride=4)
    torch.testing.assert_close(ours, P.occlusion(flatten_net, images, 1, window=4, stride=4))


def test_blur_and_noisy_inpaint_are_what_their_documentation_says():
    from torchvision.transforms.functional import gaussian_blur
    images = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    blur = P.baseline_images("blur", images)
    assert torch.allclose(blur, gaussian_blur(images, [11, 11], [5.0, 5.0]), atol=1e-5)   # 11 taps, sigma 5, reflect
    removed = torch.zeros(2, 1, 32, 32, dtype=torch.bool)
    removed[:, :, 8:24, 8:24] = True
    fill = P.baseline_images("inpaint", images, removed)
    noisy = P.baseline_images("noisy_inpaint", images, removed)
    assert torch.equal(noisy[~removed.expand_as(noisy)], images[~removed.expand_as(images)])
    noise = (noisy - fill)[removed.expand_as(noisy) & (noisy > 0) & (noisy < 1)]
    assert 0.04 < noise.std() < 0.06 and abs(noise.mean()) < 0.01


def test_superpixel_ablation_uses_the_number_of_segments_it_is_given():
    model, images = tiny_model(), torch.rand(1, 3, 32, 32, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    for n in (4, 16):
        maps = P.superpixel_ablation(model, images, 0, n_segments=n)
        assert len(maps[0].unique()) == len(P.superpixels(images, n_segments=n)[0].unique())
