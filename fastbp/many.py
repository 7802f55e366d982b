"""train_many(): many networks on the same data, in parallel over the CPU's cores."""

from __future__ import annotations

import functools
import threading
from collections.abc import Sequence

import numba
import numpy as np

from . import _dispatch, _engine, _kernels, _loop, _options, _validate, catalogue, diagnostics
from ._engine import Engine, initial_state, run_record, updates_per_epoch
from .history import History
from .network import Network


def train_many(
    nets: Sequence[Network],
    X,
    Y,
    epochs: int = 1,
    lr: float | Sequence[float] = 0.5,
    batch_size: int | None = 1,
    momentum: float = 0.0,
    nesterov: bool = False,
    shuffle: bool = False,
    seed: int | None = None,
    train_biases: bool = True,
    update: str = "simultaneous",
    engine: str = "numba",
    progress: bool = False,
    loss: str = "squared",
    huber_delta: float = 1.0,
    optimizer: str = "sgd",
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    etas: tuple[float, float] = (0.5, 1.2),
    step_sizes: tuple[float, float] = (1e-6, 50.0),
    weight_decay: float = 0.0,
    fast_math: bool = False,
    kernel: str = "auto",
    diagnose: bool = False,
) -> list[History]:
    """Train every network of ``nets`` in place on (X, Y); returns one History per network.

    Options are those of :func:`fastbp.train` (but early stopping), and each network
    ends exactly (bit for bit) as training it alone with ``fastbp.train`` would leave
    it. ``lr`` is one learning rate for all, or one per network (a sweep). Networks may
    differ in hidden layers, bias modes and activations; their input and output
    widths must match the data. With the numba engine the networks are spread over Numba's threads
    (all cores by default; ``NUMBA_NUM_THREADS`` or ``numba.set_num_threads`` set
    how many); networks whose minibatches go through BLAS (wide layers) are
    trained one after another, each with BLAS's threads. ``kernel`` forces a way
    ("lanes", "loops": one network per thread, "blas", "unrolled"; docs/design.md).
    ``History.seconds`` is the wall time of the whole batch. Ctrl-C stops at the
    next chunk boundary: every network holds the weights at the end of the last
    completed epoch, and the KeyboardInterrupt carries ``.histories``. If a network
    diverges, every network keeps the state it reached in that chunk of epochs and
    FloatingPointError names the networks that diverged. ``diagnose=True`` gives each history
    its own diagnostics, from the lanes or from train's own kernel in the threads (the same bits
    and statistics as train alone). They take 32 bytes per epoch,
    weight layer and network (1,000 networks of 2 layers for 2,000 epochs: 128 MB).
    """
    nets = _check_nets(nets)
    X, Y = _validate.samples(X, Y, nets[0].sizes[0], nets[0].sizes[-1], dtype=nets[0].dtype)
    first = nets[0]
    for k, net in enumerate(nets[1:], start=1):  # (fast for thousands of networks of one architecture)
        if net._params.dtype != first._params.dtype:
            raise ValueError(f"nets[{k}] must have dtype {nets[0].dtype.name} like nets[0]; got {net.dtype.name}")
        if net._layout is not first._layout and (net.sizes[0], net.sizes[-1]) != (first.sizes[0], first.sizes[-1]):
            raise ValueError(
                f"nets[{k}] must have input width {nets[0].sizes[0]} and output width {nets[0].sizes[-1]} "
                f"like nets[0]; got sizes {net.sizes}"
            )
    lrs = _check_lrs(lr, len(nets))
    opts = _options.check(
        X.shape[0], epochs=epochs, lr=lrs[0], batch_size=batch_size, momentum=momentum, nesterov=nesterov,
        shuffle=shuffle, seed=seed, train_biases=train_biases, update=update, engine=engine, progress=progress,
        kernel=kernel, loss=loss, huber_delta=huber_delta,
        fast_math=fast_math, optimizer=optimizer, betas=betas, eps=eps, etas=etas,
        step_sizes=step_sizes, weight_decay=weight_decay, diagnose=diagnose,
    )  # fmt: skip
    checked = set()  # each set of activations once
    for k, net in enumerate(nets):
        if (codes := net._acts.tobytes()) in checked:
            continue
        try:
            catalogue.check_output(net.activations, opts.loss)
        except ValueError as error:
            raise ValueError(f"nets[{k}]: {error}") from None
        checked.add(codes)
    catalogue.check_targets(opts.loss, Y)
    how = _dispatch.many_choice(nets, opts, X.shape[0])
    group = {"lanes": _Lanes, "threads": _Threads, "one_by_one": _OneByOne}[how](nets, X, Y, opts, lrs)
    job = _Job(group, X, Y, opts, lrs)
    return _loop.run(job, opts, X.shape[0], sum(net._layout.n_params for net in nets))


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


