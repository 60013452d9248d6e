import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import settings


import saltools as st

ROOT = Path(__file__).resolve().parents[1]
# CI explores the same examples on every run (a property that fails there fails again, reproducibly); a
# developer's run draws new ones each time
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "default")


@pytest.fixture(scope="session")
def shapes_model():
    """The shipped model (load it once; tests must not modify it)."""
    return st.models.load("shapes-resnet")


@pytest.fixture(autouse=True)
def _deterministic_threads():
    torch.manual_seed(0)
    yield


@pytest.fixture(autouse=True)
def _live_widgets(monkeypatch):
    """Widgets run live in tests unless a test says otherwise; whatever a test sets is undone."""
    monkeypatch.setenv("SALTOOLS_BOOK_BUILD", "0")


@pytest.fixture(scope="session")
def embedded_mistakes():
    """What chapters 1-4 start from on the embedded profile: the model, the (cached) reference
    statistics, the query pool, its mistakes and their raw filter statistic."""
    profile = st.profiles.get("embedded")
    model = st.models.load(profile.model)
    stats = st.paramsal.reference_statistics(model, st.data.for_profile(profile, "reference"), progress=False)
    pool = st.data.for_profile(profile, "query", n=4 * profile.n_eval)
    wrong = st.models.mistakes(model, pool, limit=profile.n_query)
    return dict(profile=profile, model=model, stats=stats, index=st.models.filter_index(model), pool=pool,
                wrong=wrong, values=stats.saliency(wrong.images, wrong.labels))


@pytest.fixture(scope="session")
def built_book():
    """The whole book built once, every notebook executed on the embedded profile, into
    ``_build/test`` (HTML in ``_build/test/_build/html``; the browser test adds ``screenshots``).
    ``SALTOOLS_BUILT_BOOK=<folder with _build/html>`` inspects an existing build instead (for
    working on the tests; CI always builds)."""
    existing = os.environ.get("SALTOOLS_BUILT_BOOK")
    if existing:
        return Path(existing) / "_build" / "html"
    out = ROOT / "_build" / "test"
    shutil.rmtree(out, ignore_errors=True)          # a fresh build, so every notebook runs
    out.mkdir(parents=True)
    env = dict(os.environ, SALTOOLS_PROFILE="embedded")
    env.pop("MPLBACKEND", None)          # the kernel's inline backend must draw the figures
    jupyter_book = shutil.which("jupyter-book", path=os.pathsep.join([str(Path(sys.executable).parent),
                                                                     os.environ.get("PATH", "")]))
    assert jupyter_book, "jupyter-book is not installed (pip install -r requirements.txt)"
    cmd = [jupyter_book, "build", str(ROOT), "--path-output", str(out), "-W", "--keep-going"]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    log = proc.stdout + proc.stderr
    (out / "build.log").write_text(log)
    assert proc.returncode == 0, f"book build failed:\n{log[-6000:]}"
    sphinx_warnings = [line for line in log.splitlines() if "WARNING" in line and "IPKernelApp" not in line]
    assert not sphinx_warnings, "book build warned:\n" + "\n".join(sphinx_warnings)
    return out / "_build" / "html"
