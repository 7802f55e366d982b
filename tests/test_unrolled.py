"""The unrolled kernel for tiny networks: the general kernel's bits, chosen only where it pays, cached on disk."""

import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import kernel_exp_in_oracle, random_problem, run_python

import fastbp
from fastbp import _dispatch, _kernels, _options, _unrolled
from fastbp._engine import run_record
from fastbp._layout import Layout
from fastbp._options import UPDATES

# (widths, tied, momentum, train_biases, layerwise): every option on the article's shape,
# and the loops' edge cases (one input, one hidden unit, two hidden layers) on others.
KEYS = [
    ((2, 2, 2), (tied, False), momentum, train_biases, layerwise)
    for tied in (False, True)
    for momentum in (False, True)
    for train_biases in (False, True)
    for layerwise in (False, True)
    if train_biases or not tied  # frozen biases: the tied pattern does not matter
] + [
    ((1, 3, 2, 1), (False, True, False), True, True, False),
    ((1, 3, 2, 1), (False, False, False), False, True, True),
    ((3, 1, 2), (True, True), False, True, False),
]


def general_and_unrolled(key, params, tied_flags, X, Y, orders, epochs, lr, momentum, fast_math=False):
    """Run both kernels from the same state; returns each one's (done, params, velocity, errors)."""
    acts = (0,) * (len(key[0]) - 1)
    opts = _options.check(len(X), momentum=0.5 if key[2] else 0.0, train_biases=key[3], update=UPDATES[key[4]],
                          fast_math=fast_math)  # fmt: skip
    widths = key[0]
    layout = Layout.of(widths)
    results = []
    for kernel in (_kernels.train_epochs, _unrolled.kernel(widths, tied_flags, acts, opts)):
        p, v, errors = params.copy(), np.zeros_like(params), np.full(epochs, -1.0)
        net = _kernels.Net(
            p,
            layout.sizes,
            layout.w_off,
            layout.b_off,
            layout.u_off,
            tied_flags,
            np.zeros(len(acts), np.int64),
            *_kernels.uses_of(acts),
        )
        run_opts = opts._replace(lr=lr, momentum=momentum)
        run = run_record(run_opts, epochs, np.float64)
        markers = _dispatch.kernel_arguments(kernel, None, run_opts)  # (the network: BLAS's markers only)
        done = kernel(
            net, _kernels.State(v, np.zeros_like(v)), _kernels.Data(X, Y, orders, np.empty(0)), run, errors, *markers
        )
        results.append((done, p, v, errors))
    return results


# fast_math on three of the keys: each key and flag is a kernel generated and compiled (a second or two).
FAST_KEYS = [KEYS[0], KEYS[5], KEYS[-3]]


@pytest.mark.parametrize(
    "key, fast_math",
    [(key, False) for key in KEYS] + [(key, True) for key in FAST_KEYS],
    ids=lambda v: "-".join(map(str, v[0])) + str(v[1:]) if isinstance(v, tuple) else ("fast" if v else "default"),
)
@settings(max_examples=15)
@given(seed=st.integers(0, 2**32 - 1), n_samples=st.integers(1, 5), epochs=st.integers(1, 6),
       lr=st.floats(0.01, 3.0), momentum=st.sampled_from([0.5, 0.9]), shuffled=st.booleans())  # fmt: skip
def test_same_bits_as_the_general_kernel(key, fast_math, seed, n_samples, epochs, lr, momentum, shuffled):
    widths, tied, has_momentum = key[0], key[1], key[2]
    net, X, Y = random_problem(seed, list(widths), n_samples)
    # A tied layer's biases start equal, as Network.from_arrays makes them.
    net = fastbp.Network.from_arrays(net.weights, [b[0] if t else b for b, t in zip(net.biases, tied)])
    rng = np.random.default_rng(seed)
    orders = (
        np.stack([rng.permutation(n_samples) for _ in range(epochs)])
        if shuffled
        else np.arange(n_samples).reshape(1, -1)
    )
    general, unrolled = general_and_unrolled(
        key, net._params, net._tied, X, Y, orders, epochs, lr, momentum if has_momentum else 0.0, fast_math
    )
    assert general[0] == unrolled[0]
    for a, b in zip(general[1:], unrolled[1:]):
        np.testing.assert_array_equal(a, b)


def test_stops_after_the_first_non_finite_epoch_like_the_general_kernel():
    net, X, Y = random_problem(3, [2, 2, 2], 4)
    orders = np.arange(4).reshape(1, -1)
    key = KEYS[0]
    huge = Y * 1e200  # E = (1e200)^2 / 2 overflows in the first epoch
    general, unrolled = general_and_unrolled(key, net._params, net._tied, X, huge, orders, 5, 0.5, 0.0)
    assert general[0] == unrolled[0] == 0
    for a, b in zip(general[1:], unrolled[1:]):
        np.testing.assert_array_equal(a, b)


