"""The .npz file formats (never pickles): writing a network, and reading archives member by member, checked.

This module knows the formats, not the Network: ``Network.save`` and
``fastbp.load`` (network.py) call it, and so do checkpoints (_checkpoint.py) and
the .npz data files (datasets.py). A file is read through :class:`Archive`,
which reads only the members asked for and checks each member's declared dtype
and shape before reading its data, so that a damaged or hostile file is refused
with a ValueError naming it, without reading what the format does not need.
"""

from __future__ import annotations

import os
import struct
import zipfile
import zlib

import numpy as np

from . import _validate

FORMAT = "fastbp-network"
VERSION = 1

# What a damaged or foreign archive can raise while it is read; each becomes a ValueError naming the file.
_READ_ERRORS = (OSError, EOFError, zipfile.BadZipFile, zlib.error, ValueError, KeyError, NotImplementedError,
                RuntimeError, struct.error, UnicodeError, MemoryError, OverflowError, TypeError)  # fmt: skip
# deflate expands at most about 1032 times: a member declaring more than that is a forged size.
_MAX_DEFLATE_RATIO = 1100


def write_network(path, sizes, tied, weights, biases, activations, input_bounds=None) -> None:
    """Write a network to path as .npz: format name and version, dtype, sizes, bias modes, activations,
    weights, biases, and optionally the input scaling (low, high per input) it was trained with."""
    arrays = {"format": np.array(FORMAT), "version": np.array(VERSION), "sizes": np.array(sizes)}
    arrays["dtype"] = np.array(weights[0].dtype.name)
    if input_bounds is not None:
        arrays["input_low"], arrays["input_high"] = input_bounds
    arrays["tied"] = np.array(tied)
    arrays["activations"] = np.array(activations)
    for l, (W, b) in enumerate(zip(weights, biases)):
        arrays[f"W{l}"] = W
        arrays[f"b{l}"] = b
    with open(os.fspath(path), "wb") as f:
        np.savez(f, **arrays)


def check_input_bounds(value, n_in: int, name: str = "input_bounds") -> tuple[np.ndarray, np.ndarray]:
    """A min-max input scaling as (low, high): two finite float64 vectors of n_in values, low <= high."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(f"{name} must be a pair (low, high) of arrays; got {_validate._describe(value)}")
    low, high = (_validate.array(f"{name}[{k}]", v, ndim=(1,)) for k, v in enumerate(value))
    for k, bound in enumerate((low, high)):
        if bound.shape != (n_in,):
            raise ValueError(f"{name}[{k}] must hold one value per input ({n_in}); got {bound.shape[0]}")
    if (low > high).any():
        raise ValueError(f"{name} must have low <= high for every input; input {int(np.argmax(low > high))} has not")
    return low, high


class Archive:
    """An .npz archive opened for reading: members read one by one, each checked before its data is read.

    Every problem is a ValueError that starts with ``prefix`` (the file's name) and says
    what was expected; nothing is unpickled, and a member is read only when asked for.
    """

    def __init__(self, name: str, prefix: str, what: str):
        self.name, self.prefix, self.what = name, prefix, what
        expected = f"a readable {what}"
        try:
            self._file = open(name, "rb")
        except FileNotFoundError:
            raise ValueError(f"{prefix}no such file") from None
        except IsADirectoryError:
            raise ValueError(f"{prefix}is a directory, not {expected}") from None
        except OSError as exc:
            raise ValueError(f"{prefix}cannot be read ({exc.strerror or exc})") from None
        try:
            if self._file.read(6) == b"\x93NUMPY":
                raise ValueError(
                    f"{prefix}not {expected} (it holds one array, as a .npy file does, not an .npz archive)"
                )
            self._file.seek(0)
            self._zip = zipfile.ZipFile(self._file)
            members = self._zip.infolist()
            self._members = {info.filename[:-4]: info for info in members if info.filename.endswith(".npy")}
        except ValueError as exc:
            self._file.close()
            if str(exc).startswith(prefix):
                raise
            raise ValueError(f"{prefix}not {expected} ({exc})") from None
        except _READ_ERRORS as exc:
            self._file.close()
            raise ValueError(f"{prefix}not {expected} ({exc})") from None

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc) -> None:
        self._zip.close()
        self._file.close()

    def __contains__(self, key: str) -> bool:
        return key in self._members

    def damaged(self, why: str) -> ValueError:
        """The error for a file that is of the right kind but cannot be used."""
        return ValueError(f"{self.prefix}damaged {self.what} ({why})")

    def declared(self, key: str) -> tuple[tuple, np.dtype]:
        """Member `key`'s shape and dtype as its header declares them (its data unread), the declared size
        checked against what the member holds and how it is stored."""
        shape, dtype, stored = self._header(key)
        stored()
        return shape, dtype

    def array(self, key: str, kinds: str, shape: tuple | None = None, ndim: int | None = None, dtype=None,
              finite: bool = False) -> np.ndarray:  # fmt: skip
        """Member `key`, whose dtype kind is one of `kinds` ("f", "iu", "b", "U") or exactly `dtype`, and whose
        shape is `shape` (or whose number of dimensions is `ndim`); with `finite`, no NaN or inf."""
        declared_shape, declared_dtype, stored = self._header(key)
        what = f"{key} has dtype {declared_dtype} and shape {declared_shape}"
        if (dtype is not None and declared_dtype != np.dtype(dtype)) or (
            dtype is None and declared_dtype.kind not in kinds
        ):
            want = np.dtype(dtype).name if dtype is not None else _KIND_NAMES.get(kinds, kinds)
            raise self.damaged(f"{what}; expected {want}")
        if (shape is not None and declared_shape != tuple(shape)) or (ndim is not None and len(declared_shape) != ndim):
            want = f"shape {tuple(shape)}" if shape is not None else f"{ndim} dimension(s)"
            raise self.damaged(f"{what}; expected {want}")
        stored()
        try:
            with self._zip.open(self._members[key]) as f:
                arr = np.lib.format.read_array(f, allow_pickle=False)
        except _READ_ERRORS as exc:
            raise self.damaged(f"{key}: {exc}") from None
        if finite and arr.dtype.kind == "f" and not _validate.all_finite(arr):
            raise self.damaged(f"{key} holds NaN or inf")
        return arr

    def _header(self, key: str):
        """(shape, dtype, stored): member `key`'s declared shape and dtype, and a check (to call before reading
        its data) that the declared size is what the member holds, stored as numpy's savez stores it."""
        if key not in self._members:
            raise self.damaged(f"no {key!r} array")
        info = self._members[key]
        try:
            with self._zip.open(info) as f:
                declared_shape, declared_dtype, data_bytes = _header(f)
                header_bytes = f.tell()
        except _READ_ERRORS as exc:
            raise self.damaged(f"{key}: {exc}") from None

        def stored() -> None:
            if header_bytes + data_bytes != info.file_size or (
                info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size
            ):
                raise self.damaged(f"{key} declares {data_bytes} bytes of data; its member holds {info.file_size} "
                                   "in all")  # fmt: skip
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) or (
                info.file_size > _MAX_DEFLATE_RATIO * max(info.compress_size, 1)
            ):
                raise self.damaged(f"{key} is stored in a way numpy's savez never writes")

        return declared_shape, declared_dtype, stored

    def scalar(self, key: str, kinds: str):
        """Member `key` as a Python value: a 0-d array whose dtype kind is one of `kinds`."""
        return self.array(key, kinds, shape=()).item()

    def text(self, key: str, default: str | None = None) -> str:
        """Member `key`, a 0-d string, or default when absent (None: required)."""
        if default is not None and key not in self:
            return default
        return str(self.scalar(key, "U"))


