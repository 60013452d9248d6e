"""Planted faults: flip known filters, then ask each scorer to find them from the mistakes they cause."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import numpy as np
import pandas as pd
import torch
import torch.nn as nn
from tqdm.auto import tqdm

from ..data import first_images
from ..models.evaluation import predict
from ..models.filters import conv_layers, filter_index
from ..parameters import Choice, checked
from .interventions import filter_columns
from .reference import ParameterSaliency


@contextmanager
@checked()
def planted_faults(model: nn.Module, columns, factor: float = -1.0) -> Iterator[nn.Module]:
    """Multiply the weights of the filters ``columns`` by ``factor`` (-1 flips them) inside the block;
    the original weights are restored on exit, also on error."""
    convs = conv_layers(model)
    bounds = np.cumsum([0] + [c.out_channels for _, c in convs])
    columns = filter_columns(columns, int(bounds[-1])).tolist()
    saved = []
    try:
        with torch.no_grad():
            for col in sorted(columns):
                i = int(np.searchsorted(bounds, col, side="right") - 1)
                weight = convs[i][1].weight
                saved.append((weight, col - bounds[i], weight[col - bounds[i]].clone()))
                weight[col - bounds[i]] *= factor
        yield model
    finally:
        with torch.no_grad():
            for weight, j, original in reversed(saved):
                weight[j] = original


@checked(reference_model=Choice(("faulty", "clean")))
def planted_fault_benchmark(model: nn.Module, reference, pool, *, stages=None, n_faults: int = 3,
                            factor: float = -1.0, scorers=("zscore", "pot", "exponential", "random"),
                            ks=(1, 5, 10, 20, 50), seeds=(0,), reference_model: str = "faulty",
                            batch_size: int = 128, progress: bool = True) -> pd.DataFrame:
    """Plant faults, then ask each scorer to find them from the mistakes they cause.

    For each stage and seed: ``n_faults`` random filters of that stage get their weights multiplied by
    ``factor``; the pool images that the model classified correctly before and wrongly after are the
    queries. ``reference_model="faulty"`` fits the reference statistics on the faulty model (as a user
    diagnosing it would), ``"clean"`` on the model before the fault (statistics kept from a healthy
    deployment). ``batch_size``: images per forward/backward pass of the statistic (memory on a GPU).
    ``scorers``: names in SCORERS, or a dict of name -> scorer (e.g. POT at several quantiles).
    Returns one row per (stage, seed, scorer, query image): ``recall@k`` (share of the planted filters
    among its top k) for each k and ``best_rank`` / ``median_rank`` of the planted filters; a fault that
    caused no mistake (``n_induced`` 0) gets one row per scorer with those values missing (NaN).
    """
    index = filter_index(model)
    stages = list(index.stage.unique()) if stages is None else list(stages)
    def fitted() -> ParameterSaliency:
        return ParameterSaliency(model, batch_size=batch_size, progress=False).fit(reference)

    images, labels = first_images(pool)
    clean_pred = _predictions(model, images)
    clean_stats = fitted() if reference_model == "clean" else None
    named = list(scorers.items()) if isinstance(scorers, dict) else [(name, name) for name in scorers]
    rows = []
    for stage in tqdm(stages, disable=not progress, desc="planted faults"):
        candidates = index.column[index.stage == stage].to_numpy()
        for seed in seeds:
            rng = np.random.default_rng(seed)
            planted = rng.choice(candidates, size=min(n_faults, len(candidates)), replace=False)
            with planted_faults(model, planted, factor):
                faulty_pred = _predictions(model, images)
                induced = ((clean_pred == labels) & (faulty_pred != labels)).nonzero().flatten()
                if len(induced) == 0:        # nothing to find: one row per scorer, recall and ranks NaN
                    rows += [{"stage": stage, "seed": seed, "n_induced": 0, "scorer": scorer} for scorer, _ in named]
                    continue
                stats = clean_stats or fitted()
                values = stats.saliency(images[induced], labels[induced])
                for scorer, how in named:
                    ranks = stats.rank(values, how)
                    hit = ranks[ranks.column.isin(planted)]
                    for image, group in hit.groupby("image"):
                        row = {"stage": stage, "seed": seed, "n_induced": len(induced), "scorer": scorer,
                               "image": int(induced[image]), "best_rank": group["rank"].min(),
                               "median_rank": group["rank"].median()}
                        row.update({f"recall@{k}": (group["rank"] <= k).mean() for k in ks})
                        rows.append(row)
    columns = ["stage", "seed", "n_induced", "scorer", "image", "best_rank", "median_rank"]
    return pd.DataFrame(rows, columns=columns + [f"recall@{k}" for k in ks])


def _predictions(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    return predict(model, images).argmax(1)
