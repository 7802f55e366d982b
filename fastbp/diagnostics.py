"""Why a run stalls: each weight layer's statistics per epoch, recorded inside the kernels, and a verdict.

train(..., diagnose=True) records, per epoch and weight layer (layer 0 the first above the input):
  gradient_norm  sqrt of the mean over the epoch's updates of ||G_l||^2, G_l the gradient of the batch's
                 mean loss alone with respect to W_l (no weight decay)
  update_ratio   ||W_l(end of epoch) - W_l(start)|| / ||W_l(start)|| (NaN where ||W_l(start)|| is 0)
  saturated      the fraction of the layer's outputs, over the epoch's forward passes, on a flat spot of
                 its activation: slope below 1% of its largest (catalogue.Activation.saturated_below)
  dead           the fraction of the layer's units whose net input was <= 0 for every sample of the epoch
                 (activations that die: catalogue.Activation.dies)
The kernels write them (through a _kernels.Diag that this module builds) into a Recorder's rows; this
module turns them into a verdict in plain words. The oracle computes the same (oracle.Notes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import _kernels, _loop, catalogue

# The verdict's thresholds (each a statement about the last epoch unless said otherwise).
SATURATED = 0.5  # at least this fraction of a layer's outputs on flat spots: a hidden layer's in a run not solved,
# the output layer's in a slow one (a trained network's outputs sit on flat spots when they are right)
SLOW = 0.1  # slow: the error fell by less than this fraction over the second half of the run
DEAD = 0.5  # at least this fraction of a layer's units dead
VANISHING = 1e-3  # a layer's gradient norm below this fraction of the largest layer's
EXPLODING = 100.0  # a layer's gradient norm grown this many times over its first epoch's (or not finite)
STALLED = 0.01  # no progress: the error fell by less than this fraction over the second half of the run ...
STALLED_MIN_EPOCHS = 10  # ... of at least this many epochs ...
SOLVED = 1e-3  # ... while it stays above this fraction of the first epoch's error

STATISTICS = ("gradient_norm", "update_ratio", "saturated", "dead")


@dataclass
class Diagnostics:
    """history.diagnostics: each statistic an array of shape (epochs run, weight layers)."""

    gradient_norm: np.ndarray
    update_ratio: np.ndarray
    saturated: np.ndarray
    dead: np.ndarray
    activations: tuple[str, ...]  # each weight layer's activation (what the verdict names)
    loss: str

    def __repr__(self) -> str:
        epochs, layers = self.gradient_norm.shape
        return f"Diagnostics(epochs={epochs}, layers={layers}: {', '.join(STATISTICS)})"


class Recorder:
    """The statistics of a run as it goes, rows of epochs (epoch, statistic, layer[, network]) grown like the
    errors; the kernels write their rows in place (rows() of consecutive epochs is contiguous)."""

    def __init__(self, activations: tuple[str, ...], loss: str, epochs: int, n_nets: int | None = None):
        self.activations, self.loss, self.epochs = activations, loss, epochs
        networks = () if n_nets is None else (n_nets,)
        # As many rows as the errors' record, growing with it; not filled with NaN: rows are exposed only
        # once an epoch has written them.
        rows = _loop.record_rows(epochs, n_nets or 1)
        self.values = np.empty((rows, len(STATISTICS), len(activations), *networks))

    def rows(self, first: int, count: int) -> np.ndarray:
        """The rows of epochs first .. first + count - 1 (a view), made room for."""
        self.values = _loop.grown(self.values, first + count, self.epochs)
        return self.values[first : first + count]

    def result(self, epochs: int) -> Diagnostics:
        """The statistics of the first `epochs` epochs (copies)."""
        return Diagnostics(*(self.values[:epochs, k].copy() for k in range(len(STATISTICS))), self.activations,
                           self.loss)  # fmt: skip

    def results(self, epochs: int) -> list[Diagnostics]:
        """Each network's statistics (views of one array, as train_many's errors), for a recorder of networks."""
        done = self.values[:epochs]
        return [Diagnostics(*(done[:, k, :, n] for k in range(len(STATISTICS))), self.activations, self.loss)
                for n in range(done.shape[3])]  # fmt: skip


def kernel_record(net, rows: np.ndarray) -> _kernels.Diag:
    """The record a training kernel fills: the statistics into rows (Recorder.rows), with scratch for net."""
    records = [catalogue.activation(name) for name in net.activations]
    networks = rows.shape[3:]  # (the lanes': one more axis)
    layers = (len(records), *networks)
    return _kernels.Diag(
        rows,
        np.array([math.nan if r.saturated_below is None else r.saturated_below for r in records]),
        np.array([r.dies for r in records], np.uint8),
        np.zeros(layers),
        np.zeros(layers),
        np.empty((net._layout.n_params, *networks), net.dtype),
        np.zeros((int(net._layout.u_off[-1]) + net.sizes[-1], *networks), np.uint8),
    )  # fmt: skip


def fill_from_oracle(rows: np.ndarray, epochs: list) -> None:
    """The oracle's statistics (oracle.Notes.statistics, one tuple per epoch) into rows."""
    for e, statistics in enumerate(epochs):
        for k, values in enumerate(statistics):
            rows[e, k] = values


