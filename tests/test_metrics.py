import pytest
import torch

from saltools.metrics import relevance_mass, relevance_rank


def test_relevance_mass_and_rank_on_hand_made_maps():
    masks = torch.zeros(2, 4, 4, dtype=torch.bool)
    masks[:, :2, :2] = True                                   # 4 of 16 pixels
    maps = torch.zeros(2, 4, 4)
    maps[0, :2, :2] = 1.0                                     # all relevance inside
    maps[1] = 1.0                                             # uniform
    maps[1, 3, 3] = -5.0                                      # strongest pixel (by |R|) outside
    torch.testing.assert_close(relevance_mass(maps, masks), torch.tensor([1.0, 4 / 20]))
    rank = relevance_rank(maps, masks)
    assert rank[0] == 1.0 and rank[1] < 1.0


def test_single_map_and_shape_errors():
    assert relevance_mass(torch.ones(3, 3), torch.ones(3, 3, dtype=torch.bool)).shape == (1,)
    with pytest.raises(ValueError, match=r"\[N, H, W\]"):
        relevance_mass(torch.ones(2, 3, 3), torch.ones(2, 4, 4, dtype=torch.bool))
