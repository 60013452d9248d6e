"""Self-checking exercises: the check helper (``saltools.exercises``), the tagged exercise cells of the
chapters, their generated student versions, and (from the built book) that every check fails on the
starter and passes on the solution, as Neuromatch's exercise verification does."""
import json
import re
import sys

import numpy as np
import pytest
import torch

import saltools as st
from saltools.exercises import EXERCISES, Exercise, check, difference
from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "book" / "_ext"))
import student_notebooks  # noqa: E402

#: every page of the book that is a notebook: each has self-checking exercises and a student version
CHAPTERS_WITH_EXERCISES = tuple(sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")))
GAP = re.compile(r"\.\.\.[\]\)}]*\s+# YOUR CODE")
CHECK_CALL = re.compile(r'st\.exercises\.check\("([^"]+)"')
ORDER = (("markdown", ()), ("code", ("exercise-starter", "remove-cell")), ("code", ("exercise-check", "remove-cell")),
         ("markdown", ("exercise-solution",)), ("code", ("exercise-solution",)),
         ("code", ("exercise-solution", "exercise-check")))


def _cells(name):
    return json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text())["cells"]


def _exercises(cells):
    """Each exercise's six cells (prompt, starter, check, solution text, solution, check)."""
    starts = [i - 1 for i, c in enumerate(cells) if "exercise-starter" in c.get("metadata", {}).get("tags", [])]
    return [cells[i:i + len(ORDER)] for i in starts]


def test_check_names_what_is_wrong():
    key = Exercise("test.sum", lambda x: float(x.sum()), "well done",
                   mistakes={"You took the mean, not the sum.": lambda x: float(x.mean())})
    EXERCISES[key.id] = key
    try:
        x = torch.arange(4.0)
        assert check("test.sum", 6.0, x=x).passed and "well done" in check("test.sum", 6.0, x=x).message
        assert "gaps" in check("test.sum", ..., x=x).message
        assert "mean, not the sum" in check("test.sum", 1.5, x=x).message
        assert "not the value" in check("test.sum", 7.0, x=x).message
        assert "expected a number" in check("test.sum", "six", x=x).message.lower()
        assert not check("test.sum", 7.0, x=x)
        assert "Correct" in check("test.sum", 6.0, x=x)._repr_markdown_()
    finally:
        del EXERCISES[key.id]
    with pytest.raises(ValueError, match="unknown exercise"):
        check("nope", 1.0)


def test_a_check_given_the_wrong_objects_says_what_it_needs():
    with pytest.raises(TypeError, match=r"computes its key from the chapter's model, dark; got stats=str"):
        check("ch05.sign", 1.0, stats="not the chapter's statistics")
    with pytest.raises(TypeError, match="check: exercise must be a string; got int 5"):
        check(5, 1.0)


@pytest.mark.parametrize("answer, expected, problem", [
    ({"a": 1.0}, {"a": 1.0, "b": 2.0}, "keys"), ({"a": 1.0, "b": 2.5}, {"a": 1.0, "b": 2.0}, "['b']"),
    (np.zeros((2, 3)), torch.zeros(3, 2), "shape"), ([1.0, 2.0], np.array([1.0, 2.0]), None),
    ("GuidedBackprop", "guidedbackprop", None), (1, True, "True or False"), (torch.tensor(0.5), 0.5, None),
    ({"pot": float("nan")}, {"pot": float("nan")}, None),                  # a recall with no planted filters
    ({"pot": 0.5}, {"pot": float("nan")}, "not the value"), (float("nan"), 0.5, "not the value"),
])
def test_difference_compares_by_type_shape_and_value(answer, expected, problem):
    found = difference(answer, expected)
    assert found is None if problem is None else problem in found


@pytest.mark.parametrize("name", CHAPTERS_WITH_EXERCISES)
def test_a_chapter_has_three_tagged_exercises_one_asking_for_a_prediction(name):
    exercises = _exercises(_cells(name))
    assert len(exercises) >= 3
    assert any("predict first" in "".join(e[0]["source"]).lower() for e in exercises)
    for cells in exercises:
        assert [(c["cell_type"], tuple(c.get("metadata", {}).get("tags", []))) for c in cells] == list(ORDER)
        starter, first_check, last_check = ("".join(cells[i]["source"]) for i in (1, 2, 5))
        assert GAP.search(starter), f"the starter has no gap marked `...  # YOUR CODE`: {starter}"
        assert first_check == last_check and CHECK_CALL.search(first_check), first_check


