"""Beyond the article: early stopping, resuming every optimiser exactly, saved activations, bad input at the door."""

import subprocess
import sys

import numpy as np
import pytest
from reference import TRAINING

import fastbp


def problem(seed=0, n=40):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (n, 4))
    Y = np.eye(3)[(X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 0.5).astype(int)]
    net = fastbp.Network.random((4, 6, 3), seed=seed, activations=("tanh", "softmax"))
    return net, X, Y


def test_the_article_is_the_default_bit_for_bit(article):
    """With no option but the article's frozen biases, train() is the article's algorithm to the last bit:
    the float64 values of ARTICLE_NUMBERS.md (a straightforward implementation's) exactly, not approximately."""
    net, X, Y = article
    expect = TRAINING["simultaneous"]
    assert fastbp.train(net.copy(), X, Y, train_biases=False).final_error == expect["after_1"]
    h = fastbp.train(net, X, Y, epochs=10_000, train_biases=False)
    assert h.final_error == expect["after_10000"] and tuple(net.forward(X[0])) == expect["outputs"]
    assert net.activations == ("logistic", "logistic")


def test_patience_stops_and_restores_the_best_epoch():
    net, X, Y = problem()
    Xv, Yv = X[:10] + 0.3, Y[:10]
    h = fastbp.train(net, X, Y, epochs=400, lr=0.05, optimizer="adam", loss="cross_entropy", validation=(Xv, Yv),
                     patience=5)  # fmt: skip
    assert h.stopped_early and len(h.errors) == len(h.val_errors) < 400
    best = int(np.argmin(h.val_errors)) + 1
    assert h.best_epoch == best and len(h.errors) == best + 5
    assert net.error(Xv, Yv, loss="cross_entropy") == pytest.approx(h.val_errors[best - 1], rel=1e-12)


def test_min_delta_counts_small_gains_as_none():
    net, X, Y = problem(1)
    validation = (X[:10] + 0.3, Y[:10])
    options = dict(epochs=300, lr=0.05, optimizer="adam", loss="cross_entropy", validation=validation, patience=3)
    strict = fastbp.train(net.copy(), X, Y, min_delta=1e-2, **options)
    loose = fastbp.train(net.copy(), X, Y, **options)
    assert len(strict.errors) <= len(loose.errors)


def test_target_error_stops_at_the_first_epoch_that_reaches_it(article):
    net, X, Y = article
    h = fastbp.train(net, X, Y, epochs=10_000, train_biases=False, target_error=1e-3)
    assert h.stopped_early and h.errors[-1] <= 1e-3 < h.errors[-2]
    reaches_at_last = fastbp.train(fastbp.article_network(), X, Y, epochs=len(h.errors), train_biases=False,
                                   target_error=1e-3)  # fmt: skip
    assert not reaches_at_last.stopped_early
    oracle = fastbp.article_network()
    h_oracle = fastbp.train(oracle, X, Y, epochs=10_000, train_biases=False, target_error=1e-3, engine="python")
    assert len(h_oracle.errors) == len(h.errors)


def test_without_validation_there_is_no_record():
    net, X, Y = problem()
    h = fastbp.train(net, X, Y, epochs=3)
    assert h.val_errors is None and h.best_epoch is None and not h.stopped_early


@pytest.mark.parametrize("optimizer, lr", [("adam", 0.01), ("rprop", 0.01), ("sgd", 0.3)])
def test_resume_is_bit_identical_for_every_optimizer(tmp_path, optimizer, lr):
    net, X, Y = problem(2)
    validation = (X[:8], Y[:8])
    options = dict(lr=lr, optimizer=optimizer, loss="cross_entropy", batch_size=8, shuffle=True, seed=3,
                   weight_decay=0.01, momentum=0.5 if optimizer == "sgd" else 0.0, validation=validation,
                   patience=50)  # fmt: skip
    whole = net.copy()
    h_whole = fastbp.train(whole, X, Y, epochs=12, **options)
    path = tmp_path / "run.ckpt"
    half = net.copy()
    fastbp.train(half, X, Y, epochs=5, checkpoint=path, checkpoint_every=5, **options)
    resumed = net.copy()
    h = fastbp.train(resumed, X, Y, epochs=12, resume=path, **options)
    assert resumed == whole
    np.testing.assert_array_equal(h.errors, h_whole.errors)
    np.testing.assert_array_equal(h.val_errors, h_whole.val_errors)
    assert h.best_epoch == h_whole.best_epoch


