"""train(): check every option once, then run whole epochs in an engine."""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from . import _kernels, _validate, oracle
from .network import BLOCK, Network

UPDATES = ("simultaneous", "layerwise")
ENGINES = ("numba", "python")
# Sample visits per kernel call when the sample order must be materialised (shuffle).
CHUNK_SAMPLES = 1 << 20
# Progress bars refresh about this many times over a run.
PROGRESS_STEPS = 100


@dataclass
class History:
    """What a training run measured."""

    errors: np.ndarray  # (epochs,) each epoch's mean E over its samples, before each update
    final_error: float  # net.error(X, Y) after training
    seconds: float  # wall time of the training loop (not counting a first-use compile)


class Options(NamedTuple):
    """train()'s options, checked and converted."""

    epochs: int
    lr: float
    batch_size: int
    momentum: float
    shuffle: bool
    seed: int | None
    train_biases: bool
    layerwise: bool
    engine: str
    progress: bool
    callback_every: int = 0  # epochs between callbacks; 0: no callback


def check_options(
    n_samples, epochs, lr, batch_size, momentum, shuffle, seed, train_biases, update, engine, progress, every=0
) -> Options:
    """Validate train()'s options; raises ValueError/TypeError naming the argument."""
    epochs = _validate.integer("epochs", epochs, low=0)
    lr = _validate.real("lr", lr, low=0.0)
    batch_size = n_samples if batch_size is None else _validate.integer("batch_size", batch_size, low=1)
    momentum = _validate.real("momentum", momentum, low=0.0, high=1.0, high_open=True)
    shuffle = _validate.flag("shuffle", shuffle)
    seed = _validate.seed("seed", seed)
    train_biases = _validate.flag("train_biases", train_biases)
    update = _validate.choice("update", update, UPDATES)
    engine = _validate.choice("engine", engine, ENGINES)
    progress = _validate.flag("progress", progress)
    if progress:
        _progress_bar_class()  # fail now, before training, if tqdm is missing
    return Options(
        epochs,
        lr,
        min(batch_size, n_samples),
        momentum,
        shuffle,
        seed,
        train_biases,
        update == "layerwise",
        engine,
        progress,
        every,
    )


def _progress_bar_class():
    try:
        from tqdm.auto import tqdm
    except ImportError:
        raise ImportError("progress=True needs tqdm: pip install 'fastbp[progress]'") from None
    return tqdm


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def set_postfix(self, *args, **kwargs) -> None:
        pass


@contextlib.contextmanager
def _progress_bar(opts: Options):
    """A tqdm bar over the run's epochs when opts.progress, else an object that ignores updates."""
    if not opts.progress:
        yield _NoBar()
        return
    with _progress_bar_class()(total=opts.epochs, unit="epoch") as bar:
        yield bar


def kernel_block(opts: Options) -> int:
    """Samples the batch kernels hold at once: a layerwise batch must be held whole."""
    if opts.batch_size == 1:
        return 1
    return opts.batch_size if opts.layerwise else min(opts.batch_size, BLOCK)


def train(
    net: Network,
    X,
    Y,
    epochs: int = 1,
    lr: float = 0.5,
    batch_size: int | None = 1,
    momentum: float = 0.0,
    shuffle: bool = False,
    seed: int | None = None,
    train_biases: bool = True,
    update: str = "simultaneous",
    engine: str = "numba",
    progress: bool = False,
    callback: Callable[[int, Network], object] | None = None,
    callback_every: int = 1,
) -> History:
    """Train ``net`` in place by gradient descent on E = sum 1/2 (target - out)^2.

    ``batch_size=1`` is the article's online update; k averages the gradient of
    k samples (the last batch may be smaller); None uses all samples at once.
    With momentum: v = momentum * v - lr * g; w += v (velocities start at 0).
    ``shuffle=True`` draws a new permutation each epoch from numpy's
    ``default_rng(seed)``. ``train_biases=False`` freezes every bias (the
    article). ``update`` picks when the hidden deltas are computed: "simultaneous"
    (from the weights before the step, as the article's text says) or
    "layerwise" (each layer updated as soon as its deltas are known, as the
    article's later figures were computed). ``engine="python"`` runs the pure-
    Python oracle, which agrees with the compiled default to 1e-12.
    ``callback(epochs_done, net)``, if given, runs after every ``callback_every``
    epochs and at the end (to track a validation error, say).
    Bad arguments raise ValueError/TypeError and leave ``net`` untouched.
    """
    if not isinstance(net, Network):
        raise TypeError(f"net must be a fastbp.Network; got {_validate._describe(net)}")
    X, Y = _validate.samples(X, Y, net.sizes[0], net.sizes[-1])
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable; got {_validate._describe(callback)}")
    every = _validate.integer("callback_every", callback_every, low=1) if callback is not None else 0
    opts = check_options(
        X.shape[0], epochs, lr, batch_size, momentum, shuffle, seed, train_biases, update, engine, progress, every
    )
    run = _run_numba if opts.engine == "numba" else _run_python
    velocity = None  # momentum state, created by the engine's first chunk
    errors = np.empty(opts.epochs)
    rng = np.random.default_rng(opts.seed) if opts.shuffle else None
    if opts.engine == "numba":
        ready(numba_kernel(net, opts))  # compile or load it before the clock starts
    with _progress_bar(opts) as bar:
        start = time.perf_counter()
        for first, count in _chunks(opts, X.shape[0]):
            orders = _orders(opts, rng, X.shape[0], count)
            velocity, done = run(net, X, Y, orders, count, opts, velocity, errors[first : first + count])
            if done < count:
                raise FloatingPointError(
                    f"training diverged in epoch {first + done}: the mean error became {errors[first + done - 1]}; "
                    f"try a smaller lr (got {opts.lr})"
                )
            if not np.isfinite(net._params).all():
                raise FloatingPointError(
                    f"training diverged by epoch {first + count}: a weight or bias is no longer finite; "
                    f"try a smaller lr (got {opts.lr})"
                )
            bar.update(count)
            rate = (first + count) * X.shape[0] / max(time.perf_counter() - start, 1e-9)
            bar.set_postfix({"error": f"{errors[first + count - 1]:.6g}", "samples/s": f"{rate:.3g}"})
            if callback is not None and ((first + count) % opts.callback_every == 0 or first + count == opts.epochs):
                callback(first + count, net)
        seconds = time.perf_counter() - start
    return History(errors=errors, final_error=net._evaluate(X, Y)[1] / X.shape[0], seconds=seconds)


