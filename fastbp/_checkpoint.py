"""Checkpoints: everything a training run needs to go on, written atomically and read back checked whole.

A checkpoint records, beside the run's state, what resuming must agree on: the
network's sizes, bias modes, activations and dtype, every option that changes
results (``_options.fingerprint``), a digest of the training (and validation) data,
and a digest of the network the run started from. :func:`load` reads and checks
every member before anything is assigned, so a refused resume changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np

from .io import Archive

FORMAT = "fastbp-checkpoint"
# 2: the optimiser's two state arrays and update count, the early-stopping record, activations.
# 3: digests of the data and of the starting network.
VERSION = 3


def digest(*arrays: np.ndarray) -> str:
    """A digest of arrays' dtypes, shapes and bytes (BLAKE2b: about 1 GB/s, paid only by runs that checkpoint)."""
    h = hashlib.blake2b(digest_size=16)
    for arr in arrays:
        h.update(f"{arr.dtype.str}{arr.shape}".encode())
        h.update(memoryview(np.ascontiguousarray(arr)).cast("B"))
    return h.hexdigest()


def save(path, net, run: dict, fingerprint: dict, digests: dict) -> None:
    """Write a training run's state (training._Job.state_to_save) to path atomically: a killed writer
    leaves the old file intact. The file is written beside path, flushed to disk, then renamed over path.
    ``digests`` holds "data" and "start" (see :func:`digest`)."""
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
        "data": np.array(digests["data"]), "start": np.array(digests["start"]),
    }  # fmt: skip
    if run["val_errors"] is not None:
        arrays["val_errors"] = np.asarray(run["val_errors"])
    if run["diagnostics"] is not None:
        arrays["diagnostics"] = np.asarray(run["diagnostics"])
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


def load(path, net, fingerprint: dict, digests: dict, epochs: int, shuffle: bool) -> dict:
    """Read a checkpoint for continuing to train net for up to ``epochs`` with the given options, data and
    shuffling; every member is checked before this returns, and anything that does not fit raises ValueError
    naming the file. Checkpoints of version 1 (gradient descent only) and 2 (no digests) are read too."""
    name = os.fspath(path)
    with Archive(name, f"resume: {name}: ", "checkpoint") as archive:
        if "format" not in archive or archive.text("format") != FORMAT:
            raise ValueError(f"resume: {name}: not a fastbp checkpoint")
        version = archive.scalar("version", "iu") if "version" in archive else None
        if version is None or version < 1:
            raise archive.damaged("no readable format version")
        if version > VERSION:
            raise ValueError(f"resume: {name}: written by a newer fastbp (format version {version})")
        _check_network(archive, name, net)
        _check_options(archive, name, fingerprint)
        if version >= 3:
            if archive.text("data") != digests["data"]:
                raise ValueError(f"resume: {name} was written by a run on other data (training or validation "
                                 "samples differ); resume with the data the run started with")  # fmt: skip
        state = _read_state(archive, net, version, epochs, shuffle, validating=digests["validating"])
        state["start"] = archive.text("start") if version >= 3 else digests["start"]  # (v1, v2: no digests)
        if state["start"] != digests["start"] and not np.array_equal(net._params, state["params"]):
            raise ValueError(
                f"resume: {name} continues a run that started from another network: net holds neither that "
                "run's starting parameters nor the checkpoint's; pass the network the run started from"
            )
        return state


def _check_network(archive: Archive, name: str, net) -> None:
    n_layers = len(net.sizes) - 1
    sizes = tuple(int(n) for n in archive.array("sizes", "iu", ndim=1))
    tied = tuple(bool(t) for t in archive.array("tied", "biu", ndim=1))
    if sizes != net.sizes or tied != net.tied_biases:
        raise ValueError(f"resume: {name} holds a network of sizes {sizes}; net has {net.sizes}")
    activations = ("logistic",) * n_layers
    if "activations" in archive:
        activations = tuple(str(a) for a in archive.array("activations", "U", shape=(n_layers,)))
    if activations != net.activations:
        raise ValueError(f"resume: {name} holds a network of activations {activations}; net has {net.activations}")
    dtype = archive.declared("params")[1]  # (the header alone: _read_state reads the data once)
    if dtype != net.dtype:
        raise ValueError(f"resume: {name} holds {dtype.name} parameters; net is {net.dtype.name} (resume into a "
                         f"network of the dtype the run trained)")  # fmt: skip


