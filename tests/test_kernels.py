"""Compiled-kernel properties: one specialisation for every architecture, the on-disk cache, and the kernels' e^x."""

import math
import textwrap

import numpy as np
import pytest
from reference import called_from_python, run_python

import fastbp
from fastbp import _dispatch, _engine, _kernels

KERNEL_NAMES = (
    "train_epochs",
    "evaluate",
    "gradient_sum",
    "gradient_sum_blas",
    "train_epochs_blas",
    "evaluate_blas",
    "train_lane_block",
)

SPECIALISATIONS = textwrap.dedent(
    """
    import numpy as np
    import fastbp
    from fastbp import _kernels

    small = fastbp.article_network()
    X, Y = fastbp.article_data()
    fastbp.train(small, X.astype(np.float32), Y.tolist(), epochs=2)
    fastbp.train(small, X, Y, epochs=2, optimizer="adam", lr=0.01)
    wide = fastbp.Network.random((64, 32, 10), seed=0)
    Xw = np.asfortranarray(np.random.default_rng(0).uniform(size=(20, 64)))
    Yw = np.eye(10)[np.arange(20) % 10].astype(np.int64)
    fastbp.train(wide, Xw, Yw, epochs=2, batch_size=7, momentum=0.5, shuffle=True, seed=1, update="layerwise")
    fastbp.train(wide, Xw[::2], Yw[::2], epochs=1, batch_size=None, train_biases=False)
    wide.forward(Xw[0]); wide.error(Xw, Yw); wide.gradients(Xw, Yw)
    wider = fastbp.Network.random((64, 48, 10), seed=1)
    fastbp.train(wider, Xw, Yw, batch_size=8); fastbp.train(wider, Xw[::2], Yw[::2], batch_size=10, momentum=0.5)
    wider.error(np.tile(Xw, (5, 1)), np.tile(Yw, (5, 1))); wider.gradients(np.tile(Xw, (5, 1)), np.tile(Yw, (5, 1)))
    fastbp.train_many([small, fastbp.Network.random((2, 5, 2), seed=2)], X, Y, epochs=2)
    fastbp.train_many([fastbp.Network.random((2, 3, 3, 2), seed=3)], X.tolist(), Y, epochs=1, lr=[0.3])
    fastbp.train_many([fastbp.Network.random((2, 4, 2), seed=s) for s in range(9)], X, Y, epochs=2)
    fastbp.train_many([fastbp.Network.random((2, 3, 3, 2), seed=s) for s in range(12)], X, Y, epochs=2, momentum=0.5)
    for name in NAMES:
        kernel = getattr(_kernels, name)
        hits, misses = (sum(c.values()) for c in (kernel.stats.cache_hits, kernel.stats.cache_misses))
        print(kernel.__name__, len(kernel.signatures), hits, misses)
    """
).replace("NAMES", repr(KERNEL_NAMES))


def test_two_architectures_leave_one_specialisation_loaded_from_the_cache():
    """One specialisation for every kernel and path (train_epochs here: online plain and online under Adam),
    written to Numba's cache: a second process loads every one."""
    run_python(SPECIALISATIONS)  # compiles what earlier tests have not
    rows = [line.split() for line in run_python(SPECIALISATIONS).stdout.strip().split("\n")]
    # (two paths each: train_epochs online plain and under Adam; evaluate a forward pass and a scoring one)
    expected = dict.fromkeys(KERNEL_NAMES, ("1", "1", "0")) | dict.fromkeys(
        ("train_epochs", "evaluate"), ("2", "2", "0")
    )
    assert {name: (n_signatures, hits, misses) for name, n_signatures, hits, misses in rows} == expected


def test_no_kernel_compiles_at_import():
    code = "import fastbp; from fastbp import _kernels; print(len(_kernels.train_epochs.signatures))"
    assert run_python(code).stdout.strip() == "0"


def test_float32_adds_exactly_one_specialisation():
    code = textwrap.dedent(
        """
        import numpy as np
        import fastbp
        from fastbp import _kernels
        X, Y = np.random.default_rng(0).uniform(size=(30, 5)), np.random.default_rng(1).uniform(size=(30, 2))
        for dtype in (np.float64, np.float32):
            for sizes in ((5, 3, 2), (5, 9, 4, 2)):
                net = fastbp.Network.random(sizes, seed=0, dtype=dtype)
                fastbp.train(net, X, Y, epochs=2)
                fastbp.train(net, X.astype(np.float32), Y, epochs=1, batch_size=4, momentum=0.5)
                net.error(X, Y)
        print(len(_kernels.train_epochs.signatures), len(_kernels.evaluate.signatures))
        """
    )
    assert run_python(code).stdout.split() == ["4", "2"]  # train_epochs: (online plain, minibatch descent) x dtype


