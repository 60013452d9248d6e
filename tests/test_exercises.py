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
GAP = re.compile(r"= \.\.\.\s+# YOUR CODE")
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
    assert sorted(used) == sorted(EXERCISES)
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


def test_the_check_helper_is_the_one_the_package_exports():
    assert st.exercises.check is check
