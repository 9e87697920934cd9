"""CSV tables of numbers with named columns, for the command line (apps layer): the CSV
format that :mod:`fastdln.apps.readers` reads data files with, and ``fastdln predict`` writes.

The values are parsed by :func:`numpy.loadtxt`; around it, this module keeps what users'
files need: a header row of column names (required unless ``header=False``), spaces around
names and values stripped, blank lines ignored, ``"-"`` read from standard input, and every
problem reported in one short line naming the file, the line and the column (by its header
name), never echoing a whole row or header; a misspelt column name gets close names suggested.
"""

from __future__ import annotations

import csv
import difflib
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Table", "did_you_mean", "read_csv", "some", "write_csv"]


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
                raise ValueError(f"{option} column {_short(item)!r} is not in {self.source}"
                                 f"{self._known(item)}")
        if len(set(indices)) != len(indices):
            raise ValueError(f"{option} names a column twice: {_short(spec)!r}")
        return indices

    def _known(self, item):
        """What the columns are, for a message on the unknown ``item``: close names, or a
        few of them and their count."""
        count = self.values.shape[1]
        if self.names is None:
            return f" ({count} columns without a header: 0-based indices 0 to {count - 1})"
        return f"'s header{did_you_mean(item, self.names) or ' ' + some(self.names)}"

    def split(self, target: str, leave_out: Sequence[int] = ()) -> tuple[
            np.ndarray, np.ndarray, list[str] | None, list[str] | None]:
        """``(X, Y, feature_names, target_names)``: ``Y`` the ``target`` columns (see
        :meth:`columns`), ``X`` the others in file order but the indices ``leave_out`` (e.g.
        a column of sample weights); names None without a header."""
        targets = self.columns(target, "--target")
        features = [j for j in range(self.values.shape[1])
                    if j not in targets and j not in leave_out]
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
            raise ValueError(f"{self.source} lacks {_count(missing, 'feature column')} of the "
                             f"model: {some(missing)}{did_you_mean(missing[0], self.names)}")
        extra = [name for name in self.names if name not in names and name not in leave_out]
        if extra:
            raise ValueError(f"{self.source} has {_count(extra, 'column')} the model was not "
                             f"trained on: {some(extra)}; remove them or leave them out with "
                             "--target")
        return self.values[:, [self.names.index(name) for name in names]]

    def _names_of(self, indices):
        return None if self.names is None else [self.names[j] for j in indices]


