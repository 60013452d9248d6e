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


@pytest.fixture(scope="session")
def embedded_mistakes():
    """What chapters 1-4 start from on the embedded profile: the model, the (cached) reference
    statistics, the query pool, its mistakes and their raw filter statistic."""
    profile = st.profiles.get("embedded")
    model = st.models.load(profile.model)
    stats = st.paramsal.reference_statistics(model, st.data.for_profile(profile, "reference"), progress=False)
    pool = st.data.for_profile(profile, "query", n=4 * profile.n_eval)
    wrong = st.models.mistakes(model, pool, limit=profile.n_query)
    return dict(profile=profile, model=model, stats=stats, index=st.models.filter_index(model), pool=pool,
                wrong=wrong, values=stats.saliency(wrong.images, wrong.labels))
