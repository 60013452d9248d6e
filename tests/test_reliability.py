"""Nothing silently wrong: each bad input, file and network failure found in review gets a clear error or a
documented, warned result (issue 16), and a model is never left changed, also when a call raises."""
from __future__ import annotations

import socket
import time
import warnings

import numpy as np
import pytest
import torch
import torch.nn as nn

import saltools as st
from saltools.paramsal import DegenerateStatisticsWarning, ParameterSaliency, StatisticsFileError


@pytest.fixture(scope="module")
def shapes():
    return st.data.Shapes(40, split="reference")


@pytest.fixture()
def model():
    """A fresh copy of the shipped model, so a test may try to break it."""
    return st.models.load("shapes-resnet")


# ----------------------------------------------------------------------------- the input gate
def with_nan(images: torch.Tensor, at=(3, 1, 10, 12)) -> torch.Tensor:
    bad = images.clone()
    bad[at] = float("nan")
    return bad


def test_one_nan_pixel_in_the_reference_set_is_refused_by_position_and_the_earlier_fit_kept(model, shapes):
    stats = ParameterSaliency(model, progress=False, batch_size=16).fit(shapes.images[:32], shapes.labels[:32])
    mean = stats.mean_.clone()
    bad = with_nan(shapes.images, at=(23, 0, 5, 5))
    with pytest.raises(ValueError, match=r"1 NaN and 0 Inf values in 1 of 40 rows, the first at images\[23, 0, 5, 5\]"):
        stats.fit(bad, shapes.labels)
    with pytest.raises(ValueError, match="reference images 16 to 31: .*images\\[7, 0, 5, 5\\]"):
        stats.fit(torch.utils.data.TensorDataset(bad, shapes.labels))        # a Dataset: named by its batch
    with pytest.raises(ValueError, match="empty"):
        stats.fit(shapes.images[:0], shapes.labels[:0])
    assert stats.n_ == 32 and torch.equal(stats.mean_, mean)               # the earlier fit survives


@pytest.mark.parametrize("call", ["filter_saliency", "rectgrad", "attribute", "occlusion", "rise", "corrupt",
                                  "predict", "perturbation_curve", "superpixels"])
def test_nan_and_inf_pixels_are_refused_everywhere(shapes_model, shapes, call):
    x, y = with_nan(shapes.images[:4], at=(2, 0, 1, 1)), shapes.labels[:4]
    x[0, 0, 0, 0] = float("inf")
    calls = {
        "filter_saliency": lambda: st.paramsal.filter_saliency(shapes_model, x, y),
        "rectgrad": lambda: st.rectgrad.RectGrad(shapes_model).attribute(x, y),
        "attribute": lambda: st.attributions.attribute(shapes_model, "Saliency", x, y),
        "occlusion": lambda: st.perturb.occlusion(shapes_model, x, y, window=16, stride=16),
        "rise": lambda: st.perturb.rise(shapes_model, x, y, n_masks=4),
        "corrupt": lambda: st.data.corrupt(x, "fog", 2),
        "predict": lambda: st.models.predict(shapes_model, x),
        "perturbation_curve": lambda: st.metrics.perturbation_curve(shapes_model, x, torch.rand(4, 64, 64), y),
        "superpixels": lambda: st.perturb.superpixels(x),
    }
    with pytest.raises(ValueError, match=r"must be finite; got 1 NaN and 1 Inf values in 2 of 4 rows"):
        calls[call]()


def test_images_outside_zero_one_are_refused_with_the_fix(shapes_model, shapes):
    x = shapes.images[:2]
    with pytest.raises(TypeError, match="divide by 255"):
        st.models.predict(shapes_model, (x * 255).to(torch.uint8))
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]; got values in \[\d+, 2\d\d\].*divide by 255"):
        st.perturb.occlusion(shapes_model, x * 255, window=16, stride=16)
    with pytest.raises(ValueError, match="look normalized.*input_range"):
        st.paramsal.filter_saliency(shapes_model, (x - 0.5) / 0.25, [0, 1])
    with pytest.raises(TypeError, match="floating point"):
        st.attributions.attribute(shapes_model, "Saliency", x.long())


