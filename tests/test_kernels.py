"""The per-sample filter statistic kernels: each one exact in float64 on every layer shape of ResNet-18 and
ResNet-50 at 224 px, the choice per layer, and the whole statistic on both networks against the loop."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

import saltools as st
from saltools.models.filters import conv_layers
from saltools.paramsal import filter_saliency, filter_saliency_loop, kernels


def _definition(conv: nn.Conv2d, x: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """mean |dL/dW| per image and filter, with autograd, one image at a time."""
    weight = conv.weight.detach().clone().requires_grad_(True)
    rows = []
    for xi, gi in zip(x, grad):
        out = F.conv2d(xi[None], weight, None, conv.stride, conv.padding, conv.dilation, conv.groups)
        (dw,) = torch.autograd.grad((out * gi[None]).sum(), weight)
        rows.append(dw.abs().mean((1, 2, 3)))
    return torch.stack(rows)


def _applicable(conv: nn.Conv2d) -> list[str]:
    names = ["per_image", "strided"]
    if conv.groups == conv.in_channels > 1:
        names.append("depthwise")
    if conv.groups == 1 and conv.stride == (1, 1):
        names.append("stride1")
    if conv.groups == 1 and conv.kernel_size == (1, 1) and conv.padding == (0, 0):
        names.append("pointwise")
    return names


def _layer_shapes():
    """Every distinct conv configuration of ResNet-18 and ResNet-50, with its input size at 224 px."""
    shapes = {}
    for arch in ("resnet18", "resnet50"):
        model = getattr(torchvision.models, arch)(weights=None).eval()
        sizes = {}
        handles = [conv.register_forward_hook(lambda m, a, o, n=name: sizes.__setitem__(n, a[0].shape[-1]))
                   for name, conv in conv_layers(model)]
        with torch.no_grad():
            model(torch.zeros(1, 3, 224, 224))
        for handle in handles:
            handle.remove()
        for name, conv in conv_layers(model):
            key = (conv.in_channels, conv.out_channels, conv.kernel_size[0], conv.stride[0], conv.padding[0],
                   sizes[name])
            shapes.setdefault(key, f"{arch}.{name}")
    return shapes


LAYER_SHAPES = _layer_shapes()


@pytest.mark.parametrize("key", list(LAYER_SHAPES), ids=list(LAYER_SHAPES.values()))
def test_every_kernel_is_exact_on_every_resnet_layer_shape_at_224px(key):
    in_ch, out_ch, k, stride, padding, size = key
    torch.manual_seed(sum(key))
    conv = nn.Conv2d(in_ch, out_ch, k, stride, padding, bias=False).double()
    x = torch.rand(2, in_ch, size, size, dtype=torch.float64).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        grad = torch.randn_like(conv(x))
    expected = _definition(conv, x, grad)
    for name in _applicable(conv):
        got = kernels.filter_statistic(conv, x, grad, kernels.Workspace(), kernel=name)
        torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-14, msg=f"kernel {name}")


def test_each_layer_gets_the_kernel_for_its_shape():
    chosen = {name: kernels.kernel_name(conv) for name, conv in conv_layers(torchvision.models.resnet50())}
    assert chosen["conv1"] == "per_image"                                   # 3 input channels
    assert chosen["layer1.0.conv1"] == chosen["layer2.0.downsample.0"] == "pointwise"   # 1x1, stride 1 and 2
    assert chosen["layer1.0.conv2"] == "stride1" and chosen["layer2.0.conv2"] == "strided"
    assert kernels.kernel_name(torchvision.models.mobilenet_v2().features[1].conv[0][0]) == "depthwise"
    assert kernels.kernel_name(nn.Conv2d(8, 8, 1, padding=1)) == "stride1"   # padded 1x1: zero border terms
    assert kernels.kernel_name(nn.Conv2d(8, 16, 3, groups=4)) == "strided"
    with pytest.raises(ValueError, match="kernel must be one of"):
        kernels.filter_statistic(nn.Conv2d(3, 4, 1), torch.rand(1, 3, 4, 4), torch.rand(1, 4, 4, 4),
                                 kernels.Workspace(), kernel="nope")


@pytest.mark.parametrize("arch", ["resnet18", "resnet50"])
def test_whole_network_at_224px_equals_the_one_image_loop_in_float64(arch):
    torch.manual_seed(0)
    model = getattr(torchvision.models, arch)(num_classes=10).double().eval()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
    x, y = torch.rand(2, 3, 224, 224, dtype=torch.float64), torch.tensor([3, 7])
    torch.testing.assert_close(filter_saliency(model, x, y), filter_saliency_loop(model, x, y),
                               rtol=1e-10, atol=1e-14)


class _LearnedInputShift(nn.Module):
    """A learned shift before the stem, and a second branch that reads the images directly: the stem's
    input needs a gradient, so a backward to the outputs of convs that read the images misses it."""

    def __init__(self):
        super().__init__()
        self.shift = nn.Parameter(torch.full((1, 3, 1, 1), 0.1))
        self.stem, self.side = nn.Conv2d(3, 4, 3, padding=1), nn.Conv2d(3, 4, 3, padding=1)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        features = torch.cat([self.stem(x + self.shift), self.side(x)], 1)
        return self.fc(F.relu(features).mean((2, 3)))


@pytest.mark.parametrize("freeze", [False, True])
def test_graphs_where_the_images_are_not_read_by_a_conv_alone_still_get_every_layer(freeze):
    torch.manual_seed(0)
    model = _LearnedInputShift().double().eval()
    model.stem.requires_grad_(not freeze)
    flags = [p.requires_grad for p in model.parameters()]
    x, y = torch.rand(5, 3, 12, 12, dtype=torch.float64), torch.arange(5)
    torch.testing.assert_close(filter_saliency(model, x, y, batch_size=2), filter_saliency_loop(model, x, y),
                               rtol=1e-10, atol=1e-14)
    assert [p.requires_grad for p in model.parameters()] == flags


def test_frozen_layers_are_measured_and_left_frozen():
    model = st.models.load("shapes-resnet")
    model.requires_grad_(False)
    data = st.data.Shapes(6, split="test")
    frozen = filter_saliency(model, data.images, data.labels)
    assert not any(p.requires_grad for p in model.parameters())
    model.requires_grad_(True)
    torch.testing.assert_close(frozen, filter_saliency(model, data.images, data.labels))
