"""Fuzzing the file doors: mutated and truncated network files, checkpoints and data files.

A seeded generator (the same inputs on every run) mutates sound files byte by byte (flips, cuts,
insertions) and member by member (another dtype or shape, NaN, a forged header, a member dropped or
added), then hands each to the door that reads it. Every input must end in a clean refusal (ValueError
or TypeError naming the file; the network passed in unchanged) or a correct result; never another
exception. The number of inputs each test tries is in its name's parameter.
"""

import io
import zipfile

import numpy as np
import pytest
from reference import random_problem

import fastbp
from fastbp import cli, datasets

REFUSALS = (ValueError, TypeError)


def read_members(data: bytes) -> dict:
    with np.load(io.BytesIO(data)) as archive:
        return {key: archive[key] for key in archive.files}


def write_members(arrays: dict, forged: str | None = None, compressed: bool = False) -> bytes:
    """An .npz archive of arrays; the member `forged` gets a header that declares a huge shape."""
    buffer = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if compressed else zipfile.ZIP_STORED
    with zipfile.ZipFile(buffer, "w", compression=method) as archive:
        for key, value in arrays.items():
            with archive.open(f"{key}.npy", "w", force_zip64=True) as member:
                if key == forged:
                    header = {"descr": value.dtype.str, "fortran_order": False, "shape": (10**12, *value.shape[1:])}
                    np.lib.format.write_array_header_1_0(member, header)
                    member.write(value.tobytes())
                else:
                    np.lib.format.write_array(member, value, allow_pickle=False)
    return buffer.getvalue()


def other_value(rng: np.random.Generator, value: np.ndarray) -> np.ndarray:
    """A member of another dtype or shape, or of the same with NaN, inf, huge or negative numbers."""
    choice = rng.integers(12)
    if choice == 0:
        if value.dtype.kind == "U":
            return np.zeros(value.shape)
        return value.astype(np.int32) if value.dtype.kind in "fb" else value.astype(np.float64)
    if choice == 1:
        return np.array("text")
    if choice == 2:
        return value.reshape(-1)[:0]
    if choice == 3:
        return np.stack([value, value])
    if choice == 4:
        return value.reshape(-1)[:1].reshape(()) if value.size else np.array(0)
    if choice == 5 and value.dtype.kind == "f" and value.size:
        bad = value.copy().reshape(-1)
        bad[rng.integers(bad.size)] = rng.choice([np.nan, np.inf, -np.inf])
        return bad.reshape(value.shape)
    if choice == 6 and value.dtype.kind in "iuf":
        return -value - 3
    if choice == 7 and value.dtype.kind in "iuf":
        with np.errstate(over="ignore"):
            return value * 1e300 if value.dtype.kind == "f" else value + 10**9
    if choice == 8:
        return np.concatenate([value.reshape(-1), value.reshape(-1)]) if value.size else np.zeros(3)
    if choice == 9:
        return value.astype(np.complex128) if value.dtype.kind in "iuf" else np.array([1 + 2j])
    if choice == 10:
        if value.ndim == 2:
            return np.asfortranarray(value.T)
        return value.astype("S") if value.dtype.kind == "U" else value.astype(np.float32)
    return np.array([[True, False]])


def mutations(sound: bytes, rng: np.random.Generator, count: int):
    """count mutated versions of an .npz archive's bytes."""
    arrays = read_members(sound)
    keys = sorted(arrays)
    for _ in range(count):
        kind = rng.integers(7)
        if kind == 0:  # cut short
            yield sound[: rng.integers(len(sound))]
        elif kind == 1:  # bytes flipped
            data = bytearray(sound)
            for position in rng.integers(len(data), size=rng.integers(1, 9)):
                data[position] ^= 1 << rng.integers(8)
            yield bytes(data)
        elif kind == 2:  # bytes inserted or removed
            at = rng.integers(len(sound))
            yield sound[:at] + rng.bytes(rng.integers(1, 20)) + sound[at + rng.integers(0, 20) :]
        elif kind in (3, 4):  # one member replaced
            key = keys[rng.integers(len(keys))]
            yield write_members(arrays | {key: other_value(rng, arrays[key])}, compressed=bool(rng.integers(2)))
        elif kind == 5:  # a member dropped, or an extra one added
            key = keys[rng.integers(len(keys))]
            changed = {k: v for k, v in arrays.items() if k != key} if rng.integers(2) else arrays | {"x": arrays[key]}
            yield write_members(changed)
        else:  # a header that declares far more than the member holds
            yield write_members(arrays, forged=keys[rng.integers(len(keys))])


