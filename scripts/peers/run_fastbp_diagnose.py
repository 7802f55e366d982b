"""fastbp with diagnose=True: the same training (bit for bit), each layer's statistics recorded per epoch."""

from __future__ import annotations

from . import run_fastbp


def runner(w: dict):
    return run_fastbp.runner(w, diagnose=True)
