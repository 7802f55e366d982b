"""The network file format (.npz, never pickles): writing it, and reading it back as checked arrays.

This module knows the format, not the Network: ``Network.save`` and
``fastbp.load`` (network.py) call it, and so do checkpoints (_checkpoint.py).
"""

from __future__ import annotations

import os
import zipfile

import numpy as np

FORMAT = "fastbp-network"
VERSION = 1


def write_network(path, sizes, tied, weights, biases, activations, input_bounds=None) -> None:
    """Write a network to path as .npz: format name and version, dtype, sizes, bias modes, activations,
    weights, biases, and optionally the input scaling (low, high per input) it was trained with."""
    arrays = {"format": np.array(FORMAT), "version": np.array(VERSION), "sizes": np.array(sizes)}
    arrays["dtype"] = np.array(weights[0].dtype.name)
    if input_bounds is not None:
        arrays["input_low"], arrays["input_high"] = (np.asarray(b, dtype=np.float64) for b in input_bounds)
    arrays["tied"] = np.array(tied)
    arrays["activations"] = np.array(activations)
    for l, (W, b) in enumerate(zip(weights, biases)):
        arrays[f"W{l}"] = W
        arrays[f"b{l}"] = b
    with open(os.fspath(path), "wb") as f:
        np.savez(f, **arrays)


def read_npz(name: str, prefix: str, expected: str) -> dict:
    """Every array of an .npz file, never unpickling; ValueError(prefix + what is wrong) otherwise."""
    try:
        with open(name, "rb") as f:
            data = np.load(f, allow_pickle=False)
            if not isinstance(data, np.lib.npyio.NpzFile):
                raise ValueError(
                    f"{prefix}not {expected} (it holds one array, as a .npy file does, not an .npz archive)"
                )
            with data:
                return {key: data[key] for key in data.files}
    except FileNotFoundError:
        raise ValueError(f"{prefix}no such file") from None
    except IsADirectoryError:
        raise ValueError(f"{prefix}is a directory, not {expected}") from None
    except ValueError as exc:
        if str(exc).startswith(prefix):
            raise
        raise ValueError(f"{prefix}not {expected} ({exc})") from None
    except (OSError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        raise ValueError(f"{prefix}not {expected} ({exc})") from None


def read_network(name: str) -> dict:
    """The arrays of a network file, checked: weights, biases (a scalar for a tied layer), dtype, sizes,
    activations (files written before activations existed hold logistic networks)."""
    arrays = read_npz(name, f"{name}: ", "a readable .npz file")
    if arrays.get("format", np.array("")).item() != FORMAT:
        raise ValueError(f"{name}: not a fastbp network file (no '{FORMAT}' format key)")
    try:
        version = int(arrays["version"])
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"{name}: damaged fastbp network file (no readable format version)") from None
    if version > VERSION:
        raise ValueError(f"{name}: written by a newer fastbp (format version {version}; this one reads {VERSION})")
    dtype = arrays.get("dtype", np.array("float64")).item()
    if dtype not in ("float64", "float32"):
        raise ValueError(f"{name}: holds a {dtype} network; this fastbp reads float64 and float32 networks")
    for key, array in arrays.items():
        if key[0] in "Wb" and key[1:].isdigit() and array.dtype != np.dtype(dtype):
            raise ValueError(f"{name}: damaged fastbp network file ({key} has dtype {array.dtype}, not {dtype})")
    try:
        sizes = tuple(int(n) for n in arrays["sizes"])
        tied = arrays["tied"]
        for l in range(len(sizes) - 1):
            if tied[l] and np.ptp(arrays[f"b{l}"]) != 0:
                raise ValueError(f"b{l} is tied but its values differ")
        weights = [arrays[f"W{l}"] for l in range(len(sizes) - 1)]
        biases = [arrays[f"b{l}"][0] if tied[l] else arrays[f"b{l}"] for l in range(len(sizes) - 1)]
        activations = [str(a) for a in arrays["activations"]] if "activations" in arrays else None
    except (KeyError, IndexError, ValueError, TypeError) as exc:
        raise ValueError(f"{name}: damaged fastbp network file ({exc})") from None
    return {"weights": weights, "biases": biases, "dtype": dtype, "sizes": sizes, "activations": activations}


def input_bounds(path) -> tuple[np.ndarray, np.ndarray] | None:
    """The input scaling saved with a network (see :func:`write_network`), or None."""
    arrays = read_npz(os.fspath(path), f"{os.fspath(path)}: ", "a readable .npz file")
    if "input_low" not in arrays:
        return None
    return arrays["input_low"], arrays["input_high"]