def test_float64_images_give_the_float32_results(shapes_model, shapes):
    x, y = shapes.images[:3], shapes.labels[:3]
    x64 = x.double()
    assert torch.allclose(st.models.predict(shapes_model, x64), st.models.predict(shapes_model, x), atol=1e-5)
    assert torch.allclose(st.rectgrad.RectGrad(shapes_model).attribute(x64, y).float(),
                          st.rectgrad.RectGrad(shapes_model).attribute(x, y), atol=1e-5)
    assert torch.allclose(st.attributions.attribute(shapes_model, "Saliency", x64, y),
                          st.attributions.attribute(shapes_model, "Saliency", x, y), atol=1e-5)
    assert torch.allclose(st.perturb.occlusion(shapes_model, x64, y, window=16, stride=16),
                          st.perturb.occlusion(shapes_model, x, y, window=16, stride=16), atol=1e-4)
    assert torch.allclose(st.paramsal.filter_saliency(shapes_model, x64, y),
                          st.paramsal.filter_saliency(shapes_model, x, y), rtol=1e-4, atol=1e-7)


def test_sizes_below_one_and_empty_batches_are_refused(shapes_model, shapes):
    x, y = shapes.images[:2], shapes.labels[:2]
    for call in (lambda: st.paramsal.filter_saliency(shapes_model, x, y, batch_size=0),
                 lambda: st.perturb.occlusion(shapes_model, x, chunk=0),
                 lambda: st.models.predict(shapes_model, x, batch_size=0),
                 lambda: st.metrics.perturbation_curve(shapes_model, x, torch.rand(2, 64, 64), chunk=0)):
        with pytest.raises(ValueError, match="must be a positive integer"):
            call()
    with pytest.raises(ValueError, match="at least one image"):
        st.perturb.occlusion(shapes_model, x[:0])
    with pytest.raises(ValueError, match="labels must lie in \\[0, 9\\]"):
        st.paramsal.filter_saliency(shapes_model, x, [0, 10])


class CountingModel(nn.Module):
    """Wraps a model and counts its forward passes."""

    def __init__(self, net):
        super().__init__()
        self.net, self.calls = net, 0

    def forward(self, x):
        self.calls += 1
        return self.net(x)


def test_an_unknown_substrate_is_refused_before_the_model_runs(shapes_model, shapes):
    counting = CountingModel(shapes_model)
    with pytest.raises(ValueError, match="substrate must be one of .*'black'.*; got 'grey'"):
        st.metrics.perturbation_curve(counting, shapes.images[:2], torch.rand(2, 64, 64), substrate="grey")
    assert counting.calls == 0


def test_small_maps_get_a_smaller_ssim_window_with_a_warning():
    maps = torch.rand(2, 5, 5)
    with pytest.warns(RuntimeWarning, match="5 x 5 window"):
        table = st.metrics.map_agreement(maps, maps)
    assert np.allclose(table.ssim, 1.0)
    with pytest.warns(RuntimeWarning, match="SSIM is NaN"):
        assert st.metrics.map_agreement(torch.rand(1, 2, 2), torch.rand(1, 2, 2)).ssim.isna().all()


def test_curves_maps_and_masks_are_checked():
    with pytest.raises(ValueError, match="at least two steps"):
        st.metrics.auc(torch.ones(3, 1))
    with pytest.raises(ValueError, match="k must lie in"):
        st.metrics.aopc(torch.ones(3, 5), k=9)
    with pytest.raises(ValueError, match="binary"):
        st.metrics.relevance_mass(torch.rand(2, 4, 4), torch.rand(2, 4, 4))
    with pytest.raises(ValueError, match="maps must be finite"):
        st.metrics.relevance_rank(torch.full((1, 4, 4), float("nan")), torch.ones(1, 4, 4, dtype=torch.bool))


