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
