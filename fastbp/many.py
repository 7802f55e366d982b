"""train_many(): many networks on the same data, in parallel over the CPU's cores."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import numba
import numpy as np

from . import _kernels, _validate
from .network import Network
from .training import (
    History,
    _Chunker,
    _deferred_interrupts,
    _orders,
    _progress_bar,
    _run_numba,
    _run_python,
    check_options,
    kernel_block,
    numba_kernel,
    ready,
    uses_blas,
)


def train_many(
    nets: Sequence[Network],
    X,
    Y,
    epochs: int = 1,
    lr: float | Sequence[float] = 0.5,
    batch_size: int | None = 1,
    momentum: float = 0.0,
    shuffle: bool = False,
    seed: int | None = None,
    train_biases: bool = True,
    update: str = "simultaneous",
    engine: str = "numba",
    progress: bool = False,
) -> list[History]:
    """Train every network of ``nets`` in place on (X, Y); returns one History per network.

    Options are those of :func:`fastbp.train`, and each network ends exactly (bit
    for bit) as training it alone with ``fastbp.train`` would leave it. ``lr`` is
    one learning rate for all, or one per network (a sweep). Networks may differ
    in hidden layers and bias modes; their input and output widths must match the
    data. With the numba engine the networks are spread over Numba's threads
    (all cores by default; ``NUMBA_NUM_THREADS`` or ``numba.set_num_threads`` set
    how many); networks whose minibatches go through BLAS (wide layers) are
    trained one after another, each with BLAS's threads. ``History.seconds`` is
    the wall time of the whole batch. Ctrl-C stops at the next chunk boundary:
    every network holds the weights at the end of the last completed epoch, and
    the KeyboardInterrupt carries ``.histories``. If a network diverges, every
    network keeps the state it reached in that chunk of epochs and
    FloatingPointError names the networks that diverged.
    """
    nets = _check_nets(nets)
    X, Y = _validate.samples(X, Y, nets[0].sizes[0], nets[0].sizes[-1], dtype=nets[0].dtype)
    for k, net in enumerate(nets[1:], start=1):
        if net.dtype != nets[0].dtype:
            raise ValueError(f"nets[{k}] must have dtype {nets[0].dtype.name} like nets[0]; got {net.dtype.name}")
        if (net.sizes[0], net.sizes[-1]) != (nets[0].sizes[0], nets[0].sizes[-1]):
            raise ValueError(
                f"nets[{k}] must have input width {nets[0].sizes[0]} and output width {nets[0].sizes[-1]} "
                f"like nets[0]; got sizes {net.sizes}"
            )
    lrs = _check_lrs(lr, len(nets))
    opts = check_options(
        X.shape[0], epochs, lrs[0], batch_size, momentum, shuffle, seed, train_biases, update, engine, progress
    )
    errors = np.empty((opts.epochs, len(nets)))  # epoch by network: each chunk's rows are contiguous
    rng = np.random.default_rng(opts.seed) if opts.shuffle else None
    # Networks whose kernel calls BLAS (wide layers, minibatches) go one after another,
    # each using BLAS's threads; the others are spread over Numba's threads.
    one_by_one = opts.engine == "python" or any(uses_blas(net, opts) for net in nets)
    if one_by_one:
        batch = None
        for net in nets if opts.engine == "numba" else []:
            ready(numba_kernel(net, opts, X.shape[0]), net.dtype)
        run_one = _run_python if opts.engine == "python" else _run_numba
        velocities = [np.zeros(net._layout.n_params, net.dtype) for net in nets]
    elif _Lanes.suits(nets, opts):
        batch = _Lanes(nets)
        ready(_kernels.train_lanes_epochs, nets[0].dtype, _kernels.train_lanes_epochs_signature)
    else:
        batch = _Batch(nets)
        ready(_kernels.train_many_epochs, nets[0].dtype, _kernels.train_many_epochs_signature)
    chunker = _Chunker(opts, X.shape[0], sum(net._layout.n_params for net in nets))
    epoch = 0
    final_sums = None  # each network's summed E_total after training, when the engine computed it

    def histories(seconds):
        if final_sums is None:
            final = [net._evaluate(X, Y)[1] / X.shape[0] for net in nets]
        else:
            final = (final_sums / X.shape[0]).tolist()
        # Each history's errors are a column of the one matrix (no copies of thousands of rows).
        return [History(errors=errors[:epoch, k], final_error=final[k], seconds=seconds) for k in range(len(nets))]

    with _progress_bar(opts) as bar, _deferred_interrupts() as interrupted:
        start = time.perf_counter()
        try:
            while epoch < opts.epochs:
                count = chunker.size(epoch)
                chunk_start = time.perf_counter()
                orders = _orders(opts, rng, X.shape[0], count)
                chunk_errors = errors[epoch : epoch + count]  # (count, networks), filled in place
                if batch is None:
                    by_network = np.empty((len(nets), count))
                    done = np.array([
                        run_one(net, X, Y, orders, count, opts._replace(lr=lrs[k]), velocities[k], by_network[k])
                        for k, net in enumerate(nets)
                    ])  # fmt: skip
                    chunk_errors[:] = by_network.T
                    diverged = [
                        k for k, net in enumerate(nets) if done[k] < count or not _validate.all_finite(net._params)
                    ]
                else:
                    last = epoch + count == opts.epochs
                    done, final_sums = batch.run(X, Y, orders, count, lrs, opts, chunk_errors, want_final=last)
                    diverged = batch.diverged(done, count)
                chunker.observe(count, time.perf_counter() - chunk_start)
                if diverged:
                    raise FloatingPointError(
                        f"training diverged for nets {diverged} in epochs {epoch + 1}..{epoch + count}; "
                        f"try a smaller lr (got {[lrs[k] for k in diverged]})"
                    )
                epoch += count
                bar.update(count)
                if interrupted():
                    if batch is not None:
                        batch.write_back()
                    stop = KeyboardInterrupt(f"training interrupted after epoch {epoch} of {opts.epochs}")
                    stop.histories = histories(time.perf_counter() - start)
                    raise stop
        finally:  # the networks hold where training got to, whatever happened
            if batch is not None:
                batch.write_back()
        seconds = time.perf_counter() - start
    return histories(seconds)


def _check_nets(nets) -> list[Network]:
    if isinstance(nets, Network) or not isinstance(nets, Sequence) or len(nets) == 0:
        raise TypeError(f"nets must be a non-empty list of fastbp.Network; got {_validate._describe(nets)}")
    for k, net in enumerate(nets):
        if not isinstance(net, Network):
            raise TypeError(f"nets[{k}] must be a fastbp.Network; got {_validate._describe(net)}")
    if len({id(net) for net in nets}) != len(nets):
        raise ValueError("nets must be distinct networks (the same network appears twice; copy it with net.copy())")
    return list(nets)


def _check_lrs(lr, n: int) -> np.ndarray:
    if isinstance(lr, (str, bytes)) or not isinstance(lr, (Sequence, np.ndarray)):
        return np.full(n, _validate.real("lr", lr, low=0.0))
    if len(lr) != n:
        raise ValueError(f"lr must be one number or one per network ({n}); got {len(lr)} values")
    return np.array([_validate.real(f"lr[{k}]", value, low=0.0) for k, value in enumerate(lr)])


# Numba's default "workqueue" threading layer must not launch parallel kernels from two
# threads at once: train_many called from a user's thread pool takes turns here.
_PARALLEL_LAUNCH = threading.Lock()


class _Lanes:
    """Networks of one architecture trained online side by side: parameter p of network k at [p, k].

    The lane kernel's innermost loops run over networks and vectorise; each network's
    arithmetic is that of train_epochs, so the results are the same bits. A chunk in
    which any network diverges is run again network by network (_Batch), which stops
    each one exactly where train would. The networks get their parameters back in
    write_back().
    """

    BLOCK = 128  # networks per block at most: a block's state stays in the L1/L2 caches

    def block(self) -> int:
        """Networks per block: BLOCK, or fewer so that every thread gets a block (a multiple of 8)."""
        share = -(-len(self.nets) // numba.get_num_threads())
        return min(self.BLOCK, max(8, -(-share // 8) * 8))

    @staticmethod
    def suits(nets: list[Network], opts) -> bool:
        widths, tied = nets[0].sizes, nets[0]._tied.tobytes()
        return (
            opts.batch_size == 1
            and len(nets) >= 8
            and all(net._layout.widths == widths and net._tied.tobytes() == tied for net in nets)
        )

    def __init__(self, nets: list[Network]):
        self.nets = nets
        self.layout = nets[0]._layout
        self.params = np.ascontiguousarray(np.stack([net._params for net in nets], axis=1))
        self.velocity = np.zeros_like(self.params)

    def run(self, X, Y, orders, count, lrs, opts, errors, want_final=False) -> tuple[np.ndarray, np.ndarray | None]:
        """Train every network for one chunk of epochs: (epochs each completed, final E sums or None)."""
        before = (self.params.copy(), self.velocity.copy())
        L, real = self.layout, self.params.dtype.type
        final = np.empty(len(self.nets) if want_final else 0)
        with _PARALLEL_LAUNCH:
            done = _kernels.train_lanes_epochs(
                self.params, self.velocity, L.sizes, L.w_off, L.b_off, L.u_off, self.nets[0]._tied, X, Y, orders,
                count, lrs.astype(self.params.dtype), real(opts.momentum), opts.train_biases, opts.layerwise, errors,
                final, self.block(),
            )  # fmt: skip
        if done.min() == count and _validate.all_finite(self.params):
            return np.full(len(self.nets), count, dtype=np.int64), (final if want_final else None)
        # Some network diverged: again network by network, from the chunk's start.
        self.params[:], self.velocity[:] = before
        self.write_back()
        ready(_kernels.train_many_epochs, self.params.dtype, _kernels.train_many_epochs_signature)
        batch = _Batch(self.nets)
        batch.velocity[:] = self.velocity.T.ravel()
        done, _ = batch.run(X, Y, orders, count, lrs, opts, errors)
        self.params[:] = batch.params.reshape(len(self.nets), -1).T
        self.velocity[:] = batch.velocity.reshape(len(self.nets), -1).T
        return done, None

    def diverged(self, done: np.ndarray, count: int) -> list[int]:
        """The networks that stopped early or hold NaN/inf."""
        bad = done < count
        if not _validate.all_finite(self.params):
            bad |= ~np.isfinite(self.params).all(axis=0)
        return np.flatnonzero(bad).tolist()

    def write_back(self) -> None:
        for k, net in enumerate(self.nets):
            net._params[:] = self.params[:, k]


class _Batch:
    """The networks' buffers concatenated, with each network's offsets, for the parallel kernel."""

    def __init__(self, nets: list[Network]):
        self.nets = nets
        layouts = [net._layout for net in nets]
        self.param_ptr = np.cumsum([0] + [L.n_params for L in layouts], dtype=np.int64)
        self.unit_ptr = np.cumsum([0] + [len(L.sizes) for L in layouts], dtype=np.int64)
        self.layer_ptr = np.cumsum([0] + [len(L.w_off) for L in layouts], dtype=np.int64)
        self.sizes = np.concatenate([L.sizes for L in layouts])
        self.u_off = np.concatenate([L.u_off for L in layouts])
        self.w_off = np.concatenate([L.w_off for L in layouts])
        self.b_off = np.concatenate([L.b_off for L in layouts])
        self.tied = np.concatenate([net._tied for net in nets])
        self.params = np.concatenate([net._params for net in nets])
        self.velocity = np.zeros_like(self.params)

    def run(self, X, Y, orders, count, lrs, opts, errors, want_final=False) -> tuple[np.ndarray, None]:
        """Train every network for one chunk of epochs: (epochs each completed, None: no final sums).

        errors[e, k] receives network k's mean error in epoch e (the kernel fills it network by network).
        """
        done = np.empty(len(self.nets), dtype=np.int64)
        by_network = np.empty((len(self.nets), count))
        with _PARALLEL_LAUNCH:
            self._launch(X, Y, orders, count, lrs, opts, by_network, done)
        errors[:] = by_network.T
        return done, None

    def diverged(self, done: np.ndarray, count: int) -> list[int]:
        """The networks that stopped early or hold NaN/inf."""
        if _validate.all_finite(self.params):
            return np.flatnonzero(done < count).tolist()
        ptr = self.param_ptr
        return [
            k
            for k in range(len(self.nets))
            if done[k] < count or not _validate.all_finite(self.params[ptr[k] : ptr[k + 1]])
        ]

    def write_back(self) -> None:
        for k, net in enumerate(self.nets):
            net._params[:] = self.params[self.param_ptr[k] : self.param_ptr[k + 1]]

    def _launch(self, X, Y, orders, count, lrs, opts, errors, done) -> None:
        real = self.params.dtype.type  # lrs and momentum in the parameters' dtype
        _kernels.train_many_epochs(
            self.params, self.velocity, self.param_ptr, self.unit_ptr, self.layer_ptr,
            self.sizes, self.w_off, self.b_off, self.u_off, self.tied, X, Y, orders, count,
            lrs.astype(self.params.dtype), real(opts.momentum), opts.batch_size, kernel_block(opts),
            opts.train_biases, opts.layerwise, errors, done,
        )  # fmt: skip
