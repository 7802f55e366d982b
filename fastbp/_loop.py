"""The run loop of train and train_many: epochs in chunks, progress, Ctrl-C, callbacks.

A job (one network in training.py, many in many.py) says how to train a number
of epochs and what it has measured; this loop decides how many epochs each call
covers, moves the progress bar, calls back between chunks, and turns Ctrl-C into
a KeyboardInterrupt that carries the results so far.
"""

from __future__ import annotations

import _signal
import contextlib
import math
import signal
import threading
import time
from collections.abc import Callable
from typing import Protocol

import numpy as np

from ._options import Options, progress_bar_class

# Sample visits per kernel call when the sample order must be materialised (shuffle).
CHUNK_SAMPLES = 1 << 20
# Progress bars refresh about this many times over a run.
PROGRESS_STEPS = 100
# The first call covers at most this many weight-visits (samples x parameters, a few
# milliseconds); later ones about CHUNK_SECONDS of measured work, so that Ctrl-C and
# progress bars are answered quickly.
FIRST_CHUNK_WORK = 1 << 22
CHUNK_SECONDS = 0.2
# Per-epoch values allocated when a run starts (8 MB); a longer run's record grows as it goes.
RECORD_VALUES = 1 << 20


class Job(Protocol):
    epoch: int  # epochs completed (a resumed run starts past 0)
    stopped: bool  # the job ended itself before opts.epochs (early stopping)
    result_name: str  # the attribute of KeyboardInterrupt that carries result(): "history" or "histories"

    def ready(self) -> None: ...  # compile or load the kernels, before any epoch
    def advance(self, count: int) -> None: ...  # train count more epochs, or raise FloatingPointError
    def latest_error(self) -> float: ...  # for the progress bar
    def settle(self) -> None: ...  # leave the networks holding the state reached
    def result(self, seconds: float): ...


def run(job: Job, opts: Options, n_samples: int, n_params: int, after_chunk: Callable[[int], None] | None = None):
    """Train job up to opts.epochs; after_chunk(epochs_done) runs after every chunk. Returns job.result()."""
    chunker = Chunker(opts, n_samples, n_params)
    try:
        job.ready()
    except KeyboardInterrupt as stop:  # Ctrl-C while a kernel loads: no epoch run, the networks unchanged
        setattr(stop, job.result_name, job.result(0.0))
        raise
    with _progress_bar(opts, initial=job.epoch) as bar, _DeferredInterrupts() as interrupted:
        start = time.perf_counter()
        first = job.epoch
        try:
            while job.epoch < opts.epochs and not job.stopped:
                count = chunker.size(job.epoch)
                chunk_start = time.perf_counter()
                job.advance(count)
                chunker.observe(count, time.perf_counter() - chunk_start)
                bar.update(count)
                if opts.progress:
                    rate = (job.epoch - first) * n_samples / max(time.perf_counter() - start, 1e-9)
                    bar.set_postfix({"error": f"{job.latest_error():.6g}", "samples/s": f"{rate:.3g}"})
                if after_chunk is not None:
                    try:
                        after_chunk(job.epoch)
                    except Exception as error:  # a callback or checkpoint failed: the run so far goes with it
                        job.settle()
                        setattr(error, job.result_name, job.result(time.perf_counter() - start))
                        raise
                if interrupted():
                    job.settle()
                    stop = KeyboardInterrupt(f"training interrupted after epoch {job.epoch} of {opts.epochs}")
                    setattr(stop, job.result_name, job.result(time.perf_counter() - start))
                    raise stop
        finally:  # the networks hold where training got to, whatever happened
            job.settle()
        seconds = time.perf_counter() - start
    return job.result(seconds)


def record(epochs: int, width: int | None = None) -> np.ndarray:
    """Room for a run's per-epoch values (rows of `width` for many networks), for up to about a million values
    at first: a run with a large `epochs` and a target error or patience grows it as it goes (see grown)."""
    rows = record_rows(epochs, 1 if width is None else width)
    return np.empty(rows if width is None else (rows, width))


def record_rows(epochs: int, per_row: int) -> int:
    """The rows record() starts with for rows of per_row values (the diagnostics' record starts as the errors')."""
    return min(epochs, max(16, RECORD_VALUES // per_row))


def grown(values: np.ndarray, rows: int, epochs: int) -> np.ndarray:
    """values, or a copy of it with room for at least `rows` rows (twice as many, at most `epochs`)."""
    if rows <= len(values):
        return values
    bigger = np.empty((min(epochs, max(rows, 2 * len(values))), *values.shape[1:]))
    bigger[: len(values)] = values
    return bigger


def due(epoch: int, every: int, opts: Options) -> bool:
    """Whether something done every `every` epochs (and at the end) falls due after `epoch`."""
    return every > 0 and (epoch % every == 0 or epoch == opts.epochs)


def sample_orders(opts: Options, rng: np.random.Generator | None, n_samples: int, count: int) -> np.ndarray:
    """Sample order of each epoch of a chunk: one row 0..n-1 without shuffle."""
    if not opts.shuffle:
        return np.arange(n_samples, dtype=np.int64).reshape(1, -1)
    return np.stack([rng.permutation(n_samples) for _ in range(count)]).astype(np.int64)


class Chunker:
    """How many epochs each call runs.

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
        if opts.validating:  # the validation error after every epoch
            size = 1
        if opts.progress:
            size = min(size, max(1, math.ceil(opts.epochs / PROGRESS_STEPS)))
        for period in (opts.callback_every, opts.checkpoint_every):
            if period:
                size = min(size, period - epoch % period)
        return max(size, 1)

    def observe(self, count: int, seconds: float) -> None:
        self.seconds_per_epoch = seconds / count


class _NoBar:
    def update(self, n: int) -> None:
        pass


def _progress_bar(opts: Options, initial: int = 0):
    """A tqdm bar over the run's epochs when opts.progress, else an object that ignores updates
    (each a context manager)."""
    if not opts.progress:
        return contextlib.nullcontext(_NoBar())
    return progress_bar_class()(total=opts.epochs, initial=initial, unit="epoch")


class _DeferredInterrupts:
    """Hold Ctrl-C while a kernel call runs; `with` gives a function that says whether one came.

    Only in the main thread, and only when Python's own SIGINT handler is in place. (A class, not a
    contextlib.contextmanager: the generator's machinery cost 1.5 us of every train() call.)
    """

    def __enter__(self) -> Callable[[], bool]:
        self.previous = None
        if threading.current_thread() is not threading.main_thread():
            return _never
        received = []
        previous = _set_handler(signal.SIGINT, lambda signum, frame: received.append(signum))
        if previous is not signal.default_int_handler:  # someone else's handler: leave it in charge
            _set_handler(signal.SIGINT, previous)
            return _never
        self.previous = previous
        return lambda: bool(received)

    def __exit__(self, *exc_info) -> None:
        if self.previous is not None:
            _set_handler(signal.SIGINT, self.previous)


def _never() -> bool:
    return False


# signal.signal without the enum conversion of its result, which costs ~8 us a call.
_set_handler = getattr(_signal, "signal", signal.signal)
