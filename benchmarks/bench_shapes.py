"""Shapes generation: vectorized batch rendering against the naive one-image-at-a-time way.

Run: python benchmarks/bench_shapes.py [n]. Prints images per second for both and the ratio.
"""
import sys

import torch
from _timing import row, timed

from saltools.data import Shapes


def main(n: int = 10000, n_naive: int = 300) -> list[dict]:
    torch.set_num_threads(2)
    batched = timed(lambda: Shapes(n, split="bench"))
    naive = timed(lambda: [Shapes(1, split="bench", start=i) for i in range(n_naive)]) * n / n_naive
    assert torch.equal(Shapes(5, split="bench", start=7)._images[0], Shapes(1, split="bench", start=7)._images[0])
    print(f"device: cpu, threads: {torch.get_num_threads()}, images: {n}")
    print(f"batched   {batched:8.2f} s  ({n / batched:9.0f} images/s)")
    print(f"one-by-one{naive:8.2f} s  ({n / naive:9.0f} images/s, extrapolated from {n_naive})")
    print(f"ratio naive / batched: {naive / batched:.1f}x")
    return [row(f"{n:,} Shapes images", f"{batched:.1f} s", f"{naive:.0f} s one by one ({naive / batched:.0f}x)",
                "bench_shapes.py")]


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
