"""Throughput workloads: an ensemble through train_many, and minibatches of a wide network."""

from .common import Benchmark
from .workloads import minibatch_784, networks, train_options, xor_ensemble

try:
    import numba
    import numpy as np

    import fastbp
except ImportError:
    pass


class XorEnsemble(Benchmark):
    """1,000 2-4-1 networks, XOR online, lr 0.5, 2,000 epochs (8M sample-steps), by thread count."""

    params = ([1, 2], ["logistic", "tanh"])
    param_names = ["threads", "hidden"]
    timeout = 600.0

    def setup(self, threads, hidden):
        if threads > numba.config.NUMBA_NUM_THREADS:
            raise NotImplementedError(f"this machine has {numba.config.NUMBA_NUM_THREADS} Numba threads")
        self.w = xor_ensemble()
        if hidden != "logistic":
            self.w["model"] = {"activations": (hidden, "logistic")}
        try:
            self.nets = networks(self.w)
        except TypeError:
            raise NotImplementedError("this fastbp has logistic units only") from None
        fastbp.train_many([n.copy() for n in self.nets[:8]], self.w["X"], self.w["Y"], epochs=1)
        numba.set_num_threads(threads)

    def teardown(self, threads, hidden):
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)

    def train(self):
        return fastbp.train_many([n.copy() for n in self.nets], self.w["X"], self.w["Y"], **train_options(self.w))

    def time_train_many(self, threads, hidden):
        self.train()

    def peakmem_train_many(self, threads, hidden):
        self.train()

    def track_mean_final_error(self, threads, hidden):
        return float(np.mean([h.final_error for h in self.train()]))

    track_mean_final_error.unit = "E"

    def track_solved(self, threads, hidden):
        return sum(h.final_error < 0.05 for h in self.train())

    track_solved.unit = "networks"

    def track_sample_steps_per_second(self, threads, hidden):
        histories = self.train()
        return len(self.nets) * self.w["epochs"] * len(self.w["X"]) / histories[0].seconds

    track_sample_steps_per_second.unit = "sample-steps/s"


class Minibatch784(Benchmark):
    """60,000 x 784 random inputs, 784-128-10, minibatches of 64, lr 0.1, 1 epoch, in float64 and float32.

    time_train is the training call alone; time_train_and_final_error also reads History.final_error
    (a forward pass over the 60,000 samples), as a user who looks at it pays.
    """

    params = ["float64", "float32"]
    param_names = ["dtype"]
    repeat = (2, 5, 60.0)
    timeout = 600.0

    def setup(self, dtype):
        self.w = minibatch_784()
        self.X, self.Y = self.w["X"].astype(dtype), self.w["Y"].astype(dtype)
        (self.net,) = networks(self.w, dtype=dtype)
        fastbp.train(self.net.copy(), self.X[:128], self.Y[:128], batch_size=64)

    def train(self):
        return fastbp.train(self.net.copy(), self.X, self.Y, **train_options(self.w))

    def time_train(self, dtype):
        self.train()

    def time_train_and_final_error(self, dtype):
        _ = self.train().final_error

    def peakmem_train(self, dtype):
        self.train()

    def track_final_error(self, dtype):
        return self.train().final_error

    track_final_error.unit = "E"

    def track_samples_per_second(self, dtype):
        return len(self.X) / self.train().seconds

    track_samples_per_second.unit = "samples/s"
