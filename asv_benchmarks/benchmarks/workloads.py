"""The benchmark workloads, as data: the asv suite and scripts/compare_peers.py both read them.

Each workload is a function returning a dict: X, Y (float64), nets (a list of
(weights, biases) pairs, W of shape (n_out, n_in)), lr, epochs, batch (1 =
online), train_biases, and for models beyond the article's a "model" dict
(activations, loss, optimizer, as fastbp names them). Seeded, so every process builds the same. Append only:
changing one resets its history on the dashboard.
"""

import textwrap

import numpy as np


def glorot(rng, sizes, factor=2.0):
    """Weights and biases uniform in +-sqrt(factor / (n_in + n_out)), layer by layer."""
    weights, biases = [], []
    for a, b in zip(sizes[:-1], sizes[1:]):
        r = np.sqrt(factor / (a + b))
        weights.append(rng.uniform(-r, r, (b, a)))
        biases.append(rng.uniform(-r, r, b))
    return weights, biases


def digits_data():
    """scikit-learn's digits: 1,797 x 64 pixels / 16, one-hot targets; NotImplementedError without sklearn."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise NotImplementedError("scikit-learn is not installed") from None
    data = load_digits()
    return data.data / 16.0, np.eye(10)[data.target]


def article_10k():
    """The article's 2-2-2 network, 1 sample, lr 0.5, biases frozen, 10,000 online rounds."""
    X, Y = np.array([[0.05, 0.10]]), np.array([[0.01, 0.99]])
    weights = [np.array([[0.15, 0.20], [0.25, 0.30]]), np.array([[0.40, 0.45], [0.50, 0.55]])]
    biases = [np.full(2, 0.35), np.full(2, 0.60)]  # tied: one value per layer
    return dict(X=X, Y=Y, nets=[(weights, biases)], lr=0.5, epochs=10_000, batch=1, train_biases=False)


def digits_online():
    """digits 1,797 x 64, 64-32-10, biases trained, lr 0.1, online, 10 epochs."""
    X, Y = digits_data()
    nets = [glorot(np.random.default_rng(0), (64, 32, 10))]
    return dict(X=X, Y=Y, nets=nets, lr=0.1, epochs=10, batch=1, train_biases=True)


def digits_minibatch():
    """digits, 64-32-10, minibatches of 32 in order, lr 5, 10 epochs."""
    return digits_online() | dict(lr=5.0, epochs=10, batch=32)


def xor_ensemble(n_networks=1000):
    """1,000 2-4-1 networks, XOR online, lr 0.5, biases trained, 2,000 epochs."""
    rng = np.random.default_rng(0)
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    Y = np.array([[0], [1], [1], [0]], dtype=float)
    nets = []
    for _ in range(n_networks):
        weights = [rng.uniform(-1, 1, (4, 2)), rng.uniform(-1, 1, (1, 4))]
        nets.append((weights, [rng.uniform(-1, 1, 4), rng.uniform(-1, 1, 1)]))
    return dict(X=X, Y=Y, nets=nets, lr=0.5, epochs=2000, batch=1, train_biases=True)


def minibatch_784(n_samples=60_000):
    """60,000 x 784 random, 784-128-10, minibatches of 64, lr 0.1, 1 epoch."""
    rng = np.random.default_rng(0)
    X = rng.uniform(0.0, 1.0, (n_samples, 784))
    Y = np.eye(10)[rng.integers(0, 10, n_samples)]
    return dict(X=X, Y=Y, nets=[glorot(rng, (784, 128, 10))], lr=0.1, epochs=1, batch=64, train_biases=True)


def digits_adam_softmax():
    """digits, 64-32-10, tanh hidden units, softmax output, cross-entropy, Adam (torch's defaults, lr 1e-3),
    minibatches of 32 in order, 20 epochs."""
    w = digits_online()
    w["nets"] = [glorot(np.random.default_rng(0), (64, 32, 10), factor=6.0)]
    model = dict(activations=("tanh", "softmax"), loss="cross_entropy", optimizer="adam")
    return w | dict(lr=1e-3, epochs=20, batch=32, model=model)


def digits_online_tanh():
    """digits_online with tanh hidden units (logistic outputs, squared error, gradient descent as before)."""
    return digits_online() | dict(model=dict(activations=("tanh", "logistic")))


def digits_online_relu():
    """digits_online with ReLU hidden units (logistic outputs, squared error, gradient descent as before)."""
    return digits_online() | dict(model=dict(activations=("relu", "logistic")))


# scikit-learn parity (issue 14): fastbp's MLPClassifier/MLPRegressor against scikit-learn's, the same parameters
# in both, 100 epochs (lbfgs: 200 iterations), convergence stopping off. name -> (estimator, data set, parameters).
ESTIMATOR_CASES = {
    "digits-adam-relu-64": ("MLPClassifier", "digits", dict(hidden_layer_sizes=(64,), activation="relu")),
    "digits-sgd-logistic-32": (
        "MLPClassifier", "digits",
        dict(hidden_layer_sizes=(32,), activation="logistic", solver="sgd", learning_rate_init=0.1,
             nesterovs_momentum=False),
    ),
    "friedman-adam-tanh-32-16": (
        "MLPRegressor", "friedman", dict(hidden_layer_sizes=(32, 16), activation="tanh", learning_rate_init=0.01),
    ),
    # issue 24: scikit-learn's L-BFGS-B, 200 iterations
    "digits-lbfgs-relu-64": (
        "MLPClassifier", "digits", dict(hidden_layer_sizes=(64,), activation="relu", solver="lbfgs", max_iter=200),
    ),
    "friedman-lbfgs-tanh-32-16": (
        "MLPRegressor", "friedman", dict(hidden_layer_sizes=(32, 16), activation="tanh", solver="lbfgs", max_iter=200),
    ),
}  # fmt: skip
ESTIMATOR_COMMON = dict(max_iter=100, tol=0.0, n_iter_no_change=10**9, random_state=0)