def test_what_only_compiled_code_calls_refuses_a_call_from_python():
    """Helpers, primitives and the called helper have no wrapper for calls from Python (it would cost compile
    time): a call from Python is refused with a TypeError, not a crash; compiled code calls them."""
    for function in (_kernels._logistic, _kernels._forward, _kernels._online_backward_general):
        with pytest.raises(TypeError, match="compiled kernels only"):
            function(0.5)
    assert called_from_python(_kernels._logistic)(0.0) == 0.5


@pytest.mark.parametrize("name, agreeing", [("_exp_nonpositive", 0.85), ("_exp_nonpositive_fast", 0.7)])
def test_kernel_exp_within_one_ulp_of_libm(name, agreeing):
    """The kernels' e^x (a polynomial, so that it vectorises; fast_math's from a table) against math.exp,
    down to the subnormals."""
    from fastbp import _kernels

    exp = called_from_python(getattr(_kernels, name))
    rng = np.random.default_rng(0)
    x = np.concatenate([
        -np.logspace(-320, np.log10(746.0), 4000),
        rng.uniform(-746.0, 0.0, 4000),
        rng.uniform(-1.0, 0.0, 2000),
        [0.0, -0.0, -708.39, -709.78, -744.44, -745.13, -745.2, -746.0, -1000.0, -1e308],
    ])  # fmt: skip
    got = np.array([exp(v) for v in x])
    want = np.array([math.exp(v) for v in x])
    normal = want >= np.finfo(float).tiny
    assert np.all(np.abs(got - want)[normal] <= np.spacing(want[normal]))
    assert np.all(np.abs(got - want)[~normal] <= 5e-324)  # one subnormal step
    assert np.mean(got == want) > agreeing
    assert exp(-math.inf) == 0.0
    assert math.isnan(exp(math.nan))


def test_fast_math_table_is_two_to_the_fractions_correctly_rounded():
    """2^(j/256) from integer square roots: each entry the double nearest the true value (checked in decimal)."""
    from decimal import Decimal, getcontext

    from fastbp import _kernels

    getcontext().prec = 60
    for j, value in enumerate(_kernels._EXP_TABLE):
        exact = Decimal(2) ** (Decimal(j) / 256)
        assert abs(Decimal(value) - exact) <= Decimal(np.spacing(value)) / 2, j


@pytest.mark.parametrize("name", ["_logistic", "_logistic_fast"])
def test_kernel_logistic_at_the_extremes(name):
    from fastbp import _kernels, oracle

    logistic = called_from_python(getattr(_kernels, name))
    for net in (-math.inf, -1e308, -800.0, -40.0, -1e-300, 0.0, 1e-300, 40.0, 800.0, 1e308, math.inf):
        assert logistic(net) == pytest.approx(oracle.logistic(net), rel=1e-15, abs=1e-300), net
    assert math.isnan(logistic(math.nan))


def test_first_training_loop_does_not_pay_for_numba_importing_numpy_ma():
    """Numba imports numpy.ma when it types its first array: ready() has that done before the clock starts."""
    code = textwrap.dedent(
        """
        import sys
        sys.modules["scipy"] = None  # as in an install without SciPy, whose import would bring numpy.ma first
        import fastbp
        from fastbp import _engine, _options
        net, (X, Y) = fastbp.article_network(), fastbp.article_data()
        _engine.Engine(net, X, Y, _options.check(1, kernel="loops")).ready()
        print("numpy.ma" in sys.modules)
        """
    )
    assert run_python(code).stdout.split() == ["True"]


