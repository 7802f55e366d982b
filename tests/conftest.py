"""Shared test settings: one hypothesis profile that does not fight the JIT, and one compiled specialisation
of each kernel for every activation set."""

import os

import pytest
from hypothesis import HealthCheck, settings
from reference import every_activation_marked

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


@pytest.fixture(scope="session", autouse=True)
def _one_specialisation_for_every_activation_set():
    """In-process tests build networks that mark every activation (reference.every_activation_marked): the
    kernels compile one specialisation per path holding every activation's branch, as they did before
    specialising per set, instead of one per set each test happens to use. The specialisations users get
    (their own activations only) are tested where it matters: tests/test_pinned_bits.py runs the article's
    and other sets both ways against the same digests, and every test that starts a process (the command
    line, first use, the examples) runs them unchanged."""
    with every_activation_marked():
        yield
