"""Figures of claims: the replication scoreboard, claim x model, verdicts with effects and intervals."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import ListedColormap

from ..parameters import checked
from .style import VERDICT_COLORS, VERDICT_HATCHES, VERDICT_MARKS, accessible

def _exploratory(table: pd.DataFrame) -> pd.Series:
    """Per claim of ``table``: whether it is exploratory (from the table's column; False where it has none)."""
    rows = table.drop_duplicates("claim").set_index("claim")
    return rows.exploratory.astype(bool) if "exploratory" in rows else pd.Series(False, index=rows.index)


@accessible
@checked()
def scoreboard(table: pd.DataFrame, size: float = 1.25) -> plt.Figure:
    """Claims (rows) x models (columns) coloured by verdict, each cell annotated with the effect and its
    95% interval; the paper's figure, where there is one, printed beside the claim; exploratory claims
    below the confirmatory ones, under a line."""
    exploratory = _exploratory(table)
    claims = sorted(dict.fromkeys(table.claim), key=lambda c: exploratory[c])      # confirmatory first, stable
    models = list(dict.fromkeys(table.model))
    cells = table.set_index(["claim", "model"])
    codes = np.array([[list(VERDICT_COLORS).index(cells.loc[(c, m), "verdict"]) for m in models] for c in claims])
    fig, ax = plt.subplots(figsize=(3.2 + size * 1.6 * len(models), 0.9 + 0.42 * len(claims)))
    ax.imshow(codes, cmap=ListedColormap(list(VERDICT_COLORS.values())), vmin=0, vmax=len(VERDICT_COLORS) - 1,
              aspect="auto")
    for i, claim in enumerate(claims):
        for j, model in enumerate(models):
            row = cells.loc[(claim, model)]
            text = ("not\nevaluated" if row.verdict == "not evaluated"       # the mark, not colour alone
                    else f"{VERDICT_MARKS[row.verdict]} {row.effect:.2g}\n[{row.low:.2g}, {row.high:.2g}]")
            ax.text(j, i, text, ha="center", va="center", fontsize=6.5)
    confirmatory = int((~exploratory[claims]).sum())
    if 0 < confirmatory < len(claims):                      # exploratory claims below a line of their own
        ax.axhline(confirmatory - 0.5, color="black", lw=2)
    papers = table.drop_duplicates("claim").set_index("claim").paper_value
    labels = [c + (" (exploratory)" if exploratory[c] else "") + ("" if pd.isna(papers[c]) else f"\npaper: {papers[c]}")
              for c in claims]
    ax.set_yticks(range(len(claims)), labels, fontsize=7)
    ax.set_xticks(range(len(models)), models, rotation=30, ha="right", fontsize=8)
    ax.set_xticks(np.arange(len(models) + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(len(claims) + 1) - 0.5, minor=True)
    ax.grid(which="minor", color="white", lw=1.5)
    ax.tick_params(which="minor", length=0)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in VERDICT_COLORS.values()]
    ax.legend(handles, [f"{VERDICT_MARKS[v]} {v}" for v in VERDICT_COLORS], loc="lower center",
              bbox_to_anchor=(0.5, 1.0), ncol=4, fontsize=8,
              frameon=False)
    fig.tight_layout()
    return fig


@accessible
def verdict_counts(table: pd.DataFrame) -> plt.Figure:
    """Per claim, on how many models it holds, is inconclusive or does not hold (stacked bars)."""
    counts = table.pivot_table(index="claim", columns="verdict", values="model", aggfunc="count", fill_value=0)
    counts = counts.reindex(columns=list(VERDICT_COLORS), fill_value=0).loc[list(dict.fromkeys(table.claim))]
    fig, ax = plt.subplots(figsize=(7, 0.6 + 0.3 * len(counts)))
    counts.plot.barh(stacked=True, color=list(VERDICT_COLORS.values()), ax=ax, width=0.8)
    for container, verdict in zip(ax.containers, counts.columns):       # a hatch, not colour alone
        for bar in container:
            bar.set_hatch(VERDICT_HATCHES[verdict])
    ax.invert_yaxis()
    ax.set(xlabel="models", ylabel="")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


@accessible
@checked()
def claim_across_models(table: pd.DataFrame, claim: str) -> plt.Figure:
    """One claim on every model: the effect with its 95% interval, coloured by verdict, and the threshold
    of the claim's rule as a dashed line."""
    rows = table[table.claim == claim].reset_index(drop=True)
    if rows.empty:
        raise ValueError(f"claim {claim!r} is not in the table; it has {sorted(set(table.claim))[:5]}...")
    fig, ax = plt.subplots(figsize=(6.5, 0.8 + 0.42 * len(rows)))
    for y, row in rows.iterrows():
        color = VERDICT_COLORS[row.verdict]
        if row.verdict == "not evaluated":
            ax.text(rows.rule_threshold.iloc[0], y, "  not evaluated", va="center", fontsize=8)
            continue
        # a percentile-bootstrap interval need not contain the estimate (e.g. a median): draw it as it is
        ax.hlines(y, row.low, row.high, color=color, lw=2)
        ax.plot(row.effect, y, "o", color=color)
        ax.text(row.high, y, f"  {row.verdict}", va="center", fontsize=8)
    threshold = rows.rule_threshold.iloc[0]
    for t in ([-threshold, threshold] if rows.rule_kind.iloc[0] == "within" else [threshold]):
        ax.axvline(t, color="gray", ls="--", lw=1)
    ax.set_yticks(range(len(rows)), rows.model)
    ax.margins(x=0.3)
    ax.invert_yaxis()
    ax.set(xlabel=rows.effect_name.iloc[0], title=claim)
    ax.title.set_fontsize(9)
    fig.tight_layout()
    return fig
