"""Every claim in one call on a CNN that is not the book's: a plain ``nn.Sequential`` and torchvision's
ResNet-18 (random weights, Shapes classes) go through all four kinds of context; what cannot be
evaluated says why, and a model with one stage is refused by the depth claims with its reason."""
import pytest
import torch
import torch.nn as nn
import torchvision

import saltools as st
from saltools.claims import CLAIMS, NOT_EVALUATED, VERDICTS


def plain_cnn() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10)).eval()


def resnet18() -> nn.Module:
    torch.manual_seed(0)
    return torchvision.models.resnet18(num_classes=10).eval()


def contexts(model: nn.Module, name: str) -> list:
    test = st.data.Shapes(8, split="test", seed=1)
    return [st.claims.Context(model, reference=st.data.Shapes(64, split="reference"), queries=st.data.Shapes(48),
                              n_mistakes=12, n_repairs=4, ks=(1, 2), k=5, sample_size=64, batch_size=32, name=name),
            st.claims.InputBiasContext(model, n=8, n_sweep=4, n_photos=2, photo_size=64, mean=(0.485, 0.456, 0.406),
                                       std=(0.229, 0.224, 0.225), name=name),
            st.claims.PerturbationContext(model, test.images[:4], test.labels[:4], test.masks[:4], rise_masks=40,
                                          steps=4, name=name),             # its least: the slowest context here
            st.claims.RemedyContext(model, test.images, test.labels, test.masks, leak_images=40, randomized=2,
                                    smooth=2, steps=4, name=name)]


@pytest.mark.parametrize("build", [plain_cnn, resnet18])
def test_a_foreign_cnn_goes_through_every_kind_of_context(build):
    model = build()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    table = st.claims.evaluate(contexts(model, build.__name__))
    assert sorted(table.claim) == sorted(CLAIMS)
    assert table.verdict.isin(VERDICTS).all()
    refused = table[table.verdict == NOT_EVALUATED]
    assert (refused.reason.str.len() > 10).all(), refused[["claim", "reason"]].to_string()
    assert refused.claim.isin(["ch4.domain-shift-increases-the-bias", "ch4.pot-less-last-stage-than-zscore-on-target",
                               "ch4.corruption-increases-the-bias",
                               "ch4.pot-less-last-stage-than-zscore-under-corruption"]).all(), \
        refused[["claim", "reason"]].to_string()
    assert refused.reason.str.contains("queries").all()
    depth = table[table.claim == "ch4.zscore-favours-the-last-stage"].iloc[0]
    assert depth.verdict != NOT_EVALUATED and depth.low < depth.high         # stages found: a real interval
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items()) and not model.training


def test_a_standardized_space_that_is_the_symmetric_one_is_decided_once():
    """Mean 0.5 and equal channel stds: RectGrad's map is the symmetric space's, so the claim @standardized is
    refused and names the one that decides it (with ImageNet's statistics, above, it is evaluated)."""
    same = st.claims.InputBiasContext(plain_cnn(), mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    row = st.claims.evaluate(same, ids=["ch5.rectgrad-is-blind-at-the-zero-point@standardized"]).iloc[0]
    assert row.verdict == NOT_EVALUATED and "@symmetric decides it" in row.reason
    assert not st.claims.InputBiasContext(plain_cnn(), mean=(0.485, 0.456, 0.406),
                                          std=(0.229, 0.224, 0.225)).standardized_is_symmetric


def test_stages_come_from_where_the_resolution_drops():
    index = st.models.filter_index(plain_cnn())
    assert index.groupby("stage", sort=False).size().to_dict() == {"stage1": 8, "stage2": 16, "stage3": 16}
    vgg = st.models.filter_index(torchvision.models.vgg11(num_classes=10))
    assert list(dict.fromkeys(vgg.stage)) == [f"stage{i}" for i in range(1, 6)]
    named = st.models.filter_index(resnet18())                              # names win where they say the stage
    assert list(dict.fromkeys(named.stage)) == ["conv1", "layer1", "layer2", "layer3", "layer4"]
    given = st.models.filter_index(plain_cnn(), stages=lambda name: "early" if name == "0" else "late")
    assert list(dict.fromkeys(given.stage)) == ["early", "late"]
    with pytest.raises(ValueError, match="every conv layer"):
        st.models.filter_index(plain_cnn(), stages={"0": "a"})


def test_a_model_with_one_stage_is_refused_by_the_depth_claims_with_a_reason():
    torch.manual_seed(0)
    flat = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10)).eval()
    context = st.claims.Context(flat, reference=st.data.Shapes(64, split="reference"), queries=st.data.Shapes(32),
                                n_mistakes=8, n_repairs=2, ks=(1,), k=3, sample_size=64, name="flat")
    table = st.claims.evaluate(context, ids=["ch4.zscore-favours-the-last-stage", "ch4.statistic-shrinks-with-depth",
                                             "ch2.statistic-is-right-skewed"]).set_index("claim")
    for claim in ("ch4.zscore-favours-the-last-stage", "ch4.statistic-shrinks-with-depth"):
        assert table.loc[claim, "verdict"] == NOT_EVALUATED and "one stage" in table.loc[claim, "reason"]
    assert table.loc["ch2.statistic-is-right-skewed", "verdict"] != NOT_EVALUATED
    text = st.claims.markdown(table.reset_index())
    assert "Why: ClaimRefused: every conv filter of this model lies in one stage" in text
