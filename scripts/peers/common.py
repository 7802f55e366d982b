"""What every peer shares: the article's logistic and error, computed the same way for all."""

import numpy as np

# The hidden activations a peer may swap into the article's model (logistic outputs, squared error,
# gradient descent): the function, and its slope from its output.
HIDDEN = {
    "logistic": (lambda z: 1.0 / (1.0 + np.exp(-z)), lambda h: h * (1 - h)),
    "tanh": (np.tanh, lambda h: 1 - h * h),
    "relu": (lambda z: np.maximum(z, 0.0), lambda h: (h > 0).astype(h.dtype)),
}


def mean_error(W1, b1, W2, b2, X, Y, hidden: str = "logistic") -> float:
    """The article's E, averaged over samples, computed the same way for every peer."""
    out = sigmoid(HIDDEN[hidden][0](X @ W1.T + b1) @ W2.T + b2)
    return float(np.mean(0.5 * ((Y - out) ** 2).sum(axis=1)))


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def cross_entropy_error(W1, b1, W2, b2, X, Y) -> float:
    """Mean cross-entropy of a tanh / softmax network, through the log-sum-exp."""
    z = np.tanh(X @ W1.T + b1) @ W2.T + b2
    top = z.max(axis=1, keepdims=True)
    log_softmax = z - top - np.log(np.exp(z - top).sum(axis=1, keepdims=True))
    return float(np.mean(-(Y * log_softmax).sum(axis=1)))


def hidden_activation(w: dict, peer: str) -> str:
    """The hidden units' activation of a workload of the article's model but for them; NotImplementedError otherwise."""
    model = w.get("model", {"activations": ("logistic", "logistic")})
    hidden, *above = model.get("activations", ("?",))
    if set(model) != {"activations"} or above != ["logistic"] or hidden not in HIDDEN:
        raise NotImplementedError(f"{peer} runs the article's model, with logistic, tanh or ReLU hidden units, only")
    return hidden


def only_the_article(w: dict, peer: str) -> None:
    """Refuse a workload of another model than the article's (logistic units, squared error, gradient descent)."""
    if "model" in w:
        raise NotImplementedError(f"{peer} runs the article's model only")
