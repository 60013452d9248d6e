"""The claims layer: verdict rules and intervals behave as stated, and every claim's verdict on the
embedded profile is the one the book expects (computed by the same claim objects the chapters render)."""
import json
import re

import numpy as np
import pandas as pd
import pytest
import torch

import saltools as st
from saltools.claims import CLAIMS, FAILS, HOLDS, INCONCLUSIVE, NOT_EVALUATED, Evidence, Rule
from saltools.claims.core import difference_interval, largest_of, largest_resampled, mean_interval, proportion_interval
from saltools.claims.perturbation import split_half_agreement, winner_bounds
from saltools.claims.zoo import COLUMNS, read_verdicts, write_verdicts, zoo_key
from tests.conftest import ROOT

#: what the embedded profile (shipped model) gives; a change here is a change of the book's findings
EXPECTED = {
    "ch1.zeroing-salient-corrects-more-than-random": INCONCLUSIVE,
    "ch1.zeroing-salient-lowers-wrong-confidence": INCONCLUSIVE,
    "ch1.finetuning-salient-corrects-more-than-random": HOLDS,
    "ch1.least-salient-filters-barely-matter": HOLDS,
    "ch1.projection-concentrates-on-the-object": HOLDS,
    "ch2.statistic-is-not-normal": HOLDS,
    "ch2.statistic-is-right-skewed": HOLDS,
    "ch2.three-sigma-far-more-common-than-normal": HOLDS,
    "ch3.tails-are-heavy": HOLDS,
    "ch3.pot-and-zscore-rankings-correlate": HOLDS,
    "ch3.pot-and-zscore-top20-differ": HOLDS,
    "ch3.pot-zeroing-repairs-like-zscore": INCONCLUSIVE,
    "ch3.pot-finetuning-repairs-like-zscore": INCONCLUSIVE,
    "ch4.zscore-favours-the-last-stage": HOLDS,
    "ch4.pot-less-last-stage-than-zscore@q0.85": FAILS,
    "ch4.pot-less-last-stage-than-zscore@q0.90": FAILS,
    "ch4.pot-less-last-stage-than-zscore@q0.95": FAILS,
    "ch4.published-pot-less-last-stage-than-zscore": FAILS,
    "ch4.statistic-shrinks-with-depth": HOLDS,
    "ch4.domain-shift-increases-the-bias": FAILS,
    "ch4.corruption-increases-the-bias": FAILS,
    "ch4.pot-less-last-stage-than-zscore-on-target": FAILS,
    "ch4.pot-less-last-stage-than-zscore-under-corruption": FAILS,
    **{claim.id: HOLDS for claim in CLAIMS.values() if claim.chapter == 5},
    # the shipped model's standardized space is the symmetric one up to a scale: the @symmetric claim decides it
    "ch5.rectgrad-is-blind-at-the-zero-point@standardized": NOT_EVALUATED,
    "ch6.no-baseline-is-neutral": HOLDS,
    "ch6.flat-baselines-read-as-one-class": HOLDS,
    "ch6.noise-baselines-read-with-near-certainty": HOLDS,
    "ch6.baseline-changes-occlusion-maps": HOLDS,
    "ch6.some-baselines-agree-on-occlusion": HOLDS,
    "ch6.rise-baselines-within-seed-noise": INCONCLUSIVE,
    "ch6.uniform-baseline-changes-rise-beyond-seed-noise": INCONCLUSIVE,
    "ch6.neighbouring-windows-agree": INCONCLUSIVE,
    "ch6.large-window-changes-occlusion": INCONCLUSIVE,
    "ch6.rise-grid-12-beyond-seed-noise": HOLDS,
    "ch6.rise-keep-probability-0.1-beyond-seed-noise": INCONCLUSIVE,
    "ch6.substrate-picks-the-winner": INCONCLUSIVE,
    "ch6.substrate-rankings-are-reliable": FAILS,
    "ch6.substrates-disagree-beyond-reliability": INCONCLUSIVE,
    "ch6.images-disagree-within-substrates": INCONCLUSIVE,
    "ch6.morf-and-lerf-are-inconsistent": HOLDS,
    "ch6.no-causal-metric-matches-the-masks": INCONCLUSIVE,
    "ch6.averaging-over-baselines-helps": HOLDS,
    "ch6.noisy-imputation-raises-image-agreement": INCONCLUSIVE,
    "ch7.srg-makes-substrates-agree-more-than-morf": INCONCLUSIVE,
    "ch7.srg-makes-substrates-agree-more-than-lerf": HOLDS,
    "ch7.srg-narrows-the-gap-to-reliability": INCONCLUSIVE,
    "ch7.srg-substrates-disagree-beyond-reliability": HOLDS,
    "ch7.closer-substrates-agree-more": INCONCLUSIVE,
    "ch7.outline-alone-names-the-class": HOLDS,
    "ch7.black-fill-leaks-the-outline": HOLDS,
    "ch7.road-hides-the-outline": HOLDS,
    "ch7.road-leaks-less-than-black-on-attribution-masks": HOLDS,
    "ch7.blurring-improves-road": HOLDS,
    "ch7.blurring-improves-black-deletion": INCONCLUSIVE,
    "ch7.blurring-improves-faithfulness-correlation": INCONCLUSIVE,
    "ch7.guided-backprop-ignores-the-top-layer-under-smooth-mprt": INCONCLUSIVE,
    "ch7.rectgrad-ignores-the-top-layer-under-smooth-mprt": FAILS,
    "ch7.smoothing-keeps-the-guided-backprop-verdict": INCONCLUSIVE,
    "ch7.smoothing-keeps-the-rectgrad-verdict": INCONCLUSIVE,
}
#: chapters whose prose renders its claims: all of them
RENDERING_CHAPTERS = (1, 2, 3, 4, 5, 6, 7)
#: chapters that summarize their claims on the zoo; chapter 7 must build in 3 minutes, and its zoo verdicts
#: (about a minute per model) are on the scoreboard page
ZOO_SUMMARY_CHAPTERS = (1, 2, 3, 4, 5, 6)
CLAIM_ID = re.compile(r"\bch\d\.[a-z0-9][a-z0-9.@-]*[a-z0-9]")


