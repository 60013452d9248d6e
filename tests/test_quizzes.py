"""The chapters' quizzes (``book/quizzes.yml``, rendered by ``book/_ext/quizzes.py``): every chapter has
one, each question is complete, and a broken file is refused with the place named. The browser test
answers them in the built book."""
import json
import re
import sys

import pytest

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "book" / "_ext"))
import quizzes  # noqa: E402

DIRECTIVE = re.compile(r"```\{quiz\}\s+(\S+)")


def _quiz_keys(notebook) -> list[str]:
    cells = json.loads(notebook.read_text())["cells"]
    return [key for c in cells if c["cell_type"] == "markdown" for key in DIRECTIVE.findall("".join(c["source"]))]


def test_every_chapter_has_one_quiz_of_three_to_five_questions():
    known = quizzes.load_quizzes()
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    keys = {notebook.name: _quiz_keys(notebook) for notebook in notebooks}
    assert all(found == [f"ch{name[:2]}"] for name, found in keys.items()), keys
    assert set(known) == {found[0] for found in keys.values()}
    assert all(3 <= len(questions) <= 5 for questions in known.values())


def test_a_question_renders_escaped_with_its_answer_and_explanation():
    html = quizzes.render("chX", [{"question": "Is `a < b`?", "options": ["<yes>", "no"], "answer": 0,
                                   "explanation": "because"},
                                  {"question": "How much?", "answer": 0.5, "tolerance": 0.01, "explanation": "half"}])
    assert "<code>a &lt; b</code>" in html and "&lt;yes&gt;" in html
    assert 'data-kind="choice" data-answer="0"' in html and 'data-tolerance="0.01"' in html
    assert html.count('class="quiz-explanation" hidden') == 2


@pytest.mark.parametrize("broken, message", [
    ({"ch01": [{"question": "q", "options": ["a", "b"], "answer": 2, "explanation": "e"}] * 3}, "index"),
    ({"ch01": [{"question": "q", "answer": 1, "explanation": "e"}] * 3}, "tolerance"),
    ({"ch01": [{"question": "q", "options": ["a", "b"], "answer": 0}] * 3}, "explanation"),
    ({"ch01": [{"question": "q", "options": ["a", "b"], "answer": 0, "explanation": "e"}] * 2}, "3 to 5"),
])
def test_a_broken_quiz_file_is_refused_naming_the_question(tmp_path, broken, message):
    path = tmp_path / "quizzes.yml"
    path.write_text(json.dumps(broken))
    with pytest.raises(ValueError, match=message):
        quizzes.load_quizzes(path)
