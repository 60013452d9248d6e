"""Sphinx extension of the book: self-checking quizzes that work in the static HTML, offline.

The questions live in ``book/quizzes.yml`` (chapter key -> list of questions); a chapter places its quiz
with the directive

    ```{quiz} ch05
    ```

Each question is multiple choice (``options`` and the index of the ``answer``) or numeric (an ``answer``
and a ``tolerance``), with an ``explanation`` shown once the reader checks an answer. The page gets plain
HTML and the book's own ``quiz.js`` / ``quiz.css`` (served from ``_static``): no kernel, no network.
``load_quizzes`` validates the file and is what the tests read.
"""
from __future__ import annotations

import html
import re
from pathlib import Path

import yaml
from docutils import nodes
from docutils.parsers.rst import Directive

QUIZZES = Path(__file__).resolve().parents[1] / "quizzes.yml"
STATIC = Path(__file__).with_name("static")
CODE = re.compile(r"`([^`]+)`")


def _validate(key: str, number: int, question: dict) -> None:
    where = f"{QUIZZES.name}: {key} question {number}"
    if not isinstance(question, dict) or not str(question.get("question", "")).strip():
        raise ValueError(f"{where}: expected a mapping with a non-empty 'question'")
    if not str(question.get("explanation", "")).strip():
        raise ValueError(f"{where}: every question needs an 'explanation'")
    if "options" in question:
        options, answer = question["options"], question.get("answer")
        if not (isinstance(options, list) and len(options) >= 2 and isinstance(answer, int)
                and 0 <= answer < len(options)):
            raise ValueError(f"{where}: expected at least 2 options and the index of the right one as 'answer'")
    elif not (isinstance(question.get("answer"), (int, float)) and isinstance(question.get("tolerance"), (int, float))
              and question["tolerance"] >= 0):
        raise ValueError(f"{where}: a numeric question needs a number 'answer' and a 'tolerance' >= 0")


def load_quizzes(path: Path = QUIZZES) -> dict[str, list[dict]]:
    """The quizzes of ``path``, validated: 3 to 5 questions per chapter key, each complete."""
    quizzes = yaml.safe_load(Path(path).read_text()) or {}
    for key, questions in quizzes.items():
        if not isinstance(questions, list) or not 3 <= len(questions) <= 5:
            raise ValueError(f"{Path(path).name}: {key} must have 3 to 5 questions")
        for number, question in enumerate(questions, start=1):
            _validate(key, number, question)
    return quizzes


def _text(value) -> str:
    """Escaped text with `code` spans."""
    return CODE.sub(r"<code>\1</code>", html.escape(str(value).strip()))


def render(key: str, questions: list[dict]) -> str:
    """The HTML of one chapter's quiz."""
    parts = [f'<div class="quiz" data-quiz="{key}"><p class="quiz-title">Check your understanding</p>']
    for number, q in enumerate(questions, start=1):
        name = f"{key}-q{number}"
        if "options" in q:
            attributes = f'data-kind="choice" data-answer="{q["answer"]}"'
            inputs = "".join(f'<label class="quiz-option"><input type="radio" name="{name}" value="{i}"> '
                             f'{_text(option)}</label>' for i, option in enumerate(q["options"]))
        else:
            attributes = f'data-kind="number" data-answer="{q["answer"]}" data-tolerance="{q["tolerance"]}"'
            inputs = f'<label class="quiz-option">Your answer: <input type="text" name="{name}" size="10"></label>'
        parts.append(f'<div class="quiz-question" {attributes}><p class="quiz-prompt">{number}. {_text(q["question"])}'
                     f'</p>{inputs}<button type="button" class="quiz-check">Check</button>'
                     f'<p class="quiz-feedback" hidden></p>'
                     f'<p class="quiz-explanation" hidden>{_text(q["explanation"])}</p></div>')
    parts.append("</div>")
    return "".join(parts)


class QuizDirective(Directive):
    """``{quiz} <chapter key>``: that chapter's questions from ``book/quizzes.yml``."""

    required_arguments = 1
    has_content = False

    def run(self):
        env = self.state.document.settings.env
        env.note_dependency(str(QUIZZES))
        key = self.arguments[0]
        quizzes = load_quizzes()
        if key not in quizzes:
            raise self.error(f"no quiz {key!r} in {QUIZZES.name}; keys: {sorted(quizzes)}")
        return [nodes.raw("", render(key, quizzes[key]), format="html")]


def _static_path(app) -> None:
    app.config.html_static_path.append(str(STATIC))


def setup(app):
    app.add_directive("quiz", QuizDirective)
    app.connect("builder-inited", _static_path)
    app.add_js_file("quiz.js")
    app.add_css_file("quiz.css")
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
