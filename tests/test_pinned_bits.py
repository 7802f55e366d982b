"""Every kernel path's bits, pinned: SHA-256 digests of final parameters and per-epoch errors.

The runs below cover each way fastbp computes: the online and minibatch loops per activation,
loss and optimiser, BLAS, the lanes and threads of train_many, the unrolled kernels, float32,
fast_math, evaluation and gradients, and the oracle. Their digests were recorded on the main
branch before the kernels' redesign (tests/pinned_bits.json says where and when); any change
of a single bit in any path fails here. BLAS sums its products in the order of the OpenBLAS
kernel the CPU gets, so its digests are kept per OpenBLAS architecture, and a machine whose
architecture has none recorded yet skips those cases (and says how to record them).

To record digests: ``python tests/test_pinned_bits.py`` prints them as JSON.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import pathlib
import sys

import numpy as np
import pytest
from reference import users_marks

import fastbp

PINNED = pathlib.Path(__file__).with_name("pinned_bits.json")


def problem(sizes, n_samples, seed, classes=False):
    """Data in (0, 1) (one-hot targets with classes) for a network of these widths."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 1, size=(n_samples, sizes[0]))
    if classes:
        return X, np.eye(sizes[-1])[rng.integers(sizes[-1], size=n_samples)]
    return X, rng.uniform(0, 1, size=(n_samples, sizes[-1]))


def net_of(sizes, seed, activations=None, dtype=np.float64, tied=False):
    return fastbp.Network.random(sizes, seed=seed, activations=activations, dtype=dtype, tied_biases=tied)


def digest(*arrays) -> str:
    h = hashlib.sha256()
    for arr in arrays:
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()[:24]


def trained(sizes, activations=None, dtype=np.float64, tied=False, epochs=3, n=10, classes=False, **options):
    net = net_of(sizes, 1, activations, dtype, tied)
    X, Y = problem(sizes, n, 2, classes)
    history = fastbp.train(net, X, Y, epochs=epochs, **options)
    return digest(net._params, history.errors)


def trained_many(sizes_list, activations=None, epochs=4, **options):
    nets = [net_of(sizes, 10 + k, activations) for k, sizes in enumerate(sizes_list)]
    X, Y = problem(sizes_list[0], 6, 3)
    lrs = [0.2 + 0.1 * k for k in range(len(nets))]
    histories = fastbp.train_many(nets, X, Y, epochs=epochs, lr=lrs, **options)
    return digest(*[net._params for net in nets], *[h.errors for h in histories])


SMALL = (3, 5, 2)
WIDE = (8, 40, 3)  # 320 weights in its first layer: minibatches of 8 through BLAS
TINY = (2, 3, 1)  # 13 parameters: the unrolled kernel's size
LOOPS = dict(kernel="loops")
ONLINE = dict(kernel="loops", batch_size=1)
MINI = dict(kernel="loops", batch_size=4)

