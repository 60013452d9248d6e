"""ROAD's noisy linear imputation: saltools' grouped sparse solves (``ROAD_GROUP`` images per system, one
thread per core) against one block-diagonal system for the whole batch, on MoRF masks of smooth maps at
the shares a ROAD curve removes. Both are exact direct solves; the script checks they agree.

Run: python benchmarks/bench_road.py [n_images]. Prints seconds per ROAD curve and the ratio.
"""
import sys

import numpy as np
import scipy.sparse.linalg
import torch
import torch.nn.functional as F

import saltools as st
from saltools.baselines import road_imputation

from _timing import row, timed


def one_system(images, removed):
    """The naive way: one sparse system for the whole batch (what ``road_imputation`` did before)."""
    n, c, h, w = images.shape
    pixels = images.permute(0, 2, 3, 1).reshape(-1, c).double().numpy()
    missing = removed.flatten().numpy()
    matrix, rhs = st.baselines.neighbour_mean_system(missing, pixels, (h, w))
    return torch.from_numpy(scipy.sparse.linalg.spsolve(matrix, rhs).reshape(len(rhs), -1))


def main(n_images: int = 48) -> list[dict]:
    torch.set_num_threads(2)
    images = st.data.Shapes(n_images, split="test").images
    smooth = F.avg_pool2d(torch.rand(n_images, 1, 64, 64, generator=torch.Generator().manual_seed(0)), 9, 1, 4)
    ranks = smooth.flatten(1).argsort(1, descending=True).argsort(1).view(n_images, 64, 64)
    masks = [ranks < round(share * 64 * 64) for share in np.arange(0.1, 1.0, 0.1)]
    for removed in masks[::4]:
        ours = road_imputation(images, removed, noise=0.0)
        naive = images.permute(0, 2, 3, 1).clone().double()
        naive[removed] = one_system(images, removed)
        assert torch.allclose(ours.double(), naive.permute(0, 3, 1, 2), atol=1e-5)
    grouped = timed(lambda: [road_imputation(images, removed) for removed in masks])
    whole = timed(lambda: [one_system(images, removed) for removed in masks])
    print(f"ROAD curve (9 shares, 10%-90%), {n_images} images 64x64, {torch.get_num_threads()} threads: "
          f"grouped {grouped:.2f} s, one system {whole:.2f} s; ratio {whole / grouped:.1f}x")
    return [row(f"ROAD imputation, 9 shares, {n_images} images", f"{grouped:.2f} s",
                f"{whole:.2f} s as one sparse system ({whole / grouped:.1f}x)", "bench_road.py")]


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
