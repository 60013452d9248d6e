"""Per-sample filter saliency: batched hooks against the one-image loop and a plain batched backward.

Run: python benchmarks/bench_filter_saliency.py [--layers] [model ...]. Models: ``shapes`` (the shipped
model, 64 px), ``resnet18`` and ``resnet50`` (torchvision, random weights, 224 px); all three by default.
For each it prints the median time per image of
  loop      the definition, one image at a time (saltools.paramsal.filter_saliency_loop),
  batched   saltools.paramsal.filter_saliency,
  plain     one batched forward + loss.backward() (weight gradients summed over the batch: the floor),
            in contiguous (NCHW) memory and in channels-last memory, the layout filter_saliency uses,
the ratios loop/batched (speed-up) and batched/plain channels-last (overhead), and the targets
(overhead at most 1.5x, never slower than the loop). Methods are interleaved; medians of the repeats.

``--layers`` adds the per-layer breakdown: each conv's per-sample statistic, with the kernel
``saltools.paramsal.kernels`` chooses and with the generic offset kernel, against the batch's summed
weight gradient (what the plain backward spends on that layer).
"""
import statistics
import sys
import time

import torch
import torch.nn.functional as F
import torchvision

import saltools as st
from saltools.models.filters import conv_layers
from saltools.paramsal import filter_saliency, filter_saliency_loop, kernels

from _timing import row

MAX_OVERHEAD = 1.5

#: name: (what, image size, images, images through the loop, batch size, repeats)
SETTINGS = {"shapes": ("shipped model, 64 px", 64, 512, 128, 128, 5),
            "resnet18": ("torchvision ResNet-18, 224 px", 224, 32, 16, 16, 3),
            "resnet50": ("torchvision ResNet-50, 224 px", 224, 32, 8, 16, 3)}


def build(name: str):
    """The model and a batch of images and labels for one setting."""
    size, n_images = SETTINGS[name][1:3]
    torch.manual_seed(0)
    if name == "shapes":
        data = st.data.Shapes(n_images, split="bench")
        return st.models.load("shapes-resnet"), data.images, data.labels
    model = getattr(torchvision.models, name)(weights=None).eval()
    return model, torch.rand(n_images, 3, size, size), torch.randint(0, 1000, (n_images,))


def plain_backward(model, images, labels, batch_size, channels_last=False):
    model.eval()
    for lo in range(0, len(images), batch_size):
        x = st.models.in_layout(images[lo:lo + batch_size], channels_last)
        loss = F.cross_entropy(model(x), labels[lo:lo + batch_size], reduction="sum")
        model.zero_grad(set_to_none=True)
        loss.backward()
    model.zero_grad(set_to_none=True)


def seconds_per_image(fn, n):
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) / n


def compare(name: str) -> dict:
    """Median seconds per image of each way, interleaved, and the ratios."""
    what, _, _, n_loop, batch_size, repeats = SETTINGS[name]
    model, images, labels = build(name)
    ways = {"loop": (lambda: filter_saliency_loop(model, images[:n_loop], labels[:n_loop]), n_loop),
            "batched": (lambda: filter_saliency(model, images, labels, batch_size), len(images)),
            "plain": (lambda: plain_backward(model, images, labels, batch_size), len(images)),
            "plain-cl": (lambda: plain_backward(model, images, labels, batch_size, True), len(images))}
    filter_saliency(model, images[:batch_size], labels[:batch_size], batch_size)      # warm-up
    runs = {way: [] for way in ways}
    for _ in range(repeats):
        for way, (fn, n) in ways.items():
            runs[way].append(seconds_per_image(fn, n))
    med = {way: statistics.median(times) for way, times in runs.items()}
    result = {"what": what, "filters": len(st.models.filter_index(model)), "images": len(images),
              "loop_images": n_loop, "batch": batch_size, "repeats": repeats, **med,
              "speedup": med["loop"] / med["batched"], "overhead": med["batched"] / med["plain-cl"],
              "loop_over_plain": med["loop"] / med["plain-cl"]}
    result["met"] = result["overhead"] <= MAX_OVERHEAD and result["speedup"] >= 1
    return result


