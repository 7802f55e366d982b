"""fastbp.sweep: locally, and on a real Dask cluster (two worker processes), with the same numbers."""

import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from reference import random_problem

import fastbp
from fastbp import datasets


def problem():
    _, X, Y = random_problem(0, [6, 1, 3], 60)
    return X[:45], Y[:45], (X[45:], Y[45:])


def test_local_sweep_records_curves_networks_and_best(tmp_path):
    X, Y, validation = problem()
    result = fastbp.sweep(X, Y, hidden=[2, (4, 3)], lr=[0.2, 1.0], seeds=2, epochs=30, validation=validation)
    assert len(result) == 8
    records = result.records
    assert [(r["hidden"], r["lr"], r["seed"]) for r in records[:3]] == [("2", 0.2, 0), ("2", 0.2, 1), ("2", 1.0, 0)]
    assert records[4]["hidden"] == "4-3"
    # each configuration is exactly fastbp.train of Network.random(sizes, seed)
    for index in (0, 7):
        config = result.configs[index]
        net = fastbp.Network.random((6, *config.hidden, 3), seed=config.seed)
        history = fastbp.train(net, X, Y, epochs=30, lr=config.lr, seed=0)
        assert net == result.network(index)
        np.testing.assert_array_equal(history.errors, result.errors(index))
        assert records[index]["train_error"] == history.final_error
        assert records[index]["val_error"] == net.error(*validation)
    best = result.best("val_error")
    assert best["val_error"] == min(r["val_error"] for r in records)
    result.to_csv(tmp_path / "s.csv")
    lines = (tmp_path / "s.csv").read_text().splitlines()
    assert lines[0] == "hidden,lr,seed,train_error,val_error,seconds" and len(lines) == 9


MODEL = dict(activation="tanh", output_activation="softmax", loss="cross_entropy", optimizer="adam",
             weight_decay=1e-3)  # fmt: skip


def test_model_options_reach_every_configuration():
    """Activations, loss, optimiser and weight decay: each configuration is still train() alone."""
    X, Y, validation = problem()
    Y, validation = np.eye(3)[Y.argmax(axis=1)], (validation[0], np.eye(3)[validation[1].argmax(axis=1)])
    result = fastbp.sweep(X, Y, hidden=[2, (4, 3)], lr=[0.01, 0.05], epochs=20, validation=validation, **MODEL)
    for index in (0, 3):
        config = result.configs[index]
        activations = ("tanh",) * len(config.hidden) + ("softmax",)
        net = fastbp.Network.random((6, *config.hidden, 3), seed=config.seed, activations=activations)
        options = {k: v for k, v in MODEL.items() if "activation" not in k}
        history = fastbp.train(net, X, Y, epochs=20, lr=config.lr, seed=0, **options)
        assert net == result.network(index) and result.network(index).activations == activations
        np.testing.assert_array_equal(history.errors, result.errors(index))
        record = result.records[index]
        assert record["train_error"] == history.final_error
        assert record["val_error"] == net.error(*validation, loss="cross_entropy")
        assert record["val_accuracy"] == datasets.accuracy(net.forward(validation[0]), validation[1])


def test_one_hot_targets_add_accuracy():
    iris = datasets.iris().scaled()
    train, val = iris.split(0.2, seed=0)
    result = fastbp.sweep(train.X, train.Y, hidden=[4], lr=[0.5], seeds=[3, 4], epochs=50, validation=(val.X, val.Y))
    assert 0.5 < result.best("val_accuracy")["val_accuracy"] <= 1.0
    with pytest.raises(ValueError, match="metric must be one of"):
        result.best("speed")


def test_bad_grids_are_refused():
    X, Y, _ = problem()
    with pytest.raises(ValueError, match=r"hidden\[1\] must be >= 1"):
        fastbp.sweep(X, Y, hidden=[2, 0], lr=[0.1])
    with pytest.raises(ValueError, match=r"lr\[0\] must be finite"):
        fastbp.sweep(X, Y, hidden=[2], lr=[float("nan")])
    with pytest.raises(TypeError, match="seeds must be"):
        fastbp.sweep(X, Y, hidden=[2], lr=[0.1], seeds=[])
    with pytest.raises(ValueError, match="momentum"):
        fastbp.sweep(X, Y, hidden=[2], lr=[0.1], momentum=3.0)
    with pytest.raises(TypeError, match="validation must be a pair"):
        fastbp.sweep(X, Y, hidden=[2], lr=[0.1], validation=X)
    with pytest.raises(TypeError, match="unknown option 'seed'; it passes on nesterov, train_biases"):
        fastbp.sweep(X, Y, hidden=[2], lr=[0.1], seed=3)  # (the grid's seeds set the weights)
    with pytest.raises(TypeError, match="unknown option 'patience'"):
        fastbp.sweep(X, Y, hidden=[2], lr=[0.1], patience=3)
    with pytest.raises(ValueError, match="activation must be one of"):
        fastbp.sweep(X, Y, hidden=[2], lr=[0.1], activation="softmax")
    with pytest.raises(ValueError, match="output_activation must be one of"):
        fastbp.sweep(X, Y, hidden=[2], lr=[0.1], output_activation="sigmoid")
    with pytest.raises(ValueError, match="cross_entropy"):
        fastbp.sweep(X, Y, hidden=[2], lr=[0.1], output_activation="tanh", loss="cross_entropy")
    with pytest.raises(ValueError, match="momentum applies to optimizer='sgd', not optimizer='adam'"):
        fastbp.sweep(X, Y, hidden=[2], lr=[0.1], optimizer="adam", momentum=0.5)


