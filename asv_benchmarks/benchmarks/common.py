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
