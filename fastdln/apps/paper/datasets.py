"""Real data sets of the paper's Section 4.2: readers for the original files, and the
installed stand-ins used when those files are absent, and their download into a cache folder
(the standard library's ``urllib`` only).

- MNIST: the standard IDX files ``train-images-idx3-ubyte`` and ``train-labels-idx1-ubyte``
  (``t10k-*`` for the test split; raw or ``.gz``), 60000 x 784 images scaled to [0, 1] (the
  paper does not say how it scales the pixels), one-hot labels.
- UCI "Gas Sensor Array Drift at Different Concentrations": the ``batch*.dat`` files, lines
  ``class;concentration 1:v1 2:v2 ... 128:v128``; class 1 is ethanol. Features and target
  are standardized (zero mean, unit variance).

Downloads: MNIST's four IDX files from the mirrors torchvision uses, each verified against the
MD5 torchvision's source lists; the UCI archive of ``batch1.dat`` .. ``batch10.dat`` (UCI
publishes no checksum: the CRC-32 of every member is checked, and the ten files must be
there). A download resumes a partial ``<file>.part`` (an HTTP range request) and moves a file
into place only once it is complete and verified, so the cache never holds a truncated file;
a ``.part`` that spoils the file (stale, from another file) is discarded and the download
restarted once. ``fetch_all`` (the command line's ``--download``) tries the base URLs of
``mirrors`` (``--mirror URL``, or ``$FASTDLN_MIRROR``) before the official ones.
The cache folder is the ``folder`` argument, else ``$FASTDLN_DATA``, else
``~/.cache/fastdln``.
"""

from __future__ import annotations

import glob
import gzip
import hashlib
import http.client
import os
import shutil
import struct
import urllib.error
import urllib.request
import zipfile
import zlib

import numpy as np

__all__ = ["MNIST_SPLITS", "load_mnist", "load_gas_sensor_ethanol", "describe", "digits_stand_in",
           "regression_stand_in", "DataFileError", "CACHE_ENV", "DownloadError", "GAS_FILES",
           "MIRROR_ENV", "GAS_MIRRORS", "MNIST_FILES", "MNIST_MIRRORS", "cache_dir", "download",
           "fetch_all", "fetch_gas_sensor", "fetch_mnist"]

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

CACHE_ENV = "FASTDLN_DATA"
MIRROR_ENV = "FASTDLN_MIRROR"  # base URLs tried first by fetch_all (the command line)
MNIST_MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/",
                 "http://yann.lecun.com/exdb/mnist/")
