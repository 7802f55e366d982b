"""Independent references for the tests: the article's numbers as data, and NumPy
statements of the training formulas derived separately from the oracle."""

from __future__ import annotations

import contextlib
import functools
import os
import subprocess
import sys

import numpy as np

# First table of ARTICLE_NUMBERS.md: (name, value as the article prints it).
# dE_o2/dout_h1 is the float64 value -0.019049118 (the article rounded on the way).
FORWARD = [
    ("net_h1", "0.3775"),
    ("out_h1", "0.593269992"),
    ("out_h2", "0.596884378"),
    ("net_o1", "1.105905967"),
    ("out_o1", "0.75136507"),
    ("out_o2", "0.772928465"),
    ("E_o1", "0.274811083"),
    ("E_o2", "0.023560026"),
    ("E_total", "0.298371109"),
]
BACKWARD = [
    ("dE/dout_o1", "0.74136507"),
    ("dout_o1/dnet_o1", "0.186815602"),
    ("dE/dw5", "0.082167041"),
    ("delta_o1", "0.138498562"),
    ("dE_o1/dout_h1", "0.055399425"),
    ("dE_o2/dout_h1", "-0.019049118"),
    ("dE/dout_h1", "0.036350306"),
    ("dout_h1/dnet_h1", "0.241300709"),
    ("dE/dw1", "0.000438568"),
]
UPDATED_OUTPUT_WEIGHTS = ["0.35891648", "0.408666186", "0.511301270", "0.561370121"]  # w5+..w8+
UPDATED_HIDDEN_WEIGHTS = ["0.149780716", "0.19956143", "0.24975114", "0.29950229"]  # w1+..w4+

# Second table: what each update order gives (full float64 precision from ARTICLE_NUMBERS.md).
TRAINING = {
    "simultaneous": {
        "after_1": 0.29102777369359933,
        "after_9999": 3.510854812251261e-05,
        "after_10000": 3.510187782978859e-05,
        "outputs": (0.01591362044355068, 0.9840642735146238),
        "w1_after_1": "0.149780716",
    },
    "layerwise": {
        "after_1": 0.29102792390544197,
        "after_9999": 3.509145381072163e-05,
        "after_10000": 3.5084786296312774e-05,
        "outputs": (0.0159121963260343, 0.9840657344856291),
        "w1_after_1": "0.149817639",
    },
}
# What the article prints, and which order reproduces it to its printed precision.
PUBLISHED = [
    ("layerwise", "after_1", "0.291027924"),
    ("simultaneous", "w1_after_1", "0.149780716"),
    ("layerwise", "after_10000", "0.000035085"),
    ("simultaneous", "after_9999", "0.0000351085"),
    ("layerwise", "out_o1", "0.015912196"),
    ("layerwise", "out_o2", "0.984065734"),
]


def tolerance(printed: str) -> float:
    """Half a unit of the last digit the article prints."""
    decimals = len(printed.split(".")[1]) if "." in printed else 0
    return 0.5 * 10.0**-decimals


def sigmoid(net: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-net))


def numpy_train(weights, biases, tied, X, Y, orders, lr, batch_size, momentum, train_biases):
    """Simultaneous minibatch gradient descent with classical momentum, in matrix form.

    Per batch of k samples: A_0 = X_b, A_{l+1} = sigmoid(A_l W_l^T + b_l);
    D_L = (A_L - Y_b) * A_L (1 - A_L); going down, G_l = D_{l+1}^T A_l / k,
    g_b = mean(D_{l+1}) (summed over the layer when its bias is tied) and
    D_l = (D_{l+1} W_l) * A_l (1 - A_l) with the weights before the update;
    then v = momentum v - lr g, w += v. Returns (weights, biases, epoch errors).
    """
    W = [np.array(w, dtype=float) for w in weights]
    b = [np.array(v, dtype=float) for v in biases]
    vW = [np.zeros_like(w) for w in W]
    vb = [np.zeros_like(v) for v in b]
    errors = []
    for order in orders:
        E = 0.0
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            A = [X[idx]]
            for w, v in zip(W, b):
                A.append(sigmoid(A[-1] @ w.T + v))
            E += 0.5 * ((Y[idx] - A[-1]) ** 2).sum()
            D = (A[-1] - Y[idx]) * A[-1] * (1 - A[-1])
            grads = []
            for l in reversed(range(len(W))):
                gW = D.T @ A[l] / len(idx)
                gb = D.mean(axis=0)
                if tied[l]:
                    gb = np.full_like(gb, gb.sum())
                grads.append((l, gW, gb))
                D = (D @ W[l]) * A[l] * (1 - A[l])
            for l, gW, gb in grads:
                vW[l] = momentum * vW[l] - lr * gW
                W[l] += vW[l]
                if train_biases:
                    vb[l] = momentum * vb[l] - lr * gb
                    b[l] += vb[l]
        errors.append(E / len(order))
    return W, b, np.array(errors)


