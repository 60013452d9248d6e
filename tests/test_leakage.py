"""Chapter 7's tools: the leak through a removal mask's outline (``saltools.leakage``), the blur control,
and the pieces of the remedy claims (agreement across substrates, ranks, the per-remedy outcome)."""
import numpy as np
import pandas as pd
import pytest
import torch

from saltools import experiments, leakage
from saltools.claims import FAILS, HOLDS, INCONCLUSIVE, remedies, remedy_outcomes
from saltools.data import Shapes


def test_removal_masks_take_the_top_share_of_the_absolute_map():
    maps = torch.tensor([[[0.1, -0.9], [0.5, 0.0]]])
    np.testing.assert_array_equal(leakage.removal_masks(maps, 0.5)[0].numpy(), [[False, True], [True, False]])
    big = torch.rand(3, 10, 10, generator=torch.Generator().manual_seed(0))
    assert (leakage.removal_masks(big, 0.3).flatten(1).sum(1) == 30).all()
    with pytest.raises(ValueError, match="share"):
        leakage.removal_masks(big, 1.0)


def test_filled_keeps_kept_pixels_and_fills_the_removed_ones():
    carriers = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    removed = torch.zeros(2, 8, 8, dtype=torch.bool)
    removed[:, 2:5, 3:6] = True
    black = leakage.filled(carriers, removed, "black")
    assert (black[:, :, 2:5, 3:6] == 0).all() and torch.equal(black[~removed[:, None].expand_as(black)],
                                                               carriers[~removed[:, None].expand_as(carriers)])
    road = leakage.filled(carriers, removed, "road")
    assert torch.equal(road[:, :, 0], carriers[:, :, 0]) and not torch.equal(road, carriers)
    with pytest.raises(ValueError, match="filled: substrate must be one of"):
        leakage.filled(carriers, removed, "nope")


def test_a_probe_reads_a_class_that_the_mask_encodes_and_not_one_it_does_not():
    generator = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 2, (200,), generator=generator)
    masks = torch.zeros(200, 16, 16, dtype=torch.bool)
    masks[labels == 0, :8] = True                      # class 0: top half removed; class 1: left half
    masks[labels == 1, :, :8] = True
    told = leakage.probe_leak(masks, labels, epochs=5)
    assert told.named.mean() > 0.95 and list(told.columns) == ["image", "named", "named_other"]
    assert len(told) == 100 and (told.named.astype(float) - told.named_other.astype(float)).mean() > 0.3
    state = torch.random.get_rng_state()
    blind = leakage.probe_leak(torch.zeros(200, 16, 16, dtype=torch.bool), labels, epochs=5)
    assert torch.equal(torch.random.get_rng_state(), state)          # the global random state is left alone
    assert abs((blind.named.astype(float) - blind.named_other.astype(float)).mean()) < 0.15
    with pytest.raises(ValueError, match="at least 20"):
        leakage.probe_leak(masks[:10], labels[:10])


def test_the_model_reads_a_black_silhouette_but_not_a_road_fill(shapes_model):
    data = Shapes(60, split="leak")
    carriers = Shapes(60, split="leak", object_color=data.params.background_rgb).images
    table = leakage.model_leak(shapes_model, carriers, data.masks, data.labels, substrates=("black", "road"))
    leak = (table.named.astype(float) - table.named_other.astype(float)).groupby(table.substrate).mean()
    assert leak["black"] > 0.5 and abs(leak["road"]) < 0.2
    assert len(table) == 120 and set(table.columns) == {"substrate", "image", "named", "named_other"}


def test_blurring_a_constant_map_changes_no_score(shapes_model):
    data = Shapes(3, split="test")
    maps = {"flat": torch.ones(3, 64, 64), "object": data.masks.float()}
    table = experiments.blur_control(shapes_model, data.images, data.labels, maps, substrates=("black",), steps=4,
                                     n_subsets=8)
    assert set(table.score) == {"black deletion (MoRF AUC)", "faithfulness correlation"}
    assert len(table) == 2 * 2 * 3
    flat = table[table.method == "flat"]
    np.testing.assert_allclose(flat.original, flat.blurred, atol=1e-6)
    with pytest.raises(ValueError, match="sigma"):
        experiments.blur_control(shapes_model, data.images, data.labels, maps, sigma=0)


def test_agreement_across_substrates_is_one_for_identical_rankings_and_minus_one_for_reversed():
    quality = np.random.default_rng(0).normal(size=(1, 5, 12)) + np.arange(5)[None, :, None]
    same = np.concatenate([quality, quality + 1.0, 2 * quality])
    every = np.arange(12)
    assert remedies.cross_substrate_agreement(same, every) == pytest.approx(1.0)
    assert remedies.cross_substrate_alpha(same, every) == pytest.approx(1.0)
    reversed_ = np.concatenate([quality, -quality])
    assert remedies.cross_substrate_agreement(reversed_, every) == pytest.approx(-1.0)
    assert remedies.cross_substrate_alpha(reversed_, every) < 0


def test_a_remedy_works_only_when_its_claims_say_so():
    assert remedy_outcomes.outcome({"a": HOLDS, "b": FAILS}, ["a"], ["b"]) == "worked"
    assert remedy_outcomes.outcome({"a": HOLDS, "b": HOLDS}, ["a"], ["b"]) == "did not work"
    assert remedy_outcomes.outcome({"a": FAILS, "b": FAILS}, ["a"], ["b"]) == "did not work"
    assert remedy_outcomes.outcome({"a": INCONCLUSIVE, "b": FAILS}, ["a"], ["b"]) == "undecided"
    with pytest.raises(ValueError, match="lacks the verdicts"):
        remedy_outcomes.summary(pd.DataFrame({"claim": ["ch7.road-hides-the-outline"], "verdict": [HOLDS]}))
    every = pd.DataFrame({"claim": [c.id for c in remedies.CLAIMS], "verdict": HOLDS})
    text = remedy_outcomes.summary(every)
    assert text.count("\n") + 1 == len(remedy_outcomes.REMEDIES) and "**did not work here**" in text
    named = {c for needed, against in remedy_outcomes.REMEDIES.values() for c in needed + against}
    assert named <= {c.id for c in remedies.CLAIMS}                  # every remedy is decided by chapter 7's claims


def test_a_remedy_context_refuses_too_few_images(shapes_model):
    data = Shapes(4, split="test")
    with pytest.raises(ValueError, match="at least 8 images"):
        remedies.RemedyContext(shapes_model, data.images, data.labels, data.masks)


def test_lerf_masks_remove_the_least_relevant_pixels_and_negation_is_no_substitute():
    """The ranking is by |relevance|: a negated map gives the MoRF masks again (the chapter 7 exercise once relied
    on negation and computed the MoRF leak under the name LeRF; the exercise audit caught it)."""
    maps = torch.arange(16.0).view(1, 4, 4)
    morf, lerf = leakage.removal_masks(maps, 0.25), leakage.removal_masks(maps, 0.25, order="lerf")
    assert morf.flatten()[-4:].all() and lerf.flatten()[:4].all() and not (morf & lerf).any()
    assert torch.equal(leakage.removal_masks(-maps, 0.25), morf)
    with pytest.raises(ValueError, match="order must be"):
        leakage.removal_masks(maps, 0.25, order="least")