# ----------------------------------------------------------------------------- interventions and transactions
def test_repeated_and_negative_filter_columns_are_refused(shapes_model, shapes):
    with pytest.raises(ValueError, match="distinct"):
        with st.paramsal.planted_faults(shapes_model, [5, 5]):
            pass
    for columns, match in (([-1], "no negative indices"), ([3, 3], "distinct"), ([10 ** 6], "out of range")):
        with pytest.raises(ValueError, match=match):
            st.paramsal.edited_probabilities(shapes_model, shapes.images[0], 0, columns)
    with pytest.raises(ValueError, match="label must lie in"):
        st.paramsal.edited_probabilities(shapes_model, shapes.images[0], 12, [1], method="finetune")


def snapshot(model: nn.Module) -> dict:
    """Everything a saltools call must leave as it found: parameters, buffers, modes, grad flags, hooks."""
    return {"state": {k: v.detach().clone() for k, v in model.state_dict().items()},
            "training": [m.training for m in model.modules()],
            "requires_grad": [p.requires_grad for p in model.parameters()],
            "hooks": [len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks)
                      for m in model.modules()]}


def assert_unchanged(model: nn.Module, before: dict) -> None:
    after = snapshot(model)
    assert after["training"] == before["training"] and after["requires_grad"] == before["requires_grad"]
    assert after["hooks"] == before["hooks"]
    assert all(torch.equal(before["state"][k], v) for k, v in after["state"].items())


def test_train_checks_labels_before_touching_batchnorm_and_restores_the_model_when_it_fails(model, monkeypatch):
    data = st.data.Shapes(24, split="train")
    model.train()
    before = snapshot(model)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 9\]"):
        st.models.train(model, torch.utils.data.TensorDataset(data.images, data.labels + 5), progress=False)
    assert_unchanged(model, before)
    bad = type("WithLabels", (), {"images": data.images, "labels": data.labels + 5, "__len__": lambda s: 24})()
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 9\]"):
        st.models.train(model, bad, epochs=1, progress=False)
    assert_unchanged(model, before)
    steps = {"n": 0}
    original = torch.optim.AdamW.step

    def failing_step(self, *args, **kwargs):
        steps["n"] += 1
        if steps["n"] == 2:
            raise RuntimeError("out of memory (simulated)")
        return original(self, *args, **kwargs)
    monkeypatch.setattr(torch.optim.AdamW, "step", failing_step)
    with pytest.raises(RuntimeError, match="simulated"):
        st.models.train(model, data, epochs=1, batch_size=8, progress=False)
    assert steps["n"] == 2
    assert_unchanged(model, before)


def test_fit_normalization_refuses_what_would_give_a_zero_std(model):
    before = snapshot(model)
    with pytest.raises(ValueError, match="at least 2 images"):
        st.models.fit_normalization(model, torch.rand(1, 3, 8, 8))
    with pytest.raises(ValueError, match="every channel must vary"):
        st.models.fit_normalization(model, torch.full((4, 3, 8, 8), 0.5))
    assert_unchanged(model, before)


# ----------------------------------------------------------------------------- degenerate statistics
def test_few_reference_images_warn_with_the_minimum_and_one_image_has_no_zscore(shapes_model, shapes):
    with pytest.warns(DegenerateStatisticsWarning, match=f"20 reference image.*at least 2.*{st.paramsal.MIN_REFERENCE}"):
        stats = ParameterSaliency(shapes_model, progress=False).fit(shapes.images[:20], shapes.labels[:20])
    values = stats.saliency(shapes.images[30:32], shapes.labels[30:32])
    with pytest.warns(DegenerateStatisticsWarning, match=r"keeps 2 excesses per filter .*needs 10.*fell back"):
        stats.score(values, "pot")
    with pytest.warns(DegenerateStatisticsWarning, match="NaN or Inf in 1 of 2 rows"):
        stats.score(torch.cat([values[:1], torch.full_like(values[:1], float("nan"))]), "zscore")
    with pytest.warns(DegenerateStatisticsWarning):
        one = ParameterSaliency(shapes_model, progress=False).fit(shapes.images[:1], shapes.labels[:1])
    with pytest.raises(ValueError, match="at least 2 reference images"):
        one.score(values, "zscore")


