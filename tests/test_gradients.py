"""Network.gradients against central finite differences and against the oracle's trace."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import finite_difference_gradients, random_problem

import fastbp


@settings(max_examples=15)
@given(
    seed=st.integers(0, 2**32 - 1),
    hidden=st.lists(st.integers(1, 4), min_size=1, max_size=3),
    n_samples=st.integers(1, 5),
)
def test_gradients_match_central_differences(seed, hidden, n_samples):
    net, X, Y = random_problem(seed, [3, *hidden, 2], n_samples)
    dW, db = net.gradients(X, Y)
    fdW, fdb = finite_difference_gradients(net, X, Y)
    for got, want in zip(dW + db, fdW + fdb):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-9)


def test_tied_bias_gradient_is_the_sum_over_units(article):
    """Moving a tied bias moves every unit's bias: its derivative is db[l].sum()."""
    net, X, Y = article
    _, db = net.gradients(X, Y)
    h = 1e-6
    for l in range(2):
        biases = [0.35, 0.60]
        plus, minus = list(biases), list(biases)
        plus[l] += h
        minus[l] -= h
        err = lambda bs: fastbp.Network.from_arrays(net.weights, bs).error(X, Y)  # noqa: E731
        assert abs((err(plus) - err(minus)) / (2 * h) - db[l].sum()) < 1e-9


def test_gradients_are_means_over_samples():
    net, X, Y = random_problem(0, [2, 3, 2], 4)
    dW, db = net.gradients(X, Y)
    per_sample = [net.gradients(X[i : i + 1], Y[i : i + 1]) for i in range(4)]
    np.testing.assert_allclose(dW[0], np.mean([g[0][0] for g in per_sample], axis=0), rtol=1e-12)
    np.testing.assert_allclose(db[1], np.mean([g[1][1] for g in per_sample], axis=0), rtol=1e-12)


def test_gradients_equal_trace_for_one_sample(article):
    net, X, Y = article
    t = fastbp.trace(net, X[0], Y[0])
    dW, db = net.gradients(X, Y)
    for got, want in zip(dW + db, t.weight_gradients + t.bias_gradients):
        np.testing.assert_array_equal(got, want)


def test_gradients_leave_network_unchanged():
    net, X, Y = random_problem(1, [2, 2, 2], 3)
    before = net.copy()
    net.gradients(X, Y)
    assert net == before
