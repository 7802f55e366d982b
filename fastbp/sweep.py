"""fastbp.sweep: a grid of configurations trained with train_many, locally or on a Dask cluster.

The grid is every (hidden layers, learning rate, seed). Configurations are grouped
into batches, each trained by one train_many call: on this machine's cores by
default, or as Dask tasks when a ``dask.distributed.Client`` is given. Every
configuration is trained exactly as ``fastbp.train`` would train it alone, so the
results do not depend on how configurations were grouped or where they ran.
"""

from __future__ import annotations

import csv
import inspect
import itertools
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from . import _options, _validate, catalogue, diagnostics
from .datasets import accuracy, is_classification
from .many import train_many
from .network import Network

# Configurations per train_many call when running locally (the progress bar moves per batch).
LOCAL_BATCH = 64
# On a cluster: about this many batches per worker thread, so that none waits while others work.
BATCHES_PER_THREAD = 4
# train_many's options that a sweep passes on, the same for every configuration: all but the grid's
# (lr; the seed, which sets the weights while shuffled runs share the order of seed 0) and sweep's own.
_SWEEPS_OWN = ("nets", "X", "Y", "lr", "seed", "progress", "epochs", "batch_size", "momentum", "shuffle")
PASSED_ON = tuple(name for name in inspect.signature(train_many).parameters if name not in _SWEEPS_OWN)


@dataclass(frozen=True)
class Config:
    """One point of the grid."""

    hidden: tuple[int, ...]
    lr: float
    seed: int


