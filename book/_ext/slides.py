"""Sphinx extension of the book: a reveal.js slide deck per chapter, generated from the executed notebook.

When the HTML build ends, each notebook that myst-nb executed (``_build/jupyter_execute/notebooks``)
becomes ``slides/<chapter>.html``: a title slide (the chapter's title and opening paragraph), its learning
objectives, one slide per section with the section's opening (whole sentences: a paragraph that runs on
into a displayed formula or a list keeps them, up to the end of its sentence) and its first figure (the
figure its code drew, as computed in this build), the chapter's verdicts (statement, effect, interval,
verdict, as computed in this build) and the summary. Quizzes, exercises and appendices stay in the
chapter. Code is not shown.

Written by hand rather than with nbconvert's SlidesExporter: its reveal template loads jQuery,
RequireJS and reveal.js from CDNs and drives MathJax 2's API, while the book serves MathJax 3 and
reveal.js itself (``book_assets``), so the decks work offline. Markdown goes through markdown-it (the
parser MyST uses), with MyST roles reduced to their text.
"""
from __future__ import annotations

import base64
import functools
import html
import json
import re
from pathlib import Path

import pybtex.database
from markdown_it import MarkdownIt
from mdit_py_plugins.dollarmath import dollarmath_plugin
from sphinx.util import logging

logger = logging.getLogger(__name__)

ASSETS = "../assets/js"
SKIPPED = ("Check your understanding", "Exercises", "Explore", "Appendix", "Your own model")
ROLE = re.compile(r"\{([a-z:]+)\}`([^`<]*?)(?:\s*<[^>]*>)?`")
CHAPTER_LINK = re.compile(r"\]\(([\w.-]+)\.ipynb(#[\w-]*)?\)")
BIBLIOGRAPHY = Path(__file__).resolve().parents[1] / "references.bib"
DIRECTIVE = re.compile(r"^(```|:::)\{.*?^\1\s*$", re.S | re.M)
BADGE = re.compile(r"\[!\[Open In Colab\].*?\)\]\(.*?\)")
MARKDOWN = MarkdownIt("commonmark").enable("table").use(dollarmath_plugin)


def _cited(key: str, entry) -> str:
    """"Surname (year)", "Surname and Other (year)" or "Surname et al. (year)"."""
    people = [" ".join(person.last_names) for person in entry.persons.get("author", [])] or [key]
    names = people[0] if len(people) == 1 else " and ".join(people) if len(people) == 2 else f"{people[0]} et al."
    return f"{names} ({entry.fields.get('year', 'n.d.')})"


@functools.cache
def _authors() -> dict[str, str]:
    """Bibliography key -> how the slides cite it, from the book's ``references.bib`` (pybtex)."""
    return {key: _cited(key, entry) for key, entry in pybtex.database.parse_file(str(BIBLIOGRAPHY)).entries.items()}


def _role(match: re.Match) -> str:
    role, text = match.groups()
    if role.startswith("cite"):
        return "; ".join(_authors().get(key.strip(), key.strip()) for key in text.split(","))
    return text


def _markdown(text: str) -> str:
    """HTML of MyST text: directives dropped, roles reduced to their text (citations to their authors),
    links to chapters pointed at their pages, math left for MathJax."""
    text = BADGE.sub("", DIRECTIVE.sub("", text))
    text = CHAPTER_LINK.sub(r"](../notebooks/\1.html\2)", ROLE.sub(_role, text))
    out = MARKDOWN.render(text)
    out = re.sub(r'<span class="math inline">(.*?)</span>', r"\\(\1\\)", out, flags=re.S)
    return re.sub(r'<div class="math block">(.*?)</div>', r"\\[\1\\]", out, flags=re.S)


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in BADGE.sub("", DIRECTIVE.sub("", text)).split("\n\n") if p.strip()]


SENTENCE_END = re.compile(r"[.!?](\*\*|_|\)|\"|')*$")
ALT = re.compile(r'<img [^>]*alt="([^"]*)"')              # describe_figures' text alternative
VERDICT_LINE = re.compile(r"^- \*\*(holds|does not hold|inconclusive|not evaluated)\*\*", re.M)
VERDICTS_PER_SLIDE = 4


def section_opening(paragraphs: list[str], most: int = 4) -> list[str]:
    """The paragraphs a section's slide shows: the first, and those that finish its last sentence (a
    displayed formula, a list, or text after either), at most ``most``."""
    shown = []
    for paragraph in paragraphs[:most]:
        shown.append(paragraph)
        ends = SENTENCE_END.search(paragraph.rstrip()) and not paragraph.rstrip().endswith(("$$", ":"))
        if ends and not paragraph.lstrip().startswith(("$$", "-", "*", "1.")):
            break
    return shown


def verdict_lines(cell: dict) -> list[str]:
    """The claims' verdict lines (``st.claims.markdown``) a code cell printed: statement, effect, interval and
    verdict, without the power plan."""
    lines = []
    for output in cell.get("outputs", []):
        text = output.get("data", {}).get("text/markdown", "")
        text = text if isinstance(text, str) else "".join(text)
        for line in text.splitlines():
            if VERDICT_LINE.match(line):
                head = line.split(" Power:")[0].split(" At this effect")[0].rstrip()
                claim = re.search(r"<small>.*?</small>", line)
                lines.append(head if claim is None or claim.group(0) in head else f"{head} {claim.group(0)}")
    return lines


