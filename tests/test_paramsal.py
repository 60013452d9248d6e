import copy

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

import saltools as st
from saltools.data import Shapes
from saltools.paramsal import (ParameterSaliency, edited_filters, filter_saliency, filter_saliency_loop,
                               input_projection, intervention_curves)


def _randomized_bn(model):
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
    return model


def _state(model):
    return ({k: v.clone() for k, v in model.state_dict().items()}, [m.training for m in model.modules()],
            [p.requires_grad for p in model.parameters()], [p.grad for p in model.parameters()])


def _assert_unchanged(model, state):
    params, modes, flags, grads = state
    assert all(torch.equal(params[k], v) for k, v in model.state_dict().items())
    assert [m.training for m in model.modules()] == modes
    assert [p.requires_grad for p in model.parameters()] == flags
    assert all(g is None for g in grads) and all(p.grad is None for p in model.parameters())
    for m in model.modules():
        assert not m._forward_hooks and not m._forward_pre_hooks and not m._backward_hooks


# ----------------------------------------------------------------------------- exactness
@pytest.mark.parametrize("builder, size", [
    (lambda: st.models.ShapesResNet(), 64),                                  # shipped architecture
    (lambda: torchvision.models.resnet18(num_classes=7), 48),               # strided, 1x1, BN
    (lambda: torchvision.models.vgg11(num_classes=7), 32),                  # in-place ReLU right after conv
    (lambda: torchvision.models.mobilenet_v2(num_classes=7), 32),           # grouped / depthwise convs
])
def test_batched_equals_one_image_at_a_time_in_float64(builder, size):
    torch.manual_seed(0)
    model = _randomized_bn(builder()).double().eval()
    x = torch.rand(5, 3, size, size, dtype=torch.float64)
    y = torch.randint(0, 7, (5,))
    batched = filter_saliency(model, x, y, batch_size=3)
    loop = filter_saliency_loop(model, x, y)
    assert batched.shape == (5, len(st.models.filter_index(model)))
    torch.testing.assert_close(batched, loop, rtol=1e-10, atol=1e-14)


class _OddConvNet(nn.Module):
    """Reflect padding, dilated 'same' padding, a grouped strided conv, and a ``.view`` flatten (which
    refuses channels-last activations, so saltools must fall back to contiguous memory)."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 8, 3, padding=1, padding_mode="reflect")
        self.b = nn.Conv2d(8, 8, 3, padding="same", dilation=2, bias=False)
        self.c = nn.Conv2d(8, 16, 3, stride=2, groups=4)
        self.fc = nn.Linear(16 * 7 * 7, 5)

    def forward(self, x):
        x = self.c(F.relu(self.b(F.relu(self.a(x)))))
        return self.fc(x.view(x.shape[0], -1))


class _DepthwiseNet(nn.Module):
    """Depthwise convolutions: strided, dilated, and with a channel multiplier of 2."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 8, 3, padding=1)
        self.b = nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=8, bias=False)
        self.c = nn.Conv2d(8, 16, 3, padding=2, dilation=2, groups=8)
        self.fc = nn.Linear(16, 5)

    def forward(self, x):
        x = self.c(F.relu(self.b(F.relu(self.a(x)))))
        return self.fc(x.mean((2, 3)))


@pytest.mark.parametrize("builder, size", [(_OddConvNet, 16), (_DepthwiseNet, 16),
                                           (lambda: st.models.ShapesResNet(), 32)])
def test_large_batches_in_cache_sized_chunks_equal_the_definition(builder, size):
    torch.manual_seed(1)
    model = _randomized_bn(builder()).double().eval()
    x = torch.rand(70, 3, size, size, dtype=torch.float64)
    y = torch.randint(0, 5, (70,))
    batched = filter_saliency(model, x, y, batch_size=64)              # 64 + 6: workspaces of two sizes
    torch.testing.assert_close(batched, filter_saliency_loop(model, x, y), rtol=1e-10, atol=1e-14)


def test_models_that_view_activations_fall_back_to_contiguous_memory():
    model = _OddConvNet().eval()
    with pytest.raises(RuntimeError, match="view size"):
        model(torch.rand(2, 3, 16, 16).contiguous(memory_format=torch.channels_last))
    state = _state(model)
    assert filter_saliency(model, torch.rand(4, 3, 16, 16), torch.arange(4)).shape == (4, 8 + 8 + 16)
    _assert_unchanged(model, state)