# --- The verdict ---------------------------------------------------------------------------------


TROUBLES = ("exploding", "saturated", "dead", "vanishing", "no progress")  # the verdict's words, in its order
NO_TROUBLE = "no sign of trouble"


def diagnosis(d: Diagnostics, errors: np.ndarray) -> str:
    """A verdict in plain words: each trouble found, the layers, epochs and fractions behind it, what to try."""
    if len(errors) == 0:
        return "No epoch was run: nothing to diagnose."
    found = _findings(d, errors)
    if not found:
        epochs = len(errors)
        return (f"{NO_TROUBLE.capitalize()} in {epochs} epoch{'s' if epochs > 1 else ''}: the gradients kept a "
                "healthy size in every layer and the error went down.")  # fmt: skip
    return "\n".join(found.values())


def troubles(d: Diagnostics, errors: np.ndarray) -> str:
    """The verdict's words alone, for a table's column: "saturated; no progress", or "no sign of trouble"."""
    return "; ".join(_findings(d, errors)) or NO_TROUBLE


def _findings(d: Diagnostics, errors: np.ndarray) -> dict[str, str]:
    """Each trouble found (its word from TROUBLES) and its sentence."""
    if len(errors) == 0:
        return {}
    texts = (_exploding(d), _saturated(d, errors), _dead(d), _vanishing(d), _stalled(errors))
    return {word: text for word, text in zip(TROUBLES, texts) if text}


def _layer(l: int, d: Diagnostics) -> str:
    return f"layer {l + 1} ({d.activations[l]})"


def _percent(x: float) -> str:
    return f"{100 * x:.0f}%"


def _first_epoch_from(flags: np.ndarray) -> int:
    """The first epoch (counted from 1) from which flags hold to the end."""
    k = len(flags)
    while k > 0 and flags[k - 1]:
        k -= 1
    return k + 1


def _saturated(d: Diagnostics, errors: np.ndarray) -> str:
    """Hidden layers on flat spots in a run not solved; the output's, under a loss whose deltas hold its slope,
    in a slow run (right outputs sit on flat spots too: only a run that stalls shows the wrong ones)."""
    last = d.saturated[-1]
    output = len(d.activations) - 1
    harmless = catalogue.loss(d.loss).slope_free  # (the output's slope cancels out of its deltas)
    hidden = [l for l in range(output) if last[l] >= SATURATED and not _solved(errors)]
    layers = hidden + ([output] if last[output] >= SATURATED and not harmless and _slow(errors) else [])
    if not layers:
        return ""
    parts = [f"{_layer(l, d)} {_percent(last[l])} of its outputs (from epoch "
             f"{_first_epoch_from(d.saturated[:, l] >= SATURATED)} on)" for l in layers]  # fmt: skip
    advice = "scale the inputs to mean 0 and variance 1 (or to [0, 1]), start from smaller weights"
    if output in layers:
        advice += (
            ", or give the output softmax (or logistic) units with loss='cross_entropy', whose deltas "
            "have no flat spots"
        )
    return (
        f"saturated: {'; '.join(parts)} sit on the flat spots of their activation in the last epoch, where its "
        f"slope is below 1% of its largest: the error reaches them a hundredfold weaker, so they barely learn. "
        f"Try: {advice}."
    )


