"""Download the paper's real data sets into a cache folder (apps layer; the standard library's
``urllib`` only).

- MNIST: the four IDX files from the mirrors torchvision uses, each verified against the MD5
  torchvision's source lists.
- UCI "Gas Sensor Array Drift Dataset at Different Concentrations": the zip archive of the
  ``batch1.dat`` .. ``batch10.dat`` files. UCI publishes no checksum for it: the archive is
  verified by the CRC-32 of every member (``zipfile``) and by holding the ten batch files.

Downloads resume a partial ``<file>.part`` (an HTTP range request) and move a file into place
only once it is complete and verified, so the cache never holds a truncated file. The cache
folder is the ``folder`` argument, else ``$FASTDLN_DATA``, else ``~/.cache/fastdln``.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import urllib.error
import urllib.request
import zipfile
import zlib

__all__ = ["CACHE_ENV", "DownloadError", "GAS_FILES", "GAS_MIRRORS", "MNIST_FILES",
           "MNIST_MIRRORS", "cache_dir", "download", "fetch_all", "fetch_gas_sensor",
           "fetch_mnist"]

CACHE_ENV = "FASTDLN_DATA"
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
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _fetch(url, part, timeout):
    """Append the rest of ``url`` to ``part`` (a range request from its size; from the start
    when the server ignores the range). An interrupted transfer raises ``OSError`` and keeps
    ``part``, so the next mirror (or the next call) resumes it."""
    start = os.path.getsize(part) if os.path.exists(part) else 0
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
        with open(part, "ab" if resumed else "wb") as f:
            shutil.copyfileobj(response, f, _CHUNK)
    size = os.path.getsize(part)
    if total is not None and size < total:
        raise OSError(f"interrupted after {size} of {total} bytes (resumable)")


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
    if os.path.exists(dest) and _verified(dest, md5, check) is None:
        return dest
    os.makedirs(os.path.dirname(dest) or ".", exist_ok=True)
    part, failures = dest + ".part", []
    for url in urls:
        try:
            _fetch(url, part, timeout)
        except (OSError, ValueError, http.client.HTTPException) as error:  # URLError too
            failures.append(f"{url}: {getattr(error, 'reason', error)}")
            continue
        problem = _verified(part, md5, check)
        if problem is None:
            os.replace(part, dest)  # atomic: the cache never holds a partial file
            return dest
        os.remove(part)  # corrupt: the next mirror starts afresh
        failures.append(f"{url}: {problem}")
    name = os.path.basename(dest)
    raise DownloadError(f"could not download {name} ({'; '.join(failures)}); offline, put "
                        f"{name} into {os.path.dirname(dest)} (or pass --data-dir)")


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
    except (zipfile.BadZipFile, EOFError, zlib.error) as error:
        raise ValueError(f"not a complete zip archive ({error})") from error
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


def fetch_all(folder=None, *, timeout=60.0):
    """Both data sets into the cache folder; returns ``{"mnist": folder, "uci": folder}``."""
    return {"mnist": fetch_mnist(folder, timeout=timeout),
            "uci": fetch_gas_sensor(folder, timeout=timeout)}
