"""ipywidgets explorers for the chapters. In Jupyter and Colab each shows its controls and a figure
that they redraw live; while the book builds, each precomputes a dozen frames that its controls switch
in the browser, so the static HTML stays interactive without a kernel (``precomputed``)."""
from __future__ import annotations

import functools
import numbers

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import scipy.stats as ss
import seaborn as sns
import torch
import torch.nn.functional as F
from IPython.display import display

from . import paramsal
from .attributions import to_map
from .baselines import BASELINES, ROAD
from .data import CORRUPTIONS, Shapes
from .leakage import filled, removal_masks
from .metrics import relevance_mass
from .models import predict
from .parameters import NON_NEGATIVE, TEXT, Choice, Integer, Number, checked
from .perturb import occlusion
from .plots import (CATEGORICAL, accessible, attribution_maps, claim_across_models, depth_shares, image_grid,
                    ranking_bars, show_image)
from .plots.alt import figure_html
from .profiles import building_book, current as current_profile
from .rectgrad import RectGrad


def _explore(draw, controls: dict, grid: dict | None = None) -> dict:
    """Show ``draw`` with its controls.

    In Jupyter and Colab: the figure at the controls' values, redrawn in place when a control moves.
    While the book builds (and ``grid`` is given): one frame per combination of the ``grid`` values
    (name -> values, at most a dozen frames in all; the first ``n_frames`` values of each under the current
    profile, e.g. at the smoke scale), switched in the browser by the controls
    (``jslink`` to a ``Stack``), so the static page stays interactive with no kernel. Either way the
    figures take saltools' colours and carry their text alternative (``plots.accessible``).
    """
    draw = accessible(draw)
    if grid and building_book():
        limit = current_profile().n_frames
        grid = {name: list(values)[:limit] for name, values in grid.items()}
        return precomputed(draw, grid, {name: control.value for name, control in controls.items()}, controls)

    def current() -> dict:
        return {name: control.value for name, control in controls.items()}

    figure = draw(**current())
    display(widgets.HBox(list(controls.values())))
    handle = display(figure, display_id=True)
    plt.close(figure)

    def redraw(_change) -> None:
        new = draw(**current())
        if handle is not None:
            handle.update(new)
        plt.close(new)

    for control in controls.values():
        control.observe(redraw, names="value")
    return controls


def _control(kind: type, value, **options):
    """An ipywidgets control of ``kind`` set to ``value``; a ValueError naming what it offers when ``value`` is
    not one of its ``options`` or outside its ``min``..``max`` (a slider would clamp it without a word, a
    dropdown fail deep in traitlets)."""
    name = options.get("description", "value")
    if "options" in options:
        offered = [o[1] if isinstance(o, tuple) else o for o in options["options"]]
        if value not in offered:
            raise ValueError(f"{name} must be one of {offered}; got {value!r}")
    elif isinstance(value, bool) or not isinstance(value, numbers.Real) or not options["min"] <= value <= options["max"]:
        raise ValueError(f"{name} must be a number in [{options['min']:g}, {options['max']:g}]; got {value!r}")
    return kind(value=value, **options)


def _frame(figure: plt.Figure) -> widgets.HTML:
    """``figure`` as a frame: an HTML widget holding the figure's ``<img>`` with its text alternative as
    ``alt`` (an ``Image`` widget has no alt, and ipywidgets' HTML manager cannot show one with a tooltip)."""
    frame = widgets.HTML(value=figure_html(figure, css_class="widget-image"))
    plt.close(figure)
    return frame


