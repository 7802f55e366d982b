"""The Huber loss (loss="huber", huber_delta): on every kernel path against the oracle, against finite
differences, and everywhere the other losses go (train_many, checkpoints, trace, the command line); its option
refused where it does not apply. (Against PyTorch's HuberLoss: tests/test_torch_reference.py.)"""

import numpy as np
import pytest
from reference import compiled_and_oracle, finite_difference_gradients, model_problem

import fastbp
from fastbp import cli

DELTA = 0.3  # below most of the problems' errors at the start: both pieces of the loss are taken

# Every kernel path (kernel, batch size, optimiser), each with an element-wise and a softmax output.
PATHS = {
    "online": dict(batch_size=1, kernel="loops"),
    "online momentum layerwise": dict(batch_size=1, momentum=0.9, update="layerwise", kernel="loops"),
    "online adam": dict(batch_size=1, optimizer="adam", lr=0.01),
    "minibatch": dict(batch_size=3, kernel="loops"),
    "minibatch rprop": dict(batch_size=3, optimizer="rprop", lr=0.01, kernel="loops"),
    "full batch": dict(batch_size=None, kernel="loops"),
    "blas": dict(batch_size=4, kernel="blas"),
}


@pytest.mark.parametrize("output", ["identity", "tanh", "softmax"])
@pytest.mark.parametrize("path", PATHS)
def test_every_path_trains_as_the_oracle(path, output):
    net, X, Y = model_problem(5, (3, 5, 3), 9, ("tanh", output), classes=output == "softmax")
    Y = 2.0 * Y  # (errors beyond huber_delta as well as within)
    options = dict(epochs=4, lr=0.2, loss="huber", huber_delta=DELTA, shuffle=True, seed=1) | PATHS[path]
    fast, h_fast = compiled_and_oracle(net, X, Y, **options)
    assert h_fast.final_error == pytest.approx(fast.error(X, Y, loss="huber", huber_delta=DELTA), rel=1e-15)


def test_the_unrolled_kernel_and_the_lanes_give_the_loops_bits():
    net, X, Y = model_problem(6, (2, 3, 2), 6, ("tanh", "identity"))
    Y = 3.0 * Y
    options = dict(epochs=30, lr=0.1, loss="huber", huber_delta=DELTA)
    unrolled, loops = net.copy(), net.copy()
    fastbp.train(unrolled, X, Y, kernel="unrolled", **options)
    fastbp.train(loops, X, Y, kernel="loops", **options)
    assert unrolled == loops
    nets = [fastbp.Network.random((2, 3, 2), seed=k, activations=("tanh", "identity")) for k in range(6)]
    alone = [n.copy() for n in nets]
    histories = fastbp.train_many(nets, X, Y, **options)
    for together, single, history in zip(nets, alone, histories):
        np.testing.assert_array_equal(fastbp.train(single, X, Y, **options).errors, history.errors)
        assert together == single


@pytest.mark.parametrize("output", ["identity", "softmax"])
def test_gradients_match_central_differences(output):
    net, X, Y = model_problem(2, (3, 4, 3), 6, ("tanh", output), classes=output == "softmax")
    Y = 2.0 * Y
    dW, db = net.gradients(X, Y, loss="huber", huber_delta=DELTA)
    numeric_W, numeric_b = finite_difference_gradients(net, X, Y, loss="huber", huber_delta=DELTA)
    for got, want in zip(dW + db, numeric_W + numeric_b):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9)


def test_its_two_pieces():
    """E = sum over outputs of d^2 / 2 within huber_delta of the target, huber_delta (|d| - huber_delta / 2)
    beyond; a large huber_delta is half the squared error, the article's."""
    net = fastbp.Network.from_arrays([np.eye(2)], [np.zeros(2)], activations="identity")
    X, Y = np.array([[0.1, 2.0]]), np.array([[0.0, 0.0]])
    assert net.error(X, Y, loss="huber", huber_delta=0.5) == pytest.approx(0.5 * 0.1**2 + 0.5 * (2.0 - 0.25))
    assert net.error(X, Y, loss="huber", huber_delta=10.0) == net.error(X, Y)


