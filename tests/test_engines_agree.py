"""The compiled engine agrees with the pure-Python oracle on random networks, data and options."""

import re

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from reference import (
    finite_difference_gradients,
    kernel_exp_in_oracle,
    model_problem,
    random_problem,
)

import fastbp
from fastbp import _options, catalogue

RTOL = 1e-12


@st.composite
def training_cases(draw):
    hidden = draw(st.lists(st.integers(1, 6), min_size=1, max_size=4))
    sizes = [draw(st.integers(1, 5)), *hidden, draw(st.integers(1, 4))]
    n_samples = draw(st.integers(1, 9))
    seed = draw(st.integers(0, 2**32 - 1))
    net, X, Y = random_problem(seed, sizes, n_samples)
    tied = draw(st.lists(st.booleans(), min_size=len(sizes) - 1, max_size=len(sizes) - 1))
    biases = [b[0] if t else b for b, t in zip(net.biases, tied)]
    net = fastbp.Network.from_arrays(net.weights, biases)
    options = dict(
        epochs=draw(st.integers(0, 4)),
        lr=draw(st.floats(0.01, 3.0)),
        batch_size=draw(st.one_of(st.none(), st.integers(1, n_samples + 2))),
        momentum=(momentum := draw(st.sampled_from([0.0, 0.5, 0.9]))),
        nesterov=momentum > 0.0 and draw(st.booleans()),
        shuffle=draw(st.booleans()),
        seed=draw(st.integers(0, 1000)),
        train_biases=draw(st.booleans()),
        update=draw(st.sampled_from(["simultaneous", "layerwise"])),
        fast_math=draw(st.booleans()),
    )
    return net, X, Y, options


@given(training_cases())
def test_engines_agree(case):
    net, X, Y, options = case
    fast, slow = net.copy(), net.copy()
    h_fast = fastbp.train(fast, X, Y, engine="numba", **options)
    h_slow = fastbp.train(slow, X, Y, engine="python", **options)  # (the oracle ignores fast_math)
    for a, b in zip(fast.weights + fast.biases, slow.weights + slow.biases):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=1e-300)
    np.testing.assert_allclose(h_fast.errors, h_slow.errors, rtol=RTOL)
    assert h_fast.final_error == h_slow.final_error or abs(h_fast.final_error / h_slow.final_error - 1) <= RTOL
    # The kernels' e^x (fast_math's or the default) is the only difference in the weights' arithmetic:
    # with it in the oracle, the same bits. (The reported mean errors are summed in another grouping.)
    same_exp = net.copy()
    online = _options.check(len(X), **options).batch_size == 1  # fast_math's e^x is for online steps only
    with kernel_exp_in_oracle(options["fast_math"] and online):
        fastbp.train(same_exp, X, Y, engine="python", **options)
    assert fast == same_exp


@given(st.integers(0, 2**32 - 1), st.lists(st.integers(1, 40), min_size=1, max_size=3))
def test_forward_matches_oracle_on_wide_layers(seed, hidden):
    """Layers wider than the kernel's four-unit blocks still sum in the oracle's order: the same bits."""
    from fastbp import catalogue, oracle

    net, X, _ = random_problem(seed, [33, *hidden, 7], 3)
    W = [w.tolist() for w in net.weights]
    b = [v.tolist() for v in net.biases]
    with kernel_exp_in_oracle():
        acts = [catalogue.activation(name) for name in net.activations]  # (the patched logistic)
        expected = [oracle.forward(W, b, x.tolist(), acts)[1][-1] for x in X]
    np.testing.assert_array_equal(net.forward(X), expected)


def test_long_run_agrees():
    """500 epochs of minibatch momentum training on a 4-hidden-layer network stay within 1e-12."""
    net, X, Y = random_problem(7, [3, 5, 4, 6, 3, 2], 10)
    options = dict(epochs=500, lr=0.7, batch_size=3, momentum=0.5, shuffle=True, seed=3)
    fast, slow = net.copy(), net.copy()
    fastbp.train(fast, X, Y, engine="numba", **options)
    fastbp.train(slow, X, Y, engine="python", **options)
    for a, b in zip(fast.weights + fast.biases, slow.weights + slow.biases):
        np.testing.assert_allclose(a, b, rtol=RTOL)


# Beyond the article: activations, losses and optimisers (needs no torch: the oracle is the reference). Every
# output activation with every loss that takes it, every hidden activation, every optimiser, from the catalogue.
HEADS = [(a.name, loss.name) for a in catalogue.ACTIVATIONS for loss in catalogue.LOSSES
         if loss.outputs is None or a.name in loss.outputs]  # fmt: skip


@settings(max_examples=25)
@given(
    seed=st.integers(0, 2**32 - 1),
    hidden=st.lists(st.integers(1, 5), min_size=1, max_size=2),
    hidden_activation=st.sampled_from(catalogue.hidden_activations()),
    head=st.sampled_from(HEADS),
    optimizer=st.sampled_from(catalogue.names(catalogue.OPTIMIZERS)),
    batch_size=st.sampled_from([1, 2, None]),
    weight_decay=st.sampled_from([0.0, 0.01]),
)
@example(seed=0, hidden=[2], hidden_activation="tanh", head=("exp", "squared"), optimizer="sgd", batch_size=1,
         weight_decay=0.0)  # both diverge in epoch 1  # fmt: skip
def test_numba_agrees_with_the_oracle(seed, hidden, hidden_activation, head, optimizer, batch_size, weight_decay):
    """The compiled kernels and the pure-Python oracle, over random architectures and option sets."""
    output, loss = head
    sizes = (3, *hidden, 3)
    activations = (hidden_activation,) * len(hidden) + (output,)
    net, X, Y = model_problem(seed % 10_000, sizes, 5, activations, classes=output == "softmax")
    lr = 0.2 if optimizer == "sgd" else 0.01  # (the adaptive optimisers take smaller steps)
    options = dict(epochs=3, lr=lr, loss=loss, optimizer=optimizer, batch_size=batch_size, weight_decay=weight_decay)
    if catalogue.loss(loss).option == "huber_delta":
        options["huber_delta"] = 0.3  # (the problems' errors reach past it: both pieces are taken)
    fast, slow = net.copy(), net.copy()
    try:
        h_fast = fastbp.train(fast, X, Y, **options)
    except FloatingPointError as diverged:  # (an exp output at lr 0.2 may overflow): the oracle in the same epoch
        with pytest.raises(FloatingPointError, match=re.escape(str(diverged))):
            fastbp.train(slow, X, Y, engine="python", **options)
        h_fast = h_slow = None
    else:
        h_slow = fastbp.train(slow, X, Y, engine="python", **options)
    for a, b in zip(fast.weights + fast.biases, slow.weights + slow.biases):  # (diverged: the last finite epoch's)
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    if h_fast is not None:
        np.testing.assert_allclose(h_fast.errors, h_slow.errors, rtol=1e-9, atol=1e-14)


@pytest.mark.parametrize("loss, output", [("squared", "softmax"), ("cross_entropy", "softmax"),
                                          ("cross_entropy", "logistic"), ("squared", "identity")])  # fmt: skip
def test_gradients_match_central_differences(loss, output):
    net, X, Y = model_problem(2, (3, 4, 3), 6, ("tanh", output), classes=output == "softmax")
    dW, db = net.gradients(X, Y, loss=loss)
    numeric_W, numeric_b = finite_difference_gradients(net, X, Y, loss=loss)
    for got, want in zip(dW + db, numeric_W + numeric_b):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9)