@pytest.fixture(scope="module")
def embedded_contexts(embedded_mistakes):
    """The contexts of chapters 1-7 on the embedded profile, built with the chapters' settings (the
    chapters add methods, levels and settings for their figures; the claims read the same objects)."""
    model, profile = embedded_mistakes["model"], embedded_mistakes["profile"]
    return [st.claims.Context.for_profile(model, profile, name="shapes-resnet"),
            st.claims.InputBiasContext(model, name="shapes-resnet"),
            st.claims.PerturbationContext.for_shapes(model, rise_masks=profile.rise_masks, name="shapes-resnet"),
            st.claims.RemedyContext.for_shapes(model, n=profile.n_graded, name="shapes-resnet")]


@pytest.fixture(scope="module")
def embedded_verdicts(embedded_contexts):
    return st.claims.evaluate(embedded_contexts).set_index("claim")


def test_every_claim_has_an_expected_embedded_verdict():
    assert set(EXPECTED) == set(CLAIMS)


#: claims whose negative control is not built yet: none (a claim without one may not enter the registry)
WITHOUT_CONTROL = set()


def test_claims_without_a_negative_control_are_the_known_ones():
    assert {c.id for c in CLAIMS.values() if c.control is None} == WITHOUT_CONTROL
    assert all(c.control_note for c in CLAIMS.values() if c.control is not None)