_KIND_NAMES = {"U": "text", "iu": "whole numbers", "biu": "whole numbers or booleans", "f": "real numbers",
               "biuf": "real numbers"}  # fmt: skip


def _header(f) -> tuple[tuple, np.dtype, int]:
    """A .npy member's declared shape, dtype and data size in bytes, read from its header alone."""
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(f)
    elif version == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(f)
    else:
        raise ValueError(f"a .npy format version {version} that fastbp does not read")
    if dtype.hasobject:
        raise ValueError("it holds Python objects, which fastbp never unpickles")
    count = 1
    for n in shape:
        count *= n
    return tuple(shape), dtype, count * dtype.itemsize


def read_network(name: str) -> dict:
    """A network file's members, checked, reading only those the format has: weights, biases (a scalar for a
    tied layer), dtype, sizes, activations (files written before activations existed hold logistic networks),
    and the input scaling saved with the network, if any."""
    with Archive(name, f"{name}: ", "fastbp network file") as archive:
        if "format" not in archive or archive.text("format") != FORMAT:
            raise ValueError(f"{name}: not a fastbp network file (no '{FORMAT}' format key)")
        if "version" not in archive:
            raise archive.damaged("no readable format version")
        version = archive.scalar("version", "iu")
        if version > VERSION:
            raise ValueError(f"{name}: written by a newer fastbp (format version {version}; this one reads {VERSION})")
        dtype = archive.text("dtype", "float64")
        if dtype not in ("float64", "float32"):
            raise ValueError(f"{name}: holds a {dtype} network; this fastbp reads float64 and float32 networks")
        sizes = tuple(int(n) for n in archive.array("sizes", "iu", ndim=1))
        if len(sizes) < 2 or min(sizes) < 1:
            raise archive.damaged(f"sizes {sizes} are not layer widths")
        n_layers = len(sizes) - 1
        tied = archive.array("tied", "biu", shape=(n_layers,))
        if not np.isin(tied, (0, 1)).all():
            raise archive.damaged("tied holds values other than 0 and 1")
        activations = None
        if "activations" in archive:
            activations = [str(a) for a in archive.array("activations", "U", shape=(n_layers,))]
        weights, biases = [], []
        for l in range(n_layers):
            weights.append(archive.array(f"W{l}", "f", shape=(sizes[l + 1], sizes[l]), dtype=dtype))
            b = archive.array(f"b{l}", "f", shape=(sizes[l + 1],), dtype=dtype)
            if tied[l] and np.ptp(b) != 0:
                raise archive.damaged(f"b{l} is tied but its values differ")
            biases.append(b[0] if tied[l] else b)
        bounds = None
        if "input_low" in archive or "input_high" in archive:
            bounds = tuple(archive.array(key, "f", shape=(sizes[0],), dtype=np.float64, finite=True)
                           for key in ("input_low", "input_high"))  # fmt: skip
            if (bounds[0] > bounds[1]).any():
                raise archive.damaged("its input scaling has low > high")
    return {"weights": weights, "biases": biases, "dtype": dtype, "sizes": sizes, "activations": activations,
            "input_bounds": bounds}  # fmt: skip
