"""The chapters' slide decks (``book/_ext/slides.py``) from a small executed notebook: what goes on the
slides, what stays in the chapter, and that MyST markup becomes text a slide can show."""
import base64
import json
import sys

import pytest

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "book" / "_ext"))
import slides  # noqa: E402

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"0" * 16).decode()


def _cell(kind, text, png=None):
    cell = {"cell_type": kind, "metadata": {}, "source": [text]}
    if kind == "code":
        data = {"image/png": PNG, "text/html": f'<img src="data:image/png;base64,{PNG}" alt="{png}">'}
        cell["outputs"] = [{"output_type": "display_data", "data": data}] if png else []
    return cell


NOTEBOOK = {"cells": [
    _cell("markdown", "# 9. A chapter\n\n[![Open In Colab](https://x/badge.svg)](https://colab/x)\n\n"
                      "It asks {cite:t}`wang2023pot`'s question, after [chapter 1](01_parameter_saliency.ipynb).\n\n"
                      "**Learning objectives.** After this chapter you can\n\n- do $x_i$;\n- do more."),
    _cell("code", "install()"),
    _cell("markdown", "## A finding\n\nThe first paragraph.\n\nA second one that stays off the slide."),
    _cell("code", "plot()", png="Bar chart: share 0.84"),
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
    assert f'alt="Bar chart: share 0.84" src="data:image/png;base64,{PNG}"' in html
    assert "quiz" not in html.lower().replace("quizzes", "") and "Do it" not in html
    assert "blind point" in html and "{term}" not in html


def test_a_figure_without_its_text_alternative_fails_the_deck():
    bare = {"cells": [_cell("markdown", "# 9. A chapter"), _cell("markdown", "## A finding\n\nText."),
                      _cell("code", "plot()", png="x")]}
    del bare["cells"][2]["outputs"][0]["data"]["text/html"]
    with pytest.raises(ValueError, match="text alternative"):
        slides.deck(bare)


def test_decks_are_written_per_executed_notebook(tmp_path):
    (tmp_path / "09_chapter.ipynb").write_text(json.dumps(NOTEBOOK))
    written = slides.write_decks(tmp_path, tmp_path / "slides")
    assert [p.name for p in written] == ["09_chapter.html"]
    assert "../assets/js/reveal.js/dist/reveal.js" in written[0].read_text()


VERDICT = ("- **holds** (shapes-resnet): The statistic is not normal. share rejecting: 0.98, 95% interval [0.97, 0.99], "
           "n = 1000 reference images. Power: 80% to decide a true effect 0.05 beyond the threshold needs about 40 "
           "reference images. <small>`ch2.statistic-is-not-normal`</small>")


def _verdict_cell(text):
    return {"cell_type": "code", "metadata": {}, "source": ["Markdown(st.claims.markdown(table))"],
            "outputs": [{"output_type": "display_data", "data": {"text/markdown": text}}]}


def test_a_slide_keeps_whole_sentences_and_the_displayed_formula():
    """The review found chapter 5's "How RectGrad works" cut at "...of each unit,": a paragraph that runs on into
    a formula keeps the formula and the rest of its sentence, and stops there."""
    notebook = {"cells": [_cell("markdown", "# 9. A chapter\n\nOpening."),
                          _cell("markdown", "## How it works\n\nAt each ReLU it keeps the relevance of each unit,\n\n"
                                            "$$R_i = a_i g_i,$$\n\nwhere $a_i$ is the activation.\n\nA later paragraph.")]}
    html = slides.deck(notebook)
    assert "of each unit," in html and "R_i = a_i g_i," in html and "is the activation." in html
    assert "A later paragraph" not in html


def test_the_deck_shows_the_chapter_s_verdicts_without_the_power_plan():
    notebook = {"cells": [_cell("markdown", "# 9. A chapter\n\nOpening."), _verdict_cell(VERDICT + "\n" + VERDICT.replace(
        "**holds**", "**inconclusive**").replace("ch2.statistic-is-not-normal", "ch2.other")),
                          _cell("markdown", "## Summary\n\n- one point.")]}
    html = slides.deck(notebook)
    assert "Verdicts</h2>" in html and "<strong>holds</strong>" in html and "<strong>inconclusive</strong>" in html
    assert "95% interval [0.97, 0.99]" in html and "Power:" not in html and "ch2.statistic-is-not-normal" in html
    assert html.index("Verdicts</h2>") < html.index("Summary</h2>")