def test_resume_refuses_another_optimizer(tmp_path):
    net, X, Y = problem()
    fastbp.train(net.copy(), X, Y, epochs=2, optimizer="adam", lr=0.01, checkpoint=tmp_path / "c")
    with pytest.raises(ValueError, match="optimizer='adam'"):
        fastbp.train(net.copy(), X, Y, epochs=4, optimizer="rprop", lr=0.01, resume=tmp_path / "c")


def test_resume_refuses_another_fast_math(tmp_path):
    """A run resumed bit for bit must compute as it started: fast_math is recorded, as the optimizer is."""
    net, X, Y = problem()
    fastbp.train(net.copy(), X, Y, epochs=2, fast_math=True, checkpoint=tmp_path / "c")
    with pytest.raises(ValueError, match="fast_math=True"):
        fastbp.train(net.copy(), X, Y, epochs=4, resume=tmp_path / "c")
    fastbp.train(net.copy(), X, Y, epochs=4, fast_math=True, resume=tmp_path / "c")


def test_saved_networks_keep_their_activations_and_old_files_load_as_logistic(tmp_path):
    net, _, _ = problem()
    net.save(tmp_path / "net.npz")
    loaded = fastbp.load(tmp_path / "net.npz")
    assert loaded == net and loaded.activations == ("tanh", "softmax")
    old = dict(np.load(tmp_path / "net.npz"))
    del old["activations"]
    np.savez(tmp_path / "old.npz", **old)
    assert fastbp.load(tmp_path / "old.npz").activations == ("logistic", "logistic")


def test_train_many_with_mixed_activations_is_the_bits_of_train():
    _, X, Y = problem()
    nets = [fastbp.Network.random((4, 5, 3), seed=s, activations=("tanh" if s % 2 else "relu", "logistic"))
            for s in range(10)]  # fmt: skip
    same = [fastbp.Network.random((4, 5, 3), seed=s, activations=("tanh", "softmax")) for s in range(10)]
    for group, loss in ((nets, "squared"), (same, "cross_entropy")):
        alone = [net.copy() for net in group]
        fastbp.train_many(group, X, Y, epochs=4, lr=0.2, loss=loss)
        for net, single in zip(group, alone):
            fastbp.train(single, X, Y, epochs=4, lr=0.2, loss=loss)
            assert net == single


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(activations=("softmax", "logistic")), ValueError, r"activations\[0\] is 'softmax'"),
        (dict(activations=("tanh", "sigmoid")), ValueError, r"activations\[1\] must be one of"),
        (dict(activations=("tanh",)), ValueError, "one per layer above the input"),
    ],
)
def test_networks_refuse_bad_activations(kwargs, error, message):
    with pytest.raises(error, match=message):
        fastbp.Network.random((2, 3, 2), **kwargs)


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(loss="cross_entropy"), "needs an output layer of 'softmax' or 'logistic'"),
        (dict(optimizer="adam", momentum=0.9), "momentum applies to optimizer='sgd', not optimizer='adam'"),
        (dict(optimizer="rprop", update="layerwise"), "update='layerwise' applies to optimizer='sgd' only"),
        (dict(patience=3), "patience needs validation"),
        (dict(optimizer="nadam"), "optimizer must be one of 'sgd', 'adam', 'rprop'"),
        (dict(betas=(0.9, 1.0)), r"betas\[1\] must be in \[0.0, 1.0\)"),
        (dict(weight_decay=-0.1), "weight_decay must be >= 0.0"),
        (dict(eps=-1e-8), "eps must be > 0.0"),
        (dict(etas=(1.5, 1.2)), "0 < eta_minus < 1 < eta_plus"),
        (dict(loss="hinge"), "loss must be one of 'squared', 'cross_entropy'"),
        (dict(validation=([[1.0, 2.0]], [[0.5]])), r"validation\[0\] must have 3 columns"),
        (dict(target_error=-1.0), "target_error must be >= 0.0"),
    ],
)
def test_bad_options_are_refused_and_the_network_is_untouched(options, message):
    net = fastbp.Network.random((3, 4, 2), seed=0, activations=("relu", "identity"))
    before = net.copy()
    X, Y = np.ones((5, 3)), np.ones((5, 2))
    with pytest.raises((ValueError, TypeError), match=message):
        fastbp.train(net, X, Y, **options)
    assert net == before


