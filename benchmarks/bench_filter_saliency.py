"""Per-sample filter saliency: batched hooks against the one-image loop and a plain batched backward.

Run: python benchmarks/bench_filter_saliency.py. For the shipped Shapes model (64x64) and a
torchvision ResNet-18 (224x224, random weights) it prints the median time per image of
  loop     the definition, one image at a time (saltools.paramsal.filter_saliency_loop),
  batched  saltools.paramsal.filter_saliency,
  plain    one batched forward + loss.backward() (weight gradients summed over the batch: the floor),
           in contiguous (NCHW) memory and in channels-last memory, the layout filter_saliency uses,
and the ratios loop/batched (speed-up) and batched/plain (overhead). Methods are interleaved.
"""
import statistics
import time

import torch
import torch.nn.functional as F
import torchvision

import saltools as st
from saltools.paramsal import filter_saliency, filter_saliency_loop


def plain_backward(model, images, labels, batch_size, channels_last=False):
    model.eval()
    for lo in range(0, len(images), batch_size):
        x = st.models.in_layout(images[lo:lo + batch_size], channels_last)
        loss = F.cross_entropy(model(x), labels[lo:lo + batch_size], reduction="sum")
        model.zero_grad(set_to_none=True)
        loss.backward()
    model.zero_grad(set_to_none=True)


def per_image_seconds(fn, n, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) / n)
    return times


def compare(name, model, images, labels, n_loop, batch_size, repeats=5):
    runs = {"loop": [], "batched": [], "plain": [], "plain-cl": []}
    filter_saliency(model, images[:batch_size], labels[:batch_size], batch_size)      # warm-up
    for _ in range(repeats):
        runs["loop"] += per_image_seconds(lambda: filter_saliency_loop(model, images[:n_loop], labels[:n_loop]), n_loop, 1)
        runs["batched"] += per_image_seconds(lambda: filter_saliency(model, images, labels, batch_size), len(images), 1)
        runs["plain"] += per_image_seconds(lambda: plain_backward(model, images, labels, batch_size), len(images), 1)
        runs["plain-cl"] += per_image_seconds(lambda: plain_backward(model, images, labels, batch_size, True),
                                              len(images), 1)
    med = {k: statistics.median(v) for k, v in runs.items()}
    print(f"\n{name}: {len(images)} images (loop: {n_loop}), batch {batch_size}, "
          f"{len(st.models.filter_index(model))} filters")
    for k, v in med.items():
        print(f"  {k:8s} {1e3 * v:8.2f} ms/image")
    print(f"  speed-up loop / batched:   {med['loop'] / med['batched']:.1f}x")
    print(f"  overhead batched / plain:  {med['batched'] / med['plain']:.2f}x "
          f"(/ plain channels-last: {med['batched'] / med['plain-cl']:.2f}x)")
    print(f"  for scale, loop / plain channels-last: {med['loop'] / med['plain-cl']:.1f}x")
    return med


def main():
    torch.set_num_threads(2)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    print(f"device: {device}, torch threads: {torch.get_num_threads()}, torch {torch.__version__}")
    model = st.models.load("shapes-resnet", device=device)
    data = st.data.Shapes(512, split="bench")
    compare("shapes-resnet 64x64", model, data.images.to(device), data.labels.to(device), n_loop=128, batch_size=128)
    torch.manual_seed(0)
    resnet = torchvision.models.resnet18(weights=None).to(device).eval()
    images = torch.rand(32, 3, 224, 224, device=device)
    labels = torch.randint(0, 1000, (32,), device=device)
    compare("torchvision resnet18 224x224", resnet, images, labels, n_loop=16, batch_size=16, repeats=2)


if __name__ == "__main__":
    main()
