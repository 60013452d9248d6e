"""The chapters' quizzes (``saltools/assets/quizzes.yml``, ``saltools.quiz``): every chapter shows one, the file
follows the rules that keep a quiz from being passed without reading, the rules catch a file that breaks them,
options are shuffled per reader, and the notebook widget grades like the page. The browser test answers the
quizzes in the built book."""
import html
import json
import re

import pytest

import saltools as st
from saltools.quiz import QUIZZES, load_quizzes, rule_violations
from tests.conftest import ROOT

SHOW = re.compile(r'st\.quiz\.show\("(ch\d\d)"\)')


def _quiz_cells(notebook) -> list[tuple[str, list[str]]]:
    cells = json.loads(notebook.read_text())["cells"]
    return [(key, c["metadata"].get("tags", [])) for c in cells if c["cell_type"] == "code"
            for key in SHOW.findall("".join(c["source"]))]


def test_every_chapter_shows_its_own_quiz_of_three_to_five_questions():
    known = load_quizzes()
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        found = _quiz_cells(notebook)
        assert [key for key, _ in found] == [f"ch{notebook.name[:2]}"], notebook.name
        assert "remove-input" in found[0][1], "the book shows the quiz, not the call"
    assert set(known) == {f"ch{n.name[:2]}" for n in (ROOT / "notebooks").glob("*.ipynb")}
    assert all(3 <= len(questions) <= 5 for questions in known.values())


def test_the_quiz_file_ships_with_the_package():
    assert QUIZZES.parent == ROOT / "saltools" / "assets"
    assert '"*.yml"' in (ROOT / "pyproject.toml").read_text()


def test_the_book_s_quizzes_follow_the_rules():
    quizzes = load_quizzes()
    assert rule_violations(quizzes) == []
    choices = [q for questions in quizzes.values() for q in questions if "options" in q]
    longest = sum(map(st.quiz.key_is_longest, choices)) / len(choices)
    assert longest <= st.quiz.MAX_KEY_LONGEST_BOOK
    assert {q["answer"] for q in choices} == {0, 1, 2}


def _question(texts, answer):
    return {"question": "q", "answer": answer, "explanation": "e",
            "options": [{"text": t, **({} if i == answer else {"why": "w"})} for i, t in enumerate(texts)]}


def test_the_rules_fail_a_quiz_a_guesser_could_pass():
    """Negative controls: the quiz the review found (the key always the longest option, mostly option b) and
    options of very unequal length are flagged."""
    guessable = {f"ch{c:02d}": [_question(["short", "the right answer, spelled out at length", "brief"], 1)] * 3
                 for c in range(3)}
    found = rule_violations(guessable)
    assert any("longest option in 3 of 3" in f for f in found)
    assert any("every key is option 1" in f for f in found)
    assert any("keys are option 1" in f for f in found)
    assert any("options of 5 to" in f for f in found)
    fair = {"ch00": [_question(["alpha beta", "gamma delta", "epsilon z"], k) for k in (0, 1, 2)]}
    assert rule_violations(fair) == []


@pytest.mark.parametrize("broken, message", [
    ({"ch01": [_question(["a", "b", "c"], 3)] * 3}, "index"),
    ({"ch01": [{"question": "q", "answer": 1, "explanation": "e"}] * 3}, "tolerance"),
    ({"ch01": [{**_question(["a", "b", "c"], 0), "explanation": ""}] * 3}, "explanation"),
    ({"ch01": [_question(["a", "b", "c"], 0)] * 2}, "3 to 5"),
    ({"ch01": [_question(["a", "b"], 0)] * 3}, "at least 3 options"),
    ({"ch01": [{**_question(["a", "b", "c"], 0), "options": [{"text": "a"}, {"text": "b"}, {"text": "c"}]}] * 3},
     "misconception"),
    ({"ch01": [{**_question(["a", "b", "c"], 0), "answer": True}] * 3}, "index"),
    (["not", "a", "mapping"], "mapping"),
])
def test_a_broken_quiz_file_is_refused_naming_the_question(tmp_path, broken, message):
    path = tmp_path / "quizzes.yml"
    path.write_text(json.dumps(broken))
    with pytest.raises(ValueError, match=message):
        load_quizzes(path)


def test_options_are_shuffled_per_reader_and_stable_for_one():
    orders = {who: [st.quiz.option_order("ch05", n, 3, who) for n in range(1, 5)] for who in ("ana", "ben", "chen")}
    assert all(sorted(o) == [0, 1, 2] for per_reader in orders.values() for o in per_reader)
    assert orders["ana"] == [st.quiz.option_order("ch05", n, 3, "ana") for n in range(1, 5)]
    assert len({json.dumps(o) for o in orders.values()}) > 1
    every = [st.quiz.option_order(f"ch{c:02d}", n, 3, "ana") for c in range(9) for n in range(1, 5)]
    assert any(order != [0, 1, 2] for order in every) and any(order[0] != 0 for order in every)


def test_a_wrong_option_names_its_misconception_and_every_answer_explains():
    question = load_quizzes()["ch02"][0]
    wrong = next(i for i in range(3) if i != question["answer"])
    assert st.quiz.grade(question, None) == (None, "Pick an answer first.")
    right, feedback = st.quiz.grade(question, wrong)
    assert right is False and question["options"][wrong]["why"] in feedback
    assert st.quiz.grade(question, question["answer"]) == (True, "Correct.")
    numeric = next(q for q in load_quizzes()["ch02"] if "options" not in q)
    assert st.quiz.grade(numeric, "0,00135")[0] is True and st.quiz.grade(numeric, "0.0027")[0] is False
    assert st.quiz.grade(numeric, "about 1%")[0] is None


def test_the_notebook_widget_grades_in_the_reader_s_order():
    key, who = "ch03", "ana"
    quiz = st.quiz.quiz_widget(key, who=who)
    for number, (box, question) in enumerate(zip(quiz.children[1:], load_quizzes()[key]), start=1):
        choice, check, feedback = box.children[1:]
        assert [v for _, v in choice.options] == st.quiz.option_order(key, number, 3, who)
        assert choice.description == f"Answer {number}" and check.description == f"Check answer {number}"
        check.click()
        assert "first" in feedback.value
        wrong = (question["answer"] + 1) % 3
        choice.value = wrong
        check.click()
        assert feedback.value.startswith("<b>Not quite: " + html.escape(question["options"][wrong]["why"]))
        choice.value = question["answer"]
        check.click()
        assert feedback.value.startswith("<b>Correct.</b>")


def test_the_page_s_html_carries_the_misconceptions_and_labels_each_question():
    page = st.quiz.render_html("chX", [_question(["<yes>", "no `a < b`", "maybe"], 0),
                                       {"question": "How much?", "answer": 0.5, "tolerance": 0.01,
                                        "explanation": "half"}])
    assert "&lt;yes&gt;" in page and "<code>a &lt; b</code>" in page and 'data-why="w"' in page
    assert page.count("<fieldset") == 2 and page.count("<legend") == 2 and 'aria-live="polite"' in page
    assert 'data-kind="choice" data-answer="0"' in page and 'data-tolerance="0.01"' in page
    assert page.count('class="quiz-explanation" hidden') == 2


def test_an_unknown_quiz_is_refused():
    with pytest.raises(ValueError, match="no quiz 'ch99'"):
        st.quiz.show("ch99")
