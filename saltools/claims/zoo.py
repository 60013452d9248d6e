"""The claims on the Shapes model zoo: every claim on every shipped model.

The table ships with the package (``assets/zoo_verdicts.json``, written by ``python -m saltools.claims.zoo``),
so a reader's first run reads it instead of computing it (about a quarter of an hour on 2 CPU cores); it is
served only while its registry hash, models' weights and settings are the ones in use, and its rows' hash
matches. Recomputed tables are cached on disk per kind of context, so that each chapter's summary and the
scoreboard read the same tables.
"""
from __future__ import annotations

import datetime
import functools
import hashlib
import json
import multiprocessing
import os
import random
import sys
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from .. import __version__
from ..models import SHIPPED, load
from ..parameters import Choice, Integer, checked
from ..paramsal import cache_dir
from ..profiles import PROFILES, get
from .context import Context
from .core import VERDICTS
from .evaluation import CLAIMS, CONTEXTS, registry_hash, scoreboard
from .input_bias import InputBiasContext
from .perturbation import PerturbationContext
from .remedies import RemedyContext

COLUMNS = ("claim", "chapter", "model", "effect", "low", "high", "n", "verdict")
#: the zoo's verdicts shipped with the package, and the columns it stores (the rest comes from ``CLAIMS``)
SHIPPED_VERDICTS = Path(__file__).resolve().parents[1] / "assets" / "zoo_verdicts.json"
SHIPPED_COLUMNS = ("model", "claim", "effect", "low", "high", "n", "unit", "verdict", "reason")
SOURCES = ("shipped", "cache", "recompute")
#: minutes the whole zoo took to compute on an idle 2-core CPU (2026-12-05), for the readers' planning
RECOMPUTE_MINUTES = 15
#: seconds one model takes per kind of context (2 CPU threads, shapes-resnet): the longest are started first
COST = {"RemedyContext": 55, "Context": 43, "PerturbationContext": 39, "InputBiasContext": 5}


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


@checked()
def zoo_contexts(models: dict, profile, n_images: int = 32, n_objects: int = 16, n_perturbed: int = 8,
                 n_graded: int = 16, n_leak: int = 320, n_reference: int | None = None, kinds=CONTEXTS,
                 data: tuple | None = None, **kwargs) -> list:
    """For each Shapes model of ``models`` (name -> model), a context of each of ``kinds``: a ``Context``
    under ``profile`` (with ``kwargs``; one copy of the profile's data for all models, the first
    ``n_reference`` reference images if given), an ``InputBiasContext`` (``n_images`` test images,
    ``n_objects`` objects per grey level), a ``PerturbationContext`` (``n_perturbed`` images, the
    profile's RISE masks) and a ``RemedyContext`` (``n_graded`` images, ``n_leak`` leak images, 8 randomized).
    ``data``: ``Context.profile_data(profile, n_reference=n_reference)`` when already rendered."""
    if data is None and Context in kinds:
        data = Context.profile_data(profile, n_reference=n_reference)
    build = {
        Context: lambda name, model: Context.for_profile(model, profile, name=name, data=data, **kwargs),
        InputBiasContext: lambda name, model: InputBiasContext(model, n=n_images, n_sweep=n_objects, name=name),
        PerturbationContext: lambda name, model: PerturbationContext.for_shapes(
            model, n=n_perturbed, rise_masks=profile.rise_masks, name=name),
        RemedyContext: lambda name, model: RemedyContext.for_shapes(model, n=n_graded, leak_images=n_leak, randomized=8,
                                                                   name=name),
    }
    return [build[kind](name, model) for name, model in models.items() for kind in kinds]