# ----------------------------------------------------------------------------- the statistics file format
@pytest.fixture(scope="module")
def saved(tmp_path_factory, shapes_model, shapes):
    path = tmp_path_factory.mktemp("stats") / "stats.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateStatisticsWarning)
        stats = ParameterSaliency(shapes_model, progress=False, max_tail=10, sample_size=8).fit(shapes.images,
                                                                                                 shapes.labels)
    stats.save(path)
    return stats, path


def rewrite(path, target, change, fix_checksum: bool) -> None:
    state = torch.load(path, weights_only=True)
    change(state)
    if fix_checksum:
        state["checksum"] = st.paramsal.storage.checksum(state)
    torch.save(state, target)


@pytest.mark.parametrize("change, fix_checksum, reason", [
    (lambda s: s["mean"].__setitem__(0, float("nan")), True, "mean has 1 non-finite values"),
    (lambda s: s.__setitem__("n", -3), True, "need n >= 1"),
    (lambda s: s.__setitem__("tail", s["tail"][:, :-1]), True, "tail has shape"),
    (lambda s: s["m2"].__setitem__(4, -1.0), True, "negative sums"),
    (lambda s: s["mean"].__setitem__(0, 5.0), False, "checksum"),
    (lambda s: s.__setitem__("version", 1), False, "format version 1"),
    (lambda s: s.__setitem__("layers", s["layers"][::-1]), False, "saved for another model"),
])
def test_tampered_statistics_are_refused_naming_the_file(saved, tmp_path, shapes_model, change, fix_checksum, reason):
    _, path = saved
    target = tmp_path / "tampered.pt"
    rewrite(path, target, change, fix_checksum)
    with pytest.raises(StatisticsFileError, match=f"{target}: .*{reason}"):
        ParameterSaliency.load(shapes_model, target)


def test_statistics_round_trip_and_garbage_or_truncated_files_are_named(saved, tmp_path, shapes_model):
    stats, path = saved
    back = ParameterSaliency.load(shapes_model, path, progress=False)
    assert back.n_ == stats.n_ and torch.equal(back.tail_, stats.tail_) and torch.equal(back.mean_, stats.mean_)
    truncated, garbage = tmp_path / "truncated.pt", tmp_path / "garbage.pt"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    garbage.write_bytes(b"not a torch file" * 10)
    for bad in (truncated, garbage):
        with pytest.raises(StatisticsFileError, match=f"{bad}: not a readable statistics file"):
            ParameterSaliency.load(shapes_model, bad)


def test_statistics_of_another_model_with_as_many_filters_are_refused(saved):
    _, path = saved
    index = st.models.filter_index(st.models.load("shapes-resnet"))
    total = len(index)
    other = nn.Sequential(nn.Conv2d(3, total - 8, 3), nn.Conv2d(total - 8, 8, 1))   # same count, other layers
    with pytest.raises(StatisticsFileError, match=f"saved for another model: .*with {total} filters.*first differ at "
                                                  "conv layer 0"):
        ParameterSaliency.load(other, path)


def test_a_bad_cache_entry_is_moved_aside_recomputed_and_not_read_again(shapes_model, shapes, tmp_path, monkeypatch):
    monkeypatch.setenv("SALTOOLS_CACHE", str(tmp_path))
    kwargs = dict(max_tail=10, sample_size=8, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateStatisticsWarning)
        first = st.paramsal.reference_statistics(shapes_model, shapes, **kwargs)
        (entry,) = tmp_path.glob("*.pt")
        entry.write_bytes(entry.read_bytes()[:100])                      # truncated on disk
        with pytest.warns(RuntimeWarning, match=f"moved to .*{entry.stem}.bad"):
            again = st.paramsal.reference_statistics(shapes_model, shapes, **kwargs)
        assert torch.equal(again.mean_, first.mean_) and (tmp_path / f"{entry.stem}.bad").exists()
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)                 # the fresh entry loads quietly
            third = st.paramsal.reference_statistics(shapes_model, shapes, **kwargs)
    assert torch.equal(third.mean_, first.mean_)


