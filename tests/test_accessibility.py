"""Accessibility that does not need the built book: every figure's text alternative says what it shows with
the numbers drawn, notebooks display it, widget frames carry it, every palette survives simulated
colour-vision deficiency, and colour never carries a verdict alone. (The built book in a browser, with
axe-core and the keyboard: ``test_browser.py``.)"""
import base64
import inspect
import itertools
import re
import sys

import matplotlib
import matplotlib.colors as mcolors
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import seaborn as sns
import torch
from colorspacious import cspace_convert
from skimage.color import deltaE_ciede2000, rgb2lab

import saltools as st
from saltools.plots import alt, basics, claims, maps, rankings, remedies, style, tails
from tests.conftest import ROOT

matplotlib.use("Agg")
DEFICIENCIES = ("protanomaly", "deuteranomaly", "tritanomaly")


def _figure_functions():
    for module in (basics, claims, maps, rankings, remedies, tails):
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if function.__module__ == module.__name__ and not name.startswith("_"):
                if "Figure" in str(inspect.signature(inspect.unwrap(function)).return_annotation):
                    yield f"{module.__name__}.{name}", function


def _drawn_accessibly(function) -> bool:
    return getattr(function, "__wrapped__", None) is not None and function.__name__ == function.__wrapped__.__name__


def test_every_plotting_function_draws_accessibly():
    functions = dict(_figure_functions())
    assert len(functions) >= 40
    assert not [name for name, f in functions.items() if not _drawn_accessibly(f)]

    def bare() -> plt.Figure:                        # the negative control: a plotting function left undecorated
        """A figure."""
    assert not _drawn_accessibly(bare) and _drawn_accessibly(style.accessible(bare))


def test_the_alt_text_says_what_is_drawn_with_the_numbers_drawn():
    bars = st.plots.speed_bars({"naive loop": 0.030, "batched": 0.0025}, reference="naive loop")
    text = alt.alt_text(bars)
    assert text.startswith("Milliseconds per image of each way to compute the same thing")
    assert "naive loop 30" in text and "batched 2.5" in text and "milliseconds per image" in text
    shares = pd.DataFrame({"scorer": ["zscore"] * 2 + ["pot"] * 2, "stage": ["layer3", "layer4"] * 2,
                           "share": [0.16, 0.84, 0.06, 0.94], "filter_share": [0.47, 0.53] * 2})
    text = alt.alt_text(st.plots.depth_shares(shares))
    assert "0.84" in text and "0.94" in text and "legend" in text
    grid = st.plots.image_grid(torch.rand(9, 3, 8, 8), titles=[f"class {i}" for i in range(9)])
    assert "9 pictures titled class 0, class 1" in alt.alt_text(grid)
    fig, ax = plt.subplots()
    sns.heatmap(np.array([[0.1, 0.5], [0.7, 0.9]]), ax=ax)
    ax.plot([0, 1], [2, 3], label="curve")
    ax.legend()
    text = alt.alt_text(fig)
    assert "heat map of 4 cells from 0.1 to 0.9" in text and "curve from 2 to 3" in text
    plt.close("all")


def test_a_long_description_is_cut_and_an_empty_figure_says_so():
    fig, axes = plt.subplots(4, 4)
    for i, ax in enumerate(axes.flat):
        ax.bar(range(20), np.arange(20) + i, label=f"set {i}")
        ax.set_title(f"panel number {i}, with a title as long as a sentence of the chapter")
    assert len(alt.alt_text(fig)) <= alt.MAX_LENGTH and alt.alt_text(fig).endswith("...")
    assert alt.describe(plt.figure()) == "An empty figure."
    plt.close("all")


@pytest.mark.parametrize("text, meaningful", [
    ("", False), (None, False), ("png", False), ("Figure", False), ("output_12_0.png", False),
    ("_images/4f2a9c.png", False), ("plot", False), ("Colab logo", True),
    ("Bar chart: share of the top-20 filters in the last stage, z-score 0.84, POT 0.94", True),
])
def test_a_meaningless_alt_is_told_from_a_meaningful_one(text, meaningful):
    assert alt.is_meaningful(text) is meaningful


def test_notebooks_display_figures_as_images_with_their_alt():
    from IPython.core.interactiveshell import InteractiveShell
    shell = InteractiveShell.instance()
    try:
        fig = st.plots.speed_bars({"naive": 3.0, 'a "quoted" <way>': 1.0}, reference="naive")
        assert "text/html" not in shell.display_formatter.format(fig)[0]       # not before it is asked for
        assert st.notebook.describe_figures()
        bundle = shell.display_formatter.format(fig)[0]
        html = bundle["text/html"]
        assert base64.b64encode(bundle["image/png"]).decode() in html                # drawn once, shown twice
        assert html.startswith('<img src="data:image/png;base64,') and 'alt="Milliseconds per image' in html
        assert "&quot;quoted&quot; &lt;way&gt;" in html                         # escaped, so the tag holds
    finally:
        InteractiveShell.clear_instance()
        plt.close("all")
    assert st.notebook.describe_figures() is False                              # outside IPython: nothing


