"""The zoo's verdicts ship with the package: served only while valid for the code in use, validated when read,
and equal to a recomputation from scratch."""
import json
import warnings

import numpy as np
import pandas as pd
import pytest

import saltools as st
from saltools.claims import CLAIMS
from saltools.claims.zoo import SHIPPED_COLUMNS, SHIPPED_VERDICTS, read_shipped, write_shipped


def test_chapters_read_the_shipped_table_and_say_where_it_comes_from():
    table = st.claims.zoo_verdicts(chapter=2)
    assert table.attrs["provenance"]["source"] == "shipped"
    assert set(table.model) == set(st.models.SHIPPED)
    assert {CLAIMS[c].context for c in table.claim} == {st.claims.Context}
    assert (table.statement == [CLAIMS[c].statement for c in table.claim]).all()      # the claims' own columns
    note = st.claims.zoo_note(table)
    assert table.attrs["provenance"]["created"] in note and st.__version__ in note
    assert 'source="recompute"' in note and st.claims.registry_hash() in note
    assert set(st.claims.zoo_verdicts().claim) == set(CLAIMS)


def test_every_zoo_interval_contains_its_estimate_and_counts_independent_units():
    table, _ = read_shipped()
    evaluated = table[table.verdict != st.claims.NOT_EVALUATED]
    assert evaluated.eval("low <= effect <= high").all()
    assert not evaluated.unit.isin(["filters", "splits", "resamples"]).any()      # the unit is never a derived one


def test_the_shipped_table_is_served_at_the_smoke_scale_too(monkeypatch):
    """The zoo is a published table: a reader's scale shrinks the reader's own computations, not the zoo."""
    monkeypatch.setenv("SALTOOLS_SCALE", "smoke")
    with warnings.catch_warnings():
        warnings.simplefilter("error")                     # a refused table would warn and compute
        table = st.claims.zoo_verdicts()
    assert table.attrs["provenance"]["source"] == "shipped"
    assert table.attrs["provenance"]["settings"]["n_reference"] == st.profiles.PROFILES["embedded"].n_reference // 2


def _broken(path, change):
    saved = json.loads(SHIPPED_VERDICTS.read_text())
    change(saved)
    path.write_text(json.dumps(saved))
    return path


@pytest.mark.parametrize("change, message", [
    (lambda s: s["rows"][0].update(effect=s["rows"][0]["effect"] + 0.01), "SHA-256"),
    (lambda s: s["rows"].pop(), "SHA-256"),
    (lambda s: s.update(registry_hash="0" * 16), "another registry_hash"),
    (lambda s: s["models"].update({"shapes-vgg": "0" * 64}), "another models"),
    (lambda s: s["settings"].update(n_repairs=1), "another settings"),
    (lambda s: s.pop("rows"), "not a table"),
])
def test_a_shipped_table_that_does_not_fit_the_code_is_refused(tmp_path, change, message):
    with pytest.warns(UserWarning, match=message):
        table, provenance = read_shipped(_broken(tmp_path / "zoo.json", change))
    assert table is None and provenance == {}


def test_an_unreadable_shipped_table_is_refused(tmp_path):
    (tmp_path / "zoo.json").write_text("{not json")
    with pytest.warns(UserWarning, match="does not read"):
        assert read_shipped(tmp_path / "zoo.json")[0] is None
    with pytest.warns(UserWarning, match="does not read"):
        assert read_shipped(tmp_path / "missing.json")[0] is None


def test_writing_and_reading_the_shipped_table_round_trips(tmp_path):
    table, _ = read_shipped()
    write_shipped(table, tmp_path / "zoo.json")
    again, provenance = read_shipped(tmp_path / "zoo.json")
    pd.testing.assert_frame_equal(again[list(SHIPPED_COLUMNS)], table[list(SHIPPED_COLUMNS)])
    assert provenance["source"] == "shipped" and not list(tmp_path.glob("*.tmp"))


def test_zoo_verdicts_refuses_an_unknown_source():
    with pytest.raises(ValueError, match="source must be one of"):
        st.claims.zoo_verdicts(source="internet")


def test_the_shipped_table_equals_a_recomputation_from_scratch(tmp_path, monkeypatch):
    """The zoo is seeded end to end: recomputed on this machine (no cached statistics or verdicts), every
    verdict, n and reason is the shipped one, and every effect and bound equal to the last bit."""
    monkeypatch.setenv("SALTOOLS_CACHE", str(tmp_path))
    monkeypatch.delenv("SALTOOLS_SCALE", raising=False)
    shipped, _ = read_shipped()
    fresh = st.claims.zoo_verdicts(source="recompute", progress=False)
    key = ["model", "claim"]
    shipped, fresh = (t[list(SHIPPED_COLUMNS)].sort_values(key).reset_index(drop=True) for t in (shipped, fresh))
    assert fresh[key].equals(shipped[key])
    for column in ("verdict", "n", "unit", "reason"):
        differ = fresh[column].astype(str) != shipped[column].astype(str)
        assert not differ.any(), fresh[differ].merge(shipped[differ], on=key, suffixes=("", "_shipped")).to_string()
    for column in ("effect", "low", "high"):
        a, b = fresh[column].to_numpy(float), shipped[column].to_numpy(float)
        same = (a == b) | (np.isnan(a) & np.isnan(b))
        assert same.all(), fresh.loc[~same, key + [column]].assign(shipped=b[~same]).to_string()
