"""FANN through its C library (libdoublefann: apt-get install libfann-dev), incremental training.

Sigmoid with steepness 0.5 is the article's logistic; FANN always trains biases and clips the
sigmoid's derivative, so its numbers differ slightly."""

from __future__ import annotations

import ctypes
import ctypes.util
import os

import numpy as np


def runner(w: dict):
    from .common import only_the_article

    only_the_article(w, "FANN")
    path = ctypes.util.find_library("doublefann")
    if path is None:
        raise NotImplementedError("FANN's C library is not installed (apt-get install libfann-dev)")
    lib = ctypes.CDLL(path)
    lib.fann_create_standard_array.restype = ctypes.c_void_p
    lib.fann_create_standard_array.argtypes = [ctypes.c_uint, ctypes.POINTER(ctypes.c_uint)]
    lib.fann_run.restype = ctypes.POINTER(ctypes.c_double)
    for fn in ("fann_set_activation_function_hidden", "fann_set_activation_function_output",
               "fann_set_training_algorithm", "fann_set_train_error_function"):  # fmt: skip
        getattr(lib, fn).argtypes = [ctypes.c_void_p, ctypes.c_int]
    for fn in ("fann_set_activation_steepness_hidden", "fann_set_activation_steepness_output"):
        getattr(lib, fn).argtypes = [ctypes.c_void_p, ctypes.c_double]
    for fn in ("fann_set_learning_rate", "fann_set_learning_momentum"):
        getattr(lib, fn).argtypes = [ctypes.c_void_p, ctypes.c_float]
    lib.fann_set_weight.argtypes = [ctypes.c_void_p, ctypes.c_uint, ctypes.c_uint, ctypes.c_double]
    lib.fann_run.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_double)]
    lib.fann_destroy.argtypes = [ctypes.c_void_p]
    if w["batch"] > 1:
        raise NotImplementedError("FANN's incremental training is online only")
    lib.fann_read_train_from_file.restype = ctypes.c_void_p
    lib.fann_read_train_from_file.argtypes = [ctypes.c_char_p]
    lib.fann_train_on_data.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint, ctypes.c_uint, ctypes.c_float]
    lib.fann_destroy_train.argtypes = [ctypes.c_void_p]
    # FANN reads its data from its own text format; training then runs every epoch in C.
    import tempfile

    from fastbp.datasets import Dataset, save_fann

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "data.fann")
        save_fann(Dataset(X=w["X"], Y=w["Y"]), path)
        data = lib.fann_read_train_from_file(path.encode())
    X = [np.ascontiguousarray(x).ctypes.data_as(ctypes.POINTER(ctypes.c_double)) for x in w["X"]]
    keep = [w["X"]]  # noqa: F841 - the pointers above point into these arrays

    def build(W, B):
        sizes = (ctypes.c_uint * 3)(W[0].shape[1], W[0].shape[0], W[1].shape[0])
        ann = lib.fann_create_standard_array(3, sizes)
        for setter, value in (("fann_set_activation_function_hidden", 3), ("fann_set_activation_function_output", 3),
                              ("fann_set_training_algorithm", 0), ("fann_set_train_error_function", 0)):  # fmt: skip
            getattr(lib, setter)(ann, value)  # FANN_SIGMOID, FANN_TRAIN_INCREMENTAL, FANN_ERRORFUNC_LINEAR
        lib.fann_set_activation_steepness_hidden(ann, 0.5)  # 1 / (1 + exp(-2 * 0.5 * net))
        lib.fann_set_activation_steepness_output(ann, 0.5)
        lib.fann_set_learning_rate(ann, w["lr"])
        lib.fann_set_learning_momentum(ann, 0.0)
        # Neurons are numbered layer by layer, each layer ending with its bias neuron.
        first = [0, W[0].shape[1] + 1, W[0].shape[1] + 1 + W[0].shape[0] + 1]
        for l in range(2):
            for j in range(W[l].shape[0]):
                for i in range(W[l].shape[1]):
                    lib.fann_set_weight(ann, first[l] + i, first[l + 1] + j, float(W[l][j, i]))
                lib.fann_set_weight(ann, first[l] + W[l].shape[1], first[l + 1] + j, float(np.ravel(B[l])[j]))
        return ann

    def train():
        errors = []
        for W, B in w["nets"]:
            ann = build(W, [np.broadcast_to(b, (W[l].shape[0],)) for l, b in enumerate(B)])
            lib.fann_train_on_data(ann, data, w["epochs"], 0, 0.0)  # no reports; no early stop
            out = np.array([[lib.fann_run(ann, x)[j] for j in range(w["Y"].shape[1])] for x in X])
            errors.append(float(np.mean(0.5 * ((w["Y"] - out) ** 2).sum(axis=1))))
            lib.fann_destroy(ann)
        return errors

    return train
