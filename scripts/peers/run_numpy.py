"""A careful NumPy implementation: vector operations per sample, matrix products per batch, networks stacked."""

from __future__ import annotations

import numpy as np

from .common import cross_entropy_error, mean_error, sigmoid


def runner(w: dict):
    if "model" in w:
        return _model_runner(w)
    X, Y, lr, tb = w["X"], w["Y"], w["lr"], w["train_biases"]

    def online(W1, b1, W2, b2):
        for _ in range(w["epochs"]):
            for x, y in zip(X, Y):
                h = sigmoid(W1 @ x + b1)
                o = sigmoid(W2 @ h + b2)
                d2 = (o - y) * o * (1 - o)
                d1 = (W2.T @ d2) * h * (1 - h)
                W2 -= lr * np.outer(d2, h)
                W1 -= lr * np.outer(d1, x)
                if tb:
                    b2 -= lr * d2
                    b1 -= lr * d1
        return mean_error(W1, b1, W2, b2, X, Y)

    def minibatch(W1, b1, W2, b2):
        k = w["batch"]
        for _ in range(w["epochs"]):
            for s in range(0, len(X), k):
                x, y = X[s : s + k], Y[s : s + k]
                h = sigmoid(x @ W1.T + b1)
                o = sigmoid(h @ W2.T + b2)
                d2 = (o - y) * o * (1 - o)
                d1 = (d2 @ W2) * h * (1 - h)
                W2 -= (lr / len(x)) * (d2.T @ h)
                W1 -= (lr / len(x)) * (d1.T @ x)
                b2 -= (lr / len(x)) * d2.sum(axis=0)
                b1 -= (lr / len(x)) * d1.sum(axis=0)
        return mean_error(W1, b1, W2, b2, X, Y)

    def ensemble(W1, b1, W2, b2):  # axis 0: networks, all trained at once
        for _ in range(w["epochs"]):
            for x, y in zip(X, Y):
                h = sigmoid(W1 @ x + b1)  # (N, H)
                o = sigmoid(np.einsum("noh,nh->no", W2, h) + b2)
                d2 = (o - y) * o * (1 - o)
                d1 = np.einsum("noh,no->nh", W2, d2) * h * (1 - h)
                W2 -= lr * d2[:, :, None] * h[:, None, :]
                W1 -= lr * d1[:, :, None] * x[None, None, :]
                b2 -= lr * d2
                b1 -= lr * d1
        return [mean_error(W1[n], b1[n], W2[n], b2[n], X, Y) for n in range(len(W1))]

    def train():
        if len(w["nets"]) > 1:
            nets = w["nets"]
            stacked = [np.array([W[0] for W, _ in nets]), np.array([B[0] for _, B in nets]),
                       np.array([W[1] for W, _ in nets]), np.array([B[1] for _, B in nets])]  # fmt: skip
            return ensemble(*stacked)
        (W, B), = w["nets"]  # fmt: skip
        params = [W[0].copy(), np.array(B[0], float), W[1].copy(), np.array(B[1], float)]
        return [(minibatch if w["batch"] > 1 else online)(*params)]

    return train


def _model_runner(w: dict):
    """tanh hidden units, softmax output, cross-entropy, Adam, each minibatch in matrix products."""
    if w["model"] != dict(activations=("tanh", "softmax"), loss="cross_entropy", optimizer="adam"):
        raise NotImplementedError(f"no NumPy runner for {w['model']}")
    X, Y, k, lr, (beta1, beta2), eps = w["X"], w["Y"], w["batch"], w["lr"], (0.9, 0.999), 1e-8

    def train():
        (W, B), = w["nets"]  # fmt: skip
        params = [np.array(a, dtype=float) for a in (W[0], B[0], W[1], B[1])]
        m = [np.zeros_like(p) for p in params]
        v = [np.zeros_like(p) for p in params]
        t = 0
        for _ in range(w["epochs"]):
            for s in range(0, len(X), k):
                W1, b1, W2, b2 = params
                x, y = X[s : s + k], Y[s : s + k]
                h = np.tanh(x @ W1.T + b1)
                z = h @ W2.T + b2
                e = np.exp(z - z.max(axis=1, keepdims=True))
                d2 = (e / e.sum(axis=1, keepdims=True) - y) / len(x)
                d1 = (d2 @ W2) * (1 - h * h)
                grads = [d1.T @ x, d1.sum(axis=0), d2.T @ h, d2.sum(axis=0)]
                t += 1
                size, root = lr / (1 - beta1**t), np.sqrt(1 - beta2**t)
                for p, m_, v_, g in zip(params, m, v, grads):
                    m_ += (1 - beta1) * (g - m_)
                    v_ *= beta2
                    v_ += (1 - beta2) * g * g
                    p -= size * (m_ / (np.sqrt(v_) / root + eps))
        return [cross_entropy_error(*params, X, Y)]

    return train