def precomputed(draw, grid: dict, defaults: dict, controls: dict | None = None) -> dict:
    """Precompute ``draw`` on every combination of the ``grid`` values (other arguments at their
    ``defaults``) and show selectors linked client-side to the frames: works in a static page.

    Each grid entry gets a selector whose ``index`` is ``jslink``-ed to the ``selected_index`` of the
    ``Stack`` widgets at its level (nested stacks for several entries); a ``controls`` entry that is a
    dropdown lends the selector its kind and option labels. Returns the selectors.
    """
    names = list(grid)
    values = {name: list(grid[name]) for name in names}
    for name in names:
        if defaults.get(name) not in values[name]:
            values[name].insert(0, defaults[name])
    stacks: dict[str, list] = {name: [] for name in names}

    def build(level: int, fixed: dict):
        name = names[level]
        children = []
        for value in values[name]:
            params = {**fixed, name: value}
            if level == len(names) - 1:
                children.append(_frame(draw(**params)))
            else:
                children.append(build(level + 1, params))
        stack = widgets.Stack(children, selected_index=values[name].index(defaults[name]),
                              layout=widgets.Layout(overflow="visible"))     # not a scroll region
        stacks[name].append(stack)
        return stack

    frames = build(0, dict(defaults))
    selectors = {}
    for name in names:
        original = (controls or {}).get(name)
        named = {}
        if isinstance(original, widgets.Dropdown):
            named = {value: label for label, value in
                     (o if isinstance(o, tuple) else (str(o), o) for o in original.options)}
        labels = [named.get(v, f"{v:g}" if isinstance(v, float) else str(v)) for v in values[name]]
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values[name])
        kind = widgets.SelectionSlider if numeric and not named else widgets.Dropdown
        selectors[name] = kind(options=labels, index=values[name].index(defaults[name]), description=name)
        for stack in stacks[name]:
            widgets.jslink((selectors[name], "index"), (stack, "selected_index"))
    display(widgets.VBox([widgets.HBox(list(selectors.values())), frames]))
    return selectors


@checked()
def mistake_explorer(stats: "paramsal.ParameterSaliency", mistakes, scores: torch.Tensor, classes,
                     k_max: int = 25, k: int | None = None) -> dict:
    """Pick a misclassified image and k: the image, its input-space projection, and the class
    probabilities before and after zeroing its k most salient filters. ``k`` starts at 5 (at most
    ``k_max``) unless given; a ``k`` outside [1, ``k_max``] is refused."""
    k = min(5, k_max) if k is None else k
    model = stats.model
    order = torch.argsort(scores, dim=1, descending=True)

    def draw(image: int, k: int) -> plt.Figure:
        x, y = mistakes.images[image], int(mistakes.labels[image])
        wrong = int(mistakes.predictions[image])
        before = F.softmax(predict(model, x[None]), dim=1)[0]
        after = paramsal.edited_probabilities(model, x, y, order[image, :k], "zero")
        heat = paramsal.input_projection(stats, x, y)
        fig, axes = plt.subplots(1, 3, figsize=(9, 2.8), gridspec_kw={"width_ratios": [1, 1, 1.5]})
        show_image(axes[0], x, f"true {classes[y]}, predicted {classes[wrong]}")
        show_image(axes[1], x, "input-space projection")
        axes[1].imshow(heat.numpy(), cmap="magma", alpha=0.6)
        names = [f"{classes[y]} (true)", f"{classes[wrong]} (predicted)"]
        axes[2].barh([0.2, 1.2], [before[y].item(), before[wrong].item()], height=0.4, color="lightgray", label="before")
        axes[2].barh([-0.2, 0.8], [after[y].item(), after[wrong].item()], height=0.4, color=CATEGORICAL[0],
                     label=f"top-{k} filters zeroed")
        axes[2].set(yticks=[0, 1], yticklabels=names, xlim=(0, 1), xlabel="probability")
        axes[2].legend(fontsize=8, loc="lower right")
        fig.tight_layout()
        return fig

    options = [(f"{n}: {classes[int(t)]} seen as {classes[int(p)]}", n)
               for n, (t, p) in enumerate(zip(mistakes.labels, mistakes.predictions))]
    controls = {"image": _control(widgets.Dropdown, 0, options=options, description="mistake"),
                "k": _control(widgets.IntSlider, k, min=1, max=k_max, description="k")}
    grid = {"image": list(range(min(3, len(options)))), "k": sorted({1, k, k_max})}
    return _explore(draw, controls, grid)


