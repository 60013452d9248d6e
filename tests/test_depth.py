import pandas as pd
import pytest
import torch

import saltools as st
from saltools.data import Shapes


@pytest.fixture(scope="module")
def stats(shapes_model):
    return st.paramsal.ParameterSaliency(shapes_model, progress=False).fit(Shapes(200, split="val"))


def test_stage_shares_sum_to_one_and_random_matches_filter_counts(stats):
    values = torch.rand(30, len(stats.index_)) * 1e-3
    shares = st.depth.stage_shares(stats, values, k=40)
    sums = shares.groupby("scorer").share.sum()
    assert ((sums - 1).abs() < 1e-9).all()
    assert set(shares.scorer) == set(st.depth.DEFAULT_SCORERS)
    random = shares[shares.scorer == "random"]
    assert (random.share - random.filter_share).abs().max() < 0.08
    last = shares[shares.scorer == "last_stage_raw"]
    assert last.share.iloc[-1] == 1.0


def test_depth_test_detects_a_planted_preference():
    shares = pd.DataFrame({"scorer": ["a"] * 2 + ["b"] * 2, "stage": ["s1", "s2"] * 2,
                           "count": [50, 50, 10, 90], "share": [0.5, 0.5, 0.1, 0.9],
                           "filter_share": [0.5, 0.5, 0.5, 0.5]})
    result = st.depth.depth_test(shares).set_index("scorer")
    assert result.loc["a", "cohens_w"] == 0 and result.loc["a", "p_value"] == 1
    assert result.loc["b", "cohens_w"] == pytest.approx(0.8) and result.loc["b", "p_value"] < 1e-10


def test_statistic_by_stage_and_conditions(stats):
    moments = st.depth.statistic_by_stage(stats)
    assert list(moments.stage) == ["conv1", "layer1", "layer2", "layer3", "layer4"]
    conditions = st.depth.shift_conditions(corruptions=["fog"], severities=(1, 5))
    assert [st.depth.condition_name(c) for c in conditions] == ["source domain", "target domain", "fog 1", "fog 5"]


def test_depth_under_shift_and_repairs_tables(stats):
    pool_for = lambda c: Shapes(300, split="test", **c)  # noqa: E731
    queries = st.depth.shift_queries(stats, pool_for, [{"domain": "target"}], mistakes=5, progress=False)
    assert len(queries) == 1 and queries[0].name == "target domain" and queries[0].values.shape[0] == 5
    shifted = st.depth.depth_under_shift(stats, queries)
    assert set(shifted.condition) == {"target domain"} and shifted.n_mistakes.iloc[0] == 5
    repairs = st.depth.repairs_under_shift(stats, queries, ks=[1, 2], limit=3, progress=False)
    assert set(repairs.scorer) == {"zscore", "random", "pot", "last_stage_raw"} and repairs.n_mistakes.max() == 3


def test_explorers_draw_static_figures(stats, monkeypatch):
    import matplotlib
    matplotlib.use("Agg")
    shown = []
    monkeypatch.setattr(st.widgets, "display", lambda obj, **kw: shown.append(obj))
    st.widgets.filter_explorer(stats)
    values = torch.rand(4, len(stats.index_)) * 1e-3
    st.widgets.threshold_explorer(stats, values, quantiles=(0.85, 0.9))
    queries = st.depth.shift_queries(stats, lambda c: Shapes(300, split="test", **c),
                                     [{"domain": "source", "corruption": "fog", "severity": 5}], mistakes=3,
                                     progress=False)
    shifted = st.depth.depth_under_shift(stats, queries)
    st.widgets.depth_explorer(shifted, ["fog"], severities=(5,), severity=5)
    figures = [s for s in shown if isinstance(s, matplotlib.figure.Figure)]
    assert len(figures) == 3


def test_repairs_under_shift_skips_conditions_without_mistakes_and_checks_the_limit(stats):
    pool_for = lambda c: Shapes(300, split="test", **c)  # noqa: E731
    queries = st.depth.shift_queries(stats, pool_for, [{"domain": "target"}], mistakes=3, progress=False)
    with pytest.raises(ValueError, match="limit"):
        st.depth.repairs_under_shift(stats, queries, ks=[1], limit=0, progress=False)
    empty = st.depth.ShiftQueries({"domain": "source"}, st.models.mistakes(stats.model, Shapes(0)),
                                  torch.empty(0, len(stats.index_)))
    repairs = st.depth.repairs_under_shift(stats, [empty, *queries], ks=[1], limit=2, progress=False)
    assert repairs.n_mistakes.min() == 2
    with pytest.raises(ValueError, match="no condition"):
        st.depth.repairs_under_shift(stats, [empty], ks=[1], progress=False)