def estimator_data(name: str):
    """(X_train, X_test, y_train, y_test): scikit-learn's digits, standardised, or make_friedman1 (2,000
    samples), split 70/30 with a seed; NotImplementedError without scikit-learn."""
    try:
        from sklearn.datasets import load_digits, make_friedman1
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import StandardScaler
    except ImportError:
        raise NotImplementedError("scikit-learn is not installed") from None
    if name == "digits":
        X, y = load_digits(return_X_y=True)
        X = StandardScaler().fit_transform(X)
    else:
        X, y = make_friedman1(n_samples=2000, random_state=0)
    return train_test_split(X, y, test_size=0.3, random_state=0)


def estimator(library: str, case: str):
    """A fresh estimator of the case from "fastbp" or "sklearn", the same parameters in both."""
    kind, _, params = ESTIMATOR_CASES[case]
    if library == "fastbp":
        import fastbp as module
    else:
        from sklearn import neural_network as module
    return getattr(module, kind)(**(ESTIMATOR_COMMON | params))


WORKLOADS = {
    "article-10k": article_10k,
    "digits-online": digits_online,
    "digits-minibatch": digits_minibatch,
    "xor-ensemble": xor_ensemble,
    "minibatch-784": minibatch_784,
    "digits-adam-softmax": digits_adam_softmax,
    "digits-online-tanh": digits_online_tanh,
    "digits-online-relu": digits_online_relu,
}


def networks(w: dict, dtype="float64"):
    """The workload's networks as fastbp Networks (a layer whose biases are all equal, untrained, is tied)."""
    import fastbp

    activations = w.get("model", {}).get("activations")
    nets = []
    for weights, biases in w["nets"]:
        tied = [b[0] if not w["train_biases"] and np.ptp(b) == 0 else b for b in biases]
        kw = {"activations": activations} if activations else {}
        nets.append(fastbp.Network.from_arrays(weights, tied, dtype=dtype, **kw))
    return nets


def train_options(w: dict) -> dict:
    """fastbp.train's keyword options for the workload."""
    options = dict(epochs=w["epochs"], lr=w["lr"], batch_size=w["batch"], train_biases=w["train_biases"])
    model = w.get("model", {})
    return options | {key: model[key] for key in ("loss", "optimizer") if key in model}


# Kernel paths for cold-compile timing: the statement whose first run compiles each, after COMPILE_SETUP.
COMPILE_PATHS = {
    "online": "fastbp.train(article.copy(), X, Y, epochs=2, kernel='loops')",
    "online-adam": "fastbp.train(article.copy(), X, Y, epochs=2, optimizer='adam', lr=0.01, kernel='loops')",
    "minibatch": "fastbp.train(article.copy(), X4, Y4, epochs=2, batch_size=2, kernel='loops')",
    "unrolled": "fastbp.train(article.copy(), X, Y, epochs=2, kernel='unrolled')",
    "evaluate": "article.error(X, Y)",
    "blas": "fastbp.train(wide, Xw, Yw, batch_size=200, optimizer='adam', lr=1e-3, loss='cross_entropy', "
    "kernel='blas')",
    "evaluate-blas": "wide.forward(Xw)",
    "lanes": "fastbp.train_many([article.copy() for _ in range(16)], X, Y, epochs=2, kernel='lanes')",
    "threads": "fastbp.train_many([article.copy() for _ in range(2)], X, Y, epochs=2, optimizer='adam', lr=0.01)",
}

COMPILE_SETUP = textwrap.dedent(
    """
    import json, time
    import numpy as np
    from numba.core.dispatcher import Dispatcher
    import fastbp
    from fastbp import _kernels
    article = fastbp.article_network()
    X, Y = fastbp.article_data()
    X4, Y4 = np.tile(X, (4, 1)), np.tile(Y, (4, 1))
    rng = np.random.default_rng(0)
    Xw, Yw = rng.uniform(size=(400, 64)), np.eye(10)[rng.integers(10, size=400)]
    wide = fastbp.Network.random((64, 64, 10), seed=0, activations=("relu", "softmax"))
    kernels = [k for k in vars(_kernels).values() if isinstance(k, Dispatcher)]
    start = time.perf_counter()
    {statement}
    total = time.perf_counter() - start
    llvm = sum(k.get_metadata(s)["timers"].get("llvm_lock", 0.0) for k in kernels for s in k.signatures)
    print(json.dumps({"total": total, "llvm": llvm}))
    """
)


def compile_probe(path: str, report: bool = True) -> str:
    """Python code that runs a kernel path's first call and, with report, prints its time (and Numba's LLVM
    share) as JSON (asv's timeraw reads the process's own output: it must print nothing there)."""
    code = COMPILE_SETUP.replace("{statement}", COMPILE_PATHS[path])
    return code if report else code[: code.index("total = ")]
