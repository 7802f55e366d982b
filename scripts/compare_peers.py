"""Time the same training workloads in fastbp and in every peer that is installed.

    python scripts/compare_peers.py                      # every workload, every installed peer
    python scripts/compare_peers.py --workloads article-10k digits-online --repeats 7

Each (workload, implementation) runs in processes of its own, with BLAS, OpenMP,
PyTorch and Numba limited to --threads threads. A process times --repeats runs
after a warm-up (compilation excluded); the implementations take turns, one process
each per round, for --rounds rounds, so that a slow spell of a shared machine falls
on all of them alike; the median of all runs is reported, and each peer's
final mean error is compared with fastbp's so that a fast but different
computation shows. The result is a markdown table of times and of each peer's
time as a multiple of fastbp's, headed by the machine, the date and the command.

Peers: the pure-Python oracle (article only), a careful NumPy implementation
(below), PyTorch (float64, no autograd: the same explicit backward pass),
JAX (jit + lax.scan, vmap over networks), scikit-learn's MLPRegressor
(throughput only: identity output units, its own loss) and FANN through its C
library (libdoublefann, when libfann-dev is installed: incremental training,
sigmoid with steepness 0.5; it always trains biases and clips the sigmoid
derivative, so its numbers differ slightly), and a plain C loop (below: online
steps as a C programmer would write them, libm's exp, the layer widths compiled in,
`cc -O2`; when a C compiler is on PATH), the reference for what one core does.
All workloads have one hidden layer.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime

import numpy as np

WORKLOADS = {
    "article-10k": "the article's 2-2-2 network, 1 sample, lr 0.5, biases frozen, 10,000 online rounds",
    "digits-online": "digits 1,797 x 64, 64-32-10, biases trained, lr 0.1, online, 10 epochs",
    "xor-ensemble": "1,000 2-4-1 networks, XOR online, lr 0.5, biases trained, 2,000 epochs",
    "minibatch-784": "60,000 x 784 random, 784-128-10, minibatches of 64, lr 0.1, 1 epoch",
}
IMPLEMENTATIONS = ["fastbp", "oracle", "numpy", "torch", "jax", "sklearn", "fann", "c"]


# --- the workloads' data ---------------------------------------------------------------


def workload(name: str) -> dict:
    """Data, initial weights and settings of a workload (seeded: every process gets the same)."""
    rng = np.random.default_rng(0)
    if name == "article-10k":
        import fastbp

        X, Y = fastbp.article_data()
        net = fastbp.article_network()
        return dict(X=X, Y=Y, nets=[(net.weights, net.biases)], lr=0.5, epochs=10_000, batch=1, train_biases=False)
    if name == "digits-online":
        from sklearn.datasets import load_digits

        data = load_digits()
        X, Y = data.data / 16.0, np.eye(10)[data.target]
        return dict(X=X, Y=Y, nets=[glorot(rng, (64, 32, 10))], lr=0.1, epochs=10, batch=1, train_biases=True)
    if name == "xor-ensemble":
        X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
        Y = np.array([[0], [1], [1], [0]], dtype=float)
        nets = []
        for _ in range(1000):
            weights = [rng.uniform(-1, 1, (4, 2)), rng.uniform(-1, 1, (1, 4))]
            nets.append((weights, [rng.uniform(-1, 1, 4), rng.uniform(-1, 1, 1)]))
        return dict(X=X, Y=Y, nets=nets, lr=0.5, epochs=2000, batch=1, train_biases=True)
    if name == "minibatch-784":
        X = rng.uniform(0.0, 1.0, (60_000, 784))
        Y = np.eye(10)[rng.integers(0, 10, 60_000)]
        return dict(X=X, Y=Y, nets=[glorot(rng, (784, 128, 10))], lr=0.1, epochs=1, batch=64, train_biases=True)
    raise ValueError(f"unknown workload {name!r}")


def glorot(rng, sizes):
    weights, biases = [], []
    for a, b in zip(sizes[:-1], sizes[1:]):
        r = np.sqrt(2.0 / (a + b))
        weights.append(rng.uniform(-r, r, (b, a)))
        biases.append(rng.uniform(-r, r, b))
    return weights, biases


def mean_error(W1, b1, W2, b2, X, Y) -> float:
    """The article's E, averaged over samples, computed the same way for every peer."""
    out = sigmoid(sigmoid(X @ W1.T + b1) @ W2.T + b2)
    return float(np.mean(0.5 * ((Y - out) ** 2).sum(axis=1)))


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


