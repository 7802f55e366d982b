"""Shared test settings: one hypothesis profile that does not fight the JIT."""

import os

import pytest
from hypothesis import HealthCheck, settings

# deadline=None: the first example of a run may include a kernel compile.
settings.register_profile(
    "fastbp",
    deadline=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=bool(os.environ.get("CI")),
)
settings.load_profile("fastbp")


@pytest.fixture
def article():
    import fastbp

    X, Y = fastbp.article_data()
    return fastbp.article_network(), X, Y
