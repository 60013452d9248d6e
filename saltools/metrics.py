"""Metrics on saliency maps: localization against masks (relevance mass and rank, pointing game, top-k
intersection, ROC-AUC), map agreement, causal metrics (deletion / insertion curves, AOPC, ROAD, SRG,
faithfulness correlation) and the agreement of metric variants on a ranking of methods."""
from __future__ import annotations

import itertools
import warnings

import krippendorff
import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from scipy import stats
from skimage.metrics import structural_similarity

from . import checks
from ._torch import in_layout, memory_layout_fallback, preserved_state
from .baselines import BASELINES, fills_for, prepared_targets, road_imputation, target_scores


def _check_maps(maps: torch.Tensor, masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    maps, masks = torch.as_tensor(maps), torch.as_tensor(masks)
    if maps.ndim == 2:
        maps, masks = maps[None], masks[None]
    maps = checks.maps(maps)
    return maps, checks.masks(masks, shape=maps.shape)


def relevance_mass(maps: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Share of the total |relevance| that falls inside the mask, per map (Arras et al. 2022): [N]; 0 for a
    map without any relevance."""
    maps, masks = _check_maps(maps, masks)
    total = maps.abs().sum(dim=(1, 2))
    inside = (maps.abs() * masks).sum(dim=(1, 2))
    return torch.where(total > 0, inside / torch.where(total > 0, total, 1.0), 0.0)


def _ranks_from_top(maps: torch.Tensor, absolute: bool) -> torch.Tensor:
    """Each pixel's place [N, H*W] when the map's pixels are sorted by relevance, highest first (stable)."""
    flat = maps.abs().flatten(1) if absolute else maps.flatten(1)
    order = flat.argsort(dim=1, descending=True, stable=True)
    return torch.empty_like(order).scatter_(1, order, torch.arange(flat.shape[1]).expand_as(order).contiguous())


def relevance_rank(maps: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Share of the top-|mask| pixels by |relevance| that lie inside the mask, per map: [N]."""
    maps, masks = _check_maps(maps, masks)
    inside = masks.flatten(1)
    sizes = inside.sum(1)
    hits = (inside & (_ranks_from_top(maps, absolute=True) < sizes[:, None])).sum(1)
    return hits / sizes.clamp_min(1)


def pointing_game(maps: torch.Tensor, masks: torch.Tensor, tolerance: int = 0, absolute: bool = True) -> torch.Tensor:
    """Pointing game (Zhang et al. 2018): 1.0 where the map's highest pixel (by |relevance|, or by signed
    relevance with ``absolute=False``; the first in row-major order on ties) lies in the mask or within
    ``tolerance`` pixels of it (Euclidean; the original uses 15 at 224 px), else 0.0: [N]."""
    maps, masks = _check_maps(maps, masks)
    tolerance = checks.positive_int(tolerance + 1, "tolerance + 1") - 1
    if tolerance:
        offsets = torch.arange(-tolerance, tolerance + 1, dtype=torch.float32)
        disk = ((offsets[:, None] ** 2 + offsets[None] ** 2) <= tolerance ** 2).float()[None, None]
        masks = F.conv2d(masks[:, None].float(), disk, padding=tolerance)[:, 0] > 0
    top = _ranks_from_top(maps, absolute) == 0
    return (top & masks.flatten(1)).any(1).float()


def top_k_intersection(maps: torch.Tensor, masks: torch.Tensor, k: int | float) -> torch.Tensor:
    """Share of the map's ``k`` highest pixels by |relevance| (a count, or a share of the pixels when
    ``k`` < 1) that lie in the mask: [N]. ``relevance_rank`` is the case k = the mask's size."""
    maps, masks = _check_maps(maps, masks)
    pixels = maps[0].numel()
    count = round(k * pixels) if isinstance(k, float) and 0 < k < 1 else k
    count = checks.positive_int(count, "k")
    if count > pixels:
        raise ValueError(f"k must be at most the number of pixels ({pixels}); got {k}")
    return ((_ranks_from_top(maps, True) < count) & masks.flatten(1)).sum(1) / count


def mask_roc_auc(maps: torch.Tensor, masks: torch.Tensor, absolute: bool = True) -> torch.Tensor:
    """ROC-AUC of the map (|relevance|, or signed with ``absolute=False``) as a score that separates mask
    pixels from the rest: the probability that a random mask pixel outranks a random other pixel, ties
    counting half (Mann-Whitney U / (n_in n_out), from average ranks): [N]; NaN where the mask is empty
    or covers the whole image."""
    maps, masks = _check_maps(maps, masks)
    values = (maps.abs() if absolute else maps).flatten(1).double().numpy()
    inside = masks.flatten(1).numpy()
    ranks = stats.rankdata(values, axis=1)
    n_in = inside.sum(1).astype(float)
    n_out = inside.shape[1] - n_in
    u = (ranks * inside).sum(1) - n_in * (n_in + 1) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return torch.from_numpy(np.where(n_in * n_out > 0, u / (n_in * n_out), np.nan))


def _pearson_rows(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    a, b = a - a.mean(1, keepdim=True), b - b.mean(1, keepdim=True)
    denominator = (a.norm(dim=1) * b.norm(dim=1)).clamp_min(torch.finfo(a.dtype).tiny)
    return (a * b).sum(1) / denominator


def luminance(images: torch.Tensor) -> torch.Tensor:
    """Rec. 601 luminance [N, H, W] of RGB images [N, 3, H, W] in [0, 1]."""
    weights = torch.tensor([0.299, 0.587, 0.114], dtype=images.dtype, device=images.device)
    return torch.einsum("nchw,c->nhw", images, weights)


def luminance_correlation(maps: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """Pearson correlation, per image, of |relevance| with pixel luminance: [N]. Near 0 means the map
    does not care how bright a pixel is; strongly positive means bright pixels get the relevance."""
    images = checks.images(images)
    if images.shape[1] != 3:
        raise ValueError(f"images must be RGB [N, 3, H, W]; got {tuple(images.shape)}")
    maps = checks.maps(maps, shape=(len(images), *images.shape[2:]))
    return _pearson_rows(maps.abs().flatten(1), luminance(images.float()).flatten(1))


def map_agreement(first: torch.Tensor, second: torch.Tensor, top: float = 0.1) -> pd.DataFrame:
    """How alike two sets of maps [N, H, W] are, one row per image: Spearman correlation of |map| and of
    the signed map, Kendall's tau of |map|, the share of the top ``top`` fraction of pixels (by |map|)
    that both maps pick, and SSIM of the |maps| each scaled to [0, 1] (scikit-image)."""
    first = checks.maps(first, "first")
    second = checks.maps(second, "second", shape=first.shape)
    if not 0 < top <= 1:
        raise ValueError(f"top must be a fraction in (0, 1]; got {top!r}")
    a, b = first.flatten(1).numpy(), second.flatten(1).numpy()
    spearman_abs = _rank_correlation(np.abs(a), np.abs(b))
    spearman = _rank_correlation(a, b)
    k = max(1, int(round(top * a.shape[1])))
    top_a = np.argsort(-np.abs(a), axis=1, kind="stable")[:, :k]
    top_b = np.argsort(-np.abs(b), axis=1, kind="stable")[:, :k]
    overlap = [len(np.intersect1d(x, y)) / k for x, y in zip(top_a, top_b)]
    kendall = [stats.kendalltau(x, y).statistic for x, y in zip(np.abs(a), np.abs(b))]
    scaled_a = first.abs() / first.abs().flatten(1).amax(1).clamp_min(1e-30)[:, None, None]
    scaled_b = second.abs() / second.abs().flatten(1).amax(1).clamp_min(1e-30)[:, None, None]
    ssim = _ssim(scaled_a, scaled_b)
    return pd.DataFrame({"image": np.arange(len(a)), "spearman_abs": spearman_abs, "spearman": spearman,
                         "kendall_abs": kendall, "top_overlap": overlap, "ssim": ssim})


def _ssim(first: torch.Tensor, second: torch.Tensor) -> np.ndarray:
    """SSIM per map pair with scikit-image's 7 x 7 window, or the largest odd window that fits smaller
    maps (with a warning); NaN, with a warning, for maps under 3 x 3."""
    window = min(7, min(first.shape[1:]) - (1 - min(first.shape[1:]) % 2))
    if window < 7:
        warnings.warn(f"maps of {tuple(first.shape[1:])} pixels are smaller than SSIM's 7 x 7 window: "
                      + (f"using a {window} x {window} window" if window >= 3 else "SSIM is NaN"), RuntimeWarning,
                      stacklevel=3)
    if window < 3:
        return np.full(len(first), np.nan)
    return np.array([structural_similarity(x.numpy(), y.numpy(), data_range=1.0, win_size=window)
                     for x, y in zip(first, second)])


def _rank_correlation(a, b):
    """Spearman correlation of each row pair (average ranks for ties; NaN for a constant row)."""
    ra, rb = stats.rankdata(a, axis=1), stats.rankdata(b, axis=1)
    ra, rb = ra - ra.mean(1, keepdims=True), rb - rb.mean(1, keepdims=True)
    denominator = np.sqrt((ra ** 2).sum(1) * (rb ** 2).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, (ra * rb).sum(1) / denominator, np.nan)


# ----------------------------------------------------------------------------- causal metrics
def perturbation_curve(model, images: torch.Tensor, maps: torch.Tensor, target=None, *, mode: str = "deletion",
                       order: str = "morf", substrate: str = "black", steps: int = 32, output: str = "probability",
                       chunk: int = 64, seed: int = 0, dataset_mean=(0.5, 0.5, 0.5)) -> torch.Tensor:
    """Target scores [N, steps + 1] as pixels are deleted (replaced by the ``substrate`` baseline, see
    ``saltools.perturb.BASELINES``) or inserted (into the substrate), ``order`` "morf" (most relevant
    first) or "lerf" (least relevant first) by |map|; step t changes the first t/steps of the pixels.
    Each image's steps go through the model in batches of ``chunk``."""
    if mode not in ("deletion", "insertion") or order not in ("morf", "lerf"):
        raise ValueError(f"mode must be 'deletion' or 'insertion' and order 'morf' or 'lerf'; got {mode!r}, {order!r}")
    images = checks.images(images, model=model)
    maps = checks.maps(maps, shape=(len(images), *images.shape[2:]))
    steps, chunk = checks.positive_int(steps, "steps"), checks.positive_int(chunk, "chunk")
    if substrate not in BASELINES:
        raise ValueError(f"unknown substrate {substrate!r}; expected one of {sorted(BASELINES)}")
    pixels, steps_shape = maps[0].numel(), (steps + 1, 1, *maps.shape[1:])
    thresholds = torch.linspace(0, pixels, steps + 1).round()
    with preserved_state(model), torch.no_grad():
        model.eval()
        images, target = prepared_targets(model, images, target)
        rank = _ranks_from_top(maps.abs() if order == "morf" else -maps.abs(), absolute=False)
        changed = (rank[:, None] < thresholds[None, :, None]).view(len(images), *steps_shape).to(images)
        keep = 1 - changed if mode == "deletion" else changed
        group = max(1, chunk // (steps + 1))        # images per forward pass: about ``chunk`` perturbed images
        curves = [_curve_scores(model, images[lo:lo + group], keep[lo:lo + group], target[lo:lo + group], substrate,
                                seed + lo, dataset_mean, output) for lo in range(0, len(images), group)]
    return torch.cat(curves).cpu()


def _curve_scores(model, images, keep, target, substrate, seed, dataset_mean, output) -> torch.Tensor:
    """Scores [n, steps + 1] of a group of images under their keep-masks [n, steps + 1, 1, H, W]; each
    image's fill is drawn with its own seed (``seed`` + its position)."""
    fills = torch.stack([fills_for(substrate, image, k < 0.5, seed + i, dataset_mean).expand(len(k), *image.shape)
                         for i, (image, k) in enumerate(zip(images, keep))])
    batch = (images[:, None] * keep + fills * (1 - keep)).flatten(0, 1)
    targets = target.repeat_interleave(keep.shape[1])
    scores = memory_layout_fallback(model, lambda channels_last: target_scores(model, in_layout(batch, channels_last),
                                                                               targets, output))
    return scores.view(len(images), -1)


def _curves(curves) -> torch.Tensor:
    curves = torch.as_tensor(curves).double()
    if curves.ndim != 2 or curves.shape[1] < 2:
        raise ValueError(f"curves must have shape [N, T] with at least two steps; got {tuple(curves.shape)}")
    return checks.values(curves, "curves")          # a NaN would make the area NaN without a word


def auc(curves: torch.Tensor) -> torch.Tensor:
    """Area under each curve [N, T] with x running from 0 to 1 (trapezoid rule): [N]."""
    curves = _curves(curves)
    return torch.trapezoid(curves, dx=1.0 / (curves.shape[1] - 1), dim=1)


def aopc(curves: torch.Tensor, k: int | None = None) -> torch.Tensor:
    """Area over the MoRF perturbation curve (Samek et al. 2017): mean drop from the unperturbed score
    over the first ``k`` + 1 steps (default all): [N]."""
    curves = _curves(curves)
    k = curves.shape[1] - 1 if k is None else k
    if not 1 <= k < curves.shape[1]:
        raise ValueError(f"k must lie in [1, {curves.shape[1] - 1}] (steps after the unperturbed one); got {k}")
    return (curves[:, :1] - curves[:, :k + 1]).mean(1)


def symmetric_relevance_gain(morf: torch.Tensor, lerf: torch.Tensor) -> torch.Tensor:
    """SRG (Bluecher et al., TMLR 2024): AUC of the least-influential-first curve minus AUC of the
    most-influential-first curve (``auc``, x from 0 to 1), per image: [N]. Positive when removing the
    map's least relevant pixels hurts the model less than removing its most relevant ones; a shift of
    both curves by the same amount (a baseline that moves every score) cancels."""
    morf, lerf = torch.as_tensor(morf), torch.as_tensor(lerf)
    if morf.shape != lerf.shape:
        raise ValueError(f"morf and lerf curves must have the same shape; got {tuple(morf.shape)} and "
                         f"{tuple(lerf.shape)}")
    return auc(lerf) - auc(morf)


def road_curve(model, images: torch.Tensor, maps: torch.Tensor, target=None, *, order: str = "morf",
               percentages=(10, 20, 30, 40, 50, 60, 70, 80, 90), noise: float = 0.01, output: str = "probability",
               seed: int = 0, chunk: int = 64) -> torch.Tensor:
    """ROAD (Rong et al., ICML 2022): target scores [N, P] after removing the ``percentages`` of pixels with
    the highest (``order="morf"``) or lowest ("lerf") |relevance| and filling them by
    ``baselines.road_imputation`` (noise drawn afresh per percentage from ``seed``). Each percentage is
    one sparse solve for the whole batch and forward passes of ``chunk`` images."""
    if order not in ("morf", "lerf"):
        raise ValueError(f"order must be 'morf' or 'lerf'; got {order!r}")
    images = checks.images(images, model=model)
    maps = checks.maps(maps, shape=(len(images), *images.shape[2:]))
    shares = torch.as_tensor(percentages, dtype=torch.float64) / 100
    if shares.ndim != 1 or not len(shares) or not bool(((shares >= 0) & (shares < 1)).all()):
        raise ValueError(f"percentages must be numbers in [0, 100); got {percentages}")
    chunk = checks.positive_int(chunk, "chunk")
    ranks = _ranks_from_top(maps.abs() if order == "morf" else -maps.abs(), absolute=False)
    columns = []
    with preserved_state(model), torch.no_grad():
        model.eval()
        _, target = prepared_targets(model, images, target)
        for step, share in enumerate(shares.tolist()):
            removed = (ranks < round(share * ranks.shape[1])).view(len(images), *images.shape[2:])
            filled = checks.model_input(road_imputation(images, removed, noise, seed + step), model)
            columns.append(_scores_in_chunks(model, filled, target, output, chunk))
    return torch.stack(columns, 1).cpu()


def _scores_in_chunks(model, batch: torch.Tensor, target: torch.Tensor, output: str, chunk: int) -> torch.Tensor:
    def scores(channels_last: bool) -> torch.Tensor:
        return torch.cat([target_scores(model, in_layout(batch[lo:lo + chunk], channels_last), target[lo:lo + chunk],
                                        output) for lo in range(0, len(batch), chunk)])
    return memory_layout_fallback(model, scores)


def faithfulness_correlation(model, images: torch.Tensor, maps: torch.Tensor, target=None, *,
                             subset_size: int = 224, n_subsets: int = 100, baseline: str = "black",
                             output: str = "probability", seed: int = 0, chunk: int = 64,
                             dataset_mean=(0.5, 0.5, 0.5)) -> torch.Tensor:
    """Faithfulness correlation (Bhatt et al., IJCAI 2020): per image, the Pearson correlation over
    ``n_subsets`` random sets of ``subset_size`` pixels between the map's sum over the set and the drop of
    the target score when the set is replaced by ``baseline``: [N] (0 where either side is constant)."""
    images = checks.images(images, model=model)
    maps = checks.maps(maps, shape=(len(images), *images.shape[2:])).flatten(1).double()
    subset_size = checks.positive_int(subset_size, "subset_size")
    n_subsets = checks.positive_int(n_subsets, "n_subsets")
    pixels = maps.shape[1]
    if subset_size > pixels or n_subsets < 2:
        raise ValueError(f"need subset_size <= {pixels} pixels and n_subsets >= 2; got {subset_size}, {n_subsets}")
    if baseline not in BASELINES:
        raise ValueError(f"unknown baseline {baseline!r}; expected one of {sorted(BASELINES)}")
    generator, group = torch.Generator().manual_seed(seed), max(1, chunk // (n_subsets + 1))
    sums, drops = [], []
    with preserved_state(model), torch.no_grad():
        model.eval()
        images, target = prepared_targets(model, images, target)
        for lo in range(0, len(images), group):
            n = len(images[lo:lo + group])
            chosen = torch.rand(n, n_subsets, pixels, generator=generator).argsort(-1)[..., :subset_size]
            removed = torch.zeros(n, n_subsets, pixels, dtype=torch.float64).scatter_(2, chosen, 1.0)
            sums.append(torch.einsum("nsp,np->ns", removed, maps[lo:lo + n]))
            keep = torch.cat([torch.ones(n, 1, pixels, dtype=torch.float64), 1 - removed], 1)
            keep = keep.view(n, n_subsets + 1, 1, *images.shape[2:]).to(images)
            scores = _curve_scores(model, images[lo:lo + n], keep, target[lo:lo + n], baseline, seed + lo,
                                   dataset_mean, output).cpu().double()
            drops.append(scores[:, :1] - scores[:, 1:])
    return _pearson_rows(torch.cat(sums), torch.cat(drops))


def kendall_tau(x, y) -> np.ndarray:
    """Kendall's tau-b between ``x`` and ``y`` along their last axis, for many short rankings at once
    (leading axes broadcast): ``sum a_ij b_ij / sqrt(sum a_ij^2 sum b_ij^2)`` with ``a_ij = sign(x_i -
    x_j)``, equal to ``scipy.stats.kendalltau`` (NaN where one side is constant). Written by hand because
    scipy takes one pair per call (about 200x slower for rankings of 8, ``benchmarks/bench_kendall.py``);
    this form costs O(n^2) memory per pair, so keep n small (methods, not pixels)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    a = np.sign(x[..., :, None] - x[..., None, :])
    b = np.sign(y[..., :, None] - y[..., None, :])
    with np.errstate(invalid="ignore", divide="ignore"):
        return (a * b).sum((-1, -2)) / np.sqrt((a * a).sum((-1, -2)) * (b * b).sum((-1, -2)))


def ranking_agreement(scores: pd.DataFrame, variant: str = "variant", method: str = "method",
                      value: str = "score", unit: str = "image", higher_is_better: bool = True,
                      reference: str | None = None) -> pd.DataFrame:
    """Do metric variants agree on which method is best? ``scores`` is tidy (one row per variant, method
    and unit, e.g. image). Returns one row per pair of variants: Kendall's tau between the methods'
    mean-score rankings, plus each variant's Krippendorff's alpha (ordinal) of the per-unit method
    rankings (Tomsett et al. 2020: do images agree on the order of the methods?). With ``reference``
    (a variant name), only the pairs with it, the other variant always in ``variant_a``."""
    means = scores.groupby([variant, method])[value].mean().unstack(method)
    alpha = {}
    for name, sub in scores.groupby(variant):
        table = sub.pivot_table(index=unit, columns=method, values=value)
        ranks = table.rank(axis=1, ascending=not higher_is_better)
        alpha[name] = krippendorff.alpha(reliability_data=ranks.to_numpy(), level_of_measurement="ordinal")
    rows = []
    for a, b in itertools.combinations(means.index, 2):
        rows.append({"variant_a": a, "variant_b": b, "kendall_tau": stats.kendalltau(means.loc[a], means.loc[b]).statistic,
                     "alpha_a": alpha[a], "alpha_b": alpha[b],
                     "best_a": means.loc[a].idxmax() if higher_is_better else means.loc[a].idxmin(),
                     "best_b": means.loc[b].idxmax() if higher_is_better else means.loc[b].idxmin()})
    table = pd.DataFrame(rows)
    if reference is None:
        return table
    if reference not in means.index:
        raise ValueError(f"reference {reference!r} is not one of the variants {list(means.index)}")
    swap = table.variant_a == reference
    for left, right in (("variant_a", "variant_b"), ("alpha_a", "alpha_b"), ("best_a", "best_b")):
        table.loc[swap, [left, right]] = table.loc[swap, [right, left]].to_numpy()
    return table[swap | (table.variant_b == reference)].reset_index(drop=True)


def pairwise_agreement(maps: dict, top: float = 0.1) -> pd.DataFrame:
    """``map_agreement`` for every pair of map sets in ``maps`` (name -> [N, H, W]): one row per
    (a, b, image)."""
    tables = []
    for a, b in itertools.combinations(maps, 2):
        table = map_agreement(maps[a], maps[b], top=top)
        table.insert(0, "a", a)
        table.insert(1, "b", b)
        tables.append(table)
    return pd.concat(tables, ignore_index=True)