def test_statistics_of_the_same_architecture_with_other_weights_are_refused(saved, shapes, tmp_path, monkeypatch):
    """The zoo's shapes-resnet and shapes-resnet-seed1 share an architecture: each refuses the other's statistics,
    from a file and from a cache entry renamed to its key (both fingerprints named)."""
    _, path = saved
    other = st.models.load("shapes-resnet-seed1")
    mine, theirs = (st.paramsal.storage.weights_fingerprint(m) for m in (st.models.load("shapes-resnet"), other))
    assert mine != theirs
    with pytest.raises(StatisticsFileError, match=f"other weights.*{mine[:16]}.*{theirs[:16]}"):
        ParameterSaliency.load(other, path)
    monkeypatch.setenv("SALTOOLS_CACHE", str(tmp_path))
    kwargs = dict(max_tail=10, sample_size=8, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateStatisticsWarning)
        st.paramsal.reference_statistics(st.models.load("shapes-resnet"), shapes, **kwargs)
        (entry,) = tmp_path.glob("*.pt")
        key = st.paramsal.cache._cache_key(other, shapes, {"max_tail": 10, "sample_size": 8, "seed": 0})
        entry.rename(tmp_path / f"{key}.pt")                             # served to the other model's key?
        with pytest.warns(RuntimeWarning, match="other weights"):
            refit = st.paramsal.reference_statistics(other, shapes, **kwargs)
    assert refit.n_ == len(shapes.images)


def test_a_failed_save_leaves_no_temporary_file(saved, tmp_path):
    stats, _ = saved
    with pytest.raises(OSError):
        stats.save(tmp_path)                                  # a directory, not a file
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*.tmp"))


def test_a_read_only_cache_warns_and_still_returns_the_fit(shapes_model, shapes, tmp_path, monkeypatch):
    monkeypatch.setenv("SALTOOLS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(ParameterSaliency, "save", lambda self, path: (_ for _ in ()).throw(
        PermissionError(13, "Permission denied", str(path))))    # root ignores chmod: a refused write, simulated
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateStatisticsWarning)
        with pytest.warns(RuntimeWarning, match="could not cache the fitted statistics.*PermissionError"):
            stats = st.paramsal.reference_statistics(shapes_model, shapes, max_tail=10, sample_size=8, progress=False)
    assert stats.n_ == len(shapes.images)


# ----------------------------------------------------------------------------- the network
def hanging_lookup(*args, **kwargs):
    time.sleep(30)
    raise socket.gaierror("never answered")


def lookup_to(address):
    return lambda host, port, *args, **kwargs: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class UnansweredSocket:
    """A socket whose connection attempts go nowhere: they wait out their timeout (a black-holed address;
    a sandbox's proxy may accept any real connection, so this is simulated) or fail at once (no route)."""

    def __init__(self, *args, black_hole: bool = True):
        self.timeout, self.black_hole = None, black_hole

    def settimeout(self, timeout):
        self.timeout = timeout

    def connect(self, address):
        if self.black_hole:
            time.sleep(self.timeout if self.timeout is not None else 120)
            raise socket.timeout("timed out")
        raise OSError(101, "Network is unreachable")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.mark.parametrize("condition", ["black-holed name server", "refused", "black-holed address", "no route"])
def test_network_probes_answer_within_five_seconds_in_every_condition(condition, monkeypatch):
    port = 443
    if condition == "black-holed name server":
        monkeypatch.setattr(socket, "getaddrinfo", hanging_lookup)
    elif condition == "refused":
        port = closed_port()
        monkeypatch.setattr(socket, "getaddrinfo", lookup_to("127.0.0.1"))
    else:
        monkeypatch.setattr(socket, "getaddrinfo", lookup_to("10.255.255.1"))
        monkeypatch.setattr(socket, "socket", lambda *a: UnansweredSocket(black_hole=condition == "black-holed address"))
    start = time.monotonic()
    assert st.models.loading.reachable("download.pytorch.org", port=port) is False
    assert time.monotonic() - start < 5