# --- implementations: each returns (a function that trains once, a function for the check) ---


def run_fastbp(w: dict):
    import fastbp

    def train():
        nets = [fastbp.Network.from_arrays(W, [b[0] if not w["train_biases"] and len(set(b)) == 1 else b for b in B])
                for W, B in w["nets"]]  # fmt: skip
        if len(nets) == 1:
            h = fastbp.train(nets[0], w["X"], w["Y"], epochs=w["epochs"], lr=w["lr"], batch_size=w["batch"],
                             train_biases=w["train_biases"])  # fmt: skip
            return [h.final_error]
        hs = fastbp.train_many(nets, w["X"], w["Y"], epochs=w["epochs"], lr=w["lr"], batch_size=w["batch"],
                               train_biases=w["train_biases"])  # fmt: skip
        return [h.final_error for h in hs]

    return train


def run_oracle(w: dict):
    if w["nets"][0][0][0].size > 4:  # the 2-2-2 network only: the oracle needs minutes elsewhere
        raise NotImplementedError("the oracle only runs the article")
    import fastbp

    def train():
        (W, B), = w["nets"]  # fmt: skip
        net = fastbp.Network.from_arrays(W, [b[0] for b in B])
        h = fastbp.train(net, w["X"], w["Y"], epochs=w["epochs"], lr=w["lr"], train_biases=False, engine="python")
        return [h.final_error]

    return train


def run_numpy(w: dict):
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


def run_torch(w: dict):
    import torch

    torch.set_num_threads(int(os.environ["PEERS_THREADS"]))
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


def run_jax(w: dict):
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    lr, tb, k, epochs = w["lr"], w["train_biases"], w["batch"], w["epochs"]
    n = len(w["X"]) // k * k  # full batches (the last partial batch, if any, is run separately)

    def step(params, batch):
        W1, b1, W2, b2 = params
        x, y = batch
        h = jax.nn.sigmoid(x @ W1.T + b1)
        o = jax.nn.sigmoid(h @ W2.T + b2)
        d2 = (o - y) * o * (1 - o)
        d1 = (d2 @ W2) * h * (1 - h)
        m = x.shape[0]
        new = (W1 - (lr / m) * (d1.T @ x), b1 - tb * (lr / m) * d1.sum(0),
               W2 - (lr / m) * (d2.T @ h), b2 - tb * (lr / m) * d2.sum(0))  # fmt: skip
        return new, None

    X, Y = jnp.asarray(w["X"]), jnp.asarray(w["Y"])
    batches = (X[:n].reshape(-1, k, X.shape[1]), Y[:n].reshape(-1, k, Y.shape[1]))
    rest = (X[n:], Y[n:])

    def epoch(params, _):
        params, _ = jax.lax.scan(step, params, batches)
        if rest[0].shape[0]:
            params, _ = step(params, rest)
        return params, None

    def run(params):
        return jax.lax.scan(epoch, params, None, length=epochs)[0]

    def as_params(W, B):
        return (jnp.asarray(W[0]), jnp.asarray(np.asarray(B[0], float)),
                jnp.asarray(W[1]), jnp.asarray(np.asarray(B[1], float)))  # fmt: skip

    if len(w["nets"]) > 1:
        stacked = jax.tree_util.tree_map(lambda *a: jnp.stack(a), *[as_params(W, B) for W, B in w["nets"]])
        fn = jax.jit(jax.vmap(run))
    else:
        stacked = as_params(*w["nets"][0])
        fn = jax.jit(run)

    def train():
        result = jax.block_until_ready(fn(stacked))
        arrays = [np.asarray(a) for a in result]
        if len(w["nets"]) > 1:
            return [mean_error(*(a[i] for a in arrays), w["X"], w["Y"]) for i in range(len(w["nets"]))]
        return [mean_error(*arrays, w["X"], w["Y"])]

    return train