def test_no_negative_control_holds(embedded_contexts):
    """Each control is the claim's measurement on a case built so that the claim is false: a claim whose
    control holds could not fail."""
    controls = st.claims.evaluate(embedded_contexts, controls=True).set_index("claim")
    assert set(controls.index) == set(CLAIMS) - WITHOUT_CONTROL
    refused = {c for c, verdict in EXPECTED.items() if verdict == NOT_EVALUATED}      # the claim itself is refused
    evaluated = controls.drop(index=list(refused))
    assert (evaluated.verdict != NOT_EVALUATED).all(), evaluated[evaluated.verdict == NOT_EVALUATED].reason.to_dict()
    assert (controls.loc[list(refused)].verdict == NOT_EVALUATED).all()
    held = controls[controls.verdict == HOLDS]
    assert held.empty, f"controls that hold: {held[['effect', 'low', 'high', 'control']].to_dict('index')}"
    assert evaluated.eval("low <= effect <= high").all()


def test_a_bar_the_null_clears_is_caught_by_its_control(embedded_contexts):
    """The removed ``ch4.zscore-last-stage-majority`` (bar 0.5 while the last stage holds 0.53 of the
    filters): a random ranking clears its bar on average, and its control never says "does not hold",
    while the kept claim's bar (the filters' share) sends the same control below it."""
    context = embedded_contexts[0]
    share = context.last_stage.double().mean().item()
    majority = st.claims.Claim("ch4.majority", 4, "", "", Rule("above", 0.5 - share),
                               CLAIMS["ch4.zscore-favours-the-last-stage"].evidence, context=st.claims.Context,
                               control=CLAIMS["ch4.zscore-favours-the-last-stage"].control, control_note="random")
    control = majority.evaluate_control(context)
    assert share > 0.5 and control["effect"] > 0.5 - share and control["verdict"] != FAILS
    assert control["effect"] < control["high"] and control["low"] < 0.0 < control["high"]


def test_the_changelog_records_the_registry_hash():
    text = (ROOT / "book" / "claims_changelog.md").read_text()
    recorded = re.findall(r"Registry hash: `([0-9a-f]{16})`", text)
    assert recorded and recorded[-1] == st.claims.registry_hash(), (
        "the claims registry changed: add a dated entry with its reason and the new hash to book/claims_changelog.md")


def test_embedded_verdicts_are_the_expected_ones(embedded_verdicts):
    found = embedded_verdicts.verdict.to_dict()
    assert {c: found[c] for c in EXPECTED} == EXPECTED
    assert embedded_verdicts.eval("low <= effect <= high | effect != effect").all()


def _notebook_code(path) -> str:
    cells = json.loads(path.read_text())["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")


def test_chapters_name_only_existing_claims_and_render_their_own():
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        named = set(CLAIM_ID.findall(_notebook_code(notebook)))
        assert named <= set(CLAIMS), f"{notebook.name} names unknown claims {sorted(named - set(CLAIMS))}"
    for chapter in RENDERING_CHAPTERS:
        notebook = next((ROOT / "notebooks").glob(f"{chapter:02d}_*.ipynb"))
        own = {c.id for c in CLAIMS.values() if c.chapter == chapter}
        missing = own - set(CLAIM_ID.findall(_notebook_code(notebook)))
        assert not missing, f"{notebook.name} does not render {sorted(missing)}"


@pytest.mark.parametrize("kind, threshold, interval, verdict", [
    ("above", 0.0, (0.1, 0.3), HOLDS), ("above", 0.0, (-0.3, -0.1), FAILS), ("above", 0.0, (-0.1, 0.1), INCONCLUSIVE),
    ("below", 0.5, (0.1, 0.3), HOLDS), ("below", 0.5, (0.6, 0.9), FAILS), ("below", 0.5, (0.4, 0.6), INCONCLUSIVE),
    ("within", 0.05, (-0.02, 0.03), HOLDS), ("within", 0.05, (0.06, 0.2), FAILS), ("within", 0.05, (-0.2, -0.07), FAILS),
    ("within", 0.05, (-0.02, 0.09), INCONCLUSIVE), ("above", 0.0, (np.nan, np.nan), INCONCLUSIVE)])
def test_rules_decide_on_the_interval(kind, threshold, interval, verdict):
    low, high = interval
    assert Rule(kind, threshold).verdict(Evidence((low + high) / 2, low, high, 10, "units")) == verdict