def test_error_and_gradients_refuse_cross_entropy_on_other_outputs():
    net = fastbp.Network.random((3, 4, 2), seed=0, activations="tanh")
    with pytest.raises(ValueError, match="cross_entropy"):
        net.error(np.ones((1, 3)), np.ones((1, 2)), loss="cross_entropy")


def test_the_walkthrough_shows_the_formulas_used():
    net = fastbp.Network.random((2, 2, 2), seed=0, activations=("tanh", "softmax"))
    text = str(fastbp.trace(net, [0.1, 0.2], [0.0, 1.0], loss="cross_entropy"))
    assert "out_h1 = tanh(net_h1)" in text and "dout_h1/dnet_h1 = 1 - out_h1^2" in text
    assert "out_o1 = e^(net_o1) / (e^(net_o1) + e^(net_o2))" in text
    assert "delta_o1 = dE_total/dnet_o1 = out_o1 - target_o1" in text


def test_command_line_classifier_with_adam_and_early_stopping(tmp_path):
    pytest.importorskip("matplotlib")
    out = subprocess.run(
        [sys.executable, "-m", "fastbp", "train", "iris", "--hidden", "8", "--activation", "tanh",
         "--output-activation", "softmax", "--loss", "cross_entropy", "--optimizer", "adam", "--lr", "0.01",
         "--epochs", "500", "--val", "0.2", "--patience", "10", "--scale", "--shuffle", "--quiet",
         "--out", "iris.npz", "--plot", "loss.png"],
        cwd=tmp_path, capture_output=True, text=True, check=True, timeout=300,
    ).stdout  # fmt: skip
    assert "network 4-8-3 (tanh, softmax)" in out and "adam" in out and "loss cross_entropy" in out
    assert "validation error" in out and "accuracy" in out
    assert fastbp.load(tmp_path / "iris.npz").activations == ("tanh", "softmax")


def test_command_line_regressor_with_target_error(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (60, 2))
    rows = np.column_stack([X, 3 * X[:, 0] - 2 * X[:, 1] + 5])
    np.savetxt(tmp_path / "lin.csv", rows, delimiter=",", header="a,b,y", comments="")
    out = subprocess.run(
        [sys.executable, "-m", "fastbp", "train", "lin.csv", "--hidden", "8", "--activation", "relu",
         "--output-activation", "identity", "--optimizer", "rprop", "--lr", "0.01", "--batch-size", "full",
         "--epochs", "3000", "--target-error", "0.001", "--quiet"],
        cwd=tmp_path, capture_output=True, text=True, check=True, timeout=300,
    ).stdout  # fmt: skip
    assert "stopped after epoch" in out and "the target error" in out


def test_command_line_refuses_cross_entropy_on_an_identity_output(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "fastbp", "train", "xor", "--output-activation", "identity", "--loss", "cross_entropy"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 2 and "cross_entropy" in result.stderr and len(result.stderr.splitlines()) == 1
