"""History: what a training run measured."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


class History:
    """A training run's per-epoch errors, its final error and its wall time.

    ``final_error`` (the mean error over the training data of the network that
    train() left) costs a forward pass over the data, so it is computed when it is
    first read, from a copy of the parameters taken when training ended and the
    training data (read it before changing that data in place).
    """

    __slots__ = ("errors", "seconds", "_final_error", "_compute_final")

    def __init__(
        self,
        errors: np.ndarray,
        seconds: float,
        final_error: float | None = None,
        compute_final: Callable[[], float] | None = None,
    ):
        self.errors = errors  # (epochs,) each epoch's mean E over its samples, before each update
        self.seconds = seconds  # wall time of the training loop (not counting a first-use compile)
        self._final_error = final_error
        self._compute_final = compute_final

    @property
    def final_error(self) -> float:
        """net.error(X, Y) of the network as training left it."""
        if self._final_error is None:
            self._final_error = float(self._compute_final())
            self._compute_final = None
        return self._final_error

    def __repr__(self) -> str:
        final = "not computed yet" if self._final_error is None else f"{self._final_error:.6g}"
        return f"History(epochs={len(self.errors)}, final_error={final}, seconds={self.seconds:.3g})"
