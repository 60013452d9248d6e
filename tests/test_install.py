"""The real install path: a wheel built from this repository carries the package and its assets."""
import hashlib
import importlib.metadata
import subprocess
import sys
import zipfile
from pathlib import Path

import saltools as st

ROOT = Path(__file__).resolve().parents[1]


def test_installed_distribution_is_this_package():
    assert importlib.metadata.version("saltools") == st.__version__
    assert Path(st.__file__).resolve().is_relative_to(ROOT) or "site-packages" in st.__file__


def test_wheel_contains_modules_and_hash_checked_weights(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path), str(ROOT)], check=True, capture_output=True)
    wheel = next(tmp_path.glob("saltools-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        modules = {path.relative_to(ROOT).as_posix() for path in (ROOT / "saltools").rglob("*.py")}
        assert {"saltools/__init__.py", "saltools/paramsal/__init__.py", "saltools/assets/__init__.py"} <= modules
        assert modules <= names, f"modules missing from the wheel: {sorted(modules - names)}"
        weights = zf.read("saltools/assets/shapes_resnet.pt")
        zoo = zf.read("saltools/assets/zoo_verdicts.json")
    assert hashlib.sha256(weights).hexdigest() == st.models.SHIPPED["shapes-resnet"].sha256
    assert zoo == st.claims.zoo.SHIPPED_VERDICTS.read_bytes()          # the zoo's verdicts ship with the package