def test_shipped_model_float32_matches_the_definition(shapes_model):
    data = Shapes(48, split="test", domain="target")
    batched = filter_saliency(shapes_model, data.images, data.labels, batch_size=20)
    loop = filter_saliency_loop(shapes_model, data.images, data.labels)
    per_image = (batched - loop).abs().amax(1) / loop.abs().amax(1)
    assert per_image.max() < 1e-3


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu():
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    model = _randomized_bn(torchvision.models.resnet18(num_classes=7)).double().eval()
    x, y = torch.rand(4, 3, 48, 48, dtype=torch.float64), torch.randint(0, 7, (4,))
    cpu = filter_saliency(model, x, y)
    gpu = filter_saliency(model.cuda(), x.cuda(), y.cuda())
    torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-9, atol=1e-14)


def test_model_left_exactly_as_found_also_on_error():
    model = st.models.load("shapes-resnet")
    model.train()
    model.layer2.requires_grad_(False)
    state = _state(model)
    data = Shapes(6)
    filter_saliency(model, data.images, data.labels)
    _assert_unchanged(model, state)
    with pytest.raises(ValueError, match="labels must lie in"):
        filter_saliency(model, data.images, torch.full((6,), 12))
    _assert_unchanged(model, state)


@pytest.mark.parametrize("images, labels, error, match", [
    (torch.rand(3, 64, 64), torch.zeros(3, dtype=torch.long), ValueError, r"\[N, C, H, W\]"),
    (torch.rand(3, 3, 64, 64), torch.zeros(2, dtype=torch.long), ValueError, "one label per image"),
    (torch.rand(3, 3, 64, 64), torch.zeros(3), TypeError, "integer class indices"),
    (torch.rand(2, 3, 64, 64), torch.tensor([0, -1]), ValueError, "labels must lie in"),
])
def test_bad_input_is_rejected_clearly(shapes_model, images, labels, error, match):
    with pytest.raises(error, match=match):
        filter_saliency(shapes_model, images, labels)


def test_model_without_convs_is_rejected():
    with pytest.raises(ValueError, match="no nn.Conv2d"):
        filter_saliency(nn.Sequential(nn.Flatten(), nn.Linear(12, 2)), torch.rand(2, 3, 2, 2), torch.tensor([0, 1]))


# ----------------------------------------------------------------------------- reference statistics
@pytest.fixture(scope="module")
def reference_values(shapes_model):
    data = Shapes(300, split="val")
    return data, filter_saliency(shapes_model, data.images, data.labels)


def test_streamed_statistics_equal_the_full_matrix(shapes_model, reference_values):
    data, values = reference_values
    ps = ParameterSaliency(shapes_model, max_tail=40, sample_size=50, batch_size=64, progress=False).fit(data)
    assert ps.n_ == 300
    torch.testing.assert_close(ps.mean_, values.double().mean(0), rtol=1e-6, atol=1e-12)
    torch.testing.assert_close(ps.std_, values.double().std(0), rtol=1e-5, atol=1e-12)
    assert torch.equal(ps.tail_, values.topk(41, dim=0).values)
    rows = {tuple(r.tolist()) for r in values[:, :8]}
    assert ps.sample_.shape == (50, values.shape[1])
    assert all(tuple(r.tolist()) in rows for r in ps.sample_[:, :8])


def test_merge_of_shards_equals_one_fit(shapes_model):
    kwargs = dict(max_tail=30, sample_size=40, batch_size=64, progress=False)
    whole = ParameterSaliency(shapes_model, **kwargs).fit(Shapes(200, split="val"))
    a = ParameterSaliency(shapes_model, **kwargs).fit(Shapes(70, split="val"))
    b = ParameterSaliency(shapes_model, **kwargs).fit(Shapes(130, split="val", start=70))
    a.merge(b)
    assert a.n_ == 200
    torch.testing.assert_close(a.mean_, whole.mean_)
    torch.testing.assert_close(a.std_, whole.std_)
    torch.testing.assert_close(a.tail_, whole.tail_)    # batch composition changes float rounding
    assert a.sample_.shape == whole.sample_.shape


def test_reservoir_sample_is_uniform(shapes_model):
    counts = np.zeros(200)
    for seed in range(300):
        ps = ParameterSaliency(shapes_model, sample_size=20, seed=seed, progress=False)
        for lo in range(0, 200, 32):                      # stream row ids as values
            rows = torch.arange(lo, min(lo + 32, 200), dtype=torch.float32)
            ps._update(rows[:, None].expand(-1, len(ps.index_)).contiguous())
        counts[ps.sample_[:, 0].long().numpy()] += 1
    expected = 300 * 20 / 200
    # chi-square goodness of fit against uniform inclusion, generous bound (p ~ 1e-6)
    assert ((counts - expected) ** 2 / expected).sum() < 320


