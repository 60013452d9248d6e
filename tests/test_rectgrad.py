"""RectGrad: exact against Guided Backprop and a naive per-layer version; leaves models unchanged."""
import copy
import warnings

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from captum.attr import GuidedBackprop

import saltools as st
from saltools.rectgrad import InSpace, RectGrad, percentile_rows


def tiny_net() -> nn.Sequential:
    torch.manual_seed(1)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 6, 3, stride=2, padding=1),
                         nn.ReLU(inplace=True), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(6 * 4 * 4, 8), nn.ReLU(),
                         nn.Linear(8, 5)).double()


class FunctionalNet(nn.Module):
    """The tiny net with functional and tensor-method ReLUs instead of modules."""

    def __init__(self, seq: nn.Sequential):
        super().__init__()
        self.seq = seq

    def forward(self, x):
        s = self.seq
        x = F.relu(s[0](x))
        x = s[2](x).relu_()
        x = torch.flatten(s[4](x), 1)
        return s[8](torch.relu(s[6](x)))


def naive_rectgrad(net: nn.Sequential, x, target, q=None, tau=None, border=False):
    """Layer by layer: ordinary vector-Jacobian products, the RectGrad gate at each ReLU (numpy's
    percentile), the gradient x input at the end."""
    inputs, h = [], x
    for layer in net:
        inputs.append(h.detach().requires_grad_(True))
        h = layer(inputs[-1].clone())
    grad = F.one_hot(torch.as_tensor(target), h.shape[1]).to(h)
    for layer, inp in zip(reversed(net), reversed(inputs)):
        out = layer(inp.clone())
        if isinstance(layer, nn.ReLU):
            importance = (out * grad).detach().numpy().reshape(len(x), -1)
            t = np.full(len(x), tau) if tau is not None else np.percentile(importance, q, axis=1)
            keep = importance > t[:, None]
            grad = grad * torch.from_numpy(keep.reshape(grad.shape)).to(grad)
        else:
            if border and isinstance(layer, nn.Conv2d) and layer.padding != (0, 0):
                grad = grad.clone()
                grad[..., 0, :] = grad[..., -1, :] = 0
                grad[..., :, 0] = grad[..., :, -1] = 0
            (grad,) = torch.autograd.grad(out, inp, grad)
    return grad * x


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(0)
    return torch.rand(6, 3, 16, 16, generator=g, dtype=torch.float64), torch.tensor([0, 1, 2, 3, 4, 0])


@pytest.mark.parametrize("q", [98.0, 50.0, 0.0])
def test_percentile_rule_equals_naive_per_layer_version(batch, q):
    x, y = batch
    net = tiny_net()
    expected = naive_rectgrad(net, x, y, q=q)
    assert torch.allclose(RectGrad(net, percentile=q).attribute(x, target=y), expected, rtol=0, atol=1e-12)
    assert torch.allclose(RectGrad(FunctionalNet(net), percentile=q).attribute(x, target=y), expected,
                          rtol=0, atol=1e-12)


def test_constant_threshold_and_padding_trick_equal_naive(batch):
    x, y = batch
    net = tiny_net()
    for tau in (0.0, 1e-3):
        assert torch.allclose(RectGrad(net, threshold=tau).attribute(x, y), naive_rectgrad(net, x, y, tau=tau),
                              rtol=0, atol=1e-12)
    tricked = RectGrad(net, percentile=90, padding_trick=True).attribute(x, y)
    assert torch.allclose(tricked, naive_rectgrad(net, x, y, q=90, border=True), rtol=0, atol=1e-12)
    assert not torch.allclose(tricked, RectGrad(net, percentile=90).attribute(x, y))


