"""fastbp: fully-connected logistic networks trained by backpropagation, fast.

The algorithm is the one of "A Step by Step Backpropagation Example": logistic
units on every layer, E = sum 1/2 (target - out)^2, deltas propagated back
through the pre-update weights, gradient descent. ``engine="python"`` runs a
pure-Python oracle that reads like the article; the default runs the same
algorithm as compiled Numba kernels.
"""

from .article import article_data, article_network
from .history import History
from .many import train_many
from .network import Network, load
from .sweep import SweepResult, sweep
from .trace import Trace, trace
from .training import train

__version__ = "0.1.0"

__all__ = [
    "History",
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
