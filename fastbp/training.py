"""train(): check every option once, then run whole epochs through one network's engine."""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from . import _checkpoint, _loop, _options, _validate
from ._engine import Engine
from .history import History
from .network import Network


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
    kernel: str = "auto",
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
    ``kernel`` forces one of the compiled kernels ("loops", "blas", "unrolled";
    see docs/design.md), for tests and benchmarks; "auto" picks the fastest.
    Bad arguments raise ValueError/TypeError and leave ``net`` untouched.
    """
    if not isinstance(net, Network):
        raise TypeError(f"net must be a fastbp.Network; got {_validate._describe(net)}")
    X, Y = _validate.samples(X, Y, net.sizes[0], net.sizes[-1], dtype=net.dtype)
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable; got {_validate._describe(callback)}")
    periods = {}
    if callback is not None:
        periods["callback_every"] = _validate.integer("callback_every", callback_every, low=1)
    if checkpoint is not None:
        checkpoint = _validate.path("checkpoint", checkpoint)
        periods["checkpoint_every"] = _validate.integer("checkpoint_every", checkpoint_every, low=1)
    opts = _options.check(
        X.shape[0], epochs=epochs, lr=lr, batch_size=batch_size, momentum=momentum, shuffle=shuffle, seed=seed,
        train_biases=train_biases, update=update, engine=engine, progress=progress, kernel=kernel, **periods,
    )  # fmt: skip
    job = _Job(net, X, Y, opts)
    fingerprint = _options.fingerprint(opts, X.shape[0])
    if resume is not None:
        job.resume(_checkpoint.load(_validate.path("resume", resume), net, fingerprint))
    job.engine.ready()

    def after_chunk(epoch: int) -> None:
        if _loop.due(epoch, opts.checkpoint_every, opts):
            _checkpoint.save(checkpoint, net, job.engine.velocity, epoch, job.errors[:epoch], job.rng_state(),
                             fingerprint)  # fmt: skip
        if _loop.due(epoch, opts.callback_every, opts):
            callback(epoch, net)

    return _loop.run(job, opts, X.shape[0], net._layout.n_params, after_chunk if periods else None)


class _Job:
    """One network in training: its engine, the epoch and errors so far, the shuffle generator."""

    result_name = "history"

    def __init__(self, net: Network, X, Y, opts: _options.Options):
        self.net, self.X, self.Y, self.opts = net, X, Y, opts
        self.engine = Engine(net, X, Y, opts)
        self.errors = np.empty(opts.epochs)
        self.epoch = 0
        self.rng = np.random.default_rng(opts.seed) if opts.shuffle else None

    def resume(self, state: dict) -> None:
        """Continue from a checkpoint (already checked against this run's network and options)."""
        if state["epoch"] > self.opts.epochs:
            raise ValueError(f"resume: the checkpoint is at epoch {state['epoch']}, past epochs={self.opts.epochs}")
        self.net._params[:] = state["params"]
        self.engine.velocity[:] = state["velocity"]
        self.epoch = state["epoch"]
        self.errors[: self.epoch] = state["errors"]
        if self.rng is not None:
            self.rng.bit_generator.state = state["rng_state"]

    def rng_state(self):
        return None if self.rng is None else self.rng.bit_generator.state

    def advance(self, count: int) -> None:
        """Train count more epochs; on divergence restore the last finite epoch and raise."""
        net, engine = self.net, self.engine
        orders = _loop.sample_orders(self.opts, self.rng, self.X.shape[0], count)
        before = (net._params.copy(), engine.velocity.copy())
        errors = self.errors[self.epoch : self.epoch + count]
        if engine.epochs(orders, count, errors) == count and _validate.all_finite(net._params):
            self.epoch += count
            return
        # Diverged: replay the chunk epoch by epoch from its start to find the last finite epoch.
        net._params[:], engine.velocity[:] = before
        for e in range(count):
            saved = (net._params.copy(), engine.velocity.copy())
            one = orders[min(e, len(orders) - 1)].reshape(1, -1)
            finite = engine.epochs(one, 1, errors[e : e + 1]) == 1
            if not (finite and _validate.all_finite(net._params)):
                net._params[:], engine.velocity[:] = saved
                what = f"the mean error became {errors[e]}" if not finite else "a weight or bias became non-finite"
                raise FloatingPointError(
                    f"training diverged in epoch {self.epoch + e + 1}: {what}; the network holds the weights after "
                    f"epoch {self.epoch + e}; try a smaller lr (got {self.opts.lr})"
                )
        self.epoch += count  # pragma: no cover - a replay that stays finite (not expected: runs are deterministic)

    def latest_error(self) -> float:
        return self.errors[self.epoch - 1]

    def settle(self) -> None:
        pass  # the network is trained in place

    def result(self, seconds: float) -> History:
        # A finished run hands its errors over; an interrupted one copies those of its epochs so far.
        errors = self.errors if self.epoch == len(self.errors) else self.errors[: self.epoch].copy()
        return History(errors, seconds, compute_final=functools.partial(self.net.copy()._mean_error, self.X, self.Y))
