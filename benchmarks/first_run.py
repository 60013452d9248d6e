"""A reader's first run, measured: every chapter executed as "Run all" on the embedded profile with an empty
cache (nothing fitted or computed before, as on a fresh Colab session), each cell timed.

Prints, per chapter, the whole run, the slowest cell and every cell over the budget (a minute a cell, three
minutes a chapter), and where the zoo's verdicts came from (the table shipped with saltools, or computed).
``--markdown FILE`` also writes the table as Markdown (for the teachers' page and the README).

Run: python benchmarks/first_run.py [--fresh-each] [--markdown FILE] [notebook stems ...]. The chapters share one
empty cache, as for a reader who runs them in order on one machine; ``--fresh-each`` gives each its own. About 10 minutes on 2 CPU cores.
"""
from __future__ import annotations

import argparse
import datetime
import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
CELL_BUDGET, CHAPTER_BUDGET = 60.0, 180.0


def cell_seconds(cell) -> float:
    """Wall seconds of an executed cell, from nbclient's timing record."""
    timing = cell.get("metadata", {}).get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (start and end):
        return 0.0
    parse = lambda stamp: datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))   # noqa: E731
    return (parse(end) - parse(start)).total_seconds()


def run_chapter(path: Path) -> dict:
    """Execute ``path`` in its folder; its total and per-cell seconds."""
    notebook = nbformat.read(path, as_version=4)
    started = time.perf_counter()
    NotebookClient(notebook, timeout=-1, kernel_name="python3", record_timing=True,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    total = time.perf_counter() - started
    cells = [(i, cell_seconds(c), c.source.splitlines()[0] if c.source else "") for i, c in enumerate(notebook.cells)
             if c.cell_type == "code"]
    text = "".join(o.get("data", {}).get("text/markdown", "") for c in notebook.cells if c.cell_type == "code"
                   for o in c.outputs)
    zoo = "shipped" if "ship with the package" in text else "computed" if "computed on this machine" in text else "-"
    return {"chapter": path.stem, "total": total, "cells": cells, "zoo": zoo}


def report(runs: list[dict]) -> str:
    lines = ["| chapter | Run all (s) | slowest cell (s) | cells over 60 s | zoo verdicts |", "|---|---|---|---|---|"]
    for run in runs:
        slowest = max(run["cells"], key=lambda c: c[1])
        over = [f"{i} ({s:.0f})" for i, s, _ in run["cells"] if s > CELL_BUDGET]
        lines.append(f"| {run['chapter']} | {run['total']:.0f} | {slowest[1]:.0f} (cell {slowest[0]}) | "
                     f"{', '.join(over) or 'none'} | {run['zoo']} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stems", nargs="*", help="notebooks to run (default: all chapters)")
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    parser.add_argument("--fresh-each", action="store_true",
                        help="an empty cache for every chapter (a new Colab session per chapter), not one shared")
    args = parser.parse_args(argv)
    paths = [p for p in sorted((ROOT / "notebooks").glob("*.ipynb")) if not args.stems or p.stem in args.stems]
    os.environ["MPLBACKEND"] = "Agg"
    for name in ("SALTOOLS_SCALE", "SALTOOLS_PROFILE"):
        os.environ.pop(name, None)
    runs = []
    with tempfile.TemporaryDirectory() as shared:
        for path in paths:
            with tempfile.TemporaryDirectory() as own:
                os.environ["SALTOOLS_CACHE"] = own if args.fresh_each else shared
                runs.append(run_chapter(path))
            print(f"{path.stem}: {runs[-1]['total']:.0f} s", flush=True)
    table = report(runs)
    print(table)
    over = [r["chapter"] for r in runs if r["total"] > CHAPTER_BUDGET or any(s > CELL_BUDGET for _, s, _ in r["cells"])]
    print(f"over budget (a cell over {CELL_BUDGET:.0f} s or a chapter over {CHAPTER_BUDGET:.0f} s): {over or 'none'}; "
          f"{os.cpu_count()} CPU cores; {sum(r['total'] for r in runs) / 60:.1f} minutes in all")
    if args.markdown:
        args.markdown.write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