def _figure(cell: dict) -> str | None:
    """The cell's first figure as an ``<img>``, with the text alternative saltools displayed beside it."""
    for output in cell.get("outputs", []):
        png = output.get("data", {}).get("image/png")
        if png:
            data = png if isinstance(png, str) else "".join(png)
            base64.b64decode(data[:64] + "=" * (-len(data[:64]) % 4))       # fails on anything but base64
            page = output["data"].get("text/html", "")
            alt = ALT.search(page if isinstance(page, str) else "".join(page))
            if alt is None:
                raise ValueError(f"a figure without its text alternative (st.notebook.describe_figures()): "
                                 f"{cell.get('source', '')[:80]!r}")
            return f'<img class="figure" alt="{alt.group(1)}" src="data:image/png;base64,{data.strip()}">'
    return None


def sections(notebook: dict) -> list[tuple[str, list[str], list[str]]]:
    """The notebook as (heading, markdown paragraphs, figures) per level-1 or level-2 heading."""
    found: list[tuple[str, list[str], list[str]]] = []
    for cell in notebook["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            for block in re.split(r"^(?=#{1,2} )", source, flags=re.M):
                heading = re.match(r"#{1,2} (.*)", block)
                if heading:
                    found.append((heading.group(1).strip(), _paragraphs(block[heading.end():]), []))
                elif found:
                    found[-1][1].extend(_paragraphs(block))
        elif found and (figure := _figure(cell)):
            found[-1][2].append(figure)
    return found


def _slide(title: str, body: str, level: int = 2) -> str:
    return f"<section><h{level}>{html.escape(title)}</h{level}>{body}</section>"


def deck(notebook: dict) -> str:
    """The reveal.js HTML page of one executed chapter."""
    parts = sections(notebook)
    if not parts:
        raise ValueError("the notebook has no heading to make slides from")
    title, opening, _ = parts[0]
    slides = [_slide(title, _markdown(opening[0]) if opening else "", level=1)]
    objectives = next((p for p in opening if p.startswith("**Learning objectives")), None)
    if objectives:
        at = opening.index(objectives)                       # the sentence and the list that follows it
        text = "\n\n".join(opening[at:at + 2]).replace("**Learning objectives.**", "")
        slides.append(_slide("Learning objectives", _markdown(text)))
    verdicts = list(dict.fromkeys(line for cell in notebook["cells"] if cell["cell_type"] == "code"
                                  for line in verdict_lines(cell)))
    for heading, paragraphs, figures in parts[1:]:
        if heading.startswith(SKIPPED):
            continue
        if heading == "Summary":
            slides.extend(_slide("Verdicts" + (f" ({i // VERDICTS_PER_SLIDE + 1})" if len(verdicts) > VERDICTS_PER_SLIDE
                                               else ""), _markdown("\n".join(verdicts[i:i + VERDICTS_PER_SLIDE])))
                          for i in range(0, len(verdicts), VERDICTS_PER_SLIDE))
        text = "\n\n".join(paragraphs if heading == "Summary" else section_opening(paragraphs))
        slides.append(_slide(heading, _markdown(text) + "".join(figures[:1])))
    return PAGE.format(title=html.escape(title), slides="\n".join(slides), assets=ASSETS)


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<link rel="stylesheet" href="{assets}/reveal.js/dist/reveal.css">
<link rel="stylesheet" href="{assets}/reveal.js/dist/theme/white.css">
<style>.reveal section {{ font-size: 0.6em; text-align: left; }}
.reveal h1, .reveal h2 {{ text-align: left; text-transform: none; }} .reveal h1 {{ font-size: 2.2em; }}
.reveal img.figure {{ max-height: 55vh; max-width: 100%; display: block; margin: 0.5em auto; }}
.reveal table {{ font-size: 0.8em; }}</style>
<script>window.MathJax = {{ tex: {{ inlineMath: [["\\\\(", "\\\\)"]], displayMath: [["\\\\[", "\\\\]"]] }} }};</script>
<script src="{assets}/mathjax/es5/tex-chtml.js" async></script>
</head><body><div class="reveal"><div class="slides">
{slides}
</div></div>
<script src="{assets}/reveal.js/dist/reveal.js"></script>
<script>Reveal.initialize({{ hash: true, slideNumber: true, width: 1200, height: 800 }});</script>
</body></html>
"""


def write_decks(executed: Path, out: Path) -> list[Path]:
    """A deck per executed chapter notebook in ``executed`` (``*.ipynb``), written into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sorted(Path(executed).glob("*.ipynb")):
        target = out / f"{path.stem}.html"
        target.write_text(deck(json.loads(path.read_text())))
        written.append(target)
    return written


def _build_decks(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    executed = Path(app.outdir).parent / "jupyter_execute" / "notebooks"
    if not executed.exists():
        logger.warning(f"no executed notebooks in {executed}: no slides written")
        return
    written = write_decks(executed, Path(app.outdir) / "slides")
    logger.info(f"slides: {len(written)} decks in {Path(app.outdir) / 'slides'}")


def setup(app):
    app.connect("build-finished", _build_decks, priority=600)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
