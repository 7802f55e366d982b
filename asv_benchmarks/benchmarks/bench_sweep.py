"""fastbp.sweep: 1,000 small configurations on this machine, and through a two-worker Dask cluster."""

from .common import Benchmark

try:
    import numpy as np

    import fastbp
    from fastbp import datasets
except ImportError:
    pass


def grid():
    """4 hidden widths x 10 learning rates x 25 seeds = 1,000 configurations."""
    return dict(hidden=[2, 4, 8, 16], lr=list(np.geomspace(0.05, 2.0, 10)), seeds=25)


def iris_split():
    train, val = datasets.iris().scaled().split(0.2, seed=0)
    return train.X, train.Y, (val.X, val.Y)


class Sweep1000(Benchmark):
    """4 hidden widths x 10 learning rates x 25 seeds on Iris, 50 online epochs each."""

    params = ["local", "dask-2-workers"]
    param_names = ["where"]
    repeat = (2, 5, 60.0)
    timeout = 600.0

    def setup(self, where):
        self.X, self.Y, self.validation = iris_split()
        self.client = None
        if where != "local":
            try:
                from distributed import Client, LocalCluster
            except ImportError:
                raise NotImplementedError("dask.distributed is not installed") from None
            self.cluster = LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None)
            self.client = Client(self.cluster)
        self.run()  # warm every process's kernels

    def teardown(self, where):
        if self.client is not None:
            self.client.close()
            self.cluster.close()

    def run(self):
        return fastbp.sweep(self.X, self.Y, epochs=50, validation=self.validation, client=self.client, **grid())

    def time_sweep(self, where):
        self.run()

    def track_configurations_per_second(self, where):
        import time

        start = time.perf_counter()
        result = self.run()
        return len(result) / (time.perf_counter() - start)

    track_configurations_per_second.unit = "configurations/s"