def run_sklearn(w: dict):
    if len(w["nets"]) > 1 or w["X"].shape[0] < 100:
        raise NotImplementedError("scikit-learn's MLP is timed on the data-set workloads only")
    from sklearn.neural_network import MLPRegressor

    def train():
        model = MLPRegressor(
            hidden_layer_sizes=(w["nets"][0][0][0].shape[0],), activation="logistic", solver="sgd",
            batch_size=w["batch"], learning_rate_init=w["lr"], momentum=0.0, alpha=0.0, max_iter=w["epochs"],
            shuffle=False, tol=0.0, n_iter_no_change=10**9, random_state=0,
        )  # fmt: skip
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(w["X"], w["Y"])
        return [float("nan")]  # a different model (identity outputs): throughput only

    return train


def run_fann(w: dict):
    path = ctypes.util.find_library("doublefann")
    if path is None:
        raise NotImplementedError("FANN's C library is not installed (apt-get install libfann-dev)")
    lib = ctypes.CDLL(path)
    lib.fann_create_standard_array.restype = ctypes.c_void_p
    lib.fann_create_standard_array.argtypes = [ctypes.c_uint, ctypes.POINTER(ctypes.c_uint)]
    lib.fann_run.restype = ctypes.POINTER(ctypes.c_double)
    for fn in ("fann_set_activation_function_hidden", "fann_set_activation_function_output",
               "fann_set_training_algorithm", "fann_set_train_error_function"):  # fmt: skip
        getattr(lib, fn).argtypes = [ctypes.c_void_p, ctypes.c_int]
    for fn in ("fann_set_activation_steepness_hidden", "fann_set_activation_steepness_output"):
        getattr(lib, fn).argtypes = [ctypes.c_void_p, ctypes.c_double]
    for fn in ("fann_set_learning_rate", "fann_set_learning_momentum"):
        getattr(lib, fn).argtypes = [ctypes.c_void_p, ctypes.c_float]
    lib.fann_set_weight.argtypes = [ctypes.c_void_p, ctypes.c_uint, ctypes.c_uint, ctypes.c_double]
    lib.fann_run.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_double)]
    lib.fann_destroy.argtypes = [ctypes.c_void_p]
    if w["batch"] > 1:
        raise NotImplementedError("FANN's incremental training is online only")
    lib.fann_read_train_from_file.restype = ctypes.c_void_p
    lib.fann_read_train_from_file.argtypes = [ctypes.c_char_p]
    lib.fann_train_on_data.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint, ctypes.c_uint, ctypes.c_float]
    lib.fann_destroy_train.argtypes = [ctypes.c_void_p]
    # FANN reads its data from its own text format; training then runs every epoch in C.
    import tempfile

    from fastbp.datasets import Dataset, save_fann

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "data.fann")
        save_fann(Dataset(X=w["X"], Y=w["Y"]), path)
        data = lib.fann_read_train_from_file(path.encode())
    X = [np.ascontiguousarray(x).ctypes.data_as(ctypes.POINTER(ctypes.c_double)) for x in w["X"]]
    keep = [w["X"]]  # noqa: F841 - the pointers above point into these arrays

    def build(W, B):
        sizes = (ctypes.c_uint * 3)(W[0].shape[1], W[0].shape[0], W[1].shape[0])
        ann = lib.fann_create_standard_array(3, sizes)
        for setter, value in (("fann_set_activation_function_hidden", 3), ("fann_set_activation_function_output", 3),
                              ("fann_set_training_algorithm", 0), ("fann_set_train_error_function", 0)):  # fmt: skip
            getattr(lib, setter)(ann, value)  # FANN_SIGMOID, FANN_TRAIN_INCREMENTAL, FANN_ERRORFUNC_LINEAR
        lib.fann_set_activation_steepness_hidden(ann, 0.5)  # 1 / (1 + exp(-2 * 0.5 * net))
        lib.fann_set_activation_steepness_output(ann, 0.5)
        lib.fann_set_learning_rate(ann, w["lr"])
        lib.fann_set_learning_momentum(ann, 0.0)
        # Neurons are numbered layer by layer, each layer ending with its bias neuron.
        first = [0, W[0].shape[1] + 1, W[0].shape[1] + 1 + W[0].shape[0] + 1]
        for l in range(2):
            for j in range(W[l].shape[0]):
                for i in range(W[l].shape[1]):
                    lib.fann_set_weight(ann, first[l] + i, first[l + 1] + j, float(W[l][j, i]))
                lib.fann_set_weight(ann, first[l] + W[l].shape[1], first[l + 1] + j, float(np.ravel(B[l])[j]))
        return ann

    def train():
        errors = []
        for W, B in w["nets"]:
            ann = build(W, [np.broadcast_to(b, (W[l].shape[0],)) for l, b in enumerate(B)])
            lib.fann_train_on_data(ann, data, w["epochs"], 0, 0.0)  # no reports; no early stop
            out = np.array([[lib.fann_run(ann, x)[j] for j in range(w["Y"].shape[1])] for x in X])
            errors.append(float(np.mean(0.5 * ((w["Y"] - out) ** 2).sum(axis=1))))
            lib.fann_destroy(ann)
        return errors

    return train