def test_kernel_calls_find_the_dispatchers_own_entry_point():
    """_dispatch.call reaches a kernel's compiled code without Numba typing each record in Python: the entry it
    keeps for each kind of arguments is the one the dispatcher compiled for their types, and gives its results."""
    net = fastbp.Network.random((3, 5, 2), seed=0)
    X = np.random.default_rng(0).uniform(size=(4, 3))
    kernel = _dispatch.evaluation_kernel(net._layout, X.shape[0])
    rule = _engine.loss_rule("squared", {}, net.dtype)
    arguments = (net.record(), X, np.empty((0, 2)), np.empty((4, 2)), rule, None)
    key = _dispatch._key(kernel, arguments)
    _dispatch._ENTRIES.pop(key, None)
    _dispatch.call(kernel, *arguments)  # through the dispatcher, which keeps its entry point
    types = tuple(kernel.typeof_pyval(a) for a in arguments)
    assert _dispatch._ENTRIES[key] is kernel.overloads[types].entry_point
    direct = arguments[3].copy()
    kernel(*arguments[:3], direct, rule, None)
    arguments[3][:] = 0.0
    _dispatch.call(kernel, *arguments)  # through the kept entry point
    assert np.array_equal(arguments[3], direct) and np.array_equal(net.forward(X), direct)


def test_arguments_that_numba_types_apart_never_share_an_entry_point():
    """Every difference that gives Numba another type gives _dispatch.call another key (nothing is compiled)."""
    net = fastbp.Network.random((3, 5, 2), seed=0)
    X = np.random.default_rng(0).uniform(size=(4, 3))
    readonly = X.copy()
    readonly.flags.writeable = False
    rule = _engine.loss_rule("squared", {}, net.dtype)
    kinds = {
        "as trained": (net.record(), X, rule),
        "float32": (net.record(), X.astype(np.float32), rule),
        "Fortran order": (net.record(), np.asfortranarray(X), rule),
        "strided": (net.record(), X[::2], rule),
        "read-only": (net.record(), readonly, rule),
        "1-D": (net.record(), X[0], rule),
        "other marks": (net.record()._replace(uses_tanh=None if net.record().uses_tanh else True), X, rule),
        "float32 rule": (net.record(), X, _engine.loss_rule("squared", {}, np.float32)),
        "a record's class": (net.record(), X, _kernels.State(*rule)),
        "a marker": (net.record(), X, None),
        "an integer": (net.record(), X, 1),
        "a float": (net.record(), X, 1.0),
    }  # fmt: skip
    keys = {name: _dispatch._key(_kernels.evaluate, arguments) for name, arguments in kinds.items()}
    assert None not in keys.values() and len(set(keys.values())) == len(keys)


def test_a_forward_pass_compiles_no_loss_and_refuses_targets():
    """The evaluation kernels' plain forward pass (scoring None) is a specialisation of its own, without the
    losses' code: the same outputs as a scoring call, and targets given to it are refused, not ignored."""
    net = fastbp.Network.random((3, 5, 2), seed=0)
    X = np.random.default_rng(0).uniform(size=(4, 3))
    Y = np.random.default_rng(1).uniform(size=(4, 2))
    rule = _engine.loss_rule("squared", {}, net.dtype)
    forward, scored = np.empty((4, 2)), np.empty((4, 2))
    assert _kernels.evaluate(net.record(), X, np.empty((0, 2)), forward, rule, None) == 0.0
    E_sum = _kernels.evaluate(net.record(), X, Y, scored, rule, True)
    assert np.array_equal(forward, scored) and E_sum / 4 == net.error(X, Y)
    with pytest.raises(ValueError, match="plain forward pass"):
        _kernels.evaluate(net.record(), X, Y, forward, rule, None)


def test_a_forward_pass_after_scoring_takes_the_scoring_kernel():
    """A plain forward pass takes the scoring specialisation once the process holds it (train, final_error, then
    forward compiles one evaluation kernel, not two); before, it takes the one without the losses' code."""
    net = fastbp.Network.random((3, 5, 2), seed=0)
    X = np.random.default_rng(0).uniform(size=(4, 3))
    not_yet = object()  # (a kernel no call has scored with)
    assert _dispatch.scoring_marker(not_yet, net, False) is None
    assert _dispatch.scoring_marker(not_yet, net, True) is True
    assert _dispatch.scoring_marker(not_yet, net, False) is True
    net.error(X, X[:, :2])
    kernel = _dispatch.evaluation_kernel(net._layout, X.shape[0])
    signatures = len(kernel.signatures)
    assert _dispatch.scoring_marker(kernel, net, False) is True
    net.forward(X)
    assert len(kernel.signatures) == signatures
