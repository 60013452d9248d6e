"""The claims layer: verdict rules and intervals behave as stated, and every claim's verdict on the
embedded profile is the one the book expects (computed by the same claim objects the chapters render)."""
import json
import re

import numpy as np
import pytest

import saltools as st
from saltools.claims import CLAIMS, FAILS, HOLDS, INCONCLUSIVE, Evidence, Rule
from saltools.claims.core import difference_interval, mean_interval, proportion_interval
from tests.conftest import ROOT

#: what the embedded profile (shipped model) gives; a change here is a change of the book's findings
EXPECTED = {
    "ch1.zeroing-salient-corrects-more-than-random": INCONCLUSIVE,
    "ch1.zeroing-salient-lowers-wrong-confidence": INCONCLUSIVE,
    "ch1.finetuning-salient-corrects-more-than-random": HOLDS,
    "ch1.least-salient-filters-barely-matter": HOLDS,
    "ch1.zeroing-kmax-corrects-a-minority": HOLDS,
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
    "ch4.zscore-last-stage-majority": HOLDS,
    "ch4.random-has-no-depth-preference": HOLDS,
    "ch4.pot-less-last-stage-than-zscore@q0.85": FAILS,
    "ch4.pot-less-last-stage-than-zscore@q0.90": FAILS,
    "ch4.pot-less-last-stage-than-zscore@q0.95": FAILS,
    "ch4.published-pot-less-last-stage-than-zscore": FAILS,
    "ch4.statistic-shrinks-with-depth": HOLDS,
    "ch4.domain-shift-increases-the-bias": FAILS,
}
#: chapters whose prose renders its claims (the others still state findings as fixed sentences)
RENDERING_CHAPTERS = (1, 2, 3, 4)
CLAIM_ID = re.compile(r"\bch\d\.[a-z0-9][a-z0-9.@-]*[a-z0-9]")


@pytest.fixture(scope="module")
def embedded_verdicts(embedded_mistakes):
    context = st.claims.Context.for_profile(embedded_mistakes["model"], embedded_mistakes["profile"],
                                            name="shapes-resnet")
    return st.claims.evaluate(context).set_index("claim")


def test_every_claim_has_an_expected_embedded_verdict():
    assert set(EXPECTED) == set(CLAIMS)


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
    with pytest.raises(ValueError, match="rule kind"):
        Rule("around")
    with pytest.raises(ValueError, match="unknown claim"):
        st.claims.markdown(embedded_verdicts.reset_index(), ids=["ch9.no-such-claim"])
    with pytest.raises(TypeError, match="Context"):
        st.claims.evaluate("shapes-resnet")


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
