"""What Numba alone takes to compile the digits fit: the floor under fastbp's first-use targets.

    python scripts/compile_floor.py            # three fresh processes, each with an empty cache
    python scripts/compile_floor.py --runs 1

Two hand-written kernels, as small as the digits MLPClassifier script allows: one training
kernel (ReLU hidden layer, softmax output with the cross-entropy, Adam, minibatches through
np.dot) and one prediction kernel, none of fastbp's options, checks or records. Each process
times Numba's set-up on its first compile (a trivial function), then each kernel's cold
compile. docs/benchmarks.md ("First use") compares them with fastbp's kernels.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np


def _kernels():
    from numba import njit

    @njit(cache=True, nogil=True, error_model="numpy")
    def trivial(a):
        total = 0.0
        for x in a:
            total += x
        return total

    @njit(cache=True, nogil=True, error_model="numpy")
    def fit(W1, b1, W2, b2, X, Y, epochs, batch, lr, m, v):
        t = 0
        for _ in range(epochs):
            for s in range(0, X.shape[0], batch):
                xb, yb = X[s : s + batch], Y[s : s + batch]
                H = np.dot(xb, W1)
                for i in range(H.shape[0]):
                    for j in range(H.shape[1]):
                        H[i, j] = max(H[i, j] + b1[j], 0.0)
                Z = np.dot(H, W2)
                for i in range(Z.shape[0]):
                    top = -np.inf
                    for j in range(Z.shape[1]):
                        Z[i, j] += b2[j]
                        top = max(top, Z[i, j])
                    total = 0.0
                    for j in range(Z.shape[1]):
                        Z[i, j] = np.exp(Z[i, j] - top)
                        total += Z[i, j]
                    for j in range(Z.shape[1]):
                        Z[i, j] = Z[i, j] / total - yb[i, j]
                gW2 = np.dot(H.T, Z)
                D = np.dot(Z, W2.T)
                for i in range(D.shape[0]):
                    for j in range(D.shape[1]):
                        if H[i, j] <= 0.0:
                            D[i, j] = 0.0
                gW1 = np.dot(xb.T, D)
                t += 1
                c1, c2 = 1 - 0.9**t, 1 - 0.999**t
                k = 0
                for G, P in ((gW1.ravel(), W1.ravel()), (gW2.ravel(), W2.ravel())):
                    for q in range(G.size):
                        m[k] = 0.9 * m[k] + 0.1 * G[q]
                        v[k] = 0.999 * v[k] + 0.001 * G[q] * G[q]
                        P[q] -= lr * (m[k] / c1) / (np.sqrt(v[k] / c2) + 1e-8)
                        k += 1
        return t

    @njit(cache=True, nogil=True, error_model="numpy")
    def predict(W1, b1, W2, b2, X):
        H = np.dot(X, W1)
        for i in range(H.shape[0]):
            for j in range(H.shape[1]):
                H[i, j] = max(H[i, j] + b1[j], 0.0)
        Z = np.dot(H, W2)
        labels = np.empty(Z.shape[0], np.int64)
        for i in range(Z.shape[0]):
            labels[i] = np.argmax(Z[i] + b2)
        return labels

    return trivial, fit, predict


def measure() -> str:
    """One process's figures: Numba's first-compile set-up, the training kernel, the prediction kernel."""
    trivial, fit, predict = _kernels()
    rng = np.random.default_rng(0)
    X, Y = rng.uniform(size=(1797, 64)), np.eye(10)[rng.integers(10, size=1797)]
    W1, W2 = rng.normal(size=(64, 64)) * 0.1, rng.normal(size=(64, 10)) * 0.1
    m = np.zeros(W1.size + W2.size)
    times = [time.perf_counter()]
    trivial(np.zeros(3))
    times.append(time.perf_counter())
    fit(W1, np.zeros(64), W2, np.zeros(10), X, Y, 50, 200, 1e-3, m, m.copy())
    times.append(time.perf_counter())
    predict(W1, np.zeros(64), W2, np.zeros(10), X)
    times.append(time.perf_counter())
    return " ".join(f"{b - a:.2f}" for a, b in zip(times, times[1:]))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="compile_floor.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="fresh processes, each with an empty cache (default 3)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(measure())
        return
    print("| run | Numba's set-up (s) | training kernel (s) | prediction kernel (s) |\n|---|---|---|---|")
    for run in range(1, args.runs + 1):
        with tempfile.TemporaryDirectory() as cache:
            env = dict(os.environ, NUMBA_CACHE_DIR=cache)
            done = subprocess.run([sys.executable, __file__, "--child"], capture_output=True, text=True, env=env,
                                  check=True)  # fmt: skip
        print(f"| {run} | " + " | ".join(done.stdout.split()) + " |", flush=True)


if __name__ == "__main__":
    main()
