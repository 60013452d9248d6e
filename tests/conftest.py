import pytest
import torch

import saltools as st


@pytest.fixture(scope="session")
def shapes_model():
    """The shipped model (load it once; tests must not modify it)."""
    return st.models.load("shapes-resnet")


@pytest.fixture(autouse=True)
def _deterministic_threads():
    torch.manual_seed(0)
    yield
