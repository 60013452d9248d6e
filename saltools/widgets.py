"""ipywidgets explorers for the chapters. Each draws a static figure at its default values first (so
the HTML book shows it), then the live controls (which respond in Jupyter and Colab)."""
from __future__ import annotations

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from IPython.display import display

from . import paramsal
from .models import predict
from .plots import _show


def _explore(draw, controls: dict) -> None:
    """Show ``draw`` at the controls' default values as a plain figure, then the live widget."""
    def show(**values) -> None:
        fig = draw(**values)
        display(fig)
        plt.close(fig)

    show(**{name: c.value for name, c in controls.items()})
    output = widgets.interactive_output(show, controls)
    display(widgets.VBox([widgets.HBox(list(controls.values())), output]))


def mistake_explorer(stats: "paramsal.ParameterSaliency", mistakes, scores: torch.Tensor, classes,
                     k_max: int = 25, k: int = 5) -> None:
    """Pick a misclassified image and k: the image, its input-space projection, and the class
    probabilities before and after zeroing its k most salient filters."""
    model = stats.model
    order = torch.argsort(scores, dim=1, descending=True)

    def draw(image: int, k: int) -> plt.Figure:
        x, y = mistakes.images[image], int(mistakes.labels[image])
        wrong = int(mistakes.predictions[image])
        before = F.softmax(predict(model, x[None]), dim=1)[0]
        after = paramsal.edited_probabilities(model, x, y, order[image, :k], "zero")
        heat = paramsal.input_projection(stats, x, y)
        fig, axes = plt.subplots(1, 3, figsize=(9, 2.8), gridspec_kw={"width_ratios": [1, 1, 1.5]})
        _show(axes[0], x, f"true {classes[y]}, predicted {classes[wrong]}")
        _show(axes[1], x, "input-space projection")
        axes[1].imshow(heat.numpy(), cmap="magma", alpha=0.6)
        names = [f"{classes[y]} (true)", f"{classes[wrong]} (predicted)"]
        axes[2].barh([0.2, 1.2], [before[y].item(), before[wrong].item()], height=0.4, color="lightgray", label="before")
        axes[2].barh([-0.2, 0.8], [after[y].item(), after[wrong].item()], height=0.4, color="tab:blue",
                     label=f"top-{k} filters zeroed")
        axes[2].set(yticks=[0, 1], yticklabels=names, xlim=(0, 1), xlabel="probability")
        axes[2].legend(fontsize=8, loc="lower right")
        fig.tight_layout()
        return fig

    options = [(f"{n}: {classes[int(t)]} seen as {classes[int(p)]}", n)
               for n, (t, p) in enumerate(zip(mistakes.labels, mistakes.predictions))]
    controls = {"image": widgets.Dropdown(options=options, value=0, description="mistake"),
                "k": widgets.IntSlider(value=k, min=1, max=k_max, description="k")}
    _explore(draw, controls)