def test_unknown_rule_and_claim_ids_are_refused(embedded_verdicts):
    with pytest.raises(ValueError, match="Rule: kind must be one of"):
        Rule("around")
    with pytest.raises(ValueError, match="unknown claim"):
        st.claims.markdown(embedded_verdicts.reset_index(), ids=["ch9.no-such-claim"])
    with pytest.raises(TypeError, match="Context"):
        st.claims.evaluate("shapes-resnet")


def test_a_context_gets_only_the_claims_that_apply(embedded_contexts):
    bias = embedded_contexts[1]
    table = st.claims.evaluate(bias)
    assert set(table.claim) == {c.id for c in CLAIMS.values() if c.chapter == 5}
    with pytest.raises(ValueError, match="PerturbationContext"):
        st.claims.evaluate(bias, ids=["ch6.no-baseline-is-neutral"])
    with pytest.raises(ValueError, match="black"):
        st.claims.InputBiasContext(bias.model, levels=(0.5, 1.0))


def test_extra_figure_settings_do_not_change_the_verdicts(embedded_contexts):
    """Chapter 5 asks its context for more methods and grey levels than the claims read."""
    bias = embedded_contexts[1]
    wider = st.claims.InputBiasContext(bias.model, methods=bias.methods + ["Deconvolution"], levels=(0.0, 0.5, 1.0),
                                       name="shapes-resnet")
    ids = ["ch5.rectgrad-climbs-with-brightness", "ch5.nobias-sees-black-objects"]
    pd.testing.assert_frame_equal(st.claims.evaluate(bias, ids), st.claims.evaluate(wider, ids))


def test_sweep_objects_are_classified(embedded_contexts):
    """The brightness claims score objects the model classifies correctly: nearly all of them."""
    sweep = embedded_contexts[1].sweep
    assert sweep.groupby("level").correct.mean().min() >= 0.95


def test_lrp_multiplies_by_the_normalized_input(embedded_contexts):
    model = embedded_contexts[1].model
    zero = st.rectgrad.InSpace(model, "standardized").zero_point().view(1, 3, 1, 1).expand(1, 3, 64, 64)
    assert st.attributions.attribute(model, "LRP-epsilon", zero.contiguous(), target=[0]).abs().max() < 1e-6


def test_intervals_cover_the_truth_and_shrink_with_n():
    rng = np.random.default_rng(1)
    small, large = mean_interval(rng.normal(1.0, 1.0, 50), "x"), mean_interval(rng.normal(1.0, 1.0, 2000), "x")
    assert small.low < 1.0 < small.high and large.low < 1.0 < large.high
    assert large.high - large.low < (small.high - small.low) / 3
    diff = difference_interval(rng.normal(0.5, 1, 400), rng.normal(0.0, 1, 400), "x")
    assert diff.low < 0.5 < diff.high and diff.low > 0
    share = proportion_interval(30, 100, "x")
    assert share.effect == 0.3 and 0.2 < share.low < 0.3 < share.high < 0.4


def test_markdown_renders_each_verdict_with_its_interval(embedded_verdicts):
    text = st.claims.markdown(embedded_verdicts.reset_index(), ids=["ch4.zscore-favours-the-last-stage"])
    row = embedded_verdicts.loc["ch4.zscore-favours-the-last-stage"]
    assert text.startswith(f"- **{row.verdict}**") and f"[{row.low:.3g}, {row.high:.3g}]" in text


def test_the_largest_effect_s_interval_contains_it_and_covers_the_truth():
    evidence = largest_of([0.1, 0.5, 0.3], [0.0, 0.4, 0.1], [0.2, 0.6, 0.5], "x", 10)
    assert (evidence.effect, evidence.low, evidence.high) == (0.5, 0.4, 0.6)
    rng = np.random.default_rng(0)
    covered = 0
    for trial in range(40):
        x = rng.normal([[0.0], [0.3], [0.3]], 1.0, size=(3, 60))
        e = largest_resampled(lambda i: x[:, i].mean(1), 60, "x", seed=trial, resamples=400)
        assert e.low <= e.effect <= e.high
        covered += e.low <= 0.3 <= e.high
    assert covered >= 36                     # simultaneous intervals: at least 95% nominal, here 90% of 40


