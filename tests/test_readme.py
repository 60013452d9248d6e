"""The README's "use saltools on your own model" snippet runs as printed."""
import re

from tests.conftest import ROOT


def test_readme_usage_snippet_runs(capsys):
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Using saltools on your own model", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert len(code.strip().splitlines()) <= 10
    exec(compile(code, "README.md", "exec"), {})
    assert "rank" in capsys.readouterr().out


def test_readme_claims_snippet_evaluates_every_claim_on_a_model(capsys):
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Using saltools on your own model", 1)[1]
    code = re.findall(r"```python\n(.*?)```", section, re.S)[1]
    assert len(code.strip().splitlines()) == 3
    namespace = {"st": __import__("saltools"), "model": __import__("saltools").models.load("shapes-resnet")}
    exec(compile(code, "README.md", "exec"), namespace)
    claims = namespace["st"].claims.CLAIMS.values()
    assert set(namespace["verdicts"].claim) == {c.id for c in claims if c.applies_to(namespace["context"])}
    assert set(namespace["verdicts"].chapter) == {1, 2, 3, 4}
    assert "verdict" in capsys.readouterr().out


def test_readme_starts_with_the_build_and_the_ci_test_command():
    """A newcomer runs what CI runs: the README's second command is ``.ci/run``, which installs chromium
    when missing, then the requirements, then runs pytest."""
    block = re.search(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)
    commands = [line for line in block.splitlines() if line and not line.startswith("#")]
    assert commands[0].startswith("pip install -r requirements.txt && ") and "jupyter-book build . -W" in commands[0]
    assert commands[1] == "bash .ci/run"
    ci = (ROOT / ".ci" / "run").read_text()
    assert "apt-get install -y -qq chromium" in ci
    assert ci.rstrip().splitlines()[-1] == "pip install -r requirements.txt && python -m pytest"
