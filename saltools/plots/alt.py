"""Text alternatives for figures: what a figure shows and its key numbers, for screen readers (HTML ``alt``).

Written by hand: matplotlib draws figures but does not describe them. Every figure a ``saltools.plots``
function returns carries one (``style.accessible``): the function's own summary (its docstring's first
sentence) followed by what each panel holds, read back from the drawn artists (titles, axis labels, bar values,
line and image ranges, heat-map ranges, legends), so the numbers in the text are the numbers drawn.
"""
from __future__ import annotations

import base64
import html
import io
import re
import weakref

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import PathCollection, QuadMesh
from matplotlib.container import BarContainer

from ..parameters import checked

#: the longest alt text written (screen readers read it whole); longer descriptions end with "..."
MAX_LENGTH = 700
#: items listed per kind of artist before "and N more"
MAX_ITEMS = 8
_SUMMARIES: "weakref.WeakKeyDictionary[plt.Figure, str]" = weakref.WeakKeyDictionary()
_PLACEHOLDERS = {"", "png", "image", "figure", "plot", "chart", "graph", "img", "picture", "untitled"}


def _number(value: float) -> str:
    if not np.isfinite(value):
        return str(value)
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def _listing(items: list[str]) -> str:
    shown = ", ".join(items[:MAX_ITEMS])
    return shown + (f" and {len(items) - MAX_ITEMS} more" if len(items) > MAX_ITEMS else "")


def _category(ax, bar, horizontal: bool) -> str:
    axis = ax.yaxis if horizontal else ax.xaxis
    centre = bar.get_y() + bar.get_height() / 2 if horizontal else bar.get_x() + bar.get_width() / 2
    ticks = [(abs(tick - centre), label.get_text()) for tick, label in zip(axis.get_ticklocs(),
                                                                         axis.get_ticklabels())]
    near = [label for distance, label in ticks if distance < 0.5 and label]
    return near[0] if near else ""


def _bars(ax) -> list[str]:
    parts = []
    for container in ax.containers:
        if not isinstance(container, BarContainer) or not container.patches:
            continue
        horizontal = getattr(container, "orientation", "vertical") == "horizontal"
        values = [(_category(ax, bar, horizontal), bar.get_width() if horizontal else bar.get_height())
                  for bar in container.patches]
        label = container.get_label() or ""
        name = "" if label.startswith("_") else f"{label}: "
        parts.append(name + _listing([f"{cat} {_number(v)}".strip() for cat, v in values if np.isfinite(v)]))
    return [f"bars ({'; '.join(parts)})"] if parts else []


def _lines(ax) -> list[str]:
    described, unnamed = [], 0
    for line in ax.get_lines():
        y = np.asarray(line.get_ydata(), dtype=float)
        y = y[np.isfinite(y)]
        if line.get_label().startswith("_") or y.size < 2:
            unnamed += 1
            continue
        described.append(f"{line.get_label()} from {_number(y[0])} to {_number(y[-1])}")
    parts = [f"lines ({_listing(described)})"] if described else []
    return parts + ([f"{unnamed} reference line{'s' * (unnamed > 1)}"] if unnamed and not described else [])


def _grids(ax) -> list[str]:
    parts = []
    for image in ax.images:
        values = np.ma.asarray(image.get_array())
        if values.ndim == 3:
            parts.append("a picture")
        elif values.count():
            parts.append(f"a {values.shape[0]}x{values.shape[1]} map from {_number(values.min())} to "
                         f"{_number(values.max())}")
    for collection in ax.collections:
        if isinstance(collection, QuadMesh):
            values = np.ma.asarray(collection.get_array())
            if values.count():
                parts.append(f"a heat map of {values.size} cells from {_number(values.min())} to "
                             f"{_number(values.max())}")
        elif isinstance(collection, PathCollection) and len(collection.get_offsets()):
            parts.append(f"{len(collection.get_offsets())} points")
    return parts


def _panel(ax) -> str:
    title = ax.get_title() or ax.get_title("left")
    axes = [f"{name} axis {label}" for name, label in (("x", ax.get_xlabel()), ("y", ax.get_ylabel())) if label]
    legend = ax.get_legend()
    keys = [text.get_text() for text in legend.get_texts()] if legend else []
    content = _bars(ax) + _lines(ax) + _grids(ax) + ([f"legend: {_listing(keys)}"] if keys else [])
    head = f"'{title}'" if title else "panel"
    return f"{head}: {'; '.join(axes + content)}" if axes or content else head


def describe(figure: plt.Figure) -> str:
    """What ``figure`` holds, panel by panel, read from its artists (a generic text alternative)."""
    panels = [ax for ax in figure.axes if ax.get_visible() and (ax.axison or ax.images or ax.get_title())]
    suptitle = figure.get_suptitle() if hasattr(figure, "get_suptitle") else ""
    head = f"{suptitle}. " if suptitle else ""
    if not panels:
        return head + "An empty figure."
    pictures = [ax for ax in panels if not ax.axison]
    if len(panels) > 6 and len(pictures) == len(panels):
        titles = [ax.get_title() for ax in panels if ax.get_title()]
        return head + f"{len(panels)} pictures" + (f" titled {_listing(titles)}" if titles else "") + "."
    described = [_panel(ax) for ax in panels[:6]]
    more = f" And {len(panels) - 6} more panels." if len(panels) > 6 else ""
    count = f"{len(panels)} panels. " if len(panels) > 1 else ""
    return head + count + ". ".join(described) + "." + more


def alt_text(figure: plt.Figure) -> str:
    """The text alternative of ``figure``: the summary attached by ``with_summary`` (if any), then ``describe``;
    at most ``MAX_LENGTH`` characters."""
    summary = _SUMMARIES.get(figure, "")
    text = " ".join(part for part in (summary, describe(figure)) if part)
    return text if len(text) <= MAX_LENGTH else text[:MAX_LENGTH - 3].rstrip() + "..."


@checked()
def with_summary(figure: plt.Figure, summary: str) -> plt.Figure:
    """Attach ``summary`` (what the figure shows, in a sentence) to ``figure``'s text alternative."""
    if not isinstance(summary, str) or not summary.strip():
        raise ValueError(f"summary must be a non-empty sentence; got {summary!r}")
    _SUMMARIES[figure] = summary.strip()
    return figure


@checked()
def is_meaningful(alt: str | None) -> bool:
    """Whether ``alt`` says something: not empty, not a placeholder ("png", "figure"), not a file name."""
    text = (alt or "").strip().lower()
    return (text not in _PLACEHOLDERS and not re.fullmatch(r"[\w./-]*\.(png|jpe?g|gif|svg|webp)", text)
            and len(text.split()) >= 2)


def png_bytes(figure: plt.Figure) -> bytes:
    """``figure`` as PNG bytes, as Jupyter's inline backend draws it (the figure's dpi, a tight box)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()


@checked()
def figure_html(figure: plt.Figure, png: bytes | None = None, css_class: str | None = None) -> str:
    """``figure`` as an HTML ``<img>`` (``png``, default ``png_bytes(figure)``, inline) with its ``alt_text``:
    how notebooks display figures (``notebook.describe_figures``) and widgets their frames, so the book's
    HTML carries it."""
    data = base64.b64encode(png_bytes(figure) if png is None else png).decode("ascii")
    attribute = f' class="{html.escape(css_class, quote=True)}"' if css_class else ""
    return (f'<img{attribute} src="data:image/png;base64,{data}" alt="{html.escape(alt_text(figure), quote=True)}" '
            f'style="max-width: 100%; height: auto;">')
