"""train(): minibatch, momentum, biases, shuffle and History against independent statements."""

import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from reference import numpy_train, random_problem

import fastbp


@given(
    seed=st.integers(0, 2**32 - 1),
    n_samples=st.integers(1, 12),
    batch=st.integers(1, 14),
    momentum=st.sampled_from([0.0, 0.3, 0.9]),
    tied=st.booleans(),
    train_biases=st.booleans(),
    engine=st.sampled_from(["numba", "python"]),
)
def test_minibatch_and_momentum_match_numpy_statement(seed, n_samples, batch, momentum, tied, train_biases, engine):
    net, X, Y = random_problem(seed, [3, 4, 2], n_samples)
    if tied:
        net = fastbp.Network.from_arrays(net.weights, [net.biases[0][0], net.biases[1]])
    weights, biases = net.weights, net.biases
    h = fastbp.train(
        net, X, Y, epochs=3, lr=0.4, batch_size=batch, momentum=momentum, train_biases=train_biases, engine=engine
    )
    orders = [np.arange(n_samples)] * 3
    W, b, errors = numpy_train(weights, biases, net.tied_biases, X, Y, orders, 0.4, batch, momentum, train_biases)
    for got, want in zip(net.weights + net.biases, W + b):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(h.errors, errors, rtol=1e-10)


def test_full_batch_is_one_update_per_epoch():
    net, X, Y = random_problem(1, [2, 3, 1], 7)
    full, explicit = net.copy(), net.copy()
    fastbp.train(full, X, Y, epochs=5, batch_size=None)
    fastbp.train(explicit, X, Y, epochs=5, batch_size=7)
    assert full == explicit
    W, b, _ = numpy_train(net.weights, net.biases, net.tied_biases, X, Y, [np.arange(7)] * 5, 0.5, 7, 0.0, True)
    np.testing.assert_allclose(full.weights[0], W[0], rtol=1e-10)


def test_batch_larger_than_block_gives_the_same_mean_gradient():
    """Batches bigger than the kernel's 256-sample blocks: same result as the NumPy statement."""
    net, X, Y = random_problem(2, [4, 5, 3], 700)
    fastbp.train(net_copy := net.copy(), X, Y, epochs=2, batch_size=600, lr=2.0)
    W, b, _ = numpy_train(net.weights, net.biases, net.tied_biases, X, Y, [np.arange(700)] * 2, 2.0, 600, 0.0, True)
    for got, want in zip(net_copy.weights + net_copy.biases, W + b):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-13)


def test_tied_bias_trains_on_sum_of_layer_deltas(article):
    """A tied bias moves by -lr times the SUM of its layer's deltas; per-unit biases by their own delta."""
    net, X, Y = article
    t = fastbp.trace(net, X[0], Y[0])
    for engine in ["numba", "python"]:
        tied = net.copy()
        fastbp.train(tied, X, Y, epochs=1, lr=0.5, train_biases=True, engine=engine)
        for l in range(2):
            expected = net.biases[l][0] - 0.5 * t.deltas[l].sum()
            np.testing.assert_allclose(tied.biases[l], [expected, expected], rtol=1e-15)
        per_unit = fastbp.Network.from_arrays(net.weights, net.biases)
        fastbp.train(per_unit, X, Y, epochs=1, lr=0.5, engine=engine)
        for l in range(2):
            np.testing.assert_allclose(per_unit.biases[l], net.biases[l] - 0.5 * t.deltas[l], rtol=1e-15)


@pytest.mark.parametrize("engine", ["numba", "python"])
def test_frozen_biases_do_not_move(engine):
    net, X, Y = random_problem(3, [3, 4, 2], 5)
    before = net.biases
    fastbp.train(net, X, Y, epochs=3, train_biases=False, batch_size=2, momentum=0.5, engine=engine)
    for a, b in zip(net.biases, before):
        np.testing.assert_array_equal(a, b)


def test_shuffle_is_seeded_and_changes_each_epoch():
    net, X, Y = random_problem(4, [2, 3, 2], 6)
    runs = []
    for seed in [11, 11, 12]:
        n = net.copy()
        fastbp.train(n, X, Y, epochs=4, shuffle=True, seed=seed)
        runs.append(n)
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]
    # The same seed draws a fresh permutation per epoch, as numpy's default_rng(seed) does.
    rng = np.random.default_rng(11)
    orders = [rng.permutation(6) for _ in range(4)]
    W, b, _ = numpy_train(net.weights, net.biases, net.tied_biases, X, Y, orders, 0.5, 1, 0.0, True)
    np.testing.assert_allclose(runs[0].weights[1], W[1], rtol=1e-12)


