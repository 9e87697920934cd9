"""CSV tables of numbers with named columns, for the command line (apps layer).

The values are parsed by :func:`numpy.loadtxt`; around it, this module keeps what users'
files need: a header row of column names (required unless ``header=False``), spaces around
names and values stripped, blank lines ignored, ``"-"`` read from standard input, and every
problem reported in one line naming the file and the line.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Table", "read_csv", "write_csv"]


@dataclass(frozen=True)
class Table:
    """Numeric columns read from a CSV.

    Attributes
    ----------
    values : ndarray, shape (rows, columns)
        float64, finite.
    names : list of str or None
        The header's column names (None for a file read with ``header=False``).
    source : str
        The file's name for messages (``"<stdin>"`` for ``"-"``).
    """

    values: np.ndarray
    names: list[str] | None
    source: str

    def columns(self, spec: str, option: str) -> list[int]:
        """The 0-based indices of the columns in ``spec``: names or 0-based indices,
        comma separated. ``option`` (e.g. ``"--target"``) names the argument in errors."""
        indices = []
        for item in (part.strip() for part in spec.split(",")):
            if self.names is not None and item in self.names:
                indices.append(self.names.index(item))
            elif item.isdigit() and int(item) < self.values.shape[1]:
                indices.append(int(item))
            else:
                known = (f"header {self.names}" if self.names is not None
                         else f"{self.values.shape[1]} columns (0-based indices)")
                raise ValueError(f"{option} column {item!r} is not in {self.source}'s {known}")
        if len(set(indices)) != len(indices):
            raise ValueError(f"{option} names a column twice: {spec!r}")
        return indices

    def split(self, target: str) -> tuple[np.ndarray, np.ndarray, list[str] | None,
                                          list[str] | None]:
        """``(X, Y, feature_names, target_names)``: ``Y`` the ``target`` columns (see
        :meth:`columns`), ``X`` the others in file order; names None without a header."""
        targets = self.columns(target, "--target")
        features = [j for j in range(self.values.shape[1]) if j not in targets]
        if not features:
            raise ValueError(f"{self.source}: no feature column is left besides --target")
        return (self.values[:, features], self.values[:, targets], self._names_of(features),
                self._names_of(targets))

    def features(self, names: Sequence[str], leave_out: Sequence[str] = ()) -> np.ndarray:
        """The columns called ``names``, in that order (a model's features, matched by
        name). Columns in ``leave_out`` may be present; any other column is refused."""
        if self.names is None:
            raise ValueError(f"{self.source} has no header: columns cannot be matched by name")
        missing = [name for name in names if name not in self.names]
        if missing:
            raise ValueError(f"{self.source} lacks the model's feature column(s) {missing} "
                             f"(it has {self.names})")
        extra = [name for name in self.names if name not in names and name not in leave_out]
        if extra:
            raise ValueError(f"{self.source} has column(s) {extra} the model was not trained "
                             f"on (its features are {list(names)}); remove them or leave them "
                             "out with --target")
        return self.values[:, [self.names.index(name) for name in names]]

    def _names_of(self, indices):
        return None if self.names is None else [self.names[j] for j in indices]


def read_csv(path: str, *, header: bool = True) -> Table:
    """Read a CSV of numbers: a header row of column names, then one row per sample.

    Parameters
    ----------
    path : str
        The file, or ``"-"`` for standard input.
    header : bool
        Whether the first non-blank line holds the column names. A first line of numbers is
        refused (it would be read as names, or silently lost) unless ``header=False``.

    Returns
    -------
    Table

    Raises
    ------
    ValueError
        One line naming the file (and the line) for a missing file, a missing or malformed
        header, rows of another length, values that are not finite numbers, or no data row.
    """
    source = "<stdin>" if path == "-" else path
    lines, numbers = _non_blank_lines(_text_of(path), source)
    names = None
    if header:
        names = _header_names(lines[0], source)
        lines, numbers = lines[1:], numbers[1:]
    if not lines:
        raise ValueError(f"{source}: no data row" + (" after the header" if header else ""))
    width = len(names) if names is not None else None
    try:
        values = np.loadtxt(lines, delimiter=",", quotechar='"', comments=None, ndmin=2,
                            dtype=np.float64)
    except ValueError:
        values = None
    if values is None or not np.all(np.isfinite(values)) or (
            width is not None and values.shape[1] != width):
        raise ValueError(_first_bad_line(lines, numbers, width or _field_count(lines[0]),
                                         source))
    return Table(values=values, names=names, source=source)


def _text_of(path):
    if path == "-":
        return sys.stdin.read()
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            return f.read()
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: not a UTF-8 text file ({error.reason})") from None


def _non_blank_lines(text, source):
    """The lines holding something, and their 1-based line numbers."""
    kept = [(number, line) for number, line in enumerate(text.lstrip("\ufeff").splitlines(), 1)
            if line.strip()]
    if not kept:
        raise ValueError(f"{source}: empty file (a CSV needs a header row and data rows)")
    return [line for _, line in kept], [number for number, _ in kept]


def _header_names(line, source):
    names = [name.strip() for name in next(csv.reader([line], skipinitialspace=True))]
    if all(_is_number(name) for name in names):
        raise ValueError(f"{source}: the first line ({line.strip()}) holds numbers, not "
                         "column names; add a header row or pass --no-header")
    empty = [j + 1 for j, name in enumerate(names) if not name]
    if empty:
        raise ValueError(f"{source}: header column(s) {empty} have no name")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"{source}: the header repeats column name(s) {repeated}")
    return names


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _field_count(line):
    return len(next(csv.reader([line])))


def _first_bad_line(lines, numbers, width, source):
    """A one-line message on the first row that is not ``width`` finite numbers."""
    for line, number in zip(lines, numbers):
        try:
            row = np.loadtxt([line], delimiter=",", quotechar='"', comments=None, ndmin=2)
        except ValueError:
            row = None
        if row is None or row.shape[1] != width or not np.all(np.isfinite(row)):
            return (f"{source}, line {number}: expected {width} finite numbers separated by "
                    f"commas, got {line.strip()!r}")
    return f"{source}: rows of different lengths"


def write_csv(stream, names: Sequence[str], values: np.ndarray) -> None:
    """Write ``values`` (rows x columns) to ``stream`` as CSV with a header row of
    ``names``; numbers with 17 significant digits (they read back exactly)."""
    values = np.asarray(values).reshape(len(values), -1)
    if len(names) != values.shape[1]:
        raise ValueError(f"{len(names)} column names for {values.shape[1]} columns")
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(names)
    np.savetxt(stream, values, delimiter=",", fmt="%.17g")
