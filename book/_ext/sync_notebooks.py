"""Keep every notebook's Colab badge and install cell in sync with ``_config.yml``'s ``repository``.

``_config.yml`` (``repository.url`` and ``repository.branch``) is the one place that names the
repository; the book's launch buttons read it, and this script writes it into the notebooks:

    python book/_ext/sync_notebooks.py                    # rewrite the notebooks from _config.yml
    python book/_ext/sync_notebooks.py --url https://github.com/you/fork --branch main   # publish a fork
    python book/_ext/sync_notebooks.py --check            # exit 1 (naming the files) if one is out of date
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "_config.yml"
INSTALL_MARKER = "# Install saltools where it is missing"
BADGE = "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
BADGE_LINK = re.compile(re.escape(BADGE) + r"\(https://colab\.research\.google\.com/github/[^)]*\)")
GITHUB = re.compile(r"^https://github\.com/(?P<owner>[\w.-]+)/(?P<name>[\w.-]+?)/?$")


def repository(config: Path = CONFIG) -> tuple[str, str]:
    """(url, branch) of ``config``'s ``repository`` section; ValueError unless the url is a GitHub repository."""
    section = (yaml.safe_load(config.read_text()) or {}).get("repository") or {}
    url, branch = str(section.get("url", "")), str(section.get("branch", "main"))
    if not GITHUB.match(url):
        raise ValueError(f"{config}: repository.url must look like https://github.com/OWNER/NAME; got {url!r}")
    return url.rstrip("/"), branch


def install_cell(url: str, branch: str) -> str:
    """The source of every notebook's first code cell."""
    return (f"{INSTALL_MARKER} (Colab); elsewhere this cell does nothing.\n"
            "# SALTOOLS_INSTALL overrides what pip installs: one requirement (spaces allowed), a wheel or a folder,\n"
            "# or pip arguments (\"--no-deps ...\" needs saltools' dependencies installed already: see the README).\n"
            "import importlib.util, os, shlex, subprocess, sys\n"
            f"repository = \"{url}@{branch}\"\n"
            "if importlib.util.find_spec(\"saltools\") is None:\n"
            "    source = os.environ.get(\"SALTOOLS_INSTALL\", f\"saltools@git+{repository}\").strip()\n"
            "    try:                                   # one requirement, e.g. \"saltools @ file:///tmp/x.whl\"\n"
            "        from packaging.requirements import Requirement\n"
            "        Requirement(source)\n"
            "        arguments = [source]\n"
            "    except Exception:                      # a path (spaces allowed), or pip arguments\n"
            "        arguments = [source] if os.path.exists(source) else shlex.split(source)\n"
            "    subprocess.check_call([sys.executable, \"-m\", \"pip\", \"install\", \"-q\", *arguments])")


def badge(url: str, branch: str, notebook: str) -> str:
    """The Colab badge of ``notebook`` (a path relative to the repository root)."""
    path = url.removeprefix("https://github.com/")
    return f"{BADGE}(https://colab.research.google.com/github/{path}/blob/{branch}/{notebook})"


def synced(notebook: dict, url: str, branch: str, relative: str) -> dict:
    """``notebook`` (nbformat JSON) with its badge and install cell rewritten; ValueError if it has neither."""
    cells = notebook["cells"]
    first_md = next((c for c in cells if c["cell_type"] == "markdown"), None)
    install = next((c for c in cells if c["cell_type"] == "code" and "".join(c["source"]).startswith(INSTALL_MARKER)),
                   None)
    if first_md is None or install is None or not BADGE_LINK.search("".join(first_md["source"])):
        raise ValueError(f"{relative}: expected a Colab badge in the first Markdown cell and an install cell")
    _set_source(first_md, BADGE_LINK.sub(lambda _: badge(url, branch, relative), "".join(first_md["source"])))
    _set_source(install, install_cell(url, branch))
    return notebook


def _set_source(cell: dict, text: str) -> None:
    lines = text.split("\n")
    cell["source"] = [line + "\n" for line in lines[:-1]] + ([lines[-1]] if lines[-1] else [])


def serialized(notebook: dict) -> str:
    """The notebook as the repository stores it (one-space indent, trailing newline)."""
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


def notebooks(root: Path = ROOT) -> list[Path]:
    return sorted((root / "notebooks").glob("*.ipynb"))


def set_repository(url: str, branch: str, config: Path = CONFIG) -> None:
    """Write ``url`` and ``branch`` into ``config``'s ``repository`` section, keeping the rest of the file."""
    if not GITHUB.match(url):
        raise ValueError(f"the url must look like https://github.com/OWNER/NAME; got {url!r}")
    text = config.read_text()
    text = re.sub(r"(?m)^(repository:\n(?:  .*\n)*?  url: ).*$", lambda m: m.group(1) + url.rstrip("/"), text)
    text = re.sub(r"(?m)^(repository:\n(?:  .*\n)*?  branch: ).*$", lambda m: m.group(1) + branch, text)
    config.write_text(text)
    if repository(config) != (url.rstrip("/"), branch):
        raise ValueError(f"could not write the repository into {config}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="set _config.yml's repository.url first (publishing a fork)")
    parser.add_argument("--branch", help="set _config.yml's repository.branch first")
    parser.add_argument("--check", action="store_true", help="only check; exit 1 if a notebook is out of date")
    args = parser.parse_args(argv)
    if args.url or args.branch:
        current_url, current_branch = repository()
        set_repository(args.url or current_url, args.branch or current_branch)
    url, branch = repository()
    stale = []
    for path in notebooks():
        relative = path.relative_to(ROOT).as_posix()
        text = path.read_text()
        new = serialized(synced(json.loads(text), url, branch, relative))
        if new != text:
            stale.append(relative)
            if not args.check:
                path.write_text(new)
    if args.check and stale:
        print(f"out of date with {CONFIG.name} ({url}, branch {branch}): {', '.join(stale)}; "
              "run python book/_ext/sync_notebooks.py", file=sys.stderr)
        return 1
    print(f"{len(notebooks())} notebooks use {url} (branch {branch})" + (f"; rewrote {len(stale)}" if stale else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
