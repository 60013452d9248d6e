"""What the input gate (``saltools.checks``) costs on the hot paths: ``filter_saliency`` and ``occlusion`` with
the checks as shipped against the same calls with the checks replaced by no-ops, in the same run; and the
gate alone on a batch of 64 ImageNet-sized images.

Run: python benchmarks/bench_checks.py. Prints seconds per call and the overhead in percent.
"""
from contextlib import contextmanager

import torch

import saltools as st
from saltools import checks

from _timing import row, timed


@contextmanager
def checks_disabled():
    """The gate's data passes (finiteness and range) replaced by no-ops; shapes and types still checked."""
    original = checks.values
    checks.values = lambda x, name, value_range=None: x
    try:
        yield
    finally:
        checks.values = original


def compare(label: str, call, images: torch.Tensor, repeats: int = 5) -> float:
    """The call with and without the checks (end to end, within timing noise), and the gate's own time on
    the call's images as a share of the call (the precise figure)."""
    call()                                                         # warm up
    with_checks = timed(call, repeats)
    with checks_disabled():
        without = timed(call, repeats)
    gate = timed(lambda: checks.images(images), 20)
    print(f"{label:<56} with checks {with_checks:7.4f} s, without {without:7.4f} s "
          f"({100 * (with_checks - without) / without:+5.1f}%); the gate itself {gate * 1e3:6.3f} ms "
          f"= {100 * gate / with_checks:.3f}% of the call")
    return gate / with_checks


def main() -> list[dict]:
    torch.manual_seed(0)
    model = st.models.load("shapes-resnet")
    data = st.data.Shapes(128, split="test")
    shares = [compare("filter_saliency, 128 Shapes images (64 px)",
                      lambda: st.paramsal.filter_saliency(model, data.images, data.labels), data.images),
              compare("occlusion, 4 images, window 8 / stride 4 (225 windows)",
                      lambda: st.perturb.occlusion(model, data.images[:4], data.labels[:4], window=8, stride=4),
                      data.images[:4], repeats=3),
              compare("predict, 128 Shapes images", lambda: st.models.predict(model, data.images), data.images)]
    big = torch.rand(64, 3, 224, 224)
    gate = timed(lambda: checks.images(big), 20)
    print(f"{'the gate alone, 64 x 3 x 224 x 224 float32':<56} {gate * 1e3:8.2f} ms per batch "
          f"({big.numel() / gate / 1e9:.1f} G values/s)")
    return [row("input checks on `filter_saliency` / `occlusion` / `predict`",
                " / ".join(f"{100 * share:.2g}%" for share in shares) + f" of the call; {gate * 1e3:.1f} ms per "
                "64 x 3 x 224 x 224 batch", "the same calls without the checks", "bench_checks.py")]


if __name__ == "__main__":
    main()
