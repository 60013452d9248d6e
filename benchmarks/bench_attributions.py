"""Attribution maps in channels-last memory: ``st.attributions.attribute`` (which passes inputs in
channels-last layout, falling back to the default layout for models that cannot take it) against the
same Captum / Zennit call on default-layout (NCHW) inputs, for the zoo's three architectures.

Run: python benchmarks/bench_attributions.py [n_images]. Prints seconds per call and the ratio.
"""
import sys

import torch

import saltools as st
from saltools.attributions import METHODS

from _timing import row, timed

ARCHITECTURES = ("shapes-resnet", "shapes-vgg", "shapes-mobilenet")
SHOWN = ("IntegratedGradients", "LRP-epsilon", "RectGrad", "Saliency")


def default_layout(model, method, images, labels):
    """The naive way: the method's own ``attribute`` on NCHW inputs, in eval mode."""
    model.eval()
    return METHODS[method][0](model)(images, target=labels)


def main(n_images: int = 32) -> list[dict]:
    torch.set_num_threads(2)
    ds = st.data.Shapes(n_images, split="test")
    print(f"{n_images} images of 64 px; median of 3 calls")
    ratios = []
    for name in ARCHITECTURES:
        model = st.models.load(name)
        for method in SHOWN:
            ours = timed(lambda: st.attributions.attribute(model, method, ds.images, ds.labels))
            naive = timed(lambda: default_layout(model, method, ds.images.clone(), ds.labels))
            print(f"{name:>17} {method:>20}: NCHW {naive:6.2f} s, channels-last {ours:6.2f} s, "
                  f"ratio {naive / ours:4.2f}x")
            ratios.append(naive / ours)
    return [row(f"attribution maps ({', '.join(SHOWN)}) on the 3 zoo models, {n_images} images",
                f"channels-last memory: {min(ratios):.2f}-{max(ratios):.2f}x the speed of the NCHW call",
                "the same Captum / Zennit call on NCHW inputs", "bench_attributions.py")]


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
