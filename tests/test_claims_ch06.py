"""Claims of chapter 6 (perturbation baselines and metrics), recomputed as the chapter computes them."""
import pandas as pd
import pytest
import torch
from scipy import stats

import saltools as st
from saltools import experiments, perturb

SUBSTRATES = ("black", "dataset_mean", "blur", "uniform", "inpaint", "noisy_inpaint")
LOCALIZATION = "localization (rank accuracy)"


@pytest.fixture(scope="module")
def chapter():
    profile = st.profiles.get("embedded")
    model = st.models.load("shapes-resnet")
    pool = st.data.Shapes(40, split="test")
    right = st.models.predict(model, pool.images).argmax(1) == pool.labels
    images, labels, masks = pool.images[right][:8], pool.labels[right][:8], pool.masks[right][:8]
    occ = perturb.maps_by_baseline(model, images, labels, "occlusion", window=8, stride=4)
    rise = perturb.maps_by_baseline(model, images, labels, "rise", baselines=["black", "dataset_mean", "blur", "uniform"],
                                    n_masks=profile.rise_masks)
    seed = perturb.rise(model, images, labels, n_masks=profile.rise_masks, seed=1)
    floor = st.metrics.map_agreement(rise["dataset_mean"], seed).spearman_abs.mean()
    windows = {"4/2": dict(window=4, stride=2), "8/4": dict(window=8, stride=4), "8/8": dict(window=8, stride=8),
               "16/8": dict(window=16, stride=8)}
    window_maps = perturb.maps_by_setting(model, images, labels, "occlusion", windows, baseline="black")
    n = profile.rise_masks
    reference = dict(n_masks=n, grid=8, p1=0.5)
    changes = {"s=12": dict(grid=12), "p1=0.1": dict(p1=0.1)}
    settings = perturb.maps_by_setting(model, images, labels, "rise", {k: {**reference, **v} for k, v in changes.items()},
                                       baseline="dataset_mean")
    shown = ["Saliency", "InputXGradient", "GuidedBackprop", "IntegratedGradients", "RectGrad", "NoBias RectGrad"]
    maps = {name: st.attributions.to_map(st.attributions.attribute(model, name, images, labels)) for name in shown}
    maps["Occlusion"], maps["RISE"] = occ["black"], rise["dataset_mean"]
    scores = pd.concat([
        experiments.causal_scores(model, images, labels, maps, substrates=SUBSTRATES, modes=("deletion",),
                              orders=("morf", "lerf"), steps=16),
        experiments.causal_scores(model, images, labels, maps, substrates=SUBSTRATES, modes=("insertion",),
                              orders=("morf",), steps=16)], ignore_index=True)
    return dict(model=model, images=images, labels=labels, masks=masks, occ=occ, rise=rise, floor=floor,
                window_maps=window_maps, settings=settings, maps=maps, scores=scores)


def test_no_baseline_is_neutral(chapter):
    table = perturb.baseline_predictions(chapter["model"], chapter["images"], st.data.CLASSES)
    by = table.groupby("baseline")
    assert (by.entropy.mean() < 0.7 * torch.log(torch.tensor(10.0)).item()).all()
    flat = table[table.baseline.isin(["black", "white", "dataset_mean", "image_mean", "inpaint"])]
    assert flat.predicted.nunique() == 1
    assert (by.probability.mean()[["uniform", "gaussian"]] > 0.95).all()


def test_baseline_changes_occlusion_maps(chapter):
    pairs = st.metrics.pairwise_agreement(chapter["occ"]).groupby(["a", "b"]).spearman_abs.mean()
    assert pairs.min() < 0.3 and pairs.max() > 0.85


def test_rise_baseline_effects_versus_the_seed_floor(chapter):
    pairs = st.metrics.pairwise_agreement(chapter["rise"]).groupby(["a", "b"]).spearman_abs.mean()
    with_uniform = pairs[[("uniform" in key) for key in pairs.index]]
    others = pairs[[("uniform" not in key) for key in pairs.index]]
    assert (with_uniform < chapter["floor"]).all()
    assert (others > chapter["floor"]).all()          # indistinguishable from sampling noise at this budget


