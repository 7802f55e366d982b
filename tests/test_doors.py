"""Every door refuses bad input before any work, naming the argument or the file, and loses nothing.

One test (or a few) per defect a hostile but fair user found: damaged checkpoints, destinations that
cannot be written, softmax on one unit, warm starts, eps=0, sets as pairs, hostile archives, huge
epoch counts, input bounds, dtype and data mismatches on resume, and numbers read from files.
"""

import json
import os
import zipfile

import numpy as np
import pytest
from reference import random_problem

import fastbp
from fastbp import cli, datasets


def rewrite(source, target, **changes):
    """Copy an .npz archive, with members replaced (or removed where the change is None)."""
    with np.load(source) as archive:
        arrays = {key: archive[key] for key in archive.files}
    for key, value in changes.items():
        if value is None:
            arrays.pop(key, None)
        else:
            arrays[key] = value
    with open(target, "wb") as f:  # (np.savez would add .npz to the name)
        np.savez(f, **arrays)
    return target


@pytest.fixture
def run(tmp_path):
    """A network, data, options, and a checkpoint of 4 of the run's 8 epochs."""
    net, X, Y = random_problem(5, [3, 4, 2], 6)
    options = dict(lr=0.3, shuffle=True, seed=2)
    path = tmp_path / "run.ckpt"
    fastbp.train(net.copy(), X, Y, epochs=4, checkpoint=path, checkpoint_every=2, **options)
    return net, X, Y, options, path


# --- 1. a damaged checkpoint is refused whole, before anything is assigned ---------------------------


MT19937 = json.dumps(np.random.MT19937(0).state, default=lambda a: a.tolist())


@pytest.mark.parametrize(
    "change, message",
    [
        ({"epoch": np.array(-3)}, "epoch is -3"),
        ({"errors": np.zeros(3)}, r"errors has dtype float64 and shape \(3,\); expected shape \(4,\)"),
        ({"errors": np.zeros((4, 1))}, r"expected shape \(4,\)"),
        ({"errors": np.zeros(1)}, r"expected shape \(4,\)"),
        ({"errors": np.array([0.1, np.nan, 0.1, 0.1])}, "errors holds NaN or inf"),
        ({"rng_state": np.array(MT19937)}, "not the state of the shuffle's generator"),
        ({"rng_state": np.array("{not json")}, "rng_state is not readable JSON"),
        ({"options": None}, "no 'options' array"),
        ({"options": np.array("[1, 2]")}, "options is not a table"),
        ({"version": None}, "no readable format version"),
        ({"step": np.array("x")}, "step has dtype <U1"),
        ({"step": np.array(-1)}, "step is -1"),
        ({"params": np.zeros(5)}, r"params has dtype float64 and shape \(5,\)"),
        ({"params": np.array([[0.0]])}, "params has dtype float64 and shape"),
        ({"state_first": np.full(26, np.inf)}, "state_first holds NaN or inf"),
        ({"format": np.array(["fastbp-checkpoint"])}, "format has dtype <U17 and shape"),
        ({"waited": np.array(9)}, "waited is 9; expected 0 to 4"),
        ({"stopped": np.array(2.5)}, "stopped has dtype float64"),
    ],
)
def test_a_damaged_checkpoint_changes_nothing_and_names_the_file(run, tmp_path, change, message):
    net, X, Y, options, path = run
    damaged = rewrite(path, tmp_path / "damaged.ckpt", **change)
    before = net.copy()
    with pytest.raises(ValueError, match=message) as refused:
        fastbp.train(net, X, Y, epochs=8, resume=damaged, **options)
    assert "damaged.ckpt" in str(refused.value)
    assert net == before


def test_a_sound_checkpoint_still_resumes_bit_for_bit(run):
    net, X, Y, options, path = run
    whole = net.copy()
    h_whole = fastbp.train(whole, X, Y, epochs=8, **options)
    h = fastbp.train(net, X, Y, epochs=8, resume=path, **options)
    assert net == whole
    np.testing.assert_array_equal(h.errors, h_whole.errors)


# --- 10. what resume checks: dtype, data, the starting network ---------------------------------------


def test_resume_names_a_dtype_mismatch(run):
    net, X, Y, options, path = run
    single = fastbp.Network.from_arrays(net.weights, net.biases, dtype=np.float32)
    with pytest.raises(ValueError, match="holds float64 parameters; net is float32"):
        fastbp.train(single, X, Y, epochs=8, resume=path, **options)


