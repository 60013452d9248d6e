"""Claims of chapter 4 (depth bias), recomputed on the embedded profile."""
import pytest

import saltools as st


@pytest.fixture(scope="module")
def setup(embedded_mistakes):
    profile, stats, values = embedded_mistakes["profile"], embedded_mistakes["stats"], embedded_mistakes["values"]
    shares = st.depth.stage_shares(stats, values, k=20)
    conditions = st.depth.shift_conditions(domains=profile.domains)
    pool_for = lambda condition: st.data.for_profile(profile, "query", n=profile.n_eval // 2, **condition)  # noqa: E731
    queries = st.depth.shift_queries(stats, pool_for, conditions, mistakes=profile.n_query // 5, progress=False)
    return dict(embedded_mistakes, shares=shares, queries=queries)


def _last(shares, scorer):
    rows = shares[shares.scorer == scorer]
    return rows.share.iloc[-1], rows.filter_share.iloc[-1]


def test_zscore_over_represents_the_last_stage_with_a_large_effect(setup):
    share, filter_share = _last(setup["shares"], "zscore")
    assert share > filter_share + 0.2
    tests = st.depth.depth_test(setup["shares"]).set_index("scorer")
    assert tests.loc["zscore", "cohens_w"] > 0.5
    assert tests.loc["random", "cohens_w"] < 0.1 and tests.loc["random", "p_value"] > 0.01


def test_pot_is_more_concentrated_than_the_zscore(setup):
    assert _last(setup["shares"], "pot")[0] > _last(setup["shares"], "zscore")[0]


def test_mean_and_std_shrink_by_over_an_order_of_magnitude(setup):
    moments = st.depth.statistic_by_stage(setup["stats"])
    assert moments["mean"].iloc[0] / moments["mean"].iloc[-1] > 10
    assert moments["std"].iloc[0] / moments["std"].iloc[-1] > 10


@pytest.fixture(scope="module")
def shifted(setup):
    return st.depth.depth_under_shift(setup["stats"], setup["queries"])


def test_shift_does_not_increase_and_noise_decreases_the_zscore_bias(shifted):
    last = shifted[shifted.stage == shifted.stage.cat.categories[-1]]
    z = last[last.scorer == "zscore"].set_index("condition").share
    assert z["target domain"] <= z["source domain"]
    for noise in ("gaussian_noise", "impulse_noise"):
        assert z[f"{noise} 5"] < z["source domain"] - 0.2


def test_pot_more_concentrated_than_zscore_in_every_condition(shifted):
    last = shifted[shifted.stage == shifted.stage.cat.categories[-1]]
    table = last.pivot_table(index="condition", columns="scorer", values="share")
    assert (table["pot"] >= table["zscore"]).all()


@pytest.fixture(scope="module")
def repairs(setup):
    profile = setup["profile"]
    return st.depth.repairs_under_shift(setup["stats"], setup["queries"], ks=range(1, profile.top_k + 1, 8),
                                        limit=profile.n_query // 12, progress=False)


def test_finetuning_zscore_filters_repairs_most_on_average(repairs):
    table = repairs[repairs.method == "finetune"].pivot_table(index="condition", columns="scorer",
                                                              values="corrected_mean_k")
    assert table.mean().idxmax() == "zscore"


def test_zeroing_winner_changes_with_the_condition(repairs):
    table = repairs[repairs.method == "zero"].pivot_table(index="condition", columns="scorer",
                                                          values="corrected_mean_k")
    assert table.idxmax(axis=1).nunique() > 1


def test_last_stage_heuristic_picks_shortcuts_and_its_sgd_step_hardly_matters(setup, repairs):
    ranking = setup["stats"].rank(setup["values"], "last_stage_raw")
    assert ranking[ranking["rank"] <= 20].downsample.mean() > 0.5
    finetune = repairs[(repairs.method == "finetune") & (repairs.scorer == "last_stage_raw")]
    assert finetune.corrected_mean_k.mean() < 0.03


def test_shallow_faults_found_at_least_as_often_as_last_stage_faults(setup):
    profile = setup["profile"]
    planted = st.paramsal.planted_fault_benchmark(
        setup["model"], st.data.for_profile(profile, "reference", n=profile.n_reference // 4),
        st.data.for_profile(profile, "query", n=profile.n_eval // 2),
        scorers=("zscore",), seeds=(0, 1), reference_model="clean", progress=False)
    recall = planted.groupby("stage")["recall@20"].mean()
    assert recall[["conv1", "layer1"]].mean() >= recall["layer4"]


def test_k_solution_share_moves_towards_filter_share(setup):
    shares = [st.depth.stage_shares(setup["stats"], setup["values"], scorers=("zscore",), k=k).share.iloc[-1]
              for k in (5, 20, 100)]
    assert shares[0] >= shares[1] >= shares[2]