def test_memory_does_not_grow_with_n(shapes_model):
    ps = ParameterSaliency(shapes_model, max_tail=10, sample_size=10, progress=False)
    for _ in range(5):
        ps._update(torch.rand(100, len(ps.index_)))
    assert ps.tail_.shape[0] == 11 and ps.sample_.shape[0] == 10 and ps.n_ == 500


def test_query_images_of_the_reference_set_are_refused_unless_asked(shapes_model):
    data = Shapes(40, split="val")
    ps = ParameterSaliency(shapes_model, progress=False).fit(data)
    with pytest.raises(ValueError, match="part of the reference set"):
        ps.saliency(data.images[5:7], data.labels[5:7])
    assert ps.saliency(data.images[5:7], data.labels[5:7], allow_reference_images=True).shape[0] == 2
    fresh = Shapes(3, split="test")
    assert ps.saliency(fresh.images, fresh.labels).shape == (3, len(ps.index_))


def test_empty_reference_and_unfitted_use_are_errors(shapes_model):
    ps = ParameterSaliency(shapes_model, progress=False)
    with pytest.raises(RuntimeError, match="not fitted"):
        ps.score(torch.zeros(1, len(ps.index_)))
    with pytest.raises(ValueError, match="empty"):
        ps.fit(Shapes(0))


def test_save_and_load_round_trip(shapes_model, tmp_path):
    ps = ParameterSaliency(shapes_model, max_tail=20, sample_size=30, progress=False).fit(Shapes(64, split="val"))
    ps.save(tmp_path / "stats.pt")
    back = ParameterSaliency.load(shapes_model, tmp_path / "stats.pt", progress=False)
    assert back.n_ == ps.n_ and torch.equal(back.mean_, ps.mean_) and torch.equal(back.tail_, ps.tail_)
    with pytest.raises(ValueError, match="part of the reference set"):
        back.saliency(Shapes(64, split="val").images[:1], torch.tensor([Shapes(1, split="val").labels[0]]))
    with pytest.raises(ValueError, match="filters"):
        ParameterSaliency.load(torchvision.models.resnet18(), tmp_path / "stats.pt")


def test_zscore_and_ranking(shapes_model):
    ps = ParameterSaliency(shapes_model, progress=False).fit(Shapes(100, split="val"))
    values = torch.rand(3, len(ps.index_)) * 1e-3
    z = ps.score(values)
    std = ps.std_.clone()
    std[std <= 1e-14] = 1
    torch.testing.assert_close(z.double(), (values.double() - ps.mean_) / std, rtol=1e-5, atol=1e-5)
    table = ps.rank(values)
    assert len(table) == 3 * len(ps.index_)
    assert {"image", "layer", "stage", "depth", "filter", "score", "rank"} <= set(table.columns)
    first = table[table.image == 1].sort_values("rank")
    assert first["rank"].tolist() == list(range(1, len(ps.index_) + 1))
    assert first.score.is_monotonic_decreasing
    custom = ps.rank(values, scorer=lambda stats, v: -v)           # any callable plugs in
    assert custom[custom.image == 0].sort_values("rank").statistic.is_monotonic_increasing
    with pytest.raises(ValueError, match="scorer must be one of"):
        ps.score(values, "nope")
    with pytest.raises(ValueError, match="shape"):
        ps.score(torch.rand(3, 5))


def test_zero_variance_filters_are_scored_against_unit_std(shapes_model):
    ps = ParameterSaliency(shapes_model, progress=False)
    ps._update(torch.ones(10, len(ps.index_)))
    z = ps.score(torch.full((1, len(ps.index_)), 3.0))
    assert torch.allclose(z, torch.full_like(z, 2.0))


