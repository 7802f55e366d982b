"""Where each layer's weights, biases and units sit in the flat buffers.

A network's parameters live in one contiguous float64 vector ``params``: layer
l's weight matrix (row-major, shape (sizes[l+1], sizes[l])) at ``w_off[l]``,
followed by its biases at ``b_off[l]``. Activations and deltas of all units
share one vector too, layer l's units starting at ``u_off[l]``. The same
arrays, concatenated with per-network offsets, describe many networks at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np


@dataclass(frozen=True)
class Layout:
    """Offsets of a network of layer widths ``sizes`` (input first) in the flat buffers."""

    sizes: np.ndarray  # int64 (n_layers,)
    w_off: np.ndarray  # int64 (n_layers - 1,)
    b_off: np.ndarray  # int64 (n_layers - 1,)
    u_off: np.ndarray  # int64 (n_layers,)
    n_params: int
    n_units: int
    widths: tuple[int, ...]  # sizes as Python ints
    max_weights: int  # weights in the largest layer (decides whether BLAS products pay)

    @classmethod
    def of(cls, sizes) -> Layout:
        """The layout of layer widths ``sizes``: one shared, read-only-by-convention object per architecture."""
        return _layout_of(tuple(map(int, sizes)))

    def pack(self, weights: list, biases: list, dtype=np.float64) -> np.ndarray:
        """Layer lists (biases one per unit) -> one contiguous parameter vector of dtype."""
        parts = [part for W, b in zip(weights, biases) for part in (np.asarray(W).ravel(), b)]
        return np.concatenate(parts, dtype=dtype)

    def weights(self, params: np.ndarray) -> list[np.ndarray]:
        """Views of each layer's weight matrix inside params."""
        return [
            params[self.w_off[l] : self.b_off[l]].reshape(self.sizes[l + 1], self.sizes[l])
            for l in range(len(self.sizes) - 1)
        ]

    def biases(self, params: np.ndarray) -> list[np.ndarray]:
        """Views of each layer's bias vector inside params."""
        return [params[self.b_off[l] : self.b_off[l] + self.sizes[l + 1]] for l in range(len(self.sizes) - 1)]


@lru_cache(maxsize=256)
def _layout_of(widths: tuple[int, ...]) -> Layout:
    # Networks of one architecture share their offset arrays (which nothing writes), so
    # that building thousands of networks costs no more NumPy work than building one.
    sizes = np.asarray(widths, dtype=np.int64)
    n_weights = sizes[1:] * sizes[:-1]
    n_layer = n_weights + sizes[1:]
    starts = np.concatenate(([0], np.cumsum(n_layer)[:-1])).astype(np.int64)
    u_off = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int64)
    return Layout(
        sizes=sizes,
        w_off=starts,
        b_off=starts + n_weights,
        u_off=u_off,
        n_params=int(n_layer.sum()),
        n_units=int(sizes.sum()),
        widths=widths,
        max_weights=int(n_weights.max()),
    )
