import numpy as np
import pytest
import torch

import saltools as st
from saltools.data import CORRUPTIONS, Shapes


def test_item_i_does_not_depend_on_how_many_or_which_chunk():
    whole = Shapes(40, split="test")
    tail = Shapes(10, split="test", start=25)
    assert torch.equal(whole._images[25:35], tail._images)
    assert torch.equal(whole.masks[25:35], tail.masks)
    assert torch.equal(whole.labels[25:35], tail.labels)
    again = Shapes(40, split="test")
    assert torch.equal(whole._images, again._images)


def test_more_than_one_render_chunk_is_identical_to_a_slice():
    big = Shapes(700, split="val")          # two chunks of the renderer
    assert torch.equal(big._images[600:610], Shapes(10, split="val", start=600)._images)


def test_splits_and_seeds_are_different_streams():
    a, b, c = Shapes(20, split="train"), Shapes(20, split="test"), Shapes(20, split="test", seed=1)
    assert not torch.equal(a._images, b._images)
    assert not torch.equal(b._images, c._images)


def test_known_images_do_not_change():
    """The shipped model was trained on this generator: a change to it must be deliberate."""
    ds = Shapes(8, split="test")
    assert ds.labels.tolist() == GOLDEN_LABELS
    np.testing.assert_allclose(ds.images.mean(dim=(1, 2, 3)).numpy(), GOLDEN_MEANS, atol=2e-3)


GOLDEN_LABELS = [1, 2, 0, 2, 3, 9, 3, 0]
GOLDEN_MEANS = [0.5547, 0.2489, 0.5244, 0.3534, 0.6327, 0.8465, 0.5246, 0.4979]


def test_all_classes_appear_with_balanced_frequency():
    counts = torch.bincount(Shapes(3000, split="train").labels, minlength=10)
    assert counts.min() > 240 and counts.max() < 360


def test_masks_are_exactly_where_a_flat_object_is():
    ds = Shapes(30, split="test", object_color=0.2, background_color=0.8, texture=0.0, clutter=0)
    img = ds._images[:, 0].int()
    mask = ds.masks
    # erode / dilate the mask to skip the anti-aliased edge (two pixels: star tips are thin)
    pooled = torch.nn.functional.max_pool2d
    inner = ~pooled((~mask).float()[:, None], 3, 1, 1)[:, 0].bool()
    outer = ~pooled(mask.float()[:, None], 5, 1, 2)[:, 0].bool()
    assert inner.sum() > 0.5 * mask.sum()
    assert torch.all(img[inner] == round(0.2 * 255))
    assert torch.all(img[outer] == round(0.8 * 255))
    frac = mask.float().mean(dim=(1, 2))
    assert frac.min() > 0.015 and frac.max() < 0.2


def test_domains_share_labels_and_masks_but_not_pixels():
    src, tgt = Shapes(50, domain="source"), Shapes(50, domain="target")
    assert torch.equal(src.labels, tgt.labels)
    assert torch.equal(src.masks, tgt.masks)
    assert (src.images - tgt.images).abs().mean() > 0.03


def test_colour_override_keeps_geometry():
    dark = Shapes(10, object_color=0.05, background_color=0.5)
    bright = Shapes(10, object_color=0.95, background_color=0.5)
    assert torch.equal(dark.masks, bright.masks)
    inside = dark.masks
    assert dark.images.mean(1)[inside].mean() < 0.15 < 0.85 < bright.images.mean(1)[inside].mean()


def test_random_colours_respect_the_minimum_contrast():
    info = Shapes(500, domain="source").info()
    gap = (info.object_luminance - info.background_luminance).abs()
    assert (gap >= st.data.DOMAINS["source"].min_contrast - 1e-9).all()


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_corruption_grows_with_severity(name):
    clean = Shapes(24, split="test")
    change = [(Shapes(24, split="test", corruption=name, severity=s).images - clean.images).abs().mean().item()
              for s in range(1, 6)]
    assert all(a < b for a, b in zip(change, change[1:])), change
    assert change[0] > 1e-3


def test_corrupt_is_deterministic_given_keys():
    x = Shapes(4).images
    a = st.data.corrupt(x, "gaussian_noise", 3, keys=np.arange(4))
    b = st.data.corrupt(x, "gaussian_noise", 3, keys=np.arange(4))
    c = st.data.corrupt(x, "gaussian_noise", 3, keys=np.arange(4) + 10)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.min() >= 0 and a.max() <= 1


