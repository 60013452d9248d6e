"""The chapters' self-checking quizzes, from ``assets/quizzes.yml`` (shipped with the package).

``show("ch05")`` displays a chapter's quiz: in Jupyter and Colab an ipywidgets quiz that grades each answer in
the notebook; while the book builds, static HTML that the book's ``quiz.js`` grades in the browser, with no
kernel. Either way a wrong option says which misconception it stands for, and every answer shows the
explanation. Options are shuffled per reader (seeded, so a rerun or a reload keeps the order).
``rule_violations`` holds a quiz file to the rules that keep a quiz from being passed without reading.
"""
from __future__ import annotations

import getpass
import hashlib
import html
import math
import os
import re
from collections import Counter
from pathlib import Path

import ipywidgets as widgets
import numpy as np
import yaml
from IPython.display import HTML, display

from .parameters import NON_NEGATIVE, POSITIVE, checked
from .profiles import building_book

QUIZZES = Path(__file__).with_name("assets") / "quizzes.yml"
CODE = re.compile(r"`([^`]+)`")
MIN_LENGTH_RATIO = 0.6      # the shortest option of a question is at least this share of the longest
MAX_KEY_LONGEST = 1 / 3     # share of a chapter's choice questions whose key is the longest option
MAX_KEY_LONGEST_BOOK = 0.35
MAX_POSITION_SHARE = 0.45   # share of the book's keys at any one position


def _problem(question) -> str | None:
    if not isinstance(question, dict) or not str(question.get("question", "")).strip():
        return "expected a mapping with a non-empty 'question'"
    if not str(question.get("explanation", "")).strip():
        return "every question needs an 'explanation'"
    if "options" not in question:
        answer, tolerance = question.get("answer"), question.get("tolerance")
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                      for v in (answer, tolerance))
        return None if numbers and tolerance >= 0 else "a numeric question needs a number 'answer' and a 'tolerance' >= 0"
    options, answer = question["options"], question.get("answer")
    if not (isinstance(options, list) and len(options) >= 3 and isinstance(answer, int)
            and not isinstance(answer, bool) and 0 <= answer < len(options)):
        return "expected at least 3 options and the index of the right one as 'answer'"
    if not all(isinstance(o, dict) and str(o.get("text", "")).strip() for o in options):
        return "every option needs a 'text'"
    if any(i != answer and not str(o.get("why", "")).strip() for i, o in enumerate(options)):
        return "every wrong option needs a 'why' (the misconception it stands for)"
    if str(options[answer].get("why", "")).strip():
        return "the right option has no 'why' (the explanation says why it is right)"
    return None


def load_quizzes(path: Path | str = QUIZZES) -> dict[str, list[dict]]:
    """The quizzes of ``path`` (chapter key -> questions), validated: 3 to 5 complete questions per key; a
    broken file raises ``ValueError`` naming the question."""
    path = Path(path)
    quizzes = yaml.safe_load(path.read_text()) or {}
    if not isinstance(quizzes, dict):
        raise ValueError(f"{path.name}: expected a mapping of chapter keys to questions")
    for key, questions in quizzes.items():
        if not isinstance(questions, list) or not 3 <= len(questions) <= 5:
            raise ValueError(f"{path.name}: {key} must have 3 to 5 questions")
        for number, question in enumerate(questions, start=1):
            problem = _problem(question)
            if problem:
                raise ValueError(f"{path.name}: {key} question {number}: {problem}")
    return quizzes


def _choices(quizzes: dict) -> dict[str, list[dict]]:
    return {key: [q for q in questions if "options" in q] for key, questions in quizzes.items()}


def key_is_longest(question: dict) -> bool:
    """Whether the right option of a choice question is strictly its longest (a cue a guesser can use)."""
    lengths = [len(o["text"]) for o in question["options"]]
    return lengths[question["answer"]] == max(lengths) and lengths.count(max(lengths)) == 1


def rule_violations(quizzes: dict) -> list[str]:
    """What makes ``quizzes`` (from ``load_quizzes``) passable without reading: options of unequal length
    (``MIN_LENGTH_RATIO``), the key the longest option too often (in a chapter, ``MAX_KEY_LONGEST``; in the
    book, ``MAX_KEY_LONGEST_BOOK``), keys piled on one position (``MAX_POSITION_SHARE``, and never all of a
    chapter's at one). Empty when it follows the rules."""
    found, choices = [], _choices(quizzes)
    for key, questions in choices.items():
        for number, q in enumerate(questions, start=1):
            lengths = [len(o["text"]) for o in q["options"]]
            if min(lengths) < MIN_LENGTH_RATIO * max(lengths):
                found.append(f"{key} choice {number}: options of {min(lengths)} to {max(lengths)} characters")
        longest = sum(map(key_is_longest, questions))
        if longest > MAX_KEY_LONGEST * len(questions):
            found.append(f"{key}: the key is the longest option in {longest} of {len(questions)} questions")
        if len(questions) >= 3 and len({q["answer"] for q in questions}) == 1:
            found.append(f"{key}: every key is option {questions[0]['answer']}")
    every = [q for questions in choices.values() for q in questions]
    if every and sum(map(key_is_longest, every)) > MAX_KEY_LONGEST_BOOK * len(every):
        found.append(f"the key is the longest option in {sum(map(key_is_longest, every))} of {len(every)} questions")
    for position, count in Counter(q["answer"] for q in every).items():
        if count > MAX_POSITION_SHARE * len(every):
            found.append(f"{count} of {len(every)} keys are option {position}")
    return found