C_LOOP = r"""
#include <math.h>

static double logistic(double net) { return 1.0 / (1.0 + exp(-net)); }

/* Online backpropagation for one hidden layer; N_IN, N_HID, N_OUT are compiled in. */
void train(double *restrict W1, double *restrict b1, double *restrict W2, double *restrict b2,
           const double *restrict X, const double *restrict Y, long n_samples, long epochs, double lr,
           int train_biases) {
    double h[N_HID], o[N_OUT], d1[N_HID], d2[N_OUT];
    for (long e = 0; e < epochs; e++) {
        for (long s = 0; s < n_samples; s++) {
            const double *x = X + s * N_IN, *y = Y + s * N_OUT;
            for (int j = 0; j < N_HID; j++) {
                double net = b1[j];
                for (int i = 0; i < N_IN; i++) net += W1[j * N_IN + i] * x[i];
                h[j] = logistic(net);
            }
            for (int k = 0; k < N_OUT; k++) {
                double net = b2[k];
                for (int j = 0; j < N_HID; j++) net += W2[k * N_HID + j] * h[j];
                o[k] = logistic(net);
                d2[k] = (o[k] - y[k]) * o[k] * (1.0 - o[k]);
            }
            for (int j = 0; j < N_HID; j++) {
                double sum = 0.0;
                for (int k = 0; k < N_OUT; k++) sum += W2[k * N_HID + j] * d2[k];
                d1[j] = sum * h[j] * (1.0 - h[j]);
            }
            for (int k = 0; k < N_OUT; k++) {
                for (int j = 0; j < N_HID; j++) W2[k * N_HID + j] -= lr * d2[k] * h[j];
                if (train_biases) b2[k] -= lr * d2[k];
            }
            for (int j = 0; j < N_HID; j++) {
                for (int i = 0; i < N_IN; i++) W1[j * N_IN + i] -= lr * d1[j] * x[i];
                if (train_biases) b1[j] -= lr * d1[j];
            }
        }
    }
}
"""


def run_c(w: dict):
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise NotImplementedError("no C compiler on PATH")
    if w["batch"] > 1:
        raise NotImplementedError("the C loop is online only")
    import tempfile

    (W, _), *_ = w["nets"]
    widths = (W[0].shape[1], W[0].shape[0], W[1].shape[0])
    with tempfile.TemporaryDirectory() as folder:  # the loaded library outlives its file
        source, library = os.path.join(folder, "loop.c"), os.path.join(folder, "loop.so")
        with open(source, "w") as file:
            file.write(C_LOOP)
        defines = [f"-D{name}={n}" for name, n in zip(("N_IN", "N_HID", "N_OUT"), widths)]
        subprocess.run([compiler, "-O2", "-shared", "-fPIC", *defines, source, "-o", library, "-lm"], check=True)
        lib = ctypes.CDLL(library)
    pointer = ctypes.POINTER(ctypes.c_double)
    lib.train.argtypes = [pointer] * 6 + [ctypes.c_long, ctypes.c_long, ctypes.c_double, ctypes.c_int]
    X, Y = np.ascontiguousarray(w["X"]), np.ascontiguousarray(w["Y"])

    def train():
        errors = []
        for W, B in w["nets"]:
            params = [np.array(W[0]), np.array(np.broadcast_to(B[0], (widths[1],))), np.array(W[1]),
                      np.array(np.broadcast_to(B[1], (widths[2],)))]  # fmt: skip
            lib.train(*(a.ctypes.data_as(pointer) for a in (*params, X, Y)), len(X), w["epochs"], w["lr"],
                      int(w["train_biases"]))  # fmt: skip
            errors.append(mean_error(*params, X, Y))
        return errors

    return train


