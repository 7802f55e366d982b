"""Checkpoints: everything a training run needs to go on, written atomically and read back checked."""

from __future__ import annotations

import json
import os

import numpy as np

from .io import VERSION, read_npz

FORMAT = "fastbp-checkpoint"


def save(path, net, velocity, epoch: int, errors, rng_state, fingerprint: dict) -> None:
    """Write a training run's state to path atomically: a killed writer leaves the old file intact.

    The file is written beside path, flushed to disk, then renamed over path.
    """
    path = os.fspath(path)
    arrays = {
        "format": np.array(FORMAT), "version": np.array(VERSION), "sizes": np.array(net.sizes),
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


def load(path, net, fingerprint: dict) -> dict:
    """Read a checkpoint for continuing to train net with the given options; ValueError if it does not fit."""
    name = os.fspath(path)
    state = read_npz(name, f"resume: {name}: ", "a readable checkpoint")
    if state.get("format", np.array("")).item() != FORMAT:
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