def reader() -> str:
    """Who is reading, for the per-reader order of options: ``SALTOOLS_READER`` or the login name."""
    return os.environ.get("SALTOOLS_READER") or getpass.getuser()


@checked(number=NON_NEGATIVE, n_options=POSITIVE)
def option_order(key: str, number: int, n_options: int, who: str | None = None) -> list[int]:
    """The order in which reader ``who`` (default ``reader()``) sees the options of question ``number`` of
    quiz ``key``: a permutation seeded by the three, so it stays the same on every run."""
    digest = hashlib.sha256(f"{reader() if who is None else who}:{key}:{number}".encode()).digest()
    return [int(i) for i in np.random.default_rng(int.from_bytes(digest[:8], "big")).permutation(n_options)]


def grade(question: dict, value) -> tuple[bool | None, str]:
    """``(right, feedback)`` for ``value`` (an option's index, or a number) as the answer to ``question``;
    ``right`` is None when no answer was given."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, "Pick an answer first." if "options" in question else "Enter a number first."
    if "options" in question:
        if value == question["answer"]:
            return True, "Correct."
        return False, f"Not quite: {question['options'][value]['why']}"
    try:
        number = float(str(value).strip().replace(",", "."))
    except ValueError:
        return None, f"Enter a number first (got {value!r})."
    if abs(number - question["answer"]) <= question["tolerance"] + 1e-12:
        return True, "Correct."
    return False, "Not quite: read why, then try again."


def _text(value) -> str:
    """Escaped text with `code` spans."""
    return CODE.sub(r"<code>\1</code>", html.escape(str(value).strip()))


@checked()
def render_html(key: str, questions: list[dict]) -> str:
    """A chapter's quiz as static HTML for the book (``quiz.js`` shuffles the options per reader and grades).
    Each question is a ``fieldset`` whose ``legend`` is the question; feedback is announced to screen readers."""
    parts = [f'<div class="quiz" data-quiz="{key}"><p class="quiz-title">Check your understanding</p>']
    for number, q in enumerate(questions, start=1):
        name = f"{key}-q{number}"
        if "options" in q:
            attributes = f'data-kind="choice" data-answer="{q["answer"]}"'
            inputs = "".join(
                f'<label class="quiz-option" data-why="{html.escape(str(o.get("why", "")).strip())}">'
                f'<input type="radio" name="{name}" value="{i}"> {_text(o["text"])}</label>'
                for i, o in enumerate(q["options"]))
        else:
            attributes = f'data-kind="number" data-answer="{q["answer"]}" data-tolerance="{q["tolerance"]}"'
            inputs = (f'<label class="quiz-option">Your answer: <input type="text" inputmode="decimal" name="{name}" '
                      f'size="10"></label>')
        parts.append(f'<fieldset class="quiz-question" data-name="{name}" {attributes}>'
                     f'<legend class="quiz-prompt">{number}. {_text(q["question"])}</legend>'
                     f'<div class="quiz-options">{inputs}</div>'
                     f'<button type="button" class="quiz-check">Check answer {number}</button>'
                     f'<p class="quiz-feedback" role="status" aria-live="polite" hidden></p>'
                     f'<p class="quiz-explanation" hidden>{_text(q["explanation"])}</p></fieldset>')
    parts.append("</div>")
    return "".join(parts)


@checked(number=NON_NEGATIVE)
def question_widget(key: str, number: int, question: dict, who: str | None = None) -> widgets.VBox:
    """One question as ipywidgets: the prompt, the options in the reader's order (or a text box), a Check button
    and the feedback with the explanation."""
    prompt = widgets.HTML(f"<b>{number}. {_text(question['question'])}</b>")
    if "options" in question:
        order = option_order(key, number, len(question["options"]), who)
        answer = widgets.RadioButtons(options=[(question["options"][i]["text"], i) for i in order], value=None,
                                      description=f"Answer {number}", layout=widgets.Layout(width="auto"),
                                      style={"description_width": "initial"})
    else:
        answer = widgets.Text(placeholder="a number", description=f"Answer {number}",
                              style={"description_width": "initial"})
    check = widgets.Button(description=f"Check answer {number}", tooltip="Check this answer")
    feedback = widgets.HTML()

    def on_check(_button) -> None:
        right, message = grade(question, answer.value)
        explanation = "" if right is None else f"<br>{_text(question['explanation'])}"
        feedback.value = f"<b>{html.escape(message)}</b>{explanation}"

    check.on_click(on_check)
    return widgets.VBox([prompt, answer, check, feedback])


@checked()
def quiz_widget(key: str, who: str | None = None) -> widgets.VBox:
    """Chapter ``key``'s quiz as ipywidgets (``show`` displays it)."""
    questions = _quiz(key)
    return widgets.VBox([widgets.HTML("<b>Check your understanding</b>")]
                        + [question_widget(key, n, q, who) for n, q in enumerate(questions, start=1)])


def _quiz(key: str) -> list[dict]:
    quizzes = load_quizzes()
    if key not in quizzes:
        raise ValueError(f"no quiz {key!r}; expected one of {sorted(quizzes)}")
    return quizzes[key]


@checked()
def show(key: str) -> None:
    """Display chapter ``key``'s quiz (e.g. "ch05"): static HTML while the book builds, else ipywidgets."""
    questions = _quiz(key)
    display(HTML(render_html(key, questions)) if building_book() else quiz_widget(key))
