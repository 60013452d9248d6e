"""One interface over Captum, RectGrad and LRP; comparisons and sanity checks leave the model alone."""
import copy

import pytest
import torch

import saltools as st
from saltools import attributions as A
from tests.test_rectgrad import _same, _snapshot


def test_every_method_gives_maps_and_leaves_the_model_unchanged(shapes_model):
    model = copy.deepcopy(shapes_model).train()
    snap = _snapshot(model)
    ds = st.data.Shapes(3)
    for name in A.METHODS:
        maps = A.attribute(model, name, ds.images, ds.labels, batch_size=2)
        assert maps.shape == ds.images.shape and torch.isfinite(maps).all() and maps.abs().sum() > 0, name
        assert _same(model, snap), name
        assert "forward" not in vars(model.layer1[0]), name      # Zennit's canonizer undone


def test_named_methods_match_their_definitions(shapes_model):
    ds = st.data.Shapes(4)
    x = ds.images.double()
    model = copy.deepcopy(shapes_model).double()
    gradient = A.attribute(model, "NoBias RectGrad", x, ds.labels)
    assert torch.equal(A.attribute(model, "RectGrad", x, ds.labels), gradient * x)
    ixg = A.attribute(model, "InputXGradient", x, ds.labels)
    seen = x.abs() > 1e-3
    assert torch.allclose(A.attribute(model, "Saliency", x, ds.labels)[seen], (ixg / x).abs()[seen], atol=1e-9)


def test_bad_method_and_target_are_rejected(shapes_model):
    ds = st.data.Shapes(2)
    with pytest.raises(ValueError, match="method must be one of"):
        A.attribute(shapes_model, "GradCAM", ds.images)
    with pytest.raises(ValueError, match="class indices"):
        A.attribute(shapes_model, "Saliency", ds.images, target=[1, 2, 3])
    with pytest.raises(ValueError, match=r"\[N, C, H, W\]"):
        A.attribute(shapes_model, "Saliency", ds.images[0])


def test_compare_is_tidy(shapes_model):
    ds = st.data.Shapes(5)
    table = st.experiments.compare(shapes_model, ds.images, ds.labels, ds.masks, methods=["Saliency", "RectGrad"])
    assert len(table) == 10 and set(table.method) == {"Saliency", "RectGrad"}
    assert table[["mass_accuracy", "rank_accuracy"]].stack().between(0, 1).all()


def test_cascading_randomization_works_on_a_copy(shapes_model):
    model = copy.deepcopy(shapes_model)
    snap = _snapshot(model)
    ds = st.data.Shapes(4)
    table = st.experiments.cascading_randomization(model, ds.images, ds.labels, methods=["Saliency"])
    assert _same(model, snap)
    assert list(table.randomized_to.unique()) == st.experiments.randomization_stages(model)
    assert st.experiments.randomization_stages(model)[:2] == ["fc", "layer4"]
    assert table.spearman_abs.between(-1, 1).all() and (table.groupby("depth").ssim.mean().iloc[-1] < 0.9)