def test_distinct_winners_are_bounded_by_simultaneous_intervals():
    """Two methods that clearly win in different substrates: at least 2 certain winners; pure noise: the count
    of argmax winners (often above 1) is not trusted, its lower bound stays at most 1."""
    rng = np.random.default_rng(0)
    clear = rng.normal(0, 0.1, size=(3, 5, 24))
    clear[0, 1] += 2
    clear[1:, 3] += 2
    assert winner_bounds(clear) == (2, 2, 2)
    noise = rng.normal(size=(6, 5, 24))
    lower, estimate, upper = winner_bounds(noise)
    assert lower <= 1 < estimate <= upper


def test_split_half_reliability_separates_signal_from_noise():
    rng = np.random.default_rng(0)
    signal = np.arange(6.0)[None, :, None] + 0.01 * rng.normal(size=(3, 6, 16))
    within, between = split_half_agreement(signal, splits=50)
    assert within.min() > 0.9 and between.min() > 0.9
    opposite = signal.copy()
    opposite[1] = -opposite[1]
    within, between = split_half_agreement(opposite, splits=50)
    assert within.min() > 0.9 and between.max() < 0
    within, between = split_half_agreement(rng.normal(size=(3, 6, 16)), splits=50)
    assert within.mean() < 0.3 and abs(between.mean()) < 0.3     # noise: no reliability to speak of


def test_every_chapter_summarizes_its_claims_on_the_zoo():
    for chapter in ZOO_SUMMARY_CHAPTERS:
        notebook = next((ROOT / "notebooks").glob(f"{chapter:02d}_*.ipynb"))
        code = _notebook_code(notebook)
        assert f"st.claims.zoo_verdicts(chapter={chapter}" in code, notebook.name
        assert f"st.claims.zoo_markdown(zoo, chapter={chapter})" in code, notebook.name
        assert "st.claims.zoo_note(zoo)" in code, notebook.name
    for chapter in set(RENDERING_CHAPTERS) - set(ZOO_SUMMARY_CHAPTERS):
        notebook = next((ROOT / "notebooks").glob(f"{chapter:02d}_*.ipynb"))
        assert "08_scoreboard.ipynb" in notebook.read_text(), f"{notebook.name} must point to the scoreboard"
    assert "st.claims.zoo_verdicts()" in _notebook_code(ROOT / "notebooks" / "08_scoreboard.ipynb")


def test_zoo_verdicts_read_only_the_kinds_of_context_a_chapter_needs(embedded_verdicts, tmp_path, monkeypatch):
    """Each kind of context has its own cached table; a chapter reads the kinds its claims use."""
    monkeypatch.setenv("SALTOOLS_CACHE", str(tmp_path))
    table = embedded_verdicts.reset_index()
    profile = st.profiles.get("embedded")
    for kind in st.claims.CONTEXTS:
        key = zoo_key(profile, kind)
        ids = [c.id for c in CLAIMS.values() if c.context is kind]
        write_verdicts(table[table.claim.isin(ids)], tmp_path / "claims" / f"zoo-{kind.__name__}-{key[:32]}.json", key)
    for chapter in RENDERING_CHAPTERS:
        read = st.claims.zoo_verdicts(chapter=chapter, source="cache")
        kinds = {CLAIMS[c].context for c in read.claim}
        assert len(kinds) == 1 and {c.chapter for c in CLAIMS.values() if c.context in kinds} >= {chapter}
        assert read.attrs["provenance"]["source"] == "computed"
    assert set(st.claims.zoo_verdicts(source="cache").claim) == set(CLAIMS)
    with pytest.raises(ValueError, match="zoo_verdicts: chapter must be an integer from 0 to 8; got 9"):
        st.claims.zoo_verdicts(chapter=9)


