"""Saving and loading networks as .npz files (never pickles)."""

from __future__ import annotations

import json
import os
import zipfile

import numpy as np

from .network import Network

FORMAT = "fastbp-network"
VERSION = 1


def save(net: Network, path, input_bounds: tuple[np.ndarray, np.ndarray] | None = None) -> None:
    """Write net to path as .npz: format name and version, dtype, sizes, bias modes, weights, biases.

    ``input_bounds`` (low, high per input) records a min-max scaling of the inputs
    that the network was trained with, for the command line to apply again.
    """
    arrays = {"format": np.array(FORMAT), "version": np.array(VERSION), "sizes": np.array(net.sizes)}
    arrays["dtype"] = np.array(net.dtype.name)
    if input_bounds is not None:
        arrays["input_low"], arrays["input_high"] = (np.asarray(b, dtype=np.float64) for b in input_bounds)
    arrays["tied"] = np.array(net.tied_biases)
    for l, (W, b) in enumerate(zip(net.weights, net.biases)):
        arrays[f"W{l}"] = W
        arrays[f"b{l}"] = b
    with open(os.fspath(path), "wb") as f:
        np.savez(f, **arrays)


def read_npz(name: str, prefix: str, expected: str) -> dict:
    """Every array of an .npz file, never unpickling; ValueError(prefix + what is wrong) otherwise."""
    try:
        with open(name, "rb") as f, np.load(f, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except FileNotFoundError:
        raise ValueError(f"{prefix}no such file") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        raise ValueError(f"{prefix}not {expected} ({exc})") from None


def load(path) -> Network:
    """Read a network written by :meth:`Network.save`; a bad file raises ValueError."""
    name = os.fspath(path)
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
        n_layers = len(arrays["sizes"]) - 1
        tied = arrays["tied"]
        for l in range(n_layers):
            if tied[l] and np.ptp(arrays[f"b{l}"]) != 0:
                raise ValueError(f"b{l} is tied but its values differ")
        weights = [arrays[f"W{l}"] for l in range(n_layers)]
        biases = [arrays[f"b{l}"][0] if tied[l] else arrays[f"b{l}"] for l in range(n_layers)]
        net = Network.from_arrays(weights, biases, dtype=dtype)
    except (KeyError, IndexError, ValueError, TypeError) as exc:
        raise ValueError(f"{name}: damaged fastbp network file ({exc})") from None
    if net.sizes != tuple(int(n) for n in arrays["sizes"]):
        raise ValueError(f"{name}: damaged fastbp network file (sizes {arrays['sizes']} disagree with the weights)")
    return net


def input_bounds(path) -> tuple[np.ndarray, np.ndarray] | None:
    """The input scaling saved with a network (see :func:`save`), or None."""
    with open(os.fspath(path), "rb") as f, np.load(f, allow_pickle=False) as data:
        if "input_low" not in data.files:
            return None
        return data["input_low"], data["input_high"]


# --- checkpoints: everything a training run needs to go on ------------------------------------

CHECKPOINT_FORMAT = "fastbp-checkpoint"


def save_checkpoint(path, net: Network, velocity, epoch: int, errors, rng_state, fingerprint: dict) -> None:
    """Write a training run's state to path atomically: a killed writer leaves the old file intact.

    The file is written beside path, flushed to disk, then renamed over path.
    """
    path = os.fspath(path)
    arrays = {
        "format": np.array(CHECKPOINT_FORMAT), "version": np.array(VERSION), "sizes": np.array(net.sizes),
        "tied": np.array(net.tied_biases), "params": net._params, "velocity": np.asarray(velocity),
        "epoch": np.array(epoch), "errors": np.asarray(errors), "rng_state": np.array(json.dumps(rng_state)),
        "options": np.array(json.dumps(fingerprint, sort_keys=True)),
    }  # fmt: skip
    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        with open(temporary, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    directory = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    try:
        os.fsync(directory)  # make the rename itself durable
    finally:
        os.close(directory)


def load_checkpoint(path, net: Network, fingerprint: dict) -> dict:
    """Read a checkpoint for continuing to train net with the given options; ValueError if it does not fit."""
    name = os.fspath(path)
    state = read_npz(name, f"resume: {name}: ", "a readable checkpoint")
    if state.get("format", np.array("")).item() != CHECKPOINT_FORMAT:
        raise ValueError(f"resume: {name}: not a fastbp checkpoint")
    if int(state["version"]) > VERSION:
        raise ValueError(f"resume: {name}: written by a newer fastbp (format version {int(state['version'])})")
    if tuple(int(n) for n in state["sizes"]) != net.sizes or tuple(bool(t) for t in state["tied"]) != net.tied_biases:
        raise ValueError(
            f"resume: {name} holds a network of sizes {tuple(int(n) for n in state['sizes'])}; net has {net.sizes}"
        )
    saved = json.loads(state["options"].item())
    for key, value in fingerprint.items():
        if saved.get(key) != value:
            raise ValueError(f"resume: {name} was written with {key}={saved.get(key)!r}; this call has {key}={value!r}")
    for key, dtype in (("params", net.dtype), ("velocity", net.dtype), ("errors", np.float64)):
        if state[key].dtype != dtype or not np.isfinite(state[key]).all():
            raise ValueError(f"resume: {name}: damaged checkpoint ({key} is not finite {np.dtype(dtype).name})")
    if state["params"].shape != net._params.shape or state["velocity"].shape != net._params.shape:
        raise ValueError(f"resume: {name}: damaged checkpoint (parameter count differs from the network's)")
    return {
        "params": state["params"], "velocity": state["velocity"], "epoch": int(state["epoch"]),
        "errors": state["errors"], "rng_state": json.loads(state["rng_state"].item()),
    }  # fmt: skip