def test_loaders_fail_fast_when_the_name_server_hangs(tmp_path, monkeypatch):
    monkeypatch.setattr(socket, "getaddrinfo", hanging_lookup)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv("SALTOOLS_PROFILE", raising=False)
    monkeypatch.delenv("SALTOOLS_WEIGHTS", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    for call, error, match in ((lambda: st.models.load("resnet50"), st.models.WeightsUnavailableError, "embedded"),
                               (lambda: st.data.imagenette(tmp_path, download=True), RuntimeError, "embedded")):
        start = time.monotonic()
        with pytest.raises(error, match=match):
            call()
        assert time.monotonic() - start < 5
    start = time.monotonic()
    assert st.profiles.current().name == "embedded"
    assert time.monotonic() - start < 5


# ----------------------------------------------------------------------------- the model is left as found
def bad_images(n: int = 3) -> torch.Tensor:
    return with_nan(st.data.Shapes(n, split="test").images, at=(n - 1, 0, 3, 3))


def good(n: int = 3):
    data = st.data.Shapes(n, split="test")
    return data.images, data.labels


#: every public function that runs a model, called with an input it must refuse (some refuse only after the
#: model ran, e.g. labels outside the model's classes, found from its logits, or a fit that meets a bad batch)
RAISING_CALLS = {
    "paramsal.filter_saliency": lambda m, s: st.paramsal.filter_saliency(m, good()[0], [0, 1, 99]),
    "paramsal.filter_saliency_loop": lambda m, s: st.paramsal.filter_saliency_loop(m, bad_images(), [0, 1, 2]),
    "ParameterSaliency.fit": lambda m, s: ParameterSaliency(m, batch_size=2, progress=False).fit(
        torch.utils.data.ConcatDataset([st.data.Shapes(4), torch.utils.data.TensorDataset(bad_images(), good()[1])])),
    "ParameterSaliency.saliency": lambda m, s: s.saliency(good()[0], [0, 1, 99]),
    "paramsal.reference_statistics": lambda m, s: st.paramsal.reference_statistics(m, st.data.Shapes(4), cache=False,
                                                                                   batch_size=0),
    "paramsal.edited_probabilities": lambda m, s: st.paramsal.edited_probabilities(m, good()[0][0], 42, [1],
                                                                                   method="finetune"),
    "paramsal.intervention_curves": lambda m, s: st.paramsal.intervention_curves(
        m, *good(), torch.full((3, len(s.index_)), float("nan")), progress=False),
    "paramsal.input_projection": lambda m, s: st.paramsal.input_projection(s, bad_images()[2], 0),
    "paramsal.projections": lambda m, s: st.paramsal.projections(s, good()[0], [0, 1]),
    "paramsal.planted_faults": lambda m, s: st.paramsal.planted_faults(m, [0, 10 ** 6]).__enter__(),
    "paramsal.planted_fault_benchmark": lambda m, s: st.paramsal.planted_fault_benchmark(
        m, st.data.Shapes(4), torch.utils.data.TensorDataset(bad_images(), good()[1]), progress=False),
    "models.predict": lambda m, s: st.models.predict(m, bad_images()),
    "models.accuracy": lambda m, s: st.models.accuracy(m, good()[0], [0, 1]),
    "models.mistakes": lambda m, s: st.models.mistakes(m, torch.utils.data.TensorDataset(bad_images(), good()[1])),
    "models.train": lambda m, s: st.models.train(m, torch.utils.data.TensorDataset(good()[0], good()[1] + 9),
                                                 progress=False),
    "models.fit_normalization": lambda m, s: st.models.fit_normalization(m, bad_images()),
    "rectgrad.RectGrad": lambda m, s: st.rectgrad.RectGrad(m).attribute(good()[0], target=[0, 1, 99]),
    "rectgrad.NoBiasRectGrad": lambda m, s: st.rectgrad.NoBiasRectGrad(m).attribute(bad_images(), target=0),
    "attributions.attribute": lambda m, s: st.attributions.attribute(m, "GuidedBackprop", good()[0], [0, 1, 99]),
    "perturb.occlusion": lambda m, s: st.perturb.occlusion(m, good()[0], [0, 1, 99], window=16, stride=16),
    "perturb.rise": lambda m, s: st.perturb.rise(m, bad_images(), n_masks=4),
    "perturb.superpixel_ablation": lambda m, s: st.perturb.superpixel_ablation(m, good()[0], chunk=0),
    "perturb.maps_by_baseline": lambda m, s: st.perturb.maps_by_baseline(m, good()[0], baselines=["black", "grey"],
                                                                         window=16, stride=16),
    "perturb.maps_by_setting": lambda m, s: st.perturb.maps_by_setting(m, good()[0], settings={"w": {"window": 0}}),
    "baselines.baseline_predictions": lambda m, s: st.perturb.baseline_predictions(m, bad_images(), classes=range(10)),
    "metrics.perturbation_curve": lambda m, s: st.metrics.perturbation_curve(m, good()[0], torch.rand(3, 64, 64),
                                                                             [0, 1, 99]),
    "experiments.compare": lambda m, s: st.experiments.compare(m, bad_images(), good()[1], torch.ones(3, 64, 64)),
    "experiments.cascading_randomization": lambda m, s: st.experiments.cascading_randomization(
        m, *good(), methods=["Saliency", "Unknown"]),
    "experiments.causal_scores": lambda m, s: st.experiments.causal_scores(m, good()[0], None,
                                                                           {"a": torch.rand(3, 64, 64)}, substrates=["x"]),
    "widgets.occlusion_explorer": lambda m, s: st.widgets.occlusion_explorer(m, bad_images(), good()[1]),
    "widgets.removal_explorer": lambda m, s: st.widgets.removal_explorer(m, bad_images(), good()[1],
                                                                         torch.rand(3, 64, 64)),
    "metrics.road_curve": lambda m, s: st.metrics.road_curve(m, good()[0], torch.rand(3, 64, 64), [0, 1, 2],
                                                             percentages=[100]),
    "experiments.srg_scores": lambda m, s: st.experiments.srg_scores(m, good()[0], [0, 1, 2],
                                                                     {"a": torch.rand(3, 64, 64)}, substrates=["x"]),
    "experiments.blur_control": lambda m, s: st.experiments.blur_control(m, good()[0], [0, 1, 2],
                                                                         {"a": torch.rand(3, 64, 64)}, sigma=-1),
    "experiments.occlusion_distance": lambda m, s: st.experiments.occlusion_distance(m, bad_images()),
    "experiments.parameter_randomization": lambda m, s: st.experiments.parameter_randomization(
        m, *good(), ["Saliency"], mode="sideways"),
    "leakage.model_leak": lambda m, s: st.leakage.model_leak(m, bad_images(), torch.ones(3, 64, 64, dtype=torch.bool),
                                                             [0, 1, 2]),
    "claims.RemedyContext": lambda m, s: st.claims.RemedyContext(m, *good(), torch.ones(3, 64, 64)),
}


@pytest.fixture(scope="module")
def small_stats():
    model = st.models.load("shapes-resnet")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateStatisticsWarning)
        return ParameterSaliency(model, progress=False, max_tail=4, sample_size=4).fit(st.data.Shapes(8))


@pytest.mark.parametrize("name", sorted(RAISING_CALLS))
def test_every_public_function_leaves_the_model_as_found_when_it_raises(name, small_stats):
    model = small_stats.model
    model.train()                                   # an unusual state that a careless call would reset
    model.layer1.requires_grad_(False)
    before = snapshot(model)
    try:
        with pytest.raises((ValueError, TypeError)):
            RAISING_CALLS[name](model, small_stats)
        assert_unchanged(model, before)
    finally:
        model.eval()
        model.requires_grad_(True)


def test_the_label_check_leaves_the_caller_s_images_as_they_were():
    class EditsItsInput(torch.nn.Module):                  # a model that writes into its input
        def forward(self, x):
            x.mul_(0)
            return torch.zeros(len(x), 4)
    images = torch.rand(2, 3, 8, 8)
    before = images.clone()
    st.checks.labels_for(EditsItsInput(), [1, 2], images)
    assert torch.equal(images, before)