@checked(chapter=Integer(0, 8), source=Choice(SOURCES))
def zoo_verdicts(chapter: int | None = None, source: str = "shipped", progress: bool | None = None,
                 reuse=()) -> pd.DataFrame:
    """The claims of ``chapter`` (default: every chapter) on every model of ``models.SHIPPED``, with the
    embedded profile's Shapes data and ``zoo_settings``: ``scoreboard``'s table (one row per model and
    claim, for every claim of the kinds of context the chapter needs). ``table.attrs["provenance"]`` says
    where it comes from (``zoo_note`` renders it).

    ``source``: "shipped" (default) reads the table shipped with the package (``SHIPPED_VERDICTS``) when it
    is valid for the code in use, else warns why and falls back to "cache"; "cache" computes each kind of
    context once (minutes on a CPU) and caches it as JSON under ``paramsal.cache_dir() / "claims"``, keyed
    by saltools' source, the models' weight hashes and the settings (a cached file that does not read back
    as such a table is ignored, with a warning); "recompute" computes it now (``progress``: a bar with an
    ETA, on by default) and caches it. ``reuse``: contexts already computed (a chapter's own) that stand in
    for the zoo's context of the same kind with an equal ``fingerprint()``.
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {list(SOURCES)}; got {source!r}")
    kinds = [kind for kind in CONTEXTS
             if any(claim.context is kind and chapter in (None, claim.chapter) for claim in CLAIMS.values())]
    if not kinds:
        raise ValueError(f"no claims of chapter {chapter!r}; chapters with claims: "
                         f"{sorted({c.chapter for c in CLAIMS.values()})}")
    if source == "shipped":
        table, provenance = read_shipped()
        if table is not None:
            ids = [c.id for c in CLAIMS.values() if c.context in kinds]
            table = table[table.claim.isin(ids)].reset_index(drop=True)
            table.attrs["provenance"] = provenance
            return table
        source = "cache"
    progress = source == "recompute" if progress is None else progress
    table = _computed(kinds, source == "cache", progress, reuse)
    table.attrs["provenance"] = {"source": "computed", "created": _today(), "saltools_version": __version__,
                                 "registry_hash": registry_hash(), "settings": zoo_settings(get("embedded"))}
    return table


def _today() -> str:
    return datetime.datetime.now(datetime.timezone.utc).date().isoformat()


def zoo_note(table: pd.DataFrame) -> str:
    """One Markdown sentence on where ``table`` (from ``zoo_verdicts``) comes from and how to recompute it."""
    provenance = table.attrs.get("provenance")
    if not provenance:
        return ""
    how = (f'`st.claims.zoo_verdicts(source="recompute")` recomputes it (about {RECOMPUTE_MINUTES} minutes on '
           "2 CPU cores, with a progress bar)")
    if provenance["source"] == "shipped":
        return (f"These zoo verdicts were computed on {provenance['created']} by saltools "
                f"{provenance['saltools_version']} (claims registry `{provenance['registry_hash']}`) and ship with "
                f"the package; {how}.")
    return f"These zoo verdicts were computed on this machine on {provenance['created']}; {how}."


def _shipped_identity() -> dict:
    """What the shipped table must have been computed with to be served: the registry, the models' weights, the
    zoo's settings (at the default scale, whatever scale the reader runs at)."""
    return {"registry_hash": registry_hash(), "models": {n: m.sha256 for n, m in sorted(SHIPPED.items())},
            "settings": zoo_settings(PROFILES["embedded"])}          # as defined: the default scale


def _rows_hash(rows: list) -> str:
    return hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest()


def write_shipped(table: pd.DataFrame, path: Path = SHIPPED_VERDICTS) -> None:
    """``table`` (the whole zoo, from ``zoo_verdicts(source="recompute")`` at the default scale) as the shipped
    file: its rows (``SHIPPED_COLUMNS``), their SHA-256, the identity it was computed with, the date and the
    saltools version."""
    rows = table[list(SHIPPED_COLUMNS)].astype(object).to_dict(orient="records")   # Python floats: exact in JSON
    saved = {**_shipped_identity(), "created": _today(), "saltools_version": __version__, "rows": rows,
             "rows_sha256": _rows_hash(rows)}
    write_json(saved, path)


def read_shipped(path: Path = SHIPPED_VERDICTS) -> tuple[pd.DataFrame | None, dict]:
    """The shipped table with every column of ``evaluate`` (the claims' own from ``CLAIMS``) and its
    provenance, or ``(None, {})`` with a warning that says why it cannot be served."""
    try:
        saved = json.loads(Path(path).read_text())
        problem = _shipped_problem(saved)
    except (OSError, ValueError, TypeError, AttributeError) as error:
        problem = f"it does not read ({error})"
    if problem:
        warnings.warn(f"not using the shipped zoo verdicts {path}: {problem}; computing them instead (about "
                      f"{RECOMPUTE_MINUTES} minutes on 2 CPU cores, cached afterwards)", stacklevel=3)
        return None, {}
    rows = pd.DataFrame(saved["rows"])
    claims = pd.DataFrame([{k: v for k, v in CLAIMS[c].refused("").items() if k not in SHIPPED_COLUMNS}
                           for c in rows.claim])
    table = pd.concat([rows, claims], axis=1)
    table["reason"] = table["reason"].fillna("")
    provenance = {"source": "shipped", **{k: saved[k] for k in ("created", "saltools_version", "registry_hash",
                                                                 "settings")}}
    return table, provenance


def _shipped_problem(saved) -> str | None:
    if not isinstance(saved, dict) or not isinstance(saved.get("rows"), list):
        return "it is not a table of verdicts"
    if saved.get("rows_sha256") != _rows_hash(saved["rows"]):
        return "its rows do not match their SHA-256 (edited or truncated)"
    identity = _shipped_identity()
    changed = [k for k in identity if saved.get(k) != identity[k]]
    if changed:
        return f"it was computed with another {' and '.join(changed)} (write it anew: python -m saltools.claims.zoo)"
    rows = pd.DataFrame(saved["rows"])
    missing = [c for c in SHIPPED_COLUMNS if c not in rows.columns]
    if missing or rows.empty:
        return f"it has no rows or lacks the columns {missing}"
    if not (rows.claim.isin(list(CLAIMS)).all() and rows.verdict.isin(VERDICTS).all()):
        return "it names unknown claims or verdicts"
    return None


