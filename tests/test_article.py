"""Every number of ARTICLE_NUMBERS.md, through the oracle and the compiled engine."""

import numpy as np
import pytest
from reference import (
    BACKWARD,
    FORWARD,
    PUBLISHED,
    TRAINING,
    UPDATED_HIDDEN_WEIGHTS,
    UPDATED_OUTPUT_WEIGHTS,
    tolerance,
)

import fastbp

ENGINES = ["numba", "python"]


def article_quantities(t):
    """The article's named quantities, read off a trace."""
    o1, o2 = t.outputs[2]
    h1, h2 = t.outputs[1]
    d_o1, d_o2 = t.deltas[1]
    W_out = t.weights[1]
    return {
        "net_h1": t.net_inputs[0][0],
        "out_h1": h1,
        "out_h2": h2,
        "net_o1": t.net_inputs[1][0],
        "out_o1": o1,
        "out_o2": o2,
        "E_o1": 0.5 * (0.01 - o1) ** 2,
        "E_o2": 0.5 * (0.99 - o2) ** 2,
        "E_total": t.total_error,
        "dE/dout_o1": -(0.01 - o1),
        "dout_o1/dnet_o1": o1 * (1 - o1),
        "dE/dw5": t.weight_gradients[1][0, 0],
        "delta_o1": d_o1,
        "dE_o1/dout_h1": d_o1 * W_out[0, 0],
        "dE_o2/dout_h1": d_o2 * W_out[1, 0],
        "dE/dout_h1": d_o1 * W_out[0, 0] + d_o2 * W_out[1, 0],
        "dout_h1/dnet_h1": h1 * (1 - h1),
        "dE/dw1": t.weight_gradients[0][0, 0],
    }


@pytest.mark.parametrize("name, printed", FORWARD + BACKWARD)
def test_oracle_reproduces_first_table(article, name, printed):
    net, X, Y = article
    value = article_quantities(fastbp.trace(net, X[0], Y[0], lr=0.5))[name]
    assert abs(value - float(printed)) <= tolerance(printed)


def test_oracle_updated_weights(article):
    net, X, Y = article
    t = fastbp.trace(net, X[0], Y[0], lr=0.5)
    for got, printed in zip(t.updated_weights[1].ravel(), UPDATED_OUTPUT_WEIGHTS):
        assert abs(got - float(printed)) <= tolerance(printed)
    for got, printed in zip(t.updated_weights[0].ravel(), UPDATED_HIDDEN_WEIGHTS):
        assert abs(got - float(printed)) <= tolerance(printed)


def test_compiled_engine_first_table(article):
    """What the compiled kernels expose (outputs, error, gradients, one step) matches the table."""
    net, X, Y = article
    expect = {name: float(v) for name, v in FORWARD + BACKWARD}
    hidden = fastbp.Network.from_arrays([net.weights[0]], [0.35])
    h1, h2 = hidden.forward(X[0])
    o1, o2 = net.forward(X[0])
    dW, db = net.gradients(X, Y)
    got = {
        "out_h1": h1,
        "out_h2": h2,
        "out_o1": o1,
        "out_o2": o2,
        "E_total": net.error(X, Y),
        "dE/dw5": dW[1][0, 0],
        "delta_o1": db[1][0],  # dE/db for unit o1's own bias is its delta
        "dE/dw1": dW[0][0, 0],
    }
    for name, value in got.items():
        printed = dict(FORWARD + BACKWARD)[name]
        assert abs(value - expect[name]) <= tolerance(printed), name


@pytest.mark.parametrize("engine", ENGINES)
def test_one_round_updates_every_weight_as_the_article(article, engine):
    net, X, Y = article
    fastbp.train(net, X, Y, epochs=1, lr=0.5, train_biases=False, engine=engine)
    for got, printed in zip(net.weights[1].ravel(), UPDATED_OUTPUT_WEIGHTS):
        assert abs(got - float(printed)) <= tolerance(printed)
    for got, printed in zip(net.weights[0].ravel(), UPDATED_HIDDEN_WEIGHTS):
        assert abs(got - float(printed)) <= tolerance(printed)
    assert net.biases[0].tolist() == [0.35, 0.35] and net.biases[1].tolist() == [0.6, 0.6]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("update", ["simultaneous", "layerwise"])
def test_second_table(article, engine, update):
    """10,000 rounds in each update order: the full-precision figures of ARTICLE_NUMBERS.md."""
    net, X, Y = article
    expect = TRAINING[update]
    one = net.copy()
    h1 = fastbp.train(one, X, Y, epochs=1, lr=0.5, train_biases=False, update=update, engine=engine)
    assert h1.final_error == pytest.approx(expect["after_1"], rel=1e-13)
    assert abs(one.weights[0][0, 0] - float(expect["w1_after_1"])) <= 5e-10
    h = fastbp.train(net, X, Y, epochs=10_000, lr=0.5, train_biases=False, update=update, engine=engine)
    # history.errors[k] is measured before round k + 1's update: the error after k rounds.
    assert h.errors[1] == pytest.approx(expect["after_1"], rel=1e-13)
    assert h.errors[9_999] == pytest.approx(expect["after_9999"], rel=1e-11)
    assert h.final_error == pytest.approx(expect["after_10000"], rel=1e-11)
    np.testing.assert_allclose(net.forward(X[0]), expect["outputs"], rtol=1e-12)


@pytest.mark.parametrize("update, key, printed", PUBLISHED)
def test_published_figures_come_from_the_stated_order(article, update, key, printed):
    """Each figure the article prints is reproduced, to its printed digits, by the order ARTICLE_NUMBERS names."""
    net, X, Y = article
    rounds = {"after_1": 1, "w1_after_1": 1, "after_9999": 9_999}.get(key, 10_000)
    h = fastbp.train(net, X, Y, epochs=rounds, lr=0.5, train_biases=False, update=update)
    value = {
        "out_o1": lambda: net.forward(X[0])[0],
        "out_o2": lambda: net.forward(X[0])[1],
        "w1_after_1": lambda: net.weights[0][0, 0],
    }.get(key, lambda: h.final_error)()
    assert abs(value - float(printed)) <= tolerance(printed)


def test_the_other_order_does_not_match_the_published_error(article):
    """The article's 0.291027924 distinguishes the orders: simultaneous gives 0.291027774."""
    net, X, Y = article
    h = fastbp.train(net, X, Y, epochs=1, lr=0.5, train_biases=False, update="simultaneous")
    assert abs(h.final_error - 0.291027924) > 1e-7


def test_article_network_and_data():
    net = fastbp.article_network()
    X, Y = fastbp.article_data()
    assert net.sizes == (2, 2, 2)
    assert net.tied_biases == (True, True)
    np.testing.assert_array_equal(net.weights[0], [[0.15, 0.20], [0.25, 0.30]])
    np.testing.assert_array_equal(net.weights[1], [[0.40, 0.45], [0.50, 0.55]])
    np.testing.assert_array_equal(net.biases[0], [0.35, 0.35])
    np.testing.assert_array_equal(X, [[0.05, 0.10]])
    np.testing.assert_array_equal(Y, [[0.01, 0.99]])
