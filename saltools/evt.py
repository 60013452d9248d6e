"""Extreme value tools: normality tests for many filters, vectorized GPD fits, log tail probabilities.

``fit_gpd`` is written by hand: scipy fits one sample at a time (Nelder-Mead, ~25 ms each) and the
published POT code's Grimshaw solver misses heavy tails. Here one profile-likelihood maximization runs
for all filters at once (Grimshaw's reduction to the single parameter theta = xi / sigma; a grid over
theta, then safeguarded Newton steps).
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import scipy.stats as ss
from statsmodels.stats.diagnostic import lilliefors

from . import checks
from .parameters import checked

MIN_EXCESSES = 10


# ----------------------------------------------------------------------------- normality
@checked()
def normality_tests(samples, index: pd.DataFrame | None = None, alpha: float = 0.05) -> pd.DataFrame:
    """Normality tests of every column of ``samples`` [n, F]: one row per filter.

    Columns: ``mean``, ``std``, ``skewness``, ``excess_kurtosis``; p-values of Shapiro-Wilk,
    D'Agostino-Pearson K^2, Anderson-Darling and Lilliefors (KS with estimated mean and std, done
    right); for each, ``reject_<test>``: rejected at ``alpha`` after Benjamini-Hochberg correction
    across filters. Constant columns (e.g. filters whose gradient is always zero) get NaN and
    ``constant=True``; they are left out of the correction.
    """
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 20:
        raise ValueError(f"samples must be [n >= 20, filters]; got shape {x.shape}")
    alpha = checks.fraction(alpha, "alpha")
    if index is not None and len(index) != x.shape[1]:
        raise ValueError(f"index must have one row per filter (column of samples): {x.shape[1]}; got {len(index)}")
    constant = x.std(axis=0) <= 1e-12 * np.maximum(np.abs(x).max(axis=0), 1e-300)
    table = pd.DataFrame({"mean": x.mean(0), "std": x.std(0, ddof=1), "constant": constant})
    live = x[:, ~constant]
    pvalues = {
        "shapiro": ss.shapiro(live, axis=0).pvalue,
        "dagostino": ss.normaltest(live, axis=0).pvalue,
        "anderson": _anderson_darling_pvalue(live),
        "lilliefors": np.array([lilliefors(col, dist="norm", pvalmethod="table")[1] for col in live.T]),
    }
    table["skewness"] = np.nan
    table["excess_kurtosis"] = np.nan
    table.loc[~constant, "skewness"] = ss.skew(live, axis=0)
    table.loc[~constant, "excess_kurtosis"] = ss.kurtosis(live, axis=0)
    for name, p in pvalues.items():
        p = np.clip(np.asarray(p, dtype=float), 0.0, 1.0)      # approximate p-values can stray past 1
        table[f"p_{name}"] = np.nan
        table.loc[~constant, f"p_{name}"] = p
        table[f"reject_{name}"] = False
        if len(p):
            table.loc[~constant, f"reject_{name}"] = ss.false_discovery_control(p) < alpha
    if index is not None:
        table = pd.concat([index.reset_index(drop=True), table], axis=1)
    return table


def _anderson_darling_pvalue(x: np.ndarray) -> np.ndarray:
    """Anderson-Darling normality test with estimated mean and variance, per column, as p-values.

    By hand because statsmodels' ``normal_ad`` overflows to inf/NaN on the far tails these statistics
    have; here the statistic uses log-CDF / log-SF, and the p-value D'Agostino & Stephens' (1986)
    approximation for the modified statistic A*^2 = A^2 (1 + 0.75/n + 2.25/n^2).
    """
    n = x.shape[0]
    z = np.sort((x - x.mean(0)) / x.std(0, ddof=1), axis=0)
    i = np.arange(1, n + 1)[:, None]
    a2 = -n - ((2 * i - 1) * (ss.norm.logcdf(z) + ss.norm.logsf(z[::-1]))).sum(0) / n
    a = np.minimum(a2 * (1 + 0.75 / n + 2.25 / n**2), 150.0)   # the fit turns upward past ~153
    return np.select(
        [a >= 0.6, a >= 0.34, a >= 0.2],
        [np.exp(1.2937 - 5.709 * a + 0.0186 * a**2), np.exp(0.9177 - 4.279 * a - 1.38 * a**2),
         1 - np.exp(-8.318 + 42.796 * a - 59.938 * a**2)],
        1 - np.exp(-13.436 + 101.14 * a - 223.73 * a**2))


# ----------------------------------------------------------------------------- GPD fitting
def _as_padded(excesses, counts) -> tuple[np.ndarray, np.ndarray]:
    y = np.atleast_2d(np.asarray(excesses, dtype=np.float64))
    if y.ndim != 2 or y.shape[1] == 0:
        raise ValueError(f"excesses must be a non-empty [F, n] array (one row of excesses per tail); got shape "
                         f"{np.shape(excesses)}")
    if counts is None:
        counts = np.full(len(y), y.shape[1])
    counts = np.asarray(counts, dtype=np.int64)
    if counts.shape != (len(y),) or (counts < 0).any() or (counts > y.shape[1]).any():
        raise ValueError(f"counts must give, for each of the {len(y)} rows, how many of its "
                         f"{y.shape[1]} entries are excesses; got {counts!r}")
    valid = np.arange(y.shape[1])[None, :] < counts[:, None]
    if (y[valid] < 0).any() or not np.isfinite(y[valid]).all():
        raise ValueError("excesses must be finite and >= 0")
    return np.where(valid, y, 0.0), valid


def _profile(theta, y, valid, n):
    """Profile log-likelihood (per excess) and xi for theta [F, G] against excesses [F, n]."""
    xi = np.log1p(theta[..., None] * y[:, None, :]).sum(-1) / n[:, None]   # padding is 0: adds 0
    with np.errstate(divide="ignore", invalid="ignore"):
        sigma = np.where(np.abs(theta) > 0, xi / theta, np.nan)
        loglik = -(np.log(sigma) + xi + 1)
    bad = ~np.isfinite(loglik) | (sigma <= 0) | (xi < -1)
    return np.where(bad, -np.inf, loglik), xi


def _exponential_loglik(mean):
    with np.errstate(divide="ignore"):
        return -(np.log(mean) + 1)


@checked()
def fit_gpd(excesses, counts=None, grid: int = 24, newton_steps: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """Maximum-likelihood GPD fits (location 0), one per row: returns arrays ``(shape, scale)``.

    Parameters
    ----------
    excesses : [F, n] excesses over a threshold (>= 0), dense, or padded when ``counts`` is given.
    counts : [F] number of valid excesses per row (padded input); default all n.

    Rows with fewer than ``MIN_EXCESSES`` excesses (or all equal) get the exponential fit
    (shape 0, scale = mean excess) and a warning. Shapes are kept >= -1 (the likelihood is unbounded
    below that).
    """
    y, valid = _as_padded(excesses, counts)
    n = valid.sum(1)
    rows = len(y)
    mean = np.where(n > 0, y.sum(1) / np.maximum(n, 1), 0.0)
    ymax = y.max(1, initial=0.0)
    shape, scale = np.zeros(rows), mean.copy()
    fittable = gpd_fittable(y, valid)
    if (~fittable).any():
        warnings.warn(f"{int((~fittable).sum())} of {rows} tails have fewer than {MIN_EXCESSES} distinct "
                      "excesses; they get an exponential fit (shape 0)", RuntimeWarning, stacklevel=2)
    chunk = max(1, 4_000_000 // max(y.shape[1] * grid, 1))        # rows per [rows, grid, n] block
    for lo in range(0, rows, chunk):
        sel = np.flatnonzero(fittable[lo:lo + chunk]) + lo
        if len(sel):
            shape[sel], scale[sel] = _fit_rows(y[sel], valid[sel], n[sel], ymax[sel], mean[sel], grid, newton_steps)
    return shape, scale


def gpd_fittable(excesses, valid=None) -> np.ndarray:
    """Which rows of excesses [F, n] (``valid`` marks padded entries) a GPD fit can use: at least
    ``MIN_EXCESSES`` excesses, not all equal (relative spread above 1e-9; equal values have no MLE)."""
    y = np.asarray(excesses, dtype=np.float64)
    valid = np.ones(y.shape, bool) if valid is None else valid
    high, low = np.where(valid, y, -np.inf).max(1), np.where(valid, y, np.inf).min(1)
    return (valid.sum(1) >= MIN_EXCESSES) & (high > 0) & (high - low > 1e-9 * high)


def _fit_rows(y, valid, n, ymax, mean, grid, newton_steps):
    # theta = (exp(u) - 1) / ymax spans (-1/ymax, huge) as u goes over [-25, 20]: a coarse grid first
    u = np.linspace(-25.0, 20.0, grid + 1)[None, :].repeat(len(y), 0)
    theta_grid = np.expm1(u) / ymax[:, None]
    loglik, _ = _profile(theta_grid, y, valid, n)
    best = loglik.argmax(1)
    rows = np.arange(len(y))
    lo = theta_grid[rows, np.maximum(best - 1, 0)]
    hi = theta_grid[rows, np.minimum(best + 1, grid)]
    theta = theta_grid[rows, best]
    active = np.ones(len(y), bool)
    for _ in range(newton_steps):
        idx = np.flatnonzero(active)
        if not len(idx):
            break
        th, yy, vv, nn = theta[idx], y[idx], valid[idx], n[idx]
        d1, d2 = _profile_derivatives(th, yy, vv, nn)
        with np.errstate(divide="ignore", invalid="ignore"):
            proposal = th - d1 / d2
        ok = (d2 < 0) & np.isfinite(proposal) & (proposal > lo[idx]) & (proposal < hi[idx])
        towards = np.where(d1 > 0, hi[idx], lo[idx])
        proposal = np.where(ok, proposal, (th + towards) / 2)
        lo[idx] = np.where(d1 > 0, th, lo[idx])
        hi[idx] = np.where(d1 > 0, hi[idx], th)
        theta[idx] = proposal
        done = np.abs(proposal - th) <= 1e-10 * np.maximum(np.abs(th), 1e-12) + 1e-14 / ymax[idx]
        active[idx[done]] = False
    final, xi = _profile(theta[:, None], y, valid, n)
    final, xi = final[:, 0], xi[:, 0]
    grid_best = loglik[rows, best]
    keep_grid = ~(final >= grid_best)
    theta = np.where(keep_grid, theta_grid[rows, best], theta)
    xi = np.where(keep_grid, _profile(theta[:, None], y, valid, n)[1][:, 0], xi)
    final = np.maximum(final, grid_best)
    with np.errstate(divide="ignore", invalid="ignore"):
        sigma = xi / theta
    # the exponential (theta -> 0) is a limit the search cannot reach exactly: keep it when it is better
    use_exp = ~(final > _exponential_loglik(mean)) | ~np.isfinite(sigma) | (sigma <= 0)
    return np.where(use_exp, 0.0, xi), np.where(use_exp, mean, sigma)


def _profile_derivatives(theta, y, valid, n):
    """First and second derivative in theta of the per-excess profile log-likelihood
    l(theta) = -log(xi / theta) - xi - 1, with xi = mean log(1 + theta y)."""
    ty = theta[:, None] * y                # padded entries are 0 and contribute 0 below
    w = y / (1 + ty)
    xi = np.log1p(ty).sum(1) / n
    a = w.sum(1) / n                      # d xi / d theta
    b = (w * w).sum(1) / n                # - d2 xi / d theta2
    with np.errstate(divide="ignore", invalid="ignore"):
        d1 = -a / xi + 1 / theta - a
        d2 = (b * xi + a * a) / xi**2 - 1 / theta**2 + b
    return d1, d2


def gpd_loglik(excesses, shape, scale, counts=None) -> np.ndarray:
    """Mean log-likelihood per excess of each row under GPD(shape, scale), location 0: [F]."""
    y, valid = _as_padded(excesses, counts)
    shape, scale = checks.gpd_parameters(shape, scale)
    if shape.shape != (len(y),) or scale.shape != (len(y),):
        raise ValueError(f"shape and scale must have one value per row of excesses ({len(y)}); got "
                         f"{shape.shape} and {scale.shape}")
    shape, scale = shape[:, None], scale[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        z = y / scale
        exp_part = -np.log(scale) - z
        gpd_part = -np.log(scale) - (1 + 1 / shape) * np.log1p(shape * z)
        dens = np.where(np.abs(shape) < 1e-12, exp_part, gpd_part)
        dens = np.where((shape < 0) & (1 + shape * z <= 0), -np.inf, dens)
    return np.where(valid, dens, 0.0).sum(1) / valid.sum(1)


def gpd_log_sf(excess, shape, scale) -> np.ndarray:
    """log P(Y > excess) under GPD(shape, scale), location 0, computed in log space (broadcasts).

    Beyond the endpoint of a negative shape (``excess >= -scale / shape``) it is ``-inf``
    (probability 0: such a value is more extreme than anything the fitted tail allows). A shape that is not
    finite, a scale <= 0, a NaN excess or shapes that do not broadcast raise ``ValueError``: the result is
    always a log-probability, <= 0.
    """
    shape, scale = checks.gpd_parameters(shape, scale)
    excess = np.asarray(excess, dtype=np.float64)
    if np.isnan(excess).any():
        raise ValueError(f"excesses must not be NaN; got {int(np.isnan(excess).sum())} NaN of {excess.size}")
    try:
        y, xi, sigma = np.broadcast_arrays(excess, shape, scale)
    except ValueError as error:
        raise ValueError(f"excess {excess.shape}, shape {shape.shape} and scale {scale.shape} do not broadcast") from error
    z = np.maximum(y, 0.0) / sigma
    with np.errstate(divide="ignore", invalid="ignore"):
        inside = 1 + xi * z
        general = -np.log1p(xi * z) / xi
        out = np.where(np.abs(xi) < 1e-12, -z, general)
        out = np.where((xi < 0) & (inside <= 0), -np.inf, out)
    return out
