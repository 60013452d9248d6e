"""Helpers for the book's notebooks: one summary line per cell for warnings that come in floods.

At smoke scale, or with a small reference set, every fit of a cell can warn that its statistics rest on
too little data (``DegenerateStatisticsWarning``), and a cell printed two dozen such lines. Written by hand:
IPython offers the cell events, not a warnings summary.
"""
from __future__ import annotations

import sys
import warnings

from .paramsal import DegenerateStatisticsWarning


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
    try:
        from IPython import get_ipython                     # optional dependency
    except ImportError:
        return None
    shell = get_ipython()
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
