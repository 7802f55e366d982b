"""The BLAS path for minibatches of wide layers: same mathematics, BLAS's summation order."""

import numpy as np
import pytest
from reference import called_from_python, kernel_exp_in_oracle, numpy_train, random_problem

import fastbp
from fastbp import _dispatch, _engine, _kernels, _options, catalogue

pytest.importorskip("scipy")

WIDE = [40, 30, 5]  # 1,200 weights in the first layer: BLAS territory


def test_wide_minibatches_take_the_blas_kernel():
    net, _, _ = random_problem(0, WIDE, 2)
    opts = _options.check(100, batch_size=16)

    def kernel_for(net, opts):
        return _dispatch.training_kernel(net, opts, 100)

    assert kernel_for(net, opts) is _kernels.train_epochs_blas
    assert kernel_for(net, opts._replace(batch_size=1)) is _kernels.train_epochs
    assert kernel_for(net, opts._replace(kernel="loops")) is _kernels.train_epochs
    small, _, _ = random_problem(0, [4, 3, 2], 2)
    assert kernel_for(small, opts) is _kernels.train_epochs
    assert kernel_for(small, opts._replace(kernel="blas")) is _kernels.train_epochs_blas


def test_blas_compiles_only_the_rule_and_loss_its_markers_name_and_refuses_others():
    """train_epochs_blas's markers name the call's update rule and loss (each other's code is left out of its
    specialisation), and a run whose rule or loss they do not name is refused rather than left without one."""
    net, X, Y = random_problem(1, WIDE, 50)
    opts = _options.check(50, batch_size=16, epochs=1)
    assert _dispatch.blas_markers(net, opts) == (None, True, None, True)
    softmax = fastbp.Network.random(WIDE, seed=0, activations=("relu", "softmax"))
    for name in ("adam", "adamw"):
        adam_ce = _options.check(50, batch_size=16, optimizer=name, loss="cross_entropy")
        assert _dispatch.blas_markers(softmax, adam_ce) == (True, None, True, None)
        assert _dispatch.blas_markers(softmax, adam_ce._replace(loss="squared")) == (True, None, None, True)
    assert _dispatch.blas_markers(net, opts._replace(optimizer="rprop")) == (None, True, None, True)
    for optimizer in catalogue.OPTIMIZERS:  # the catalogue's `moments` is the kernels' Adam rule
        run = _engine.run_record(opts._replace(optimizer=optimizer.name), 1, np.float64)
        assert (called_from_python(_kernels._rule)(run) == _kernels.ADAM_RULE) == optimizer.moments
    engine = _engine.Engine(net, X, Y, opts)
    assert engine.kernel is _kernels.train_epochs_blas
    arguments = list(engine._arguments(np.arange(50).reshape(1, 50), 1, np.empty(1)))
    before = net.copy()
    adam_run = arguments[3]._replace(optimizer=catalogue.code(catalogue.OPTIMIZERS, "adam"))
    with pytest.raises(ValueError, match="moments/descent"):
        _kernels.train_epochs_blas(*arguments[:3], adam_run, *arguments[4:])
    softmax_ce_run = arguments[3]._replace(loss=catalogue.code(catalogue.LOSSES, "cross_entropy"))
    with pytest.raises(ValueError, match="softmax_ce/per_unit"):
        _kernels.train_epochs_blas(softmax.record(), *arguments[1:3], softmax_ce_run, *arguments[4:])
    assert net == before
    assert engine.epochs(np.arange(50).reshape(1, 50), 1, np.empty(1)) == 1 and net != before


@pytest.mark.parametrize("momentum", [0.0, 0.9])
@pytest.mark.parametrize("tied", [False, True])
def test_blas_minibatch_matches_numpy_statement(momentum, tied):
    net, X, Y = random_problem(1, WIDE, 50)
    if tied:
        net = fastbp.Network.from_arrays(net.weights, [net.biases[0][0], net.biases[1]])
    h = fastbp.train(trained := net.copy(), X, Y, epochs=3, lr=0.8, batch_size=16, momentum=momentum)
    W, b, errors = numpy_train(net.weights, net.biases, net.tied_biases, X, Y, [np.arange(50)] * 3, 0.8, 16,
                               momentum, True)  # fmt: skip
    for got, want in zip(trained.weights + trained.biases, W + b):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(h.errors, errors, rtol=1e-10)


@pytest.mark.parametrize("fast_math", [False, True])
@pytest.mark.parametrize("update", ["simultaneous", "layerwise"])
def test_blas_agrees_with_loops_and_oracle(update, fast_math):
    net, X, Y = random_problem(2, [36, 30, 20, 3], 40)
    options = dict(epochs=4, lr=0.5, batch_size=10, momentum=0.5, shuffle=True, seed=4, update=update,
                   fast_math=fast_math)  # fmt: skip
    blas, oracle = net.copy(), net.copy()
    fastbp.train(blas, X, Y, **options)
    fastbp.train(oracle, X, Y, engine="python", **options)
    loops, oracle_kernel_exp = net.copy(), net.copy()
    fastbp.train(loops, X, Y, kernel="loops", **options)
    with kernel_exp_in_oracle():  # (fast_math is for online steps: minibatches keep the default e^x)
        fastbp.train(oracle_kernel_exp, X, Y, engine="python", **options)
    assert loops == oracle_kernel_exp  # the loops keep the oracle's order: the same bits
    for a, b in zip(blas.weights + blas.biases, oracle.weights + oracle.biases):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-14)


def test_train_many_with_wide_networks_is_bit_identical_to_train():
    nets = [fastbp.Network.random((40, h, 5), seed=h) for h in (30, 50)]
    _, X, Y = random_problem(3, [40, 1, 5], 64)
    alone = [net.copy() for net in nets]
    fastbp.train_many(nets, X, Y, epochs=2, batch_size=16, lr=[0.3, 0.6])
    for net, single, lr in zip(nets, alone, [0.3, 0.6]):
        fastbp.train(single, X, Y, epochs=2, batch_size=16, lr=lr)
        assert net == single


def test_blas_forward_matches_loop_forward():
    net, X, _ = random_problem(5, [50, 40, 7], 300)
    blas, loops = np.empty((300, 7)), np.empty((300, 7))
    _kernels.evaluate_blas(net.record(), X, np.empty((0, 7)), blas, _kernels.LossRule(_kernels.SQUARED, 0.0), None)
    _kernels.evaluate(net.record(), X, np.empty((0, 7)), loops, _kernels.LossRule(_kernels.SQUARED, 0.0), None)
    np.testing.assert_allclose(blas, loops, rtol=1e-13)
    np.testing.assert_allclose(net.forward(X), loops, rtol=1e-13)
