"""What every benchmark shares: the timer and repeats, one thread for BLAS. The workloads are in workloads.py."""

import inspect
import os
import timeit

# One thread for BLAS, so that timings do not depend on what else the machine runs.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")


class Benchmark:
    """Wall-clock timing, a few repeats (Numba kernels are warmed in setup)."""

    timer = timeit.default_timer
    repeat = (3, 25, 20.0)
    timeout = 300.0


def kernel_option(kernel: str) -> dict:
    """train's kernel= option, or NotImplementedError (asv: skip) for a forced kernel on a fastbp without it."""
    import fastbp

    if kernel == "auto":
        return {}
    if "kernel" not in inspect.signature(fastbp.train).parameters:
        raise NotImplementedError("this fastbp cannot force a kernel")
    return {"kernel": kernel}
