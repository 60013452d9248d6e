"""Expected time per chapter of the full profile on a Colab T4, estimated without a GPU.

Run: python benchmarks/estimate_full_profile.py. An estimate, not a measurement:
  1. the ResNet-50 work of each chapter at the full profile's sizes, counted from what its cells run
     (images through a forward pass, through forward + backward, and through the per-sample filter
     statistic), assuming the pretrained model errs on about 10% of Imagenette so that every query pool
     is read to its end;
  2. FLOPs per image of each kind, measured with torch.utils.flop_counter on ResNet-50 at 224 px;
  3. a T4 at 35% of its fp32 peak (8.1 TFLOPS), a typical share for convolutions at batch 64 in fp32;
  4. JPEG decoding and resizing, measured here on one core (Colab gives two), for every Imagenette image
     a chapter reads.
The Shapes parts (chapters 5-6 and the zoo tables) run on the CPU as in the embedded build and are not
included. Without a GPU nothing here is a GPU measurement.
"""
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
import torchvision
from torch.utils.flop_counter import FlopCounterMode

import saltools as st
from _timing import timed

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.full_profile_fixtures import write_imagenette  # noqa: E402  (the smoke test's Imagenette stand-in)

T4_FP32_FLOPS, EFFICIENCY = 8.1e12, 0.35
ERROR_RATE = 0.10


def flops_per_image(model) -> dict[str, float]:
    """FLOPs per 224 px image: forward and forward + backward measured with FlopCounterMode; the per-sample
    statistic (whose backward hooks FlopCounterMode cannot follow) as forward + backward times the ratio
    of their CPU times measured here."""
    x, y = torch.rand(8, 3, 224, 224), torch.randint(0, 1000, (8,))
    runs = {"forward": lambda: model(x),
            "gradient": lambda: torch.autograd.grad(F.cross_entropy(model(x), y), list(model.parameters()))}
    counts = {}
    for kind, run in runs.items():
        with FlopCounterMode(display=False) as counter:
            run()
        counts[kind] = counter.get_total_flops() / len(x)
    ratio = timed(lambda: st.paramsal.filter_saliency(model, x, y), 2) / timed(runs["gradient"], 2)
    counts["statistic"] = counts["gradient"] * ratio
    return counts


def decode_seconds() -> float:
    """Seconds to read one Imagenette-320 JPEG through the real loader (decode, resize, crop)."""
    with tempfile.TemporaryDirectory() as root:
        write_imagenette(Path(root), per_class={"train": 2, "val": 2})
        data = st.data.imagenette(root, split="val")
        start = time.perf_counter()
        for i in range(len(data)):
            data[i]
        return (time.perf_counter() - start) / len(data)


def work(p) -> dict[str, dict[str, float]]:
    """Images per kind of pass (and Imagenette images read) for each chapter under profile ``p``."""
    pool = 3925                                         # Imagenette's validation images
    scan = min(pool, 4 * p.n_eval)                      # the query pool read to find the mistakes
    mistakes = min(p.n_query, ERROR_RATE * scan)
    repairs = min(100, mistakes)                        # the claims' interventions
    claims_forward = repairs * len(p.intervention_ks) * 3 * 2
    planted_pool = min(pool, p.n_eval // 2)
    shift_scan = 21 * min(planted_pool, p.n_query // 5 / ERROR_RATE)     # 7 corruptions x 3 severities
    shift_mistakes = 21 * min(p.n_query // 5, ERROR_RATE * planted_pool)
    repaired_under_shift = 22 * min(max(2, p.n_query // 12), p.n_query // 5)
    return {
        "0 setup": dict(forward=p.n_eval, read=p.n_eval),
        "1 parameter saliency": dict(
            statistic=p.n_reference + mistakes + 3 * mistakes + p.batch_size * 4,   # + projections, appendix
            forward=scan + mistakes * p.top_k * 3 * 2 + mistakes * p.top_k * 3 + claims_forward,
            gradient=2 * mistakes + repairs, read=p.n_reference + scan),
        "2 normality": dict(statistic=mistakes, forward=scan, read=scan),
        "3 peaks over threshold": dict(
            statistic=mistakes + 6 * (p.n_reference // 4),               # clean + five faulty references
            forward=scan + 2 * mistakes * p.top_k * 2 * 2 + 2 * claims_forward + planted_pool * (16 + 6 + 6),
            gradient=2 * mistakes + 2 * repairs, read=scan + 8 * (p.n_reference // 4) + 3 * planted_pool),
        "4 depth bias": dict(
            statistic=mistakes + shift_mistakes + mistakes + p.n_reference // 4,
            forward=scan + shift_scan + repaired_under_shift * 7 * 4 * 2 + 7 * p.n_eval // 4 + planted_pool * 11,
            gradient=repaired_under_shift * 4, read=scan + shift_scan + 7 * p.n_eval // 4 + 2 * planted_pool),
    }


def main():
    model = st.models.load("resnet50", weights=_random_weights())
    flops = flops_per_image(model)
    read = decode_seconds()
    profile = st.profiles.PROFILES["full"]
    rate = T4_FP32_FLOPS * EFFICIENCY
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}; ResNet-50 at 224 px, GFLOPs per image: "
          + ", ".join(f"{k} {v / 1e9:.1f}" for k, v in flops.items()))
    print(f"T4 assumed at {EFFICIENCY:.0%} of {T4_FP32_FLOPS / 1e12:.1f} TFLOPS fp32; JPEG read {read * 1e3:.1f} ms "
          f"per image (this CPU, one core; Colab reads on two)\n")
    print(f"{'chapter':24} {'forward':>9} {'gradient':>9} {'statistic':>9} {'GPU min':>8} {'read min':>9} {'total min':>9}")
    for chapter, counts in work(profile).items():
        gpu = sum(counts.get(kind, 0) * flops[kind] for kind in flops) / rate / 60
        reading = counts.get("read", 0) * read / 2 / 60
        print(f"{chapter:24} {counts.get('forward', 0):9,.0f} {counts.get('gradient', 0):9,.0f} "
              f"{counts.get('statistic', 0):9,.0f} {gpu:8.1f} {reading:9.1f} {gpu + reading:9.1f}")


def _random_weights() -> Path:
    path = Path(tempfile.gettempdir()) / "saltools-resnet50-random.pth"
    if not path.exists():
        torch.save(torchvision.models.resnet50(weights=None).state_dict(), path)
    return path


if __name__ == "__main__":
    main()
