import pytest
import torch

import saltools as st


def test_environment_variable_chooses_the_profile(monkeypatch):
    monkeypatch.setenv("SALTOOLS_PROFILE", "embedded")
    p = st.profiles.current()
    assert p.name == "embedded" and p.model == "shapes-resnet" and p.device == "cpu"
    monkeypatch.setenv("SALTOOLS_PROFILE", "full")
    p = st.profiles.current()
    assert p.name == "full" and p.model == "resnet50"
    assert p.device == ("cuda" if torch.cuda.is_available() else "cpu")


def test_unknown_profile_is_rejected(monkeypatch):
    monkeypatch.setenv("SALTOOLS_PROFILE", "huge")
    with pytest.raises(ValueError, match="embedded"):
        st.profiles.current()


@pytest.mark.skipif(torch.cuda.is_available(), reason="automatic choice without a GPU")
def test_without_gpu_the_automatic_choice_is_embedded(monkeypatch):
    monkeypatch.delenv("SALTOOLS_PROFILE", raising=False)
    assert st.profiles.current().name == "embedded"


def test_automatic_choice_with_a_gpu_needs_obtainable_weights(monkeypatch):
    monkeypatch.delenv("SALTOOLS_PROFILE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(st.profiles, "_full_weights_obtainable", lambda: False)
    assert st.profiles.current().name == "embedded"
    monkeypatch.setattr(st.profiles, "_full_weights_obtainable", lambda: True)
    assert st.profiles.current().name == "full"


def test_full_weights_not_obtainable_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    assert st.profiles._full_weights_obtainable() is False


def test_profile_sizes_are_sane():
    for p in st.profiles.PROFILES.values():
        assert p.n_reference > p.n_query > 0 and 0.5 < p.tail_quantile < 1
    small = st.profiles.get("embedded").with_(n_reference=10)
    assert small.n_reference == 10 and st.profiles.get("embedded").n_reference != 10