# ----------------------------------------------------------------------------- interventions
def test_hooked_edits_equal_real_weight_edits():
    torch.manual_seed(0)
    model = _randomized_bn(st.models.ShapesResNet()).double().eval()
    x, y = torch.rand(2, 3, 64, 64, dtype=torch.float64), torch.tensor([3, 7])
    scores = torch.randn(2, 1200)
    table = intervention_curves(model, x, y, scores, ks=[1, 7, 60], lr=0.5, progress=False)
    convs = st.models.conv_layers(model)
    bounds = np.cumsum([0] + [c.out_channels for _, c in convs])
    for method in ("zero", "finetune"):
        for k in (1, 7, 60):
            edited = copy.deepcopy(model)
            econvs = [c for _, c in st.models.conv_layers(edited)]
            grads = torch.autograd.grad(F.cross_entropy(edited(x[1:]), y[1:]), [c.weight for c in econvs])
            with torch.no_grad():
                for col in torch.argsort(scores[1], descending=True, stable=True)[:k].tolist():
                    i = int(np.searchsorted(bounds, col, side="right") - 1)
                    j = col - bounds[i]
                    econvs[i].weight[j] = 0 if method == "zero" else econvs[i].weight[j] - 0.5 * grads[i][j]
                expected = F.softmax(edited(x[1:]), 1)[0, 7].item()
            row = table.query("image == 1 and method == @method and selection == 'salient' and k == @k").iloc[0]
            assert row.p_true == pytest.approx(expected, abs=1e-12)


def test_interventions_leave_the_model_unchanged_and_validate(shapes_model):
    model = st.models.load("shapes-resnet")
    state = _state(model)
    data = Shapes(2, split="test")
    scores = torch.rand(2, 1200)
    table = intervention_curves(model, data.images, data.labels, scores, ks=[1, 3], progress=False)
    assert len(table) == 2 * 2 * 3 * 2
    _assert_unchanged(model, state)
    with pytest.raises(ValueError, match="scores must have shape"):
        intervention_curves(model, data.images, data.labels, scores[:, :10], progress=False)
    with pytest.raises(ValueError, match="unknown method"):
        intervention_curves(model, data.images, data.labels, scores, methods=("burn",), progress=False)
    _assert_unchanged(model, state)


def test_edited_filters_removes_its_hooks_on_error(shapes_model):
    model = st.models.load("shapes-resnet")
    with pytest.raises(RuntimeError):
        with edited_filters(model, keep=torch.ones(1, 1200)):
            raise RuntimeError("boom")
    assert all(not m._forward_hooks for m in model.modules())


def test_input_projection_is_an_image_map_and_leaves_model(shapes_model):
    model = st.models.load("shapes-resnet")
    state = _state(model)
    ps = ParameterSaliency(model, progress=False).fit(Shapes(64, split="val"))
    q = Shapes(1, split="test")
    heat = input_projection(ps, q.images[0], q.labels[0])
    assert heat.shape == (64, 64) and heat.min() >= 0 and heat.max() > 0
    _assert_unchanged(model, state)
    with pytest.raises(ValueError, match=r"\[C, H, W\]"):
        input_projection(ps, q.images, q.labels[0])


# ----------------------------------------------------------------------------- helpers around the engine
def test_reference_statistics_are_cached_by_model_and_data(shapes_model, tmp_path, monkeypatch):
    monkeypatch.setenv("SALTOOLS_CACHE", str(tmp_path))
    data = Shapes(40, split="val")
    first = st.paramsal.reference_statistics(shapes_model, data, progress=False)
    assert len(list(tmp_path.glob("*.pt"))) == 1
    again = st.paramsal.reference_statistics(shapes_model, data, progress=False)
    assert torch.equal(first.mean_, again.mean_) and len(list(tmp_path.glob("*.pt"))) == 1
    st.paramsal.reference_statistics(shapes_model, Shapes(40, split="val", start=1), progress=False)
    assert len(list(tmp_path.glob("*.pt"))) == 2                      # other images: another entry


def test_edited_probabilities_match_the_batched_curves(shapes_model):
    data = Shapes(1, split="test", domain="target")
    scores = torch.rand(1, 1200)
    curves = intervention_curves(shapes_model, data.images, data.labels, scores, ks=[4], selections=("salient",),
                                 progress=False)
    top4 = torch.argsort(scores[0], descending=True)[:4]
    for method in ("zero", "finetune"):
        p = st.paramsal.edited_probabilities(shapes_model, data.images[0], int(data.labels[0]), top4, method)
        row = curves[curves.method == method].iloc[0]
        assert p[int(data.labels[0])].item() == pytest.approx(row.p_true, abs=1e-5)


def test_summary_and_mistakes(shapes_model):
    pool = Shapes(600, split="test", domain="target")
    wrong = st.models.mistakes(shapes_model, pool, limit=5)
    assert len(wrong) == 5 and (wrong.predictions != wrong.labels).all()
    assert torch.equal(pool.labels[wrong.indices], wrong.labels)
    curves = intervention_curves(shapes_model, wrong.images, wrong.labels, torch.rand(5, 1200), ks=[1, 2],
                                 progress=False)
    summary = st.paramsal.summarize_interventions(curves)
    assert len(summary) == 6 and {"corrected_mean_k", "d_wrong_at_kmax"} <= set(summary.columns)


