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


def plot_errors(path, errors, validation=None, title: str = "Training error", ylabel: str = "mean E") -> None:
    """Draw the per-epoch error (and a validation curve) on a log scale into an image file."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
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
    fig.tight_layout()
    fig.savefig(os.fspath(path))
    plt.close(fig)
