"""Data files read in one place, for the command line and the grids alike (apps layer).

- ``.npy``: a read-only memory map (fastdln reads it by blocks of rows, never whole);
- ``.npz``: arrays ``X`` and ``Y``;
- CSV: a table with named columns (parsed by :mod:`fastdln.apps.tables`), the ``--target``
  columns as ``Y``, the others as ``X``;
- a grid's data names (:func:`read_grid_data`): ``"random:M:N0:NL[:SEED]"`` (the paper's
  random data: ``X`` N(0, 1/n0), ``Y`` U(-1, 2)), the path of an ``.npz``, or two ``.npy``
  paths ``"X.npy,Y.npy"``.

Every problem raises ``ValueError`` in one line naming the file and the command-line option
or grid key it came from.
"""

from __future__ import annotations

import os
import zipfile
from typing import NamedTuple

import numpy as np

from ..maths.synthetic import random_data
from .tables import read_csv, some

__all__ = ["Dataset", "read_features", "read_grid_data", "read_npy", "read_npz",
           "read_training_data", "refuse_folder"]


class Dataset(NamedTuple):
    """What a training file holds: ``X``, ``Y``, the column names of a CSV's features and
    targets (None for arrays) and the ``sample_weight`` (None unless asked for)."""

    X: np.ndarray
    Y: np.ndarray
    feature_names: list[str] | None = None
    target_names: list[str] | None = None
    sample_weight: np.ndarray | None = None


def read_npy(path: str, what: str) -> np.ndarray:
    """An ``.npy`` file as a read-only memory map (fastdln reads it by blocks of rows).

    Parameters
    ----------
    path : str
    what : str
        What the file is, for messages (``"X"``, ``"--y"``, ``"data 'X.npy,Y.npy'"``).

    Returns
    -------
    numpy.memmap
    """
    if not os.path.exists(path):
        raise ValueError(f"{what}: {path}: no such file")
    refuse_folder(path, f"{what}: ")
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as error:
        raise ValueError(f"{what}: {path}: not a readable .npy ({error})") from None


def read_npz(path: str, arrays: tuple[str, ...] = ("X", "Y"),
             what: str | None = None) -> list[np.ndarray]:
    """The ``arrays`` of an ``.npz``, in that order; ``what`` begins the messages (default:
    the path)."""
    what = path if what is None else what
    if not os.path.exists(path):
        raise ValueError(f"{what}: no such file")
    refuse_folder(path, "" if what == path else f"{what}: ")
    try:
        with np.load(path, allow_pickle=False) as data:
            if not set(arrays) <= set(data.files):
                raise ValueError(f"{what}: an .npz needs array{'s' * (len(arrays) > 1)} "
                                 f"{' and '.join(map(repr, arrays))}, has {data.files}")
            return [data[name] for name in arrays]
    except (zipfile.BadZipFile, EOFError, OSError) as error:
        raise ValueError(f"{what}: not a readable .npz ({error})") from None


def refuse_folder(path: str, prefix: str = "") -> None:
    """Refuse a folder given where a data file is expected: ``ValueError`` ``"{prefix}{path}:
    is a directory, ..."``."""
    if path != "-" and os.path.isdir(path):
        raise ValueError(f"{prefix}{path}: is a directory, not a data file (an .npz, an .npy "
                         "or a CSV)")


def read_training_data(path: str, *, target: str | None = None, header: bool = True,
                       y_path: str | None = None, sample_weight: str | None = None) -> Dataset:
    """The data of ``fastdln train``.

    Parameters
    ----------
    path : str
        An ``.npz`` (``X`` and ``Y``), an ``.npy`` of ``X`` (with ``y_path``; memory-mapped)
        or a CSV (``"-"``: standard input).
    target : str, optional
        The CSV's target columns (``--target``: names or 0-based indices, comma separated).
    header : bool
        Whether the CSV has a header row of column names.
    y_path : str, optional
        The ``.npy`` of ``Y`` beside an ``.npy`` of ``X`` (``--y``).
    sample_weight : str, optional
        ``--sample-weight``: an ``.npy`` of one weight per row (memory-mapped), or the name of
        a CSV column (then not a feature).

    Returns
    -------
    Dataset
    """
    refuse_folder(path)
    if sample_weight is not None and sample_weight.endswith(".npy"):
        data = read_training_data(path, target=target, header=header, y_path=y_path)
        return data._replace(sample_weight=read_npy(sample_weight, "--sample-weight"))
    if sample_weight is not None and path.endswith((".npy", ".npz")):
        raise ValueError(f"--sample-weight {sample_weight}: give an .npy of weights (a "
                         "column name is for CSV data)")
    if path.endswith(".npy"):
        if y_path is None:
            raise ValueError(f"{path}: an .npy of X needs --y with the .npy of Y")
        return Dataset(read_npy(path, "X"), read_npy(y_path, "--y"))
    if y_path is not None:
        raise ValueError(f"--y is for .npy data; {path} holds Y itself")
    if path.endswith(".npz"):
        X, Y = read_npz(path)
        return Dataset(X, Y)
    return _csv_data(path, target, header, sample_weight)