def test_shuffled_long_runs_span_several_chunks(monkeypatch):
    """Runs longer than one chunk of sample orders give the same result as one chunk."""
    from fastbp import _loop

    net, X, Y = random_problem(5, [2, 3, 2], 5)
    one = net.copy()
    fastbp.train(one, X, Y, epochs=7, shuffle=True, seed=1, momentum=0.5)
    monkeypatch.setattr(_loop, "CHUNK_SAMPLES", 10)  # two epochs per chunk
    many = net.copy()
    fastbp.train(many, X, Y, epochs=7, shuffle=True, seed=1, momentum=0.5)
    assert one == many


def test_history_records_each_epoch_before_updates():
    net, X, Y = random_problem(6, [2, 3, 2], 4)
    start = net.error(X, Y)
    called = time.perf_counter()
    h = fastbp.train(net, X, Y, epochs=3, batch_size=None)
    returned = time.perf_counter()
    assert h.errors.shape == (3,)
    assert h.errors[0] == pytest.approx(start, rel=1e-15)  # full batch: epoch 0 is measured before any update
    assert h.final_error == net.error(X, Y)
    assert 0.0 < h.seconds < returned - called  # the training loop's time, within the call's


def test_zero_epochs_changes_nothing():
    net, X, Y = random_problem(7, [2, 2, 1], 3)
    before = net.copy()
    h = fastbp.train(net, X, Y, epochs=0)
    assert net == before and h.errors.shape == (0,)


def test_training_reduces_error_on_xor():
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    Y = np.array([[0], [1], [1], [0]], dtype=float)
    net = fastbp.Network.random((2, 4, 1), seed=1)
    h = fastbp.train(net, X, Y, epochs=5000, lr=2.0)
    assert h.final_error < 0.01
    np.testing.assert_array_equal(net.forward(X).round(), Y)


def test_one_dimensional_sample(article):
    net, X, Y = article
    other = net.copy()
    fastbp.train(net, X[0], Y[0], epochs=2)
    fastbp.train(other, X, Y, epochs=2)
    assert net == other


@pytest.mark.parametrize("engine", ["numba", "python"])
def test_divergence_raises_floating_point_error(engine):
    net, X, Y = random_problem(8, [2, 3, 1], 4)
    before = net.copy()
    with pytest.raises(FloatingPointError, match="epoch 1: the mean error became inf"):
        fastbp.train(net, X, Y * 1e200, epochs=5, lr=0.5, engine=engine)  # E = (1e200)^2 overflows
    assert net == before  # restored: no epoch finished with a finite error
    net = fastbp.Network.from_arrays([[[0.0, 0.0]]], [[0.0]])  # out = 0.5: not saturated
    # The bias's velocity sums lr * 0.125 * (1 + 0.99 + 0.99^2 + ...): past 1.8e308 in epoch 16.
    with pytest.raises(FloatingPointError, match="epoch 16: a weight or bias became non-finite"):
        fastbp.train(net, [[1e-300, 1e-300]], [[1.0]], epochs=50, lr=1e308, momentum=0.99, engine=engine)
    assert np.isfinite(net._params).all()


@pytest.mark.parametrize("engine", ["numba", "python"])
def test_divergence_keeps_the_last_finite_epoch(engine):
    """The network holds exactly the weights after the last epoch whose results were all finite."""
    net = fastbp.Network.from_arrays([[[0.0, 0.0]]], [[0.0]])
    X, Y = [[1e-300, 1e-300]], [[1.0]]
    with pytest.raises(FloatingPointError, match=r"epoch (\d+)") as info:
        fastbp.train(diverged := net.copy(), X, Y, epochs=50, lr=1e308, momentum=0.99, engine=engine)
    last_good = int(info.value.args[0].split("after epoch ")[1].split(";")[0])
    assert last_good == 15
    fastbp.train(reference := net.copy(), X, Y, epochs=last_good, lr=1e308, momentum=0.99, engine=engine)
    assert diverged == reference


def test_progress_bar(capsys):
    pytest.importorskip("tqdm")
    net, X, Y = random_problem(9, [2, 3, 1], 4)
    quiet = net.copy()
    fastbp.train(net, X, Y, epochs=250, progress=True)
    fastbp.train(quiet, X, Y, epochs=250)
    assert net == quiet  # chunked for the bar, same result
    assert "250/250" in capsys.readouterr().err
