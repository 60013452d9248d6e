"""The README's speed table is the recorded output of ``benchmarks/run_all.py``, not typed by hand."""
import json
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))
import run_all  # noqa: E402


def test_the_readme_shows_exactly_the_recorded_run():
    results = json.loads(run_all.RESULTS.read_text())
    assert run_all.render(results) in run_all.README.read_text()
    assert set(results["machine"]) >= {"device", "cpu", "threads", "torch", "date"}


def test_every_row_names_a_script_that_exists_and_every_script_is_run():
    results = json.loads(run_all.RESULTS.read_text())
    assert {row["script"] for row in results["rows"]} == {f"{name}.py" for name in run_all.SCRIPTS}
    assert all((BENCHMARKS / f"{name}.py").exists() for name in run_all.SCRIPTS)
    assert all(set(row) == {"what", "saltools", "naive", "script"} for row in results["rows"])


def test_a_partial_run_returns_its_rows_and_leaves_the_readme_alone(capsys):
    before = run_all.README.read_text()
    results = run_all.main(["bench_kendall", "--readme"])
    assert [row["script"] for row in results["rows"]] == ["bench_kendall.py"]
    assert "bench_kendall.py" in capsys.readouterr().out
    assert run_all.README.read_text() == before


def test_writing_the_table_replaces_only_the_block_between_the_markers(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{run_all.BEGIN}\nold table\n{run_all.END}\noutro\n")
    run_all.write_readme(f"{run_all.BEGIN}\nnew table\n{run_all.END}", readme)
    assert readme.read_text() == f"intro\n{run_all.BEGIN}\nnew table\n{run_all.END}\noutro\n"
    readme.write_text("no markers")
    with pytest.raises(ValueError, match="speed-table markers"):
        run_all.write_readme("table", readme)


def test_the_readme_shows_the_recorded_first_run_and_the_teachers_page_points_to_it():
    """The first-run times in the README are ``benchmarks/first_run.py``'s output file, verbatim."""
    table = (BENCHMARKS / "first_run.md").read_text().strip()
    assert table.startswith("| chapter | Run all (s) |") and table in run_all.README.read_text()
    assert "benchmarks/first_run.md" in (BENCHMARKS.parent / "book" / "teachers.md").read_text()


def _table_after(text: str, heading: str) -> list[list[str]]:
    """The body rows (cells stripped) of the first Markdown table at or after ``heading``."""
    block = []
    for line in text[text.index(heading):].splitlines():
        if line.startswith("|"):
            block.append([cell.strip() for cell in line.strip("|").split("|")])
        elif block:
            break
    return block[2:]


def test_the_course_plan_adds_up_one_chapter_per_90_minute_session():
    """The teachers' plan: its parts fill 90 minutes, a first run fits in the framing, and every chapter has a
    session of its own (the review found two chapters squeezed into 90 minutes)."""
    text = (BENCHMARKS.parent / "book" / "teachers.md").read_text()
    parts = _table_after(text, "Every session follows the same plan")
    assert sum(int(row[1]) for row in parts) == 90, parts
    framing = int(parts[0][1]) * 60
    slowest = max(int(row[1]) for row in _table_after((BENCHMARKS / "first_run.md").read_text(), "| chapter |"))
    assert slowest <= framing, f"a first run ({slowest} s) does not fit in the framing ({framing} s)"
    sessions = _table_after(text, "| session | chapter |")
    chapters = [row[1] for row in sessions]
    assert len(chapters) == len(set(chapters)) == len(list((BENCHMARKS.parent / "notebooks").glob("*.ipynb")))
    assert all(c.count("{doc}") == 1 for c in chapters), "a session holds more than one chapter"