CASES = {
    # the online loops (train_epochs, batch_size=1): every activation, loss and optimiser
    **{
        f"online-{act}": lambda act=act: trained(SMALL, (act, "logistic"), lr=0.5, **ONLINE)
        for act in ("logistic", "tanh", "relu", "leaky_relu", "identity")
    },
    "online-identity-output": lambda: trained(SMALL, ("tanh", "identity"), lr=0.1, **ONLINE),
    "online-softmax-cross-entropy": lambda: trained(
        SMALL, ("tanh", "softmax"), classes=True, loss="cross_entropy", lr=0.3, **ONLINE
    ),
    "online-logistic-cross-entropy": lambda: trained(SMALL, loss="cross_entropy", lr=0.3, **ONLINE),
    "online-momentum": lambda: trained(SMALL, momentum=0.9, lr=0.2, **ONLINE),
    "online-nesterov": lambda: trained(SMALL, momentum=0.9, nesterov=True, lr=0.2, **ONLINE),
    "online-adam": lambda: trained(SMALL, ("relu", "logistic"), optimizer="adam", lr=0.01, **ONLINE),
    "online-adam-weight-decay": lambda: trained(SMALL, optimizer="adam", lr=0.01, weight_decay=0.1, **ONLINE),
    "online-adamw": lambda: trained(SMALL, optimizer="adamw", lr=0.01, weight_decay=0.1, **ONLINE),
    "minibatch-adamw-float32": lambda: trained(
        SMALL, dtype=np.float32, optimizer="adamw", lr=0.01, weight_decay=0.1, **MINI
    ),  # fmt: skip
    "online-rprop": lambda: trained(SMALL, optimizer="rprop", lr=0.05, **ONLINE),
    "online-sgd-weight-decay": lambda: trained(SMALL, lr=0.5, weight_decay=0.01, **ONLINE),
    "online-layerwise": lambda: trained(SMALL, lr=0.5, update="layerwise", **ONLINE),
    "online-frozen-tied-biases": lambda: trained(SMALL, tied=True, lr=0.5, train_biases=False, **ONLINE),
    "online-shuffle": lambda: trained(SMALL, lr=0.5, shuffle=True, seed=4, **ONLINE),
    "online-fast-math": lambda: trained(SMALL, lr=0.5, fast_math=True, **ONLINE),
    "online-float32": lambda: trained(
        SMALL, ("tanh", "logistic"), dtype=np.float32, optimizer="adam", lr=0.01, **ONLINE
    ),  # fmt: skip
    "online-three-layers": lambda: trained((3, 6, 4, 2), ("tanh", "relu", "logistic"), lr=0.3, **ONLINE),
    # the minibatch loops
    "minibatch-logistic": lambda: trained(SMALL, lr=0.5, **MINI),
    "minibatch-softmax-adam": lambda: trained(
        SMALL, ("tanh", "softmax"), classes=True, loss="cross_entropy", optimizer="adam", lr=0.01, **MINI
    ),
    "minibatch-momentum-layerwise": lambda: trained(SMALL, lr=0.5, momentum=0.5, update="layerwise", **MINI),
    "minibatch-nesterov-weight-decay": lambda: trained(
        SMALL, lr=0.5, momentum=0.5, nesterov=True, weight_decay=0.01, **MINI
    ),  # fmt: skip
    "online-huber": lambda: trained(SMALL, ("tanh", "identity"), loss="huber", huber_delta=0.2, lr=0.3, **ONLINE),
    "online-gelu-silu": lambda: trained((3, 6, 4, 2), ("gelu", "silu", "logistic"), lr=0.3, **ONLINE),
    "minibatch-silu-adam": lambda: trained(SMALL, ("silu", "gelu"), optimizer="adam", lr=0.01, **MINI),
    "full-batch-rprop": lambda: trained(SMALL, optimizer="rprop", lr=0.05, batch_size=None, **LOOPS),
    "minibatch-float32-shuffle": lambda: trained(SMALL, dtype=np.float32, lr=0.5, shuffle=True, seed=1, **MINI),
    # the unrolled kernels (each compiled for its architecture and options)
    "unrolled-logistic": lambda: trained(TINY, lr=0.5, kernel="unrolled", epochs=20),
    "unrolled-tanh-momentum": lambda: trained(TINY, ("tanh", "logistic"), lr=0.2, momentum=0.9, kernel="unrolled"),
    "unrolled-gelu-huber": lambda: trained(
        TINY, ("gelu", "identity"), loss="huber", huber_delta=0.2, lr=0.2, kernel="unrolled"
    ),  # fmt: skip
    "unrolled-fast-math-frozen": lambda: trained(TINY, lr=0.5, fast_math=True, train_biases=False, kernel="unrolled"),
    # train_many: lanes (one architecture side by side) and threads (one network per thread)
    "lanes-logistic": lambda: trained_many([TINY] * 9, kernel="lanes"),
    "lanes-relu-momentum": lambda: trained_many([TINY] * 8, ("relu", "logistic"), momentum=0.5, kernel="lanes"),
    "lanes-huber": lambda: trained_many(
        [TINY] * 8, ("tanh", "identity"), loss="huber", huber_delta=0.2, kernel="lanes"
    ),  # fmt: skip
    "lanes-nesterov": lambda: trained_many([TINY] * 8, momentum=0.5, nesterov=True, kernel="lanes"),
    "lanes-fast-math-shuffle": lambda: trained_many([TINY] * 8, fast_math=True, shuffle=True, seed=2, kernel="lanes"),
    "threads-mixed-adam": lambda: trained_many([TINY, (2, 5, 1), (2, 4, 3, 1)], optimizer="adam", kernel="loops"),
    # evaluation and gradients
    "evaluate": lambda: digest(*_evaluated(SMALL, 50)),
    "gradients-cross-entropy": lambda: digest(*_gradients(SMALL, "cross_entropy")),
    # the oracle
    "oracle-adam-minibatch": lambda: trained(
        SMALL, ("tanh", "logistic"), engine="python", optimizer="adam", lr=0.01, batch_size=3, epochs=2
    ),  # fmt: skip
}

