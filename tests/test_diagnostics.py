"""diagnose=True: the statistics inside every kernel path against the oracle and NumPy, no bit of the
training changed, and the verdict's words."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from reference import random_problem

import fastbp
from fastbp import _dispatch, catalogue, diagnostics

STATISTICS = diagnostics.STATISTICS
XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = np.array([[0.0], [1.0], [1.0], [0.0]])


def trained(net, X, Y, **options):
    """(parameters, history) of a copy of net trained with these options."""
    net = net.copy()
    history = fastbp.train(net, X, Y, **options)
    return net._params, history


def assert_same_statistics(a, b, rtol=1e-12):
    for name in STATISTICS:
        x, y = getattr(a, name), getattr(b, name)
        assert x.shape == y.shape, name
        np.testing.assert_allclose(x, y, rtol=rtol, atol=1e-300, equal_nan=True, err_msg=name)


# Every kernel path that records them (kernel, batch size, optimiser and its options, update order).
PATHS = {
    "online plain": dict(batch_size=1),
    "online plain layerwise": dict(batch_size=1, update="layerwise"),
    "online momentum, decay": dict(batch_size=1, momentum=0.9, weight_decay=1e-3),
    "online adam": dict(batch_size=1, optimizer="adam", lr=0.01),
    "online rprop": dict(batch_size=1, optimizer="rprop", lr=0.01),
    "minibatch": dict(batch_size=3, kernel="loops"),
    "minibatch layerwise": dict(batch_size=3, kernel="loops", update="layerwise"),
    "minibatch adamw": dict(batch_size=4, kernel="loops", optimizer="adamw", lr=0.01, weight_decay=0.01),
    "full batch": dict(batch_size=None, kernel="loops"),
    "blas": dict(batch_size=4, kernel="blas"),
    "blas layerwise": dict(batch_size=4, kernel="blas", update="layerwise"),
}


@pytest.mark.parametrize("path", PATHS)
def test_every_path_records_the_oracles_statistics_and_changes_no_bit(path):
    net, X, Y = random_problem(7, (4, 6, 5, 3), 13)
    net = fastbp.Network.from_arrays(net.weights, net.biases, activations=("tanh", "relu", "logistic"))
    options = dict(epochs=5, lr=0.3, shuffle=True, seed=2) | PATHS[path]
    params, plain = trained(net, X, Y, **options)
    diagnosed_params, diagnosed = trained(net, X, Y, diagnose=True, **options)
    assert plain.diagnostics is None
    assert np.array_equal(params, diagnosed_params) and np.array_equal(plain.errors, diagnosed.errors)
    oracle_options = {k: v for k, v in options.items() if k != "kernel"}
    _, oracle = trained(net, X, Y, diagnose=True, engine="python", **oracle_options)
    assert_same_statistics(diagnosed.diagnostics, oracle.diagnostics)
    d = diagnosed.diagnostics
    assert d.gradient_norm.shape == (5, 3) and d.activations == ("tanh", "relu", "logistic")
    assert np.isnan(d.saturated[:, 1]).all() and np.isnan(d.dead[:, [0, 2]]).all()
    assert np.isfinite(d.saturated[:, [0, 2]]).all() and np.isfinite(d.dead[:, 1]).all()


@given(
    hidden=st.lists(st.integers(1, 5), min_size=1, max_size=2),
    activations=st.lists(st.sampled_from(catalogue.hidden_activations()), min_size=2, max_size=2),
    batch_size=st.sampled_from([1, 2, 5]),
    seed=st.integers(0, 2**16),
)
def test_random_networks_and_data_agree_with_the_oracle(hidden, activations, batch_size, seed):
    sizes = (3, *hidden, 2)
    net, X, Y = random_problem(seed, sizes, 7)
    acts = (*activations[: len(hidden)], "logistic")
    net = fastbp.Network.from_arrays(net.weights, net.biases, activations=acts)
    options = dict(epochs=3, lr=0.2, batch_size=batch_size, kernel="loops", diagnose=True)
    _, compiled = trained(net, X, Y, **options)
    _, oracle = trained(net, X, Y, engine="python", **{k: v for k, v in options.items() if k != "kernel"})
    assert_same_statistics(compiled.diagnostics, oracle.diagnostics, rtol=1e-11)


def test_the_statistics_are_what_their_definitions_say():
    """One full-batch epoch, computed here with NumPy from the network before and after it."""
    net, X, Y = random_problem(3, (5, 8, 4), 20)
    net = fastbp.Network.from_arrays(net.weights, net.biases, activations=("relu", "logistic"))
    net.weights[0][:3] = -np.abs(net.weights[0][:3])  # three units likely to be dead on these inputs
    before = net.copy()
    dW, _ = before.gradients(X, Y)
    history = fastbp.train(net, X, Y, epochs=1, lr=0.5, batch_size=None, diagnose=True)
    d = history.diagnostics
    for l in range(2):
        assert d.gradient_norm[0, l] == pytest.approx(np.linalg.norm(dW[l]), rel=1e-12)
        change = np.linalg.norm(net.weights[l] - before.weights[l]) / np.linalg.norm(before.weights[l])
        assert d.update_ratio[0, l] == pytest.approx(change, rel=1e-12)
    hidden_net = X @ before.weights[0].T + before.biases[0]
    assert d.dead[0, 0] == np.mean((hidden_net <= 0).all(axis=0))
    out = before.forward(X)
    assert d.saturated[0, 1] == np.mean(out * (1 - out) < 0.0025)
    assert np.isnan(d.saturated[0, 0]) and np.isnan(d.dead[0, 1])


def test_unrolled_and_lanes_runs_are_diagnosed_through_the_loops_with_the_same_bits():
    """The unrolled kernel's bits are the loops' (tests/test_unrolled.py): a diagnosed run that takes the
    loops instead gives the bits of the undiagnosed loops; the lanes record it themselves."""
    net = fastbp.Network.random((2, 2, 1), seed=1)
    options = dict(epochs=3000, lr=0.5)
    assert _dispatch.training_kernel(net, fastbp._options.check(4, **options), 4) is not fastbp._kernels.train_epochs
    diagnosing = fastbp._options.check(4, diagnose=True, **options)
    assert _dispatch.training_kernel(net, diagnosing, 4) is fastbp._kernels.train_epochs
    params, alone = trained(net, XOR_X, XOR_Y, kernel="loops", **options)
    diagnosed_params, diagnosed = trained(net, XOR_X, XOR_Y, diagnose=True, **options)
    assert np.array_equal(params, diagnosed_params) and np.array_equal(alone.errors, diagnosed.errors)
    nets = [fastbp.Network.random((2, 2, 1), seed=k) for k in range(10)]
    alone = [trained(net, XOR_X, XOR_Y, kernel="loops", **options) for net in nets]  # (train_many's bits)
    for kernel in ("lanes", "loops"):  # (the lanes' kernel, then train's own in the threads)
        diagnosed_nets = [n.copy() for n in nets]
        histories = fastbp.train_many(diagnosed_nets, XOR_X, XOR_Y, diagnose=True, kernel=kernel, **options)
        for a, h, (params, history) in zip(diagnosed_nets, histories, alone):
            assert np.array_equal(a._params, params) and np.array_equal(h.errors, history.errors)
        assert_same_statistics(histories[1].diagnostics, diagnosed.diagnostics, rtol=1e-12)


def test_diagnose_is_refused_where_it_cannot_be_recorded():
    net = fastbp.Network.random((2, 2, 1), seed=1)
    with pytest.raises(TypeError, match="diagnose"):
        fastbp.train(net, XOR_X, XOR_Y, diagnose="yes")
    with pytest.raises(TypeError, match="diagnose"):
        fastbp.train_many([net], XOR_X, XOR_Y, diagnose=1)
    with pytest.raises(ValueError, match="kernel='unrolled' records no diagnostics"):
        fastbp.train(net, XOR_X, XOR_Y, diagnose=True, kernel="unrolled")
    assert np.array_equal(net._params, fastbp.Network.random((2, 2, 1), seed=1)._params)  # (refused: untouched)
    with pytest.raises(ValueError, match="not diagnosed"):
        fastbp.train(net, XOR_X, XOR_Y).diagnosis()


def test_a_resumed_run_keeps_the_statistics_of_its_first_part(tmp_path):
    net, X, Y = random_problem(5, (3, 4, 2), 9)
    whole_params, whole = trained(net, X, Y, epochs=10, diagnose=True)
    first = net.copy()
    fastbp.train(first, X, Y, epochs=3, diagnose=True, checkpoint=tmp_path / "run.npz")
    history = fastbp.train(first, X, Y, epochs=10, diagnose=True, resume=tmp_path / "run.npz")
    assert np.array_equal(first._params, whole_params)
    assert_same_statistics(history.diagnostics, whole.diagnostics, rtol=0)
    undiagnosed = net.copy()  # a checkpoint written without diagnose: NaN for the epochs before it
    fastbp.train(undiagnosed, X, Y, epochs=3, checkpoint=tmp_path / "plain.npz")
    history = fastbp.train(undiagnosed, X, Y, epochs=10, diagnose=True, resume=tmp_path / "plain.npz")
    assert np.isnan(history.diagnostics.gradient_norm[:3]).all()
    np.testing.assert_array_equal(history.diagnostics.gradient_norm[3:], whole.diagnostics.gradient_norm[3:])


# --- The verdict -------------------------------------------------------------------------------------


def verdict_words(text: str) -> set[str]:
    return {word for word in diagnostics.TROUBLES if word in text}


def test_a_stuck_xor_network_is_saturated():
    """2-2-1 logistic networks that stop at a local minimum of XOR: a hidden unit on its flat spots."""
    nets = [fastbp.Network.random((2, 2, 1), seed=k) for k in range(30)]
    histories = fastbp.train_many(nets, XOR_X, XOR_Y, epochs=5000, lr=0.5, diagnose=True)
    stuck = [h for h in histories if h.errors[-1] > 0.05]
    solved = [h for h in histories if h.errors[-1] < 0.01]
    assert stuck and solved
    for h in stuck:
        assert "saturated" in verdict_words(h.diagnosis()) and "layer 1 (logistic)" in h.diagnosis()
    for h in solved:
        assert verdict_words(h.diagnosis()) == set() and h.diagnosis().startswith("No sign of trouble")


def test_relu_units_die_under_too_large_a_learning_rate():
    _, X, Y = random_problem(11, (8, 1, 3), 200)
    net = fastbp.Network.random((8, 32, 3), seed=0, activations=("relu", "identity"))
    calm = fastbp.train(net.copy(), X, Y, epochs=20, lr=0.01, batch_size=10, diagnose=True)
    wild = fastbp.train(net.copy(), X, Y, epochs=20, lr=3.0, batch_size=10, diagnose=True)
    assert "dead" not in verdict_words(calm.diagnosis())
    assert "dead" in verdict_words(wild.diagnosis()) and "layer 1 (relu)" in wild.diagnosis()
    assert wild.diagnostics.dead[-1, 0] >= diagnostics.DEAD


def synthetic(gradient_norm, errors, activations=("logistic", "logistic"), loss="squared", saturated=None):
    g = np.asarray(gradient_norm, float)
    nan = np.full_like(g, np.nan)
    return diagnostics.Diagnostics(g, nan, nan if saturated is None else np.asarray(saturated, float), nan,
                                   activations, loss), np.asarray(errors, float)  # fmt: skip


@pytest.mark.parametrize(
    "case, words",
    [
        ("healthy", set()),
        ("exploding", {"exploding"}),
        ("vanishing", {"vanishing"}),
        ("no progress", {"no progress"}),
        ("saturated output, squared", {"saturated", "no progress"}),
        ("saturated output, cross-entropy", {"no progress"}),
    ],
)
def test_each_trouble_word_appears_exactly_when_that_trouble_is_found(case, words):
    falling = np.geomspace(1.0, 0.01, 20)
    flat = np.full(20, 0.5)
    ones = np.ones((20, 2))
    d, errors = {
        "healthy": synthetic(ones, falling),
        "exploding": synthetic(ones * np.geomspace(1, 1e3, 20)[:, None], falling),
        "vanishing": synthetic(ones * [1e-5, 1.0], falling),
        "no progress": synthetic(ones, flat),
        "saturated output, squared": synthetic(ones, flat, saturated=ones * [0.1, 0.9]),
        "saturated output, cross-entropy": synthetic(ones, flat, saturated=ones * [0.1, 0.9], loss="cross_entropy"),
    }[case]
    text = diagnostics.diagnosis(d, errors)
    assert verdict_words(text) == words
    assert diagnostics.troubles(d, errors) == ("; ".join(w for w in diagnostics.TROUBLES if w in words)
                                               or diagnostics.NO_TROUBLE)  # fmt: skip
    if "vanishing" in words:
        assert "layer 1 (logistic)" in text and "layer 2" not in text


def test_sweep_gives_a_verdict_column():
    result = fastbp.sweep(XOR_X, XOR_Y, hidden=[2], lr=[0.5], seeds=30, epochs=3000, diagnose=True)
    verdicts = [record["verdict"] for record in result.records]
    assert "saturated" in " ".join(verdicts) and diagnostics.NO_TROUBLE in verdicts
    assert all(v == diagnostics.troubles(*_parts(result, k)) for k, v in enumerate(verdicts))
    assert result.diagnosis(0) == diagnostics.diagnosis(*_parts(result, 0))
    assert "verdict" not in fastbp.sweep(XOR_X, XOR_Y, hidden=[2], lr=[0.5], epochs=2).records[0]


def _parts(result, k):
    return result._results[k]["diagnostics"], result.errors(k)


def test_the_command_line_prints_the_verdict_and_draws_the_statistics(tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "run.png"
    done = subprocess.run(
        [sys.executable, "-m", "fastbp", "train", "xor", "--hidden", "2", "--epochs", "3000", "--seed", "3",
         "--diagnose", "--plot", str(png), "--quiet"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "diagnosis: " in done.stdout and "each layer's statistics" in done.stdout
    assert png.stat().st_size > 10_000
    plain = subprocess.run([sys.executable, "-m", "fastbp", "train", "xor", "--epochs", "5", "--quiet"],
                           capture_output=True, text=True, check=True)  # fmt: skip
    assert "diagnosis" not in plain.stdout
    csv = tmp_path / "sweep.csv"
    swept = subprocess.run(
        [sys.executable, "-m", "fastbp", "sweep", "xor", "--hidden", "2", "--seeds", "3", "--epochs", "3000",
         "--diagnose", "--quiet", "--val", "0.5", "--out", str(csv)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "verdicts: " in swept.stdout and csv.read_text().splitlines()[0].endswith(",verdict")