def test_widget_draws_a_static_figure(shapes_model, monkeypatch):
    import matplotlib
    matplotlib.use("Agg")
    shown, updates = [], []

    class Handle:
        def update(self, obj):
            updates.append(obj)

    monkeypatch.setattr(st.widgets, "display", lambda obj, **kw: shown.append(obj) or Handle())
    pool = Shapes(600, split="test", domain="target")
    wrong = st.models.mistakes(shapes_model, pool, limit=3)
    ps = ParameterSaliency(shapes_model, progress=False).fit(Shapes(64, split="val"))
    controls = st.widgets.mistake_explorer(ps, wrong, torch.rand(3, 1200), shapes_model.classes, k_max=5)
    controls["k"].value = 4                                     # moving a control redraws in place
    assert len(updates) == 1 and isinstance(updates[0], matplotlib.figure.Figure)
    figures = [obj for obj in shown if isinstance(obj, matplotlib.figure.Figure)]
    assert len(figures) == 1 and len(figures[0].axes) >= 3


def test_edits_refuse_negative_or_repeated_filter_columns(shapes_model):
    image, label = st.data.Shapes(1).images[0], 0
    n = len(st.models.filter_index(shapes_model))
    for columns in ([-1], [n]):
        with pytest.raises(ValueError, match="no negative"):
            st.paramsal.edited_probabilities(shapes_model, image, label, columns)
    before = [p.clone() for p in shapes_model.parameters()]
    with pytest.raises(ValueError, match="distinct"):
        with st.paramsal.planted_faults(shapes_model, [5, 5]):
            pass
    assert all(torch.equal(a, b) for a, b in zip(before, shapes_model.parameters()))


def test_precomputed_values_stream_through_update_exactly_across_column_blocks():
    import torchvision
    model = torchvision.models.resnet18(weights=None)          # 4,800 filters: three 2,048-column blocks
    ps = ParameterSaliency(model, max_tail=30, sample_size=20, progress=False)
    values = torch.empty(100, len(ps.index_)).exponential_(generator=torch.Generator().manual_seed(0))
    for lo in range(0, 100, 16):
        ps.update(values[lo:lo + 16], torch.arange(lo, min(lo + 16, 100)))
    assert ps.n_ == 100 and torch.equal(ps.tail_, values.topk(31, dim=0).values)
    torch.testing.assert_close(ps.mean_, values.double().mean(0))
    with pytest.raises(ValueError, match="must be finite"):
        ps.update(torch.full((2, len(ps.index_)), float("nan")), torch.arange(2))


def test_merges_write_the_tail_in_place_but_never_into_a_tail_handed_out():
    ps = ParameterSaliency(st.models.ShapesResNet(), max_tail=20, sample_size=5, progress=False)
    values = torch.empty(200, len(ps.index_)).exponential_(generator=torch.Generator().manual_seed(1))
    ps.update(values[:40], torch.arange(40))
    ps.update(values[40:80], torch.arange(40, 80))          # full tail, merged again: in place
    held = ps.tail_
    kept = held.clone()
    for lo in range(80, 200, 15):
        ps.update(values[lo:lo + 15], torch.arange(lo, min(lo + 15, 200)))
    assert torch.equal(held, kept)                          # what the caller holds did not change
    assert torch.equal(ps.tail_, values.topk(21, dim=0).values) and ps.tail_ is not held


class _EditsAfterConv(nn.Module):
    """Writes into a conv's input after the conv read it (as an in-place op placed there would)."""

    def __init__(self):
        super().__init__()
        self.conv, self.head = nn.Conv2d(3, 4, 3), nn.Linear(4, 3)

    def forward(self, x):
        x = x * 1
        h = self.conv(x)
        x.mul_(2)
        return self.head(h.mean((2, 3))) + 0 * x.mean()


def test_a_model_that_edits_a_conv_input_in_place_is_refused_not_answered_twice_over():
    model = _EditsAfterConv()
    with pytest.raises(ValueError, match="edits the input of conv layer .* in place after the conv read it"):
        st.paramsal.filter_saliency(model, torch.rand(2, 3, 8, 8), torch.tensor([0, 1]))
    assert all(p.requires_grad for p in model.parameters()) and not model.conv._forward_hooks