def test_resume_refuses_other_data_and_another_network(run):
    net, X, Y, options, path = run
    before = net.copy()
    with pytest.raises(ValueError, match="a run on other data"):
        fastbp.train(net, X[::-1], Y[::-1], epochs=8, resume=path, **options)
    with pytest.raises(ValueError, match="a run on other data"):  # a validation set the run did not have
        fastbp.train(net, X, Y, epochs=8, resume=path, validation=(X, Y), **options)
    other = fastbp.Network.random((3, 4, 2), seed=7)
    other_before = other.copy()
    with pytest.raises(ValueError, match="started from another network"):
        fastbp.train(other, X, Y, epochs=8, resume=path, **options)
    assert net == before and other == other_before


# --- 2. destinations are checked before the work ---------------------------------------------------------


def test_train_refuses_a_checkpoint_it_could_not_write_before_any_epoch(tmp_path):
    net, X, Y = random_problem(1, [2, 3, 1], 4)
    before = net.copy()
    for path in (tmp_path / "nodir" / "c.ckpt", tmp_path, ""):
        with pytest.raises(ValueError, match="checkpoint"):
            fastbp.train(net, X, Y, epochs=4, checkpoint=path, checkpoint_every=2)
    assert net == before


def test_a_checkpoint_that_fails_mid_run_keeps_the_run(tmp_path):
    net, X, Y = random_problem(1, [2, 3, 1], 4)
    folder = tmp_path / "gone"
    folder.mkdir()

    def remove_folder(epoch, network):
        if epoch == 2:
            os.remove(folder / "c.ckpt")
            folder.rmdir()

    with pytest.raises(OSError, match="could not be written after epoch 3") as failed:
        fastbp.train(net, X, Y, epochs=6, checkpoint=folder / "c.ckpt", checkpoint_every=1, callback=remove_folder)
    assert len(failed.value.history.errors) == 3
    alone = random_problem(1, [2, 3, 1], 4)[0]
    fastbp.train(alone, X, Y, epochs=3)
    assert net == alone  # the network holds the weights of the last epoch the run completed


def test_save_and_to_onnx_refuse_a_missing_folder_with_value_error(tmp_path):
    net = fastbp.Network.random((2, 3, 1), seed=0)
    for path in (tmp_path / "nodir" / "m.npz", tmp_path, ""):
        with pytest.raises(ValueError, match="path"):
            net.save(path)
    pytest.importorskip("onnx")
    with pytest.raises(ValueError, match="does not exist"):
        net.to_onnx(tmp_path / "nodir" / "m.onnx")


