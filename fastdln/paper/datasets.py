"""Real data sets of the paper's Section 4.2: readers for the original files, and the
installed stand-ins used when those files are absent (:mod:`.fetch` downloads the files).

- MNIST: the standard IDX files ``train-images-idx3-ubyte`` and ``train-labels-idx1-ubyte``
  (``t10k-*`` for the test split; raw or ``.gz``), 60000 x 784 images scaled to [0, 1] (the
  paper does not say how it scales the pixels), one-hot labels.
- UCI "Gas Sensor Array Drift at Different Concentrations": the ``batch*.dat`` files, lines
  ``class;concentration 1:v1 2:v2 ... 128:v128``; class 1 is ethanol. Features and target
  are standardized (zero mean, unit variance).
"""

from __future__ import annotations

import glob
import gzip
import os
import struct

import numpy as np

__all__ = ["MNIST_SPLITS", "load_mnist", "load_gas_sensor_ethanol", "describe",
           "digits_stand_in", "regression_stand_in", "DataFileError"]

ETHANOL = 1


class DataFileError(ValueError):
    """A data file is missing, truncated or not in the expected format."""


def _open(path):
    with open(path, "rb") as f:
        magic = f.read(2)
    return gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb")


def _find(directory, stem):
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"),
                 stem.replace("-idx", ".idx") + ".gz"):
        path = os.path.join(directory, name)
        if os.path.exists(path):
            return path
    raise DataFileError(f"{stem}[.gz] not found in {directory!r}")


def _read_idx(path, expected_magic, dims):
    """Read an IDX file: big-endian magic, ``dims`` sizes, then unsigned bytes."""
    try:
        with _open(path) as f:
            header = f.read(4 * (1 + dims))
            if len(header) < 4 * (1 + dims):
                raise DataFileError(f"{path}: truncated header")
            magic, *shape = struct.unpack(f">{1 + dims}I", header)
            if magic != expected_magic:
                raise DataFileError(f"{path}: magic number {magic}, expected {expected_magic} "
                                    "(not an IDX file of this kind)")
            data = f.read()
    except (OSError, EOFError) as error:
        raise DataFileError(f"{path}: cannot be read ({error})") from error
    size = int(np.prod(shape))
    if len(data) != size:
        raise DataFileError(f"{path}: {len(data)} data bytes, the header promises {size} "
                            "(truncated or corrupt)")
    return np.frombuffer(data, dtype=np.uint8).reshape(shape)


MNIST_SPLITS = {"train": "train", "test": "t10k"}


def load_mnist(path, split="train"):
    """MNIST's training or test set from the IDX files in the folder ``path``.

    Parameters
    ----------
    path : str
        The folder of ``train-*`` / ``t10k-*`` ``images-idx3-ubyte`` and ``labels-idx1-ubyte``
        files (raw or ``.gz``).
    split : {"train", "test"}
        The 60,000 training images, or the 10,000 test images (``t10k-*``).

    Returns
    -------
    X : ndarray, shape (60000, 784) or (10000, 784)
        Pixels scaled to [0, 1].
    Y : ndarray, shape (rows, 10)
        One-hot labels.
    """
    if split not in MNIST_SPLITS:
        raise ValueError(f"split must be one of {sorted(MNIST_SPLITS)}, not {split!r}")
    stem = MNIST_SPLITS[split]
    images = _read_idx(_find(path, f"{stem}-images-idx3-ubyte"), 2051, 3)
    labels = _read_idx(_find(path, f"{stem}-labels-idx1-ubyte"), 2049, 1)
    if images.shape[0] != labels.shape[0]:
        raise DataFileError(f"{images.shape[0]} images but {labels.shape[0]} labels")
    if labels.size and labels.max() > 9:
        raise DataFileError(f"labels must be digits 0..9, found {labels.max()}")
    X = images.reshape(images.shape[0], -1).astype(np.float64) / 255.0
    return X, np.eye(10)[labels]


def describe(X, Y, name, source):
    """One line saying what a loader read: rows, columns, classes (or targets), from where."""
    if Y.shape[1] > 1:
        classes = f"{int(np.count_nonzero(Y.sum(axis=0)))} classes"
    else:
        classes = "1 target column"
    return f"read {name}: {X.shape[0]} rows x {X.shape[1]} columns, {classes} (from {source})"


def _standardize(A):
    scale = A.std(axis=0)
    return (A - A.mean(axis=0)) / np.where(scale > 0, scale, 1.0)


def _parse_gas_line(line, path, number, n_features):
    head, *pairs = line.split()
    try:
        gas, concentration = head.split(";")
        values = np.zeros(n_features)
        for pair in pairs:
            index, value = pair.split(":")
            values[int(index) - 1] = float(value)
        return int(gas), float(concentration), values
    except (ValueError, IndexError) as error:
        raise DataFileError(f"{path}, line {number}: not 'class;concentration i:v ...' "
                            f"({error})") from error


def load_gas_sensor_ethanol(path, n_features=128):
    """The ethanol examples of the UCI gas sensor drift data (``batch*.dat`` in ``path``).

    Returns
    -------
    X : ndarray, shape (m, 128)
        Standardized sensor features.
    Y : ndarray, shape (m, 1)
        Standardized ethanol concentration.
    """
    files = sorted(glob.glob(os.path.join(path, "batch*.dat")))
    if not files:
        raise DataFileError(f"no batch*.dat files in {path!r}")
    rows, targets = [], []
    for file in files:
        with open(file) as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                gas, concentration, values = _parse_gas_line(line, file, number, n_features)
                if gas == ETHANOL:
                    rows.append(values)
                    targets.append(concentration)
    if not rows:
        raise DataFileError(f"no ethanol (class {ETHANOL}) examples in {path!r}")
    return _standardize(np.array(rows)), _standardize(np.array(targets)[:, None])


def digits_stand_in():
    """scikit-learn's bundled digits (1797 x 64, one-hot): the MNIST-like stand-in."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return digits.data / 16.0, np.eye(10)[digits.target]


def regression_stand_in():
    """scikit-learn's bundled diabetes data (442 x 10, standardized): a real regression set."""
    from sklearn.datasets import load_diabetes

    data = load_diabetes()
    return _standardize(data.data), _standardize(data.target[:, None])
