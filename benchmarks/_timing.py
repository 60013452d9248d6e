"""Shared by the benchmark scripts: the median wall time of a call."""
import statistics
import time


def row(what: str, saltools: str, naive: str, script: str) -> dict:
    """One row of the README's speed table (benchmarks/run_all.py collects them from every script's main)."""
    return {"what": what, "saltools": saltools, "naive": naive, "script": script}


def timed(fn, repeats: int = 3) -> float:
    """Median seconds of ``repeats`` calls of ``fn()``."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