def test_every_answer_key_is_checked_by_exactly_one_exercise():
    used = [CHECK_CALL.search("".join(e[2]["source"])).group(1) for name in CHAPTERS_WITH_EXERCISES
            for e in _exercises(_cells(name))]
    assert sorted(used) == sorted([*EXERCISES, *st.exercises.CORES])
    others = [p.stem for p in (ROOT / "notebooks").glob("*.ipynb") if p.stem not in CHAPTERS_WITH_EXERCISES]
    assert not [n for n in others if _exercises(_cells(n))], "update CHAPTERS_WITH_EXERCISES"


def test_student_notebooks_are_generated_and_current():
    wanted = student_notebooks.generated()
    assert sorted(p.stem for p in wanted) == sorted(CHAPTERS_WITH_EXERCISES)
    assert len(CHAPTERS_WITH_EXERCISES) == 9, "every chapter, 0 to the scoreboard (8), has its student version"
    for path, text in wanted.items():
        assert path.exists() and path.read_text() == text, f"{path.name}: run python book/_ext/student_notebooks.py"
        cells = json.loads(text)["cells"]
        assert not [c for c in cells if "exercise-solution" in c.get("metadata", {}).get("tags", [])]
        assert "notebooks/students/" in "".join(cells[0]["source"]) and "Student version" in "".join(cells[0]["source"])
        assert all(not c.get("outputs") for c in cells if c["cell_type"] == "code")
        assert "Solution" not in "".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")


def _verdict(cell) -> str:
    text = "".join("".join(o.get("data", {}).get("text/plain", "")) for o in cell.get("outputs", []))
    return "passed" if text.startswith("Correct.") else "failed" if text.startswith("Not yet.") else text or "none"


@pytest.mark.book
@pytest.mark.parametrize("name", CHAPTERS_WITH_EXERCISES)
def test_every_check_fails_on_the_starter_and_passes_on_the_solution(built_book, name):
    executed = json.loads((built_book.parent / "jupyter_execute" / "notebooks" / f"{name}.ipynb").read_text())
    for cells in _exercises(executed["cells"]):
        exercise = CHECK_CALL.search("".join(cells[2]["source"])).group(1)
        assert (_verdict(cells[2]), _verdict(cells[5])) == ("failed", "passed"), exercise


def _audit(cell) -> dict | None:
    for output in cell.get("outputs", []):
        audit = output.get("metadata", {}).get("text/markdown", {}).get(st.exercises.AUDIT_KEY)
        if audit is not None:
            return audit
    return None


@pytest.mark.book
@pytest.mark.parametrize("name", CHAPTERS_WITH_EXERCISES)
def test_every_declared_mistake_is_rejected_and_every_route_accepted_on_the_chapter_s_data(built_book, name):
    """The book build audits each passed solution: on the chapter's own objects, the value of every declared
    mistake must differ from the key (else the check cannot tell it from understanding) and every declared
    correct route must equal it."""
    executed = json.loads((built_book.parent / "jupyter_execute" / "notebooks" / f"{name}.ipynb").read_text())
    for cells in _exercises(executed["cells"]):
        exercise = CHECK_CALL.search("".join(cells[2]["source"])).group(1)
        audit = _audit(cells[5])
        assert audit is not None, f"{exercise}: the solution's check carries no audit"
        assert audit["mistakes_rejected"] and all(audit["mistakes_rejected"].values()), (exercise, audit)
        assert all(audit["routes_accepted"].values()), (exercise, audit)


def test_the_audit_catches_a_mistake_the_check_cannot_tell_and_a_route_it_refuses(monkeypatch):
    """Negative controls for the audit: a "mistake" equal to the key here (every share at a ceiling of 1) and a
    correct route the tolerance refuses (a bias-corrected estimator at rtol 1e-4) are both reported."""
    monkeypatch.setenv("SALTOOLS_BOOK_BUILD", "1")
    x = torch.ones(8)
    key = Exercise("test.ceiling", lambda x: float((x > 0).float().mean()), "fine",
                   mistakes={"whole sample": lambda x: float((x[:4] > 0).float().mean())},
                   routes={"n - 1": lambda x: float((x > 0).float().sum() / (len(x) - 1))})
    EXERCISES[key.id] = key
    try:
        feedback = check(key.id, 1.0, x=x)
    finally:
        del EXERCISES[key.id]
    assert feedback.passed
    assert feedback.audit == {"mistakes_rejected": {"whole sample": False}, "routes_accepted": {"n - 1": False}}
    _, metadata = feedback._repr_markdown_()
    assert metadata[st.exercises.AUDIT_KEY] == feedback.audit
    monkeypatch.setenv("SALTOOLS_SCALE", "smoke")            # CI's full-profile smoke run only shrinks the work
    EXERCISES[key.id] = key
    try:
        assert check(key.id, 1.0, x=x).audit is None
    finally:
        del EXERCISES[key.id]


