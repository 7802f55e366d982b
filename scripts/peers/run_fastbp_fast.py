"""fastbp with fast_math=True: the logistic's e^x from a table (not bit for bit the default; within 1e-12)."""

from __future__ import annotations

from . import run_fastbp


def runner(w: dict):
    return run_fastbp.runner(w, fast_math=True)