def _check_options(archive: Archive, name: str, fingerprint: dict) -> None:
    try:
        saved = json.loads(archive.text("options"))
    except json.JSONDecodeError:
        raise archive.damaged("options is not readable JSON") from None
    if not isinstance(saved, dict):
        raise archive.damaged("options is not a table of options")
    if "layerwise" in saved:  # version 1 recorded the update order as a flag
        saved["update"] = "layerwise" if saved.pop("layerwise") else "simultaneous"
    for key, value in fingerprint.items():
        if saved.get(key, _V1_DEFAULTS.get(key)) != value:
            raise ValueError(f"resume: {name} was written with {key}={saved.get(key)!r}; this call has {key}={value!r}")


def _params(archive: Archive, key: str, net) -> np.ndarray:
    return archive.array(key, "f", shape=net._params.shape, dtype=net.dtype, finite=True)


def _count(archive: Archive, key: str, default: int, high: int) -> int:
    value = archive.scalar(key, "iu") if key in archive else default
    if not 0 <= value <= high:
        raise archive.damaged(f"{key} is {value}; expected 0 to {high}")
    return int(value)


def _read_state(archive: Archive, net, version: int, epochs: int, shuffle: bool, validating: bool) -> dict:
    """The run's state, every member checked against the network, the options and each other."""
    name = archive.name
    epoch = archive.scalar("epoch", "iu") if "epoch" in archive else None
    if epoch is None or epoch < 0:
        raise archive.damaged(f"epoch is {epoch}")
    if epoch > epochs:
        raise ValueError(f"resume: the checkpoint {name} is at epoch {epoch}, past epochs={epochs}")
    params = _params(archive, "params", net)
    if version == 1:
        state = (_params(archive, "velocity", net), np.zeros_like(params))
    else:
        state = (_params(archive, "state_first", net), _params(archive, "state_second", net))
    errors = archive.array("errors", "f", shape=(epoch,), dtype=np.float64, finite=True)
    try:
        rng_state = json.loads(archive.text("rng_state"))
    except json.JSONDecodeError:
        raise archive.damaged("rng_state is not readable JSON") from None
    if shuffle:
        try:  # the state of the generator the run shuffles with (numpy's default_rng: PCG64)
            np.random.default_rng().bit_generator.state = rng_state
        except (TypeError, ValueError, KeyError, OverflowError):
            raise archive.damaged("rng_state is not the state of the shuffle's generator (PCG64)") from None
    val_errors = None
    if "val_errors" in archive:
        val_errors = archive.array("val_errors", "f", shape=(epoch,), dtype=np.float64, finite=True)
    if validating and val_errors is None and epoch > 0:
        raise ValueError(f"resume: {name} was written by a run without validation; this call has validation")
    best = None
    if "best_epoch" in archive:
        best_epoch = archive.scalar("best_epoch", "iu")
        best_val = archive.scalar("best_val", "f")
        if not 1 <= best_epoch <= epoch or not np.isfinite(best_val):
            raise archive.damaged(f"best_epoch {best_epoch} (of {epoch}) or best_val {best_val} is not possible")
        best_params = _params(archive, "best_params", net) if "best_params" in archive else None
        best = (int(best_epoch), float(best_val), best_params)
    stopped = bool(archive.scalar("stopped", "b")) if "stopped" in archive else False
    diagnosed = None  # (a run with diagnose=True: its statistics so far; NaN is a value they take)
    if "diagnostics" in archive:
        statistics = 4  # (diagnostics.STATISTICS)
        diagnosed = archive.array("diagnostics", "f", shape=(epoch, statistics, len(net.sizes) - 1), dtype=np.float64)
    return {
        "params": params, "state": state, "step": _count(archive, "step", 0, np.iinfo(np.int64).max),
        "epoch": int(epoch), "errors": errors, "rng_state": rng_state, "val_errors": val_errors,
        "best": best, "waited": _count(archive, "waited", 0, epoch), "stopped": stopped, "diagnostics": diagnosed,
    }  # fmt: skip


# What a checkpoint written before these options existed was trained with.
_V1_DEFAULTS = {
    "loss": "squared", "optimizer": "sgd", "betas": [0.9, 0.999], "eps": 1e-8, "etas": [0.5, 1.2],
    "step_sizes": [1e-6, 50.0], "weight_decay": 0.0, "fast_math": False, "nesterov": False, "huber_delta": 1.0,
}  # fmt: skip