def written(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("count", [500])
def test_mutated_network_files_load_or_are_refused(tmp_path, count):
    sound_path = tmp_path / "sound.npz"
    net = fastbp.Network.random((2, 4, 2), seed=0, activations=("tanh", "logistic"))
    net.save(sound_path, input_bounds=(np.zeros(2), np.full(2, 2.0)))
    rng = np.random.default_rng(20261207)
    outcomes = {"refused": 0, "loaded": 0}
    for k, data in enumerate(mutations(sound_path.read_bytes(), rng, count)):
        path = written(tmp_path, f"m{k}.npz", data)
        try:
            loaded = fastbp.load(path)
        except REFUSALS as refusal:
            assert f"m{k}.npz" in str(refusal)
            outcomes["refused"] += 1
            continue
        outcomes["loaded"] += 1  # what loads is what the file holds, every parameter finite
        members = read_members(data)
        for l, (W, b) in enumerate(zip(loaded.weights, loaded.biases)):
            np.testing.assert_array_equal(W, members[f"W{l}"])
            np.testing.assert_array_equal(b, members[f"b{l}"])
        assert np.isfinite(loaded._params).all()
        if k % 10 == 0:  # the command line's door: a one-line error or predictions
            assert cli.main(["predict", str(path), "xor", "--out", str(tmp_path / "p.csv")]) in (0, 2)
    assert outcomes["refused"] > count // 2 and outcomes["loaded"] > 0, outcomes


@pytest.mark.parametrize("count", [400])
def test_mutated_checkpoints_resume_or_are_refused_leaving_the_network(tmp_path, count):
    net, X, Y = random_problem(3, [3, 4, 2], 5)
    options = dict(lr=0.3, shuffle=True, seed=1, validation=(X[:2], Y[:2]), patience=50)
    sound_path = tmp_path / "sound.ckpt"
    fastbp.train(net.copy(), X, Y, epochs=3, checkpoint=sound_path, checkpoint_every=3, **options)
    rng = np.random.default_rng(7)
    outcomes = {"refused": 0, "resumed": 0}
    for k, data in enumerate(mutations(sound_path.read_bytes(), rng, count)):
        path = written(tmp_path, f"c{k}.ckpt", data)
        trained = net.copy()
        try:
            history = fastbp.train(trained, X, Y, epochs=5, resume=path, **options)
        except REFUSALS as refusal:
            assert f"c{k}.ckpt" in str(refusal)
            assert trained == net  # refused before anything was assigned
            outcomes["refused"] += 1
            continue
        except FloatingPointError:  # a checkpoint whose numbers diverge: the network holds its last finite epoch
            assert np.isfinite(trained._params).all()
            continue
        outcomes["resumed"] += 1
        assert len(history.errors) <= 5 and np.isfinite(history.errors).all() and np.isfinite(trained._params).all()
    assert outcomes["refused"] > count // 2 and outcomes["resumed"] > 0, outcomes


@pytest.mark.parametrize("count", [300])
def test_mutated_npz_data_files_load_or_are_refused(tmp_path, count):
    rng = np.random.default_rng(11)
    sound = write_members({"X": rng.uniform(size=(6, 2)), "Y": (rng.uniform(size=(6, 1)) > 0.5).astype(float)})
    outcomes = {"refused": 0, "loaded": 0}
    for k, data in enumerate(mutations(sound, rng, count)):
        path = written(tmp_path, f"d{k}.npz", data)
        check_data_door(path, f"d{k}.npz", outcomes, tmp_path if k % 10 == 0 else None)
    assert outcomes["refused"] > count // 3 and outcomes["loaded"] > 0, outcomes


def text_mutations(sound: str, rng: np.random.Generator, count: int):
    """count mutated versions of a text data file (str, or bytes where a byte was changed): cells, lines, bytes."""
    odd = ["nan", "inf", "-inf", "1e999", "abc", "", " ", "0x1p3", "1,2", "\x00", "1e-400", "+-1", "٣"]
    for _ in range(count):
        lines = sound.splitlines()
        kind = rng.integers(5)
        row = rng.integers(len(lines))
        if kind == 0:
            yield sound[: rng.integers(len(sound))]
        elif kind == 1:  # one cell replaced
            cells = lines[row].replace(",", " ").split()
            if cells:
                cells[rng.integers(len(cells))] = odd[rng.integers(len(odd))]
            lines[row] = ("," if "," in sound else " ").join(cells)
            yield "\n".join(lines)
        elif kind == 2:  # a line dropped or repeated
            yield "\n".join(lines[:row] + lines[row + 1 :] if rng.integers(2) else lines[: row + 1] + lines[row:])
        elif kind == 3:  # a cell added or removed
            sep = "," if "," in sound else " "
            cells = lines[row].split(sep)
            lines[row] = sep.join(cells + ["1"] if rng.integers(2) else cells[:-1])
            yield "\n".join(lines)
        else:
            data = bytearray(sound.encode())
            data[rng.integers(len(data))] = rng.integers(256)
            yield bytes(data)


@pytest.mark.parametrize("fmt, count", [("csv", 200), ("data", 200)])
def test_mutated_text_data_files_load_or_are_refused(tmp_path, fmt, count):
    iris = datasets.iris()
    rng = np.random.default_rng(5)
    sound_path = tmp_path / f"sound.{fmt}"
    if fmt == "csv":
        rows = [",".join([f"{v:g}" for v in x] + [f"{np.argmax(y)}"]) for x, y in zip(iris.X[:8], iris.Y[:8])]
        sound_path.write_text("a,b,c,d,label\n" + "\n".join(rows) + "\n")
    else:
        datasets.save_fann(datasets.Dataset(iris.X[:8], iris.Y[:8]), sound_path)
    outcomes = {"refused": 0, "loaded": 0}
    for k, text in enumerate(text_mutations(sound_path.read_text(), rng, count)):
        path = tmp_path / f"t{k}.{fmt}"
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        check_data_door(path, path.name, outcomes, tmp_path if k % 10 == 0 else None)
    assert outcomes["refused"] > count // 4 and outcomes["loaded"] > 0, outcomes


def check_data_door(path, name: str, outcomes: dict, command_line_folder) -> None:
    """datasets.load refuses the file naming it or gives finite float64 rows; the command line trains or
    prints one line."""
    try:
        data = datasets.load(path)
    except REFUSALS as refusal:
        assert name in str(refusal)
        outcomes["refused"] += 1
    else:
        outcomes["loaded"] += 1
        assert data.X.dtype == data.Y.dtype == np.float64 and data.X.ndim == data.Y.ndim == 2
        assert len(data.X) == len(data.Y) > 0 and np.isfinite(data.X).all() and np.isfinite(data.Y).all()
    if command_line_folder is not None:
        out = str(command_line_folder / "model.npz")
        assert cli.main(["train", str(path), "--epochs", "1", "--quiet", "--out", out]) in (0, 2)
