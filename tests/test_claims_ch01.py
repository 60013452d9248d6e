"""Claims of chapter 1 (notebooks/01_parameter_saliency.ipynb), recomputed on the embedded profile."""
import pytest

import saltools as st


@pytest.fixture(scope="module")
def chapter(embedded_mistakes):
    m = embedded_mistakes
    curves = st.paramsal.intervention_curves(m["model"], m["wrong"].images, m["wrong"].labels,
                                             m["stats"].score(m["values"]), ks=range(1, m["profile"].top_k + 1),
                                             progress=False)
    summary = st.paramsal.summarize_interventions(curves).set_index(["method", "selection"])
    return dict(m, summary=summary, ranking=m["stats"].rank(m["values"]))


def test_there_are_mistakes_to_explain(chapter):
    assert len(chapter["wrong"]) >= 20


def test_layer4_holds_most_filters_and_more_of_the_top20(chapter):
    index = st.models.filter_index(chapter["model"])
    share_all = (index.stage == "layer4").mean()
    top20 = chapter["ranking"][chapter["ranking"]["rank"] <= 20]
    assert share_all > 0.5
    assert (top20.stage == "layer4").mean() > share_all


@pytest.mark.parametrize("method", ["zero", "finetune"])
def test_salient_filters_beat_random_and_least_salient(chapter, method):
    s = chapter["summary"].loc[method]
    for control in ("random", "least"):
        assert s.loc["salient", "corrected_mean_k"] > s.loc[control, "corrected_mean_k"]
        assert s.loc["salient", "d_wrong_mean_k"] < s.loc[control, "d_wrong_mean_k"]


@pytest.mark.parametrize("method", ["zero", "finetune"])
def test_least_salient_filters_barely_matter(chapter, method):
    least = chapter["summary"].loc[(method, "least")]
    assert least.corrected_mean_k < 0.05 and abs(least.d_wrong_mean_k) < 0.02


def test_most_mistakes_survive_zeroing_k_max_filters(chapter):
    assert chapter["summary"].loc[("zero", "salient"), "corrected_at_kmax"] < 0.5


def test_projection_concentrates_on_the_object(chapter):
    wrong, pool = chapter["wrong"], chapter["pool"]
    maps = st.paramsal.projections(chapter["stats"], wrong.images, wrong.labels)
    masks = pool.masks[wrong.indices]
    assert st.metrics.relevance_mass(maps, masks).mean() > 2 * masks.float().mean()


def test_larger_finetuning_step_corrects_more(chapter):
    wrong = chapter["wrong"]
    scores = chapter["stats"].score(chapter["values"])
    bigger = st.paramsal.intervention_curves(chapter["model"], wrong.images, wrong.labels, scores,
                                             ks=range(1, chapter["profile"].top_k + 1), methods=("finetune",),
                                             lr=1e-2, progress=False)
    big = st.paramsal.summarize_interventions(bigger).set_index("selection").corrected_mean_k
    small = chapter["summary"].loc["finetune"].corrected_mean_k
    assert big["salient"] > small["salient"] and big["random"] > small["random"]