def test_huber_delta_is_refused_where_it_does_not_apply():
    net, X, Y = model_problem(1, (2, 3, 1), 4, ("tanh", "identity"))
    before = net.copy()
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="huber_delta"):
            fastbp.train(net, X, Y, loss="huber", huber_delta=bad)
    with pytest.raises(ValueError, match="huber_delta applies to loss='huber', not loss='squared'"):
        fastbp.train(net, X, Y, huber_delta=2.0)
    with pytest.raises(ValueError, match="huber_delta applies to loss='huber'"):
        net.error(X, Y, huber_delta=2.0)
    with pytest.raises(ValueError, match="huber_delta applies to loss='huber'"):
        fastbp.train_many([net], X, Y, loss="squared", huber_delta=2.0)
    with pytest.raises(TypeError, match="huber_delta"):
        fastbp.train(net, X, Y, loss="huber", huber_delta="1")
    assert net == before


def test_a_resumed_run_is_bit_identical_and_another_delta_is_refused(tmp_path):
    net, X, Y = model_problem(3, (3, 4, 2), 8, ("relu", "identity"))
    options = dict(lr=0.1, loss="huber", huber_delta=DELTA, batch_size=2, shuffle=True, seed=5)
    whole, part = net.copy(), net.copy()
    fastbp.train(whole, X, Y, epochs=6, **options)
    path = tmp_path / "run.npz"
    fastbp.train(part, X, Y, epochs=3, checkpoint=path, **options)
    with pytest.raises(ValueError, match="huber_delta"):
        fastbp.train(part.copy(), X, Y, epochs=6, resume=path, **(options | {"huber_delta": 0.5}))
    fastbp.train(part, X, Y, epochs=6, resume=path, **options)
    assert part == whole


def test_trace_writes_the_huber_loss():
    net = fastbp.article_network()
    text = str(fastbp.trace(net, [0.05, 0.1], [0.01, 0.99], loss="huber", huber_delta=0.5))
    # out_o1 = 0.75136507 is 0.74136507 from its target (beyond 0.5: clipped); out_o2 is 0.217071535 from its.
    assert "E_o1 = h(target_o1 - out_o1) = h(0.01 - 0.75136507), h(d) = d^2/2 where |d| <= 0.5" in text
    assert "else 0.5 (|d| - 0.5/2) = 0.245682535" in text  # 0.5 (0.74136507 - 0.25)
    assert "E_o2 = h(target_o2 - out_o2) = h(0.99 - 0.772928465)" in text and "= 0.023560026" in text  # the article's
    assert "dE_total/dout_o1 = -(target_o1 - out_o1) clipped to [-0.5, 0.5] = 0.5" in text
    assert "dE_total/dout_o2 = -(target_o2 - out_o2) clipped to [-0.5, 0.5] = -0.217071535" in text


def test_the_command_line_takes_huber_delta(capsys):
    assert cli.main(["train", "xor", "--hidden", "3", "--epochs", "5", "--loss", "huber", "--huber-delta",
                     "0.25"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "loss huber" in out and "training error (huber)" in out
    with pytest.raises(SystemExit):
        cli.main(["train", "xor", "--epochs", "1", "--huber-delta", "0"])
    assert "huber_delta must be > 0" in capsys.readouterr().err


def test_sweep_trains_and_scores_with_huber_delta():
    """sweep passes huber_delta on to train_many and scores each network's validation error with it."""
    net, X, Y = model_problem(8, (3, 4, 2), 12, ("silu", "identity"))
    Y = 3.0 * Y
    result = fastbp.sweep(X, Y, hidden=[4], seeds=2, epochs=5, lr=[0.1], loss="huber", huber_delta=DELTA,
                          validation=(X, Y), activation="silu", output_activation="identity")  # fmt: skip
    for seed, record in zip(range(2), result.records):
        alone = fastbp.Network.random((3, 4, 2), seed=seed, activations=("silu", "identity"))
        fastbp.train(alone, X, Y, epochs=5, lr=0.1, loss="huber", huber_delta=DELTA)
        assert record["val_error"] == alone.error(X, Y, loss="huber", huber_delta=DELTA)
        assert record["val_error"] != alone.error(X, Y, loss="huber")  # (the default delta would score otherwise)