def _dead(d: Diagnostics) -> str:
    last = d.dead[-1]
    layers = [l for l in range(len(last)) if last[l] >= DEAD]
    if not layers:
        return ""
    parts = [f"{_layer(l, d)} {_percent(last[l])} of its units (from epoch "
             f"{_first_epoch_from(d.dead[:, l] >= DEAD)} on)" for l in layers]  # fmt: skip
    return (
        f"dead: {'; '.join(parts)} had a net input <= 0 for every sample of the last epoch: their slope is "
        "0, so they no longer learn. Try: a smaller learning rate, leaky_relu units, or another initialisation "
        "(another seed, smaller weights)."
    )


def _vanishing(d: Diagnostics) -> str:
    last = d.gradient_norm[-1]
    if len(last) < 2 or not np.isfinite(last).all():
        return ""
    top = last.max()
    dead = np.nan_to_num(d.dead[-1]) >= DEAD  # (a dead layer's small gradient is told as dead)
    layers = [l for l in range(len(last)) if last[l] < VANISHING * top and not dead[l]]
    if not layers or top == 0.0:
        return ""
    parts = [f"{_layer(l, d)} {last[l]:.2g}" for l in layers]
    return (
        f"vanishing gradient: in the last epoch the gradient norm of {', '.join(parts)} is below "
        f"{VANISHING:g} of the largest layer's ({top:.2g}), so those layers barely move. Try: fewer layers, "
        "relu or tanh units instead of logistic ones, or scaled inputs."
    )


def _exploding(d: Diagnostics) -> str:
    g = d.gradient_norm
    if not np.isfinite(g).all():
        e, l = np.argwhere(~np.isfinite(g))[0]
        return (
            f"exploding: the gradient of {_layer(l, d)} became {g[e, l]} in epoch {e + 1}. "
            "Try: a smaller learning rate, or scaled inputs."
        )
    parts = []
    for l in range(g.shape[1]):
        first = g[0, l]
        grown = np.flatnonzero(g[:, l] >= EXPLODING * first) if first > 0.0 else []
        if len(grown):
            e = grown[0]
            parts.append(f"the gradient norm of {_layer(l, d)} grew {g[e, l] / first:.3g}x from epoch 1 to "
                         f"epoch {e + 1}")  # fmt: skip
    if not parts:
        return ""
    return f"exploding: {'; '.join(parts)}. Try: a smaller learning rate, or scaled inputs."


def _solved(errors: np.ndarray) -> bool:
    """The error fell to SOLVED of the first epoch's or below."""
    return bool(errors[-1] <= SOLVED * errors[0])


def _slow(errors: np.ndarray, fraction: float = SLOW) -> bool:
    """The error fell by less than `fraction` over the second half of the run, and the run is not solved."""
    half, last = errors[len(errors) // 2], errors[-1]
    return not _solved(errors) and bool(last >= half * (1.0 - fraction))


def _stalled(errors: np.ndarray) -> str:
    epochs = len(errors)
    if epochs < STALLED_MIN_EPOCHS or not np.isfinite(errors).all() or not _slow(errors, STALLED):
        return ""
    half, last = errors[epochs // 2], errors[-1]
    change = "rose" if last > half else f"fell less than {_percent(STALLED)}"
    return (
        f"no progress: the error went from {half:.4g} in epoch {epochs // 2 + 1} to {last:.4g} in epoch "
        f"{epochs}: it {change} over the second half of the run. Try: a smaller (or larger) learning rate, "
        "another optimiser (adam), or more hidden units."
    )