def read_csv(path: str, *, header: bool = True,
             named: Sequence[tuple[str, str]] = ()) -> Table:
    """Read a CSV of numbers: a header row of column names, then one row per sample.

    Parameters
    ----------
    path : str
        The file, or ``"-"`` for standard input.
    header : bool
        Whether the first non-blank line holds the column names. A first line of numbers is
        refused (it would be read as names, or silently lost) unless ``header=False``.
    named : sequence of (str, str)
        ``(spec, option)`` of columns the caller will ask for (see :meth:`Table.columns`):
        checked against the header before any value is read, so that a misspelt column is
        the error reported, not a problem in another column.

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
    _refuse_other_delimiters(lines[0], source)
    names = None
    if header:
        names = _header_names(lines[0], source)
        lines, numbers = lines[1:], numbers[1:]
    columns = len(names) if names is not None else _field_count(lines[0])
    for spec, option in named:  # the columns asked for, before the values
        Table(np.empty((0, columns)), names, source).columns(spec, option)
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
        raise ValueError(_first_bad_line(lines, numbers, names,
                                         width or _field_count(lines[0]), source))
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


_OTHER_DELIMITERS = {";": ("semicolons", "';'"), "\t": ("tabs", "'\\t'")}


def _refuse_other_delimiters(line, source):
    """A first line that is one field with semicolons or tabs in it: the file is separated by
    them, not by commas (its every value would otherwise be reported as not a number)."""
    fields = next(csv.reader([line]))
    for delimiter, (name, shell) in _OTHER_DELIMITERS.items():
        if len(fields) == 1 and delimiter in fields[0]:
            example = (f"tr {shell} ','" if source == "<stdin>" else
                       f"tr {shell} ',' < {source} > {os.path.splitext(source)[0]}_comma.csv")
            raise ValueError(f"{source}: its first line is one column with {name} in it: "
                             "fastdln reads comma-separated values; convert the file first, "
                             f"e.g. {example}")


def _header_names(line, source):
    names = [name.strip() for name in next(csv.reader([line], skipinitialspace=True))]
    if all(_is_number(name) for name in names):
        raise ValueError(f"{source}: the first line ({_short(line.strip(), 40)}) holds numbers, "
                         "not column names; add a header row or pass --no-header")
    empty = [j + 1 for j, name in enumerate(names) if not name]
    if empty:
        raise ValueError(f"{source}: header column(s) {some(empty)} have no name")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"{source}: the header repeats column name(s) {some(repeated)}")
    return names


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _field_count(line):
    return len(next(csv.reader([line])))


def _first_bad_line(lines, numbers, names, width, source):
    """A one-line message on the first row that is not ``width`` finite numbers: its line,
    and the column (by name) and value at fault; never the whole row."""
    for line, number in zip(lines, numbers):
        problem = _row_problem(line, names, width)
        if problem:
            return f"{source}, line {number}{problem}"
    for line, number in zip(lines, numbers):  # a value float() reads but numpy does not
        try:
            np.loadtxt([line], delimiter=",", quotechar='"', comments=None, ndmin=2)
        except ValueError:
            return f"{source}, line {number}: cannot be read as {width} numbers"
    return f"{source}: rows of different lengths"


def _row_problem(line, names, width):
    """``""`` for a row of ``width`` finite numbers, else what is wrong and where."""
    fields = next(csv.reader([line], skipinitialspace=True), [])
    if len(fields) != width:
        return (f": {len(fields)} value(s), expected {width} finite numbers separated by "
                "commas (one per column)")
    for j, field in enumerate(fields):
        text = field.strip()
        column = f"column {_short(names[j])!r}" if names is not None else f"column {j}"
        if not text:
            return f", {column}: empty (expected a finite number)"
        if not _is_number(text):
            return f", {column}: {_short(text)!r} is not a number"
        if not np.isfinite(float(text)):
            return f", {column}: {_short(text)!r} (values must be finite numbers)"
    return ""


def some(items: Sequence, limit: int = 6) -> str:
    """``items`` as a short list for a message: all of them up to ``limit``, else the first
    few and their count (``['a', 'b', ...] (794 in all)``); long names are cut."""
    shown = [_short(item) if isinstance(item, str) else item for item in items[:limit]]
    if len(items) <= limit:
        return str(shown)
    return f"{str(shown[:limit - 1])[:-1]}, ...] ({len(items)} in all)"


def did_you_mean(name: str, names: Sequence[str]) -> str:
    """For a message on the unknown column ``name``: the close ones in ``names`` ("did you
    mean ...?", by :mod:`difflib` or case), or ``""`` when none is close."""
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
    close += [other for other in names if other.lower() == name.lower() and other not in close]
    if close:
        return f"; did you mean {' or '.join(repr(_short(c)) for c in close[:3])}?"
    return ""


def _count(items, noun):
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"


def _short(text, limit=30):
    """``text`` cut to ``limit`` characters (with ``...``)."""
    text = str(text)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def write_csv(stream, names: Sequence[str], values: np.ndarray) -> None:
    """Write ``values`` (rows x columns) to ``stream`` as CSV with a header row of
    ``names``; numbers with 17 significant digits (they read back exactly)."""
    values = np.asarray(values).reshape(len(values), -1)
    if len(names) != values.shape[1]:
        raise ValueError(f"{len(names)} column names for {values.shape[1]} columns")
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(names)
    np.savetxt(stream, values, delimiter=",", fmt="%.17g")