def test_in_a_kernel_every_figure_is_displayed_once_with_its_alt():
    """In a real kernel (the inline backend drops Figure's formatters when it starts, and a figure drawn
    under ``plt.rc_context`` switched interactive mode off, so later figures were never shown)."""
    import nbclient
    import nbformat
    cells = ["import saltools as st, torch\nst.notebook.describe_figures()",
             "st.plots.speed_bars({'naive': 0.003, 'fast': 0.001}, reference='naive');",
             "import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nax.bar(['a', 'b'], [0.25, 0.75]);",
             "st.plots.image_grid(torch.rand(2, 3, 8, 8), ['one', 'two']);"]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    for cell in notebook.cells[1:]:
        figures = [o["data"] for o in cell.outputs if "image/png" in o.get("data", {})]
        assert len(figures) == 1, (cell.source, cell.outputs)
        alt_attribute = re.search(r'alt="([^"]*)"', figures[0].get("text/html", ""))
        assert alt_attribute and alt.is_meaningful(alt_attribute.group(1)), (cell.source, figures[0].keys())
    assert "a 0.25, b 0.75" in notebook.cells[2].outputs[0]["data"]["text/html"]


def test_widget_frames_carry_their_text_alternative(monkeypatch):
    shown = []
    monkeypatch.setattr(st.widgets, "display", shown.append)

    def draw(level: float) -> plt.Figure:
        return st.plots.speed_bars({"naive": 0.003, "fast": level / 1000}, reference="naive")
    st.widgets.precomputed(draw, {"level": [0.5, 1.5]}, {"level": 0.5})
    stack = shown[0].children[1]
    alts = [re.search(r'<img class="widget-image" src="data:image/png;base64,[^"]+" alt="([^"]*)"', frame.value)
            for frame in stack.children]
    assert len(alts) == 2 and all(a and alt.is_meaningful(a.group(1)) for a in alts)
    assert "fast 0.5" in alts[0].group(1) and "fast 1.5" in alts[1].group(1)
    assert stack.layout.overflow == "visible"            # not a scroll region a keyboard cannot reach


def _smallest_difference(colors, deficiency=None) -> float:
    rgb = np.array([mcolors.to_rgb(c) for c in colors])
    if deficiency:
        space = {"name": "sRGB1+CVD", "cvd_type": deficiency, "severity": 100}
        rgb = np.clip(cspace_convert(rgb, space, "sRGB1"), 0, 1)
    lab = rgb2lab(rgb[None])[0]
    return min(float(deltaE_ciede2000(lab[i], lab[j])) for i, j in itertools.combinations(range(len(lab)), 2))


def _stage_count() -> int:
    return max(st.paramsal.ParameterSaliency(st.models.load(name)).index_.stage.nunique()
               for name in st.models.SHIPPED)


def _palettes() -> dict:
    return {"categorical": style.CATEGORICAL, "verdicts": list(style.VERDICT_COLORS.values()),
            "prediction": list(style.PREDICTION_COLORS.values()),
            "stages": sns.color_palette(style.STAGE_PALETTE, _stage_count())}


def test_every_palette_survives_colour_vision_deficiency():
    smallest = {(name, d): _smallest_difference(colors, d)
                for name, colors in _palettes().items() for d in (None, *DEFICIENCIES)}
    print({key: round(value, 1) for key, value in smallest.items()})
    assert min(smallest.values()) >= style.MIN_CVD_DIFFERENCE, smallest


@pytest.mark.parametrize("colors", [
    sns.color_palette("deep", 6),                              # seaborn's default: green and red collide
    ["#4c9f70", "#b3b3b3", "#d1605e", "#ececec"],              # the scoreboard's colours before
    ["tab:green", "tab:red", "tab:gray"],                      # the prediction's colours before
], ids=["seaborn-deep", "old-verdicts", "old-prediction"])
def test_the_palette_check_fails_on_palettes_built_on_red_and_green(colors):
    assert _smallest_difference(colors) >= style.MIN_CVD_DIFFERENCE               # fine for typical vision
    assert min(_smallest_difference(colors, d) for d in DEFICIENCIES) < style.MIN_CVD_DIFFERENCE


def test_seaborn_hues_take_the_safe_palette_inside_saltools_figures():
    table = pd.DataFrame({"stage": ["a", "a", "b", "b"], "constant": False,
                          "reject_shapiro": [True, False, True, True], "reject_dagostino": [True, True, False, True]})
    fig = st.plots.rejection_by_stage(table)
    used = {mcolors.to_hex(p.get_facecolor()) for p in fig.axes[0].patches if p.get_height() > 0}
    assert used == {c.lower() for c in style.CATEGORICAL[:2]}
    plt.close("all")


def test_a_verdict_is_never_told_by_colour_alone():
    table = pd.DataFrame({"claim": ["c1", "c1", "c2", "c2"], "model": ["m1", "m2"] * 2,
                          "verdict": ["holds", "does not hold", "inconclusive", "not evaluated"],
                          "effect": [0.9, 0.1, 0.5, np.nan], "low": [0.8, 0.0, 0.3, np.nan],
                          "high": [1.0, 0.2, 0.7, np.nan], "paper_value": [None] * 4})
    texts = [t.get_text() for t in st.plots.scoreboard(table).axes[0].texts]
    assert any(t.startswith(style.VERDICT_MARKS["holds"]) for t in texts)
    assert any(t.startswith(style.VERDICT_MARKS["does not hold"]) for t in texts)
    counts = st.plots.verdict_counts(table)
    hatches = {bar.get_hatch() for bar in counts.axes[0].patches if bar.get_width() > 0}
    assert {"//", ".."} <= hatches
    plt.close("all")


def test_the_bibliography_becomes_a_list_of_list_items():
    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    import accessibility
    page = ('<div role="list" class="citation-list">\n<div class="citation" id="id7" role="doc-biblioentry">'
            '<span class="label">Wan23</span></div></div>')
    repaired = accessibility.list_items(page)
    assert 'id="id7" role="listitem"' in repaired and "doc-biblioentry" not in repaired
    assert accessibility.list_items(repaired) == repaired
