"""Kendall's tau-b for many short rankings: ``saltools.metrics.kendall_tau`` (all pairs at once) against
``scipy.stats.kendalltau`` one pair at a time and with ``axis=1``, as the split-half and bootstrap claims
of chapter 6 use it (rankings of 8 methods).

Run: python benchmarks/bench_kendall.py [pairs]. Prints the times, the ratios and the largest difference.
"""
import sys

import numpy as np
import scipy.stats as ss

from saltools.metrics import kendall_tau

from _timing import row, timed


def main(pairs: int = 2000, length: int = 8) -> list[dict]:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 4, size=(pairs, length)).astype(float)        # ties, as rankings of equal scores have
    y = rng.normal(size=(pairs, length))
    loop = timed(lambda: [ss.kendalltau(a, b).statistic for a, b in zip(x, y)], repeats=1)
    axis = timed(lambda: ss.kendalltau(x, y, axis=1))
    ours = timed(lambda: kendall_tau(x, y))
    reference = np.array([ss.kendalltau(a, b).statistic for a, b in zip(x, y)])
    difference = np.nanmax(np.abs(reference - kendall_tau(x, y)))
    print(f"{pairs} pairs of rankings of {length}: saltools {ours * 1e3:7.1f} ms, scipy one pair per call "
          f"{loop * 1e3:7.1f} ms ({loop / ours:.0f}x), scipy axis=1 {axis * 1e3:7.1f} ms ({axis / ours:.0f}x); "
          f"largest difference {difference:.1e}")
    return [row(f"Kendall's tau-b of {pairs:,} pairs of rankings of {length}", f"{ours * 1e3:.1f} ms",
                f"{loop * 1e3:.0f} ms with `scipy.stats.kendalltau` one pair per call ({loop / ours:.0f}x), "
                f"{axis * 1e3:.0f} ms with `axis=1` ({axis / ours:.0f}x)", "bench_kendall.py")]


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
