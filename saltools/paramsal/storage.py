"""The file format of fitted reference statistics: versioned, self-describing, checked when read back.

A file is a ``torch.save``d dict of plain tensors, strings and ints (``torch.load(weights_only=True)``
reads it): ``format`` and ``version``; the model's filter index fingerprint (``layers``: conv layer names,
``filters``: filters per layer) and ``weights``, the SHA-256 of its parameters and buffers (statistics belong
to weights, not only to an architecture); the statistics (``n``, ``mean``, ``m2``, ``tail``, ``sample``,
``fingerprints``, ``max_tail``, ``sample_size``); and ``checksum``, a SHA-256 of all of them. ``read``
refuses, with the file's path and the reason, anything unreadable, of another format or version, for
another model or other weights, altered since it was written, or inconsistent (non-finite moments, n < 1, shapes that
disagree).
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pandas as pd
import torch

from ..parameters import checked

FORMAT, VERSION = "saltools.reference_statistics", 3
_TENSORS = ("mean", "m2", "tail", "sample", "fingerprints")
_INTS = ("n", "max_tail", "sample_size")


class StatisticsFileError(ValueError):
    """A statistics file that cannot be used; the message names the file and what is wrong."""

    @checked()
    def __init__(self, path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = Path(path), reason


def layer_fingerprint(index: pd.DataFrame) -> tuple[list[str], list[int]]:
    """(conv layer names, filters per layer) of a filter index, in column order."""
    counts = index.groupby("layer", sort=False).size()
    return [str(name) for name in counts.index], [int(c) for c in counts.values]


def weights_fingerprint(model) -> str:
    """SHA-256 of a model's parameters and buffers (names, dtypes, shapes, bytes): the weights that fitted
    statistics belong to."""
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def checksum(state: dict) -> str:
    """SHA-256 over the fingerprints, the counts and every tensor's dtype, shape and bytes."""
    digest = hashlib.sha256(repr((FORMAT, state["version"], state["layers"], state["filters"], state["weights"],
                                  [int(state[k]) for k in _INTS])).encode())
    for key in _TENSORS:
        tensor = state[key].detach().cpu().contiguous()
        digest.update(f"{key}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(tensor.numpy().tobytes())
    return digest.hexdigest()


@checked()
def write(state: dict, index: pd.DataFrame, path, weights: str = "") -> None:
    """Save statistics (keys ``_TENSORS`` and ``_INTS``) fitted on the model of filter index ``index`` and weights
    ``weights`` (``weights_fingerprint``), with the format header and the checksum, through a temporary file so
    a reader never sees half a file (removed when the write fails)."""
    layers, filters = layer_fingerprint(index)
    full = {"format": FORMAT, "version": VERSION, "layers": layers, "filters": filters, "weights": str(weights),
            **{k: int(state[k]) for k in _INTS}, **{k: state[k].detach().cpu() for k in _TENSORS}}
    full["checksum"] = checksum(full)
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        torch.save(full, tmp)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


@checked()
def read(path, index: pd.DataFrame, weights: str | None = None) -> dict:
    """The statistics saved in ``path`` for the model whose filter index is ``index`` (and, when given, whose
    weights have the fingerprint ``weights``), validated; ``StatisticsFileError`` (naming the file) otherwise."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as error:                        # truncated, garbage or not a torch file at all
        raise StatisticsFileError(path, f"not a readable statistics file ({type(error).__name__}: {error})") from None
    _check_header(path, state)
    _check_model(path, state, index)
    if weights is not None and state["weights"] != weights:
        raise StatisticsFileError(path, f"fitted for other weights of this architecture: the file's weights "
                                        f"fingerprint is {state['weights'][:16] or '(none)'}..., this model's "
                                        f"{weights[:16]}...; fit the statistics on this model")
    if state["checksum"] != checksum(state):
        raise StatisticsFileError(path, "the contents do not match the file's checksum (changed or corrupted "
                                        "after saving)")
    _check_values(path, state, len(index))
    return state


def _check_header(path, state) -> None:
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise StatisticsFileError(path, f"not a saltools statistics file (expected format {FORMAT!r})")
    if state.get("version") != VERSION:
        raise StatisticsFileError(path, f"format version {state.get('version')!r}, this saltools reads version "
                                        f"{VERSION}: fit the statistics again")
    missing = [k for k in ("layers", "filters", "weights", "checksum", *_INTS, *_TENSORS) if k not in state]
    if missing:
        raise StatisticsFileError(path, f"missing entries {missing}")


def _check_model(path, state, index) -> None:
    layers, filters = layer_fingerprint(index)
    if state["layers"] != layers or state["filters"] != filters:
        saved = list(zip(state["layers"], state["filters"]))
        first = next((i for i, (a, b) in enumerate(zip(saved, zip(layers, filters))) if a != b),
                     min(len(saved), len(layers)))
        raise StatisticsFileError(path, f"saved for another model: {len(saved)} conv layers with "
                                        f"{sum(state['filters'])} filters, this model has {len(layers)} with "
                                        f"{sum(filters)}; they first differ at conv layer {first} (saved "
                                        f"{saved[first] if first < len(saved) else None}, model "
                                        f"{(layers[first], filters[first]) if first < len(layers) else None})")


def _check_values(path, state, n_filters: int) -> None:
    n, max_tail, sample_size = (int(state[k]) for k in _INTS)
    problems = []
    if n < 1 or max_tail < 0 or sample_size < 0:
        problems.append(f"counts n={n}, max_tail={max_tail}, sample_size={sample_size} (need n >= 1)")
    for key, rows in (("mean", None), ("m2", None), ("tail", min(max_tail + 1, n)), ("sample", min(sample_size, n))):
        tensor = state[key]
        expected = (n_filters,) if rows is None else (rows, n_filters)
        if tuple(tensor.shape) != expected:
            problems.append(f"{key} has shape {tuple(tensor.shape)}, expected {expected}")
        elif not bool(torch.isfinite(tensor).all()):
            problems.append(f"{key} has {int((~torch.isfinite(tensor)).sum())} non-finite values")
    if not problems and bool((state["m2"] < 0).any()):
        problems.append("negative sums of squared deviations (m2)")
    if len(state["fingerprints"]) != n:
        problems.append(f"{len(state['fingerprints'])} image fingerprints for n={n} images")
    if problems:
        raise StatisticsFileError(path, "inconsistent statistics: " + "; ".join(problems))
