"""Seeded workloads shared by the benchmarks. Append only: changing one resets its history."""

import os
import timeit

import numpy as np

# One thread for BLAS, so that timings do not depend on what else the machine runs.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")


class Benchmark:
    """Wall-clock timing, a few repeats (Numba kernels are warmed in setup)."""

    timer = timeit.default_timer
    repeat = (3, 25, 20.0)
    timeout = 300.0


def digits():
    """scikit-learn's digits: 1,797 x 64 pixels / 16, one-hot targets; NotImplementedError (skip) without sklearn."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise NotImplementedError("scikit-learn is not installed") from None
    data = load_digits()
    return data.data / 16.0, np.eye(10)[data.target]


def xor_ensemble(n_networks=1000, seed=0):
    """XOR's 4 samples and n 2-4-1 networks with uniform(-1, 1) initial weights."""
    import fastbp

    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    Y = np.array([[0], [1], [1], [0]], dtype=float)
    rng = np.random.default_rng(seed)
    nets = []
    for _ in range(n_networks):
        weights = [rng.uniform(-1, 1, (4, 2)), rng.uniform(-1, 1, (1, 4))]
        nets.append(fastbp.Network.from_arrays(weights, [rng.uniform(-1, 1, 4), rng.uniform(-1, 1, 1)]))
    return nets, X, Y


def random_784(n_samples=60_000, seed=0):
    """60,000 x 784 inputs uniform in [0, 1) and one-hot random labels of 10 classes."""
    rng = np.random.default_rng(seed)
    return rng.uniform(0.0, 1.0, (n_samples, 784)), np.eye(10)[rng.integers(0, 10, n_samples)]
