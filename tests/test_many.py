"""train_many(): every network ends exactly as training it alone would leave it."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import random_problem, train_many_and_alone

import fastbp


def varied_networks(seed, n):
    """n networks with the same input/output widths but different hidden layers and bias modes."""
    rng = np.random.default_rng(seed)
    nets = []
    for k in range(n):
        hidden = list(rng.integers(1, 9, size=rng.integers(1, 4)))
        net = fastbp.Network.random((3, *hidden, 2), seed=int(rng.integers(1000)), tied_biases=bool(k % 3 == 0))
        nets.append(net)
    return nets


@settings(max_examples=20)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_nets=st.integers(1, 7),
    batch_size=st.sampled_from([1, 2, None]),
    momentum=st.sampled_from([0.0, 0.9]),
    shuffle=st.booleans(),
    update=st.sampled_from(["simultaneous", "layerwise"]),
)
def test_each_network_bit_identical_to_training_alone(seed, n_nets, batch_size, momentum, shuffle, update):
    nets = varied_networks(seed, n_nets)
    _, X, Y = random_problem(seed, [3, 1, 2], 6)
    lrs = list(np.linspace(0.1, 2.0, n_nets))
    options = dict(epochs=3, batch_size=batch_size, momentum=momentum, shuffle=shuffle, seed=5, update=update)
    for net, history, single, h in train_many_and_alone(nets, X, Y, lrs, options):
        assert net == single
        np.testing.assert_array_equal(history.errors, h.errors)
        assert history.final_error == h.final_error


def test_python_engine_and_one_shared_lr():
    nets = varied_networks(1, 3)
    _, X, Y = random_problem(1, [3, 1, 2], 4)
    fast = [net.copy() for net in nets]
    fastbp.train_many(nets, X, Y, epochs=2, lr=0.7, engine="python")
    fastbp.train_many(fast, X, Y, epochs=2, lr=0.7)
    for a, b in zip(nets, fast):
        for x, y in zip(a.weights, b.weights):
            np.testing.assert_allclose(x, y, rtol=1e-12)


def test_thread_count_does_not_change_results():
    import numba

    nets = varied_networks(2, 9)
    _, X, Y = random_problem(2, [3, 1, 2], 5)
    one_thread = [net.copy() for net in nets]
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        fastbp.train_many(one_thread, X, Y, epochs=4)
    finally:
        numba.set_num_threads(before)
    fastbp.train_many(nets, X, Y, epochs=4)
    assert nets == one_thread


def test_refused_calls_change_nothing():
    nets = varied_networks(3, 3)
    _, X, Y = random_problem(3, [3, 1, 2], 4)
    before = [net.copy() for net in nets]
    with pytest.raises(ValueError, match="one per network"):
        fastbp.train_many(nets, X, Y, lr=[0.1, 0.2])
    with pytest.raises(ValueError, match=r"lr\[1\] must be finite"):
        fastbp.train_many(nets, X, Y, lr=[0.1, float("nan"), 0.3])
    with pytest.raises(ValueError, match=r"nets\[1\] must have input width 3"):
        fastbp.train_many([nets[0], fastbp.Network.random((4, 2), seed=0)], X, Y)
    with pytest.raises(ValueError, match="distinct"):
        fastbp.train_many([nets[0], nets[0]], X, Y)
    with pytest.raises(TypeError, match="nets must be a non-empty list"):
        fastbp.train_many(nets[0], X, Y)
    with pytest.raises(TypeError, match=r"nets\[2\] must be a fastbp.Network"):
        fastbp.train_many([nets[0], nets[1], "net"], X, Y)
    with pytest.raises(ValueError, match="momentum"):
        fastbp.train_many(nets, X, Y, momentum=2.0)
    assert nets == before


def test_divergence_names_the_network():
    good = fastbp.Network.random((2, 2, 1), seed=0)
    bad = fastbp.Network.from_arrays([[[0.0, 0.0]]], [[0.0]])
    with pytest.raises(FloatingPointError, match=r"nets \[1\]"):
        fastbp.train_many([good, bad], [[1e10, 1e10]], [[1.0]], lr=[0.5, 1e308])


@settings(max_examples=15)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_nets=st.integers(8, 70),
    hidden=st.lists(st.integers(1, 5), min_size=1, max_size=2),
    tied=st.booleans(),
    momentum=st.sampled_from([0.0, 0.9]),
    train_biases=st.booleans(),
    shuffle=st.booleans(),
    update=st.sampled_from(["simultaneous", "layerwise"]),
    dtype=st.sampled_from([np.float64, np.float32]),
    fast_math=st.booleans(),
)
def test_same_architecture_lanes_are_bit_identical(seed, n_nets, hidden, tied, momentum, train_biases, shuffle,
                                                   update, dtype, fast_math):  # fmt: skip
    """Many networks of one architecture go through the lane kernel: still the bits of train alone."""
    from fastbp import _dispatch, _options

    nets = [fastbp.Network.random((3, *hidden, 2), seed=seed % 1000 + k, tied_biases=tied, dtype=dtype)
            for k in range(n_nets)]  # fmt: skip
    _, X, Y = random_problem(seed, [3, 1, 2], 5)
    lrs = list(np.linspace(0.1, 1.5, n_nets))
    options = dict(epochs=3, momentum=momentum, train_biases=train_biases, shuffle=shuffle, seed=1, update=update,
                   fast_math=fast_math)  # fmt: skip
    opts = _options.check(5, epochs=3, momentum=momentum, shuffle=shuffle, seed=1, train_biases=train_biases,
                          update=update)  # fmt: skip
    assert _dispatch.many_choice(nets, opts, 5) == "lanes"
    for net, history, single, h in train_many_and_alone(nets, X, Y, lrs, options):
        assert net == single
        np.testing.assert_array_equal(history.errors, h.errors)
        assert history.final_error == h.final_error  # the lane kernel's own final pass


def test_a_diverging_lane_falls_back_to_exact_per_network_training():
    nets = [fastbp.Network.from_arrays([[[0.0, 0.0]]], [[0.0]]) for _ in range(10)]
    lrs = [0.5] * 9 + [1e308]
    with pytest.raises(FloatingPointError, match=r"nets \[9\]"):
        fastbp.train_many(nets, [[1e-300, 1e-300]], [[1.0]], epochs=50, lr=lrs, momentum=0.99)
    reference = fastbp.Network.from_arrays([[[0.0, 0.0]]], [[0.0]])
    fastbp.train(reference, [[1e-300, 1e-300]], [[1.0]], epochs=50, lr=0.5, momentum=0.99)
    assert nets[0] == reference


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("n_nets", [8, 9, 100, 500, 1000, 4001])
def test_lane_blocks_are_even_and_as_many_for_every_thread(n_nets, threads):
    """Blocks of at most BLOCK networks, a multiple of 8, split (as many._spread splits them) so that no thread
    waits for another."""
    from fastbp import many

    lanes = object.__new__(many._Lanes)
    lanes.nets = [None] * n_nets
    block = lanes.block(threads)
    n_blocks = -(-n_nets // block)
    assert block % 8 == 0 and block <= many._Lanes.BLOCK
    if n_nets >= 8 * threads:  # every thread gets the same number of blocks, equal but for rounding up to 8
        assert n_blocks % threads == 0
        sizes = [min(block, n_nets - k) for k in range(0, n_nets, block)]
        shares = [sum(sizes[t * n_blocks // threads : (t + 1) * n_blocks // threads]) for t in range(threads)]
        assert max(shares) - min(shares) < 8 * n_blocks


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("n_items", [0, 1, 5, 64])
def test_spread_does_each_item_once_in_parts_at_once_and_raises_a_parts_error(n_items, threads):
    """train_many's threads: every item in exactly one part, the parts running at the same time (each waits at a
    barrier for the others), a helper thread's error raised in the caller after every part has ended."""
    import threading

    from fastbp import many

    parts = min(n_items, threads)
    barrier = threading.Barrier(max(parts, 1), timeout=10)
    seen = []

    def work(start, stop):
        barrier.wait()
        seen.extend(range(start, stop))

    many._spread(work, n_items, threads)
    assert sorted(seen) == list(range(n_items))
    if parts > 1:
        ended = []

        def failing(start, stop):
            ended.append(start)
            if start > 0:
                raise ValueError(f"part from {start}")

        with pytest.raises(ValueError, match="part from"):
            many._spread(failing, n_items, threads)
        assert len(ended) == parts