def _guided_backprop_x_input(model, x, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return GuidedBackprop(model).attribute(x.clone(), target=y) * x


def test_threshold_zero_is_guided_backprop_times_input(shapes_model):
    model = copy.deepcopy(shapes_model).double()
    ds = st.data.Shapes(8)
    x = ds.images.double()
    ours = RectGrad(model, threshold=0.0).attribute(x, target=ds.labels)
    assert torch.equal(ours, _guided_backprop_x_input(model, x, ds.labels))
    # percentile 0 is a different rule: its threshold is the minimum of a * R, often negative
    assert not torch.allclose(RectGrad(model, percentile=0.0).attribute(x, target=ds.labels), ours)


def test_torchvision_resnet_reused_relu_matches_guided_backprop():
    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=7).double().eval()
    x = torch.rand(3, 3, 40, 40, dtype=torch.float64)
    y = torch.tensor([0, 3, 6])
    assert torch.allclose(RectGrad(model, threshold=0.0).attribute(x, y), _guided_backprop_x_input(model, x, y),
                          rtol=0, atol=1e-13)
    calls = []
    model.layer1[0].relu.register_forward_hook(lambda *a: calls.append(1))
    RectGrad(model).attribute(x, y)
    assert len(calls) == 2      # BasicBlock uses its ReLU module twice; both calls are rectified


def test_batched_equals_one_by_one(shapes_model):
    ds = st.data.Shapes(5)
    method = RectGrad(shapes_model)
    batched = method.attribute(ds.images, ds.labels)
    single = torch.cat([method.attribute(ds.images[i:i + 1], ds.labels[i:i + 1]) for i in range(5)])
    assert torch.allclose(batched, single, rtol=1e-4, atol=1e-6 * single.abs().max().item())


def test_nobias_drops_only_the_input_factor(shapes_model):
    ds = st.data.Shapes(4)
    x = ds.images
    grad = RectGrad(shapes_model, multiply_by_inputs=False).attribute(x, ds.labels)
    assert torch.equal(RectGrad(shapes_model).attribute(x, ds.labels), grad * x)
    assert torch.equal(RectGrad(shapes_model).attribute(x), RectGrad(shapes_model).attribute(
        x, st.models.predict(shapes_model, x).argmax(1)))


def _snapshot(model):
    return ({k: v.clone() for k, v in model.state_dict().items()}, [m.training for m in model.modules()],
            [p.requires_grad for p in model.parameters()],
            sum(len(m._forward_hooks) + len(m._backward_hooks) + len(m._forward_pre_hooks) for m in model.modules()))


def _same(model, snap):
    state, modes, grads, hooks = _snapshot(model)
    return (all(torch.equal(state[k], snap[0][k]) for k in state) and modes == snap[1] and grads == snap[2]
            and hooks == snap[3])


def test_model_unchanged_also_on_error(shapes_model):
    model = copy.deepcopy(shapes_model).train()
    model.layer2.requires_grad_(False)
    snap = _snapshot(model)
    ds = st.data.Shapes(4)
    RectGrad(model, padding_trick=True).attribute(ds.images, ds.labels)
    assert _same(model, snap)
    with pytest.raises(ValueError, match=r"target must lie in \[0, 9\]"):
        RectGrad(model, padding_trick=True).attribute(ds.images, torch.tensor([0, 1, 2, 99]))
    assert _same(model, snap)
    x = torch.randn(4, 3)
    assert torch.equal(F.relu(x), x.clamp(min=0))       # no rectifying mode left behind
    assert "Relu" in model.layer1[0].relu(torch.randn(2, 3, requires_grad=True) * 1).grad_fn.name()


def test_bad_input_is_rejected(shapes_model):
    with pytest.raises(TypeError, match="torch.nn.Module"):
        RectGrad("model")
    with pytest.raises(ValueError, match="percentile"):
        RectGrad(shapes_model, percentile=120)
    with pytest.raises(ValueError, match="at least one image"):
        RectGrad(shapes_model).attribute(torch.rand(0, 3, 64, 64))
    with pytest.raises(TypeError, match="floating point"):
        RectGrad(shapes_model).attribute(torch.zeros(1, 3, 64, 64, dtype=torch.uint8))
    with pytest.raises(ValueError, match="class indices"):
        RectGrad(shapes_model).attribute(torch.rand(2, 3, 64, 64), target=[1, 2, 3])


