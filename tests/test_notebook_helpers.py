"""The notebooks' helpers: a flood of small-sample warnings becomes one line per cell."""
import io
import warnings

import saltools as st
from saltools.notebook import WarningSummary
from saltools.paramsal import DegenerateStatisticsWarning


def test_a_flood_of_warnings_is_one_line_and_other_warnings_pass():
    stream, shown = io.StringIO(), []
    summary = WarningSummary(stream=stream)
    previous = warnings.showwarning
    warnings.showwarning = lambda message, *rest, **kw: shown.append(str(message))
    try:
        summary.start()
        for i in range(24):
            warnings.warn(f"POT keeps {i} excesses", DegenerateStatisticsWarning)
        warnings.warn("something else", UserWarning)
        line = summary.finish()
        assert warnings.showwarning is not summary                 # restored
        summary.start()
        assert summary.finish() == ""                              # a quiet cell prints nothing
    finally:
        warnings.showwarning = previous
    assert line == "DegenerateStatisticsWarning: POT keeps 0 excesses (and 23 more like it)"
    assert stream.getvalue().strip() == line and shown == ["something else"]


def test_summarize_warnings_does_nothing_outside_ipython():
    assert st.notebook.summarize_warnings() is None


def test_the_prose_scan_flags_a_count_no_output_prints():
    import nbformat
    from tests.prose_scan import contradicted_counts

    def notebook(prose, printed):
        cells = [nbformat.v4.new_markdown_cell(prose), nbformat.v4.new_code_cell("print(...)")]
        cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text=printed)]
        return nbformat.v4.new_notebook(cells=cells)

    assert not contradicted_counts(notebook("The intervals say what 48 images can decide.", "graded 48 images"))
    found = contradicted_counts(notebook("The intervals say what 48 images can decide.", "graded 8 images"))
    assert len(found) == 1 and "'48 images'" in found[0]
    assert not contradicted_counts(notebook("With up to 100 mistakes, top-20 filters.", "64 mistakes"))
    assert not contradicted_counts(notebook("On at most\n480 leak images.", "320 leak images"))    # a limit, not a count
    assert not contradicted_counts(notebook("On 1,000 images.", "1000 reference images"))