def _chunks(opts: Options, n_samples: int):
    """(first epoch, epoch count) of each engine call.

    One call for the whole run, unless shuffled orders must be drawn in parts,
    a progress bar must move, or a callback is due every ``callback_every`` epochs.
    """
    size = opts.epochs
    if opts.shuffle:
        size = min(size, max(1, CHUNK_SAMPLES // n_samples))
    if opts.progress:
        size = min(size, max(1, math.ceil(opts.epochs / PROGRESS_STEPS)))
    period = opts.callback_every or opts.epochs
    for start in range(0, opts.epochs, max(period, 1)):
        end = min(start + period, opts.epochs)
        for first in range(start, end, max(size, 1)):
            yield first, min(size, end - first)


def _orders(opts: Options, rng: np.random.Generator | None, n_samples: int, count: int) -> np.ndarray:
    """Sample order of each epoch of a chunk: one row 0..n-1 without shuffle."""
    if not opts.shuffle:
        return np.arange(n_samples, dtype=np.int64).reshape(1, -1)
    return np.stack([rng.permutation(n_samples) for _ in range(count)]).astype(np.int64)


# BLAS products beat the loops for minibatches of at least this many samples ...
BLAS_MIN_BATCH = 8
# ... through a layer of at least this many weights (measured: 2x at 64-32-10, batches of 32;
# 4x at 784-128-10, batches of 64; slower at 10-8-4, batches of 16) ...
BLAS_MIN_WEIGHTS = 1024
# ... when the batch's activations stay small (beyond this, the loops' blocks use less memory).
BLAS_MAX_BATCH = 8192


@functools.cache
def blas_available() -> bool:
    """np.dot inside Numba kernels calls SciPy's BLAS: is SciPy installed?"""
    return importlib.util.find_spec("scipy") is not None


def numba_kernel(net: Network, opts: Options):
    """The compiled kernel for this network and options: BLAS products for wide minibatches, else loops."""
    if BLAS_MIN_BATCH <= opts.batch_size <= BLAS_MAX_BATCH and net._wide():
        return _kernels.train_epochs_blas
    return _kernels.train_epochs


def ready(kernel) -> None:
    """Compile a train_epochs-like kernel for its one signature, or load it from the cache."""
    if not kernel.signatures:
        kernel.compile(_kernels.TRAIN_EPOCHS_SIGNATURE)


def _run_numba(net: Network, X, Y, orders, count, opts: Options, velocity, errors):
    """Train count epochs in the compiled kernel; returns (velocity, epochs completed)."""
    L = net._layout
    velocity = np.zeros(L.n_params) if velocity is None else velocity
    done = numba_kernel(net, opts)(
        net._params, velocity, L.sizes, L.w_off, L.b_off, L.u_off, net._tied, X, Y, orders, count,
        opts.lr, opts.momentum, opts.batch_size, kernel_block(opts), opts.train_biases, opts.layerwise, errors,
    )  # fmt: skip
    return velocity, done


def _run_python(net: Network, X, Y, orders, count, opts: Options, velocity, errors):
    """Train count epochs in the pure-Python oracle; returns (velocity, epochs completed)."""
    L = net._layout
    W = [W_l.tolist() for W_l in L.weights(net._params)]
    b = [b_l.tolist() for b_l in L.biases(net._params)]
    vW, vb = oracle.zeros_like(W, b) if velocity is None else velocity
    epoch_orders = [orders[e % len(orders)].tolist() for e in range(count)]
    E = oracle.train(
        W, b, net._tied.tolist(), X.tolist(), Y.tolist(), epoch_orders,
        opts.lr, opts.batch_size, opts.momentum, vW, vb, opts.train_biases, opts.layerwise,
    )  # fmt: skip
    net._params[:] = L.pack(W, b)
    errors[: len(E)] = E
    return (vW, vb), len(E)
