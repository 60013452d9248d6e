"""GPD fits: saltools.evt.fit_gpd (all tails at once) against a loop of scipy.stats.genpareto.fit.

Run: python benchmarks/bench_gpd.py [filters] [excesses]. Synthetic tails with known shapes in
[-0.4, 0.8]; prints the time of both, the ratio, and how the fitted log-likelihoods compare.
"""
import statistics
import sys
import time

import numpy as np
import scipy.stats as ss

from saltools.evt import fit_gpd, gpd_loglik

from _timing import row


def main(filters: int = 1200, excesses: int = 400, scipy_filters: int = 200) -> list[dict]:
    rng = np.random.default_rng(0)
    shapes, scales = rng.uniform(-0.4, 0.8, filters), rng.uniform(0.01, 5.0, filters)
    y = np.stack([ss.genpareto.rvs(c, scale=s, size=excesses, random_state=rng) for c, s in zip(shapes, scales)])
    fit_gpd(y[:10])                                                            # warm-up
    ours, times = None, []
    for _ in range(5):
        start = time.perf_counter()
        ours = fit_gpd(y)
        times.append((time.perf_counter() - start) / filters)
    start = time.perf_counter()
    ref = [ss.genpareto.fit(row, floc=0) for row in y[:scipy_filters]]
    scipy_time = (time.perf_counter() - start) / scipy_filters
    ours_time = statistics.median(times)
    ll_ours = gpd_loglik(y[:scipy_filters], ours[0][:scipy_filters], ours[1][:scipy_filters])
    ll_scipy = gpd_loglik(y[:scipy_filters], [r[0] for r in ref], [r[2] for r in ref])
    shape_error_scipy = np.abs(np.array([r[0] for r in ref]) - shapes[:scipy_filters]).mean()
    lines = [f"{filters} tails x {excesses} excesses (scipy on the first {scipy_filters})",
             f"saltools.evt.fit_gpd  {1e3 * ours_time:8.3f} ms per tail",
             f"scipy genpareto.fit   {1e3 * scipy_time:8.3f} ms per tail",
             f"ratio scipy / saltools: {scipy_time / ours_time:.0f}x",
             f"log-likelihood per excess, saltools - scipy: min {np.min(ll_ours - ll_scipy):+.2e}, "
             f"median {np.median(ll_ours - ll_scipy):+.2e} (>= 0: ours at least as good)",
             f"mean |shape error| saltools {np.abs(ours[0] - shapes).mean():.3f}, scipy {shape_error_scipy:.3f}"]
    print("\n".join(lines))
    return [row(f"GPD fits of {filters:,} tails", f"{1e3 * ours_time:.2f} ms/tail",
                f"{1e3 * scipy_time:.1f} ms/tail with `scipy.stats.genpareto.fit` ({scipy_time / ours_time:.0f}x)",
                "bench_gpd.py")]

if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
