"""The Colab path: one repository address (``_config.yml``) in every badge and install cell, and the
install cell itself run in a fresh virtual environment against this checkout."""
import importlib.util
import json
import os
import re
import subprocess
import sys
import sysconfig

import pytest

import saltools as st
from tests.conftest import ROOT

spec = importlib.util.spec_from_file_location("sync_notebooks", ROOT / "book" / "_ext" / "sync_notebooks.py")
sync = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sync)

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _install_cell(path) -> str:
    cells = json.loads(path.read_text())["cells"]
    return next("".join(c["source"]) for c in cells if c["cell_type"] == "code")


def test_every_notebook_is_in_sync_with_the_configured_repository():
    assert sync.main(["--check"]) == 0
    url, branch = sync.repository()
    for path in NOTEBOOKS:
        text = path.read_text()
        addresses = set(re.findall(r"github\.com/([\w.-]+/[\w.-]+)", text))
        assert addresses == {url.removeprefix("https://github.com/")}, (path.name, addresses)
        assert "saltools@git+{repository}" in _install_cell(path) and f'"{url}@{branch}"' in _install_cell(path)


def test_publishing_a_fork_rewrites_config_badges_and_install_cells(tmp_path):
    config = tmp_path / "_config.yml"
    config.write_text((ROOT / "_config.yml").read_text())
    sync.set_repository("https://github.com/someone/my-fork", "teaching", config)
    assert sync.repository(config) == ("https://github.com/someone/my-fork", "teaching")
    assert "title: Saliency under the Microscope" in config.read_text()       # the rest is kept
    notebook = sync.synced(json.loads(NOTEBOOKS[1].read_text()), "https://github.com/someone/my-fork", "teaching",
                           "notebooks/" + NOTEBOOKS[1].name)
    text = sync.serialized(notebook)
    assert "colab.research.google.com/github/someone/my-fork/blob/teaching/notebooks/" + NOTEBOOKS[1].name in text
    assert "saltools-course" not in text and "my-fork@teaching" in text
    with pytest.raises(ValueError, match="github.com/OWNER/NAME"):
        sync.set_repository("https://gitlab.com/someone/fork", "main", config)


def test_install_cell_installs_saltools_into_a_fresh_environment(tmp_path):
    """A venv that sees the installed dependencies (their folder on its path) but not this checkout's
    editable saltools runs the install cell with SALTOOLS_INSTALL naming the checkout, then imports it."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    # the dependencies' folder as a plain path: its .pth files (the editable saltools among them) do not run
    with open(os.path.join(site, "dependencies.pth"), "w") as pth:
        pth.write(sysconfig.get_paths()["purelib"] + "\n")
    env = dict(os.environ, SALTOOLS_INSTALL=f"--no-deps --no-build-isolation {ROOT}", PIP_NO_INDEX="1")
    env.pop("PYTHONPATH", None)
    before = subprocess.run([str(python), "-c", "import importlib.util; print(importlib.util.find_spec('saltools'))"],
                            cwd=tmp_path, env=env, check=True, capture_output=True, text=True).stdout.strip()
    assert before == "None"
    cell = _install_cell(NOTEBOOKS[0])
    check = ("\nimport saltools, pathlib\nprint(saltools.__version__, pathlib.Path(saltools.__file__).resolve())\n"
             "assert saltools.models.load('shapes-resnet') is not None")
    run = subprocess.run([str(python), "-c", cell + check], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    version, location = run.stdout.split()[-2:]
    assert location.startswith(str(venv)) and version == st.__version__


@pytest.mark.parametrize("value, arguments", [
    ("saltools @ file:///tmp/some%20dir/saltools-0.1.0-py3-none-any.whl",
     ["saltools @ file:///tmp/some%20dir/saltools-0.1.0-py3-none-any.whl"]),      # one requirement with spaces
    ("saltools[widgets] @ git+https://github.com/x/y@main", ["saltools[widgets] @ git+https://github.com/x/y@main"]),
    ("--no-deps --no-build-isolation /tmp/checkout", ["--no-deps", "--no-build-isolation", "/tmp/checkout"]),
    ("'/tmp/a folder/saltools.whl' --force-reinstall", ["/tmp/a folder/saltools.whl", "--force-reinstall"]),
    ("  saltools==0.1.0  ", ["saltools==0.1.0"]),
    (None, ["saltools@git+https://github.com/saltools-course/saliency-under-the-microscope@main"]),
])
def test_install_cell_passes_any_pip_requirement_whole(value, arguments, monkeypatch):
    """A requirement stays one argument even with spaces; pip arguments are split as a shell would."""
    import importlib.util
    calls = []
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(subprocess, "check_call", calls.append)
    if value is None:
        monkeypatch.delenv("SALTOOLS_INSTALL", raising=False)
    else:
        monkeypatch.setenv("SALTOOLS_INSTALL", value)
    exec(_install_cell(NOTEBOOKS[0]), {})
    assert calls == [[sys.executable, "-m", "pip", "install", "-q", *arguments]]


def test_install_cell_keeps_an_existing_path_with_spaces_whole(tmp_path, monkeypatch):
    import importlib.util
    wheel = tmp_path / "my wheels" / "saltools-0.1.0-py3-none-any.whl"
    wheel.parent.mkdir()
    wheel.write_bytes(b"")
    calls = []
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(subprocess, "check_call", calls.append)
    monkeypatch.setenv("SALTOOLS_INSTALL", str(wheel))
    exec(_install_cell(NOTEBOOKS[0]), {})
    assert calls[0][-1] == str(wheel)
