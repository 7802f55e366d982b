"""Checkpoints: everything a training run needs to go on, written atomically and read back checked."""

from __future__ import annotations

import json
import os

import numpy as np

from .io import read_npz

FORMAT = "fastbp-checkpoint"
# 2: the optimiser's two state arrays and update count, the early-stopping record, activations.
VERSION = 2


def save(path, net, run: dict, fingerprint: dict) -> None:
    """Write a training run's state (training._Job.state_to_save) to path atomically: a killed writer
    leaves the old file intact. The file is written beside path, flushed to disk, then renamed over path."""
    path = os.fspath(path)
    best = run["best"]
    arrays = {
        "format": np.array(FORMAT), "version": np.array(VERSION), "sizes": np.array(net.sizes),
        "tied": np.array(net.tied_biases), "activations": np.array(net.activations), "params": run["params"],
        "state_first": run["state"][0], "state_second": run["state"][1], "step": np.array(run["step"]),
        "epoch": np.array(run["epoch"]), "errors": np.asarray(run["errors"]),
        "rng_state": np.array(json.dumps(run["rng_state"])),
        "options": np.array(json.dumps(fingerprint, sort_keys=True)),
        "waited": np.array(run["waited"]), "stopped": np.array(run["stopped"]),
    }  # fmt: skip
    if run["val_errors"] is not None:
        arrays["val_errors"] = np.asarray(run["val_errors"])
    if best is not None:
        arrays["best_epoch"], arrays["best_val"] = np.array(best[0]), np.array(best[1])
        if best[2] is not None:
            arrays["best_params"] = best[2]
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
    """Read a checkpoint for continuing to train net with the given options; ValueError if it does not fit.

    Checkpoints of version 1 (gradient descent only) are read too: their velocities are the state.
    """
    name = os.fspath(path)
    state = read_npz(name, f"resume: {name}: ", "a readable checkpoint")
    if state.get("format", np.array("")).item() != FORMAT:
        raise ValueError(f"resume: {name}: not a fastbp checkpoint")
    if int(state["version"]) > VERSION:
        raise ValueError(f"resume: {name}: written by a newer fastbp (format version {int(state['version'])})")
    sizes = tuple(int(n) for n in state["sizes"])
    activations = tuple(str(a) for a in state.get("activations", np.array(["logistic"] * (len(sizes) - 1))))
    if sizes != net.sizes or tuple(bool(t) for t in state["tied"]) != net.tied_biases:
        raise ValueError(f"resume: {name} holds a network of sizes {sizes}; net has {net.sizes}")
    if activations != net.activations:
        raise ValueError(f"resume: {name} holds a network of activations {activations}; net has {net.activations}")
    saved = json.loads(state["options"].item())
    if "layerwise" in saved:  # version 1 recorded the update order as a flag
        saved["update"] = "layerwise" if saved.pop("layerwise") else "simultaneous"
    for key, value in fingerprint.items():
        if saved.get(key, _V1_DEFAULTS.get(key)) != value:
            raise ValueError(f"resume: {name} was written with {key}={saved.get(key)!r}; this call has {key}={value!r}")
    if "velocity" in state:  # version 1
        state["state_first"], state["state_second"] = state["velocity"], np.zeros_like(state["velocity"])
    arrays = [("params", net.dtype), ("state_first", net.dtype), ("state_second", net.dtype), ("errors", np.float64)]
    arrays += [(key, net.dtype) for key in ("best_params",) if key in state]
    for key, dtype in arrays:
        if state[key].dtype != dtype or not np.isfinite(state[key]).all():
            raise ValueError(f"resume: {name}: damaged checkpoint ({key} is not finite {np.dtype(dtype).name})")
        if key != "errors" and state[key].shape != net._params.shape:
            raise ValueError(f"resume: {name}: damaged checkpoint ({key}: parameter count differs from the network's)")
    best = None
    if "best_epoch" in state:
        best = (int(state["best_epoch"]), float(state["best_val"]), state.get("best_params"))
    return {
        "params": state["params"], "state": (state["state_first"], state["state_second"]),
        "step": int(state.get("step", 0)), "epoch": int(state["epoch"]), "errors": state["errors"],
        "rng_state": json.loads(state["rng_state"].item()), "val_errors": state.get("val_errors"),
        "best": best, "waited": int(state.get("waited", 0)), "stopped": bool(state.get("stopped", False)),
    }  # fmt: skip


# What a checkpoint written before these options existed was trained with.
_V1_DEFAULTS = {
    "loss": "squared", "optimizer": "sgd", "betas": [0.9, 0.999], "eps": 1e-8, "etas": [0.5, 1.2],
    "step_sizes": [1e-6, 50.0], "weight_decay": 0.0, "fast_math": False,
}  # fmt: skip