class _Job:
    """The networks in training: the epoch, every network's errors (epoch by network), the shuffle generator."""

    result_name = "histories"
    stopped = False  # (no early stopping in train_many)

    def __init__(self, group, X, Y, opts, lrs):
        self.group, self.X, self.Y, self.opts, self.lrs = group, X, Y, opts, lrs
        self.errors = _loop.record(opts.epochs, len(group.nets))  # each chunk's rows are contiguous
        self.rng = np.random.default_rng(opts.seed) if opts.shuffle else None
        self.epoch = 0
        self.error_of = _engine.error_function(group.nets[0], opts)  # (network, X, Y) -> its mean error
        self.final_sums = None  # each network's summed error after training, when the kernel computed it
        # With diagnose: the networks' statistics, one recorder for the lanes, one per network otherwise.
        self.recorder = self.recorders = None
        if opts.diagnose and isinstance(group, _Lanes):
            self.recorder = diagnostics.Recorder(group.nets[0].activations, opts.loss, opts.epochs, len(group.nets))
        elif opts.diagnose:
            self.recorders = [diagnostics.Recorder(net.activations, opts.loss, opts.epochs) for net in group.nets]

    def ready(self) -> None:
        self.group.ready()

    def advance(self, count: int) -> None:
        orders = _loop.sample_orders(self.opts, self.rng, self.X.shape[0], count)
        last = self.epoch + count == self.opts.epochs
        self.errors = _loop.grown(self.errors, self.epoch + count, self.opts.epochs)
        chunk_errors = self.errors[self.epoch : self.epoch + count]  # filled in place
        statistics = None
        if self.recorder is not None:
            statistics = self.recorder.rows(self.epoch, count)
        elif self.recorders is not None:
            statistics = [recorder.rows(self.epoch, count) for recorder in self.recorders]
        done, self.final_sums = self.group.run(orders, count, chunk_errors, want_final=last, statistics=statistics)
        diverged = self.group.diverged(done, count)
        if diverged:
            raise FloatingPointError(
                f"training diverged for nets {diverged} in epochs {self.epoch + 1}..{self.epoch + count}; "
                f"try a smaller lr (got {[float(self.lrs[k]) for k in diverged]})"
            )
        self.epoch += count

    def latest_error(self) -> float:
        return float(self.errors[self.epoch - 1].mean())

    def settle(self) -> None:
        self.group.write_back()

    def result(self, seconds: float) -> list[History]:
        n = self.X.shape[0]
        # Each history's errors are a column of the one matrix (no copies of thousands of rows).
        columns = self.errors[: self.epoch].T
        diagnosed = [None] * len(columns)
        if self.recorder is not None:
            diagnosed = self.recorder.results(self.epoch)
        elif self.recorders is not None:
            diagnosed = [recorder.result(self.epoch) for recorder in self.recorders]
        if self.final_sums is not None:
            finals = (self.final_sums / n).tolist()
            return [History(errors, seconds, final_error=final, diagnostics=d)
                    for errors, final, d in zip(columns, finals, diagnosed)]  # fmt: skip
        return [
            History(
                errors,
                seconds,
                compute_final=functools.partial(self.error_of, net.copy(), self.X, self.Y),
                diagnostics=d,
            )  # fmt: skip
            for errors, net, d in zip(columns, self.group.nets, diagnosed)
        ]


