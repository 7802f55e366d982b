"""Shared test settings: one hypothesis profile that does not fight the JIT, one compiled specialisation
of each kernel for every activation set, and the checkout's fastbp in the processes tests start."""

import os
from pathlib import Path

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

# The processes tests start import this checkout's fastbp, as the tests themselves do (`python -m pytest` puts
# the checkout first on sys.path), not the copy pip installed beside it: the code under test, and one Numba
# cache (next to the checkout's _kernels.py) for both. With the installed copy, whose files Numba's cache
# tells apart, every process compiled its kernels again (CI: a second cache of 89 functions; 276 s).
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(Path(__file__).resolve().parent.parent), *filter(None, [os.environ.get("PYTHONPATH")])]
)


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


# The files that compile most, first: pytest-xdist (--dist loadfile) hands whole files to its workers in
# collection order, so the longest ones start at once on different workers instead of meeting on one at the
# end (longest first). Measured, each file's compile time in the suite on an empty cache (2026-12-07, EPYC).
LONGEST_FIRST = (
    "test_pinned_bits.py",  # 170 s of compiling
    "test_diagnostics.py",  # 132 s
    "test_estimators.py",  # 96 s
    "test_torch_reference.py",  # 70 s
    "test_many.py",  # 50 s
    "test_scripts.py",  # processes of their own, each compiling on an empty cache
    "test_models.py",
    "test_robustness.py",
    "test_kernels.py",
    "test_cli.py",
)


def pytest_collection_modifyitems(items):
    rank = {name: k for k, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # (stable: each file keeps its order)