def test_train_takes_it_for_long_online_runs_of_tiny_networks(article):
    net, X, Y = article
    long = _options.check(1, epochs=10_000, train_biases=False)

    def kernel_for(net, opts):
        return _dispatch.training_kernel(net, opts, 1)

    assert kernel_for(net, long) is not _kernels.train_epochs
    short = long._replace(epochs=_dispatch.UNROLLED_MIN_STEPS - 1)
    minibatch = long._replace(batch_size=2)
    big = fastbp.Network.random((4, 5, 3), seed=0)  # 43 parameters
    single = fastbp.Network.random((2, 2, 2), seed=0, dtype=np.float32)
    assert kernel_for(net, short) is _kernels.train_epochs
    assert kernel_for(net, minibatch) is _kernels.train_epochs
    assert kernel_for(big, long) is _kernels.train_epochs
    assert kernel_for(single, long) is _kernels.train_epochs
    # Forced: the loops for a run that would be unrolled, and a clear refusal where it cannot be.
    assert kernel_for(net, long._replace(kernel="loops")) is _kernels.train_epochs
    assert kernel_for(net, short._replace(kernel="unrolled")) is not _kernels.train_epochs
    with pytest.raises(ValueError, match="kernel='unrolled'"):
        kernel_for(big, long._replace(kernel="unrolled"))


def test_the_article_for_10000_rounds_is_the_oracles_bits(article):
    """Through train(), which picks the unrolled kernel here: the oracle's result with the kernels' e^x."""
    net, X, Y = article
    fast, slow = net.copy(), net.copy()
    history = fastbp.train(fast, X, Y, epochs=10_000, lr=0.5, train_biases=False)
    with kernel_exp_in_oracle():
        expected = fastbp.train(slow, X, Y, epochs=10_000, lr=0.5, train_biases=False, engine="python")
    assert fast == slow
    np.testing.assert_array_equal(history.errors, expected.errors)


def test_fast_math_on_the_article_stays_within_1e_12_of_the_oracle_but_is_not_the_default(article):
    """fast_math changes e^x's last bits (so the weights' too) and nothing more than 1e-12 relative."""
    net, X, Y = article
    options = dict(epochs=10_000, lr=0.5, train_biases=False)
    default, fast, oracle = net.copy(), net.copy(), net.copy()
    fastbp.train(default, X, Y, **options)
    history = fastbp.train(fast, X, Y, fast_math=True, **options)
    expected = fastbp.train(oracle, X, Y, engine="python", **options)
    assert fast != default
    for got, want in zip(fast.weights, oracle.weights):
        np.testing.assert_allclose(got, want, rtol=1e-12)
    np.testing.assert_allclose(history.errors, expected.errors, rtol=1e-12)


def test_no_writable_cache_directory_falls_back_to_the_general_kernel(tmp_path, monkeypatch):
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    monkeypatch.setenv("FASTBP_CACHE_DIR", str(blocked / "sub"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked / "sub"))
    monkeypatch.setattr(_unrolled.tempfile, "gettempdir", lambda: str(blocked / "sub"))
    monkeypatch.setattr(_unrolled, "_LOADED", {})
    assert _unrolled.kernel((2, 2, 2), np.zeros(2, np.int64), (0, 0), _options.check(1)) is None
    net, X, Y = fastbp.article_network(), *fastbp.article_data()
    fastbp.train(net, X, Y, epochs=10_000, lr=0.5, train_biases=False)
    assert abs(net.error(X, Y) - 3.5101877829788e-05) < 1e-15


@pytest.mark.slow
def test_generated_kernel_is_written_once_then_loaded_from_the_cache(tmp_path):
    code = textwrap.dedent(
        """
        import fastbp
        from fastbp import _unrolled
        net, (X, Y) = fastbp.article_network(), fastbp.article_data()
        fastbp.train(net, X, Y, epochs=10_000, lr=0.5, train_biases=False)
        (kernel,) = _unrolled._LOADED.values()
        print(sum(kernel.stats.cache_hits.values()), sum(kernel.stats.cache_misses.values()))
        """
    )
    env = {"FASTBP_CACHE_DIR": str(tmp_path / "generated"), "NUMBA_CACHE_DIR": str(tmp_path / "numba")}

    def run():
        return run_python(code, **env).stdout.split()

    assert run() == ["0", "1"]  # compiled
    assert run() == ["1", "0"]  # loaded
    assert len(list((tmp_path / "generated").glob("online_*.py"))) == 1
