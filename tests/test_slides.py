"""The chapters' slide decks (``book/_ext/slides.py``) from a small executed notebook: what goes on the
slides, what stays in the chapter, and that MyST markup becomes text a slide can show."""
import base64
import json
import sys

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "book" / "_ext"))
import slides  # noqa: E402

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"0" * 16).decode()


def _cell(kind, text, png=None):
    cell = {"cell_type": kind, "metadata": {}, "source": [text]}
    if kind == "code":
        cell["outputs"] = [{"output_type": "display_data", "data": {"image/png": PNG}}] if png else []
    return cell


NOTEBOOK = {"cells": [
    _cell("markdown", "# 9. A chapter\n\n[![Open In Colab](https://x/badge.svg)](https://colab/x)\n\n"
                      "It asks {cite:t}`wang2023pot`'s question, after [chapter 1](01_parameter_saliency.ipynb).\n\n"
                      "**Learning objectives.** After this chapter you can\n\n- do $x_i$;\n- do more."),
    _cell("code", "install()"),
    _cell("markdown", "## A finding\n\nThe first paragraph.\n\nA second one that stays off the slide."),
    _cell("code", "plot()", png=True),
    _cell("markdown", "## Check your understanding\n\n```{quiz} ch09\n```"),
    _cell("markdown", "## Summary\n\n- one point;\n- another ({term}`blind point`)."),
    _cell("markdown", "## Exercises\n\n1. Do it."),
]}


def test_a_deck_has_a_title_objectives_a_slide_per_section_and_its_figure():
    html = slides.deck(NOTEBOOK)
    assert html.count("<section>") == 4                       # title, objectives, the finding, the summary
    assert "<h1>9. A chapter</h1>" in html and "Wang and Sato (2023)" in html and "badge" not in html
    assert 'href="../notebooks/01_parameter_saliency.html"' in html
    assert "Learning objectives</h2>" in html and r"\(x_i\)" in html
    assert "The first paragraph" in html and "A second one" not in html
    assert f"data:image/png;base64,{PNG}" in html
    assert "quiz" not in html.lower().replace("quizzes", "") and "Do it" not in html
    assert "blind point" in html and "{term}" not in html


def test_decks_are_written_per_executed_notebook(tmp_path):
    (tmp_path / "09_chapter.ipynb").write_text(json.dumps(NOTEBOOK))
    written = slides.write_decks(tmp_path, tmp_path / "slides")
    assert [p.name for p in written] == ["09_chapter.html"]
    assert "../assets/js/reveal.js/dist/reveal.js" in written[0].read_text()
