"""train(): check every option once, then run whole epochs in an engine."""

from __future__ import annotations

import _signal
import contextlib
import functools
import importlib.util
import math
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numba
import numpy as np

from . import _kernels, _unrolled, _validate, io, oracle
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
    checkpoint_every: int = 0  # epochs between checkpoints; 0: none


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


def _progress_bar(opts: Options, initial: int = 0):
    """A tqdm bar over the run's epochs when opts.progress, else an object that ignores updates
    (each a context manager)."""
    if not opts.progress:
        return contextlib.nullcontext(_NoBar())
    return _progress_bar_class()(total=opts.epochs, initial=initial, unit="epoch")


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
    checkpoint=None,
    checkpoint_every: int = 100,
    resume=None,
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

    ``checkpoint=path`` writes, every ``checkpoint_every`` epochs and at the end,
    all that is needed to go on (weights, biases, momentum velocities, epoch
    count, the shuffle generator's state) atomically to ``path``; a later call
    with ``resume=path`` and the same options continues from there, bit for bit
    as if never stopped. Ctrl-C stops training at the next chunk boundary (a
    fraction of a second): ``net`` then holds the weights at the end of the last
    completed epoch and the KeyboardInterrupt raised carries ``.history`` for
    those epochs. A run that diverges raises FloatingPointError naming the epoch,
    with ``net`` restored to the end of the last epoch whose results were finite.
    Bad arguments raise ValueError/TypeError and leave ``net`` untouched.
    """
    if not isinstance(net, Network):
        raise TypeError(f"net must be a fastbp.Network; got {_validate._describe(net)}")
    X, Y = _validate.samples(X, Y, net.sizes[0], net.sizes[-1], dtype=net.dtype)
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable; got {_validate._describe(callback)}")
    every = _validate.integer("callback_every", callback_every, low=1) if callback is not None else 0
    opts = check_options(
        X.shape[0], epochs, lr, batch_size, momentum, shuffle, seed, train_biases, update, engine, progress, every
    )
    if checkpoint is not None:
        checkpoint = _validate.path("checkpoint", checkpoint)
        opts = opts._replace(checkpoint_every=_validate.integer("checkpoint_every", checkpoint_every, low=1))
    run = _Run(net, X, Y, opts)
    if resume is not None:
        run.resume(io.load_checkpoint(_validate.path("resume", resume), net, _fingerprint(opts, X, Y)))
    if opts.engine == "numba":
        ready(numba_kernel(net, opts, X.shape[0]), net.dtype)  # compile or load it before the clock starts
    chunker = _Chunker(opts, X.shape[0], net._layout.n_params)
    with _progress_bar(opts, initial=run.epoch) as bar, _deferred_interrupts() as interrupted:
        start = time.perf_counter()
        while run.epoch < opts.epochs:
            count = chunker.size(run.epoch)
            chunk_start = time.perf_counter()
            run.chunk(count)
            chunker.observe(count, time.perf_counter() - chunk_start)
            bar.update(count)
            if opts.progress:
                rate = (run.epoch - run.first_epoch) * X.shape[0] / max(time.perf_counter() - start, 1e-9)
                bar.set_postfix({"error": f"{run.errors[run.epoch - 1]:.6g}", "samples/s": f"{rate:.3g}"})
            if checkpoint is not None and (run.epoch % opts.checkpoint_every == 0 or run.epoch == opts.epochs):
                io.save_checkpoint(checkpoint, net, run.velocity, run.epoch, run.errors[: run.epoch],
                                   run.rng_state(), _fingerprint(opts, X, Y))  # fmt: skip
            if callback is not None and (run.epoch % opts.callback_every == 0 or run.epoch == opts.epochs):
                callback(run.epoch, net)
            if interrupted():
                stop = KeyboardInterrupt(f"training interrupted after epoch {run.epoch} of {opts.epochs}")
                stop.history = run.history(time.perf_counter() - start)
                raise stop
        seconds = time.perf_counter() - start
    return run.history(seconds)


class _Run:
    """A training run in progress: the network, its momentum velocities, the epoch and errors so far."""

    def __init__(self, net: Network, X, Y, opts: Options):
        self.net, self.X, self.Y, self.opts = net, X, Y, opts
        self.velocity = np.zeros(net._layout.n_params, net.dtype)
        self.errors = np.empty(opts.epochs)
        self.epoch = self.first_epoch = 0
        self.rng = np.random.default_rng(opts.seed) if opts.shuffle else None
        self.engine = _run_numba if opts.engine == "numba" else _run_python

    def resume(self, state: dict) -> None:
        """Continue from a checkpoint (already checked against this run's network and options)."""
        if state["epoch"] > self.opts.epochs:
            raise ValueError(f"resume: the checkpoint is at epoch {state['epoch']}, past epochs={self.opts.epochs}")
        self.net._params[:] = state["params"]
        self.velocity[:] = state["velocity"]
        self.epoch = self.first_epoch = state["epoch"]
        self.errors[: self.epoch] = state["errors"]
        if self.rng is not None:
            self.rng.bit_generator.state = state["rng_state"]

    def rng_state(self):
        return None if self.rng is None else self.rng.bit_generator.state

    def chunk(self, count: int) -> None:
        """Train count more epochs; on divergence restore the last finite epoch and raise."""
        orders = _orders(self.opts, self.rng, self.X.shape[0], count)
        before = (self.net._params.copy(), self.velocity.copy())
        errors = self.errors[self.epoch : self.epoch + count]
        done = self.engine(self.net, self.X, self.Y, orders, count, self.opts, self.velocity, errors)
        if done == count and _validate.all_finite(self.net._params):
            self.epoch += count
            return
        # Diverged: replay the chunk epoch by epoch from its start to find the last finite epoch.
        self.net._params[:], self.velocity[:] = before
        for e in range(count):
            saved = (self.net._params.copy(), self.velocity.copy())
            one = orders[min(e, len(orders) - 1)].reshape(1, -1)
            finite = self.engine(self.net, self.X, self.Y, one, 1, self.opts, self.velocity, errors[e : e + 1]) == 1
            if not (finite and _validate.all_finite(self.net._params)):
                self.net._params[:], self.velocity[:] = saved
                what = f"the mean error became {errors[e]}" if not finite else "a weight or bias became non-finite"
                raise FloatingPointError(
                    f"training diverged in epoch {self.epoch + e + 1}: {what}; the network holds the weights after "
                    f"epoch {self.epoch + e}; try a smaller lr (got {self.opts.lr})"
                )
        self.epoch += count  # pragma: no cover - a replay that stays finite (not expected: runs are deterministic)

    def history(self, seconds: float) -> History:
        # A finished run hands its errors over; an interrupted one copies those of its epochs so far.
        errors = self.errors if self.epoch == len(self.errors) else self.errors[: self.epoch].copy()
        return History(errors=errors, final_error=self.net._evaluate(self.X, self.Y)[1] / self.X.shape[0],
                       seconds=seconds)  # fmt: skip


def _fingerprint(opts: Options, X, Y) -> dict:
    """What a checkpoint must agree on with the call that resumes it."""
    return {
        "lr": opts.lr, "batch_size": opts.batch_size, "momentum": opts.momentum, "shuffle": opts.shuffle,
        "seed": opts.seed, "train_biases": opts.train_biases, "layerwise": opts.layerwise,
        "n_samples": int(X.shape[0]),
    }  # fmt: skip


# The first engine call covers at most this many weight-visits (samples x parameters,
# a few milliseconds); later ones about CHUNK_SECONDS of measured work, so that Ctrl-C
# and progress bars are answered quickly.
FIRST_CHUNK_WORK = 1 << 22
CHUNK_SECONDS = 0.2


class _Chunker:
    """How many epochs each engine call runs.

    A short run is one call. A long one is cut into calls of about CHUNK_SECONDS
    (measured), and further so that shuffled orders stay small, a progress bar
    moves, and callbacks and checkpoints fall due exactly on their epochs.
    """

    def __init__(self, opts: Options, visits_per_epoch: int, n_params: int):
        self.opts = opts
        self.visits = visits_per_epoch
        self.first = max(1, FIRST_CHUNK_WORK // (visits_per_epoch * n_params))
        self.seconds_per_epoch = None

    def size(self, epoch: int) -> int:
        opts = self.opts
        size = opts.epochs - epoch
        if self.seconds_per_epoch is None:  # nothing measured yet: a small first call (one epoch of the oracle)
            size = min(size, 1 if opts.engine == "python" else self.first)
        else:
            size = min(size, max(1, int(CHUNK_SECONDS / max(self.seconds_per_epoch, 1e-12))))
        if opts.shuffle:
            size = min(size, max(1, CHUNK_SAMPLES // self.visits))
        if opts.progress:
            size = min(size, max(1, math.ceil(opts.epochs / PROGRESS_STEPS)))
        for period in (opts.callback_every, opts.checkpoint_every):
            if period:
                size = min(size, period - epoch % period)
        return max(size, 1)

    def observe(self, count: int, seconds: float) -> None:
        self.seconds_per_epoch = seconds / count


@contextlib.contextmanager
def _deferred_interrupts():
    """Hold Ctrl-C while an engine call runs; yield a function that says whether one came.

    Only in the main thread, and only when Python's own SIGINT handler is in place.
    """
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return
    received = []
    previous = _set_handler(signal.SIGINT, lambda signum, frame: received.append(signum))
    if previous is not signal.default_int_handler:  # someone else's handler: leave it in charge
        _set_handler(signal.SIGINT, previous)
        yield lambda: False
        return
    try:
        yield lambda: bool(received)
    finally:
        _set_handler(signal.SIGINT, previous)


# signal.signal without the enum conversion of its result, which costs ~8 us a call.
_set_handler = getattr(_signal, "signal", signal.signal)


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
    """np.dot inside Numba kernels calls SciPy's BLAS: is SciPy installed? (Asked once per process.)"""
    return importlib.util.find_spec("scipy") is not None


def uses_blas(net: Network, opts: Options) -> bool:
    """Does this network train through BLAS products (a wide layer, minibatches)?"""
    return BLAS_MIN_BATCH <= opts.batch_size <= BLAS_MAX_BATCH and net._wide()


def numba_kernel(net: Network, opts: Options, n_samples: int):
    """The compiled kernel for this network and options: BLAS products for wide minibatches,
    the unrolled kernel for tiny networks trained online for long enough, else loops."""
    if uses_blas(net, opts):
        return _kernels.train_epochs_blas
    if _unrolled.suits(net._layout, net.dtype, opts.batch_size, opts.epochs * n_samples):
        unrolled = _unrolled.kernel(
            net._layout.widths, net._tied, opts.momentum != 0.0, opts.train_biases, opts.layerwise
        )
        if unrolled is not None:
            return unrolled
    return _kernels.train_epochs


_READY: set = set()


def ready(kernel, dtype, signature=_kernels.train_epochs_signature) -> None:
    """Compile a kernel for its one signature for this dtype, or load it from the cache.

    (Remembered here: asking a dispatcher for its signatures costs tens of microseconds.)
    """
    if (kernel, dtype) not in _READY:
        if hasattr(kernel, "compile"):  # not under NUMBA_DISABLE_JIT=1, where kernels are plain Python
            kernel.compile(signature(numba.from_dtype(dtype)))
            # Numba types its first array argument by asking for numpy.ma, which imports it
            # (25-40 ms without SciPy, which otherwise imports it first): done here, not in the timed loop.
            numba.typeof(np.empty(0, dtype))
        _READY.add((kernel, dtype))


def _run_numba(net: Network, X, Y, orders, count, opts: Options, velocity, errors) -> int:
    """Train count epochs in the compiled kernel; returns the epochs completed."""
    L = net._layout
    real = net.dtype.type  # lr and momentum in the parameters' dtype: float32 networks compute in float32
    return numba_kernel(net, opts, X.shape[0])(
        net._params, velocity, L.sizes, L.w_off, L.b_off, L.u_off, net._tied, X, Y, orders, count,
        real(opts.lr), real(opts.momentum), opts.batch_size, kernel_block(opts), opts.train_biases, opts.layerwise,
        errors,
    )  # fmt: skip


def _run_python(net: Network, X, Y, orders, count, opts: Options, velocity, errors) -> int:
    """Train count epochs in the pure-Python oracle; returns the epochs completed."""
    L = net._layout
    W = [W_l.tolist() for W_l in L.weights(net._params)]
    b = [b_l.tolist() for b_l in L.biases(net._params)]
    vW = [v.tolist() for v in L.weights(velocity)]
    vb = [v.tolist() for v in L.biases(velocity)]
    epoch_orders = [orders[min(e, len(orders) - 1)].tolist() for e in range(count)]
    E = oracle.train(
        W, b, net._tied.tolist(), X.tolist(), Y.tolist(), epoch_orders,
        opts.lr, opts.batch_size, opts.momentum, vW, vb, opts.train_biases, opts.layerwise,
    )  # fmt: skip
    net._params[:] = L.pack(W, b, net.dtype)
    velocity[:] = L.pack(vW, vb, net.dtype)
    errors[: len(E)] = E
    return sum(1 for value in E if math.isfinite(value))  # the oracle stops after the first non-finite epoch
