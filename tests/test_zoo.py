"""The Shapes model zoo: every model loads offline from its hash-checked asset, is accurate on source
images it never saw, worse on the target domain, and has the stage names the depth analyses use."""
import pytest
import torch

import saltools as st

ZOO = list(st.models.SHIPPED)


@pytest.fixture(scope="module")
def fresh():
    # split "test" with seed 3: images no training run (split "train") and no chapter (seed 0) uses
    return st.data.Shapes(2000, split="test", seed=3), st.data.Shapes(2000, split="test", seed=3, domain="target")


@pytest.mark.parametrize("name", ZOO)
def test_zoo_model_is_accurate_on_unseen_source_images_and_worse_under_shift(name, fresh):
    model = st.models.load(name)
    assert not model.training and model.classes == st.data.CLASSES
    source, target = (st.models.accuracy(model, data) for data in fresh)
    assert source >= 0.97, f"{name}: {source:.3f} on source"
    assert target <= source - 0.1, f"{name}: {target:.3f} on target"


@pytest.mark.parametrize("name", ZOO)
def test_zoo_asset_matches_its_hash_and_stage_names(name):
    spec = st.models.SHIPPED[name]
    assert st.models.sha256(st.models.asset_path(spec.file)) == spec.sha256
    index = st.models.filter_index(st.models.load(name))
    assert list(index.stage.unique()) == ["conv1", "layer1", "layer2", "layer3", "layer4"]


def test_zoo_assets_fit_the_budget_and_differ():
    files = [st.models.asset_path(spec.file) for spec in st.models.SHIPPED.values()]
    assert sum(f.stat().st_size for f in files) <= 25e6
    assert len({st.models.SHIPPED[name].sha256 for name in ZOO}) == len(ZOO)


def test_zoo_covers_seeds_depth_plain_and_depthwise_networks():
    kinds = {name: st.models.load(name) for name in ZOO}
    grouped = [m for m in kinds["shapes-mobilenet"].modules() if isinstance(m, torch.nn.Conv2d) and m.groups > 1]
    assert grouped and all(m.groups == m.in_channels for m in grouped)
    assert not any("downsample" in n for n, _ in kinds["shapes-vgg"].named_modules())
    assert len(st.models.conv_layers(kinds["shapes-resnet-deep"])) > len(st.models.conv_layers(kinds["shapes-resnet"]))
    seeds = {st.models.SHIPPED[n].seed for n in ("shapes-resnet", "shapes-resnet-seed1", "shapes-resnet-seed2")}
    assert seeds == {0, 1, 2}


def test_filter_statistic_is_exact_on_depthwise_convolutions():
    model = st.models.ShapesMobileNet(widths=(8, 8, 16, 16), blocks=1, head=16).double().eval()
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
    images, labels = torch.rand(6, 3, 32, 32, dtype=torch.float64), torch.randint(0, 10, (6,))
    batched = st.paramsal.filter_saliency(model, images, labels, batch_size=4)
    loop = st.paramsal.filter_saliency_loop(model, images, labels)
    assert torch.allclose(batched, loop, rtol=1e-9, atol=1e-14)
