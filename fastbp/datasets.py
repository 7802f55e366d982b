"""Data in: built-in data sets, CSV, .npz and FANN training files, scaling and splits.

Every loader returns a :class:`Dataset` of float64 arrays. A file that cannot be
read raises :class:`DataError` (a ValueError) naming the file, and the line and
column where that makes sense.
"""

from __future__ import annotations

import csv
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from importlib import resources

import numpy as np

FORMATS = ("csv", "npz", "fann")
EXTENSIONS = {".csv": "csv", ".txt": "csv", ".npz": "npz", ".data": "fann", ".fann": "fann", ".train": "fann"}
BUILT_IN = ("xor", "iris", "digits")


class DataError(ValueError):
    """A data file that cannot be used; the message names the file (and line and column)."""


@dataclass(frozen=True)
class Dataset:
    """Inputs X (n_samples, n_in) and targets Y (n_samples, n_out), float64.

    ``classes`` names the columns of a one-hot Y (None for other targets).
    """

    X: np.ndarray
    Y: np.ndarray
    name: str = "data"
    classes: tuple[str, ...] | None = None

    def __len__(self) -> int:
        return len(self.X)

    @property
    def one_hot(self) -> bool:
        return self.classes is not None

    def split(self, validation: float = 0.2, seed: int | None = 0) -> tuple[Dataset, Dataset]:
        """(train, validation): a seeded random split with ``validation`` of the rows held out."""
        if not 0.0 < validation < 1.0:
            raise ValueError(f"validation must be a fraction in (0, 1); got {validation!r}")
        n_val = int(round(validation * len(self)))
        if not 0 < n_val < len(self):
            raise ValueError(f"validation={validation} leaves no rows on one side of the split of {len(self)} rows")
        order = np.random.default_rng(seed).permutation(len(self))
        val, train = np.sort(order[:n_val]), np.sort(order[n_val:])
        return (
            replace(self, X=self.X[train], Y=self.Y[train], name=f"{self.name} (train)"),
            replace(self, X=self.X[val], Y=self.Y[val], name=f"{self.name} (validation)"),
        )

    def scaled(self, bounds: tuple[np.ndarray, np.ndarray] | None = None) -> Dataset:
        """Inputs min-max scaled to [0, 1] per column (by ``bounds`` = (low, high) when given)."""
        return replace(self, X=minmax_scale(self.X, bounds)[0])


def minmax_scale(X: np.ndarray, bounds=None) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Scale each column of X to [0, 1] by its (low, high); constant columns become 0."""
    low, high = (X.min(axis=0), X.max(axis=0)) if bounds is None else bounds
    span = np.where(high > low, high - low, 1.0)
    return (X - low) / span, (low, high)


def unreachable_targets(Y: np.ndarray, name: str) -> str | None:
    """A message when targets fall outside [0, 1], which logistic outputs never reach; else None."""
    if Y.size and (Y.min() < 0.0 or Y.max() > 1.0):
        return (
            f"{name}: targets range over [{Y.min():g}, {Y.max():g}], but logistic outputs lie in (0, 1); "
            "scale the targets into [0, 1] or the error cannot go to zero"
        )
    return None


def warn_if_targets_unreachable(Y: np.ndarray, name: str) -> None:
    """Logistic outputs live in (0, 1): a UserWarning when targets fall outside [0, 1]."""
    message = unreachable_targets(Y, name)
    if message:
        warnings.warn(message, UserWarning, stacklevel=2)


def accuracy(outputs: np.ndarray, Y: np.ndarray) -> float:
    """Fraction of rows classified right: the largest output against a one-hot target's class or,
    for one output (0/1 targets), the output thresholded at 0.5."""
    if Y.shape[1] == 1:
        return float(np.mean((outputs[:, 0] >= 0.5) == (Y[:, 0] >= 0.5)))
    return float(np.mean(np.argmax(outputs, axis=1) == np.argmax(Y, axis=1)))


def is_classification(Y: np.ndarray) -> bool:
    """Targets that :func:`accuracy` scores: one-hot rows, or one column of 0s and 1s."""
    if not np.isin(Y, (0.0, 1.0)).all():
        return False
    return Y.shape[1] == 1 or bool((Y.sum(axis=1) == 1).all())


# --- built-in data sets ---------------------------------------------------------


def xor() -> Dataset:
    """The four XOR samples: inputs (0/1, 0/1), target 1 when they differ."""
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    return Dataset(X=X, Y=np.array([[0], [1], [1], [0]], dtype=float), name="xor")


def iris() -> Dataset:
    """Fisher's Iris (150 flowers, 4 measurements in cm, 3 species one-hot), bundled with fastbp."""
    with resources.files("fastbp").joinpath("data/iris.csv").open() as f:
        return load_csv(f, targets=1, one_hot=True, name="iris")


