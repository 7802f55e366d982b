"""Error curves as PNG files, with matplotlib (an optional extra: pip install 'fastbp[plot]')."""

from __future__ import annotations

import os

import numpy as np


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise ImportError("plots need matplotlib: pip install 'fastbp[plot]'") from None
    matplotlib.use("Agg")  # files only: no screen needed
    import matplotlib.pyplot as plt

    return plt


def plot_errors(path, errors, validation=None, title: str = "Training error", ylabel: str = "mean E",
                diagnostics=None) -> None:  # fmt: skip
    """Draw the per-epoch error (and a validation curve) on a log scale into an image file; with a run's
    diagnostics (fastbp.diagnostics.Diagnostics), each statistic per layer in a panel beside it."""
    plt = _pyplot()
    panels = 1 if diagnostics is None else 5
    fig, axes = plt.subplots(1, panels, figsize=(6.4 if panels == 1 else 16.0, 4.0), dpi=100, squeeze=False)
    ax = axes[0, 0]
    epochs = np.arange(1, len(errors) + 1)
    ax.plot(epochs, errors, label="training", color="tab:blue")
    if validation is not None:
        ax.plot(np.arange(1, len(validation) + 1), validation, label="validation", color="tab:orange")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    if diagnostics is not None:
        _plot_statistics(axes[0, 1:], diagnostics)
    fig.tight_layout()
    fig.savefig(os.fspath(path))
    plt.close(fig)


# Each statistic's panel: its title and whether its axis is logarithmic.
_PANELS = {"gradient_norm": ("gradient norm", True), "update_ratio": ("update / weight ratio", True),
           "saturated": ("saturated outputs (fraction)", False), "dead": ("dead units (fraction)", False)}  # fmt: skip


def _plot_statistics(axes, d) -> None:
    """One panel per statistic, one line per weight layer (layers whose activation has no such statistic
    are left out: their values are NaN)."""
    for ax, (name, (label, log)) in zip(axes, _PANELS.items()):
        values = getattr(d, name)
        epochs = np.arange(1, len(values) + 1)
        for l in range(values.shape[1]):
            if not np.isnan(values[:, l]).all():
                ax.plot(epochs, values[:, l], label=f"layer {l + 1} ({d.activations[l]})")
        if log and np.nanmax(values, initial=0.0) > 0.0:
            ax.set_yscale("log")
        if not log:
            ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("epoch")
        ax.set_title(label)
        ax.grid(True, which="both", alpha=0.3)
        if ax.lines:
            ax.legend(fontsize="small")
        else:
            ax.text(0.5, 0.5, "no layer's activation\nhas this statistic", ha="center", va="center",
                    transform=ax.transAxes, color="gray")  # fmt: skip


def plot_heat_map(path, table, row_labels, column_labels, title: str, xlabel: str, ylabel: str) -> None:
    """A table of errors as a heat map (log colour scale), each cell labelled with its value."""
    plt = _pyplot()
    table = np.asarray(table, dtype=float)
    logs = np.log10(table)
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
    image = ax.imshow(logs, cmap="viridis_r", aspect="auto")
    ax.set_xticks(range(len(column_labels)), column_labels)
    ax.set_yticks(range(len(row_labels)), row_labels)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    middle = (np.nanmin(logs) + np.nanmax(logs)) / 2
    for i, j in np.ndindex(table.shape):
        color = "black" if logs[i, j] < middle else "white"  # dark text on the light (low-error) cells
        ax.text(j, i, f"{table[i, j]:.3g}", ha="center", va="center", color=color, fontsize=8)
    fig.colorbar(image, label="log10 error")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(os.fspath(path))
    plt.close(fig)


def sweep_table(result, metric: str = "val_error"):
    """(table, hidden labels, lr labels): the best value of metric over seeds for each (hidden, lr)."""
    records = result.records
    hidden = list(dict.fromkeys(r["hidden"] for r in records))
    rates = list(dict.fromkeys(r["lr"] for r in records))
    table = np.full((len(hidden), len(rates)), np.inf)
    for r in records:
        i, j = hidden.index(r["hidden"]), rates.index(r["lr"])
        table[i, j] = min(table[i, j], r[metric])
    return table, hidden, [f"{lr:g}" for lr in rates]
