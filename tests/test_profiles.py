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


def test_smoke_scale_shrinks_every_size_and_keeps_the_code_path(monkeypatch):
    monkeypatch.setenv("SALTOOLS_SCALE", "smoke")
    for name in ("embedded", "full"):
        default, smoke = st.profiles.PROFILES[name], st.profiles.get(name)
        assert smoke.scale == "smoke" and (smoke.model, smoke.data, smoke.image_size) == \
            (default.model, default.data, default.image_size)
        for size, limit in st.profiles.SMOKE_SIZES.items():
            assert getattr(smoke, size) == min(getattr(default, size) or limit, limit), size
        assert smoke.intervention_ks[-1] == smoke.top_k and list(smoke.intervention_ks) == sorted(smoke.intervention_ks)
    monkeypatch.setenv("SALTOOLS_SCALE", "tiny")
    with pytest.raises(ValueError, match="smoke"):
        st.profiles.get("embedded")
    monkeypatch.delenv("SALTOOLS_SCALE")
    assert st.profiles.get("embedded").scale == "default" and st.profiles.get("embedded").intervention_ks == \
        (1, 2, 5, 10, 15, 20, 25)


def test_a_local_weights_file_is_the_full_profile_s_and_makes_it_obtainable(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv("SALTOOLS_WEIGHTS", str(tmp_path / "resnet50.pth"))
    assert st.profiles.get("full").weights == str(tmp_path / "resnet50.pth")
    assert st.profiles.get("embedded").weights is None          # the shipped, hash-checked weights
    assert st.profiles._full_weights_obtainable() is True
