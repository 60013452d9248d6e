"""Claims of chapter 5 (RectGrad and the brightness bias), recomputed as the chapter computes them."""
import pytest

import saltools as st

SHOWN = ["Saliency", "InputXGradient", "GuidedBackprop", "IntegratedGradients", "LRP-epsilon", "RectGrad",
         "NoBias RectGrad"]
MULTIPLY_IN_UNIT_SPACE = ["RectGrad", "InputXGradient", "IntegratedGradients"]
GRADIENT_ONLY = ["NoBias RectGrad", "GuidedBackprop", "Saliency"]


@pytest.fixture(scope="module")
def model():
    return st.models.load("shapes-resnet")


@pytest.fixture(scope="module")
def test_images():
    return st.data.Shapes(64, split="test")


@pytest.fixture(scope="module")
def sweep(model):
    table = st.experiments.brightness_sweep(model, SHOWN, levels=(0.0, 0.1, 0.2, 0.3, 0.7, 0.8, 0.9, 1.0), n=32,
                                        background=0.5)
    return table, table[table.correct].groupby(["method", "level"]).mass_accuracy.mean().unstack()


def test_model_classifies_every_rendered_object(model, test_images, sweep):
    assert st.models.accuracy(model, test_images) >= 0.95
    assert sweep[0].groupby("level").correct.mean().min() >= 0.95


def test_rectgrad_is_nobias_on_average_but_multipliers_follow_luminance(model, test_images):
    scores = st.experiments.compare(model, test_images.images, test_images.labels, test_images.masks, methods=SHOWN)
    means = scores.groupby("method").mean(numeric_only=True)
    assert abs(means.mass_accuracy["RectGrad"] - means.mass_accuracy["NoBias RectGrad"]) < 0.05
    lum = means.luminance_correlation
    assert lum["InputXGradient"] > lum["Saliency"] and lum["IntegratedGradients"] > lum["Saliency"]
    assert lum["RectGrad"] > lum["NoBias RectGrad"]


def test_black_objects_vanish_under_rectgrad_not_under_nobias(model):
    dark = st.data.Shapes(4, split="test", object_color=0.0, background_color=0.5)
    light = st.data.Shapes(4, split="test", object_color=1.0, background_color=0.5)
    for ds in (dark, light):
        assert (st.models.predict(model, ds.images).argmax(1) == ds.labels).all()
    mass = {name: [st.metrics.relevance_mass(st.attributions.to_map(
        st.attributions.attribute(model, name, ds.images, ds.labels)), ds.masks).mean() for ds in (dark, light)]
        for name in ("RectGrad", "NoBias RectGrad")}
    assert mass["RectGrad"][0] < 0.2 < mass["NoBias RectGrad"][0]
    assert mass["RectGrad"][1] > mass["RectGrad"][0] + 0.3


def test_brightness_sweep_curves(sweep):
    curve = sweep[1]
    for name in MULTIPLY_IN_UNIT_SPACE:      # climb with brightness, almost nothing on black objects
        assert curve.loc[name, 0.0] < 0.1 and curve.loc[name, 1.0] > curve.loc[name, 0.0] + 0.25, name
    for name in GRADIENT_ONLY:               # nearly flat
        assert curve.loc[name].max() - curve.loc[name].min() < 0.1, name
    assert curve.loc["RectGrad", 1.0] > curve.loc["NoBias RectGrad", 1.0]
    assert curve.loc["RectGrad", 0.0] < curve.loc["NoBias RectGrad", 0.0] - 0.3
    assert curve.loc["LRP-epsilon"].min() > 0.8   # LRP's zero point is the mean grey: the background here


def test_lrp_multiplies_by_the_normalized_input(model):
    zero = st.rectgrad.InSpace(model, "standardized").zero_point().view(1, 3, 1, 1).expand(1, 3, 64, 64)
    assert st.attributions.attribute(model, "LRP-epsilon", zero.contiguous(), target=[0]).abs().max() < 1e-6


@pytest.fixture(scope="module")
def by_space(model):
    spaces = ("unit", "symmetric", "standardized")
    table = st.experiments.brightness_sweep(model, ["RectGrad", "NoBias RectGrad", "InputXGradient"],
                                        levels=(0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.85, 1.0), n=32, background=0.15,
                                        spaces=spaces)
    zero_points = {s: st.rectgrad.InSpace(model, s).zero_point().mean().item() for s in spaces}
    return table, zero_points


def test_blind_point_follows_the_input_space(by_space):
    table, zero_points = by_space
    assert zero_points["unit"] == 0 and zero_points["symmetric"] == 0.5
    assert abs(zero_points["standardized"] - 0.5) < 0.02          # Shapes' mean colour is mid-grey
    means = table[table.correct].groupby(["space", "method", "level"]).mass_accuracy.mean()
    for space in zero_points:
        for name in ("RectGrad", "InputXGradient"):
            worst = means.loc[(space, name)].idxmin()
            assert abs(worst - zero_points[space]) < 0.06, (space, name, worst)
    assert means.loc[("symmetric", "RectGrad", 0.0)] > means.loc[("unit", "RectGrad", 0.0)] + 0.3


def test_nobias_is_the_same_in_every_space(by_space):
    table = by_space[0]
    nobias = table[table.method == "NoBias RectGrad"].pivot_table(index=["level", "image"], columns="space",
                                                                   values="mass_accuracy")
    assert (nobias.sub(nobias["unit"], axis=0).abs().max() < 1e-4).all()


def test_black_objects_in_symmetric_space_hold_the_positive_relevance(model):
    dark = st.data.Shapes(4, split="test", object_color=0.0, background_color=0.5)
    shares = {}
    for space in ("unit", "symmetric"):
        seen = st.rectgrad.InSpace(model, space)
        m = st.attributions.to_map(st.rectgrad.RectGrad(seen).attribute(seen.encode(dark.images), dark.labels))
        positive = m.clamp(min=0)
        shares[space] = ((positive * dark.masks).sum((1, 2)) / positive.sum((1, 2)).clamp_min(1e-12)).mean()
    assert shares["unit"] < 0.05 and shares["symmetric"] > 0.5


def test_rectgrad_follows_luminance_more_than_nobias_on_every_photo(model):
    photos = st.data.photos(size=128)[:4]
    r = {name: st.metrics.luminance_correlation(st.attributions.to_map(
        st.attributions.attribute(model, name, photos)), photos) for name in ("RectGrad", "NoBias RectGrad")}
    assert (r["RectGrad"] > r["NoBias RectGrad"]).all()


def test_sanity_check_claims(model):
    probe = st.data.Shapes(16, split="test", start=100)
    cascade = st.experiments.cascading_randomization(model, probe.images, probe.labels, methods=SHOWN)
    means = cascade.groupby(["method", "randomized_to"])[["spearman_abs", "ssim"]].mean()
    for name in ("GuidedBackprop", "RectGrad", "NoBias RectGrad"):
        assert means.loc[(name, "fc"), "spearman_abs"] > 0.9, name
    for name in ("Saliency", "InputXGradient", "IntegratedGradients"):
        assert means.loc[(name, "fc"), "spearman_abs"] < 0.8, name
    assert means.loc[("RectGrad", "conv1"), "ssim"] > means.loc[("Saliency", "conv1"), "ssim"]
    assert abs(means.loc[("RectGrad", "conv1"), "ssim"] - means.loc[("NoBias RectGrad", "conv1"), "ssim"]) < 0.1
