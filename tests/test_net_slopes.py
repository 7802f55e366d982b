"""GELU and SiLU, the activations whose slope is computed from the net input (catalogue.Activation.slope_from_net):
every kernel path against the oracle, the paths that keep no net inputs never reached, finite differences, and the
places every activation goes (trace, save/load, checkpoints, the command line). Against PyTorch, their export and
the property tests: tests/test_torch_reference.py, tests/test_export.py, tests/test_engines_agree.py take every
activation of the catalogue."""

import numpy as np
import pytest
from reference import compiled_and_oracle, finite_difference_gradients, model_problem

import fastbp
from fastbp import _dispatch, _options, catalogue, cli

NET_SLOPES = [record.name for record in catalogue.ACTIVATIONS if record.slope_from_net]

# Every path of the loops: online plain and general (momentum, layerwise, Adam), minibatches, full batch.
PATHS = {
    "online": dict(batch_size=1),
    "online layerwise": dict(batch_size=1, update="layerwise"),
    "online momentum": dict(batch_size=1, momentum=0.5, nesterov=True),
    "online adam": dict(batch_size=1, optimizer="adam", lr=0.01),
    "minibatch": dict(batch_size=3, kernel="loops"),
    "minibatch layerwise rprop": dict(batch_size=3, kernel="loops", optimizer="rprop", lr=0.01),
    "full batch adamw": dict(batch_size=None, optimizer="adamw", lr=0.01, weight_decay=0.01),
}


def test_the_records_that_need_the_net_input():
    assert NET_SLOPES == ["gelu", "silu"]
    for record in catalogue.ACTIVATIONS:
        # The diagnostics' flat spots and dead units are read from the outputs the kernels keep.
        assert not (record.slope_from_net and (record.saturated_below is not None or record.dies)), record.name


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("name", NET_SLOPES)
def test_every_path_trains_as_the_oracle(name, path):
    """Hidden layers of it below another activation, and it as the output: each slope from its own net inputs."""
    for activations in ((name, "tanh", "identity"), ("tanh", name, name)):
        net, X, Y = model_problem(4, (3, 5, 4, 2), 8, activations)
        options = dict(epochs=3, lr=0.2, shuffle=True, seed=3) | PATHS[path]
        compiled_and_oracle(net, X, Y, **options)


@pytest.mark.parametrize("name", NET_SLOPES)
def test_float32_the_unrolled_kernel_and_train_many_give_the_loops_bits(name):
    net, X, Y = model_problem(5, (2, 3, 1), 6, (name, "identity"))
    options = dict(epochs=25, lr=0.1)
    unrolled, loops = net.copy(), net.copy()
    fastbp.train(unrolled, X, Y, kernel="unrolled", **options)
    fastbp.train(loops, X, Y, kernel="loops", **options)
    assert unrolled == loops
    nets = [fastbp.Network.random((2, 4, 1), seed=k, activations=(name, "identity")) for k in range(8)]
    assert _dispatch.many_choice(nets, _options.check(6, **options), 6) == "threads"  # (not the lanes)
    alone = [n.copy() for n in nets]
    fastbp.train_many(nets, X, Y, **options)
    for together, single in zip(nets, alone):
        fastbp.train(single, X, Y, **options)
        assert together == single
    small = fastbp.Network.random((2, 4, 1), seed=1, activations=(name, "identity"), dtype=np.float32)
    reference = small.copy()
    fastbp.train(small, X, Y, **options)
    fastbp.train(reference, X, Y, engine="python", **options)
    for a, b in zip(small.weights, reference.weights):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_the_kernels_that_keep_no_net_inputs_are_never_chosen_and_refuse_when_forced():
    net, X, Y = model_problem(6, (40, 64, 10), 300, ("gelu", "identity"))
    assert _dispatch.training_choice(net, _options.check(300, batch_size=32), 300) == "loops"
    assert _dispatch.gradient_kernel(net, 300) is not _dispatch.gradient_kernel(
        fastbp.Network.random((40, 64, 10), seed=0, activations=("tanh", "identity")), 300
    )
    before = net.copy()
    with pytest.raises(ValueError, match="kernel='blas' does not keep the net inputs"):
        fastbp.train(net, X, Y, batch_size=32, kernel="blas")
    nets = [fastbp.Network.random((2, 3, 1), seed=k, activations=("silu", "identity")) for k in range(8)]
    with pytest.raises(ValueError, match=r"kernel='lanes' .* \(gelu, silu\)"):
        fastbp.train_many(nets, np.zeros((4, 2)), np.zeros((4, 1)), kernel="lanes")
    assert net == before
    # Wide minibatches train in the loops, to the oracle's numbers (BLAS would have been chosen for tanh).
    fast, slow = net.copy(), net.copy()
    fastbp.train(fast, X[:40], Y[:40], epochs=1, batch_size=8, lr=0.05)
    fastbp.train(slow, X[:40], Y[:40], epochs=1, batch_size=8, lr=0.05, engine="python")
    np.testing.assert_allclose(fast.weights[0], slow.weights[0], rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("name", NET_SLOPES)
def test_gradients_match_central_differences(name):
    net, X, Y = model_problem(2, (3, 4, 2), 6, (name, name))
    dW, db = net.gradients(X, Y)
    numeric_W, numeric_b = finite_difference_gradients(net, X, Y)
    for got, want in zip(dW + db, numeric_W + numeric_b):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9)


def test_trace_save_load_resume_and_the_command_line(tmp_path, capsys):
    net, X, Y = model_problem(7, (2, 3, 2), 4, ("gelu", "silu"))
    text = str(fastbp.trace(net, X[0], Y[0]))
    assert "out_h1 = net_h1 Phi(net_h1)" in text and "dout_h1/dnet_h1 = Phi(net_h1) + net_h1 phi(net_h1)" in text
    assert "out_o1 = net_o1 / (1 + e^(-net_o1))" in text
    net.save(tmp_path / "net.npz")
    assert fastbp.load(tmp_path / "net.npz") == net
    whole, part = net.copy(), net.copy()
    options = dict(lr=0.3, batch_size=2, momentum=0.9)
    fastbp.train(whole, X, Y, epochs=6, **options)
    fastbp.train(part, X, Y, epochs=3, checkpoint=tmp_path / "run.npz", **options)
    fastbp.train(part, X, Y, epochs=6, resume=tmp_path / "run.npz", **options)
    assert part == whole
    assert cli.main(["train", "xor", "--hidden", "4", "--activation", "silu", "--output-activation", "gelu",
                     "--epochs", "20"]) == 0  # fmt: skip
    assert "(silu, gelu)" in capsys.readouterr().out
