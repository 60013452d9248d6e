"""Memory and time of reference statistics at the papers' scale: 50,000 images' worth of ResNet-50-shaped
statistic values (26,560 filters) pushed through ``ParameterSaliency.update`` (the path every fit takes
after computing the values; synthetic heavy-tailed values, since the point is the state, not the network),
against the N x F float32 matrix that the published code holds.

Each setting runs in its own process, so its peak resident memory is its own.

Run: python benchmarks/bench_reference_memory.py [n_images]. Prints, per (max_tail, sample_size): the
time, the peak memory added by the run, the fitted state's size and their share of the N x F matrix.
"""
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch
import torchvision

import saltools as st

from _timing import row

SETTINGS = [(2000, 1000), (500, 1000), (2000, 250)]      # the default first, then less tail, smaller sample
BATCH = 128


def peak_rss_bytes() -> int:
    """This process's peak resident memory: VmHWM on Linux (ru_maxrss survives exec, so a child started by
    a large process would inherit the parent's peak), ru_maxrss elsewhere."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024           # Linux reports KiB


def one_setting(n_images: int, max_tail: int, sample_size: int) -> dict:
    model = torchvision.models.resnet50(weights=None)
    stats = st.paramsal.ParameterSaliency(model, max_tail=max_tail, sample_size=sample_size, progress=False)
    n_filters = len(stats.index_)
    generator = torch.Generator().manual_seed(0)
    before = peak_rss_bytes()
    start = time.perf_counter()
    for lo in range(0, n_images, BATCH):
        b = min(BATCH, n_images - lo)
        values = torch.empty(b, n_filters).exponential_(generator=generator) ** 2      # heavy right tail
        stats.update(values, torch.arange(lo, lo + b))
    seconds = time.perf_counter() - start
    state = sum(t.numel() * t.element_size() for t in (stats.mean_, stats.tail_, stats.sample_))
    return {"max_tail": max_tail, "sample_size": sample_size, "filters": n_filters, "seconds": seconds,
            "peak_added": peak_rss_bytes() - before, "state": state + 8 * n_images + 8 * n_filters}


def main(n_images: int = 50_000) -> list[dict]:
    print(f"{n_images} images, torch {torch.__version__}, {torch.get_num_threads()} threads")
    results = []
    for max_tail, sample_size in SETTINGS:
        out = subprocess.run([sys.executable, __file__, "--one", str(n_images), str(max_tail), str(sample_size)],
                             capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        results.append(r)
        matrix = n_images * r["filters"] * 4
        print(f"max_tail {max_tail:5d}, sample {sample_size:5d}: {r['seconds']:6.1f} s, peak memory added "
              f"{r['peak_added'] / 1e9:5.2f} GB ({r['peak_added'] / matrix:5.1%} of the N x F matrix, "
              f"{matrix / 1e9:.2f} GB), fitted state {r['state'] / 1e9:5.2f} GB")
    print("the fitted state is (max_tail + 1 + sample_size) x filters x 4 bytes plus 8 bytes per image (fingerprints);"
          "\nwhile fitting, up to half a tail more waits in the merge buffer and merges write into the tail in place: "
          "about (1.5 (max_tail + 1) + sample_size + batch) x filters x 4 bytes at the peak, plus allocator slack;"
          "\nthe N x F matrix grows with N")
    default, matrix = results[0], n_images * results[0]["filters"] * 4
    return [row(f"reference statistics of {n_images:,} images x {default['filters']:,} filters (ResNet-50), "
                "default tail and sample",
                f"{default['seconds']:.0f} s, {default['peak_added'] / 1e9:.2f} GB peak memory",
                f"{matrix / 1e9:.2f} GB for the N x F matrix the published code holds "
                f"({default['peak_added'] / matrix:.0%} of it)", "bench_reference_memory.py")]


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        print(json.dumps(one_setting(*map(int, sys.argv[2:5]))))
    else:
        main(*(int(a) for a in sys.argv[1:]))