def test_a_predict_first_exercise_needs_the_prediction_and_shows_it_beside_the_result():
    key = Exercise("test.predict", lambda x: float(x.sum()), "well done",
                   outcome=lambda expected, x: f"the sum is {expected:g}, the mean {float(x.mean()):g}")
    EXERCISES[key.id] = key
    try:
        x = torch.arange(4.0)
        missing = check(key.id, 6.0, x=x)
        assert not missing and "prediction first" in missing.message
        assert not check(key.id, 6.0, prediction=..., x=x)
        shown = check(key.id, 6.0, prediction="about 5", x=x)
        assert shown and "You predicted: *about 5*" in shown.message and "the sum is 6, the mean 1.5" in shown.message
        assert "the sum is" not in check(key.id, 7.0, prediction="about 5", x=x).message     # no answer given away
    finally:
        del EXERCISES[key.id]


@pytest.mark.parametrize("name", CHAPTERS_WITH_EXERCISES)
def test_predict_first_exercises_record_the_prediction(name):
    for cells in _exercises(_cells(name)):
        exercise = CHECK_CALL.search("".join(cells[2]["source"])).group(1)
        predicts = "predict first" in "".join(cells[0]["source"]).lower()
        if exercise in st.exercises.CORES:
            assert not predicts and "def " in "".join(cells[1]["source"]), exercise
            continue
        assert predicts == (EXERCISES[exercise].outcome is not None), exercise
        if predicts:
            assert all("prediction=prediction" in "".join(cells[i]["source"]) for i in (2, 5)), exercise
            assert "prediction = ..." in "".join(cells[1]["source"]) and "prediction = " in "".join(cells[4]["source"])


def test_every_exercise_declares_a_common_mistake():
    assert not [k for k, e in EXERCISES.items() if not e.mistakes]


def test_a_number_of_any_type_is_accepted_where_a_number_is_asked():
    for answer in (2, np.int64(2), np.float32(2.0), torch.tensor(2), torch.tensor([2.0]), np.array(2.0)):
        assert difference(answer, 2.0) is None, type(answer)
    assert "expected a set" in difference(3, {"a", "b"})


@pytest.mark.parametrize("core", sorted(st.exercises.CORES))
def test_an_implement_the_core_check_rejects_every_declared_mistake_and_accepts_every_route(core):
    key = st.exercises.CORES[core]
    assert check(core, key.reference).passed
    assert len(key.mistakes) >= 2 and len(key.cases(np.random.default_rng(0))) >= 6
    for hint, mistake in key.mistakes.items():
        feedback = check(core, mistake)
        assert not feedback.passed and "cases fail; the first:" in feedback.message, hint
        assert hint in feedback.message, (hint, feedback.message)          # the matching mistake is named
    for name, route in key.routes.items():
        assert check(core, route).passed, name


def test_an_implement_the_core_check_says_what_is_missing_or_wrong():
    assert "Fill in the gaps" in check("ch07.implement-srg", lambda morf, lerf: ...).message
    assert "expected a function" in check("ch07.implement-srg", 0.5).message
    crash = check("ch07.implement-srg", lambda morf, lerf: morf.missing_attribute)
    assert not crash and "raised AttributeError" in crash.message
    state = torch.random.get_rng_state()
    check("ch06.implement-occlusion", st.exercises.CORES["ch06.implement-occlusion"].reference)
    assert torch.equal(state, torch.random.get_rng_state()), "the cases changed the caller's random state"


def test_the_check_helper_is_the_one_the_package_exports():
    assert st.exercises.check is check


CALL_IN_COMMENT = re.compile(r"\b[a-z_]+\.[a-z_.]+\(|\bst\.[a-z_.]+")


@pytest.mark.parametrize("name", CHAPTERS_WITH_EXERCISES)
def test_no_starter_spells_out_the_solution_s_call(name):
    """A starter says what to compute, never which saltools call computes it (the review found ~20 of 27 that
    did, turning the exercise into transcription)."""
    for cells in _exercises(_cells(name)):
        comments = [line.split("#", 1)[1] for line in "".join(cells[1]["source"]).splitlines() if "#" in line]
        spelled = [c for c in comments if CALL_IN_COMMENT.search(c)]
        assert not spelled, spelled


def test_the_starter_rule_catches_a_spelled_out_call():
    assert CALL_IN_COMMENT.search(" YOUR CODE: st.evt.normality_tests(sample, index)")
    assert CALL_IN_COMMENT.search(" YOUR CODE: stats.tail_fit(0.95)")
    assert not CALL_IN_COMMENT.search(" YOUR CODE: the tail fits at the 95% quantile (a float)")
