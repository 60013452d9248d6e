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
