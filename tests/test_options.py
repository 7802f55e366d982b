"""The options table and the one kernel choice: every option checked in one place, kernels forced by name."""

from typing import NamedTuple

import numpy as np
import pytest
from reference import random_problem

import fastbp
from fastbp import _dispatch, _kernels, _options


def test_every_option_of_train_is_in_the_table_with_train_s_default():
    import inspect

    defaults = {name: p.default for name, p in inspect.signature(fastbp.train).parameters.items()}
    for option in _options.OPTIONS:
        assert defaults[option.name] == option.default, option.name
    many = inspect.signature(fastbp.train_many).parameters
    assert set(_options.MANY) <= set(many)


@pytest.mark.parametrize(
    "values, error, message",
    [
        ({"epochs": -1}, ValueError, "epochs must be >= 0; got -1"),
        ({"lr": "fast"}, TypeError, "lr must be a real number"),
        ({"batch_size": 0}, ValueError, "batch_size must be >= 1; got 0"),
        ({"momentum": 1.0}, ValueError, r"momentum must be in \[0.0, 1.0\); got 1.0"),
        ({"update": "sideways"}, ValueError, "update must be one of 'simultaneous', 'layerwise'"),
        ({"kernel": "gpu"}, ValueError, "kernel must be one of 'auto'"),
        ({"learning_rate": 0.1}, TypeError, "unknown training option 'learning_rate'"),
    ],
)
def test_the_table_refuses_bad_values_naming_the_option(values, error, message):
    with pytest.raises(error, match=message):
        _options.check(10, **values)


class _Pair(NamedTuple):  # a tuple of another class, which the options take as a pair too
    first: float
    second: float


@pytest.mark.parametrize(
    "accepted, refused",
    [
        ({"optimizer": "adam", "betas": (0.0, 0.999)}, {"optimizer": "adam", "betas": (False, 0.999)}),  # False == 0.0
        ({"optimizer": "rprop", "step_sizes": (1e-6, 1)}, {"optimizer": "rprop", "step_sizes": (1e-6, True)}),
        ({"lr": 1}, {"lr": True}),
        ({"momentum": 0.0}, {"momentum": np.bool_(False)}),
        ({"optimizer": "adam", "betas": _Pair(0.0, 0.999)}, {"optimizer": "adam", "betas": _Pair(False, 0.999)}),
    ],
)
def test_an_accepted_call_remembered_never_lets_an_equal_value_of_another_type_through(accepted, refused):
    assert _options.check(10, **accepted) is _options.check(10, **accepted)  # the second: the remembered result
    with pytest.raises(TypeError, match="must be a real number"):
        _options.check(10, **refused)


def test_options_given_as_lists_are_checked_every_time_and_agree_with_tuples():
    adam = {"optimizer": "adam"}
    assert _options.check(10, betas=[0.8, 0.9], **adam) == _options.check(10, betas=(0.8, 0.9), **adam)
    with pytest.raises(TypeError, match="must be a real number") as refused:
        _options.check(10, betas=[0.8, True], **adam)
    assert refused.value.__context__ is None  # (not raised while handling the list's TypeError from hashing)


def test_batch_size_none_is_the_whole_data_and_never_more():
    assert _options.check(7, batch_size=None).batch_size == 7
    assert _options.check(7, batch_size=100).batch_size == 7


def test_the_checkpoint_fingerprint_holds_what_changes_results_and_not_epochs():
    fingerprint = _options.fingerprint(_options.check(5, epochs=3, lr=0.1), 5)
    assert fingerprint["lr"] == 0.1 and fingerprint["n_samples"] == 5
    assert "epochs" not in fingerprint and "progress" not in fingerprint and "kernel" not in fingerprint


@pytest.mark.parametrize("kernel", ["loops", "unrolled"])
def test_a_forced_kernel_gives_the_same_bits_as_the_automatic_choice(kernel, article):
    net, X, Y = article
    auto, forced = net.copy(), net.copy()
    h_auto = fastbp.train(auto, X, Y, epochs=300, train_biases=False, momentum=0.5)
    h_forced = fastbp.train(forced, X, Y, epochs=300, train_biases=False, momentum=0.5, kernel=kernel)
    assert auto == forced
    np.testing.assert_array_equal(h_auto.errors, h_forced.errors)


def test_forced_kernels_that_cannot_run_are_refused_and_the_network_is_untouched():
    net, X, Y = random_problem(0, [4, 5, 3], 6)  # 43 parameters: too many to unroll
    before = net.copy()
    with pytest.raises(ValueError, match="kernel='unrolled' takes online training"):
        fastbp.train(net, X, Y, kernel="unrolled")
    with pytest.raises(ValueError, match="kernel='lanes' .* train_many only"):
        fastbp.train(net, X, Y, kernel="lanes")
    others = [net, fastbp.Network.random((4, 2, 3), seed=1)]
    with pytest.raises(ValueError, match="networks of one architecture"):
        fastbp.train_many(others, X, Y, kernel="lanes")
    assert net == before


@pytest.mark.parametrize("kernel", ["auto", "lanes", "loops"])
def test_train_many_is_the_bits_of_train_whatever_the_kernel(kernel):
    nets = [fastbp.Network.random((3, 4, 2), seed=s) for s in range(9)]
    _, X, Y = random_problem(1, [3, 1, 2], 6)
    alone = [net.copy() for net in nets]
    fastbp.train_many(nets, X, Y, epochs=5, lr=0.7, momentum=0.3, kernel=kernel)
    for net, single in zip(nets, alone):
        fastbp.train(single, X, Y, epochs=5, lr=0.7, momentum=0.3)
        assert net == single


def test_the_choice_follows_the_documented_thresholds():
    tiny, wide = fastbp.article_network(), fastbp.Network.random((64, 32, 10), seed=0)
    online_long = _options.check(1, epochs=_dispatch.UNROLLED_MIN_STEPS)
    assert _dispatch.training_choice(tiny, online_long, 1) == "unrolled"
    assert _dispatch.training_choice(tiny, online_long._replace(epochs=10), 1) == "loops"
    minibatch = _options.check(100, batch_size=_dispatch.BLAS_MIN_BATCH)
    expected = "blas" if _dispatch.blas_available() else "loops"
    assert _dispatch.training_choice(wide, minibatch, 100) == expected
    assert _dispatch.evaluation_kernel(tiny._layout, 10_000) is _kernels.evaluate


def test_history_final_error_is_computed_only_when_read(monkeypatch):
    """A user who never reads final_error does not pay a forward pass over the data for it."""
    net, X, Y = random_problem(2, [3, 4, 2], 20)
    calls = []
    real = _dispatch.evaluation_kernel
    monkeypatch.setattr(_dispatch, "evaluation_kernel", lambda *a: calls.append(a) or real(*a))
    history = fastbp.train(net, X, Y, epochs=3)
    assert calls == [] and "not computed yet" in repr(history)
    expected = net.error(X, Y)
    fastbp.train(net, X, Y, epochs=3)  # training on does not change what the first run left
    calls.clear()
    assert history.final_error == expected
    assert len(calls) == 1
    assert history.final_error == expected and len(calls) == 1  # computed once