@checked(layer=TEXT, filter=NON_NEGATIVE)
def filter_explorer(stats: "paramsal.ParameterSaliency", quantile: float = 0.9, layer: str | None = None,
                    filter: int = 0) -> dict:
    """Pick a layer and filter: its statistic over the reference sample, the fitted normal and the
    fitted GPD tail above the threshold."""
    index = stats.index_
    fit = stats.tail_fit(quantile)
    layers = list(dict.fromkeys(index.layer))

    def draw(layer: str, filter: int) -> plt.Figure:
        rows = index[index.layer == layer]
        col = int(rows.column.iloc[min(filter, len(rows) - 1)])
        x = stats.sample_[:, col].double().numpy()
        fig, ax = plt.subplots(figsize=(7, 3.2))
        ax.hist(x, bins=80, density=True, color=CATEGORICAL[0], alpha=0.6, label="reference sample")
        grid = np.linspace(0, max(x.max(), fit.threshold[col]) * 1.05, 400)
        ax.plot(grid, ss.norm.pdf(grid, stats.mean_[col].item(), stats.std_[col].item()), color=CATEGORICAL[1],
                label="normal (mean, std)")
        above = grid[grid > fit.threshold[col]]
        rate = np.exp(fit.log_rate)
        if fit.scale[col] > 0:
            ax.plot(above, rate * ss.genpareto.pdf(above - fit.threshold[col], fit.shape[col], scale=fit.scale[col]),
                    color="tab:orange", lw=2, label=f"GPD tail (shape {fit.shape[col]:.2f})")
        ax.axvline(fit.threshold[col], color="gray", ls="--", lw=1, label=f"{quantile:.0%} threshold")
        ax.set(yscale="log", xlabel="filter statistic s", ylabel="density (log scale)",
               title=f"{layer} filter {int(rows['filter'].iloc[min(filter, len(rows) - 1)])}")
        ax.legend(fontsize=7)
        fig.tight_layout()
        return fig

    controls = {"layer": _control(widgets.Dropdown, layer or layers[-1], options=layers, description="layer"),
                "filter": _control(widgets.IntSlider, filter, min=0, max=int(index.groupby("layer").size().max()) - 1,
                                   description="filter")}
    default = layer or layers[-1]
    grid = {"layer": list(dict.fromkeys([default, layers[0], layers[len(layers) // 3], layers[2 * len(layers) // 3]])),
            "filter": [filter, filter + 1, filter + 2]}
    return _explore(draw, controls, grid)


@checked()
def threshold_explorer(stats: "paramsal.ParameterSaliency", values: torch.Tensor, planted=None,
                       quantiles=(0.8, 0.85, 0.9, 0.95, 0.975), quantile: float = 0.9, k: int = 20) -> None:
    """Slide the POT threshold quantile: the stages of the top-k filters of the mistakes under POT (next
    to the z-score), and, given a planted-fault table with scorers named ``pot@q``, the detection rate."""
    def draw(quantile: float) -> plt.Figure:
        shares = {}
        for name, how in (("zscore", "zscore"), (f"pot@{quantile}", functools.partial(paramsal.pot, quantile=quantile))):
            ranking = stats.rank(values, how)
            shares[name] = ranking[ranking["rank"] <= k].stage.value_counts(normalize=True)
        tidy = pd.DataFrame(shares).fillna(0).reset_index(names="stage").melt(id_vars="stage", var_name="scorer",
                                                                              value_name="share")
        panels = 2 if planted is not None else 1
        fig, axes = plt.subplots(1, panels, figsize=(5 * panels, 3), squeeze=False)
        sns.barplot(saturation=1, data=tidy, x="stage", y="share", hue="scorer", ax=axes[0, 0])
        axes[0, 0].set(ylabel=f"share of the top {k}", ylim=(0, 1))
        if planted is not None:
            sub = planted[planted.scorer.isin(["zscore", f"pot@{quantile}"])]
            sns.barplot(saturation=1, data=sub, x="stage", y=f"recall@{k}", hue="scorer", errorbar=None, ax=axes[0, 1])
            axes[0, 1].set(ylabel=f"planted filters in the top {k}", ylim=(0, 1))
        fig.tight_layout()
        return fig

    controls = {"quantile": _control(widgets.SelectionSlider, quantile, options=list(quantiles),
                                     description="threshold q")}
    return _explore(draw, controls, {"quantile": list(quantiles)})


@checked(corruption=Choice(tuple(CORRUPTIONS)), severity=Integer(1, 5))
def depth_explorer(table, corruptions, severities=(1, 2, 3, 4, 5), corruption: str | None = None,
                   severity: int = 3) -> None:
    """Choose a corruption and severity: the stages of the top-k filters of its mistakes, per scorer
    (from a ``depth.depth_under_shift`` table)."""
    def draw(corruption: str, severity: int) -> plt.Figure:
        sub = table[(table.corruption == corruption) & (table.severity == severity)]
        n = int(sub.n_mistakes.iloc[0]) if len(sub) else 0
        return depth_shares(sub, title=f"{corruption}, severity {severity}: {n} mistakes")

    corruptions = list(corruptions)
    controls = {"corruption": _control(widgets.Dropdown, corruption or corruptions[0], options=corruptions,
                                       description="corruption"),
                "severity": _control(widgets.IntSlider, severity, min=min(severities), max=max(severities),
                                     description="severity")}
    default = corruption or corruptions[0]
    grid = {"corruption": list(dict.fromkeys([default, *corruptions]))[:4], "severity": list(severities)[:3]}
    return _explore(draw, controls, grid)


@checked(split=TEXT, percentile=Number(50, 99.5))
def rectgrad_explorer(model, n: int = 4, percentile: float = 98.0, brightness: float = 0.0,
                      background: float = 0.5, split: str = "test") -> dict:
    """Slide RectGrad's percentile and the objects' grey level: ``n`` Shapes objects on a fixed grey
    background with their RectGrad and NoBias RectGrad maps, and each map's relevance mass accuracy."""
    def draw(percentile: float, brightness: float) -> plt.Figure:
        ds = Shapes(n, split=split, object_color=brightness, background_color=background)
        images = ds.images
        maps = {"RectGrad": RectGrad(model, percentile=percentile),
                "NoBias RectGrad": RectGrad(model, percentile=percentile, multiply_by_inputs=False)}
        fig, axes = plt.subplots(len(maps) + 1, n, figsize=(1.9 * n, 1.9 * (len(maps) + 1)), squeeze=False)
        for i in range(n):
            show_image(axes[0, i], images[i], f"object grey {brightness:.1f}")
        for row, (name, method) in enumerate(maps.items(), start=1):
            m = to_map(method.attribute(images, ds.labels))
            mass = relevance_mass(m, ds.masks)
            for i in range(n):
                limit = max(m[i].abs().max().item(), 1e-12)
                axes[row, i].imshow(m[i].numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit)
                axes[row, i].contour(ds.masks[i].float().numpy(), levels=[0.5], colors="black", linewidths=0.5)
                axes[row, i].set_title(f"{name}: mass {mass[i]:.2f}", fontsize=7)
                axes[row, i].axis("off")
        fig.suptitle(f"percentile {percentile:g}; maps multiply by inputs in [0, 1]", fontsize=9)
        fig.tight_layout()
        return fig

    controls = {"percentile": _control(widgets.FloatSlider, percentile, min=50, max=99.5, step=0.5,
                                       description="percentile"),
                "brightness": _control(widgets.FloatSlider, brightness, min=0, max=1, step=0.1,
                                       description="object grey")}
    grid = {"percentile": sorted({90.0, percentile, 99.5}), "brightness": sorted({0.0, brightness, 0.2, 0.8, 1.0})[:4]}
    return _explore(draw, controls, grid)


@checked(baseline=Choice(tuple(BASELINES)))
def occlusion_explorer(model, images: torch.Tensor, labels: torch.Tensor, baseline: str = "black",
                       window: int = 8, stride: int = 4, windows=(4, 8, 16), strides=(2, 4, 8)) -> dict:
    """Choose the baseline, window and stride of occlusion: live maps for the images. A stride above the
    window would leave pixels that no window covers (at 0), so it is capped at the window (the title
    shows the stride used)."""
    def draw(baseline: str, window: int, stride: int) -> plt.Figure:
        stride = min(stride, window)
        maps = occlusion(model, images, labels, baseline=baseline, window=window, stride=stride)
        return attribution_maps(images, {f"occlusion, {baseline}, {window}/{stride}": maps}, size=1.5)

    controls = {"baseline": _control(widgets.Dropdown, baseline, options=list(BASELINES), description="baseline"),
                "window": _control(widgets.Dropdown, window, options=list(windows), description="window"),
                "stride": _control(widgets.Dropdown, stride, options=list(strides), description="stride")}
    grid = {"baseline": list(dict.fromkeys([baseline, "black", "dataset_mean", "blur", "uniform"]))[:4],
            "window": list(windows)[:3]}
    return _explore(draw, controls, grid)


@checked(substrate=TEXT, curve=TEXT)
def ranking_explorer(scores, substrate: str = "black", curve: str = "deletion / morf") -> dict:
    """Choose the metric's substrate and curve: the methods ordered by it (from ``experiments.causal_scores``)."""
    def draw(substrate: str, curve: str) -> plt.Figure:
        mode, order = (part.strip() for part in curve.split("/"))
        sub = scores[(scores.substrate == substrate) & (scores["mode"] == mode) & (scores.order == order)]
        better_low = mode == "deletion" and order == "morf"
        return ranking_bars(sub, f"{mode}, {order.upper()}, substrate: {substrate}", lower_is_better=better_low)

    curves = sorted({f"{m} / {o}" for m, o in zip(scores["mode"], scores.order)})
    controls = {"substrate": _control(widgets.Dropdown, substrate, options=list(dict.fromkeys(scores.substrate)),
                                      description="substrate"),
                "curve": _control(widgets.Dropdown, curve, options=curves, description="curve")}
    curve_grid = list(dict.fromkeys([curve, *(c for c in curves if c.startswith("deletion"))]))[:2]
    return _explore(draw, controls, {"substrate": list(dict.fromkeys(scores.substrate)), "curve": curve_grid})


@checked(substrate=TEXT)
def removal_explorer(model, images: torch.Tensor, labels: torch.Tensor, maps: torch.Tensor, substrate: str = "black",
                     share: float = 0.2, substrates=("black", "blur", "noisy_inpaint", ROAD),
                     shares=(0.1, 0.2, 0.4)) -> dict:
    """Choose the substrate and the share of pixels removed (most relevant first by ``maps``): the images as
    the metric shows them to the model, titled with the probability of their class."""
    def draw(substrate: str, share: float) -> plt.Figure:
        shown = filled(images, removal_masks(maps, share), substrate).clamp(0, 1)
        probability = predict(model, shown).softmax(1)[torch.arange(len(images)), labels]
        title = f"{share:.0%} most relevant pixels removed, filled by {substrate}"
        return image_grid(shown, [f"p(class) = {p:.2f}" for p in probability.tolist()], ncols=len(images),
                          suptitle=title)

    controls = {"substrate": _control(widgets.Dropdown, substrate, options=list(dict.fromkeys([*substrates, *BASELINES])),
                                      description="substrate"),
                "share": _control(widgets.Dropdown, share, options=list(shares), description="removed")}
    return _explore(draw, controls, {"substrate": list(substrates), "share": list(shares)})


@checked()
def claim_explorer(board, claim: str | None = None) -> dict:
    """Choose a claim: its effect and 95% interval on every model, coloured by verdict (from
    ``claims.scoreboard``)."""
    claims = list(dict.fromkeys(board.claim))
    default = claim or claims[0]
    controls = {"claim": _control(widgets.Dropdown, default, options=claims, description="claim",
                                  layout=widgets.Layout(width="36em"))}
    grid = {"claim": list(dict.fromkeys([default, *claims]))[:12]}
    return _explore(lambda claim: claim_across_models(board, claim), controls, grid)
