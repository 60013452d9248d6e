"""The whole performance table in one command: every benchmark script's ``main`` in turn (each prints its
details and returns its rows), then the machine (device, CPU, threads, torch version) and the table.

Run: python benchmarks/run_all.py [--readme] [script ...]. ``--readme`` records the run in
``benchmarks/results.json`` and writes the table into README.md between the speed-table markers, so the
README's figures are this command's output, never typed by hand (``tests/test_benchmark_table.py`` checks
that the README shows exactly the recorded run). Naming scripts (e.g. ``bench_gpd``) runs only those and
never writes the README. About 10 minutes on 2 CPU cores.
"""
from __future__ import annotations

import datetime
import importlib
import json
import os
import platform
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
README = HERE.parent / "README.md"
RESULTS = HERE / "results.json"
BEGIN = "<!-- speed table: written by `python benchmarks/run_all.py --readme`; do not edit by hand -->"
END = "<!-- end of speed table -->"
SCRIPTS = ("bench_filter_saliency", "bench_reference_memory", "bench_shapes", "bench_gpd", "bench_kendall",
           "bench_perturb", "bench_road", "bench_attributions", "bench_checks")


def machine() -> dict:
    """What the figures were measured on."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                 if line.startswith("model name")]
        cpu = names[0] if names else cpu
    gpu = f"; {torch.cuda.get_device_name()} present, not used" if torch.cuda.is_available() else ", no GPU"
    return {"device": "CPU only" + gpu, "cpu": cpu, "cores": os.cpu_count(), "threads": torch.get_num_threads(),
            "torch": torch.__version__, "python": platform.python_version(),
            "date": datetime.date.today().isoformat()}


def render(results: dict) -> str:
    """The README block: the machine line and the Markdown table."""
    m = results["machine"]
    lines = [BEGIN, "",
             f"Measured on {m['date']}: {m['device']} ({m['cpu']}, {m['cores']} cores), {m['threads']} torch "
             f"threads, torch {m['torch']}, Python {m['python']}.", "",
             "| what | saltools | the naive way | script |", "|---|---|---|---|"]
    lines += [f"| {r['what']} | {r['saltools']} | {r['naive']} | `{r['script']}` |" for r in results["rows"]]
    return "\n".join(lines + ["", END])


def write_readme(block: str, readme: Path = README) -> None:
    """Replace the block between the markers in the README."""
    text = readme.read_text()
    if BEGIN not in text or END not in text:
        raise ValueError(f"{readme} has no speed-table markers ({BEGIN!r} ... {END!r})")
    head, rest = text.split(BEGIN, 1)
    readme.write_text(head + block + rest.split(END, 1)[1])


def main(argv: list[str]) -> dict:
    torch.set_num_threads(2)
    names = [a for a in argv if not a.startswith("--")] or list(SCRIPTS)
    sys.path.insert(0, str(HERE))
    rows = []
    for name in names:
        print(f"\n===== {name}", flush=True)
        rows += importlib.import_module(name).main()
    results = {"machine": machine(), "rows": rows}
    block = render(results)
    print("\n" + block)
    if "--readme" in argv and names == list(SCRIPTS):
        RESULTS.write_text(json.dumps(results, indent=1) + "\n")
        write_readme(block)
        print(f"\nwrote {RESULTS.name} and the table in {README.name}")
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
