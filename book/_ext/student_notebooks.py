"""Generate the student version of every chapter that has self-checking exercises.

A chapter's exercise is a run of tagged cells (the book shows the solution; the student gets the gap):

- ``exercise-starter`` (+ ``remove-cell``): code with gaps marked ``...  # YOUR CODE``, hidden in the book;
- ``exercise-check`` (+ ``remove-cell``): ``st.exercises.check(...)`` on the starter's answer, which the
  book runs to prove that the check fails on it;
- ``exercise-solution``: the solution's explanation, its code, and the check again (which must pass).

The student version drops the ``exercise-solution`` cells and shows the starter and its check. It is
written to ``notebooks/students/`` and committed; regenerating changes nothing (``--check`` says so):

    python book/_ext/student_notebooks.py            # (re)write the student notebooks
    python book/_ext/student_notebooks.py --check    # exit 1, naming the files, if one is out of date
"""
from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from pathlib import Path

from sync_notebooks import BADGE_LINK, badge, repository, serialized

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
STUDENTS = NOTEBOOKS / "students"
CHAPTER_LINK = re.compile(r"\]\((\d\d_[\w-]+\.ipynb)")
NOTE = ("*Student version: the exercises' solutions are left out. Fill in the gaps marked `...` and run "
        "each check cell: it tells you whether your answer is right.*")


def tags(cell: dict) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def has_exercises(notebook: dict) -> bool:
    return any("exercise-starter" in tags(c) for c in notebook["cells"])


def student_version(notebook: dict, relative: str, url: str, branch: str) -> dict:
    """``notebook`` without its solutions, starters and checks shown, the badge pointing at ``relative``."""
    out = copy.deepcopy(notebook)
    cells = [c for c in out["cells"] if "exercise-solution" not in tags(c)]
    for cell in cells:
        if {"exercise-starter", "exercise-check"} & set(tags(cell)):
            cell["metadata"]["tags"] = [t for t in tags(cell) if t != "remove-cell"]
        if cell["cell_type"] == "markdown":                      # links to chapters, from one folder down
            text = CHAPTER_LINK.sub(r"](../\1", "".join(cell["source"]))
            cell["source"] = [line + "\n" for line in text.split("\n")[:-1]] + [text.split("\n")[-1]]
    title = cells[0]
    text = BADGE_LINK.sub(badge(url, branch, relative), "".join(title["source"]))
    lines = (text.split("\n", 1) + [""])[:2]
    text = f"{lines[0]}\n\n{NOTE}\n{lines[1]}"
    title["source"] = [line + "\n" for line in text.split("\n")[:-1]] + [text.split("\n")[-1]]
    out["cells"] = cells
    return out


def generated() -> dict[Path, str]:
    """Every student notebook's path and text, from the chapters as they are now."""
    url, branch = repository()
    out = {}
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        notebook = json.loads(path.read_text())
        if has_exercises(notebook):
            target = STUDENTS / path.name
            out[target] = serialized(student_version(notebook, str(target.relative_to(ROOT)), url, branch))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only say whether the files are current")
    args = parser.parse_args(argv)
    wanted = generated()
    stale = [p for p, text in wanted.items() if not p.exists() or p.read_text() != text]
    extra = [p for p in STUDENTS.glob("*.ipynb") if p not in wanted] if STUDENTS.exists() else []
    if args.check:
        if stale or extra:
            names = ", ".join(str(p.relative_to(ROOT)) for p in stale + extra)
            print(f"out of date: {names}; run python book/_ext/student_notebooks.py")
            return 1
        print(f"{len(wanted)} student notebooks are current")
        return 0
    STUDENTS.mkdir(exist_ok=True)
    for path in extra:
        path.unlink()
    for path, text in wanted.items():
        path.write_text(text)
    print(f"wrote {len(wanted)} student notebooks into {STUDENTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
