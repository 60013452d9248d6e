"""Helpers for the book's notebooks: one summary line per cell for warnings that come in floods, and
figures displayed with their text alternative (``describe_figures``).

At smoke scale, or with a small reference set, every fit of a cell can warn that its statistics rest on
too little data (``DegenerateStatisticsWarning``), and a cell printed two dozen such lines. Written by hand:
IPython offers the cell events, not a warnings summary.
"""
from __future__ import annotations

import sys
import warnings
import weakref

import matplotlib
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from .paramsal import DegenerateStatisticsWarning
from .plots.alt import figure_html, png_bytes


def _shell():
    """The running IPython shell, or None (plain Python, or IPython not installed)."""
    try:
        from IPython import get_ipython                     # optional dependency
    except ImportError:
        return None
    return get_ipython()


class WarningSummary:
    """Collects the warnings of ``category`` raised while a cell runs and prints one line for them when it
    ends: how many, and the first one's message. Other warnings are shown as usual."""

    def __init__(self, category: type[Warning] = DegenerateStatisticsWarning, stream=None):
        self.category, self.stream, self.caught = category, stream, []
        self._show, self._filters = None, None

    def start(self, *_) -> None:
        """Start collecting (IPython's ``pre_run_cell``)."""
        self.caught = []
        self._show, self._filters = warnings.showwarning, list(warnings.filters)
        warnings.simplefilter("always", self.category)          # count each one, not the first per line

        def show(message, category, filename, lineno, file=None, line=None):
            if issubclass(category, self.category):
                self.caught.append(str(message))
            else:
                self._show(message, category, filename, lineno, file, line)
        warnings.showwarning = show

    def finish(self, *_) -> str:
        """Stop collecting and print the summary (IPython's ``post_run_cell``); returns it ("" for none)."""
        if self._show is not None:
            warnings.showwarning, warnings.filters[:] = self._show, self._filters
            self._show = None
        if not self.caught:
            return ""
        others = f" (and {len(self.caught) - 1} more like it)" if len(self.caught) > 1 else ""
        line = f"{self.category.__name__}: {self.caught[0]}{others}"
        print(line, file=self.stream or sys.stderr)
        return line


def summarize_warnings(category: type[Warning] = DegenerateStatisticsWarning) -> WarningSummary | None:
    """In IPython or Jupyter, summarize the warnings of ``category`` once per cell (see ``WarningSummary``);
    elsewhere do nothing and return None. Calling it again replaces the previous summary."""
    shell = _shell()
    if shell is None:
        return None
    for event in ("pre_run_cell", "post_run_cell"):
        for callback in list(shell.events.callbacks[event]):
            if isinstance(getattr(callback, "__self__", None), WarningSummary):
                shell.events.unregister(event, callback)
    summary = WarningSummary(category)
    shell.events.register("pre_run_cell", summary.start)
    shell.events.register("post_run_cell", summary.finish)
    return summary


class FigureFormats:
    """IPython formatters that draw a figure once for both of its outputs: ``html`` (an ``<img>`` with the
    figure's text alternative; IPython asks for it first) keeps the PNG it drew for ``png``."""

    def __init__(self):
        self.drawn: "weakref.WeakKeyDictionary[Figure, bytes]" = weakref.WeakKeyDictionary()

    def html(self, figure: Figure) -> str:
        self.drawn[figure] = png_bytes(figure)
        return figure_html(figure, self.drawn[figure])

    def png(self, figure: Figure) -> bytes:
        drawn = self.drawn.pop(figure, None)
        return png_bytes(figure) if drawn is None else drawn


def describe_figures() -> bool:
    """In IPython or Jupyter, display every matplotlib figure as an ``<img>`` with its text alternative
    (``plots.alt.alt_text``: what it shows and its key numbers) beside the plain PNG, so screen readers in
    Jupyter and in the book's HTML read what the figure says. Returns whether it is on (False outside IPython)."""
    shell = _shell()
    if shell is None:
        return False
    plt.switch_backend(matplotlib.get_backend())     # start the inline backend now: it drops Figure's formatters
    formats = FigureFormats()
    shell.display_formatter.formatters["text/html"].for_type(Figure, formats.html)
    shell.display_formatter.formatters["image/png"].for_type(Figure, formats.png)
    return True
