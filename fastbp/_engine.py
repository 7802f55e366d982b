"""One network's engine: the compiled kernel chosen for it (or the oracle) and its optimiser state."""

from __future__ import annotations

import functools
import math

import numpy as np

from . import _dispatch, _kernels, catalogue, diagnostics, oracle
from ._options import Options


def run_record(opts: Options, count: int, dtype: np.dtype, lr: float | None = None, step: int = 0) -> _kernels.Run:
    """The kernels' options record for count epochs from optimiser update `step`; the real numbers in the
    parameters' dtype (float32 networks compute in float32)."""
    real = np.dtype(dtype).type
    return _kernels.Run(count, real(opts.lr if lr is None else lr), *_run_options(opts, real), int(step),
                        opts.fast_math, opts.nesterov)  # fmt: skip


@functools.lru_cache(maxsize=256)
def _run_options(opts: Options, real: type) -> tuple:
    """The fields of run_record between lr and step: the same for every call of a run (and for every run with
    these options), converted once."""
    target = math.nan if opts.target_error is None else opts.target_error
    return (
        real(opts.momentum), opts.batch_size, _dispatch.block_size(opts), opts.train_biases, opts.layerwise,
        *loss_rule(opts.loss, opts, real), catalogue.code(catalogue.OPTIMIZERS, opts.optimizer),
        real(opts.betas[0]), real(opts.betas[1]), real(opts.eps), real(opts.etas[0]), real(opts.etas[1]),
        real(opts.step_sizes[0]), real(opts.step_sizes[1]), real(opts.weight_decay), float(target),
    )  # fmt: skip


def loss_rule(loss: str, options, dtype) -> _kernels.LossRule:
    """The kernels' record of a loss: its code and its option's value from options (a mapping or an
    Options; 0 for a loss without one), in dtype."""
    return _kernels.LossRule(catalogue.code(catalogue.LOSSES, loss),
                             np.dtype(dtype).type(catalogue.loss(loss).option_value(options)))  # fmt: skip


def error_function(net, opts: Options):
    """f(network, X, Y) -> the mean error under the run's loss, computed as the run's engine computes: the compiled
    evaluation, or, with engine='python', the oracle (so that the oracle's runs compile nothing)."""
    return _error_function(opts, net.dtype)


@functools.lru_cache(maxsize=256)
def _error_function(opts: Options, dtype: np.dtype):
    if opts.engine == "python":
        return functools.partial(_oracle_mean_error, loss=catalogue.loss(opts.loss).bound(opts))
    rule = loss_rule(opts.loss, opts, dtype)
    return lambda network, X, Y: network._mean_error(X, Y, rule)


def oracle_passes(net, X: np.ndarray):
    """The oracle's forward pass of each row of X through the network: (net inputs, outputs) per row."""
    W = [W_l.tolist() for W_l in net._layout.weights(net._params)]
    b = [b_l.tolist() for b_l in net._layout.biases(net._params)]
    activations = [catalogue.activation(a) for a in net.activations]
    return [oracle.forward(W, b, x, activations) for x in np.atleast_2d(X).tolist()]


def _oracle_mean_error(net, X: np.ndarray, Y: np.ndarray, loss) -> float:
    """The mean over samples of the oracle's error under the loss (a record with its option bound)."""
    output = catalogue.activation(net.activations[-1])
    passes = oracle_passes(net, X)
    return oracle.mean([oracle.sample_error(y, outs[-1], nets[-1], output, loss)
                        for y, (nets, outs) in zip(Y.tolist(), passes)])  # fmt: skip


def initial_state(n_params: int, dtype, opts: Options, lr: float | None = None) -> _kernels.State:
    """The optimiser's state at rest: zeros, and RPROP's step sizes at the learning rate."""
    first = np.zeros(n_params, dtype)
    if catalogue.optimizer(opts.optimizer).first_state_is_lr:
        first[:] = opts.lr if lr is None else lr
    return _kernels.State(first, np.zeros(n_params, dtype))