def _cache_path(profile, kind: type) -> Path:
    return cache_dir() / "claims" / f"zoo-{kind.__name__}-{zoo_key(profile, kind)[:32]}.json"


def _computed(kinds: list, read_cache: bool, progress: bool, reuse=()) -> pd.DataFrame:
    """The zoo's verdicts of ``kinds`` of context: each read from the cache (``read_cache``) or computed,
    then cached."""
    profile = get("embedded")
    tables = {}
    for kind in kinds:
        path = _cache_path(profile, kind)
        table = read_verdicts(path, zoo_key(profile, kind)) if read_cache and path.exists() else None
        if table is not None:
            tables[kind] = table
    missing = [kind for kind in kinds if kind not in tables]
    computed = _compute(missing, progress, reuse) if missing else {}
    for kind in missing:
        tables[kind] = pd.concat([computed[kind, name] for name in SHIPPED], ignore_index=True)
        write_verdicts(tables[kind], _cache_path(profile, kind), zoo_key(profile, kind))
    return pd.concat([tables[kind] for kind in kinds], ignore_index=True)


def _reused(kind: type, name: str, reuse):
    """The context of ``reuse`` that stands for the zoo's (``kind``, ``name``) context (an equal fingerprint)."""
    candidates = [c for c in reuse if type(c) is kind and c.name == name and hasattr(kind, "fingerprint")]
    if not candidates:
        return None
    profile = get("embedded")
    zoo = zoo_contexts({name: load(name)}, profile, kinds=(kind,), **zoo_settings(profile))[0]
    return next((c for c in candidates if c.fingerprint() == zoo.fingerprint()), None)


def _compute(kinds: list, progress: bool, reuse=()) -> dict:
    """{(kind, model name): verdicts} for every shipped model and each of ``kinds``: contexts of ``reuse`` in
    this process, the others in worker processes (one per CPU core), one model and kind at a time."""
    results, tasks = {}, []
    for kind in sorted(kinds, key=lambda k: COST.get(k.__name__, 0), reverse=True):     # longest first
        for name in SHIPPED:
            context = _reused(kind, name, reuse)
            if context is not None:
                results[kind, name] = scoreboard([context])
            else:
                tasks.append((kind, name))
    if not tasks:
        return results
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    with ProcessPoolExecutor(min(len(tasks), cores), mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(_worker_verdicts, kind.__name__, name): (kind, name) for kind, name in tasks}
        for future in tqdm(as_completed(futures), total=len(futures), disable=not progress,
                           desc="zoo (model, context)", unit="task"):
            results[futures[future]] = future.result()
    return results


def _worker_verdicts(kind: str, model: str) -> pd.DataFrame:
    """In a worker process: the verdicts of one shipped ``model`` on the zoo's context of one ``kind`` (a class
    name of ``CONTEXTS``), on one CPU thread with every random generator seeded (it sets both for the whole
    process), so the table is the same to the last bit whatever the machine's core count and whichever worker
    runs it first."""
    torch.set_num_threads(1)
    torch.manual_seed(0)
    np.random.seed(0)
    random.seed(0)
    profile = get("embedded")
    context_kind = {k.__name__: k for k in CONTEXTS}[kind]
    settings = zoo_settings(profile)
    data = _worker_data(profile, settings["n_reference"]) if context_kind is Context else None
    return scoreboard(zoo_contexts({model: load(model)}, profile, kinds=(context_kind,), data=data, **settings))


@functools.lru_cache(maxsize=1)
def _worker_data(profile, n_reference: int) -> tuple:
    """The zoo's Shapes data, rendered once per worker process for all the models it computes (the worker
    processes end with the pool, and the data with them)."""
    return Context.profile_data(profile, n_reference=n_reference)


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


@checked()
def write_verdicts(table: pd.DataFrame, path: Path, key: str) -> None:
    """``table`` (from ``scoreboard``) as JSON with its ``key``, written atomically."""
    write_json({"key": key, "rows": table.to_dict(orient="records")}, path)


def write_json(content: dict, path: Path) -> None:
    """``content`` as JSON at ``path``, written atomically (a temporary file renamed, removed on failure)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(content, default=str))
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


@checked()
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


def main(argv: list | None = None) -> None:
    """``python -m saltools.claims.zoo [PATH]``: recompute the zoo from scratch and write it as the shipped table
    (to ``PATH``, default ``SHIPPED_VERDICTS`` with a progress bar)."""
    argv = sys.argv[1:] if argv is None else argv
    if get("embedded").scale != "default":
        raise SystemExit("the shipped zoo verdicts are computed at the default scale: unset SALTOOLS_SCALE")
    target = Path(argv[0]) if argv else SHIPPED_VERDICTS
    write_shipped(zoo_verdicts(source="recompute", progress=target == SHIPPED_VERDICTS), target)
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
