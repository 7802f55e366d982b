"""Every check and conversion of user input, done once in Python before any kernel runs.

Each function takes the argument's public name, so that a message always says
which argument was wrong, what was expected, and what was received. Arrays come
out float64 and C-contiguous (copied when needed), so the kernels see one type.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import operator
import os

import numpy as np


def _describe(value) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def array(name: str, value, ndim: tuple[int, ...], dtype=np.float64, check_finite: bool = True) -> np.ndarray:
    """value as a finite C-contiguous array of dtype (float64 by default) with one of the allowed ndims.

    ``check_finite=False`` leaves the finiteness check to the caller (see :func:`finite`),
    which may check many small arrays at once.
    """
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as exc:  # ragged nested lists, for example
        raise ValueError(f"{name} must be a rectangular array of numbers; got {_describe(value)} ({exc})") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers (int or float); got {_describe(value)}")
    if arr.ndim not in ndim:
        dims = " or ".join(f"{d}-D" for d in ndim)
        raise ValueError(f"{name} must be {dims}; got {_describe(arr)}")
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty; got {_describe(arr)}")
    if arr.dtype != dtype or not arr.flags.c_contiguous:
        with np.errstate(over="ignore"):  # values beyond float32's range become inf, refused below
            arr = np.asarray(arr, dtype=dtype, order="C")
    # Read-only or misaligned arrays would compile a second kernel specialisation (and _dispatch.call keys its
    # entry points on neither).
    if not (arr.flags.writeable and arr.flags.aligned):
        arr = arr.copy()
    if check_finite:
        finite(name, arr)
    return arr


def finite(name: str, arr: np.ndarray) -> None:
    """Refuse an array holding NaN or inf, naming the argument."""
    if not all_finite(arr):
        raise ValueError(f"{name} must be finite; got {_describe(arr)} holding NaN or inf")


def all_finite(arr: np.ndarray) -> bool:
    """Whether every entry is finite. A finite sum proves it (NaN and inf propagate); only
    a sum that overflowed or met NaN/inf needs the element-wise check (a large temporary).
    Small arrays are summed as Python floats (a NumPy reduction costs ~2 us however small)."""
    total = sum(arr.reshape(-1).tolist()) if arr.size <= 64 else np.add.reduce(arr, axis=None)
    return math.isfinite(total) or bool(np.isfinite(arr).all())


def real(
    name: str, value, *, low: float | None = None, high: float | None = None, high_open: bool = False,
    low_open: bool = False,
) -> float:  # fmt: skip
    """value as a finite float in [low, high] (an open end where high_open or low_open says so)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {_describe(value)}")
    x = float(value)
    if not math.isfinite(x):
        raise ValueError(f"{name} must be finite; got {x!r}")
    too_high = high is not None and (x >= high if high_open else x > high)
    too_low = low is not None and (x <= low if low_open else x < low)
    if too_low or too_high:
        opening = "(" if low_open else "["
        bound = f"in {opening}{low}, {high}{')' if high_open else ']'}" if high is not None else (
            f"{'>' if low_open else '>='} {low}")  # fmt: skip
        raise ValueError(f"{name} must be {bound}; got {x!r}")
    return x


def pair(name: str, value, *, low: float, high: float | None = None, high_open: bool = False) -> tuple:
    """value as an ordered pair of finite reals, each in [low, high] (or [low, high)): a tuple, list or
    1-D array (a set has no order, so which number is which would be left to chance)."""
    ordered = isinstance(value, (tuple, list)) or (isinstance(value, np.ndarray) and value.ndim == 1)
    if not ordered or len(value) != 2:
        raise TypeError(f"{name} must be a pair of numbers (a tuple or list of two); got {_describe(value)}")
    return tuple(real(f"{name}[{k}]", v, low=low, high=high, high_open=high_open) for k, v in enumerate(value))


def integer(name: str, value, *, low: int) -> int:
    """value as an int >= low (bools refused)."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer; got {value!r}")
    try:
        n = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer; got {_describe(value)}") from None
    if n < low:
        raise ValueError(f"{name} must be >= {low}; got {n}")
    return n


def flag(name: str, value) -> bool:
    """value as a bool (True/False only)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False; got {_describe(value)}")
    return bool(value)


def choice(name: str, value, options: tuple[str, ...]) -> str:
    """value as one of the option strings."""
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, options))}; got {_describe(value)}")
    return value


def seed(name: str, value) -> int | None:
    """A seed for numpy's default_rng: None or a non-negative integer."""
    return None if value is None else integer(name, value, low=0)


def samples(X, Y, n_in: int, n_out: int, dtype=np.float64, names: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Training data as 2-D arrays of dtype (one sample may be given as 1-D rows); ``names`` prefixes
    the arguments' names in messages ("validation" gives validation[0], validation[1])."""
    x_name, y_name = ("X", "Y") if names is None else (f"{names}[0]", f"{names}[1]")
    X = array(x_name, X, ndim=(1, 2), dtype=dtype)
    Y = array(y_name, Y, ndim=(1, 2), dtype=dtype)
    X = X.reshape(1, -1) if X.ndim == 1 else X
    Y = Y.reshape(1, -1) if Y.ndim == 1 else Y
    if X.shape[1] != n_in:
        raise ValueError(f"{x_name} must have {n_in} columns (the network's input width); got {X.shape[1]}")
    if Y.shape[1] != n_out:
        raise ValueError(f"{y_name} must have {n_out} columns (the network's output width); got {Y.shape[1]}")
    if X.shape[0] != Y.shape[0]:
        raise ValueError(
            f"{x_name} and {y_name} must have the same number of rows (samples); got {X.shape[0]} and {Y.shape[0]}"
        )
    return X, Y


def path(name: str, value) -> str:
    """A file system path (str or os.PathLike)."""
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{name} must be a file path; got {_describe(value)}")
    text = os.fspath(value)
    if not isinstance(text, str) or not text:
        raise ValueError(f"{name} must be a file path; got {_describe(value)}")
    return text


@contextlib.contextmanager
def writing(name: str, path: str):
    """Turn a write that fails after the checks of :func:`destination` (a full disk, say) into a ValueError
    naming the argument and the path."""
    try:
        yield
    except OSError as exc:
        raise ValueError(f"{name}: {path!r} could not be written ({exc.strerror or exc})") from None


def destination(name: str, value) -> str:
    """A path that a file can be written to, checked before any work is done that would be lost if it could
    not: its folder exists and is writable, and it is not itself a folder."""
    text = path(name, value)
    folder = os.path.dirname(os.path.abspath(text)) or os.sep
    if os.path.isdir(text) or text.endswith(("/", os.sep)):
        raise ValueError(f"{name} must name a file, not a folder; got {text!r}")
    if not os.path.isdir(folder):
        raise ValueError(f"{name}: the folder {folder!r} does not exist; got {text!r}")
    if not os.access(folder, os.W_OK | os.X_OK) or (os.path.exists(text) and not os.access(text, os.W_OK)):
        raise ValueError(f"{name}: {text!r} cannot be written (permission denied)")
    return text


def real_dtype(name: str, value) -> np.dtype:
    """A parameter dtype: float64 (the default, the article-exact path) or float32."""
    try:
        dtype = np.dtype(value)
    except TypeError:
        raise TypeError(f"{name} must be a NumPy float dtype (float64 or float32); got {_describe(value)}") from None
    if dtype != np.float64 and dtype != np.float32:
        raise ValueError(f"{name} must be float64 or float32; got {dtype.name}")
    return dtype