def digits() -> Dataset:
    """scikit-learn's 8x8 digits (1,797 images, pixels / 16, 10 classes one-hot); needs scikit-learn."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ImportError("the digits data set needs scikit-learn: pip install 'fastbp[datasets]'") from None
    data = load_digits()
    return Dataset(X=data.data / 16.0, Y=np.eye(10)[data.target], name="digits", classes=tuple(map(str, range(10))))


def builtin(name: str) -> Dataset:
    """A built-in data set by name: 'xor', 'iris' or 'digits'."""
    loaders = {"xor": xor, "iris": iris, "digits": digits}
    if name not in loaders:
        raise ValueError(f"unknown data set {name!r}; built-in ones are {', '.join(BUILT_IN)}")
    return loaders[name]()


# --- files ---------------------------------------------------------------------------


def load(path, format: str | None = None, **options) -> Dataset:
    """Load a data file; the format comes from its extension (.csv, .npz, .data) unless given."""
    path = os.fspath(path)
    if format is None:
        format = EXTENSIONS.get(os.path.splitext(path)[1].lower())
        if format is None:
            raise DataError(f"{path}: cannot tell the format from the extension; give format= one of {FORMATS}")
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}; got {format!r}")
    if not os.path.isfile(path):
        raise DataError(f"{path}: no such file")
    if options and format != "csv":
        raise TypeError(f"options {sorted(options)} apply to CSV files only")
    if format == "npz":
        return load_npz(path)
    try:
        if format == "csv":
            with open(path, newline="") as f:
                return load_csv(f, name=path, **options)
        return load_fann(path)
    except UnicodeDecodeError as exc:
        byte = exc.object[exc.start]
        raise DataError(f"{path}: not a text file in UTF-8 (byte {exc.start} is {byte:#04x})") from None


def load_csv(
    source,
    targets: int | Sequence[str | int] = 1,
    one_hot: bool = False,
    header: bool | None = None,
    delimiter: str = ",",
    name: str | None = None,
    read_targets: bool = True,
) -> Dataset:
    """Load a CSV file (a path or an open text file): inputs, then targets.

    ``targets`` is how many trailing columns are targets (0: none), or the names (or
    indices) of the target columns. With ``one_hot`` the single target column
    holds class labels, which become one-hot rows (classes sorted). ``header``
    None detects a header row by a non-numeric cell in the first row. With
    ``read_targets=False`` the target columns are skipped unread (Y has no columns):
    inputs for prediction.
    """
    if isinstance(source, (str, os.PathLike)):
        with open(source, newline="") as f:
            return load_csv(f, targets, one_hot, header, delimiter, name or os.fspath(source), read_targets)
    name = name or getattr(source, "name", "csv")
    reader = csv.reader(source, delimiter=delimiter)
    try:
        rows = [(n, row) for n, row in enumerate(reader, start=1) if any(row)]
    except csv.Error as exc:
        raise DataError(f"{name}, line {reader.line_num}: not readable as CSV ({exc})") from None
    if not rows:
        raise DataError(f"{name}: no data rows")
    if header is None:
        header = not all(_is_number(cell) for cell in rows[0][1])
    columns = [c.strip() for c in rows[0][1]] if header else [str(i) for i in range(len(rows[0][1]))]
    rows = rows[1:] if header else rows
    if not rows:
        raise DataError(f"{name}: a header but no data rows")
    width = len(columns)
    target_idx = _target_columns(name, columns, targets)
    if not read_targets:
        one_hot = False
    if one_hot and len(target_idx) != 1:
        raise DataError(f"{name}: one_hot needs exactly one target column of class labels; got {len(target_idx)}")
    input_idx = [i for i in range(width) if i not in target_idx]
    if not input_idx:
        raise DataError(f"{name}: every column is a target; no inputs left")
    X = np.empty((len(rows), len(input_idx)))
    labels, Y = [], np.empty((len(rows), len(target_idx) if read_targets else 0))
    for r, (line, row) in enumerate(rows):
        if len(row) != width:
            raise DataError(f"{name}, line {line}: expected {width} columns, got {len(row)}")
        for c, i in enumerate(input_idx):
            X[r, c] = _number(name, line, i, row[i], columns)
        if one_hot:
            labels.append(row[target_idx[0]].strip())
        elif read_targets:
            for c, i in enumerate(target_idx):
                Y[r, c] = _number(name, line, i, row[i], columns)
    if one_hot:
        classes = tuple(sorted(set(labels), key=_label_key))
        index = {label: k for k, label in enumerate(classes)}
        Y = np.eye(len(classes))[[index[label] for label in labels]]
        return Dataset(X=X, Y=Y, name=name, classes=classes)
    return Dataset(X=X, Y=Y, name=name)


def load_npz(path) -> Dataset:
    """Load an .npz file holding arrays X and Y of real numbers (never unpickling; nothing else is read).

    X of shape (n_samples, ...) is flattened to one row per sample, and so is Y."""
    from .io import Archive

    name = os.fspath(path)
    try:
        with Archive(name, f"{name}: ", ".npz data file") as archive:
            missing = [key for key in ("X", "Y") if key not in archive]
            if missing:
                raise DataError(f"{name}: missing array(s) {', '.join(missing)}; an .npz needs X and Y")
            X, Y = (archive.array(key, "biuf") for key in ("X", "Y"))
    except DataError:
        raise
    except ValueError as exc:
        raise DataError(str(exc)) from None
    for key, arr in (("X", X), ("Y", Y)):
        if arr.ndim == 0 or arr.size == 0:
            raise DataError(f"{name}: {key} must hold one row per sample; got shape {arr.shape}")
    if len(X) != len(Y):
        raise DataError(f"{name}: X has {len(X)} rows but Y has {len(Y)}")
    with np.errstate(over="ignore"):  # numbers beyond float64's range become inf, refused below
        X = X.reshape(len(X), -1).astype(np.float64)
        Y = Y.reshape(len(Y), -1).astype(np.float64)
    for key, arr in (("X", X), ("Y", Y)):
        if not np.isfinite(arr).all():
            raise DataError(f"{name}: {key} holds NaN or inf (or numbers beyond float64's range)")
    return Dataset(X=X, Y=Y, name=name)


def load_fann(path) -> Dataset:
    """Load a FANN training file: a line "pairs inputs outputs", then alternating input and output lines."""
    name = os.fspath(path)
    with open(name) as f:
        lines = [(n, line.split()) for n, line in enumerate(f, start=1) if line.strip()]
    if not lines:
        raise DataError(f"{name}: empty file")
    head_line, head = lines[0]
    if len(head) != 3:
        raise DataError(f"{name}, line {head_line}: expected 'pairs inputs outputs', got {len(head)} values")
    pairs, n_in, n_out = (int(_number(name, head_line, i, cell, None)) for i, cell in enumerate(head))
    if len(lines) - 1 != 2 * pairs:
        raise DataError(f"{name}: the header promises {pairs} pairs ({2 * pairs} lines), found {len(lines) - 1}")
    X, Y = np.empty((pairs, n_in)), np.empty((pairs, n_out))
    for p in range(pairs):
        for array, (line, cells), width in ((X, lines[1 + 2 * p], n_in), (Y, lines[2 + 2 * p], n_out)):
            if len(cells) != width:
                raise DataError(f"{name}, line {line}: expected {width} values, got {len(cells)}")
            for c, cell in enumerate(cells):
                array[p, c] = _number(name, line, c, cell, None)
    return Dataset(X=X, Y=Y, name=name)


def save_fann(dataset: Dataset, path) -> None:
    """Write a data set as a FANN training file."""
    with open(os.fspath(path), "w") as f:
        f.write(f"{len(dataset)} {dataset.X.shape[1]} {dataset.Y.shape[1]}\n")
        for x, y in zip(dataset.X, dataset.Y):
            f.write(" ".join(repr(float(v)) for v in x) + "\n" + " ".join(repr(float(v)) for v in y) + "\n")


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _number(name, line, column, cell, columns) -> float:
    try:
        value = float(cell)
    except ValueError:
        label = f"column {column + 1}" + (f" ({columns[column]})" if columns else "")
        raise DataError(f"{name}, line {line}, {label}: not a number: {cell.strip()!r}") from None
    if not np.isfinite(value):
        raise DataError(f"{name}, line {line}, column {column + 1}: not a finite number: {cell.strip()!r}")
    return value


def _label_key(label: str):
    """Sort class labels numerically when they are numbers, else alphabetically."""
    return (0, float(label), "") if _is_number(label) else (1, 0.0, label)


def _target_columns(name, columns, targets) -> list[int]:
    if isinstance(targets, (int, np.integer)) and not isinstance(targets, bool):
        if not 0 <= targets < len(columns):
            raise DataError(f"{name}: targets={targets} trailing columns leaves no inputs among {len(columns)}")
        return list(range(len(columns) - targets, len(columns)))
    idx = []
    for t in targets:
        if isinstance(t, str) and t in columns:
            idx.append(columns.index(t))
        elif isinstance(t, (int, np.integer)) and -len(columns) <= t < len(columns):
            idx.append(int(t) % len(columns))
        else:
            raise DataError(f"{name}: no target column {t!r}; the columns are {', '.join(columns)}")
    return idx
