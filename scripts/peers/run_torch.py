"""PyTorch in float64: the article's model with no autograd (the same explicit backward pass as the others);
other models as a PyTorch user writes them, with autograd and torch.optim."""

from __future__ import annotations

import os

import numpy as np

from .common import cross_entropy_error, mean_error


def runner(w: dict):
    import torch

    torch.set_num_threads(int(os.environ["PEERS_THREADS"]))
    if "model" in w:
        return _model_runner(w, torch)
    X, Y = torch.tensor(w["X"]), torch.tensor(w["Y"])
    lr, tb, k = w["lr"], w["train_biases"], w["batch"]

    def train():
        out = []
        with torch.no_grad():
            for W, B in w["nets"]:
                W1, W2 = torch.tensor(W[0]), torch.tensor(W[1])
                b1, b2 = torch.tensor(np.asarray(B[0], float)), torch.tensor(np.asarray(B[1], float))
                for _ in range(w["epochs"]):
                    for s in range(0, len(X), k):
                        x, y = X[s : s + k], Y[s : s + k]
                        h = torch.sigmoid(x @ W1.T + b1)
                        o = torch.sigmoid(h @ W2.T + b2)
                        d2 = (o - y) * o * (1 - o)
                        d1 = (d2 @ W2) * h * (1 - h)
                        W2 -= (lr / len(x)) * (d2.T @ h)
                        W1 -= (lr / len(x)) * (d1.T @ x)
                        if tb:
                            b2 -= (lr / len(x)) * d2.sum(0)
                            b1 -= (lr / len(x)) * d1.sum(0)
                out.append(mean_error(W1.numpy(), b1.numpy(), W2.numpy(), b2.numpy(), w["X"], w["Y"]))
        return out

    if len(w["nets"]) > 1:
        raise NotImplementedError("an ensemble in PyTorch would be a Python loop over 1,000 networks")
    return train


def _model_runner(w: dict, torch):
    """tanh hidden units, softmax output, cross-entropy, Adam (the digits-adam-softmax workload)."""
    model = w["model"]
    if model != dict(activations=("tanh", "softmax"), loss="cross_entropy", optimizer="adam"):
        raise NotImplementedError(f"no PyTorch runner for {model}")
    F = torch.nn.functional
    X, Y, k = torch.tensor(w["X"]), torch.tensor(w["Y"]), w["batch"]

    def train():
        (W, B), = w["nets"]  # fmt: skip
        params = [torch.tensor(a, requires_grad=True) for a in (W[0], B[0], W[1], B[1])]
        W1, b1, W2, b2 = params
        opt = torch.optim.Adam(params, lr=w["lr"])
        for _ in range(w["epochs"]):
            for s in range(0, len(X), k):
                opt.zero_grad()
                z = torch.tanh(X[s : s + k] @ W1.T + b1) @ W2.T + b2
                F.cross_entropy(z, Y[s : s + k]).backward()
                opt.step()
        return [cross_entropy_error(*(p.detach().numpy() for p in params), w["X"], w["Y"])]

    return train