def _csv_data(path, target, header, weight):
    """A CSV's targets, features (the weight column left out) and weights."""
    if target is None:
        raise ValueError(f"{path}: a CSV needs --target to name the target column(s)")
    named = [(target, "--target")] + ([] if weight is None else [(weight, "--sample-weight")])
    table = read_csv(path, header=header, named=named)
    if weight is None:
        return Dataset(*table.split(target))
    column = table.columns(weight, "--sample-weight")
    if len(column) != 1:
        raise ValueError(f"--sample-weight names one column, got {weight!r}")
    if column[0] in table.columns(target, "--target"):
        raise ValueError(f"--sample-weight column {weight!r} is also a --target column")
    return Dataset(*table.split(target, leave_out=column), table.values[:, column[0]])


def read_features(path: str, n0: int, *, header: bool = True, target: str | None = None,
                  feature_names: list[str] | None = None,
                  target_names: list[str] | None = None) -> np.ndarray:
    """The ``n0`` input columns of a model from ``path`` (``fastdln predict``).

    Parameters
    ----------
    path : str
        An ``.npz`` (its ``X``), an ``.npy`` of ``X`` (memory-mapped) or a CSV (``"-"``:
        standard input).
    n0 : int
        The model's number of inputs.
    header : bool
        Whether the CSV has a header row.
    target : str, optional
        CSV columns to leave out (``--target``).
    feature_names, target_names : list of str, optional
        The model's column names: with a CSV header, the features are matched by name (the
        model's targets may be present), else by position.

    Returns
    -------
    ndarray, shape (m, n0)
    """
    refuse_folder(path)
    names = None
    if path.endswith(".npy"):
        X = read_npy(path, "X")
    elif path.endswith(".npz"):
        X = read_npz(path, ("X",))[0]
    else:
        table = read_csv(path, header=header, named=[(target, "--target")] if target else [])
        left_out = table.columns(target, "--target") if target else []
        if feature_names is not None and table.names is not None:
            leave = [table.names[j] for j in left_out] + list(target_names or [])
            return table.features(feature_names, leave_out=leave)
        kept = [j for j in range(table.values.shape[1]) if j not in left_out]
        X, names = table.values[:, kept], table.names
    if np.ndim(X) != 2 or np.shape(X)[1] != n0:
        raise ValueError(f"{path}: {np.shape(X)[-1]} feature columns"
                         f"{'' if names is None else ' ' + some(names)}, the model takes {n0}")
    return X


def read_grid_data(name: str) -> tuple[np.ndarray, np.ndarray]:
    """``(X, Y)`` for a grid's data name (see the module docstring).

    Parameters
    ----------
    name : str
        ``"random:M:N0:NL[:SEED]"`` (SEED 0 if left out), an ``.npz`` path or
        ``"X.npy,Y.npy"`` (memory-mapped).

    Returns
    -------
    tuple of ndarray
    """
    if not isinstance(name, str):
        raise TypeError(f"data must be a string ('random:M:N0:NL[:SEED]', an .npz path or "
                        f"'X.npy,Y.npy'), got {name!r}")
    what = f"data {name!r}"
    if name.endswith(".npy"):
        paths = name.split(",")
        if len(paths) != 2:
            raise ValueError(f"{what}: .npy data are two files, 'X.npy,Y.npy'")
        X_path, Y_path = (path.strip() for path in paths)
        return read_npy(X_path, what), read_npy(Y_path, what)
    if name.startswith("random:"):
        return _random_data(name)
    X, Y = read_npz(name, what=what)
    return X, Y


def _random_data(name):
    """The paper's random data for ``"random:M:N0:NL[:SEED]"``."""
    try:
        parts = [int(p) for p in name.split(":")[1:]]
    except ValueError:
        parts = []
    if len(parts) not in (3, 4):
        raise ValueError(f"data {name!r}: expected 'random:M:N0:NL[:SEED]'")
    m, n0, nL, seed = (*parts, 0) if len(parts) == 3 else parts
    return random_data(m, n0, nL, seed)