@pytest.mark.parametrize("activation, name", [(nn.LeakyReLU(0.1), "leaky_relu"), (nn.GELU(), "gelu"),
                                              (nn.ReLU6(), "hardtanh"), (nn.SiLU(), "silu"), (nn.Sigmoid(), "sigmoid")])
def test_an_activation_rectgrad_cannot_rectify_is_named_and_refused(activation, name):
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3), activation, nn.Flatten(),
                          nn.Linear(4 * 4 * 4, 3)).train()
    snap = _snapshot(model)
    with pytest.raises(ValueError, match=rf"RectGrad rectifies ReLUs only, and the model computes {name} \(1 call\)"):
        RectGrad(model).attribute(torch.rand(2, 3, 8, 8), target=0)
    assert _same(model, snap)
    model[3] = nn.ReLU()                                   # the same network with ReLUs only is explained
    assert RectGrad(model).attribute(torch.rand(2, 3, 8, 8), target=0).shape == (2, 3, 8, 8)


def test_percentile_rows_matches_numpy():
    values = torch.randn(5, 1001, dtype=torch.float64)
    for q in (0, 12.5, 50, 98, 100):
        assert np.allclose(percentile_rows(values, q).numpy(), np.percentile(values.numpy(), q, axis=1))


@pytest.mark.parametrize("space", ["unit", "symmetric", "standardized"])
def test_input_spaces_keep_the_function_and_move_the_zero_point(shapes_model, space):
    ds = st.data.Shapes(3)
    wrapped = InSpace(shapes_model, space)
    z = wrapped.encode(ds.images)
    assert torch.allclose(wrapped(z), st.models.predict(shapes_model, ds.images), atol=1e-4)
    assert torch.allclose(wrapped.encode(wrapped.zero_point().view(1, 3, 1, 1)), torch.zeros(1, 3, 1, 1), atol=1e-6)
    maps = RectGrad(wrapped).attribute(z, ds.labels)
    zero = wrapped.zero_point().view(1, 3, 1, 1).expand(1, 3, 64, 64)
    flat = RectGrad(wrapped).attribute(wrapped.encode(zero), target=0)
    assert flat.abs().max() < 1e-5 and maps.abs().max() > 0      # the zero-point image gets no relevance
    if space == "unit":
        assert torch.allclose(maps, RectGrad(shapes_model).attribute(ds.images, ds.labels), atol=1e-6)


def test_input_space_rejects_unknown_space_and_missing_statistics(shapes_model):
    with pytest.raises(ValueError, match="space must be one of"):
        InSpace(shapes_model, "hsv")
    with pytest.raises(ValueError, match="mean= and std="):
        InSpace(nn.Sequential(nn.Conv2d(3, 1, 1)), "standardized")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu(shapes_model):
    ds = st.data.Shapes(4)
    cpu = RectGrad(shapes_model).attribute(ds.images, ds.labels)
    gpu = RectGrad(copy.deepcopy(shapes_model).cuda()).attribute(ds.images.cuda(), ds.labels.cuda())
    assert torch.allclose(gpu.cpu(), cpu, atol=1e-4 * cpu.abs().max().item())


def test_nobias_rectgrad_is_the_same_in_every_input_space(shapes_model):
    """An identity of the method (chapter 5 prints the gap, no longer a claim): without the final
    multiplication, the input space (equal channel stds) changes nothing; RectGrad, which multiplies, changes."""
    context = st.claims.InputBiasContext(shapes_model, n_sweep=4, space_levels=(0.0, 1.0),
                                         space_methods=["RectGrad", "NoBias RectGrad"])
    assert st.claims.nobias_space_gap(context) < 1e-4
    rows = context.by_space[context.by_space.method == "RectGrad"]
    wide = rows.pivot_table(index=["level", "image"], columns="space", values="mass_accuracy")
    assert wide.sub(wide["unit"], axis=0).abs().to_numpy().max() > 0.05
