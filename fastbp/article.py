"""The article's worked example: its 2-2-2 network and its one training sample."""

from __future__ import annotations

import numpy as np

from .network import Network

# Weights w1..w8 and the two shared biases of "A Step by Step Backpropagation Example".
W_HIDDEN = [[0.15, 0.20], [0.25, 0.30]]  # [[w1, w2], [w3, w4]]: row = receiving unit h1, h2
W_OUTPUT = [[0.40, 0.45], [0.50, 0.55]]  # [[w5, w6], [w7, w8]]: row = receiving unit o1, o2
B1, B2 = 0.35, 0.60  # one bias per layer, shared by its units ("tied"), never updated
INPUTS = [0.05, 0.10]  # i1, i2
TARGETS = [0.01, 0.99]  # target_o1, target_o2
LEARNING_RATE = 0.5  # eta


def article_network() -> Network:
    """The worked example's 2-2-2 network: w1..w8, tied biases b1 = 0.35, b2 = 0.60."""
    return Network.from_arrays(weights=[W_HIDDEN, W_OUTPUT], biases=[B1, B2])


def article_data() -> tuple[np.ndarray, np.ndarray]:
    """The worked example's one training sample: X = [[0.05, 0.10]], Y = [[0.01, 0.99]]."""
    return np.array([INPUTS]), np.array([TARGETS])