def finite_difference_gradients(net, X, Y, h=1e-6, loss="squared", **loss_options):
    """Central differences of net.error (under the loss, with its options) over every weight and every per-unit
    bias."""
    import fastbp

    weights, biases = net.weights, net.biases

    def error_with(ws, bs):
        return fastbp.Network.from_arrays(ws, list(bs), activations=net.activations).error(
            X, Y, loss=loss, **loss_options
        )

    dW = []
    for l, W in enumerate(weights):
        g = np.empty_like(W)
        for idx in np.ndindex(W.shape):
            plus = [w.copy() for w in weights]
            minus = [w.copy() for w in weights]
            plus[l][idx] += h
            minus[l][idx] -= h
            g[idx] = (error_with(plus, biases) - error_with(minus, biases)) / (2 * h)
        dW.append(g)
    db = []
    for l, b in enumerate(biases):
        g = np.empty_like(b)
        for j in range(len(b)):
            plus = [v.copy() for v in biases]
            minus = [v.copy() for v in biases]
            plus[l][j] += h
            minus[l][j] -= h
            g[j] = (error_with(weights, plus) - error_with(weights, minus)) / (2 * h)
        db.append(g)
    return dW, db


def compiled_and_oracle(net, X, Y, rtol=1e-10, **options):
    """Train copies of net with the compiled kernels and with the oracle under the same options; assert that they
    agree (parameters to rtol, and 1e-13 absolute; each epoch's error to rtol). Returns the compiled run's
    (network, History)."""
    import fastbp

    fast, slow = net.copy(), net.copy()
    h_fast = fastbp.train(fast, X, Y, **options)
    h_slow = fastbp.train(slow, X, Y, engine="python", **options)
    for a, b in zip(fast.weights + fast.biases, slow.weights + slow.biases):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-13)
    np.testing.assert_allclose(h_fast.errors, h_slow.errors, rtol=rtol)
    return fast, h_fast


def random_problem(seed, sizes, n_samples):
    """A random network (uniform(-1, 1) weights) and data in (0, 1)."""
    import fastbp

    rng = np.random.default_rng(seed)
    weights = [rng.uniform(-1, 1, size=(b, a)) for a, b in zip(sizes[:-1], sizes[1:])]
    biases = [rng.uniform(-1, 1, size=b) for b in sizes[1:]]
    X = rng.uniform(0, 1, size=(n_samples, sizes[0]))
    Y = rng.uniform(0, 1, size=(n_samples, sizes[-1]))
    return fastbp.Network.from_arrays(weights, biases), X, Y


def train_many_and_alone(nets, X, Y, lrs, options):
    """Train nets with train_many and copies of them one by one with train; yield each pair of results.

    Yields (network from train_many, its History, network trained alone, its History).
    """
    import fastbp

    alone = [net.copy() for net in nets]
    histories = fastbp.train_many(nets, X, Y, lr=lrs, **options)
    for net, single, lr, history in zip(nets, alone, lrs, histories):
        yield net, history, single, fastbp.train(single, X, Y, lr=lr, **options)


def kernel_exp_in_oracle(fast_math: bool = False):
    """A context in which the oracle's logistic uses the kernels' e^x (fast_math's, if asked) instead of math.exp.

    That exp is the one place where the kernels' arithmetic differs from the oracle's
    (within an ulp); with it substituted, the two engines must give the same bits.
    """
    from dataclasses import replace
    from unittest import mock

    from fastbp import _kernels, catalogue, oracle

    logistic = called_from_python(_kernels._logistic_fast if fast_math else _kernels._logistic)
    patched = {"logistic": replace(catalogue.activation("logistic"), forward=logistic)}
    stack = contextlib.ExitStack()
    stack.enter_context(mock.patch.object(oracle, "logistic", logistic))
    stack.enter_context(mock.patch.dict(catalogue.BY_NAME["activation"], patched))
    return stack


@functools.cache
def called_from_python(function):
    """A function of one argument that only the kernels call (_kernels._compiled_code_only: compiled with no
    wrapper for Python), made callable from Python: a compiled function that calls it (one per function and
    process, not one per use: each would compile anew)."""
    from numba import njit

    return njit(lambda x: function(x))


def every_activation_marked():
    """Networks made inside this context mark every activation of the catalogue (Net's uses_<name>), so that
    their kernels compile one specialisation with a branch per activation, whatever each network has.

    Users' networks mark only their own activations, a specialisation per set; tests that sweep many sets
    (every activation against the oracle or torch) run them through this one, which holds every element's
    branch of the generated choices, instead of compiling each kernel again per set.
    """
    from unittest import mock

    from fastbp import _kernels

    _USERS_USES_OF.setdefault("uses_of", _kernels.uses_of)  # (users_marks puts it back)
    every = _USERS_USES_OF["uses_of"](range(_kernels.N_ACTIVATIONS))
    return mock.patch.object(_kernels, "uses_of", lambda codes: every)


_USERS_USES_OF: dict = {}  # _kernels.uses_of as users' networks get it, kept before the session widens it


def users_marks():
    """Networks made inside this context mark their own activations only, as users' networks do (undoes
    every_activation_marked, which the test session applies throughout: conftest.py)."""
    from unittest import mock

    from fastbp import _kernels

    return mock.patch.object(_kernels, "uses_of", _USERS_USES_OF.get("uses_of", _kernels.uses_of))


def run_python(code: str, **env) -> subprocess.CompletedProcess:
    """Run code in a fresh Python process (with extra environment variables); fails the test if it fails."""
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=600,
        env={**os.environ, **env},
    )  # fmt: skip


def model_problem(seed, sizes, n, activations, classes=False, tied=False):
    """A random network with these activations and data: one-hot targets for classes, else in (0, 1)."""
    import fastbp

    rng = np.random.default_rng(seed)
    net = fastbp.Network.random(sizes, seed=seed, activations=activations, tied_biases=tied)
    X = rng.uniform(-1, 1, (n, sizes[0]))
    Y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], n)] if classes else rng.uniform(0.05, 0.95, (n, sizes[-1]))
    return net, X, Y
