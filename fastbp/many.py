"""train_many(): many networks on the same data, in parallel over the CPU's cores."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

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
    errors = np.empty((len(nets), opts.epochs))
    rng = np.random.default_rng(opts.seed) if opts.shuffle else None
    # Networks whose kernel calls BLAS (wide layers, minibatches) go one after another,
    # each using BLAS's threads; the others are spread over Numba's threads.
    one_by_one = opts.engine == "python" or any(numba_kernel(net, opts) is not _kernels.train_epochs for net in nets)
    if not one_by_one and _Lanes.suits(nets, opts):
        ready(_kernels.train_lanes_epochs, nets[0].dtype, _kernels.train_lanes_epochs_signature)
    if not one_by_one:  # also the lane kernel's fallback
        ready(_kernels.train_many_epochs, nets[0].dtype, _kernels.train_many_epochs_signature)
    for net in nets if opts.engine == "numba" and one_by_one else []:
        ready(numba_kernel(net, opts), net.dtype)
    run_one = _run_python if opts.engine == "python" else _run_numba
    velocities = [np.zeros(net._layout.n_params, net.dtype) for net in nets] if one_by_one else None
    batch = None if one_by_one else (_Lanes(nets) if _Lanes.suits(nets, opts) else _Batch(nets))
    chunker = _Chunker(opts, X.shape[0], sum(net._layout.n_params for net in nets))
    epoch = 0

    def histories(seconds):
        return [
            History(errors=errors[k, :epoch].copy(), final_error=net._evaluate(X, Y)[1] / X.shape[0], seconds=seconds)
            for k, net in enumerate(nets)
        ]

    with _progress_bar(opts) as bar, _deferred_interrupts() as interrupted:
        start = time.perf_counter()
        while epoch < opts.epochs:
            count = chunker.size(epoch)
            chunk_start = time.perf_counter()
            orders = _orders(opts, rng, X.shape[0], count)
            chunk_errors = np.empty((len(nets), count))
            if not one_by_one:
                done = batch.run(X, Y, orders, count, lrs, opts, chunk_errors)
            else:
                done = np.array([
                    run_one(net, X, Y, orders, count, opts._replace(lr=lrs[k]), velocities[k], chunk_errors[k])
                    for k, net in enumerate(nets)
                ])  # fmt: skip
            chunker.observe(count, time.perf_counter() - chunk_start)
            errors[:, epoch : epoch + count] = chunk_errors
            diverged = [k for k, net in enumerate(nets) if done[k] < count or not _validate.all_finite(net._params)]
            if diverged:
                raise FloatingPointError(
                    f"training diverged for nets {diverged} in epochs {epoch + 1}..{epoch + count}; "
                    f"try a smaller lr (got {[lrs[k] for k in diverged]})"
                )
            epoch += count
            bar.update(count)
            if interrupted():
                stop = KeyboardInterrupt(f"training interrupted after epoch {epoch} of {opts.epochs}")
                stop.histories = histories(time.perf_counter() - start)
                raise stop
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
    each one exactly where train would.
    """

    BLOCK = 64  # networks per thread's block

    @staticmethod
    def suits(nets: list[Network], opts) -> bool:
        first = nets[0]
        return (
            opts.batch_size == 1
            and len(nets) >= 8
            and all(net.sizes == first.sizes and np.array_equal(net._tied, first._tied) for net in nets)
        )

    def __init__(self, nets: list[Network]):
        self.nets = nets
        L = nets[0]._layout
        self.layout = L
        self.params = np.ascontiguousarray(np.stack([net._params for net in nets], axis=1))
        self.velocity = np.zeros_like(self.params)

    def run(self, X, Y, orders, count, lrs, opts, errors) -> np.ndarray:
        before = (self.params.copy(), self.velocity.copy())
        L, real = self.layout, self.params.dtype.type
        done = _kernels.train_lanes_epochs(
            self.params, self.velocity, L.sizes, L.w_off, L.b_off, L.u_off, self.nets[0]._tied, X, Y, orders, count,
            lrs.astype(self.params.dtype), real(opts.momentum), opts.train_biases, opts.layerwise, errors, self.BLOCK,
        )  # fmt: skip
        if done.min() < count or not _validate.all_finite(self.params):
            self.params[:], self.velocity[:] = before
            self._write_back()
            batch = _Batch(self.nets)  # network by network, with exact divergence handling
            batch.velocity[:] = self.velocity.T.ravel()
            result = batch.run(X, Y, orders, count, lrs, opts, errors)
            self.params[:] = np.stack([net._params for net in self.nets], axis=1)
            self.velocity[:] = batch.velocity.reshape(len(self.nets), -1).T
            return result
        self._write_back()
        return np.full(len(self.nets), count, dtype=np.int64)

    def _write_back(self) -> None:
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

    def run(self, X, Y, orders, count, lrs, opts, errors) -> np.ndarray:
        """Train every network for one chunk of epochs; copy the results back into the networks."""
        done = np.empty(len(self.nets), dtype=np.int64)
        with _PARALLEL_LAUNCH:
            self._launch(X, Y, orders, count, lrs, opts, errors, done)
        for k, net in enumerate(self.nets):
            net._params[:] = self.params[self.param_ptr[k] : self.param_ptr[k + 1]]
        return done

    def _launch(self, X, Y, orders, count, lrs, opts, errors, done) -> None:
        real = self.params.dtype.type  # lrs and momentum in the parameters' dtype
        _kernels.train_many_epochs(
            self.params, self.velocity, self.param_ptr, self.unit_ptr, self.layer_ptr,
            self.sizes, self.w_off, self.b_off, self.u_off, self.tied, X, Y, orders, count,
            lrs.astype(self.params.dtype), real(opts.momentum), opts.batch_size, kernel_block(opts),
            opts.train_biases, opts.layerwise, errors, done,
        )  # fmt: skip
