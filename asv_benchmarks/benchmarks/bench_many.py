"""Throughput workloads: an ensemble through train_many, and minibatches of a wide network."""

from .common import Benchmark, random_784, xor_ensemble

try:
    import numba

    import fastbp
except ImportError:
    pass


class XorEnsemble(Benchmark):
    """1,000 2-4-1 networks, XOR online, lr 0.5, 2,000 epochs (8M sample-steps), by thread count."""

    params = [1, 2]
    param_names = ["threads"]
    timeout = 600.0

    def setup(self, threads):
        if threads > numba.config.NUMBA_NUM_THREADS:
            raise NotImplementedError(f"this machine has {numba.config.NUMBA_NUM_THREADS} Numba threads")
        self.nets, self.X, self.Y = xor_ensemble()
        fastbp.train_many([n.copy() for n in self.nets[:2]], self.X, self.Y, epochs=1)
        numba.set_num_threads(threads)

    def teardown(self, threads):
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)

    def train(self):
        return fastbp.train_many([n.copy() for n in self.nets], self.X, self.Y, epochs=2000, lr=0.5)

    def time_train_many(self, threads):
        self.train()

    def track_solved(self, threads):
        return sum(h.final_error < 0.05 for h in self.train())

    track_solved.unit = "networks"

    def track_sample_steps_per_second(self, threads):
        histories = self.train()
        return len(self.nets) * 2000 * 4 / histories[0].seconds

    track_sample_steps_per_second.unit = "sample-steps/s"


class Minibatch784(Benchmark):
    """60,000 x 784 random inputs, 784-128-10, minibatches of 64, lr 0.1, 1 epoch."""

    repeat = (2, 5, 60.0)
    timeout = 600.0

    def setup(self):
        self.X, self.Y = random_784()
        self.net = fastbp.Network.random((784, 128, 10), seed=0)
        fastbp.train(self.net.copy(), self.X[:128], self.Y[:128], batch_size=64)

    def train(self):
        return fastbp.train(self.net.copy(), self.X, self.Y, epochs=1, lr=0.1, batch_size=64)

    def time_train(self):
        self.train()

    def peakmem_train(self):
        self.train()

    def track_final_error(self):
        return self.train().final_error

    track_final_error.unit = "E"

    def track_samples_per_second(self):
        return len(self.X) / self.train().seconds

    track_samples_per_second.unit = "samples/s"
