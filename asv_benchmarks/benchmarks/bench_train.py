"""Training workloads: time, and the final error so that a fast but wrong commit shows."""

from .common import Benchmark, kernel_option
from .workloads import article_10k, digits_minibatch, digits_online, networks, train_options

try:
    import fastbp
except ImportError:  # asv discovers benchmarks in environments that may lack the project
    pass


class Article10k(Benchmark):
    """The article's 2-2-2 network, one sample, lr 0.5, biases frozen, 10,000 online rounds.

    kernel "auto" is what train picks (the unrolled kernel for this tiny network);
    "loops" forces the general kernel, to keep both on the dashboard; fast_math
    takes the logistic's e^x from a table (not the default's bits).
    """

    params = (["numba", "python"], ["auto", "loops"], [False, True])
    param_names = ["engine", "kernel", "fast_math"]

    def setup(self, engine, kernel, fast_math):
        if engine == "python" and (kernel != "auto" or fast_math):
            raise NotImplementedError("the oracle has one kernel and one arithmetic")
        self.w = article_10k()
        (self.net,) = networks(self.w)
        self.options = train_options(self.w) | kernel_option(kernel) | {"engine": engine, "fast_math": fast_math}
        self.train(epochs=self.options["epochs"] if engine == "numba" else 1)  # compile / load the kernel

    def train(self, **epochs):
        return fastbp.train(self.net.copy(), self.w["X"], self.w["Y"], **(self.options | epochs))

    def time_train(self, engine, kernel, fast_math):
        self.train()

    def peakmem_train(self, engine, kernel, fast_math):
        self.train()

    def track_final_error(self, engine, kernel, fast_math):
        return self.train().final_error

    track_final_error.unit = "E"

    def track_rounds_per_second(self, engine, kernel, fast_math):
        return self.options["epochs"] / self.train().seconds

    track_rounds_per_second.unit = "rounds/s"


class DigitsOnline(Benchmark):
    """scikit-learn's digits, 64-32-10, biases trained, lr 0.1, online, no shuffle, 10 epochs."""

    def setup(self):
        self.w = digits_online()
        (self.net,) = networks(self.w)
        fastbp.train(self.net.copy(), self.w["X"][:2], self.w["Y"][:2], epochs=1)

    def train(self):
        return fastbp.train(self.net.copy(), self.w["X"], self.w["Y"], **train_options(self.w))

    def time_train(self):
        self.train()

    def peakmem_train(self):
        self.train()

    def track_final_error(self):
        return self.train().final_error

    track_final_error.unit = "E"

    def track_samples_per_second(self):
        history = self.train()
        return self.w["epochs"] * len(self.w["X"]) / history.seconds

    track_samples_per_second.unit = "samples/s"


class DigitsMinibatch(Benchmark):
    """The same data in minibatches of 32, lr 5, 10 epochs: through BLAS products ("auto") and the loops."""

    params = ["auto", "loops"]
    param_names = ["kernel"]

    def setup(self, kernel):
        self.w = digits_minibatch()
        (self.net,) = networks(self.w)
        self.options = train_options(self.w) | kernel_option(kernel)
        fastbp.train(self.net.copy(), self.w["X"][:64], self.w["Y"][:64], **(self.options | {"epochs": 1}))

    def train(self):
        return fastbp.train(self.net.copy(), self.w["X"], self.w["Y"], **self.options)

    def time_train(self, kernel):
        self.train()

    def track_final_error(self, kernel):
        return self.train().final_error

    track_final_error.unit = "E"


class DigitsModels(Benchmark):
    """Digits 64-32-10 beyond the article, against the article's model on the same shape: tanh, ReLU,
    tanh + softmax with cross-entropy, Adam online (10 epochs); and in minibatches of 32, tanh + softmax,
    cross-entropy, Adam (20 epochs, the peer comparison's digits-adam-softmax)."""

    params = ["logistic", "tanh", "relu", "tanh-softmax-ce", "adam", "minibatch-logistic", "minibatch-adam-softmax"]
    param_names = ["model"]
    MODELS = {
        "logistic": (None, dict(lr=0.1)),
        "tanh": (("tanh", "logistic"), dict(lr=0.1)),
        "relu": (("relu", "logistic"), dict(lr=0.1)),
        "tanh-softmax-ce": (("tanh", "softmax"), dict(lr=0.1, loss="cross_entropy")),
        "adam": (None, dict(lr=1e-3, optimizer="adam")),
        "minibatch-logistic": (None, dict(lr=0.5, batch_size=32, epochs=20)),
        "minibatch-adam-softmax": (
            ("tanh", "softmax"),
            dict(lr=1e-3, batch_size=32, epochs=20, loss="cross_entropy", optimizer="adam"),
        ),
    }

    def setup(self, model):
        import inspect

        if "loss" not in inspect.signature(fastbp.train).parameters:
            raise NotImplementedError("this fastbp trains the article's model only")
        self.w = digits_online()
        activations, options = self.MODELS[model]
        self.net = fastbp.Network.random((64, 32, 10), seed=0, activations=activations)
        self.options = dict(epochs=10) | options
        fastbp.train(self.net.copy(), self.w["X"][:64], self.w["Y"][:64], **(self.options | {"epochs": 1}))

    def train(self):
        return fastbp.train(self.net.copy(), self.w["X"], self.w["Y"], **self.options)

    def time_train(self, model):
        self.train()

    def track_final_error(self, model):
        return self.train().final_error

    track_final_error.unit = "loss"


class Diagnose(Benchmark):
    """diagnose=True against the same run without it (the same bits): digits online, digits in minibatches of
    32 with Adam (the peer comparison's digits-adam-softmax) and the 1,000-network XOR ensemble."""

    params = (["digits-online", "digits-adam-softmax", "xor-ensemble"], [False, True])
    param_names = ["workload", "diagnose"]

    def setup(self, workload, diagnose):
        import inspect

        from .workloads import WORKLOADS

        if "diagnose" not in inspect.signature(fastbp.train).parameters:
            raise NotImplementedError("this fastbp has no diagnostics")
        self.w = WORKLOADS[workload]()
        self.nets = networks(self.w)
        self.options = train_options(self.w) | {"diagnose": diagnose}
        self.train()  # compile / load the kernels

    def train(self):
        nets = [net.copy() for net in self.nets]
        if len(nets) == 1:
            return [fastbp.train(nets[0], self.w["X"], self.w["Y"], **self.options)]
        return fastbp.train_many(nets, self.w["X"], self.w["Y"], **self.options)

    def time_train(self, workload, diagnose):
        self.train()
