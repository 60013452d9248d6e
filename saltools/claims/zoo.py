"""The claims on the Shapes model zoo: every claim of chapters 1-5 on every shipped model, computed
once and cached on disk, so that each chapter's summary and the scoreboard read one table.

Chapter 6's claims are not evaluated on the zoo yet: their perturbation maps and metric curves cost
more per model than the book's time budget allows on a laptop CPU.
"""
from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path

import pandas as pd

from ..models import SHIPPED, load
from ..paramsal import cache_dir
from ..profiles import get
from .context import Context
from .core import VERDICTS
from .evaluation import CLAIMS, scoreboard
from .input_bias import InputBiasContext

#: the zoo's budget: interventions on 40 mistakes per model; chapter 5's checks on 32 test images and
#: 16 objects per grey level (half the chapters', to keep the scoreboard within its time budget)
ZOO_SETTINGS = {"n_repairs": 40, "n_images": 32, "n_objects": 16}
COLUMNS = ("claim", "chapter", "model", "effect", "low", "high", "n", "verdict")


def zoo_contexts(models: dict, profile, n_images: int = 32, n_objects: int = 16, **kwargs) -> list:
    """A ``Context`` (with ``kwargs``) and an ``InputBiasContext`` (``n_images`` test images,
    ``n_objects`` objects per grey level) for each Shapes model of ``models`` (name -> model), all
    sharing one copy of the profile's data."""
    data = Context.profile_data(profile)
    return [context for name, model in models.items()
            for context in (Context.for_profile(model, profile, name=name, data=data, **kwargs),
                            InputBiasContext(model, n=n_images, n_sweep=n_objects, name=name))]


def zoo_verdicts(cache: bool = True, progress: bool = False) -> pd.DataFrame:
    """Every claim that applies, on every model of ``models.SHIPPED``, with the embedded profile's Shapes
    data and ``ZOO_SETTINGS``: ``scoreboard``'s table (one row per model and claim).

    Computed once (minutes on a CPU) and cached as JSON under ``paramsal.cache_dir() / "claims"``,
    keyed by saltools' source code, the models' weight hashes and the settings; a cached file that
    does not read back as such a table is ignored (with a warning) and recomputed.
    """
    profile = get("embedded")
    key = zoo_key(profile)
    path = cache_dir() / "claims" / f"zoo-{key[:32]}.json"
    if cache and path.exists():
        table = read_verdicts(path, key)
        if table is not None:
            return table
    models = {name: load(name) for name in SHIPPED}
    table = scoreboard(zoo_contexts(models, profile, **ZOO_SETTINGS), progress=progress)
    if cache:
        write_verdicts(table, path, key)
    return table


def zoo_key(profile) -> str:
    """What the zoo's verdicts depend on: saltools' source, the models' weights, the profile, the settings."""
    digest = hashlib.sha256(json.dumps([repr(profile), ZOO_SETTINGS, sorted((n, m.sha256) for n, m in SHIPPED.items())],
                                       default=str).encode())
    root = Path(__file__).resolve().parents[1]
    for source in sorted(root.rglob("*.py")):
        digest.update(str(source.relative_to(root)).encode())
        digest.update(source.read_bytes())
    return digest.hexdigest()


def write_verdicts(table: pd.DataFrame, path: Path, key: str) -> None:
    """``table`` (from ``scoreboard``) as JSON with its ``key``, written atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"key": key, "rows": table.to_dict(orient="records")}, default=str))
    tmp.replace(path)


def read_verdicts(path: Path, key: str) -> pd.DataFrame | None:
    """The table saved by ``write_verdicts`` under ``key``, or None (with a warning) when the file is not
    one: unreadable JSON, another key, missing columns, unknown claims or verdicts, or non-numeric effects."""
    try:
        saved = json.loads(Path(path).read_text())
        problem = _problem(saved, key)
    except (OSError, ValueError, TypeError, AttributeError) as error:
        problem = f"it does not parse ({error})"
    if problem:
        warnings.warn(f"ignoring the cached zoo verdicts {path}: {problem}; recomputing", stacklevel=3)
        return None
    return pd.DataFrame(saved["rows"])


def _problem(saved, key: str) -> str | None:
    if not isinstance(saved, dict) or saved.get("key") != key:
        return "it was written for other code, models or settings"
    table = pd.DataFrame(saved.get("rows", []))
    missing = [c for c in COLUMNS if c not in table.columns]
    if table.empty or missing:
        return f"it has no rows or lacks the columns {missing}"
    if not (table.claim.isin(list(CLAIMS)).all() and table.verdict.isin(VERDICTS).all()):
        return "it names unknown claims or verdicts"
    values = table[["effect", "low", "high", "n"]]
    if (values.apply(pd.to_numeric, errors="coerce").isna() & values.notna()).to_numpy().any():
        return "its effects, intervals or counts are not numbers"
    return None
