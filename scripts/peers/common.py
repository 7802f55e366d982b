"""What every peer shares: the article's logistic and error, computed the same way for all."""

import numpy as np


def mean_error(W1, b1, W2, b2, X, Y) -> float:
    """The article's E, averaged over samples, computed the same way for every peer."""
    out = sigmoid(sigmoid(X @ W1.T + b1) @ W2.T + b2)
    return float(np.mean(0.5 * ((Y - out) ** 2).sum(axis=1)))


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))
