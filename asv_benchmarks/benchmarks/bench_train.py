"""Training workloads: time, and the final error so that a fast but wrong commit shows."""

from .common import Benchmark, digits

try:
    import fastbp
except ImportError:  # asv discovers benchmarks in environments that may lack the project
    pass


class Article10k(Benchmark):
    """The article's 2-2-2 network, one sample, lr 0.5, biases frozen, 10,000 online rounds.

    kernel "auto" is what train picks (the unrolled kernel for this tiny network);
    "general" forces the general loops, to keep both on the dashboard.
    """

    params = (["numba", "python"], ["auto", "general"])
    param_names = ["engine", "kernel"]

    def setup(self, engine, kernel):
        from fastbp import _unrolled

        self.max_params = _unrolled.MAX_PARAMS  # asv runs teardown even after a skip
        if engine == "python" and kernel == "general":
            raise NotImplementedError("the oracle has one kernel")
        if kernel == "general":
            _unrolled.MAX_PARAMS = 0
        self.X, self.Y = fastbp.article_data()
        self.net = fastbp.article_network()
        self.train(engine, kernel, epochs=10_000 if engine == "numba" else 1)  # compile / load the kernel

    def teardown(self, engine, kernel):
        from fastbp import _unrolled

        _unrolled.MAX_PARAMS = self.max_params

    def train(self, engine, kernel, epochs=10_000):
        net = self.net.copy()
        return fastbp.train(net, self.X, self.Y, epochs=epochs, lr=0.5, train_biases=False, engine=engine)

    def time_train(self, engine, kernel):
        self.train(engine, kernel)

    def peakmem_train(self, engine, kernel):
        self.train(engine, kernel)

    def track_final_error(self, engine, kernel):
        return self.train(engine, kernel).final_error

    track_final_error.unit = "E"

    def track_rounds_per_second(self, engine, kernel):
        return 10_000 / self.train(engine, kernel).seconds

    track_rounds_per_second.unit = "rounds/s"


class DigitsOnline(Benchmark):
    """scikit-learn's digits, 64-32-10, biases trained, lr 0.1, online, no shuffle, 10 epochs."""

    def setup(self):
        self.X, self.Y = digits()
        self.net = fastbp.Network.random((64, 32, 10), seed=0)
        fastbp.train(self.net.copy(), self.X[:2], self.Y[:2], epochs=1)

    def train(self):
        return fastbp.train(self.net.copy(), self.X, self.Y, epochs=10, lr=0.1)

    def time_train(self):
        self.train()

    def peakmem_train(self):
        self.train()

    def track_final_error(self):
        return self.train().final_error

    track_final_error.unit = "E"

    def track_samples_per_second(self):
        history = self.train()
        return 10 * len(self.X) / history.seconds

    track_samples_per_second.unit = "samples/s"


class DigitsMinibatch(Benchmark):
    """The same data in minibatches of 32, lr 5, momentum 0.5, 10 epochs."""

    def setup(self):
        self.X, self.Y = digits()
        self.net = fastbp.Network.random((64, 32, 10), seed=0)
        fastbp.train(self.net.copy(), self.X[:2], self.Y[:2], epochs=1, batch_size=2)

    def train(self):
        return fastbp.train(self.net.copy(), self.X, self.Y, epochs=10, lr=5.0, batch_size=32, momentum=0.5)

    def time_train(self):
        self.train()

    def track_final_error(self):
        return self.train().final_error

    track_final_error.unit = "E"