def test_zoo_markdown_counts_verdicts_per_claim(embedded_verdicts):
    rows = embedded_verdicts.reset_index()
    board = pd.concat([rows, rows.assign(model="other", verdict=FAILS)], ignore_index=True)
    text = st.claims.zoo_markdown(board, chapter=5)
    assert text.count("\n") + 1 == sum(c.chapter == 5 for c in CLAIMS.values())
    assert "holds on **1 of 2** zoo models (does not hold on 1)." in text
    with pytest.raises(ValueError, match="zoo_markdown: chapter must be an integer from 0 to 8; got 9"):
        st.claims.zoo_markdown(board, chapter=9)


def test_cached_zoo_verdicts_are_validated_when_read(embedded_verdicts, tmp_path):
    table = embedded_verdicts.reset_index()
    path = tmp_path / "zoo.json"
    write_verdicts(table, path, "key")
    pd.testing.assert_frame_equal(read_verdicts(path, "key")[list(COLUMNS)], table[list(COLUMNS)], check_dtype=False)
    with pytest.warns(UserWarning, match="other code"):
        assert read_verdicts(path, "another key") is None
    saved = json.loads(path.read_text())
    for broken in ({**saved, "rows": [{**saved["rows"][0], "verdict": "maybe"}]},
                   {**saved, "rows": [{k: v for k, v in saved["rows"][0].items() if k != "high"}]},
                   {**saved, "rows": [{**saved["rows"][0], "effect": "large"}]}):
        path.write_text(json.dumps(broken))
        with pytest.warns(UserWarning, match="ignoring"):
            assert read_verdicts(path, "key") is None
    path.write_text("{not json")
    with pytest.warns(UserWarning, match="does not parse"):
        assert read_verdicts(path, "key") is None


