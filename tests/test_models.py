import shutil
import time

import pytest
import torch
import torch.nn as nn
import torchvision

import saltools as st
from saltools.data import Shapes
from saltools.models import ChecksumError, WeightsUnavailableError


def test_shipped_model_loads_in_eval_mode_and_takes_unit_range_images(shapes_model):
    assert not shapes_model.training
    assert len(shapes_model.classes) == 10
    logits = st.models.predict(shapes_model, Shapes(4).images)
    assert logits.shape == (4, 10)
    assert [n for n, _ in shapes_model.named_children()][:2] == ["normalize", "conv1"]


def test_shipped_model_is_accurate_on_unseen_source_images_and_worse_under_shift(shapes_model):
    source = st.models.accuracy(shapes_model, Shapes(2000, split="test"))
    target = st.models.accuracy(shapes_model, Shapes(2000, split="test", domain="target"))
    assert source >= 0.97
    assert source < 1.0, "chapters 1-4 need some source-domain mistakes"
    assert target <= source - 0.15


def test_robustness_table_says_what_chapter_0_shows(shapes_model):
    table = st.models.robustness(shapes_model, n=300, progress=False)
    assert len(table) == 2 + 5 * len(st.data.CORRUPTIONS)
    corrupted = table[table.corruption != "none"]
    worst = corrupted.groupby("corruption").accuracy.agg(["first", "last"])
    # every corruption hurts more at severity 5 than at severity 1
    assert (worst["last"] < worst["first"]).all()


def test_corrupted_checkpoint_gives_a_clear_error(tmp_path, monkeypatch):
    good = st.models.asset_path(st.models.SHIPPED["shapes-resnet"].file)
    bad = tmp_path / "shapes_resnet.pt"
    shutil.copy(good, bad)
    with open(bad, "r+b") as f:
        f.seek(1000)
        f.write(b"\x00\x01\x02")
    monkeypatch.setattr(st.models.loading, "asset_path", lambda file: bad)
    with pytest.raises(ChecksumError, match="reinstall"):
        st.models.load("shapes-resnet")


def test_shipped_checkpoint_matches_its_hash_and_is_small():
    path = st.models.asset_path(st.models.SHIPPED["shapes-resnet"].file)
    assert st.models.sha256(path) == st.models.SHIPPED["shapes-resnet"].sha256
    assert path.stat().st_size < 5e6


def test_torchvision_offline_and_uncached_fails_fast_naming_the_way_out(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    start = time.monotonic()
    with pytest.raises(WeightsUnavailableError) as err:
        st.models.load("resnet18")
    assert time.monotonic() - start < 20
    assert "SALTOOLS_PROFILE=embedded" in str(err.value) and "TORCH_HOME" in str(err.value)


def test_torchvision_loading_code_on_a_local_cached_state_dict(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    reference = torchvision.models.resnet18(weights=None)
    url = torchvision.models.ResNet18_Weights.IMAGENET1K_V1.url
    cached = tmp_path / "hub" / "checkpoints" / url.rsplit("/", 1)[-1]
    cached.parent.mkdir(parents=True)
    torch.save(reference.state_dict(), cached)
    with pytest.raises(st.models.ChecksumError, match=cached.name):
        st.models.load("resnet18")          # random weights under the real checkpoint's name: refused
    model = st.models.load("resnet18", weights=cached)      # the same file, given as the user's own
    assert not model.training and len(model.classes) == 1000
    assert torch.equal(model.net.conv1.weight, reference.conv1.weight)
    x = torch.rand(2, 3, 64, 64)
    norm = (x - torch.tensor(st.models.IMAGENET_MEAN)[:, None, None]) / torch.tensor(st.models.IMAGENET_STD)[:, None, None]
    with torch.no_grad():
        assert torch.allclose(model(x), reference.eval()(norm), atol=1e-5)
    assert torch.equal(model.net.fc.weight, reference.fc.weight)


def test_a_cached_checkpoint_whose_hash_matches_its_name_loads(tmp_path):
    good = tmp_path / "weights.pth"
    good.write_bytes(b"not really weights")
    named = tmp_path / f"resnet18-{st.models.sha256(good)[:8]}.pth"
    good.rename(named)
    assert st.models.check_hash_prefix(named) == named
    (tmp_path / "resnet18-00000000.pth").write_bytes(b"other")
    with pytest.raises(st.models.ChecksumError, match="sha256"):
        st.models.check_hash_prefix(tmp_path / "resnet18-00000000.pth")


def test_unknown_model_name():
    with pytest.raises(ValueError, match="shapes-resnet"):
        st.models.load("vgg99")


def test_filter_index_of_the_shipped_model(shapes_model):
    index = st.models.filter_index(shapes_model)
    convs = st.models.conv_layers(shapes_model)
    assert len(index) == sum(c.out_channels for _, c in convs)
    assert index.column.tolist() == list(range(len(index)))
    assert list(index.stage.unique()) == ["conv1", "layer1", "layer2", "layer3", "layer4"]
    assert index.depth.max() == len(convs) - 1
    first = index[index.layer == "layer2.0.downsample.0"]
    assert first.downsample.all() and (first.kernel == "1x1").all() and len(first) == 32


@pytest.mark.parametrize("builder, filters, layers", [("resnet18", 4800, 20), ("resnet50", 26560, 53)])
def test_filter_index_of_torchvision_resnets(builder, filters, layers):
    model = st.models.Normalized(getattr(torchvision.models, builder)(weights=None),
                                 st.models.IMAGENET_MEAN, st.models.IMAGENET_STD)
    index = st.models.filter_index(model)
    assert len(index) == filters and index.layer.nunique() == layers
    assert set(index.stage) == {"conv1", "layer1", "layer2", "layer3", "layer4"}


def test_filter_index_rejects_models_without_convs():
    with pytest.raises(ValueError, match="no nn.Conv2d"):
        st.models.filter_index(nn.Sequential(nn.Flatten(), nn.Linear(4, 2)))
    with pytest.raises(TypeError):
        st.models.filter_index("resnet")


def test_predict_leaves_the_model_as_it_found_it(shapes_model):
    model = st.models.load("shapes-resnet")
    model.train()
    model.layer1.requires_grad_(False)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    st.models.predict(model, Shapes(8).images)
    assert model.training and all(m.training for m in model.modules())
    assert not any(p.requires_grad for p in model.layer1.parameters())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_preserved_state_restores_on_error():
    model = st.models.load("shapes-resnet")
    with pytest.raises(RuntimeError):
        with st.models.preserved_state(model):
            model.train()
            model.requires_grad_(False)
            raise RuntimeError("boom")
    assert not model.training and all(p.requires_grad for p in model.parameters())


def test_predict_rejects_bad_images(shapes_model):
    with pytest.raises(ValueError, match=r"\[N, C, H, W\]"):
        st.models.predict(shapes_model, torch.rand(3, 64, 64))


def test_training_learns_and_restores_mode():
    data = Shapes(256, split="train")
    model = st.models.ShapesResNet(layers=(1, 1, 1, 1), widths=(8, 8, 8, 8))
    model.eval()
    history = st.models.train(model, data, epochs=2, batch_size=64, progress=False)
    assert list(history.columns) == ["epoch", "loss", "accuracy"] and len(history) == 2
    assert history.loss.iloc[-1] < history.loss.iloc[0]
    assert not model.training