def _spread(work, n_items: int, threads: int) -> None:
    """work(start, stop) over 0..n_items in `threads` contiguous parts at once, the calling thread doing the first
    (the kernels release the GIL). Returns when every part is done, and raises the first part's error if any."""
    bounds = [n_items * t // threads for t in range(threads + 1)]
    failed = []

    def part(start: int, stop: int) -> None:
        try:
            work(start, stop)
        except BaseException as error:  # (re-raised in the calling thread)
            failed.append(error)

    parts = [bounds[t : t + 2] for t in range(1, threads) if bounds[t] < bounds[t + 1]]
    helpers = [threading.Thread(target=part, args=args) for args in parts]
    for helper in helpers:
        helper.start()
    try:
        work(bounds[0], bounds[1])
    finally:  # no part outlives the call, whatever happened here
        for helper in helpers:
            helper.join()
    if failed:
        raise failed[0]


class _OneByOne:
    """Each network through its own engine, one after another (the oracle, BLAS with its own threads)."""

    def __init__(self, nets, X, Y, opts, lrs):
        self.nets = nets
        self.engines = [Engine(net, X, Y, opts, lr=lrs[k]) for k, net in enumerate(nets)]

    def ready(self) -> None:
        for engine in self.engines:
            engine.ready()

    def run(self, orders, count, errors, want_final=False, statistics=None) -> tuple[np.ndarray, None]:
        """statistics: with diagnose, each network's diagnostics.Recorder rows for these epochs."""
        by_network = np.empty((len(self.nets), count))
        statistics = statistics or [None] * len(self.nets)
        done = np.array([engine.epochs(orders, count, by_network[k], statistics[k])
                         for k, engine in enumerate(self.engines)])  # fmt: skip
        errors[:] = by_network.T
        return done, None

    def diverged(self, done: np.ndarray, count: int) -> list[int]:
        return [k for k, net in enumerate(self.nets) if done[k] < count or not _validate.all_finite(net._params)]

    def write_back(self) -> None:
        pass  # trained in place


class _Threads:
    """One network per thread, each through train's own loops kernel (train_epochs, the same specialisation:
    nothing more to compile, and the same bits), called from Python threads over Numba's thread count."""

    def __init__(self, nets, X, Y, opts, lrs):
        self.nets, self.X, self.Y, self.opts, self.lrs = nets, X, Y, opts, lrs
        self.step = 0  # optimiser updates done
        # Every network marked with the activations of them all: one specialisation for mixed sets.
        uses = _kernels.uses_of({code for net in nets for code in net._acts.tolist()})
        self.records = [
            _kernels.Net(net._params, L.sizes, L.w_off, L.b_off, L.u_off, net._tied, net._acts, *uses)
            for net, L in ((net, net._layout) for net in nets)
        ]
        self.states = [initial_state(net._layout.n_params, net.dtype, opts, lr) for net, lr in zip(nets, lrs)]
        self.markers = _dispatch.loops_markers(opts)

    def ready(self) -> None:
        rows = np.empty((0, len(diagnostics.STATISTICS), len(self.nets[0].sizes) - 1))
        diag = diagnostics.kernel_record(self.nets[0], rows) if self.opts.diagnose else None
        data, runs = self._chunk(np.zeros((1, 1), np.int64), 0)
        _dispatch.ready(_kernels.train_epochs, self._arguments(0, data, runs, np.empty(0), diag))

    def _chunk(self, orders, count: int) -> tuple:
        """A chunk's Data record and its Run records by learning rate (one for every network of a rate)."""
        data = _kernels.Data(self.X, self.Y, orders, np.empty(0, self.X.dtype))
        dtype = self.nets[0].dtype
        return data, {lr: run_record(self.opts, count, dtype, lr, self.step) for lr in set(self.lrs.tolist())}

    def _arguments(self, k: int, data, runs: dict, errors, diag) -> tuple:
        """train_epochs' arguments for network k."""
        return self.records[k], self.states[k], data, runs[self.lrs[k]], errors, *self.markers, diag

    def run(self, orders, count, errors, want_final=False, statistics=None) -> tuple[np.ndarray, None]:
        """Train every network for one chunk of epochs, in place: (epochs each completed, None: no final sums);
        statistics: with diagnose, each network's diagnostics.Recorder rows for these epochs.

        errors[e, k] receives network k's mean error in epoch e.
        """
        data, runs = self._chunk(orders, count)
        by_network = np.empty((len(self.nets), count))
        done = np.empty(len(self.nets), dtype=np.int64)

        def train(start: int, stop: int) -> None:
            kernel = None  # (every network's arguments are built alike: one look-up of the entry point a part)
            for k in range(start, stop):
                diag = None if statistics is None else diagnostics.kernel_record(self.nets[k], statistics[k])
                arguments = self._arguments(k, data, runs, by_network[k], diag)
                if kernel is None:
                    done[k] = _dispatch.call(_kernels.train_epochs, *arguments)
                    kernel = _dispatch.compiled(_kernels.train_epochs, arguments)
                else:
                    done[k] = kernel(*arguments)

        _spread(train, len(self.nets), numba.get_num_threads())
        errors[:] = by_network.T
        self.step += count * updates_per_epoch(self.opts, self.X.shape[0])  # (a diverged run is not resumed)
        return done, None

    def diverged(self, done: np.ndarray, count: int) -> list[int]:
        """The networks that stopped early or hold NaN/inf."""
        return [k for k, net in enumerate(self.nets) if done[k] < count or not _validate.all_finite(net._params)]

    def write_back(self) -> None:
        pass  # trained in place


def _lane_major(rows: list) -> np.ndarray:
    """Equal-length rows, one per network, as columns: [p, k] is value p of network k (a transposed view)."""
    return np.concatenate(rows).reshape(len(rows), -1).T  # (4x np.stack's speed)


class _Lanes:
    """Networks of one architecture trained online side by side: parameter p of network k at [p, k].

    The lane kernel's innermost loops run over networks and vectorise; each network's
    arithmetic is that of train_epochs, so the results are the same bits. A chunk in
    which any network diverges is run again network by network (_Threads), which stops
    each one exactly where train would. The networks get their parameters back in
    write_back().
    """

    # Networks per block at most: each pass over a block is a vector loop that pays its setup and the
    # logistic's latency once, so longer is faster, up to where two threads slow down (docs/design.md).
    BLOCK = 256

    def __init__(self, nets, X, Y, opts, lrs):
        self.nets, self.X, self.Y, self.opts, self.lrs = nets, X, Y, opts, lrs
        self.params = np.ascontiguousarray(_lane_major([net._params for net in nets]))
        self.state = _kernels.State(np.zeros_like(self.params), np.zeros_like(self.params))  # (sgd: velocities)

    def ready(self) -> None:
        rows = np.empty((0, len(diagnostics.STATISTICS), len(self.nets[0].sizes) - 1, len(self.nets)))
        diag = diagnostics.kernel_record(self.nets[0], rows) if self.opts.diagnose else None
        arguments = self._arguments(np.zeros((1, 1), np.int64), 0, np.empty((0, 0)), np.empty(0))
        _dispatch.ready(_kernels.train_lane_block, (*arguments, 0, 0, diag))

    def block(self, threads: int) -> int:
        """Networks per block: at most BLOCK, a multiple of 8, and as many blocks for every thread."""
        n_blocks = threads * -(-len(self.nets) // (threads * self.BLOCK))
        return max(8, -(-len(self.nets) // (n_blocks * 8)) * 8)

    def _arguments(self, orders, count, errors, final) -> tuple:
        """train_lane_block's arguments up to its block's networks (k0, k1) and diag."""
        L, first = self.nets[0]._layout, self.nets[0]
        net = _kernels.Net(self.params, L.sizes, L.w_off, L.b_off, L.u_off, first._tied, first._acts,
                           *first._uses)  # fmt: skip
        data = _kernels.Data(self.X, self.Y, orders, np.empty(0, self.X.dtype))
        run = run_record(self.opts, count, self.params.dtype)
        return net, self.state, data, run, self.lrs.astype(self.params.dtype), errors, final

    def run(self, orders, count, errors, want_final=False, statistics=None) -> tuple[np.ndarray, np.ndarray | None]:
        """Train every network for one chunk of epochs: (epochs each completed, final E sums or None);
        statistics: with diagnose, the networks' diagnostics.Recorder rows for these epochs."""
        before = (self.params.copy(), self.state.first.copy())
        final = np.empty(len(self.nets) if want_final else 0)
        diag = None if statistics is None else diagnostics.kernel_record(self.nets[0], statistics)
        arguments = self._arguments(orders, count, errors, final)
        threads = numba.get_num_threads()
        lane_block = self.block(threads)
        n = len(self.nets)
        done = np.empty(-(-n // lane_block), dtype=np.int64)  # per block

        def train(start: int, stop: int) -> None:
            for block in range(start, stop):
                k0, k1 = block * lane_block, min(n, (block + 1) * lane_block)
                done[block] = _dispatch.call(_kernels.train_lane_block, *arguments, k0, k1, diag)

        _spread(train, len(done), threads)
        if done.min() == count and _validate.all_finite(self.params):
            return np.full(n, count, dtype=np.int64), (final if want_final else None)
        # Some network diverged: again network by network, from the chunk's start.
        self.params[:], self.state.first[:] = before
        self.write_back()
        one_each = _Threads(self.nets, self.X, self.Y, self.opts, self.lrs)  # (compiled on its first call)
        for k, state in enumerate(one_each.states):
            state.first[:] = self.state.first[:, k]
        done, _ = one_each.run(orders, count, errors)
        self.params[:] = _lane_major([net._params for net in self.nets])
        self.state.first[:] = _lane_major([state.first for state in one_each.states])
        return done, None

    def diverged(self, done: np.ndarray, count: int) -> list[int]:
        """The networks that stopped early or hold NaN/inf."""
        bad = done < count
        if not _validate.all_finite(self.params):
            bad |= ~np.isfinite(self.params).all(axis=0)
        return np.flatnonzero(bad).tolist()

    def write_back(self) -> None:
        for net, params in zip(self.nets, self.params.T.copy()):  # (contiguous rows copy faster than columns)
            net._params[:] = params
