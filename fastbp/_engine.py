"""One network's engine: the compiled kernel chosen for it (or the oracle) and its momentum velocities."""

from __future__ import annotations

import math

import numpy as np

from . import _dispatch, _kernels, oracle
from ._options import Options


def run_record(opts: Options, count: int, dtype: np.dtype, lr: float | None = None) -> _kernels.Run:
    """The kernels' options record for count epochs; lr and momentum in the parameters' dtype
    (float32 networks compute in float32)."""
    real = np.dtype(dtype).type
    return _kernels.Run(
        count, real(opts.lr if lr is None else lr), real(opts.momentum), opts.batch_size, _dispatch.block_size(opts),
        opts.train_biases, opts.layerwise,
    )  # fmt: skip


class Engine:
    """Trains one network, epochs at a time, in the kernel _dispatch picks for it or in the oracle."""

    def __init__(self, net, X: np.ndarray, Y: np.ndarray, opts: Options, lr: float | None = None):
        self.net, self.X, self.Y, self.opts = net, X, Y, opts
        self.lr = opts.lr if lr is None else lr
        self.velocity = np.zeros(net._layout.n_params, net.dtype)
        self.kernel = None
        if opts.engine == "numba":
            self.kernel = _dispatch.training_kernel(net._layout, net._tied, net.dtype, opts, X.shape[0])

    def ready(self) -> None:
        """Compile the kernel, or load it from the cache, before the clock starts."""
        if self.kernel is not None:
            _dispatch.ready(self.kernel, self._arguments(np.zeros((1, 1), np.int64), 0, np.empty(0)))

    def epochs(self, orders: np.ndarray, count: int, errors: np.ndarray) -> int:
        """Train count epochs (sample orders as in _loop.sample_orders) into errors; returns the epochs completed:
        training stops after the first epoch whose mean error is not finite."""
        if self.kernel is not None:
            return self.kernel(*self._arguments(orders, count, errors))
        return self._oracle(orders, count, errors)

    def _arguments(self, orders, count, errors) -> tuple:
        data = _kernels.Data(self.X, self.Y, orders)
        return self.net.record(), self.velocity, data, run_record(self.opts, count, self.net.dtype, self.lr), errors

    def _oracle(self, orders, count, errors) -> int:
        net, L = self.net, self.net._layout
        W = [W_l.tolist() for W_l in L.weights(net._params)]
        b = [b_l.tolist() for b_l in L.biases(net._params)]
        vW = [v.tolist() for v in L.weights(self.velocity)]
        vb = [v.tolist() for v in L.biases(self.velocity)]
        epoch_orders = [orders[min(e, len(orders) - 1)].tolist() for e in range(count)]
        opts = self.opts
        E = oracle.train(
            W, b, net._tied.tolist(), self.X.tolist(), self.Y.tolist(), epoch_orders,
            self.lr, opts.batch_size, opts.momentum, vW, vb, opts.train_biases, opts.layerwise,
        )  # fmt: skip
        net._params[:] = L.pack(W, b, net.dtype)
        self.velocity[:] = L.pack(vW, vb, net.dtype)
        errors[: len(E)] = E
        return sum(1 for value in E if math.isfinite(value))  # the oracle stops after the first non-finite epoch
