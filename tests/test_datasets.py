"""fastbp.datasets: built-in sets, CSV, .npz and FANN files, scaling, splits, and clear errors."""

import numpy as np
import pytest

from fastbp import datasets
from fastbp.datasets import DataError


def test_xor_and_iris():
    xor = datasets.xor()
    assert xor.X.shape == (4, 2) and xor.Y.ravel().tolist() == [0, 1, 1, 0]
    iris = datasets.iris()
    assert iris.X.shape == (150, 4) and iris.Y.shape == (150, 3)
    assert iris.classes == ("setosa", "versicolor", "virginica")
    np.testing.assert_array_equal(iris.Y.sum(axis=0), [50, 50, 50])
    np.testing.assert_array_equal(iris.X[0], [5.1, 3.5, 1.4, 0.2])


def test_digits_when_scikit_learn_is_installed():
    pytest.importorskip("sklearn")
    digits = datasets.digits()
    assert digits.X.shape == (1797, 64) and digits.X.max() == 1.0 and digits.one_hot


def test_csv_with_header_labels_and_named_targets(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,b,label\n1,2,cat\n3,4,dog\n5,6,cat\n")
    data = datasets.load(path, one_hot=True)
    assert data.classes == ("cat", "dog")
    np.testing.assert_array_equal(data.Y, [[1, 0], [0, 1], [1, 0]])
    by_name = datasets.load(path, targets=["label"], one_hot=True)
    np.testing.assert_array_equal(by_name.X, [[1, 2], [3, 4], [5, 6]])
    numeric = tmp_path / "n.csv"
    numeric.write_text("y,a,b\n0.5,1,2\n0.25,3,4\n")
    first = datasets.load(numeric, targets=["y"])
    np.testing.assert_array_equal(first.Y, [[0.5], [0.25]])
    np.testing.assert_array_equal(first.X, [[1, 2], [3, 4]])


def test_csv_without_header_last_k_targets(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("0.1,0.2,0.3,0.9\n0.4,0.5,0.6,0.1\n")
    data = datasets.load(path, targets=2)
    np.testing.assert_array_equal(data.X, [[0.1, 0.2], [0.4, 0.5]])
    np.testing.assert_array_equal(data.Y, [[0.3, 0.9], [0.6, 0.1]])


def test_npz_and_fann_round_trip(tmp_path):
    iris = datasets.iris()
    np.savez(tmp_path / "iris.npz", X=iris.X, Y=iris.Y)
    loaded = datasets.load(tmp_path / "iris.npz")
    np.testing.assert_array_equal(loaded.X, iris.X)
    datasets.save_fann(iris, tmp_path / "iris.data")
    text = (tmp_path / "iris.data").read_text().splitlines()
    assert text[0] == "150 4 3"
    fann = datasets.load(tmp_path / "iris.data")
    np.testing.assert_array_equal(fann.X, iris.X)
    np.testing.assert_array_equal(fann.Y, iris.Y)


def test_split_is_seeded_and_disjoint():
    iris = datasets.iris()
    train, val = iris.split(0.2, seed=1)
    again, _ = iris.split(0.2, seed=1)
    assert len(train) == 120 and len(val) == 30
    np.testing.assert_array_equal(train.X, again.X)
    rows = {tuple(r) for r in np.hstack([iris.X, iris.Y])}
    assert len(rows) > 140  # the few duplicate flowers aside, the parts are disjoint
    with pytest.raises(ValueError, match="validation"):
        iris.split(1.5)


def test_minmax_scaling_uses_training_bounds():
    X = np.array([[0.0, 5.0], [10.0, 5.0]])
    scaled, (low, high) = datasets.minmax_scale(X)
    np.testing.assert_array_equal(scaled, [[0, 0], [1, 0]])
    np.testing.assert_array_equal(datasets.minmax_scale(np.array([[5.0, 5.0]]), (low, high))[0], [[0.5, 0]])


def test_targets_outside_unit_interval_warn():
    with pytest.warns(UserWarning, match="logistic outputs lie in"):
        datasets.warn_if_targets_unreachable(np.array([[2.0]]), "data")


@pytest.mark.parametrize(
    "content, message",
    [
        ("a,b\n1,x\n", r"line 2, column 2 \(b\): not a number: 'x'"),
        ("1,2,3\n4,5\n", "line 2: expected 3 columns, got 2"),
        ("1,2\n3,nan\n", "line 2, column 2: not a finite number"),
        ("", "no data rows"),
    ],
)
def test_csv_errors_name_line_and_column(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(DataError, match=message):
        datasets.load(path)


def test_file_errors(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        datasets.load(tmp_path / "missing.csv")
    (tmp_path / "x.npz").write_bytes(b"junk")
    with pytest.raises(DataError, match="x.npz: not a readable"):
        datasets.load(tmp_path / "x.npz")
    np.savez(tmp_path / "y.npz", X=np.zeros((2, 2)))
    with pytest.raises(DataError, match="missing array"):
        datasets.load(tmp_path / "y.npz")
    (tmp_path / "f.data").write_text("2 2 1\n0 0\n0\n1 1\n")
    with pytest.raises(DataError, match="promises 2 pairs"):
        datasets.load(tmp_path / "f.data")
    (tmp_path / "g.data").write_text("1 2 1\n0 zero\n0\n")
    with pytest.raises(DataError, match="g.data, line 2, column 2: not a number"):
        datasets.load(tmp_path / "g.data")
    (tmp_path / "h.xyz").write_text("1")
    with pytest.raises(DataError, match="cannot tell the format"):
        datasets.load(tmp_path / "h.xyz")