# BLAS's products (train_epochs_blas, evaluate_blas): digests per OpenBLAS architecture.
BLAS_CASES = {
    "blas-logistic": lambda: trained(WIDE, lr=0.5, batch_size=8, kernel="blas", n=40),
    "blas-tanh-softmax-adam": lambda: trained(
        WIDE,
        ("tanh", "softmax"),
        classes=True,
        loss="cross_entropy",
        optimizer="adam",
        lr=0.01,
        batch_size=8,
        kernel="blas",
        n=40,
    ),  # fmt: skip
    "blas-float32-momentum": lambda: trained(
        WIDE, dtype=np.float32, lr=0.5, momentum=0.5, batch_size=8, kernel="blas", n=40
    ),  # fmt: skip
    "evaluate-blas": lambda: digest(*_evaluated((8, 160, 3), 100)),
}


def _evaluated(sizes, n):
    net = net_of(sizes, 5, ("relu", "softmax"))
    X, Y = problem(sizes, n, 6, classes=True)
    return net.forward(X), np.array([net.error(X, Y, loss="cross_entropy")])


def _gradients(sizes, loss):
    net = net_of(sizes, 7, ("tanh", "softmax"))
    X, Y = problem(sizes, 20, 8, classes=True)
    dW, db = net.gradients(X, Y, loss=loss)
    return [*dW, *db]


def blas_architecture() -> str:
    """The OpenBLAS kernel family that serves Numba's np.dot (SciPy's OpenBLAS), e.g. 'SkylakeX'."""
    import scipy.linalg  # noqa: F401 - loads SciPy's BLAS, the one Numba's np.dot calls
    import threadpoolctl

    found = {info.get("architecture") for info in threadpoolctl.threadpool_info() if "scipy" in info["filepath"]}
    found |= {info.get("architecture") for info in threadpoolctl.threadpool_info() if info["user_api"] == "blas"}
    return "/".join(sorted(a for a in found if a))


def recorded() -> dict:
    return json.loads(PINNED.read_text())


# Cases run a second time with the kernels users get, specialised for the network's own activations (the
# session compiles one specialisation for every activation: conftest.py): each path once, the article's
# logistic alone and sets of two, to the same digests.
USERS_MARKS = ("online-logistic", "online-adam", "minibatch-softmax-adam", "lanes-logistic", "threads-mixed-adam",
               "evaluate", "blas-logistic", "blas-tanh-softmax-adam")  # fmt: skip


def run_case(cases, name, marks):
    """A case's digest, its networks marking every activation or only their own (users_marks)."""
    with users_marks() if marks == "users" else contextlib.nullcontext():
        return cases[name]()


@pytest.mark.parametrize("name, marks", [(n, "every") for n in sorted(CASES)]
                         + [(n, "users") for n in USERS_MARKS if n in CASES])  # fmt: skip
def test_bits_are_those_pinned(name, marks):
    assert run_case(CASES, name, marks) == recorded()["digests"][name], f"{name}: the bits of this path changed"


@pytest.mark.parametrize("name, marks", [(n, "every") for n in sorted(BLAS_CASES)]
                         + [(n, "users") for n in USERS_MARKS if n in BLAS_CASES])  # fmt: skip
def test_blas_bits_are_those_pinned_for_this_openblas_kernel(name, marks):
    pytest.importorskip("scipy")
    pytest.importorskip("threadpoolctl")
    architecture = blas_architecture()
    pinned = recorded()["blas"].get(architecture)
    if pinned is None:
        pytest.skip(f"no BLAS digests recorded for OpenBLAS {architecture!r}: python tests/test_pinned_bits.py")
    digest_now = run_case(BLAS_CASES, name, marks)
    assert digest_now == pinned[name], f"{name}: the bits of this path changed on {architecture}"


def test_every_case_is_pinned_and_every_pin_has_a_case():
    pins = recorded()
    assert set(pins["digests"]) == set(CASES)
    for architecture, digests in pins["blas"].items():
        assert set(digests) == set(BLAS_CASES), architecture


if __name__ == "__main__":  # print the digests of this machine, to record them in pinned_bits.json
    json.dump(
        {
            "digests": {name: case() for name, case in sorted(CASES.items())},
            "blas": {blas_architecture(): {name: case() for name, case in sorted(BLAS_CASES.items())}},
        },
        sys.stdout,
        indent=1,
    )
    print()