@pytest.mark.parametrize("kwargs, match", [
    ({"domain": "mars"}, r"domain must be one of \['source', 'target'\]; got 'mars'"),
    ({"corruption": "fog"}, "severity"),
    ({"corruption": "fog", "severity": 6}, "severity must be an integer from 0 to 5; got 6"),
    ({"corruption": "rain", "severity": 2}, "corruption must be one of"),
    ({"object_color": 1.5}, r"\[0, 1\]"),
    ({"object_color": [0.1, 0.2]}, "RGB triple"),
    ({"size": 8}, "size"),
])
def test_bad_arguments_are_rejected_clearly(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Shapes(5, **kwargs)


def test_dataset_protocol():
    ds = Shapes(5)
    image, label, mask = ds[2]
    assert image.shape == (3, 64, 64) and image.dtype == torch.float32
    assert 0 <= image.min() and image.max() <= 1
    assert mask.shape == (64, 64) and mask.dtype == torch.bool
    assert int(label) in range(10)
    loader = torch.utils.data.DataLoader(ds, batch_size=2)
    assert next(iter(loader))[0].shape == (2, 3, 64, 64)
    assert len(ds.info()) == 5


def test_skimage_photos_load_offline():
    photos = st.data.photos(["astronaut", "camera"], size=64)
    assert photos.shape == (2, 3, 64, 64) and 0 <= photos.min() and photos.max() <= 1
    with pytest.raises(ValueError, match="every element of names must be one of .*; got 'nonexistent'"):
        st.data.photos(["nonexistent"])


def test_imagenette_missing_folder_names_the_way_out(tmp_path):
    with pytest.raises(RuntimeError, match="SALTOOLS_PROFILE=embedded"):
        st.data.imagenette(tmp_path)


def test_imagenette_reads_a_local_folder_with_imagenet_labels(tmp_path):
    from PIL import Image
    for wnid in ("n01440764", "n03888257"):     # tench (ImageNet 0), parachute (701)
        folder = tmp_path / "imagenette2-320" / "val" / wnid
        folder.mkdir(parents=True)
        for k in range(2):
            Image.fromarray(np.full((40, 60, 3), 60 * k, np.uint8)).save(folder / f"img{k}.JPEG")
    ds = st.data.imagenette(tmp_path, split="val", size=32)
    assert len(ds) == 4
    image, label = ds[3]
    assert image.shape == (3, 32, 32) and 0 <= image.min() and image.max() <= 1
    assert sorted({ds[i][1] for i in range(4)}) == [0, 701]


def test_corrupted_wrapper_for_real_data_and_full_profile_domains(tmp_path):
    base = Shapes(4, split="test")
    wrapped = st.data.Corrupted(base, "gaussian_noise", 3)
    image, label, mask = wrapped[2]
    assert torch.equal(image, wrapped[2][0]) and not torch.equal(image, base[2][0]) and label == base[2][1]
    with pytest.raises(ValueError, match="severity"):
        st.data.Corrupted(base, "fog", 9)
    full = st.profiles.get("full")
    assert full.domains == ("source",)
    with pytest.raises(RuntimeError, match="SALTOOLS_PROFILE=embedded"):   # offline: no Imagenette here
        st.data.for_profile(full.with_(), "query", n=2)


def test_blur_scales_with_the_image_size():
    """A severity blurs the same share of the image at any size: the blurred spot's width in pixels
    grows with the image."""
    def width(size):
        spot = torch.zeros(1, 3, size, size)
        spot[..., size // 2, size // 2] = 1.0
        row = st.data.corrupt(spot, "gaussian_blur", 5)[0, 0, size // 2]
        x = torch.arange(size, dtype=torch.float64) - size // 2
        return float(((row.double() * x ** 2).sum() / row.double().sum()).sqrt())
    assert width(128) / width(64) == pytest.approx(2.0, rel=0.05)


def test_first_images_of_shapes_and_of_any_dataset_agree():
    shapes = st.data.Shapes(6, split="test")
    images, labels = st.data.first_images(shapes, 4)
    subset_images, subset_labels = st.data.first_images(torch.utils.data.Subset(shapes, range(6)), 4)
    assert torch.equal(images, subset_images) and torch.equal(labels, subset_labels) and images.shape[0] == 4
    with pytest.raises(TypeError, match="Dataset"):
        st.data.first_images(torch.zeros(3, 3, 8, 8))
