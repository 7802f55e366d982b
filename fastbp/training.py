"""train(): check every option once, then run whole epochs through one network's engine."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np

from . import _checkpoint, _engine, _loop, _options, _validate, catalogue, diagnostics
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
    nesterov: bool = False,
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
    loss: str = "squared",
    huber_delta: float = 1.0,
    optimizer: str = "sgd",
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    etas: tuple[float, float] = (0.5, 1.2),
    step_sizes: tuple[float, float] = (1e-6, 50.0),
    weight_decay: float = 0.0,
    validation: tuple | None = None,
    patience: int | None = None,
    min_delta: float = 0.0,
    restore_best: bool = True,
    target_error: float | None = None,
    fast_math: bool = False,
    kernel: str = "auto",
    diagnose: bool = False,
) -> History:
    """Train ``net`` in place by backpropagation; by default the article's gradient descent on
    E = sum 1/2 (target - out)^2.

    ``batch_size=1`` is the article's online update; k averages the gradient of
    k samples (the last batch may be smaller); None uses all samples at once.
    With momentum: v = momentum * v - lr * g; w += v (velocities start at 0); ``nesterov=True``:
    w += momentum * v - lr * g (torch.optim.SGD's Nesterov momentum).
    ``shuffle=True`` draws a new permutation each epoch from numpy's
    ``default_rng(seed)``. ``train_biases=False`` freezes every bias (the
    article). ``update`` picks when the hidden deltas are computed: "simultaneous"
    (from the weights before the step, as the article's text says) or
    "layerwise" (each layer updated as soon as its deltas are known, as the
    article's later figures were computed). ``engine="python"`` runs the pure-
    Python oracle, which agrees with the compiled default to 1e-12.

    Beyond the article, each formula PyTorch's: ``loss="cross_entropy"`` (softmax or
    logistic outputs), ``"poisson"`` (e^net outputs) or ``"huber"`` (torch.nn.HuberLoss(delta=huber_delta), summed
    over the outputs); ``optimizer="adam"`` (``betas``, ``eps``: torch.optim.Adam) or
    ``"rprop"`` (``etas``, ``step_sizes``, ``lr`` the initial step: torch.optim.Rprop);
    ``weight_decay``: g_W += weight_decay * W on the weights, never the biases. Each
    batch's gradient is the gradient of its mean loss.

    Stopping: ``validation=(X_val, Y_val)`` records the validation loss after every
    epoch (``history.val_errors``, ``history.best_epoch``); ``patience=k`` stops once k
    epochs in a row end without it improving on its best by more than ``min_delta``,
    and with ``restore_best`` the network ends with the weights of its best epoch
    (epoch 1's loss is the first best, never the untrained network's).
    ``target_error`` stops after the first epoch whose mean training loss is at most
    it (FANN's desired error). ``history.stopped_early`` says whether either ended the
    run before ``epochs``.

    ``callback(epochs_done, net)``, if given, runs after every ``callback_every``
    epochs and at the end (to track a validation error, say).
    ``checkpoint=path`` writes, every ``checkpoint_every`` epochs and at the end,
    all that is needed to go on (weights, biases, optimiser state, epoch count, the
    shuffle generator's state, the early-stopping record) atomically to ``path``; a
    later call with ``resume=path`` and the same options continues from there, bit
    for bit as if never stopped; it refuses (before changing ``net``) a checkpoint of
    other data, options or network, or one that is damaged (docs/design.md, "What
    resume checks"). A checkpoint path that cannot be written is refused before the
    first epoch; one that fails later raises OSError carrying ``.history``.
    ``epochs`` may be as large as you like where ``target_error`` or ``patience`` ends
    the run: the history grows as the run goes. Ctrl-C stops training at the next chunk boundary (a
    fraction of a second): ``net`` then holds the weights at the end of the last
    completed epoch and the KeyboardInterrupt raised carries ``.history`` for
    those epochs (none, and ``net`` unchanged, if the kernel was still loading).
    A run that diverges raises FloatingPointError naming the epoch, with ``net``
    restored to the end of the last epoch whose results were finite.
    ``fast_math=True`` computes the logistic's e^x in online training (batch_size=1)
    from a table, in about half the latency (the article's 10,000 steps 20% faster):
    results agree with the default to 1e-12 but not bit for bit. Minibatches,
    evaluation (``net.error``, ``final_error``) and the oracle (``engine="python"``)
    keep the default e^x.
    ``kernel`` forces one of the compiled kernels ("loops", "blas", "unrolled";
    see docs/design.md), for tests and benchmarks; "auto" picks the fastest.
    ``diagnose=True`` records each weight layer's gradient norm, update ratio and saturated
    and dead fractions per epoch in ``history.diagnostics``, and ``history.diagnosis()``
    tells in plain words why a run stalls (fastbp.diagnostics); the training is the same,
    bit for bit.
    Bad arguments raise ValueError/TypeError and leave ``net`` untouched.
    """
    if not isinstance(net, Network):
        raise TypeError(f"net must be a fastbp.Network; got {_validate._describe(net)}")
    X, Y = _validate.samples(X, Y, net.sizes[0], net.sizes[-1], dtype=net.dtype)
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable; got {_validate._describe(callback)}")
    if validation is not None:
        if not isinstance(validation, (tuple, list)) or len(validation) != 2:
            raise TypeError(f"validation must be a pair (X_val, Y_val) or None; got {_validate._describe(validation)}")
        validation = _validate.samples(*validation, net.sizes[0], net.sizes[-1], dtype=net.dtype, names="validation")
    periods = {}
    if callback is not None:
        periods["callback_every"] = _validate.integer("callback_every", callback_every, low=1)
    if checkpoint is not None:
        checkpoint = _validate.destination("checkpoint", checkpoint)  # a run that cannot save is refused now
        periods["checkpoint_every"] = _validate.integer("checkpoint_every", checkpoint_every, low=1)
    if resume is not None:
        resume = _validate.path("resume", resume)
    opts = _options.check(
        X.shape[0], epochs=epochs, lr=lr, batch_size=batch_size, momentum=momentum, nesterov=nesterov, shuffle=shuffle,
        seed=seed, train_biases=train_biases, update=update, engine=engine, progress=progress, kernel=kernel, loss=loss,
        huber_delta=huber_delta,
        fast_math=fast_math, diagnose=diagnose,
        optimizer=optimizer, betas=betas, eps=eps, etas=etas, step_sizes=step_sizes, weight_decay=weight_decay,
        patience=patience, min_delta=min_delta, restore_best=restore_best, target_error=target_error,
        validating=validation is not None, **periods,
    )  # fmt: skip
    catalogue.check_output(net.activations, opts.loss)
    catalogue.check_targets(opts.loss, Y)
    job = _Job(net, X, Y, opts, validation)
    fingerprint = digests = None
    if checkpoint is not None or resume is not None:
        fingerprint = _options.fingerprint(opts, X.shape[0])
        data = (X, Y) if validation is None else (X, Y, *validation)
        digests = {"data": _checkpoint.digest(*data), "start": _checkpoint.digest(net._params),
                   "validating": validation is not None}  # fmt: skip
    if resume is not None:  # read and checked whole before anything is assigned
        state = _checkpoint.load(resume, net, fingerprint, digests, opts.epochs, opts.shuffle)
        digests["start"] = state["start"]  # later checkpoints keep naming the run's starting network
        job.resume(state)

    def after_chunk(epoch: int) -> None:
        if _loop.due(epoch, opts.checkpoint_every, opts) or (checkpoint is not None and job.stopped):
            try:
                _checkpoint.save(checkpoint, net, job.state_to_save(), fingerprint, digests)
            except OSError as exc:
                raise OSError(f"checkpoint: {checkpoint!r} could not be written after epoch {epoch} "
                              f"({exc.strerror or exc}); the network holds the weights of that epoch, and this "
                              "error's .history the run so far") from exc  # fmt: skip
        if _loop.due(epoch, opts.callback_every, opts) or (callback is not None and job.stopped):
            callback(epoch, net)

    return _loop.run(job, opts, X.shape[0], net._layout.n_params, after_chunk if periods else None)


class _Job:
    """One network in training: its engine, the epoch and errors so far, the shuffle generator,
    and the early-stopping record (validation errors, the best epoch and its weights)."""

    result_name = "history"

    def __init__(self, net: Network, X, Y, opts: _options.Options, validation):
        self.net, self.X, self.Y, self.opts, self.validation = net, X, Y, opts, validation
        self.engine = Engine(net, X, Y, opts)
        self.error_of = _engine.error_function(net, opts)  # (network, X, Y) -> its mean error
        self.errors = _loop.record(opts.epochs)
        self.val_errors = _loop.record(opts.epochs) if validation is not None else None
        self.epoch = 0
        self.stopped = False
        self.rng = np.random.default_rng(opts.seed) if opts.shuffle else None
        self.best = None  # (epoch, validation loss, parameters or None)
        self.waited = 0  # epochs since the best
        self.recorder = diagnostics.Recorder(net.activations, opts.loss, opts.epochs) if opts.diagnose else None

    def ready(self) -> None:
        self.engine.ready()

    def resume(self, state: dict) -> None:
        """Continue from a checkpoint (already read and checked whole by _checkpoint.load: nothing here fails)."""
        self.net._params[:] = state["params"]
        self.engine.state.first[:], self.engine.state.second[:] = state["state"]
        self.engine.step = state["step"]
        self.epoch = state["epoch"]
        self._make_room(self.epoch)
        self.errors[: self.epoch] = state["errors"]
        if self.rng is not None:
            self.rng.bit_generator.state = state["rng_state"]
        if self.recorder is not None:  # (a checkpoint of a run without diagnose: NaN for its epochs)
            diagnosed = state["diagnostics"]
            self.recorder.rows(0, self.epoch)[:] = math.nan if diagnosed is None else diagnosed
        if self.val_errors is not None and state["val_errors"] is not None:
            self.val_errors[: self.epoch] = state["val_errors"]
            self.best, self.waited, self.stopped = state["best"], state["waited"], state["stopped"]

    def state_to_save(self) -> dict:
        """Everything resume() needs."""
        return {
            "params": self.net._params, "state": tuple(self.engine.state), "step": self.engine.step,
            "epoch": self.epoch, "errors": self.errors[: self.epoch],
            "rng_state": None if self.rng is None else self.rng.bit_generator.state,
            "val_errors": None if self.val_errors is None else self.val_errors[: self.epoch],
            "best": self.best, "waited": self.waited, "stopped": self.stopped,
            "diagnostics": None if self.recorder is None else self.recorder.rows(0, self.epoch),
        }  # fmt: skip

    def advance(self, count: int) -> None:
        """Train count more epochs; on divergence restore the last finite epoch and raise."""
        net, engine = self.net, self.engine
        orders = _loop.sample_orders(self.opts, self.rng, self.X.shape[0], count)
        before = (net._params.copy(), engine.state.first.copy(), engine.state.second.copy(), engine.step)
        self._make_room(self.epoch + count)
        errors = self.errors[self.epoch : self.epoch + count]
        statistics = None if self.recorder is None else self.recorder.rows(self.epoch, count)
        done = engine.epochs(orders, count, errors, statistics)
        if (done == count or engine.reached_target(errors, done)) and _validate.all_finite(net._params):
            self._epochs_done(done, stopped=done < count or engine.reached_target(errors, done))
            return
        # Diverged: replay the chunk epoch by epoch from its start to find the last finite epoch.
        self._restore(before)
        for e in range(count):
            saved = (net._params.copy(), engine.state.first.copy(), engine.state.second.copy(), engine.step)
            one = orders[min(e, len(orders) - 1)].reshape(1, -1)
            statistics = None if self.recorder is None else self.recorder.rows(self.epoch + e, 1)
            finite = engine.epochs(one, 1, errors[e : e + 1], statistics) == 1
            if not (finite and _validate.all_finite(net._params)):
                self._restore(saved)
                what = f"the mean error became {errors[e]}" if not finite else "a weight or bias became non-finite"
                raise FloatingPointError(
                    f"training diverged in epoch {self.epoch + e + 1}: {what}; the network holds the weights after "
                    f"epoch {self.epoch + e}; try a smaller lr (got {self.opts.lr})"
                )
        self._epochs_done(count)  # pragma: no cover - a replay that stays finite (runs are deterministic)

    def _make_room(self, epochs: int) -> None:
        self.errors = _loop.grown(self.errors, epochs, self.opts.epochs)
        if self.val_errors is not None:
            self.val_errors = _loop.grown(self.val_errors, epochs, self.opts.epochs)

    def _restore(self, saved) -> None:
        self.net._params[:], self.engine.state.first[:], self.engine.state.second[:], self.engine.step = saved

    def _epochs_done(self, done: int, stopped: bool = False) -> None:
        """Count the epochs just run; with validation (one epoch per call), score it and decide whether to stop."""
        self.epoch += done
        self.stopped = stopped and self.epoch < self.opts.epochs
        if self.validation is None or done == 0:
            return
        val = self.error_of(self.net, *self.validation)
        self.val_errors[self.epoch - 1] = val
        if self.best is None or val < self.best[1] - self.opts.min_delta:
            keep = self.net._params.copy() if self.opts.patience is not None and self.opts.restore_best else None
            self.best, self.waited = (self.epoch, val, keep), 0
        else:
            self.waited += 1
            if self.opts.patience is not None and self.waited >= self.opts.patience and self.epoch < self.opts.epochs:
                self.stopped = True

    def latest_error(self) -> float:
        return self.errors[self.epoch - 1]

    def settle(self) -> None:
        """At the end of a run: with patience and restore_best, the best epoch's weights."""
        done = self.stopped or self.epoch == self.opts.epochs
        if done and self.best is not None and self.best[2] is not None:
            self.net._params[:] = self.best[2]

    def result(self, seconds: float) -> History:
        # A finished run hands its errors over; an interrupted or stopped one copies those of its epochs so far.
        errors = self.errors if self.epoch == len(self.errors) else self.errors[: self.epoch].copy()
        val = None if self.val_errors is None else self.val_errors[: self.epoch].copy()
        compute = functools.partial(self.error_of, self.net.copy(), self.X, self.Y)
        best_epoch = None if self.best is None else self.best[0]
        diagnosed = None if self.recorder is None else self.recorder.result(self.epoch)
        return History(errors, seconds, compute_final=compute, val_errors=val, best_epoch=best_epoch,
                       stopped_early=self.stopped, diagnostics=diagnosed)  # fmt: skip