def report(r: dict) -> None:
    print(f"\n{r['what']}: {r['images']} images (loop: {r['loop_images']}), batch {r['batch']}, "
          f"{r['filters']} filters, median of {r['repeats']}")
    for way in ("loop", "batched", "plain", "plain-cl"):
        print(f"  {way:8s} {1e3 * r[way]:8.2f} ms/image")
    print(f"  speed-up loop / batched:             {r['speedup']:.2f}x (target: at least 1x)")
    print(f"  overhead batched / plain channels-last: {r['overhead']:.2f}x (target: at most {MAX_OVERHEAD}x; "
          f"/ plain NCHW {r['batched'] / r['plain']:.2f}x)")
    print(f"  for scale, loop / plain channels-last: {r['loop_over_plain']:.1f}x; targets "
          f"{'met' if r['met'] else 'MISSED'}")


def captured_layers(model, images, labels):
    """Every conv's (input, output gradient) of one batch, as filter_saliency's hooks see them."""
    captured, handles = {}, []
    for name, conv in conv_layers(model):
        def hook(module, args, output, name=name):
            x = args[0].detach()
            output.register_hook(lambda grad: captured.__setitem__(name, (x, grad)))
        handles.append(conv.register_forward_hook(hook))
    x = st.models.in_layout(images, True).requires_grad_(True)
    torch.autograd.grad(F.cross_entropy(model(x), labels, reduction="sum"), x)
    for handle in handles:
        handle.remove()
    return captured


def median_seconds(fn, repeats=5):
    fn()
    return statistics.median(seconds_per_image(fn, 1) for _ in range(repeats))


def layer_breakdown(name: str) -> None:
    """Per conv: the chosen kernel and the generic offset kernel against the summed weight gradient."""
    model, images, labels = build(name)
    batch = SETTINGS[name][4]
    captured = captured_layers(model, images[:batch], labels[:batch])
    workspace = kernels.Workspace()
    print(f"\nper layer, {SETTINGS[name][0]}, batch {batch}: ms per batch")
    print(f"{'layer':24} {'shape':>22} {'kernel':>10} {'chosen':>7} {'offsets':>8} {'floor':>6} {'ratio':>6}")
    totals = [0.0, 0.0, 0.0]
    for layer, conv in conv_layers(model):
        x, grad = captured[layer]
        generic = "stride1" if conv.groups == 1 and conv.stride == (1, 1) else "strided"
        chosen = kernels.kernel_name(conv)
        times = [median_seconds(lambda: kernels.filter_statistic(conv, x, grad, workspace, kernel=k))
                 for k in (chosen, generic)]
        times.append(median_seconds(lambda: torch.nn.grad.conv2d_weight(
            x, conv.weight.shape, grad, conv.stride, conv.padding, conv.dilation, conv.groups)))
        totals = [a + b for a, b in zip(totals, times)]
        shape = f"{conv.in_channels}>{conv.out_channels} k{conv.kernel_size[0]}s{conv.stride[0]} {x.shape[-1]}px"
        print(f"{layer:24} {shape:>22} {chosen:>10} " + " ".join(f"{1e3 * t:7.1f}" for t in times)
              + f" {times[0] / times[2]:6.1f}x")
    print(f"{'all layers':57} " + " ".join(f"{1e3 * t:7.1f}" for t in totals) + f" {totals[0] / totals[2]:6.1f}x")


def rows(names=tuple(SETTINGS)) -> list[dict]:
    """The README's speed-table rows (benchmarks/run_all.py)."""
    out = []
    for name in names:
        r = compare(name)
        report(r)
        out.append(row(f"per-sample filter statistic, {r['what']} ({r['filters']:,} filters)",
                       f"{1e3 * r['batched']:.1f} ms/image: {r['overhead']:.2f}x a plain channels-last batched "
                       f"backward, {r['speedup']:.1f}x faster than the loop",
                       f"{1e3 * r['loop']:.1f} ms/image one image at a time", "bench_filter_saliency.py"))
    return out


def main(argv: list[str] = ()) -> list[dict]:
    torch.set_num_threads(2)
    names = [a for a in argv if not a.startswith("--")] or list(SETTINGS)
    print(f"device: cpu, torch threads: {torch.get_num_threads()}, torch {torch.__version__}")
    table = rows(names)
    if "--layers" in argv:
        for name in names:
            layer_breakdown(name)
    return table


if __name__ == "__main__":
    main(sys.argv[1:])
