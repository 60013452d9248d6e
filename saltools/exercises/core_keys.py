"""The chapters' implement-the-core exercises (``cores``): for each, saltools' own computation as the reference,
random and edge cases, the common wrong implementations the cases must reject and other correct routes they must
accept. Each registers itself in ``cores.CORES`` under the id its check cell names."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import scipy.stats as ss
import torch
from scipy.integrate import trapezoid
from statsmodels.stats.multitest import multipletests
from torch import nn

from .. import depth, evt, metrics, perturb, rectgrad
from ..claims.core import Evidence, Rule
from ..claims.power import units_needed
from ..paramsal import zscore
from .cores import Case, Core, register_core


# ----------------------------------------------------------------------------- chapter 0: a claim's verdict
def _verdict(low, high, kind, threshold):
    return Rule(kind, threshold).verdict(Evidence((low + high) / 2, low, high, 1, "units"))


def _verdict_cases(rng) -> list[Case]:
    cases = [(f"{kind} {label}", dict(low=low, high=high, kind=kind, threshold=t))
             for kind, t in (("above", 0.5), ("below", 0.5), ("within", 0.1))
             for label, (low, high) in {"wholly above": (0.7, 0.9), "wholly below": (-0.9, -0.7),
                                        "straddling": (0.3, 0.7), "low at the threshold": (t, t + 0.2),
                                        "high at the threshold": (t - 0.2, t), "inside the band": (-0.05, 0.05),
                                        "an infinite bound": (-np.inf, 0.0), "a NaN bound": (np.nan, 0.9)}.items()]
    for i in range(30):
        low = float(rng.normal())
        cases.append((f"random interval {i}", dict(low=low, high=low + float(rng.exponential()),
                                                   kind=str(rng.choice(["above", "below", "within"])),
                                                   threshold=float(rng.uniform(0, 1)))))
    return cases


def _verdict_at_or_above(low, high, kind, threshold):
    if not (np.isfinite(low) and np.isfinite(high)):
        return "inconclusive"
    if kind == "above":
        return "holds" if low >= threshold else "does not hold" if high < threshold else "inconclusive"
    return _verdict(low, high, kind, threshold)


def _verdict_any_bound(low, high, kind, threshold):
    t = threshold
    if kind == "above":
        return "holds" if low > t else "does not hold" if high <= t else "inconclusive"
    if kind == "below":
        return "holds" if high < t else "does not hold" if low >= t else "inconclusive"
    return "holds" if -t < low and high < t else "does not hold" if high < -t or low > t else "inconclusive"


def _verdict_of_estimate(low, high, kind, threshold):
    if kind != "within" or not (np.isfinite(low) and np.isfinite(high)):
        return _verdict(low, high, kind, threshold)
    return "holds" if abs((low + high) / 2) < threshold else "does not hold"


register_core(Core(
    "ch00.implement-verdict", _verdict, _verdict_cases,
    "A verdict needs the whole interval on one side of the rule; anything else, including an interval that is "
    "not finite, leaves the claim inconclusive.",
    mistakes={"holds at the threshold (>= instead of >)": _verdict_at_or_above,
              "non-finite bounds not treated as inconclusive": _verdict_any_bound,
              "the estimate, not the interval, decides an equivalence": _verdict_of_estimate}))


# ----------------------------------------------------------------------------- chapter 1: the z-score
def _zscores(query, reference):
    """saltools' z-score from the reference's moments (unbiased std; a constant filter's std counts as 1)."""
    reference = torch.as_tensor(reference, dtype=torch.float64)
    moments = SimpleNamespace(n_=len(reference), mean_=reference.mean(0), std_=reference.std(0, unbiased=True))
    return zscore(moments, torch.as_tensor(query, dtype=torch.float64)[None])[0].double()


def _zscore_cases(rng) -> list[Case]:
    cases = []
    for i in range(20):
        n, f = int(rng.integers(3, 40)), int(rng.integers(1, 12))
        reference = rng.gamma(0.5, 2.0, size=(n, f))
        cases.append((f"random {n} x {f}", dict(query=rng.gamma(0.5, 4.0, size=f), reference=reference)))
    constant = rng.gamma(1.0, 1.0, size=(10, 4))
    constant[:, 2] = 0.7
    cases.append(("a filter constant over the reference", dict(query=np.array([1.0, 2.0, 0.7, 3.0]),
                                                               reference=constant)))
    cases.append(("two reference images", dict(query=np.array([1.0, 5.0]), reference=np.array([[0.0, 1.0],
                                                                                           [2.0, 3.0]]))))
    return cases


def _zscores_biased_std(query, reference):
    reference = np.asarray(reference, float)
    std = reference.std(0)
    return (np.asarray(query) - reference.mean(0)) / np.where(std <= 1e-14, 1.0, std)


def _zscores_wrong_axis(query, reference):
    reference = np.asarray(reference, float)
    return (np.asarray(query) - reference.mean()) / reference.std(ddof=1)


def _zscores_no_constant_guard(query, reference):
    reference = np.asarray(reference, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (np.asarray(query) - reference.mean(0)) / reference.std(0, ddof=1)


register_core(Core(
    "ch01.implement-zscore", _zscores, _zscore_cases,
    "Each filter is compared with its own reference distribution: its own mean and its own standard deviation.",
    mistakes={"the biased standard deviation (ddof=0)": _zscores_biased_std,
              "one mean and std over all filters": _zscores_wrong_axis,
              "a constant filter divides by zero": _zscores_no_constant_guard},
    routes={"scipy.stats.zscore's moments": lambda query, reference: (
        np.asarray(query) - np.mean(reference, 0)) / np.where(ss.tstd(reference, axis=0) <= 1e-14, 1.0,
                                                              ss.tstd(reference, axis=0))},
    rtol=1e-5, atol=1e-6))                 # saltools' scores are float32


# ----------------------------------------------------------------------------- chapter 2: Benjamini-Hochberg
def _bh(pvalues, alpha):
    return ss.false_discovery_control(np.asarray(pvalues, float)) < alpha


def _bh_cases(rng) -> list[Case]:
    cases = [("step-up rescues the smallest p-values", dict(pvalues=np.array([0.02, 0.021, 0.03, 0.04]), alpha=0.05)),
             ("nothing to reject", dict(pvalues=np.array([0.3, 0.9, 0.5]), alpha=0.05)),
             ("one p-value", dict(pvalues=np.array([0.01]), alpha=0.05)),
             ("ties", dict(pvalues=np.array([0.01, 0.01, 0.01, 0.2, 0.2]), alpha=0.05)),
             ("unsorted, mixed", dict(pvalues=np.array([0.2, 0.001, 0.04, 0.0005, 0.9, 0.012]), alpha=0.05))]
    for i in range(20):
        m = int(rng.integers(2, 200))
        p = rng.uniform(size=m)
        p[: m // 4] = rng.uniform(0, 0.01, size=m // 4)
        cases.append((f"random m = {m}", dict(pvalues=rng.permutation(p), alpha=float(rng.choice([0.01, 0.05, 0.1])))))
    return cases


def _bh_step_down(pvalues, alpha):
    p = np.asarray(pvalues, float)
    order = np.argsort(p)
    passed = p[order] <= alpha * np.arange(1, len(p) + 1) / len(p)
    keep = np.cumprod(passed).astype(bool)
    out = np.zeros(len(p), bool)
    out[order[keep]] = True
    return out


register_core(Core(
    "ch02.implement-bh", _bh, _bh_cases,
    "Benjamini-Hochberg is a step-up rule: the largest i with p_(i) <= i alpha / m decides, and every smaller "
    "p-value is rejected with it.",
    mistakes={"no correction (p < alpha)": lambda pvalues, alpha: np.asarray(pvalues) < alpha,
              "Bonferroni (p < alpha / m)": lambda pvalues, alpha: np.asarray(pvalues) < alpha / len(pvalues),
              "step-down (stops at the first failure)": _bh_step_down},
    routes={"statsmodels": lambda pvalues, alpha: multipletests(pvalues, alpha=alpha, method="fdr_bh")[0]}))


# ----------------------------------------------------------------------------- chapter 3: the GPD tail
def _gpd_cases(rng) -> list[Case]:
    cases = [("shape 0 (exponential)", dict(excess=np.array([0.0, 0.5, 3.0]), shape=0.0, scale=1.5)),
             ("beyond a negative shape's endpoint", dict(excess=np.array([0.5, 1.9, 2.0, 5.0]), shape=-0.5, scale=1.0)),
             ("a tiny shape", dict(excess=np.array([1.0, 10.0]), shape=1e-13, scale=2.0)),
             ("a heavy tail", dict(excess=np.array([0.1, 100.0, 1e6]), shape=1.5, scale=0.3)),
             ("zero excess", dict(excess=np.array([0.0]), shape=0.3, scale=1.0))]
    for i in range(20):
        shape = float(rng.uniform(-0.8, 1.0))
        cases.append((f"random shape {shape:.2f}", dict(excess=rng.exponential(2.0, size=8), shape=shape,
                                                        scale=float(rng.uniform(0.2, 3.0)))))
    return cases


def _gpd_nan_beyond(excess, shape, scale):
    with np.errstate(all="ignore"):
        if shape == 0:
            return -np.asarray(excess) / scale
        return -np.log(1 + shape * np.asarray(excess) / scale) / shape


def _gpd_no_exponential_limit(excess, shape, scale):
    with np.errstate(all="ignore"):
        inside = 1 + shape * np.asarray(excess) / scale
        return np.where(inside <= 0, -np.inf, -np.log(inside) / shape)


register_core(Core(
    "ch03.implement-gpd-tail", lambda excess, shape, scale: evt.gpd_log_sf(excess, shape, scale), _gpd_cases,
    "log P(Y > y) = -log(1 + xi y / sigma) / xi, its limit -y / sigma at xi = 0, and -inf (probability 0) "
    "beyond a negative shape's endpoint: there a value is more extreme than anything the tail allows.",
    mistakes={"NaN beyond the endpoint (the published code's defect)": _gpd_nan_beyond,
              "no limit at shape 0": _gpd_no_exponential_limit},
    routes={"scipy.stats.genpareto": lambda excess, shape, scale: ss.genpareto.logsf(excess, shape, scale=scale)},
    rtol=1e-6, atol=1e-9))


# ----------------------------------------------------------------------------- chapter 4: the last stage's share
def _last_share(scores, stages, k):
    counts = depth.top_k_counts(torch.as_tensor(scores), stages, k)
    return float(counts.get(stages[-1], 0) / counts.sum())


def _share_cases(rng) -> list[Case]:
    cases = []
    for i in range(20):
        n, f = int(rng.integers(1, 12)), int(rng.integers(6, 60))
        stages = sorted(rng.choice(["conv1", "layer1", "layer2", "layer3"], size=f).tolist())
        cases.append((f"random {n} x {f}", dict(scores=rng.normal(0, 3, size=(n, f)), stages=stages,
                                                k=int(rng.integers(1, f)))))
    cases.append(("k as large as the filters", dict(scores=rng.normal(size=(3, 8)), stages=["a"] * 5 + ["b"] * 3,
                                                    k=8)))
    cases.append(("large negative scores", dict(scores=np.array([[-9.0, 0.1, 0.2, -8.0]]), stages=["a", "a", "b", "b"],
                                                k=2)))
    return cases


def _share_of_all(scores, stages, k):
    return float(np.mean(np.asarray(stages) == stages[-1]))


def _share_by_magnitude(scores, stages, k):
    top = np.argsort(-np.abs(np.asarray(scores)), axis=1, kind="stable")[:, :k]
    return float(np.mean(np.asarray(stages)[top] == stages[-1]))


def _share_lowest(scores, stages, k):
    top = np.argsort(np.asarray(scores), axis=1, kind="stable")[:, :k]
    return float(np.mean(np.asarray(stages)[top] == stages[-1]))


register_core(Core(
    "ch04.implement-stage-share", _last_share, _share_cases,
    "The depth bias is a share among each query's top-k filters, to compare with the stage's share of all filters.",
    mistakes={"the stage's share of all filters": _share_of_all, "ranked by |score|": _share_by_magnitude,
              "the k lowest scores": _share_lowest},
    routes={"torch.topk": lambda scores, stages, k: float(np.mean(
        np.asarray(stages)[torch.topk(torch.as_tensor(scores), k, dim=1).indices.numpy()] == stages[-1]))}))


# ----------------------------------------------------------------------------- chapter 5: the RectGrad gate
def _gate_cases(rng) -> list[Case]:
    cases = []
    for i in range(15):
        shape = (int(rng.integers(1, 4)), int(rng.integers(1, 4)), int(rng.integers(2, 7)), int(rng.integers(2, 7)))
        activation = np.maximum(rng.normal(size=shape), 0)
        cases.append((f"random {shape}", dict(activation=torch.as_tensor(activation),
                                              relevance=torch.as_tensor(rng.normal(size=shape)),
                                              percentile=float(rng.choice([0.0, 50.0, 90.0, 98.0])))))
    few = torch.tensor([[0.0, 1.0, 2.0, 3.0], [1.0, 1.0, 1.0, 1.0]])
    cases.append(("percentiles per sample", dict(activation=few, relevance=torch.tensor([[1.0, 2.0, -1.0, 4.0],
                                                                                         [0.5, 0.1, 0.3, 0.2]]),
                                                 percentile=50.0)))
    return cases


def _gate_over_batch(activation, relevance, percentile):
    importance = activation * relevance
    tau = torch.quantile(importance.flatten().double(), percentile / 100).to(importance.dtype)
    return torch.where(importance > tau, relevance, torch.zeros_like(relevance))


def _gate_on_relevance(activation, relevance, percentile):
    flat = relevance.reshape(len(relevance), -1).double()
    tau = torch.quantile(flat, percentile / 100, dim=1).view(-1, *([1] * (relevance.ndim - 1))).to(relevance.dtype)
    return torch.where(relevance > tau, relevance, torch.zeros_like(relevance))


def _gate_by_numpy(activation, relevance, percentile):
    importance = (activation * relevance).numpy()
    tau = np.percentile(importance.reshape(len(importance), -1), percentile, axis=1)
    keep = importance > tau.reshape(-1, *([1] * (importance.ndim - 1)))
    return torch.as_tensor(np.where(keep, relevance.numpy(), 0.0))


register_core(Core(
    "ch05.implement-rectgrad-gate", lambda activation, relevance, percentile: rectgrad.rectify(
        activation, relevance, percentile=percentile), _gate_cases,
    "RectGrad passes relevance only where the importance a * R is in the top (100 - q)% of that sample's units.",
    mistakes={"one threshold over the whole batch": _gate_over_batch,
              "the threshold on R, not on a * R": _gate_on_relevance},
    routes={"numpy percentiles": _gate_by_numpy}))


# ----------------------------------------------------------------------------- chapter 6: occlusion
class _Tiny(nn.Module):
    """A small random CNN with logits, for occlusion cases."""

    def __init__(self, seed: int, classes: int = 3):
        super().__init__()
        with torch.random.fork_rng():              # seeded weights; the caller's random state is left alone
            torch.manual_seed(seed)
            self.conv, self.head = nn.Conv2d(3, 4, 3, padding=1), nn.Linear(4, classes)

    def forward(self, x):
        return self.head(torch.relu(self.conv(x)).mean((2, 3)))


def _occlusion(model, image, label, baseline, window, stride):
    fill = {"black": "black", "grey": "dataset_mean"}[baseline]
    return perturb.occlusion(model, image[None], torch.tensor([label]), baseline=fill, window=window, stride=stride,
                             dataset_mean=(0.5, 0.5, 0.5))[0].double()


def _occlusion_cases(rng) -> list[Case]:
    cases = []
    for i, (size, window, stride) in enumerate([(8, 4, 2), (8, 4, 4), (10, 4, 4), (9, 4, 3), (6, 6, 6), (12, 3, 1)]):
        generator = torch.Generator().manual_seed(int(rng.integers(1 << 30)))
        cases.append((f"{size}x{size} image, window {window}, stride {stride}",
                      dict(model=_Tiny(i).eval(), image=torch.rand(3, size, size, generator=generator),
                           label=int(rng.integers(3)), baseline=str(rng.choice(["black", "grey"])), window=window,
                           stride=stride)))
    return cases


def _occlusion_windows(model, image, label, baseline, window, stride, clip_last=True, average=True, sign=1.0):
    """Occlusion by hand: every window position (with Captum's last, clipped window), the target logit's drop."""
    h, w = image.shape[-2:]
    fill = torch.zeros_like(image) if baseline == "black" else torch.full_like(image, 0.5)
    last = lambda n: (int(np.ceil((n - window) / stride)) * stride + 1) if clip_last else n - window + 1
    starts = [(i, j) for i in range(0, min(h, last(h)), stride) for j in range(0, min(w, last(w)), stride)]
    with torch.no_grad():
        base = model(image[None])[0, label]
        total, count = torch.zeros(h, w, dtype=torch.float64), torch.zeros(h, w, dtype=torch.float64)
        for i, j in starts:
            occluded = image.clone()
            occluded[:, i:i + window, j:j + window] = fill[:, i:i + window, j:j + window]
            total[i:i + window, j:j + window] += sign * float(base - model(occluded[None])[0, label])
            count[i:i + window, j:j + window] += 1
    return total / count.clamp(min=1) if average else total


register_core(Core(
    "ch06.implement-occlusion", _occlusion, _occlusion_cases,
    "Occlusion credits each pixel with the target logit's average drop over the windows that cover it, the "
    "windows placed as Captum places them (one more window on the stride grid, clipped at the edge).",
    mistakes={"no window clipped at the edge (pixels left uncovered)": lambda **a: _occlusion_windows(
        **a, clip_last=False), "summed over the windows, not averaged": lambda **a: _occlusion_windows(
        **a, average=False), "the rise, not the drop, of the logit": lambda **a: _occlusion_windows(**a, sign=-1.0)},
    routes={"a loop over windows": _occlusion_windows}, rtol=1e-4, atol=1e-5))


# ----------------------------------------------------------------------------- chapter 7: SRG
def _srg_cases(rng) -> list[Case]:
    cases = [("constant curves", dict(morf=np.ones((2, 5)), lerf=np.ones((2, 5)))),
             ("two steps", dict(morf=np.array([[1.0, 0.0]]), lerf=np.array([[1.0, 0.8]])))]
    for i in range(15):
        n, t = int(rng.integers(1, 6)), int(rng.integers(3, 30))
        morf = np.sort(rng.uniform(size=(n, t)), axis=1)[:, ::-1]
        cases.append((f"random {n} x {t}", dict(morf=morf.copy(), lerf=np.clip(morf + rng.uniform(0, 0.5, (n, t)),
                                                                                0, 1))))
    return cases


register_core(Core(
    "ch07.implement-srg", lambda morf, lerf: metrics.symmetric_relevance_gain(torch.as_tensor(morf),
                                                                              torch.as_tensor(lerf)), _srg_cases,
    "SRG is the area under the LeRF curve minus the area under the MoRF curve, both with x running from 0 to 1.",
    mistakes={"MoRF minus LeRF": lambda morf, lerf: trapezoid(morf - lerf, dx=1 / (morf.shape[1] - 1), axis=1),
              "the mean of the curve, not its area": lambda morf, lerf: lerf.mean(1) - morf.mean(1),
              "x counted in steps, not from 0 to 1": lambda morf, lerf: trapezoid(lerf - morf, axis=1)},
    routes={"scipy's trapezoid on the grid": lambda morf, lerf: trapezoid(lerf - morf, np.linspace(0, 1, morf.shape[1]),
                                                                          axis=1)}))


# ----------------------------------------------------------------------------- chapter 8: the power plan
def _power_cases(rng) -> list[Case]:
    cases = [("a wide pilot", dict(half_width=0.3, n=20, delta=0.05)),
             ("a pilot already large enough", dict(half_width=0.01, n=1000, delta=0.1))]
    for i in range(20):
        cases.append((f"random pilot {i}", dict(half_width=float(rng.uniform(0.01, 0.5)), n=int(rng.integers(5, 2000)),
                                                delta=float(rng.choice([0.05, 0.1, 0.25, 0.5])))))
    return cases


def _units_without_power(half_width, n, delta):
    z = ss.norm.ppf(0.975)
    spread = half_width * np.sqrt(n) / z
    return float(np.ceil((z * spread / delta) ** 2))


register_core(Core(
    "ch08.implement-power", lambda half_width, n, delta: float(units_needed(half_width, n, delta, False)),
    _power_cases,
    "n = ((z(0.975) + z(0.8)) sd / delta)^2, rounded up, with the spread per unit sd = half-width sqrt(n) / z(0.975).",
    mistakes={"no power term (only z(0.975))": _units_without_power,
              "the half-width taken as the spread per unit": lambda half_width, n, delta: float(np.ceil(
                  ((ss.norm.ppf(0.975) + ss.norm.ppf(0.8)) * half_width / delta) ** 2)),
              "not rounded up": lambda half_width, n, delta: float(
                  ((ss.norm.ppf(0.975) + ss.norm.ppf(0.8)) * half_width * np.sqrt(n) / ss.norm.ppf(0.975) / delta) ** 2)}))
