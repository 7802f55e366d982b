"""float32 networks: kept through training, saving and loading; close to float64 on the benchmark workloads."""

import numpy as np
import pytest
from reference import random_problem

import fastbp


def test_float32_is_kept_everywhere(tmp_path):
    net = fastbp.Network.random((5, 4, 3), seed=0, dtype=np.float32)
    assert net.dtype == np.float32 and "float32" in repr(net)
    assert all(W.dtype == np.float32 for W in net.weights + net.biases)
    _, X, Y = random_problem(0, [5, 1, 3], 9)
    fastbp.train(net, X, Y, epochs=3, batch_size=2, momentum=0.5)
    assert net.dtype == np.float32 and net.forward(X).dtype == np.float32
    dW, db = net.gradients(X, Y)
    assert dW[0].dtype == np.float32
    net.save(tmp_path / "n.npz")
    loaded = fastbp.load(tmp_path / "n.npz")
    assert loaded == net and loaded.dtype == np.float32
    assert fastbp.Network.from_arrays(net.weights, net.biases).dtype == np.float64  # the default stays float64
    with pytest.raises(ValueError, match="dtype must be float64 or float32"):
        fastbp.Network.random((2, 1), dtype=np.float16)
    with pytest.raises(ValueError, match="finite in float32"):
        fastbp.Network.from_arrays([[[1e300]]], [0.0], dtype=np.float32)


def test_float32_checkpoint_resume(tmp_path):
    net = fastbp.Network.random((4, 6, 2), seed=1, dtype=np.float32)
    _, X, Y = random_problem(1, [4, 1, 2], 8)
    whole = net.copy()
    fastbp.train(whole, X, Y, epochs=10, momentum=0.9, shuffle=True, seed=2)
    resumed = net.copy()  # holds the checkpoint's weights after the first 5 epochs (resume refuses unrelated ones)
    fastbp.train(resumed, X, Y, epochs=5, momentum=0.9, shuffle=True, seed=2, checkpoint=tmp_path / "c")
    fastbp.train(resumed, X, Y, epochs=10, momentum=0.9, shuffle=True, seed=2, resume=tmp_path / "c")
    assert resumed == whole


def test_train_many_float32_is_bit_identical_and_refuses_mixed_dtypes():
    nets = [fastbp.Network.random((3, h, 2), seed=h, dtype=np.float32) for h in (2, 5, 9)]
    _, X, Y = random_problem(2, [3, 1, 2], 6)
    alone = [n.copy() for n in nets]
    fastbp.train_many(nets, X, Y, epochs=4, lr=[0.1, 0.5, 1.0])
    for net, single, lr in zip(nets, alone, [0.1, 0.5, 1.0]):
        fastbp.train(single, X, Y, epochs=4, lr=lr)
        assert net == single
    with pytest.raises(ValueError, match="dtype float32"):
        fastbp.train_many([nets[0], fastbp.Network.random((3, 2, 2), seed=0)], X, Y)


def relative(a: fastbp.Network, b: fastbp.Network) -> float:
    """||a - b|| / ||b|| over all parameters."""
    return float(np.linalg.norm(a._params.astype(np.float64) - b._params) / np.linalg.norm(b._params))


def test_float32_within_1e5_of_float64_on_digits_online():
    pytest.importorskip("sklearn")
    from fastbp import datasets

    digits = datasets.digits()
    single = fastbp.Network.random((64, 32, 10), seed=0, dtype=np.float32)
    double = fastbp.Network.from_arrays(single.weights, single.biases)  # the same (rounded) start
    h32 = fastbp.train(single, digits.X, digits.Y, epochs=1, lr=0.1)
    h64 = fastbp.train(double, digits.X, digits.Y, epochs=1, lr=0.1)
    assert relative(single, double) < 1e-5
    assert abs(h32.final_error / h64.final_error - 1) < 1e-5


def test_float32_within_1e5_of_float64_on_wide_minibatches():
    rng = np.random.default_rng(0)
    X, Y = rng.uniform(size=(3000, 784)), np.eye(10)[rng.integers(0, 10, 3000)]
    single = fastbp.Network.random((784, 128, 10), seed=0, dtype=np.float32)
    double = fastbp.Network.from_arrays(single.weights, single.biases)
    h32 = fastbp.train(single, X, Y, epochs=1, lr=0.1, batch_size=64)
    h64 = fastbp.train(double, X, Y, epochs=1, lr=0.1, batch_size=64)
    assert relative(single, double) < 1e-5
    assert abs(h32.final_error / h64.final_error - 1) < 1e-5
