"""Sphinx extension of the book: accessibility repairs of what the HTML gets from its libraries.

- ``accessibility.js`` names the slider handles, which ipywidgets' HTML manager leaves unnamed.
- docutils writes the bibliography as ``role="list"`` holding ``role="doc-biblioentry"`` entries, a role
  ARIA 1.2 deprecates, so the list has no list items (axe: aria-required-children, aria-deprecated-role).
  When the build finishes, each entry of such a list becomes ``role="listitem"``.
"""
from __future__ import annotations

import re
from pathlib import Path

from quizzes import serve_static       # book/_ext is on the path of the build's extensions

BIBLIOENTRY = re.compile(r'(<div class="citation"[^>]*?)role="doc-biblioentry"')


def list_items(html: str) -> str:
    """``html`` with every ``doc-biblioentry`` citation made a list item of its citation list."""
    return BIBLIOENTRY.sub(r'\1role="listitem"', html)


def _repair_bibliography(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    for page in Path(app.outdir).rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        if "doc-biblioentry" in text:
            page.write_text(list_items(text), encoding="utf-8")


def setup(app):
    app.connect("builder-inited", serve_static)
    app.connect("build-finished", _repair_bibliography)
    app.add_js_file("accessibility.js")
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