def test_command_line_sweep_with_a_model(tmp_path):
    args = [sys.executable, "-m", "fastbp", "sweep", "iris", "--hidden", "3", "--lr", "0.01,0.05", "--seeds", "2",
            "--epochs", "20", "--scale", "--activation", "tanh", "--output-activation", "softmax", "--loss",
            "cross_entropy", "--optimizer", "adam", "--weight-decay", "0.001", "--out", "s.csv"]  # fmt: skip
    out = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=300, check=True).stdout
    assert "4 configurations" in out and "tanh hidden, softmax output, optimizer adam, loss cross_entropy" in out
    iris = datasets.iris()
    train, val = iris.split(0.2, seed=0)
    _, bounds = datasets.minmax_scale(train.X)
    train, val = train.scaled(bounds), val.scaled(bounds)
    result = fastbp.sweep(train.X, train.Y, hidden=[3], lr=[0.01, 0.05], seeds=2, epochs=20,
                          validation=(val.X, val.Y), **MODEL)  # fmt: skip
    rows = [line.split(",")[:-1] for line in (tmp_path / "s.csv").read_text().splitlines()[1:]]  # all but seconds
    assert [float(row[4]) for row in rows] == [r["val_error"] for r in result.records]
    refused = subprocess.run([*args[:-2], "--output-activation", "tanh"], cwd=tmp_path, capture_output=True, text=True)
    assert refused.returncode == 2 and "cross_entropy" in refused.stderr and "Traceback" not in refused.stderr


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    options = dict(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    with distributed.LocalCluster(**options) as local, distributed.Client(local) as client:
        yield client


def slow_problem():
    rng = np.random.default_rng(1)
    X = rng.uniform(size=(150, 12))
    Y = np.eye(3)[rng.integers(0, 3, 150)]
    return X[:120], Y[:120], (X[120:], Y[120:])


GRID = dict(hidden=[4, 8], lr=[0.1, 0.5, 1.0], seeds=4, epochs=400)


@pytest.mark.slow
def test_cluster_gives_the_local_numbers(cluster):
    X, Y, validation = slow_problem()
    local = fastbp.sweep(X, Y, validation=validation, **GRID)
    remote = fastbp.sweep(X, Y, validation=validation, client=cluster, **GRID)
    assert [r["val_error"] for r in remote.records] == [r["val_error"] for r in local.records]
    assert remote.network(5) == local.network(5)
    grid = dict(hidden=[3, (4, 2)], lr=[0.01, 0.05], seeds=2, epochs=50, validation=validation, **MODEL)
    local, remote = fastbp.sweep(X, Y, **grid), fastbp.sweep(X, Y, client=cluster, **grid)
    assert (
        remote.records[0]["val_error"] != fastbp.sweep(X, Y, **{**grid, "activation": "relu"}).records[0]["val_error"]
    )
    assert [r["val_error"] for r in remote.records] == [r["val_error"] for r in local.records]
    assert remote.network(5) == local.network(5) and remote.network(5).activations == ("tanh", "tanh", "softmax")


@pytest.mark.slow
def test_a_worker_killed_mid_sweep_costs_only_its_batch(cluster):
    X, Y, validation = slow_problem()
    local = fastbp.sweep(X, Y, validation=validation, **GRID)
    pids = list(cluster.run(os.getpid).values())
    started = threading.Event()

    def kill_one_worker():
        started.wait()
        deadline = time.time() + 30
        while time.time() < deadline and not any(cluster.processing().values()):
            time.sleep(0.01)
        time.sleep(0.2)
        os.kill(pids[0], signal.SIGKILL)

    killer = threading.Thread(target=kill_one_worker)
    killer.start()
    started.set()
    remote = fastbp.sweep(X, Y, validation=validation, client=cluster, **{**GRID, "epochs": 1500})
    killer.join()
    reference = fastbp.sweep(X, Y, validation=validation, **{**GRID, "epochs": 1500})
    assert [r["val_error"] for r in remote.records] == [r["val_error"] for r in reference.records]
    assert len(local) == len(remote)
    cluster.wait_for_workers(2, timeout=60)  # the nanny has restarted the killed worker
    assert pids[0] not in cluster.run(os.getpid).values()  # so the kill did happen


@pytest.mark.slow
def test_command_line_sweep_with_a_scheduler(tmp_path, cluster):
    pytest.importorskip("matplotlib")
    address = cluster.scheduler.address
    out = subprocess.run(
        [sys.executable, "-m", "fastbp", "sweep", "iris", "--hidden", "2", "--hidden", "4", "--lr", "0.1,0.5",
         "--seeds", "2", "--epochs", "40", "--scale", "--scheduler", address, "--out", "remote.csv",
         "--plot", "heat.png"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=True,
    ).stdout  # fmt: skip
    assert "8 configurations" in out and "on the Dask cluster" in out and "best: hidden" in out
    subprocess.run(
        [sys.executable, "-m", "fastbp", "sweep", "iris", "--hidden", "2", "--hidden", "4", "--lr", "0.1,0.5",
         "--seeds", "2", "--epochs", "40", "--scale", "--out", "local.csv"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    strip = lambda text: [line.rsplit(",", 1)[0] for line in text.splitlines()]  # noqa: E731 - all but seconds
    assert strip((tmp_path / "remote.csv").read_text()) == strip((tmp_path / "local.csv").read_text())
    assert (tmp_path / "heat.png").exists()


@pytest.mark.slow
def test_back_to_back_sweeps_on_the_same_data(cluster):
    """Each sweep scatters its data under fresh keys: releasing one sweep's data never starves the next."""
    X, Y, validation = problem()
    results = [fastbp.sweep(X, Y, hidden=[2, 3], lr=[0.5], seeds=3, epochs=5, validation=validation, client=cluster)
               for _ in range(6)]  # fmt: skip
    errors = [[record["val_error"] for record in r.records] for r in results]
    assert all(e == errors[0] for e in errors)