RUNNERS = {name: globals()[f"run_{name}"] for name in IMPLEMENTATIONS}


# --- one child process: time one implementation on one workload ---------------------------


def child(implementation: str, name: str, repeats: int) -> dict:
    try:
        train = RUNNERS[implementation](workload(name))
        check = train()  # warm-up: compilation, caches
    except (ImportError, NotImplementedError) as exc:
        return {"skipped": str(exc).split("\n")[0]}
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        train()
        times.append(time.perf_counter() - start)
    return {"times": times, "errors": check}


# --- the parent: every child, then the table ---------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workloads", nargs="+", choices=list(WORKLOADS), default=list(WORKLOADS))
    parser.add_argument("--peers", nargs="+", choices=IMPLEMENTATIONS, default=IMPLEMENTATIONS)
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per process")
    parser.add_argument("--rounds", type=int, default=3, help="processes per implementation, taking turns")
    parser.add_argument("--threads", type=int, default=1, help="threads for every library (default 1)")
    parser.add_argument("--child", nargs=2, metavar=("IMPLEMENTATION", "WORKLOAD"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child, args.repeats)))
        return
    env = dict(os.environ, PEERS_THREADS=str(args.threads), NUMBA_NUM_THREADS=str(args.threads))
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "XLA_FLAGS"):
        env.pop(var, None)
    env.update(OMP_NUM_THREADS=str(args.threads), OPENBLAS_NUM_THREADS=str(args.threads),
               MKL_NUM_THREADS=str(args.threads))  # fmt: skip
    if args.threads == 1:
        env["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    command = "python scripts/compare_peers.py " + " ".join(sys.argv[1:])
    print(f"Machine: {cpu_name()}, {os.cpu_count()} cores; {args.threads} thread(s) per library; "
          f"Python {platform.python_version()}; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")  # fmt: skip
    print(f"Command: `{command.strip()}`; medians of {args.rounds} x {args.repeats} runs: {args.rounds} processes "
          "per implementation, taking turns, each timing its runs after a warm-up.")  # fmt: skip
    print()
    print("| workload | implementation | time | x fastbp's time | final mean E (fastbp's) | agrees |")
    print("|---|---|---:|---:|---|---|")
    for name in args.workloads:
        results = {impl: {"times": []} for impl in args.peers}
        for _ in range(args.rounds):
            for impl in args.peers:
                if "skipped" in results[impl]:
                    continue
                out = subprocess.run(
                    [sys.executable, __file__, "--child", impl, name, "--repeats", str(args.repeats)],
                    capture_output=True, text=True, env=env,
                )  # fmt: skip
                try:
                    result = json.loads(out.stdout.strip().splitlines()[-1])
                except (IndexError, json.JSONDecodeError):
                    result = {"skipped": "failed: " + (out.stderr.strip().splitlines() or ["?"])[-1][:80]}
                if "skipped" in result:
                    results[impl] = result
                else:
                    results[impl]["times"] += result["times"]
                    results[impl]["errors"] = result["errors"]
        for result in results.values():
            if "times" in result:
                result["seconds"] = statistics.median(result["times"])
        base = results.get("fastbp", {})
        for impl, result in results.items():
            if "skipped" in result:
                print(f"| {name} | {impl} | - | - | {result['skipped']} | |")
                continue
            ratio = result["seconds"] / base["seconds"] if "seconds" in base else float("nan")
            mine, theirs = np.mean(result["errors"]), np.mean(base.get("errors", [np.nan]))
            agree = "n/a (other model)" if np.isnan(mine) else ("yes" if abs(mine / theirs - 1) < 1e-6 else
                                                               f"rel. diff {abs(mine / theirs - 1):.1e}")  # fmt: skip
            print(f"| {name} | {impl} | {format_time(result['seconds'])} | {ratio:.2f} | {mine:.6g} ({theirs:.6g}) "
                  f"| {agree} |")  # fmt: skip


def format_time(seconds: float) -> str:
    return f"{seconds * 1e3:.3g} ms" if seconds < 1 else f"{seconds:.3g} s"


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


if __name__ == "__main__":
    main()
