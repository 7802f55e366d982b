"""A plain C loop (online.c beside this file), compiled on the spot: the reference for what one core does.

The online step as a C programmer writes it: the layer widths compiled in, libm's exp, cc -O3 -march=native
(which lets the compiler fuse multiply-adds, as fastbp's default, bit for bit the oracle's, does not)."""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess

import numpy as np

from .common import mean_error, only_the_article


def runner(w: dict):
    only_the_article(w, "the C loop")
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise NotImplementedError("no C compiler on PATH")
    if w["batch"] > 1:
        raise NotImplementedError("the C loop is online only")
    import tempfile

    (W, _), *_ = w["nets"]
    widths = (W[0].shape[1], W[0].shape[0], W[1].shape[0])
    source = os.path.join(os.path.dirname(os.path.abspath(__file__)), "online.c")
    with tempfile.TemporaryDirectory() as folder:  # the loaded library outlives its file
        library = os.path.join(folder, "online.so")
        defines = [f"-D{name}={n}" for name, n in zip(("N_IN", "N_HID", "N_OUT"), widths)]
        flags = ["-O3", "-march=native", "-shared", "-fPIC"]
        subprocess.run([compiler, *flags, *defines, source, "-o", library, "-lm"], check=True)
        lib = ctypes.CDLL(library)
    pointer = ctypes.POINTER(ctypes.c_double)
    lib.train.argtypes = [pointer] * 6 + [ctypes.c_long, ctypes.c_long, ctypes.c_double, ctypes.c_int]
    X, Y = np.ascontiguousarray(w["X"]), np.ascontiguousarray(w["Y"])

    def train():
        errors = []
        for W, B in w["nets"]:
            params = [np.array(W[0]), np.array(np.broadcast_to(B[0], (widths[1],))), np.array(W[1]),
                      np.array(np.broadcast_to(B[1], (widths[2],)))]  # fmt: skip
            lib.train(*(a.ctypes.data_as(pointer) for a in (*params, X, Y)), len(X), w["epochs"], w["lr"],
                      int(w["train_biases"]))  # fmt: skip
            errors.append(mean_error(*params, X, Y))
        return errors

    return train
