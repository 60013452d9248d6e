"""Occlusion and RISE throughput: saltools' batched versions against Captum's Occlusion with
perturbations_per_eval=1 and against a one-mask-at-a-time RISE loop, on the shipped model.

Also the diffusion fill's stencil (slices against a grouped convolution) and the perturbation chunk
(64 against 256 images per forward pass) on every zoo model.

Run: python benchmarks/bench_perturb.py [n_images]. Prints perturbed images per second and the ratios.
"""
import sys

import torch
import torch.nn.functional as F
from captum.attr import Occlusion

import saltools as st
from saltools import perturb as P
from saltools.baselines import jacobi

from _timing import row, timed


def rise_loop(model, images, target, masks, fill):
    """The naive way: one masked image per forward pass."""
    maps = torch.zeros(len(images), *images.shape[-2:])
    with torch.no_grad():
        for n in range(len(images)):
            for m in masks:
                x = images[n] * m + fill[n] * (1 - m)
                maps[n] += F.softmax(model(x[None]), 1)[0, target[n]] * m[0]
    return maps / (len(masks) * 0.5)


def jacobi_as_convolution(x, keep, iterations):
    """The same Jacobi steps as ``baselines.diffusion_fill``'s, written as a grouped 3x3 convolution."""
    kernel = torch.tensor([[0, 0.25, 0], [0.25, 0, 0.25], [0, 0.25, 0]]).view(1, 1, 3, 3).expand(x.shape[1], 1, 3, 3)
    fixed = x * keep
    for _ in range(iterations):
        x = fixed + (1 - keep) * F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernel, groups=x.shape[1])
    return x


def fill_and_chunks() -> None:
    """The diffusion fill's stencil as slices against a grouped convolution, and the perturbation chunk
    (images per forward pass) of 64 against 256 on every zoo model."""
    x = torch.rand(225, 3, 64, 64)
    keep = P.occlusion_masks((64, 64), 8, 4)
    sliced, conv = timed(lambda: jacobi(x, keep, 12)), timed(lambda: jacobi_as_convolution(x, keep, 12))
    assert torch.allclose(jacobi(x, keep, 12), jacobi_as_convolution(x, keep, 12), atol=1e-6)
    print(f"diffusion fill stencil, 225 occlusion windows: slices {sliced * 1e3:5.0f} ms, grouped convolution "
          f"{conv * 1e3:5.0f} ms; ratio {conv / sliced:.1f}x")
    images = st.data.Shapes(2, split="test").images
    for name in st.models.SHIPPED:
        model = st.models.load(name)
        small, large = (timed(lambda c=c: P.rise(model, images, n_masks=512, chunk=c)) for c in (64, 256))
        print(f"RISE on {name:>20}: chunk 64 {small:5.2f} s, chunk 256 {large:5.2f} s; ratio {large / small:.1f}x")


def main(n_images: int = 4) -> list[dict]:
    torch.set_num_threads(2)
    model = st.models.load("shapes-resnet")
    ds = st.data.Shapes(n_images, split="test")
    x, y = ds.images, ds.labels
    window, stride = 8, 4
    positions = len(P.occlusion_masks((64, 64), window, stride))
    ours = timed(lambda: P.occlusion(model, x, y, baseline="black", window=window, stride=stride))
    captum = timed(lambda: Occlusion(model).attribute(x, sliding_window_shapes=(3, window, window),
                                                      strides=(3, stride, stride), baselines=0.0, target=y,
                                                      perturbations_per_eval=1), repeats=1)
    n_masks = 500
    masks = P.rise_masks(n_masks, (64, 64), grid=8, p1=0.5)
    fill = P.baseline_images("dataset_mean", x)
    batched = timed(lambda: P.rise(model, x, y, n_masks=n_masks))
    loop = timed(lambda: rise_loop(model, x, y, masks, fill), repeats=1)
    assert torch.allclose(P.rise(model, x, y, n_masks=n_masks), rise_loop(model, x, y, masks, fill), atol=1e-4)
    per = lambda seconds, count: n_images * count / seconds  # noqa: E731
    print(f"device: cpu, threads: {torch.get_num_threads()}, images: {n_images} (64x64, shapes-resnet)")
    print(f"occlusion {window}x{window}/{stride}: saltools {ours:6.2f} s ({per(ours, positions):7.0f} perturbed/s), "
          f"Captum perturbations_per_eval=1 {captum:6.2f} s; ratio {captum / ours:.1f}x")
    print(f"RISE {n_masks} masks: saltools {batched:6.2f} s ({per(batched, n_masks):7.0f} masked/s), "
          f"one mask at a time {loop:6.2f} s; ratio {loop / batched:.1f}x")
    fill_and_chunks()
    return [row(f"occlusion {window}x{window} / stride {stride}, {n_images} images", f"{ours:.2f} s",
                f"{captum:.1f} s with Captum `perturbations_per_eval=1` ({captum / ours:.1f}x)", "bench_perturb.py"),
            row(f"RISE, {n_masks} masks, {n_images} images", f"{batched:.1f} s",
                f"{loop:.1f} s one mask at a time ({loop / batched:.1f}x)", "bench_perturb.py")]


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
