"""Sphinx extension of the book: the quizzes' script and style.

Each chapter shows its quiz with a ``st.quiz.show("chNN")`` cell (its input hidden in the book); while the
book builds, that cell writes static HTML (``saltools.quiz.render_html``), and ``quiz.js`` / ``quiz.css``,
served from ``_static``, shuffle the options per reader and grade each answer in the page: no kernel, no
network. The questions are ``saltools/assets/quizzes.yml``, shipped with the package.
"""
from __future__ import annotations

from pathlib import Path

STATIC = Path(__file__).with_name("static")


def serve_static(app) -> None:
    """Serve ``book/_ext/static`` (the book's own scripts and styles) from ``_static``."""
    if str(STATIC) not in app.config.html_static_path:
        app.config.html_static_path.append(str(STATIC))


def setup(app):
    app.connect("builder-inited", serve_static)
    app.add_js_file("quiz.js")
    app.add_css_file("quiz.css")
    return {"version": "2.0", "parallel_read_safe": True, "parallel_write_safe": True}