class SweepResult:
    """The sweep's results, one record per configuration, in grid order."""

    def __init__(self, configs: list[Config], results: list[dict], one_hot: bool):
        self.configs = configs
        self._results = results
        self.one_hot = one_hot

    @property
    def records(self) -> list[dict]:
        """hidden, lr, seed, train_error, val_error (and val_accuracy), seconds, and with diagnose=True the
        verdict (its words: history.diagnosis() names them; "no sign of trouble"): one dict per configuration."""
        rows = []
        for config, result in zip(self.configs, self._results):
            row = {"hidden": "-".join(map(str, config.hidden)), "lr": config.lr, "seed": config.seed,
                   "train_error": result["train_error"]}  # fmt: skip
            if "val_error" in result:
                row["val_error"] = result["val_error"]
            if "val_accuracy" in result:
                row["val_accuracy"] = result["val_accuracy"]
            row["seconds"] = result["seconds"]
            if "verdict" in result:
                row["verdict"] = result["verdict"]
            rows.append(row)
        return rows

    def errors(self, index: int) -> np.ndarray:
        """Configuration index's per-epoch training error curve."""
        return self._results[index]["errors"]

    def diagnosis(self, index: int) -> str:
        """Configuration index's verdict in full (history.diagnosis()); the sweep needs diagnose=True."""
        result = self._results[index]
        if "diagnostics" not in result:
            raise ValueError("this sweep was not diagnosed: run it with diagnose=True")
        return diagnostics.diagnosis(result["diagnostics"], result["errors"])

    def network(self, index: int) -> Network:
        """Configuration index's trained network."""
        result = self._results[index]
        return Network.from_arrays(result["weights"], result["biases"], activations=result["activations"])

    def best(self, metric: str = "val_error") -> dict:
        """The record with the lowest error (highest accuracy for 'val_accuracy'), with its 'index'."""
        records = self.records
        metrics = [k for k in records[0] if k.endswith(("error", "accuracy"))]
        if metric not in metrics:
            raise ValueError(f"metric must be one of {', '.join(metrics)}; got {metric!r}")
        pick = max if metric.endswith("accuracy") else min
        index = pick(range(len(records)), key=lambda i: records[i][metric])
        return {"index": index, **records[index]}

    def to_csv(self, path) -> None:
        """Write the records as a CSV file with a header row."""
        records = self.records
        with open(os.fspath(path), "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(records[0]))
            writer.writeheader()
            writer.writerows(records)

    def __len__(self) -> int:
        return len(self.configs)

    def __repr__(self) -> str:
        return f"SweepResult({len(self)} configurations)"


def sweep(
    X,
    Y,
    *,
    hidden: Sequence = (8,),
    lr: Sequence[float] = (0.5,),
    seeds: int | Sequence[int] = 1,
    epochs: int = 100,
    batch_size: int | None = 1,
    momentum: float = 0.0,
    shuffle: bool = False,
    validation: tuple | None = None,
    client=None,
    progress: bool = False,
    activation: str = "logistic",
    output_activation: str = "logistic",
    **options,
) -> SweepResult:
    """Train every (hidden, lr, seed) configuration on (X, Y); return a :class:`SweepResult`.

    ``hidden`` lists hidden-layer specs: an int (one hidden layer) or a tuple of
    widths. ``seeds`` is a count (seeds 0..n-1) or a list; a seed sets the
    initial weights (``Network.random(sizes, seed)``); shuffled runs share one
    sample order (seeded 0). Every network has ``activation`` in its hidden layers
    and ``output_activation`` at its output; ``options`` are train_many's others
    (loss, optimizer, betas, eps, etas, step_sizes, weight_decay, train_biases,
    update, fast_math, diagnose, ...), the same for every configuration; with ``diagnose=True``
    each record has a verdict (and ``diagnosis(index)`` its full text). ``validation=(Xv, Yv)``
    adds each network's error in the training loss (and accuracy for one-hot
    targets) on held-out data. With ``client`` (a ``dask.distributed.Client``)
    batches of configurations run as Dask tasks on its workers, with the same
    results number for number.
    """
    X, Y = _validate.array("X", X, ndim=(2,)), _validate.array("Y", Y, ndim=(2,))
    X, Y = _validate.samples(X, Y, X.shape[1], Y.shape[1])
    if validation is not None:
        if not isinstance(validation, (tuple, list)) or len(validation) != 2:
            raise TypeError(f"validation must be a pair (Xv, Yv) or None; got {_validate._describe(validation)}")
        validation = _validate.samples(validation[0], validation[1], X.shape[1], Y.shape[1])
    configs = grid(hidden, lr, seeds)
    unknown = sorted(set(options) - set(PASSED_ON))
    if unknown:
        raise TypeError(f"sweep() got an unknown option {unknown[0]!r}; it passes on {', '.join(PASSED_ON)}")
    options |= dict(epochs=epochs, batch_size=batch_size, momentum=momentum, shuffle=shuffle, seed=0)
    # Refuse bad options before any work.
    options["loss"] = _options.check(X.shape[0], progress=progress, **options).loss
    activations = (
        _validate.choice("activation", activation, catalogue.hidden_activations()),
        _validate.choice("output_activation", output_activation, _options.ACTIVATIONS),
    )
    catalogue.check_output(activations, options["loss"])
    one_hot = is_classification(Y)  # (named for the records' val_accuracy: one-hot or 0/1 targets)
    bar = _bar(len(configs), progress)
    try:
        if client is None:
            results = []
            for start in range(0, len(configs), LOCAL_BATCH):
                batch = configs[start : start + LOCAL_BATCH]
                results += train_batch(batch, X, Y, validation, options, one_hot, activations)
                bar.update(len(batch))
        else:
            results = _on_cluster(client, configs, X, Y, validation, options, one_hot, activations, bar)
    finally:
        bar.close()
    return SweepResult(configs, results, one_hot)


def grid(hidden, lr, seeds) -> list[Config]:
    """Every (hidden, lr, seed) combination, checked, in that nesting order."""
    if isinstance(hidden, (int, np.integer)) or not isinstance(hidden, Sequence) or not hidden:
        raise TypeError(f"hidden must be a non-empty list of widths or tuples of widths; got {hidden!r}")
    specs = []
    for k, spec in enumerate(hidden):
        widths = (spec,) if isinstance(spec, (int, np.integer)) else tuple(spec)
        specs.append(tuple(_validate.integer(f"hidden[{k}]", w, low=1) for w in widths))
    if isinstance(lr, (int, float)) or not isinstance(lr, Sequence) or not lr:
        raise TypeError(f"lr must be a non-empty list of learning rates; got {lr!r}")
    rates = [_validate.real(f"lr[{k}]", value, low=0.0) for k, value in enumerate(lr)]
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        seed_list = list(range(_validate.integer("seeds", seeds, low=1)))
    elif isinstance(seeds, Sequence) and seeds:
        seed_list = [_validate.integer(f"seeds[{k}]", s, low=0) for k, s in enumerate(seeds)]
    else:
        raise TypeError(f"seeds must be a count or a non-empty list of seeds; got {seeds!r}")
    return [Config(h, r, s) for h, r, s in itertools.product(specs, rates, seed_list)]


def train_batch(configs: list[Config], X, Y, validation, options: dict, one_hot: bool,
                activations: tuple[str, str]) -> list[dict]:  # fmt: skip
    """Train a batch of configurations with one train_many call; one result dict each.

    This is the unit of work of a sweep, run locally or as one Dask task: ``options`` are
    train_many's, as sweep() checked them (the loss included); ``activations`` is (the hidden
    layers', the output layer's).
    """
    hidden, output = activations
    nets = [Network.random((X.shape[1], *c.hidden, Y.shape[1]), seed=c.seed,
                           activations=(hidden,) * len(c.hidden) + (output,)) for c in configs]  # fmt: skip
    histories = train_many(nets, X, Y, lr=[c.lr for c in configs], **options)
    results = []
    for net, history in zip(nets, histories):
        result = {"train_error": history.final_error, "errors": history.errors, "seconds": history.seconds,
                  "weights": net.weights, "biases": net.biases, "activations": net.activations}  # fmt: skip
        if history.diagnostics is not None:
            result["diagnostics"] = history.diagnostics
            result["verdict"] = diagnostics.troubles(history.diagnostics, history.errors)
        if validation is not None:
            result["val_error"] = net.error(*validation, loss=options["loss"],
                                            **_options.loss_options(options["loss"], **options))  # fmt: skip
            if one_hot:
                result["val_accuracy"] = accuracy(net.forward(validation[0]), validation[1])
        results.append(result)
    return results


def _on_cluster(client, configs, X, Y, validation, options, one_hot, activations, bar) -> list[dict]:
    """Scatter the data once; submit batches sized to keep every worker thread busy; gather in order."""
    try:
        from distributed import as_completed
    except ImportError:
        raise ImportError("a Dask cluster needs dask.distributed: pip install 'fastbp[dask]'") from None
    threads = max(1, sum(client.nthreads().values()))
    size = max(1, math.ceil(len(configs) / (threads * BATCHES_PER_THREAD)))
    batches = [configs[i : i + size] for i in range(0, len(configs), size)]
    # hash=False: fresh keys every sweep. Content-hashed keys would be shared with the
    # previous sweep on the same data, whose release can then delete them under this one.
    data = client.scatter([X, Y, validation], broadcast=True, hash=False)
    futures = [client.submit(train_batch, batch, *data, options, one_hot, activations, pure=False, retries=3)
               for batch in batches]  # fmt: skip
    index = {future.key: k for k, future in enumerate(futures)}
    done: dict[int, list[dict]] = {}
    for future in as_completed(futures):
        done[index[future.key]] = future.result()
        bar.update(len(done[index[future.key]]))
    return [result for k in range(len(batches)) for result in done[k]]


def connect(address: str):
    """A dask.distributed Client for a scheduler address, with a one-line message if Dask is missing."""
    try:
        from distributed import Client
    except ImportError:
        raise ImportError("a Dask cluster needs dask.distributed: pip install 'fastbp[dask]'") from None
    return Client(address, timeout="10s")


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _bar(total: int, progress: bool):
    if not progress:
        return _NoBar()
    return _options.progress_bar_class()(total=total, unit="config")