def test_a_chapter_6_context_stands_in_for_the_zoo_s_on_the_shipped_model():
    """Chapter 6 passes its context to ``zoo_verdicts(reuse=...)``: its figure-only settings must not
    change the fingerprint, while other weights or settings must."""
    profile, model = st.profiles.get("embedded"), st.models.load("shapes-resnet")
    chapter = st.claims.PerturbationContext.for_shapes(
        model, rise_masks=profile.rise_masks, windows={"8/8": dict(window=8, stride=8)},
        rise_changes={"s=4": dict(grid=4)}, name="shapes-resnet")
    zoo = st.claims.zoo_contexts({"shapes-resnet": model, "shapes-vgg": st.models.load("shapes-vgg")}, profile,
                                 kinds=(st.claims.PerturbationContext,), **st.claims.zoo_settings(profile))
    assert chapter.fingerprint() == zoo[0].fingerprint() != zoo[1].fingerprint()
    fewer = st.claims.PerturbationContext.for_shapes(model, rise_masks=profile.rise_masks // 2)
    assert fewer.fingerprint() != chapter.fingerprint()


def _table(rows):
    return pd.DataFrame([dict(zip(["claim", "model", "chapter", "effect", "low", "high", "n", "rule_kind",
                                   "rule_threshold", "verdict"], row)) for row in rows])


def test_simultaneous_verdicts_widen_with_the_family_and_keep_a_lone_claim():
    alone = _table([("a", "m", 1, 0.1, 0.02, 0.18, 50, "above", 0.0, HOLDS)])
    strict = st.claims.simultaneous(alone)
    assert strict.loc[0, ["sim_low", "sim_high"]].tolist() == pytest.approx([0.02, 0.18])
    assert strict.sim_verdict[0] == HOLDS and strict.family_size[0] == 1
    family = _table([("a", "m", 1, 0.1, 0.02, 0.18, 50, "above", 0.0, HOLDS),
                     *[(f"b{i}", "m", 1, 0.5, 0.3, 0.7, 50, "above", 0.0, HOLDS) for i in range(19)],
                     ("c", "m", 1, float("nan"), float("nan"), float("nan"), 0, "above", 0.0, NOT_EVALUATED),
                     ("a", "other", 1, 0.1, 0.02, 0.18, 50, "above", 0.0, HOLDS)])
    strict = st.claims.simultaneous(family)
    assert strict.family_size.tolist() == [20] * 20 + [0, 1]
    assert strict.sim_low[0] < 0.02 and strict.sim_verdict[0] == INCONCLUSIVE      # 20 claims: 0.02 above 0 is not enough
    assert (strict.sim_verdict[1:20] == HOLDS).all() and strict.sim_verdict[20] == NOT_EVALUATED
    assert strict.sim_verdict[21] == HOLDS                                           # its own family of one


def test_n_to_decide_scales_with_the_squared_ratio_of_width_to_distance():
    table = _table([("a", "m", 1, 0.1, -0.1, 0.3, 100, "above", 0.0, INCONCLUSIVE),
                    ("b", "m", 1, 0.04, -0.02, 0.1, 30, "within", 0.05, INCONCLUSIVE),
                    ("c", "m", 1, 0.5, 0.3, 0.7, 30, "above", 0.0, HOLDS),
                    ("d", "m", 1, 0.0, -0.1, 0.1, 30, "above", 0.0, INCONCLUSIVE)])
    needed = st.claims.n_to_decide(table)
    assert needed[0] == 400 and needed[1] == np.ceil(30 * (0.06 / 0.01) ** 2) and needed[2] == 30
    assert needed[3] == np.inf


def test_the_scoreboard_figure_shows_refusals_and_puts_exploratory_claims_apart():
    import matplotlib
    matplotlib.use("Agg")
    ids = ["ch6.substrate-picks-the-winner", "ch6.no-baseline-is-neutral"]
    rows = [dict(claim=c, model=m, effect=0.5, low=0.4, high=0.6, verdict=HOLDS, paper_value=None,
                 exploratory=CLAIMS[c].exploratory) for c in ids for m in ("a", "b")]
    rows[-1].update(effect=np.nan, low=np.nan, high=np.nan, verdict=NOT_EVALUATED)
    fig = st.plots.scoreboard(pd.DataFrame(rows))
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["ch6.no-baseline-is-neutral", "ch6.substrate-picks-the-winner (exploratory)"]
    assert "not\nevaluated" in [t.get_text() for t in fig.axes[0].texts]


def test_markdown_tags_exploratory_claims_and_says_what_would_decide_an_inconclusive_one():
    table = _table([("ch6.substrate-picks-the-winner", "m", 6, 0.1, -0.1, 0.3, 8, "above", 0.0, INCONCLUSIVE),
                    ("ch6.no-baseline-is-neutral", "m", 6, 0.5, 0.4, 0.6, 8, "below", 0.7, HOLDS)])
    table = table.assign(statement="S.", effect_name="e", unit="images", reason="",
                         exploratory=[CLAIMS[c].exploratory for c in table.claim])
    first, second = st.claims.markdown(table).splitlines()
    assert "(m, exploratory)" in first and "about 32 images would decide it" in first
    assert "(m)" in second and "would decide" not in second
    assert "Power: 80% to decide a true effect 0.1 beyond the threshold needs about" in second


def test_units_needed_follows_the_normal_approximation():
    from saltools.claims.power import units_needed
    # half-width 0.196 on 100 units: a spread of 1 per unit; 80% power at delta 0.28 needs (2.8 / 0.28)^2 = 100
    assert units_needed(0.196, 100, 0.2802, False) == pytest.approx(100, abs=1)
    assert units_needed(0.196, 100, 0.1401, False) == pytest.approx(400, abs=2)    # half the effect, four times n
    assert units_needed(0.196, 100, 0.2802, True) > units_needed(0.196, 100, 0.2802, False)   # both bounds must clear
    assert units_needed(0.0, 10, 0.1, False) == 0                                  # no spread: any size decides


def test_power_plan_flags_an_underpowered_design():
    from saltools.claims.power import power_plan
    table = _table([("ch6.no-baseline-is-neutral", "m", 6, 0.5, 0.4, 0.6, 8, "below", 0.7, HOLDS),
                    ("ch6.no-baseline-is-neutral", "n", 6, 0.5, 0.45, 0.55, 200, "below", 0.7, HOLDS),
                    ("x.band", "m", 1, 0.0, -0.04, 0.04, 30, "within", 0.05, INCONCLUSIVE),
                    ("x.refused", "m", 1, np.nan, np.nan, np.nan, 0, "above", 0.0, NOT_EVALUATED)]).assign(unit="u")
    plan = power_plan(table)
    assert plan.claim.tolist() == ["ch6.no-baseline-is-neutral"] * 2 + ["x.band"]      # refusals have no plan
    assert plan.smallest_effect.tolist() == [0.1, 0.1, 0.05]                             # a band is its own smallest effect
    assert plan.powered.tolist() == [False, True, False]      # needs 17 (has 8), 103 (has 200), 53 (has 30)
    assert plan.n_needed.tolist() == [17, 103, 53]


def test_exploratory_claims_are_the_ones_the_pilot_cannot_power(embedded_verdicts):
    """Power before data: a claim is confirmatory only if its size on the embedded profile (the pilot) reaches
    the units that detect its smallest effect with 80% probability; the others are flagged exploratory."""
    from saltools.claims.power import SMALLEST_EFFECT, power_plan
    assert set(SMALLEST_EFFECT) == {c.id for c in CLAIMS.values() if c.rule.kind != "within"}
    plan = power_plan(embedded_verdicts.reset_index())
    underpowered = set(plan.claim[~plan.powered])
    refused = {c for c, verdict in EXPECTED.items() if verdict == NOT_EVALUATED}
    assert underpowered == {c.id for c in CLAIMS.values() if c.exploratory} - refused, plan[~plan.powered].to_string()


@pytest.mark.parametrize("head", [torch.nn.Softmax(dim=1), torch.nn.LogSoftmax(dim=1)], ids=["softmax", "log-softmax"])
def test_every_kind_of_context_refuses_a_model_that_returns_probabilities(head):
    model = st.models.load("shapes-resnet")
    shapes = st.data.Shapes(8)
    build = {
        st.claims.Context: lambda m: st.claims.Context(m, shapes, shapes),
        st.claims.InputBiasContext: lambda m: st.claims.InputBiasContext(m),
        st.claims.PerturbationContext: lambda m: st.claims.PerturbationContext(m, shapes.images, shapes.labels,
                                                                               shapes.masks),
        st.claims.RemedyContext: lambda m: st.claims.RemedyContext(m, shapes.images, shapes.labels, shapes.masks),
    }
    assert set(build) == set(st.claims.CONTEXTS)
    for kind, make in build.items():
        with pytest.raises(ValueError, match="must return logits.*probabilities"):
            make(torch.nn.Sequential(model, head))
        assert isinstance(make(model), kind)                  # the same network without its head is taken


def test_a_shift_claim_without_shifted_mistakes_says_which_is_missing():
    """Refused for the right reason: no shifted queries (give them) is not the same as shifted queries on which the
    model made no mistake (give more). The second used to ask for the argument the caller had passed."""
    model = st.models.load("shapes-resnet")
    reference, queries = st.data.Shapes(40, split="reference"), st.data.Shapes(16)
    everything_wrong = torch.utils.data.TensorDataset(queries.images, (queries.labels + 1) % 10)
    predicted = st.models.predict(model, queries.images).argmax(1)
    nothing_wrong = torch.utils.data.TensorDataset(queries.images, predicted)
    ids = ["ch4.domain-shift-increases-the-bias"]
    for shifted, reason in [(None, r"no target-domain \(shifted\) queries \(give Context\(\.\.\., shifted=\.\.\.\)\)"),
                            (nothing_wrong, r"made 0 mistakes on the context's target-domain \(shifted\) queries")]:
        context = st.claims.Context(model, reference, everything_wrong, shifted, sample_size=40)
        row = st.claims.evaluate(context, ids=ids).iloc[0]
        assert row.verdict == NOT_EVALUATED and re.search(reason, row.reason), row.reason
