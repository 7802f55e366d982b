"""trace(): the article's walkthrough, every quantity named, consistent with training."""

import numpy as np
import pytest
from reference import random_problem

import fastbp


def test_trace_leaves_network_unchanged(article):
    net, X, Y = article
    fastbp.trace(net, X[0], Y[0])
    assert net == fastbp.article_network()


@pytest.mark.parametrize("update", ["simultaneous", "layerwise"])
def test_trace_step_equals_one_training_round(update):
    net, X, Y = random_problem(5, [3, 4, 3, 2], 1)
    t = fastbp.trace(net, X[0], Y[0], lr=0.3, update=update)
    fastbp.train(net, X, Y, epochs=1, lr=0.3, train_biases=False, update=update, engine="python")
    for got, want in zip(t.updated_weights, net.weights):
        np.testing.assert_array_equal(got, want)


def test_layerwise_trace_uses_updated_weights(article):
    net, X, Y = article
    s = fastbp.trace(net, X[0], Y[0], update="simultaneous")
    w = fastbp.trace(net, X[0], Y[0], update="layerwise")
    np.testing.assert_array_equal(s.deltas[1], w.deltas[1])  # output deltas agree
    assert not np.array_equal(s.deltas[0], w.deltas[0])  # hidden deltas differ
    assert abs(w.updated_weights[0][0, 0] - 0.149817639) < 5e-10


def test_walkthrough_names_every_quantity(article):
    net, X, Y = article
    text = str(fastbp.trace(net, X[0], Y[0]))
    for line in [
        "net_h1 = w1 * i1 + w2 * i2 + b1 * 1 = 0.15 * 0.05 + 0.2 * 0.1 + 0.35 * 1 = 0.3775",
        "out_h1 = 1 / (1 + e^(-net_h1)) = 0.593269992",
        "out_o1 = 1 / (1 + e^(-net_o1)) = 0.75136507",
        "E_total = E_o1 + E_o2 = 0.298371109",
        "dE_total/dout_o1 = -(target_o1 - out_o1) = 0.74136507",
        "delta_o1 = dE_total/dout_o1 * dout_o1/dnet_o1 = 0.138498562",
        "net_o1 = w5 * out_h1 + w6 * out_h2 + b2 * 1 = 0.4 * 0.593269992 + 0.45 * 0.596884378 + 0.6 * 1 = 1.105905967",
        "dE_total/dw5 = delta_o1 * out_h1 = 0.082167041",
        "w5+ = w5 - eta * dE_total/dw5 = 0.4 - 0.5 * 0.082167041 = 0.35891648",
        "dE_o2/dout_h1 = delta_o2 * w7 = -0.019049118",
        "dE_total/dout_h1 = dE_o1/dout_h1 + dE_o2/dout_h1 = 0.036350306",
        "dE_total/dw1 = delta_h1 * i1 = 0.000438568",
        "w1+ = w1 - eta * dE_total/dw1 = 0.15 - 0.5 * 0.000438568 = 0.149780716",
        "(b2 is shared, so its gradient is the sum)",
        "ORIGINAL weights",
    ]:
        assert line in text, line
    assert "w5+" in str(fastbp.trace(net, X[0], Y[0], update="layerwise")).split("hidden layer")[1]


def test_walkthrough_of_a_deep_network_names_layers():
    net, X, Y = random_problem(1, [2, 3, 3, 1], 1)
    text = str(fastbp.trace(net, X[0], Y[0]))
    assert "net_h1_1" in text and "net_h2_3" in text and "delta_o1" in text and "w18" in text
    assert "b_h2_1" in text  # per-unit biases are named after their unit
