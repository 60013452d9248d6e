"""Every chapter under the full profile at the smoke scale, on the CPU and offline: torchvision's
ResNet-50 architecture (random weights from a local file, loaded by ``models.load``), 224 px images,
1000 classes, an Imagenette-format folder read by the real Imagenette loader, corruptions, and widgets
precomputing their frames as in the book build. Each chapter must run without error and draw every
figure it plots; chapters 5, 6 and 7 must say that they use the Shapes model."""
import os

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import ROOT
from tests.full_profile_fixtures import full_profile_environment
from tests.prose_scan import contradicted_counts

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SHAPES_CHAPTERS = ("05_rectgrad_bias", "06_perturbation_baselines", "07_remedies")


@pytest.fixture(scope="module")
def full_smoke_environment(tmp_path_factory):
    directory = tmp_path_factory.mktemp("full-profile")
    env = full_profile_environment(directory)
    env.update(SALTOOLS_CACHE=str(directory / "cache"), TORCH_HOME=str(directory / "torch-home"),
               SALTOOLS_BOOK_BUILD="1")
    return env


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_chapter_runs_under_the_full_profile_at_smoke_scale(path, full_smoke_environment, monkeypatch):
    for name, value in full_smoke_environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("MPLBACKEND", raising=False)          # the kernel's inline backend must draw
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    text = "".join(out.get("text", "") for cell in code for out in cell.outputs)
    for cell in code:
        assert not [out for out in cell.outputs if out.output_type == "error"], cell.source
        if "st.plots." in cell.source:
            assert any("image/png" in out.get("data", {}) for out in cell.outputs), \
                f"{path.name}: no figure from\n{cell.source}"
    contradicted = contradicted_counts(notebook)
    assert not contradicted, f"{path.name}: prose states counts that no output prints: {contradicted}"
    if path.stem in SHAPES_CHAPTERS:
        assert "profile full" in text and "Shapes ResNet" in text


def test_the_smoke_environment_selects_the_full_profile_and_its_stand_ins(full_smoke_environment, monkeypatch):
    import saltools as st

    for name, value in full_smoke_environment.items():
        monkeypatch.setenv(name, value)
    profile = st.profiles.current()
    assert (profile.name, profile.scale, profile.image_size, profile.data) == ("full", "smoke", 224, "imagenette")
    assert profile.weights == os.environ["SALTOOLS_WEIGHTS"]
    model = st.models.load(profile.model, weights=profile.weights)
    assert len(model.classes) == 1000
    images, labels = st.data.first_images(st.data.for_profile(profile, "eval"), 2)
    assert images.shape == (2, 3, 224, 224) and int(labels.max()) < 1000
