"""Issue 13's ratios: each path beyond the article against the article's model on the same shape, in one process.

    python scripts/model_ratios.py [--repeats 7]

Digits 64-32-10 online (10 epochs): tanh, ReLU, tanh + softmax + cross-entropy, Adam, each
over all-logistic gradient descent; in minibatches of 32 (20 epochs), tanh + softmax +
cross-entropy + Adam over logistic gradient descent; 1,000 XOR 2-4-1 networks through
train_many (2,000 epochs), tanh hidden units over logistic ones. The cases take turns, one
run each per round (one thread), and the medians are compared. The cases are asv's
DigitsModels and XorEnsemble.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "asv_benchmarks"))

import numpy as np  # noqa: E402
from benchmarks.workloads import digits_online, xor_ensemble  # noqa: E402

import fastbp  # noqa: E402

ONLINE = dict(epochs=10, lr=0.1)
MINIBATCH = dict(epochs=20, batch_size=32)
CASES = {  # name -> (activations, options)
    "online logistic": (None, ONLINE),
    "online tanh": (("tanh", "logistic"), ONLINE),
    "online relu": (("relu", "logistic"), ONLINE),
    "online tanh-softmax-ce": (("tanh", "softmax"), ONLINE | dict(loss="cross_entropy")),
    "online adam": (None, ONLINE | dict(lr=1e-3, optimizer="adam")),
    "minibatch logistic": (None, MINIBATCH | dict(lr=0.5)),
    "minibatch tanh-softmax-ce-adam": (("tanh", "softmax"),
                                       MINIBATCH | dict(lr=1e-3, loss="cross_entropy", optimizer="adam")),
}  # fmt: skip
RATIOS = [  # (case, over, target)
    ("online tanh", "online logistic", 1.15),
    ("online relu", "online logistic", 1.10),
    ("online tanh-softmax-ce", "online logistic", 1.25),
    ("online adam", "online logistic", 1.6),
    ("minibatch tanh-softmax-ce-adam", "minibatch logistic", 1.3),
    ("xor tanh", "xor logistic", 1.20),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    w = digits_online()
    X, Y = w["X"], w["Y"]
    runs = {}
    for name, (activations, options) in CASES.items():
        net = fastbp.Network.random((64, 32, 10), seed=0, activations=activations)
        fastbp.train(net.copy(), X[:64], Y[:64], **(options | {"epochs": 1}))  # compile
        runs[name] = lambda net=net, options=options: fastbp.train(net.copy(), X, Y, **options)
    xor = xor_ensemble()
    for hidden in ("logistic", "tanh"):
        nets = [fastbp.Network.from_arrays(W, b, activations=(hidden, "logistic")) for W, b in xor["nets"]]
        fastbp.train_many(nets[:8], xor["X"], xor["Y"], epochs=1, lr=0.5)  # compile
        runs[f"xor {hidden}"] = lambda nets=nets: fastbp.train_many(
            [n.copy() for n in nets], xor["X"], xor["Y"], epochs=2000, lr=0.5
        )
    times = {name: [] for name in runs}
    for _ in range(args.repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    median = {name: statistics.median(values) for name, values in times.items()}
    for name, seconds in median.items():
        print(f"{name:34s} {seconds * 1e3:8.2f} ms")
    print()
    for case, over, target in RATIOS:
        ratio = median[case] / median[over]
        print(f"{case} / {over}: {ratio:.2f} (target <= {target}){'' if ratio <= target else '  MISSED'}")
    print(f"(numpy {np.__version__}, fastbp {fastbp.__version__})")


if __name__ == "__main__":
    main()