@pytest.mark.parametrize(
    "args",
    [
        ["train", "xor", "--epochs", "10", "--out", "{tmp}/nodir/m.npz"],
        ["train", "xor", "--epochs", "10", "--out", "{tmp}"],
        ["train", "xor", "--epochs", "10", "--out", ""],
        ["train", "xor", "--epochs", "10", "--plot", "{tmp}/nodir/loss.png"],
        ["sweep", "xor", "--epochs", "10", "--out", "{tmp}/nodir/s.csv"],
        ["predict", "{tmp}/model.npz", "xor", "--out", "{tmp}/nodir/p.csv"],
        ["export", "{tmp}/model.npz", "--to", "onnx", "--out", "{tmp}/nodir/m.onnx"],
    ],
)
def test_the_command_line_refuses_an_unwritable_destination_before_the_work(tmp_path, capsys, args, monkeypatch):
    fastbp.Network.random((2, 3, 1), seed=0).save(tmp_path / "model.npz")
    trained = []
    monkeypatch.setattr(cli, "train", lambda *a, **k: trained.append(1))  # any training would be work lost
    assert cli.main([arg.format(tmp=tmp_path) for arg in args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and ("--out" in err or "--plot" in err), err
    assert not trained


# --- 3. softmax on one output unit ------------------------------------------------------------------------


def test_softmax_on_one_output_unit_is_refused_everywhere(capsys):
    with pytest.raises(ValueError, match="'softmax' on an output layer of one unit"):
        fastbp.Network.random((2, 3, 1), activations=("tanh", "softmax"))
    with pytest.raises(ValueError, match="'softmax' on an output layer of one unit"):
        fastbp.Network.from_arrays([np.ones((1, 2))], [0.0], activations="softmax")
    assert cli.main(["train", "xor", "--output-activation", "softmax", "--epochs", "5"]) == 2
    assert "softmax" in capsys.readouterr().err
    fastbp.Network.random((2, 3, 2), activations=("tanh", "softmax"))  # two units are a distribution


# --- 4. estimators: a warm start takes the new activation; coefs_ are the model --------------------------


def test_a_warm_start_takes_the_activation_set_since(recwarn):
    pytest.importorskip("sklearn")
    X, y = np.random.default_rng(0).normal(size=(40, 3)), np.arange(40) % 3
    clf = fastbp.MLPClassifier(hidden_layer_sizes=(5,), max_iter=3, warm_start=True, random_state=0).fit(X, y)
    clf.set_params(activation="tanh", max_iter=1).fit(X, y)
    assert clf.network_.activations == ("tanh", "softmax")
    W1, W2 = clf.coefs_
    b1, b2 = clf.intercepts_
    net = np.tanh(X @ W1 + b1) @ W2 + b2
    expected = np.exp(net - net.max(axis=1, keepdims=True))
    np.testing.assert_allclose(clf.predict_proba(X), expected / expected.sum(axis=1, keepdims=True), rtol=1e-12)
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        clf.set_params(hidden_layer_sizes=(6,)).fit(X, y)


def test_writing_into_coefs_and_intercepts_changes_the_model(recwarn):
    pytest.importorskip("sklearn")
    X, y = np.random.default_rng(1).normal(size=(30, 2)), np.random.default_rng(2).normal(size=30)
    reg = fastbp.MLPRegressor(hidden_layer_sizes=(4,), max_iter=5, random_state=0).fit(X, y)
    reg.coefs_[1][:] = 0.0
    reg.intercepts_[1][:] = 2.5
    np.testing.assert_array_equal(reg.predict(X), np.full(30, 2.5))
    reg.coefs_ = [np.zeros((2, 4)), np.ones((4, 1))]
    reg.intercepts_ = [np.zeros(4), np.zeros(1)]
    np.testing.assert_array_equal(reg.predict(X), np.zeros(30))
    with pytest.raises(ValueError, match=r"coefs_\[0\] must have shape \(2, 4\)"):
        reg.coefs_ = [np.zeros((3, 4)), np.ones((4, 1))]
    assert not hasattr(fastbp.MLPRegressor(), "coefs_")


# --- 5, 6. eps and pairs ------------------------------------------------------------------------------------


def test_adam_refuses_eps_zero_and_pairs_must_be_ordered():
    net, X, Y = random_problem(1, [2, 3, 1], 4)
    before = net.copy()
    with pytest.raises(ValueError, match="eps must be > 0.0; got 0.0"):
        fastbp.train(net, X, Y, optimizer="adam", eps=0.0)
    for name, value in (("betas", {0.999, 0.9}), ("etas", frozenset({0.5, 1.2})), ("step_sizes", {1e-6: 0, 50.0: 1})):
        with pytest.raises(TypeError, match=f"{name} must be a pair of numbers"):
            fastbp.train(net, X, Y, **{name: value})
    assert net == before
    fastbp.train(net, X, Y, optimizer="adam", betas=np.array([0.8, 0.99]))  # an array keeps its order


# --- 7, 11, 12. archives: only what the format needs, each member checked first -------------------------


def test_load_reads_only_the_members_of_the_format(tmp_path):
    import tracemalloc

    net = fastbp.Network.random((3, 5, 2), seed=0)
    path = tmp_path / "net.npz"
    net.save(path)
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("extra.npy", "w", force_zip64=True) as member:  # 200 MB of zeros, 200 KB on disk
            np.lib.format.write_array_header_1_0(member, {"descr": "<f8", "fortran_order": False, "shape": (25 << 20,)})
            block = bytes(1 << 20)
            for _ in range(200):
                member.write(block)
        header = {"descr": "<f8", "fortran_order": False, "shape": (10**12,)}
        with archive.open("huge.npy", "w") as member:
            np.lib.format.write_array_header_1_0(member, header)
    tracemalloc.start()
    loaded = fastbp.load(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert loaded == net and peak < 10 << 20


def test_a_member_declaring_more_than_it_holds_is_refused(tmp_path):
    net = fastbp.Network.random((3, 5, 2), seed=0)
    path = tmp_path / "net.npz"
    net.save(path)
    with np.load(path) as archive:
        arrays = {key: archive[key] for key in archive.files}
    with zipfile.ZipFile(tmp_path / "forged.npz", "w") as archive:
        for key, value in arrays.items():
            with archive.open(f"{key}.npy", "w") as member:
                if key == "W0":  # a header promising 7.28 TiB, then the 15 values
                    header = {"descr": "<f8", "fortran_order": False, "shape": (10**12,)}
                    np.lib.format.write_array_header_1_0(member, header)
                    member.write(value.tobytes())
                else:
                    np.lib.format.write_array(member, value)
    with pytest.raises(ValueError, match=r"forged.npz: damaged fastbp network file \(W0 has dtype float64 and shape"):
        fastbp.load(tmp_path / "forged.npz")


def test_a_format_key_of_the_wrong_shape_names_the_file(tmp_path):
    np.savez(tmp_path / "odd.npz", format=np.array(["fastbp-network", "x"]))
    with pytest.raises(ValueError, match="odd.npz: damaged fastbp network file"):
        fastbp.load(tmp_path / "odd.npz")


def test_from_torch_refuses_bfloat16_by_name():
    torch = pytest.importorskip("torch")
    for dtype in (torch.bfloat16, torch.float16):
        module = torch.nn.Sequential(torch.nn.Linear(2, 3, dtype=dtype))
        with pytest.raises(ValueError, match="float32 or float64"):
            fastbp.Network.from_torch(module)


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({"X": np.array([[0.0, np.nan]]), "Y": np.zeros((1, 1))}, "X holds NaN or inf"),
        ({"X": np.array([["a", "b"]]), "Y": np.zeros((1, 1))}, "X has dtype <U1"),
        ({"X": np.array(1.0), "Y": np.zeros(1)}, "X must hold one row per sample"),
        ({"X": np.zeros((0, 2)), "Y": np.zeros((0, 1))}, "X must hold one row per sample"),
        ({"X": np.zeros((2, 2)), "Y": np.zeros((3, 1))}, "X has 2 rows but Y has 3"),
        ({"X": np.zeros((2, 2))}, "missing array"),
        ({"X": np.full((1, 2), 1e300, np.longdouble) ** 2, "Y": np.zeros(1)}, "X holds NaN or inf"),
    ],
)
def test_npz_data_files_are_checked_member_by_member(tmp_path, arrays, message):
    np.savez(tmp_path / "d.npz", **arrays)
    with pytest.raises(datasets.DataError, match=message):
        datasets.load(tmp_path / "d.npz")


# --- 8. a large epoch count with a stopping rule ------------------------------------------------------------


def test_a_huge_epoch_count_trains_until_the_target_error():
    X, Y = datasets.xor().X, datasets.xor().Y
    net = fastbp.Network.random((2, 4, 1), seed=1)
    h = fastbp.train(net, X, Y, epochs=10**12, lr=2.0, target_error=0.01)
    assert h.stopped_early and h.errors[-1] <= 0.01 < h.errors[-2]
    alone = fastbp.Network.random((2, 4, 1), seed=1)
    fastbp.train(alone, X, Y, epochs=len(h.errors), lr=2.0)
    assert net == alone
    h = fastbp.train(net.copy(), X, Y, epochs=10**12, lr=2.0, validation=(X, Y), patience=3, min_delta=1.0)
    assert len(h.errors) == len(h.val_errors) == 4


# --- 9. input bounds ------------------------------------------------------------------------------------------


def test_input_bounds_are_checked_when_saved_and_when_read(tmp_path):
    net = fastbp.Network.random((3, 4, 1), seed=0)
    path = tmp_path / "m.npz"
    for bounds, error in (
        ((np.zeros(2), np.ones(2)), ValueError),
        ((np.zeros(3), np.array([1.0, np.nan, 1.0])), ValueError),
        ((np.ones(3), np.zeros(3)), ValueError),
        (np.zeros((2, 3)), TypeError),
    ):
        with pytest.raises(error, match="input_bounds"):
            net.save(path, input_bounds=bounds)
    assert not path.exists()
    net.save(path, input_bounds=(np.zeros(3), np.ones(3)))
    rewrite(path, tmp_path / "bad.npz", input_low=np.zeros(2))
    with pytest.raises(ValueError, match=r"bad.npz: damaged fastbp network file \(input_low"):
        fastbp.load(tmp_path / "bad.npz")