def test_hyperparameters_change_maps(chapter):
    pairs = st.metrics.pairwise_agreement(chapter["window_maps"]).groupby(["a", "b"]).spearman_abs.mean()
    assert pairs[("4/2", "8/4")] > 0.8 and pairs[("8/4", "8/8")] > 0.8
    assert pairs[("4/2", "16/8")] < 0.7
    for label, m in chapter["settings"].items():
        assert st.metrics.map_agreement(chapter["rise"]["dataset_mean"], m).spearman_abs.mean() < chapter["floor"], label


def _deletion(scores):
    return scores[scores["mode"] == "deletion"]


def test_insertion_morf_mirrors_deletion_lerf(chapter):
    s = chapter["scores"]
    means = s.assign(variant=s.substrate + "/" + s["mode"] + "/" + s.order).groupby(["variant", "method"]).auc.mean()
    for substrate in SUBSTRATES:
        gap = (means[f"{substrate}/insertion/morf"] - means[f"{substrate}/deletion/lerf"]).abs()
        assert gap[["Saliency", "InputXGradient", "IntegratedGradients", "Occlusion", "RISE"]].max() < 0.01
        assert gap.max() < 0.1


def test_substrate_picks_the_winner_and_images_disagree(chapter):
    quality = experiments.quality_table(_deletion(chapter["scores"]).query("order == 'morf'"))
    verdicts = st.metrics.ranking_agreement(quality, value="score")
    winners = quality.groupby(["variant", "method"]).score.mean().unstack().idxmax(axis=1)
    assert winners.nunique() >= 3
    assert verdicts.kendall_tau.mean() < 0.6 and verdicts.kendall_tau.min() < 0
    alphas = pd.concat([verdicts.set_index("variant_a").alpha_a, verdicts.set_index("variant_b").alpha_b])
    assert alphas.max() < 0.5


def test_morf_and_lerf_are_consistent_only_for_some_substrates(chapter):
    area = _deletion(chapter["scores"]).groupby(["substrate", "order", "method"]).auc.mean().unstack("order")
    tau = area.groupby(level="substrate").apply(lambda t: stats.kendalltau(t.morf, t.lerf).statistic)
    assert (tau < -0.3).any() and (tau > 0).any()
    assert (tau[["black", "inpaint", "noisy_inpaint"]] > -0.5).all()


def test_masks_disagree_with_every_metric_and_rise_mass_is_an_offset(chapter):
    located = experiments.localization(chapter["maps"], chapter["masks"])
    table = st.metrics.ranking_agreement(experiments.quality_table(_deletion(chapter["scores"]), located), value="score",
                                         reference=LOCALIZATION)
    assert len(table) == 2 * len(SUBSTRATES) and table.kendall_tau.max() < 0.7
    means = located.groupby("method").mean(numeric_only=True)
    assert means.mass_accuracy["RISE"] < 1.5 * chapter["masks"].float().mean().item()
    assert means.rank_accuracy["RISE"] >= means.rank_accuracy.median()


def test_averaging_over_baselines_helps(chapter):
    occ = chapter["occ"]
    averaged = st.metrics.map_agreement(perturb.average_maps(occ, ["black", "white", "dataset_mean", "blur"]),
                                        perturb.average_maps(occ, ["image_mean", "uniform", "gaussian", "inpaint"]))
    single = st.metrics.pairwise_agreement(occ).spearman_abs.mean()
    assert averaged.spearman_abs.mean() > single + 0.1


def test_noisy_imputation_does_not_raise_image_agreement(chapter):
    quality = experiments.quality_table(_deletion(chapter["scores"]).query("order == 'morf'"))
    verdicts = st.metrics.ranking_agreement(quality, value="score")
    alphas = pd.concat([verdicts.set_index("variant_a").alpha_a, verdicts.set_index("variant_b").alpha_b])
    alphas = alphas[~alphas.index.duplicated()]
    black = alphas["black / deletion / morf"]
    assert alphas["inpaint / deletion / morf"] <= black and alphas["noisy_inpaint / deletion / morf"] <= black
