"""Explorers: live redraw in a kernel; precomputed frames linked client-side while the book builds."""
import ipywidgets as widgets
from ipywidgets.widgets.widget_link import Link
import matplotlib.pyplot as plt
import pandas as pd
import pytest

import saltools as st


def _draw(calls):
    def draw(color: str, size: int):
        calls.append((color, size))
        fig, ax = plt.subplots(figsize=(1, 1))
        ax.set_title(f"{color} {size}")
        return fig
    return draw


def _controls():
    return {"color": widgets.Dropdown(options=[("Red", "red"), ("Blue", "blue"), ("Green", "green")], value="blue"),
            "size": widgets.IntSlider(value=2, min=1, max=5)}


def test_live_explorer_redraws_on_change(monkeypatch):
    monkeypatch.delenv("SALTOOLS_BOOK_BUILD", raising=False)
    calls = []
    controls = st.widgets._explore(_draw(calls), _controls(), grid={"color": ["red", "blue"], "size": [1, 2]})
    assert calls == [("blue", 2)]
    controls["size"].value = 4
    assert calls[-1] == ("blue", 4)


def test_book_build_precomputes_linked_frames(monkeypatch):
    monkeypatch.setenv("SALTOOLS_BOOK_BUILD", "1")
    calls = []
    selectors = st.widgets._explore(_draw(calls), _controls(), grid={"color": ["red", "green"], "size": [1, 3]})
    # the defaults join the grid: colors blue, red, green x sizes 2, 1, 3
    assert len(calls) == 9 and set(calls) == {(c, s) for c in ("blue", "red", "green") for s in (2, 1, 3)}
    assert isinstance(selectors["color"], widgets.Dropdown) and isinstance(selectors["size"], widgets.SelectionSlider)
    assert selectors["color"].index == 0 and selectors["size"].index == 0
    assert selectors["color"].options == ("Blue", "Red", "Green")            # the live control's labels
    links = [w for w in widgets.Widget.widgets.values() if isinstance(w, Link)]
    assert sum(1 for link in links if link.source[0] is selectors["size"]) == 3     # one per inner stack
    assert sum(1 for link in links if link.source[0] is selectors["color"]) == 1


@pytest.mark.parametrize("call, message", [
    (lambda: st.widgets.depth_explorer(pd.DataFrame(), ["blur"], severity=9), r"depth_explorer: severity must be an integer from 1 to 5; got 9"),
    (lambda: st.widgets.depth_explorer(pd.DataFrame(), ["blur"], corruption="fog"), r"corruption must be one of \['blur'\]"),
    (lambda: st.widgets.claim_explorer(pd.DataFrame({"claim": ["a"]}), claim="b"), r"claim must be one of \['a'\]; got 'b'"),
    (lambda: st.widgets.rectgrad_explorer(None, percentile=120.0), r"percentile must be a number in \[50, 99.5\]"),
])
def test_an_explorer_refuses_a_value_its_controls_would_clamp_or_fail_on(call, message):
    with pytest.raises(ValueError, match=message):
        call()
