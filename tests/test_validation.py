"""Bad input stops at the door: a ValueError or TypeError naming the argument, nothing changed."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fastbp

X_OK = [[0.05, 0.10]]
Y_OK = [[0.01, 0.99]]

# (description, keyword arguments that replace train()'s defaults, exception, text the message must hold)
BAD_TRAIN_CALLS = [
    ("X with a NaN", dict(X=[[np.nan, 0.1]]), ValueError, "X must be finite"),
    ("X with inf", dict(X=[[np.inf, 0.1]]), ValueError, "X must be finite"),
    ("Y with a NaN", dict(Y=[[0.01, np.nan]]), ValueError, "Y must be finite"),
    ("X of strings", dict(X=[["a", "b"]]), TypeError, "X must hold real numbers"),
    ("complex X", dict(X=np.array([[1j, 0]])), TypeError, "X must hold real numbers"),
    ("object X", dict(X=np.array([[None, 1]], dtype=object)), TypeError, "X must hold real numbers"),
    ("ragged X", dict(X=[[0.1], [0.1, 0.2]]), ValueError, "X must be a rectangular array"),
    ("3-D X", dict(X=np.zeros((1, 2, 1))), ValueError, "X must be 1-D or 2-D"),
    ("empty X", dict(X=np.zeros((0, 2)), Y=np.zeros((0, 2))), ValueError, "X must not be empty"),
    ("X of the wrong width", dict(X=[[0.1, 0.2, 0.3]]), ValueError, "X must have 2 columns"),
    ("Y of the wrong width", dict(Y=[[0.1]]), ValueError, "Y must have 2 columns"),
    ("X and Y rows differ", dict(X=[[0.1, 0.2], [0.3, 0.4]]), ValueError, "same number of rows"),
    ("negative epochs", dict(epochs=-1), ValueError, "epochs must be >= 0"),
    ("float epochs", dict(epochs=2.5), TypeError, "epochs must be an integer"),
    ("bool epochs", dict(epochs=True), TypeError, "epochs must be an integer"),
    ("NaN lr", dict(lr=float("nan")), ValueError, "lr must be finite"),
    ("infinite lr", dict(lr=float("inf")), ValueError, "lr must be finite"),
    ("negative lr", dict(lr=-0.1), ValueError, "lr must be >= 0.0; got -0.1"),
    ("string lr", dict(lr="0.5"), TypeError, "lr must be a real number"),
    ("zero batch_size", dict(batch_size=0), ValueError, "batch_size must be >= 1"),
    ("float batch_size", dict(batch_size=1.5), TypeError, "batch_size must be an integer"),
    ("momentum 1", dict(momentum=1.0), ValueError, "momentum must be in"),
    ("negative momentum", dict(momentum=-0.5), ValueError, "momentum must be in"),
    ("shuffle 'yes'", dict(shuffle="yes"), TypeError, "shuffle must be True or False"),
    ("negative seed", dict(seed=-3), ValueError, "seed must be >= 0"),
    ("train_biases 1", dict(train_biases=1), TypeError, "train_biases must be True or False"),
    ("unknown update", dict(update="sequential"), ValueError, "update must be one of"),
    ("unknown engine", dict(engine="cuda"), ValueError, "engine must be one of"),
    ("progress None", dict(progress=None), TypeError, "progress must be True or False"),
]


@pytest.mark.parametrize("case, changes, error, message", BAD_TRAIN_CALLS, ids=[c[0] for c in BAD_TRAIN_CALLS])
def test_train_refuses_bad_input_and_changes_nothing(case, changes, error, message):
    net = fastbp.article_network()
    args = dict(X=X_OK, Y=Y_OK)
    args.update(changes)
    X, Y = args.pop("X"), args.pop("Y")
    with pytest.raises(error, match=message):
        fastbp.train(net, X, Y, **args)
    assert net == fastbp.article_network()


def test_train_refuses_a_non_network():
    with pytest.raises(TypeError, match="net must be a fastbp.Network"):
        fastbp.train([[0.1]], X_OK, Y_OK)


BAD_NETWORKS = [
    ("weights not a list", dict(weights=np.zeros((2, 2)), biases=[0.0]), TypeError, "weights must be"),
    ("no weights", dict(weights=[], biases=[]), TypeError, "weights must be"),
    ("1-D weight", dict(weights=[[1.0, 2.0]], biases=[0.0]), ValueError, r"weights\[0\] must be 2-D"),
    ("mismatched layers", dict(weights=[np.zeros((3, 2)), np.zeros((1, 2))], biases=[0.0, 0.0]), ValueError,
     r"weights\[1\] must have 3 columns"),
    ("too few biases", dict(weights=[np.zeros((3, 2))], biases=[]), ValueError, "one entry per weight matrix"),
    ("bias of the wrong length", dict(weights=[np.zeros((3, 2))], biases=[[0.0, 0.0]]), ValueError,
     r"biases\[0\] must be a scalar \(tied\) or have shape \(3,\)"),
    ("NaN weight", dict(weights=[[[np.nan, 0.0]]], biases=[0.0]), ValueError, r"weights\[0\] must be finite"),
    ("inf bias", dict(weights=[[[0.0, 0.0]]], biases=[np.inf]), ValueError, r"biases\[0\] must be finite"),
    ("string weight", dict(weights=[[["a"]]], biases=[0.0]), TypeError, r"weights\[0\] must hold real numbers"),
]  # fmt: skip


@pytest.mark.parametrize("case, kwargs, error, message", BAD_NETWORKS, ids=[c[0] for c in BAD_NETWORKS])
def test_from_arrays_refuses_bad_input(case, kwargs, error, message):
    with pytest.raises(error, match=message):
        fastbp.Network.from_arrays(**kwargs)


@pytest.mark.parametrize(
    "sizes, seed, error, message",
    [
        ((3,), 0, ValueError, "at least 2 layers"),
        ((3, 0), 0, ValueError, r"sizes\[1\] must be >= 1"),
        ((3, 2.5), 0, TypeError, r"sizes\[1\] must be an integer"),
        ("32", 0, TypeError, "sizes must be a sequence"),
        ((3, 2), -1, ValueError, "seed must be >= 0"),
        ((3, 2), "a", TypeError, "seed must be an integer"),
    ],
)
def test_random_refuses_bad_input(sizes, seed, error, message):
    with pytest.raises(error, match=message):
        fastbp.Network.random(sizes, seed=seed)


def test_forward_error_gradients_trace_refuse_bad_input():
    net = fastbp.article_network()
    with pytest.raises(ValueError, match="X must have 2 columns"):
        net.forward([[1.0, 2.0, 3.0]])
    with pytest.raises(ValueError, match="X must be finite"):
        net.error([[np.nan, 1.0]], Y_OK)
    with pytest.raises(ValueError, match="Y must have 2 columns"):
        net.gradients(X_OK, [[1.0]])
    with pytest.raises(ValueError, match="x must be one sample"):
        fastbp.trace(net, [[0.1, 0.2], [0.3, 0.4]], [[0.1, 0.2], [0.3, 0.4]])
    with pytest.raises(ValueError, match="update must be one of"):
        fastbp.trace(net, X_OK[0], Y_OK[0], update="both")
    assert net == fastbp.article_network()


@pytest.mark.parametrize(
    "X",
    [
        np.asfortranarray([[0.05, 0.10], [0.2, 0.3]]),
        np.array([[0.05, 0.10, 9.0], [0.2, 0.3, 9.0]])[:, :2],  # non-contiguous
        np.array([[5, 10], [20, 30]], dtype=np.int16) / 100,
        np.array([[0.05, 0.10], [0.2, 0.3]], dtype=np.float32),
        np.array([[1, 0], [0, 1]]),  # integers
        np.frombuffer(np.array([0.05, 0.10, 0.2, 0.3]).tobytes().rjust(33, b"\0"), offset=1).reshape(2, 2),
    ],
    ids=["fortran", "non-contiguous", "int16-derived", "float32", "int64", "misaligned"],
)
def test_unusual_layouts_and_dtypes_are_converted(X):
    readonly = np.array([[0.01, 0.99], [0.5, 0.5]])
    readonly.flags.writeable = False
    net = fastbp.article_network()
    reference = net.copy()
    fastbp.train(net, X, readonly, epochs=2)
    fastbp.train(reference, np.array(X, dtype=np.float64, order="C"), np.array(readonly), epochs=2)
    assert net == reference


VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=3), st.lists(st.floats(-1, 1), max_size=3), st.just(np.zeros((2, 2, 2))),
    st.just([[0.1, 0.2]]), st.just(np.array([[1j, 2j]])),
)  # fmt: skip


@given(
    X=VALUES, Y=VALUES, epochs=VALUES, lr=VALUES, batch_size=VALUES, momentum=VALUES,
    shuffle=VALUES, seed=VALUES, train_biases=VALUES, update=st.one_of(VALUES, st.sampled_from(["layerwise"])),
)  # fmt: skip
def test_fuzzed_arguments_raise_only_value_or_type_errors(**kwargs):
    net = fastbp.article_network()
    X, Y = kwargs.pop("X"), kwargs.pop("Y")
    try:
        fastbp.train(net, X, Y, **kwargs)
    except (ValueError, TypeError):
        assert net == fastbp.article_network()
    except FloatingPointError:
        pass  # a valid call with an absurd lr may diverge
