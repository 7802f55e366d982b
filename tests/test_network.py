"""Network construction, accessors, copies, forward, error, save and load."""

import math

import numpy as np
import pytest
from reference import random_problem

import fastbp
from fastbp import catalogue, oracle


def test_from_arrays_copies_and_converts():
    W = np.array([[1, 2], [3, 4]], dtype=np.int32)
    net = fastbp.Network.from_arrays([W], [np.array([0.5, 0.25], dtype=np.float32)])
    W[0, 0] = 100
    assert net.weights[0].dtype == np.float64 and net.weights[0][0, 0] == 1.0
    assert net.sizes == (2, 2) and net.tied_biases == (False,)


def test_accessors_return_copies():
    net = fastbp.article_network()
    net.weights[0][0, 0] = 9.0
    net.biases[0][0] = 9.0
    assert net.weights[0][0, 0] == 0.15 and net.biases[0][0] == 0.35


def test_tied_bias_shows_repeated_value():
    net = fastbp.Network.from_arrays([np.zeros((3, 2))], [0.7])
    np.testing.assert_array_equal(net.biases[0], [0.7, 0.7, 0.7])
    assert net.tied_biases == (True,)


def test_random_is_deterministic_and_glorot_scaled():
    a = fastbp.Network.random((64, 32, 10), seed=0)
    b = fastbp.Network.random((64, 32, 10), seed=0)
    c = fastbp.Network.random((64, 32, 10), seed=1)
    assert a == b and a != c
    bound = math.sqrt(2 / (64 + 32))
    assert np.abs(a.weights[0]).max() <= bound
    assert np.abs(a.weights[0]).max() > 0.9 * bound  # uses the range, not a tiny corner
    assert fastbp.Network.random((3, 2), seed=0, tied_biases=True).tied_biases == (True,)


def test_copy_is_independent(article):
    net, X, Y = article
    other = net.copy()
    fastbp.train(other, X, Y)
    assert net == fastbp.article_network() and other != net


def test_repr():
    assert repr(fastbp.article_network()) == "Network(sizes=(2, 2, 2), biases=[tied, tied])"
    assert "per-unit" in repr(fastbp.Network.random((3, 4, 1), seed=0))


def test_forward_shapes_and_values():
    net, X, _ = random_problem(0, [3, 4, 2], 5)
    out = net.forward(X)
    assert out.shape == (5, 2)
    np.testing.assert_array_equal(net.forward(X[0]), out[0])
    W = [w.tolist() for w in net.weights]
    b = [v.tolist() for v in net.biases]
    acts = [catalogue.activation(name) for name in net.activations]
    np.testing.assert_array_equal(out[3], oracle.forward(W, b, X[3].tolist(), acts)[1][-1])


def test_error_is_mean_over_samples():
    net, X, Y = random_problem(1, [3, 4, 2], 6)
    per_sample = [net.error(X[i], Y[i]) for i in range(6)]
    assert net.error(X, Y) == pytest.approx(np.mean(per_sample), rel=1e-14)
    assert per_sample[0] == pytest.approx(0.5 * ((Y[0] - net.forward(X[0])) ** 2).sum(), rel=1e-14)


@pytest.mark.parametrize("net_input", [-1000.0, -745.2, -1e308, 0.0, 1e308, 1000.0])
def test_logistic_is_safe_for_any_finite_input(net_input):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = oracle.logistic(net_input)
        net = fastbp.Network.from_arrays([[[1.0]]], [[0.0]])
        fast = net.forward([net_input])[0]
    assert 0.0 <= out <= 1.0 and out == fast


def test_save_load_round_trip(tmp_path):
    for net in [fastbp.article_network(), fastbp.Network.random((5, 4, 3, 2), seed=3)]:
        path = tmp_path / "net.npz"
        net.save(path)
        loaded = fastbp.load(path)
        assert loaded == net and loaded.tied_biases == net.tied_biases


def test_save_load_then_train_equals_one_run(tmp_path):
    net, X, Y = random_problem(4, [3, 4, 2], 5)
    whole = net.copy()
    fastbp.train(whole, X, Y, epochs=6)
    fastbp.train(net, X, Y, epochs=3)
    net.save(tmp_path / "half.npz")
    resumed = fastbp.load(tmp_path / "half.npz")
    fastbp.train(resumed, X, Y, epochs=3)
    assert resumed == whole


def test_load_refuses_bad_files(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        fastbp.load(tmp_path / "missing.npz")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="junk.npz"):
        fastbp.load(junk)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, X=np.zeros(3))
    with pytest.raises(ValueError, match="not a fastbp network"):
        fastbp.load(foreign)
    good = tmp_path / "good.npz"
    fastbp.article_network().save(good)
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[:200])
    with pytest.raises(ValueError, match="truncated.npz"):
        fastbp.load(truncated)
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, format=np.array("fastbp-network"), version=np.array(1), sizes=np.array([1, 1]),
             tied=np.array([False]), W0=np.array([[object()]], dtype=object), b0=np.array([0.0]))  # fmt: skip
    with pytest.raises(ValueError, match="pickled.npz"):
        fastbp.load(pickled)
    newer = tmp_path / "newer.npz"
    np.savez(newer, format=np.array("fastbp-network"), version=np.array(99))
    with pytest.raises(ValueError, match="newer"):
        fastbp.load(newer)
    one_array = tmp_path / "weights.npy"
    np.save(one_array, np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"weights.npy: not a readable fastbp network file \(it holds one array"):
        fastbp.load(one_array)
    with pytest.raises(ValueError, match="is a directory"):
        fastbp.load(tmp_path)


def test_load_checks_dtypes_and_tied_biases(tmp_path):
    good = tmp_path / "good.npz"
    fastbp.article_network().save(good)
    arrays = dict(np.load(good))
    assert arrays["dtype"].item() == "float64"
    for change, message in [
        (dict(W0=arrays["W0"].astype(np.float32)), "W0 has dtype float32"),
        (dict(b1=np.array([0.6, 0.7])), "b1 is tied but its values differ"),
        (dict(dtype=np.array("float16")), "holds a float16 network"),
        (dict(W1=np.array([[np.nan, 0.45], [0.5, 0.55]])), "must be finite"),
        (dict(W1=np.zeros((3, 2))), "damaged"),
    ]:
        np.savez(bad := tmp_path / "bad.npz", **{**arrays, **change})
        with pytest.raises(ValueError, match=message):
            fastbp.load(bad)
