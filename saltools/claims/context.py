"""What claims are evaluated on: a model, its reference and query data, and what they share.

Everything a claim needs is computed once, on first use, and shared by every claim of a ``Context``
(reference statistics come from the on-disk cache of ``paramsal.reference_statistics``).
"""
from __future__ import annotations

from dataclasses import fields
from functools import cached_property

import pandas as pd
import torch
import torch.nn as nn

from .. import checks, evt
from ..data import CORRUPTIONS, for_profile
from ..models import Mistakes, filter_index, mistakes
from ..parameters import Choice, Integer, checked
from ..paramsal import (SCORER, SELECTIONS, ParameterSaliency, intervention_curves, projections,
                        reference_statistics)
from .core import ClaimRefused


#: the severity (1-5) of the corrupted queries of ``Context.profile_data``
CORRUPTION_SEVERITY = 5


class Context:
    """A model with its data, for claims about parameter saliency on that model.

    Parameters
    ----------
    model : a classifier taking images in [0, 1] (eval mode is used; the model is left as found).
    reference : the reference set (a Dataset of (image, label, ...)) for the filter statistics.
    queries : a Dataset whose misclassified images are the queries.
    shifted : optionally a Dataset from a shifted domain, for claims about domain shift.
    corrupted : optionally corrupted query Datasets (name -> Dataset), for claims about corruptions; the
    same number of mistakes is taken from each.
    n_mistakes : queries at most; n_repairs : mistakes on which filters are zeroed / fine-tuned.
    ks : filter counts of the interventions; k : top-k of the depth claims.
    batch_size : images per forward/backward pass of the reference statistics (memory on a GPU);
    sample_size : per-filter reference sample kept for the normality tests.
    stages : the stage of each conv layer for the depth claims (a dict or a function of the layer name);
    by default ``models.filter_index``'s: from the module names (ResNets) or where the resolution drops.
    """

    @checked()
    def __init__(self, model: nn.Module, reference, queries, shifted=None, *, corrupted: dict | None = None,
                 n_mistakes: int = 200, n_repairs: int = 100, ks=(1, 2, 5, 10, 15, 20, 25), k: int = 20,
                 batch_size: int = 128, sample_size: int = 1000, name: str = "model", stages=None):
        checks.returns_logits(model, torch.stack([queries[i][0] for i in range(min(2, len(queries)))]))
        self.model, self.reference, self.queries, self.shifted = model, reference, queries, shifted
        self.stages = stages
        self.corrupted = dict(corrupted or {})
        self.n_mistakes, self.n_repairs, self.ks, self.k, self.name = n_mistakes, n_repairs, tuple(ks), k, name
        self.batch_size, self.sample_size = batch_size, sample_size
        self._scores: dict = {}
        self._curves: dict = {}

    @staticmethod
    @checked(severity=Integer(1, 5))
    def profile_data(profile, severity: int = CORRUPTION_SEVERITY, n_reference: int | None = None) -> tuple:
        """(reference, queries, shifted or None, corrupted): the data a chapter uses under ``profile`` (the
        profile's reference set, or its first ``n_reference`` images; a query pool of four times the
        profile's evaluation size; the target domain if the profile has one; a quarter of the evaluation
        size of query images under each corruption at ``severity``)."""
        shifted = (for_profile(profile, "query", n=profile.n_eval, domain="target")
                   if "target" in profile.domains else None)
        corrupted = {name: for_profile(profile, "query", n=profile.n_eval // 4, corruption=name, severity=severity)
                     for name in CORRUPTIONS}
        return (for_profile(profile, "reference", n=n_reference), for_profile(profile, "query", n=4 * profile.n_eval),
                shifted, corrupted)

    @classmethod
    @checked()
    def for_profile(cls, model: nn.Module, profile, name: str = "model", data: tuple | None = None,
                    **kwargs) -> "Context":
        """The chapters' context under ``profile``; ``data`` reuses ``profile_data(profile)`` across models."""
        reference, queries, shifted, corrupted = cls.profile_data(profile) if data is None else data
        kwargs = {"n_mistakes": profile.n_query, "ks": profile.intervention_ks, "batch_size": profile.batch_size,
                  "sample_size": profile.n_sample, **kwargs}
        return cls(model, reference, queries, shifted, corrupted=corrupted, name=name, **kwargs)

    # -- shared quantities
    @cached_property
    def stats(self) -> ParameterSaliency:
        return reference_statistics(self.model, self.reference, batch_size=self.batch_size,
                                    sample_size=self.sample_size, progress=False)

    @cached_property
    def index(self) -> pd.DataFrame:
        return filter_index(self.model, self.stages)

    @cached_property
    def last_stage(self) -> torch.Tensor:
        """[F] bool: the filters of the last stage; ``ClaimRefused`` for a model with one stage."""
        stages = self.index.stage
        if stages.nunique() < 2:
            raise ClaimRefused(f"every conv filter of this model lies in one stage ({stages.iloc[0]!r}), so a depth "
                               "claim has nothing to compare; give Context(..., stages={layer name: stage}) "
                               "or a function of the layer name")
        return torch.tensor((stages == stages.iloc[-1]).to_numpy())

    @cached_property
    def wrong(self) -> Mistakes:
        return mistakes(self.model, self.queries, limit=self.n_mistakes)

    @cached_property
    def values(self) -> torch.Tensor:
        return self.stats.saliency(self.wrong.images, self.wrong.labels)

    @cached_property
    def shifted_wrong(self) -> Mistakes | None:
        return None if self.shifted is None else mistakes(self.model, self.shifted, limit=self.n_mistakes)

    @cached_property
    def shifted_values(self) -> torch.Tensor | None:
        return self._saliency(self.shifted_wrong)

    @cached_property
    def corrupted_wrong(self) -> Mistakes | None:
        """Mistakes on the corrupted queries, ``n_mistakes // len(corrupted)`` at most from each."""
        if not self.corrupted:
            return None
        limit = max(1, self.n_mistakes // len(self.corrupted))
        found = [mistakes(self.model, data, limit=limit) for data in self.corrupted.values()]
        return Mistakes(*(torch.cat([getattr(m, f.name) for m in found]) for f in fields(Mistakes)))

    @cached_property
    def corrupted_values(self) -> torch.Tensor | None:
        return self._saliency(self.corrupted_wrong)

    def _saliency(self, wrong: Mistakes | None) -> torch.Tensor | None:
        """The raw filter statistic of ``wrong``'s mistakes, or None where there are none."""
        return None if wrong is None or len(wrong) == 0 else self.stats.saliency(wrong.images, wrong.labels)

    @checked()
    def projections(self, n: int) -> torch.Tensor:
        """Input-space projections of the first ``n`` source mistakes [n, H, W] (cached)."""
        key = ("projections", n)
        if key not in self._scores:
            self._scores[key] = projections(self.stats, self.wrong.images[:n], self.wrong.labels[:n])
        return self._scores[key]

    @cached_property
    def normality(self) -> pd.DataFrame:
        return evt.normality_tests(self.stats.sample_, self.index)

    def scores(self, scorer, values: torch.Tensor | None = None) -> torch.Tensor:
        """Scores [N, F] of the source mistakes (or of ``values``) under ``scorer`` (cached for the former)."""
        if values is not None:
            return self.stats.score(values, scorer)
        key = repr(scorer)
        if key not in self._scores:
            self._scores[key] = self.stats.score(self.values, scorer)
        return self._scores[key]

    def last_stage_share(self, scorer, values: torch.Tensor | None = None) -> torch.Tensor:
        """[N]: per query, the share of its top-k filters that lie in the last stage."""
        top = self.scores(scorer, values).topk(self.k, dim=1).indices
        return self.last_stage[top].double().mean(1)

    @checked(scorer=SCORER)
    def curves(self, scorer="zscore") -> pd.DataFrame:
        """Intervention curves of the first ``n_repairs`` mistakes under ``scorer`` (cached)."""
        key = repr(scorer)
        if key not in self._curves:
            n = self.n_repairs
            self._curves[key] = intervention_curves(self.model, self.wrong.images[:n], self.wrong.labels[:n],
                                                    self.scores(scorer)[:n], ks=self.ks, progress=False)
        return self._curves[key]

    @checked(scorer=SCORER, method=Choice(("zero", "finetune")), selection=Choice(SELECTIONS))
    def per_image(self, scorer, column: str, method: str, selection: str) -> pd.Series:
        """Mean over k of an intervention column, one value per image."""
        curves = self.curves(scorer)
        rows = curves[(curves.method == method) & (curves.selection == selection)]
        return rows.groupby("image")[column].mean()