def updates_per_epoch(opts: Options, n_samples: int) -> int:
    """Optimiser updates in one epoch: one per batch."""
    return -(-n_samples // opts.batch_size)


class Engine:
    """Trains one network, epochs at a time, in the kernel _dispatch picks for it or in the oracle.

    It holds the optimiser's state and counts its updates (Adam's bias correction needs
    the count), so that training can stop and go on exactly.
    """

    def __init__(self, net, X: np.ndarray, Y: np.ndarray, opts: Options, lr: float | None = None,
                 weights: np.ndarray | None = None):  # fmt: skip
        """weights: one per sample, in the network's dtype (the estimators' sample_weight; the kernels'
        minibatch paths take them, batches of one included; None: every weight 1)."""
        self.net, self.X, self.Y, self.opts = net, X, Y, opts
        weighted = weights is not None
        if weighted and opts.engine != "numba":
            raise ValueError("sample weights are taken by the compiled kernels only (engine='numba')")
        self.weights = weights if weighted else np.empty(0, net.dtype)
        self.lr = opts.lr if lr is None else lr
        self.state = initial_state(net._layout.n_params, net.dtype, opts, self.lr)
        self.step = 0
        self.kernel, self.markers = None, ()
        if opts.engine == "numba":
            self.kernel = _dispatch.training_kernel(net, opts, X.shape[0], weighted)
            self.markers = _dispatch.kernel_arguments(self.kernel, net, opts, weighted)

    def ready(self) -> None:
        """Compile the kernel, or load it from the cache, before the clock starts."""
        diagnosing = self.opts.diagnose and bool(self.markers)  # (a kernel that records them: the loops or BLAS)
        key = self.markers[:-1] if diagnosing else self.markers  # (ready's key: the None and True markers)
        if self.kernel is not None and not _dispatch.is_ready(self.kernel, self.net.dtype, key):
            rows = np.empty((0, len(diagnostics.STATISTICS), len(self.net.sizes) - 1))
            diag = diagnostics.kernel_record(self.net, rows) if diagnosing else None
            _dispatch.ready(self.kernel, self._arguments(np.zeros((1, 1), np.int64), 0, np.empty(0), diag))

    def epochs(self, orders: np.ndarray, count: int, errors: np.ndarray, statistics: np.ndarray | None = None) -> int:
        """Train count epochs (sample orders as in _loop.sample_orders) into errors; returns the epochs run.

        Training stops after the first epoch whose mean error is not finite (returning
        its index) or is at most opts.target_error (returning the epochs run, it included).
        With diagnose, ``statistics`` (diagnostics.Recorder.rows for these epochs) receives their diagnostics.
        """
        if self.kernel is not None:
            diag = None if statistics is None else diagnostics.kernel_record(self.net, statistics)
            done = _dispatch.call(self.kernel, *self._arguments(orders, count, errors, diag))
        else:
            done = self._oracle(orders, count, errors, statistics)
        self.step += (done if done == count or self.reached_target(errors, done) else done + 1) * self._per_epoch()
        return done

    def reached_target(self, errors: np.ndarray, done: int) -> bool:
        """Whether a call that ran `done` epochs into errors stopped because it reached the target error."""
        target = self.opts.target_error
        return target is not None and done > 0 and errors[done - 1] <= target

    def _per_epoch(self) -> int:
        return updates_per_epoch(self.opts, self.X.shape[0])

    def _arguments(self, orders, count, errors, diag=None) -> tuple:
        data = _kernels.Data(self.X, self.Y, orders, self.weights)
        run = run_record(self.opts, count, self.net.dtype, self.lr, self.step)
        markers = self.markers if diag is None else (*self.markers[:-1], diag)  # (the loops' and BLAS's last)
        return self.net.record(), self.state, data, run, errors, *markers

    def _oracle(self, orders, count, errors, statistics=None) -> int:
        net, L, opts = self.net, self.net._layout, self.opts
        W = [W_l.tolist() for W_l in L.weights(net._params)]
        b = [b_l.tolist() for b_l in L.biases(net._params)]
        first, second = self.state
        # Each parameter's optimiser state as a [first, second] pair, laid out like W and b.
        sW = [[[list(pair) for pair in zip(f_row, s_row)] for f_row, s_row in zip(f_l.tolist(), s_l.tolist())]
              for f_l, s_l in zip(L.weights(first), L.weights(second))]  # fmt: skip
        sb = [
            [list(pair) for pair in zip(f_l.tolist(), s_l.tolist())]
            for f_l, s_l in zip(L.biases(first), L.biases(second))
        ]
        rule = oracle.Rule(
            optimizer=catalogue.optimizer(opts.optimizer), eta=self.lr, momentum=opts.momentum, betas=opts.betas,
            eps=opts.eps, etas=opts.etas, step_sizes=opts.step_sizes, weight_decay=opts.weight_decay, step=self.step,
            nesterov=opts.nesterov,
        )  # fmt: skip
        epoch_orders = [orders[min(e, len(orders) - 1)].tolist() for e in range(count)]
        epochs: list = []  # (each epoch's diagnostics, when recorded)
        E = oracle.train(W, b, net._tied.tolist(), self.X.tolist(), self.Y.tolist(), epoch_orders, opts.batch_size,
                         rule, sW, sb, opts.train_biases, opts.layerwise,
                         [catalogue.activation(a) for a in net.activations], catalogue.loss(opts.loss).bound(opts),
                         opts.target_error, None if statistics is None else epochs)  # fmt: skip
        if statistics is not None:
            diagnostics.fill_from_oracle(statistics, epochs)
        net._params[:] = L.pack(W, b, net.dtype)
        for k, values in enumerate(self.state):
            values[:] = L.pack([[[pair[k] for pair in row] for row in s_l] for s_l in sW],
                               [[pair[k] for pair in s_l] for s_l in sb], net.dtype)  # fmt: skip
        errors[: len(E)] = E
        if self.reached_target(E, len(E)):
            return len(E)
        return sum(1 for value in E if math.isfinite(value))  # the oracle stops after the first non-finite epoch
