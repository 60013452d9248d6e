"""The claims on the Shapes model zoo: every claim on every shipped model, computed once per kind of
context and cached on disk, so that each chapter's summary and the scoreboard read the same tables.
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
from .evaluation import CLAIMS, CONTEXTS, scoreboard
from .input_bias import InputBiasContext
from .perturbation import PerturbationContext
from .remedies import RemedyContext

COLUMNS = ("claim", "chapter", "model", "effect", "low", "high", "n", "verdict")


def zoo_settings(profile) -> dict:
    """The zoo's budget under a Shapes ``profile``: reference statistics on half its reference images and
    interventions on a fifth of its queries' mistakes (embedded: 2000 and 40); chapter 5's checks on half
    its test images and objects per grey level (32 and 16); chapter 6's maps and metrics on its images (8);
    chapter 7's grades on a third of its images (16), a third of its leak images (320) and 8 images through
    the randomization tests (about 40 s a model on 2 CPU cores)."""
    return {"n_reference": profile.n_reference // 2, "n_repairs": max(1, profile.n_query // 5),
            "n_images": profile.n_images // 2, "n_objects": max(2, profile.n_objects // 2),
            "n_perturbed": profile.n_perturbed, "n_graded": max(8, profile.n_graded // 3),
            "n_leak": 320 if profile.scale == "default" else 40}


def zoo_contexts(models: dict, profile, n_images: int = 32, n_objects: int = 16, n_perturbed: int = 8,
                 n_graded: int = 16, n_leak: int = 320, n_reference: int | None = None, kinds=CONTEXTS,
                 **kwargs) -> list:
    """For each Shapes model of ``models`` (name -> model), a context of each of ``kinds``: a ``Context``
    under ``profile`` (with ``kwargs``; one copy of the profile's data for all models, the first
    ``n_reference`` reference images if given), an ``InputBiasContext`` (``n_images`` test images,
    ``n_objects`` objects per grey level), a ``PerturbationContext`` (``n_perturbed`` images, the
    profile's RISE masks) and a ``RemedyContext`` (``n_graded`` images, ``n_leak`` leak images, 8 randomized)."""
    data = Context.profile_data(profile, n_reference=n_reference) if Context in kinds else None
    build = {
        Context: lambda name, model: Context.for_profile(model, profile, name=name, data=data, **kwargs),
        InputBiasContext: lambda name, model: InputBiasContext(model, n=n_images, n_sweep=n_objects, name=name),
        PerturbationContext: lambda name, model: PerturbationContext.for_shapes(
            model, n=n_perturbed, rise_masks=profile.rise_masks, name=name),
        RemedyContext: lambda name, model: RemedyContext.for_shapes(model, n=n_graded, leak_images=n_leak, randomized=8,
                                                                   name=name),
    }
    return [build[kind](name, model) for name, model in models.items() for kind in kinds]


def zoo_verdicts(chapter: int | None = None, cache: bool = True, progress: bool = False, reuse=()) -> pd.DataFrame:
    """The claims of ``chapter`` (default: every chapter) on every model of ``models.SHIPPED``, with the
    embedded profile's Shapes data (at ``$SALTOOLS_SCALE``) and ``zoo_settings``: ``scoreboard``'s table
    (one row per model and claim, for every claim of the kinds of context the chapter needs).

    Each kind of context is computed once (minutes on a CPU) and cached as JSON under
    ``paramsal.cache_dir() / "claims"``, keyed by saltools' source code, the models' weight hashes and
    the settings; a cached file that does not read back as such a table is ignored (with a warning)
    and recomputed. ``reuse``: contexts already computed (a chapter's own) that stand in for the zoo's
    context of the same kind with an equal ``fingerprint()`` (kinds that have one), so nothing is
    computed twice.
    """
    kinds = [kind for kind in CONTEXTS
             if any(claim.context is kind and chapter in (None, claim.chapter) for claim in CLAIMS.values())]
    if not kinds:
        raise ValueError(f"no claims of chapter {chapter!r}; chapters with claims: "
                         f"{sorted({c.chapter for c in CLAIMS.values()})}")
    return pd.concat([_kind_verdicts(kind, cache, progress, reuse) for kind in kinds], ignore_index=True)


def _kind_verdicts(kind: type, cache: bool, progress: bool, reuse=()) -> pd.DataFrame:
    profile = get("embedded")
    key = zoo_key(profile, kind)
    path = cache_dir() / "claims" / f"zoo-{kind.__name__}-{key[:32]}.json"
    if cache and path.exists():
        table = read_verdicts(path, key)
        if table is not None:
            return table
    models = {name: load(name) for name in SHIPPED}
    contexts = zoo_contexts(models, profile, kinds=(kind,), **zoo_settings(profile))
    if hasattr(kind, "fingerprint"):
        known = {(c.name, c.fingerprint()): c for c in reuse if type(c) is kind}
        contexts = [known.get((c.name, c.fingerprint()), c) for c in contexts]
    table = scoreboard(contexts, progress=progress)
    if cache:
        write_verdicts(table, path, key)
    return table


def zoo_key(profile, kind: type = Context) -> str:
    """What the zoo's verdicts of one ``kind`` of context depend on: saltools' source, the models'
    weights, the profile, the settings."""
    digest = hashlib.sha256(json.dumps([repr(profile), kind.__name__, zoo_settings(profile),
                                        sorted((n, m.sha256) for n, m in SHIPPED.items())], default=str).encode())
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
