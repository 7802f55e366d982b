"""History: what a training run measured."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import diagnostics


class History:
    """A training run's per-epoch errors, its final error and its wall time.

    ``final_error`` (the mean error over the training data of the network that
    train() left) costs a forward pass over the data, so it is computed when it is
    first read, from a copy of the parameters taken when training ended and the
    training data (read it before changing that data in place).
    """

    __slots__ = ("errors", "seconds", "val_errors", "best_epoch", "stopped_early", "diagnostics", "_final_error",
                 "_compute_final")  # fmt: skip

    def __init__(
        self,
        errors: np.ndarray,
        seconds: float,
        final_error: float | None = None,
        compute_final: Callable[[], float] | None = None,
        val_errors: np.ndarray | None = None,
        best_epoch: int | None = None,
        stopped_early: bool = False,
        diagnostics=None,
    ):
        self.errors = errors  # (epochs run,) each epoch's mean training loss, taken before each update
        self.seconds = seconds  # wall time of the training loop (not counting a first-use compile)
        self.val_errors = val_errors  # (epochs run,) the validation loss after each epoch, or None
        self.best_epoch = best_epoch  # epochs completed when the best validation loss was measured, or None
        self.stopped_early = stopped_early  # patience or target_error ended the run before `epochs`
        self.diagnostics = diagnostics  # fastbp.diagnostics.Diagnostics with diagnose=True, else None
        self._final_error = final_error
        self._compute_final = compute_final

    @property
    def final_error(self) -> float:
        """net.error(X, Y) of the network as training left it."""
        if self._final_error is None:
            self._final_error = float(self._compute_final())
            self._compute_final = None
        return self._final_error

    def diagnosis(self) -> str:
        """Why the run stalled, in plain words (or that no sign of trouble was found); needs diagnose=True."""
        if self.diagnostics is None:
            raise ValueError("this run was not diagnosed: train with diagnose=True to get a diagnosis")
        return diagnostics.diagnosis(self.diagnostics, self.errors)

    def __repr__(self) -> str:
        final = "not computed yet" if self._final_error is None else f"{self._final_error:.6g}"
        early = ", stopped early" if self.stopped_early else ""
        best = "" if self.best_epoch is None else f", best_epoch={self.best_epoch}"
        return f"History(epochs={len(self.errors)}, final_error={final}{best}{early}, seconds={self.seconds:.3g})"
