"""fastbp: fully-connected networks trained by backpropagation, fast.

By default the algorithm is the one of "A Step by Step Backpropagation Example":
logistic units on every layer, E = sum 1/2 (target - out)^2, deltas propagated
back through the pre-update weights, gradient descent. Beyond it, with PyTorch's
formulas: tanh, ReLU, leaky ReLU, identity and softmax units, cross-entropy, Adam
and RPROP, weight decay, early stopping. ``engine="python"`` runs a pure-Python
oracle that reads like the article; the default runs compiled Numba kernels.
"""

from .article import article_data, article_network
from .history import History
from .many import train_many
from .network import Network, load
from .sweep import SweepResult, sweep
from .trace import Trace, trace
from .training import train

__version__ = "0.1.0"

_ESTIMATORS = ("MLPClassifier", "MLPRegressor")


def __getattr__(name: str):
    """MLPClassifier and MLPRegressor on first use, so that ``import fastbp`` never imports scikit-learn."""
    if name in _ESTIMATORS:
        from . import estimators

        return getattr(estimators, name)
    raise AttributeError(f"module 'fastbp' has no attribute {name!r}")


__all__ = [
    "History",
    "MLPClassifier",
    "MLPRegressor",
    "Network",
    "SweepResult",
    "Trace",
    "article_data",
    "article_network",
    "load",
    "trace",
    "sweep",
    "train",
    "train_many",
]