MNIST_FILES = {  # torchvision.datasets.MNIST.resources
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
GAS_ARCHIVE = "driftdataset.zip"
GAS_MIRRORS = (
    "https://archive.ics.uci.edu/static/public/270/"
    "gas+sensor+array+drift+dataset+at+different+concentrations.zip",
    "https://archive.ics.uci.edu/ml/machine-learning-databases/00270/driftdataset.zip",
)
GAS_FILES = tuple(f"batch{k}.dat" for k in range(1, 11))
_CHUNK = 1 << 16


class DownloadError(OSError):
    """No mirror gave a complete, verified file; the message says where to put it by hand."""


def cache_dir(folder=None):
    """The cache folder: ``folder``, else ``$FASTDLN_DATA``, else ``~/.cache/fastdln``."""
    if folder is not None and not isinstance(folder, (str, os.PathLike)):
        raise TypeError(f"folder must be a path, not {type(folder).__name__}")
    chosen = folder or os.environ.get(CACHE_ENV) or os.path.join("~", ".cache", "fastdln")
    return os.path.abspath(os.path.expanduser(os.fspath(chosen)))


def _md5(path):
    digest = hashlib.new("md5")
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _fetch(url, part, timeout):
    """Append the rest of ``url`` to ``part`` (a range request from its size; from the start
    when the server ignores the range). An interrupted transfer raises ``OSError`` and keeps
    ``part``, so the next mirror (or the next call) resumes it; a failure to write ``part``
    raises :class:`_NotWritten`."""
    start = os.path.getsize(part) if os.path.isfile(part) else 0
    headers = {"Range": f"bytes={start}-"} if start else {}
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        if error.code != 416 or not start:  # 416: nothing left to send, the part is whole
            raise
        return
    with response:
        resumed = bool(start) and response.status == 206
        total = _total_size(response, start if resumed else 0)
        try:
            out = open(part, "ab" if resumed else "wb")
        except OSError as error:
            raise _NotWritten(part, error) from error
        with out:
            for block in iter(lambda: response.read(_CHUNK), b""):
                try:
                    out.write(block)
                except OSError as error:
                    raise _NotWritten(part, error) from error
    size = os.path.getsize(part)
    if total is not None and size < total:
        raise OSError(f"interrupted after {size} of {total} bytes (resumable)")


class _NotWritten(Exception):
    """The local file could not be written (disk full, permissions): no mirror can help."""

    def __init__(self, path, error):
        super().__init__(f"could not write {path} ({error.strerror or error})")


def _total_size(response, start):
    """The size of the whole file from ``Content-Range`` or ``Content-Length`` (or None)."""
    content_range = response.headers.get("Content-Range", "")
    if "/" in content_range and content_range.rsplit("/", 1)[1].isdigit():
        return int(content_range.rsplit("/", 1)[1])
    length = response.headers.get("Content-Length")
    return start + int(length) if length and length.isdigit() else None


def download(urls, dest, md5=None, *, timeout=30.0, check=None):
    """Download ``dest`` from the first of ``urls`` that gives a complete, verified file.

    Parameters
    ----------
    urls : sequence of str
        Mirrors, tried in order.
    dest : str
        The file to write; kept as it is when it exists and verifies.
    md5 : str, optional
        The published MD5 of the file.
    timeout : float
        Seconds to wait for a server.
    check : callable, optional
        ``check(path)`` raises ``ValueError`` for a file that is not what it should be.

    Returns
    -------
    str
        ``dest``.

    Raises
    ------
    DownloadError
        No mirror worked; the message names the file and the folder to put it in by hand.
    """
    if isinstance(urls, str) or not urls:
        raise TypeError("urls must be a non-empty sequence of URLs")
    if os.path.isfile(dest) and _verified(dest, md5, check) is None:
        return dest
    os.makedirs(os.path.dirname(dest) or ".", exist_ok=True)
    part, failures = dest + ".part", []
    for url in urls:
        problem = _from_mirror(url, part, timeout, md5, check)
        if problem is None:
            os.replace(part, dest)  # atomic: the cache never holds a partial file
            return dest
        failures.append(f"{url}: {problem}")
    name = os.path.basename(dest)
    raise DownloadError(f"could not download {name} ({'; '.join(failures)}); offline, put "
                        f"{name} into {os.path.dirname(dest)} (or pass --data-dir)")


def _from_mirror(url, part, timeout, md5, check):
    """Download ``url`` into ``part`` and verify it: None, or what went wrong. A ``part``
    left by an earlier attempt (stale, or of another file) that spoils the file is discarded
    and the download restarted once from the start."""
    resumed = os.path.isfile(part) and os.path.getsize(part) > 0
    problem, corrupt = _attempt(url, part, timeout, md5, check)
    if corrupt and resumed:
        problem, corrupt = _attempt(url, part, timeout, md5, check)
        if problem is not None:
            problem = f"{problem}, also after discarding the earlier .part and starting afresh"
    return problem


def _attempt(url, part, timeout, md5, check):
    """``(problem, corrupt)``: None, or what went wrong and whether the file was complete but
    wrong (then ``part`` is discarded; an interrupted one is kept to resume)."""
    try:
        _fetch(url, part, timeout)
    except _NotWritten as error:
        raise DownloadError(f"{error}; free space there or choose another folder "
                            "(--data-dir or $FASTDLN_DATA)") from None
    except (OSError, ValueError, http.client.HTTPException) as error:  # URLError too
        return getattr(error, "reason", error), False
    problem = _verified(part, md5, check)
    if problem is not None:
        _discard(part)
    return problem, problem is not None


def _discard(path):
    if os.path.isfile(path):
        os.remove(path)


def _verified(path, md5, check):
    """None if ``path`` is complete and right, else what is wrong with it."""
    if md5 is not None:
        found = _md5(path)
        if found != md5:
            return f"MD5 {found}, expected {md5} (corrupt or incomplete)"
    if check is not None:
        try:
            check(path)
        except ValueError as error:
            return str(error)
    return None


def fetch_mnist(folder=None, *, mirrors=None, timeout=30.0):
    """The four MNIST IDX files (gzip) in ``<cache>/mnist``, downloaded where missing.

    Parameters
    ----------
    folder : str, optional
        The cache folder (:func:`cache_dir`).
    mirrors : sequence of str, optional
        Base URLs, tried in order for each file (default ``MNIST_MIRRORS``).
    timeout : float

    Returns
    -------
    str
        The folder holding the files (give it to :func:`.datasets.load_mnist`).
    """
    target = os.path.join(cache_dir(folder), "mnist")
    mirrors = MNIST_MIRRORS if mirrors is None else mirrors
    for name, md5 in MNIST_FILES.items():
        download([base.rstrip("/") + "/" + name for base in mirrors],
                 os.path.join(target, name), md5, timeout=timeout)
    return target


def _check_gas_archive(path):
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()  # the CRC-32 of every member
            names = {os.path.basename(n) for n in archive.namelist()}
    except (zipfile.BadZipFile, EOFError, zlib.error, OSError) as error:  # OSError: a seek
        raise ValueError(f"not a complete zip archive ({error})") from error  # past the start
    if bad is not None:
        raise ValueError(f"member {bad} fails its CRC check")
    missing = [n for n in GAS_FILES if n not in names]
    if missing:
        raise ValueError(f"the archive lacks {', '.join(missing)}")


def fetch_gas_sensor(folder=None, *, mirrors=None, timeout=60.0):
    """The UCI gas sensor drift files ``batch1.dat`` .. ``batch10.dat`` in
    ``<cache>/gas_sensor``, downloaded (the zip archive) and extracted where missing.

    Parameters
    ----------
    folder : str, optional
        The cache folder (:func:`cache_dir`).
    mirrors : sequence of str, optional
        URLs of the archive, tried in order (default ``GAS_MIRRORS``).
    timeout : float

    Returns
    -------
    str
        The folder holding the files (give it to :func:`.datasets.load_gas_sensor_ethanol`).
    """
    target = os.path.join(cache_dir(folder), "gas_sensor")
    if all(os.path.exists(os.path.join(target, name)) for name in GAS_FILES):
        return target
    urls = list(GAS_MIRRORS if mirrors is None else mirrors)
    archive = download(urls, os.path.join(target, GAS_ARCHIVE), timeout=timeout,
                       check=_check_gas_archive)
    with zipfile.ZipFile(archive) as zipped:
        for member in zipped.namelist():
            name = os.path.basename(member)
            if name in GAS_FILES:
                part = os.path.join(target, name + ".part")
                with zipped.open(member) as source, open(part, "wb") as out:
                    shutil.copyfileobj(source, out, _CHUNK)
                os.replace(part, os.path.join(target, name))
    return target


def fetch_all(folder=None, *, mirrors=None, timeout=60.0):
    """Both data sets into the cache folder; returns ``{"mnist": folder, "uci": folder}``.

    ``mirrors``: base URLs holding the files under their own names (MNIST's four
    ``*-ubyte.gz`` and ``driftdataset.zip``), tried before the official ones; default: the
    URLs in ``$FASTDLN_MIRROR`` (separated by spaces), if any.
    """
    if mirrors is None:
        mirrors = os.environ.get(MIRROR_ENV, "").split()
    if isinstance(mirrors, str):
        raise TypeError("mirrors must be a sequence of URLs, not one string")
    bases = [m.rstrip("/") + "/" for m in mirrors]
    return {"mnist": fetch_mnist(folder, mirrors=[*bases, *MNIST_MIRRORS], timeout=timeout),
            "uci": fetch_gas_sensor(folder, mirrors=[*(b + GAS_ARCHIVE for b in bases),
                                                     *GAS_MIRRORS], timeout=timeout)}
