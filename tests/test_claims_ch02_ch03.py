"""Claims of chapters 2 (normality) and 3 (peaks over threshold), recomputed on the embedded profile."""

import pytest
import scipy.stats as ss
import torch

import saltools as st


@pytest.fixture(scope="module")
def setup(embedded_mistakes):
    return embedded_mistakes


# ----------------------------------------------------------------------------- chapter 2
@pytest.fixture(scope="module")
def tests_table(setup):
    return st.evt.normality_tests(setup["stats"].sample_, setup["index"])


def test_every_tested_filter_rejects_normality_under_all_four_tests(tests_table):
    tested = tests_table[~tests_table.constant]
    assert len(tested) > 0.9 * len(tests_table)
    for test in ("shapiro", "dagostino", "anderson", "lilliefors"):
        assert tested[f"reject_{test}"].all()


def test_strong_right_skew_and_heavy_tails_in_every_stage(tests_table):
    medians = tests_table.groupby("stage")[["skewness", "excess_kurtosis"]].median()
    assert (medians.skewness > 8).all() and (medians.excess_kurtosis > 20).all()


def test_three_sigma_values_are_far_more_common_than_normal(setup):
    stats = setup["stats"]
    exceedance = (stats.sample_.double() > stats.mean_ + 3 * stats.std_).double().mean(0)
    assert exceedance.median() > 3 * ss.norm.sf(3)
    assert (exceedance > ss.norm.sf(3)).double().mean() > 0.95


def test_ch2_solutions(setup):
    stats, index = setup["stats"], setup["index"]
    small = st.evt.normality_tests(stats.sample_[:50], index)
    assert small.reject_shapiro[~small.constant].mean() > 0.9          # "nearly all still reject"
    logged = st.evt.normality_tests(torch.log(stats.sample_.double() + 1e-12), index)
    live = logged[~logged.constant]
    raw = st.evt.normality_tests(stats.sample_, index)
    assert abs(live.skewness.median()) < raw.skewness.median() / 5    # removes most of the skew
    assert live.reject_shapiro.mean() > 0.5                           # but not all non-normality


# ----------------------------------------------------------------------------- chapter 3
def test_all_fitted_shapes_are_positive_and_heavier_than_finite_variance(setup):
    fit = setup["stats"].tail_fit(setup["profile"].tail_quantile)
    assert (fit.shape > 0).all() and (fit.shape > 0.5).mean() > 0.9


def test_rankings_correlate_but_differ_at_the_top(setup):
    agreement = st.paramsal.scorer_agreement(setup["stats"], setup["values"], "zscore", "pot", k=20)
    assert agreement.spearman.median() > 0.7
    assert agreement.overlap.median() < 0.9


def test_pot_does_not_repair_more_than_the_zscore_but_beats_random(setup):
    model, wrong, stats, values = setup["model"], setup["wrong"], setup["stats"], setup["values"]
    ks = range(1, setup["profile"].top_k + 1)
    curves = {name: st.paramsal.intervention_curves(model, wrong.images, wrong.labels, stats.score(values, name),
                                                    ks=ks, selections=("salient", "random"), progress=False)
              for name in ("zscore", "pot")}
    z = st.paramsal.summarize_interventions(curves["zscore"]).set_index(["method", "selection"])
    pot = st.paramsal.summarize_interventions(curves["pot"]).set_index(["method", "selection"])
    for method in ("zero", "finetune"):
        assert pot.loc[(method, "salient"), "corrected_mean_k"] <= z.loc[(method, "salient"), "corrected_mean_k"]
        assert pot.loc[(method, "salient"), "corrected_mean_k"] > z.loc[(method, "random"), "corrected_mean_k"]
    assert pot.loc[("finetune", "salient"), "corrected_mean_k"] < z.loc[("finetune", "salient"), "corrected_mean_k"]


@pytest.fixture(scope="module")
def planted(setup):
    profile, model = setup["profile"], setup["model"]
    reference = st.data.for_profile(profile, "reference", n=profile.n_reference // 4)
    pool = st.data.for_profile(profile, "query", n=profile.n_eval // 2)
    healthy = st.paramsal.planted_fault_benchmark(model, reference, pool, seeds=(0, 1, 2), reference_model="clean",
                                                  progress=False)
    faulty = st.paramsal.planted_fault_benchmark(model, reference, pool, seeds=(0,), reference_model="faulty",
                                                 progress=False)
    scaled = st.paramsal.planted_fault_benchmark(model, reference, pool, factor=3.0, seeds=(0,),
                                                 reference_model="clean", progress=False)
    recall = lambda t: t.groupby("scorer")["recall@20"].mean()  # noqa: E731
    by_stage = healthy[healthy.scorer == "zscore"].groupby("stage")["recall@20"].mean()
    return recall(healthy), recall(faulty), recall(scaled), by_stage


def test_planted_faults_healthy_reference(planted):
    healthy, _, _, by_stage = planted
    assert by_stage.max() - by_stage.min() > 0.1                      # "how often depends on the stage"
    assert healthy["zscore"] > 3 * healthy["random"] and healthy["exponential"] > 3 * healthy["random"]
    assert healthy["zscore"] < 0.5                                     # "still miss most of them"
    assert healthy["pot"] < healthy["zscore"] / 2                      # POT far less often than z
    assert healthy["pot"] < 3 * healthy["random"]                      # not much better than chance


def test_planted_faults_faulty_reference_no_better_than_chance(planted):
    _, faulty, _, _ = planted
    for scorer in ("zscore", "pot", "exponential"):
        assert faulty[scorer] < 2 * faulty["random"] + 0.02


def test_scaled_faults_found_more_often_by_z_pot_rarely(planted):
    healthy, _, scaled, _ = planted
    assert scaled["zscore"] > healthy["zscore"] and scaled["exponential"] > healthy["exponential"]
    assert scaled["pot"] < scaled["zscore"] / 2


def test_exponential_tail_shares_most_of_the_pot_top20(setup):
    expo = st.paramsal.scorer_agreement(setup["stats"], setup["values"], "pot", "exponential", k=20)
    assert expo.overlap.median() >= 0.5


def test_planted_faults_that_cause_no_mistake_give_one_nan_row_per_scorer():
    """A model that gets nothing right (as random weights do) cannot be made wrong by a fault: the
    benchmark still returns its usual columns, with recall missing, instead of failing."""
    model = st.models.load("shapes-resnet")
    pool = st.data.Shapes(16, split="test")
    wrong_labels = torch.utils.data.TensorDataset(pool.images, (pool.labels + 1) % 10)
    table = st.paramsal.planted_fault_benchmark(model, st.data.Shapes(40, split="reference"), wrong_labels,
                                                stages=["layer4"], scorers=("zscore", "random"),
                                                reference_model="clean", progress=False)
    assert list(table.scorer) == ["zscore", "random"] and (table.n_induced == 0).all()
    assert table["recall@20"].isna().all()
