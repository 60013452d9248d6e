"""Sphinx extension of the book: serve the widget and MathJax JavaScript from the book itself.

At build start it fetches ``@jupyter-widgets/html-manager``, ``requirejs``, ``mathjax`` and ``reveal.js``
(for the chapters' slides, ``slides.py``) from the npm registry (``npm pack``, cached in
``book/_js_cache``, not committed), points myst-nb's
``nb_ipywidgets_js`` and Sphinx's ``mathjax_path`` at copies in the book's own ``assets/js`` folder
(not ``_static``), and copies them there when the build ends. Without npm it keeps the public CDNs
and says so. It also removes scripts that other extensions add twice to a page.
It also sets ``SALTOOLS_BOOK_BUILD=1`` so the executed notebooks' widgets precompute their frames.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from sphinx.util import logging
from sphinx.util.console import colorize

logger = logging.getLogger(__name__)

PACKAGES = {"@jupyter-widgets/html-manager": "1.0.15", "requirejs": "2.3.8", "mathjax": "3.2.2", "reveal.js": "5.1.0"}
CACHE = Path(__file__).resolve().parents[1] / "_js_cache"
SERVED = "assets/js"          # inside the HTML output, next to the pages' folders, not in _static
MANAGER = "@jupyter-widgets/html-manager/dist"   # the module path RequireJS resolves under SERVED


def _fetch(cache: Path) -> bool:
    """Unpack the packages into ``cache`` unless already there; False when npm cannot get them."""
    wanted = {name: cache / name.split("/")[-1] for name in PACKAGES}
    if all(path.exists() for path in wanted.values()):
        return True
    if shutil.which("npm") is None:
        return False
    with tempfile.TemporaryDirectory() as tmp:
        specs = [f"{name}@{version}" for name, version in PACKAGES.items()]
        done = subprocess.run(["npm", "pack", "--silent", *specs], cwd=tmp, capture_output=True, text=True,
                              timeout=300)
        if done.returncode != 0:
            logger.info(colorize("darkred", f"npm pack failed: {done.stderr.strip()[-300:]}"))
            return False
        for name, target in wanted.items():
            archive = next(Path(tmp).glob(name.replace("@", "").replace("/", "-") + "-*.tgz"))
            with tarfile.open(archive) as tar:
                tar.extractall(tmp, filter="data")
            shutil.rmtree(target, ignore_errors=True)
            shutil.move(Path(tmp) / "package", target)
    return True


def _configure(app, config) -> None:
    os.environ["SALTOOLS_BOOK_BUILD"] = "1"
    if not _fetch(CACHE):
        logger.info(colorize("darkred", "WARNING: npm registry unreachable; widget and MathJax JavaScript "
                                        "will load from public CDNs (pages need internet to show them)"))
        return
    app.config.book_assets_ready = True
    # Sphinx puts relative script paths under _static/; '../' climbs out of it to our own folder.
    config.nb_ipywidgets_js = {
        f"../{SERVED}/require.js": {},
        f"../{SERVED}/widgets-config.js": {},          # RequireJS base URL; MathJax 2 bridge for labels
        f"../{SERVED}/{MANAGER}/embed-amd.js": {"data-jupyter-widgets-cdn": f"../{SERVED}/"},
    }
    config.mathjax_path = f"../{SERVED}/mathjax/es5/tex-chtml.js"


def _copy(app, exception) -> None:
    if exception is not None or not app.config.book_assets_ready or app.builder.format != "html":
        return
    target = Path(app.outdir) / SERVED
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(CACHE / "requirejs" / "require.js", target / "require.js")
    shutil.copy2(Path(__file__).with_name("widgets-config.js"), target / "widgets-config.js")
    shutil.copytree(CACHE / "html-manager" / "dist", target / MANAGER, dirs_exist_ok=True)
    shutil.copytree(CACHE / "mathjax" / "es5", target / "mathjax" / "es5", dirs_exist_ok=True)
    shutil.copytree(CACHE / "reveal.js" / "dist", target / "reveal.js" / "dist", dirs_exist_ok=True)


def _deduplicate_scripts(app, pagename, templatename, context, doctree) -> None:
    """Drop repeated scripts from a page: sphinx-thebe's and sphinx-togglebutton's inline configuration
    arrive twice, and a second copy of a ``const`` declaration is a page error in the browser."""
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for js in scripts:
        # the same inline script comes once with filename None and once with ''
        key = (getattr(js, "filename", None) or "", repr(sorted(getattr(js, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(js)
    scripts[:] = unique


def setup(app):
    app.add_config_value("book_assets_ready", False, "env")
    app.connect("config-inited", _configure, priority=400)
    app.connect("html-page-context", _deduplicate_scripts, priority=900)
    app.connect("build-finished", _copy)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
