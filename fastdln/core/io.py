"""Models and checkpoints on disk.

- :func:`save` / :func:`load`: one ``.npz`` with the weights and JSON metadata (widths,
  settings, errors, the names of the features and targets when known, format and package
  versions). Plain arrays only: safe to load. Files get the mode the umask gives (like
  ``open``).
- Checkpoints (``train(..., checkpoint=PATH)``): a :meth:`fastdln.Trainer.state_dict`
  serialized with pickle behind a header and a SHA-256 checksum, written atomically
  (temporary file in the same folder, fsync, rename), so a crash at any moment leaves either
  the previous checkpoint or the new one, never a torn file. Pickle runs code when loaded:
  resume only from checkpoints your own runs wrote.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..maths._checks import check_weights
from ..maths._files import atomic_write
from .._version import __version__

__all__ = ["Model", "check_writable", "load", "read_checkpoint", "save",
           "weights_fingerprint", "write_checkpoint"]

MODEL_FORMAT = 1
CHECKPOINT_FORMAT = 1
_CHECKPOINT_MAGIC = b"FASTDLN-CHECKPOINT\n"


@dataclass
class Model:
    """A saved network: ``weights`` (``W_l`` of shape ``(n_l, n_{l-1})``) and metadata.

    ``feature_names`` and ``target_names`` (lists of ``n0`` and ``nL`` strings) are the
    names of the columns the model was trained on, when known (e.g. a CSV's header).
    """

    weights: list
    widths: list
    settings: dict = field(default_factory=dict)
    errors: np.ndarray | None = None
    version: str = ""
    intercept: np.ndarray | None = None
    feature_names: list[str] | None = None
    target_names: list[str] | None = None

    def predict(self, X):
        """``X W_1^T ... W_L^T (+ intercept)`` (see :func:`fastdln.predict`)."""
        from .linear_map import predict

        return predict(X, self.weights, self.intercept)


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return getattr(value, "name", repr(value))  # e.g. a ConvexLoss: its name


def save(path: str | os.PathLike, model: Any, *, feature_names: Sequence[str] | None = None,
         target_names: Sequence[str] | None = None) -> None:
    """Save a network with its metadata as one ``.npz``.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.npz`` file to write (written atomically, with the umask's mode).
    model : TrainResult, Trainer, Model, fitted DeepLinearRegressor or list of array_like
        Anything with ``weights`` (and optionally ``settings``, ``errors``, ``intercept``,
        names), an object with a ``to_model()`` method (a fitted estimator), or the weights.
    feature_names, target_names : sequence of str, optional
        Names of the ``n0`` input and ``nL`` output columns (default: the model's own, if
        any); :meth:`Model.predict` callers can then match columns by name.
    """
    if hasattr(model, "to_model"):  # a fitted scikit-learn DeepLinearRegressor
        model = model.to_model()
    settings, errors = getattr(model, "settings", None) or {}, getattr(model, "errors", None)
    if hasattr(settings, "to_dict"):  # a TrainResult's or a Trainer's Settings
        settings = settings.to_dict()
    weights = model.weights if hasattr(model, "weights") else model
    single = len(weights) > 0 and np.asarray(weights[0]).dtype == np.float32
    weights, widths = check_weights(weights, dtype=np.float32 if single else np.float64)
    names = dict(feature_names=_names(feature_names, model, "feature_names", widths[0]),
                 target_names=_names(target_names, model, "target_names", widths[-1]))
    metadata = dict(format=MODEL_FORMAT, fastdln_version=__version__, widths=widths,
                    settings=_jsonable(settings),
                    **{key: value for key, value in names.items() if value is not None})
    arrays = {f"W{i}": W for i, W in enumerate(weights)}
    if errors is not None:
        arrays["errors"] = np.asarray(errors, dtype=np.float64)
    intercept = getattr(model, "intercept", None)
    if intercept is not None and np.any(intercept):
        arrays["intercept"] = np.asarray(intercept, dtype=np.float64)
    buffer = io.BytesIO()
    np.savez(buffer, metadata=np.array(json.dumps(metadata)), **arrays)
    atomic_write(path, buffer.getvalue())


def _names(given, model, attribute, count):
    """``given`` names (else the model's ``attribute``) as a list of ``count`` strings, or
    None."""
    names = getattr(model, attribute, None) if given is None else given
    if names is None:
        return None
    if isinstance(names, (str, bytes)) or not all(isinstance(n, str) for n in names):
        raise TypeError(f"{attribute} must be a sequence of strings, got {names!r}")
    names = list(names)
    if len(names) != count:
        raise ValueError(f"{attribute} must have {count} names (one per column), got "
                         f"{len(names)}: {names}")
    if len(set(names)) != len(names):
        raise ValueError(f"{attribute} must be distinct, got {names}")
    return names


def load(path: str | os.PathLike) -> Model:
    """Load a model written by :func:`save`; returns a :class:`Model`.

    Raises ``ValueError`` for a file that is truncated, not a fastdln model, or written by a
    newer format version than this fastdln reads.
    """
    if os.path.isdir(path):
        raise ValueError(f"{path}: is a directory, not a fastdln model (.npz written by "
                         "fastdln.save)")
    if os.path.exists(path) and not zipfile.is_zipfile(path):
        with open(path, "rb") as f:
            zip_start = f.read(4) == b"PK\x03\x04"
        if zip_start:
            raise ValueError(f"{path}: truncated or corrupt fastdln model (incomplete .npz)")
        raise ValueError(f"{path}: not a fastdln model (.npz written by fastdln.save)")
    try:
        with np.load(path, allow_pickle=False) as data:
            if "metadata" not in data.files:
                raise ValueError(f"{path}: not a fastdln model (no metadata)")
            metadata = json.loads(str(data["metadata"]))
            if metadata.get("format", 0) > MODEL_FORMAT:
                raise ValueError(f"{path}: model format {metadata['format']} is newer than "
                                 f"this fastdln reads ({MODEL_FORMAT}); upgrade fastdln")
            depth = len(metadata["widths"]) - 1
            weights = [data[f"W{i}"] for i in range(depth)]
            errors = data["errors"] if "errors" in data.files else None
            intercept = data["intercept"] if "intercept" in data.files else None
    except (zipfile.BadZipFile, EOFError, KeyError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: truncated or corrupt fastdln model ({error})") from error
    except OSError as error:
        raise ValueError(f"{path}: cannot be read ({error})") from error
    return Model(weights=weights, widths=metadata["widths"], settings=metadata["settings"],
                 errors=errors, version=metadata.get("fastdln_version", ""),
                 intercept=intercept, feature_names=metadata.get("feature_names"),
                 target_names=metadata.get("target_names"))


def check_writable(path: str | os.PathLike, what: str, *, folder: bool = False,
                   inputs: Sequence[tuple[str, str | os.PathLike | None]] = ()) -> None:
    """Refuse an output path before any work: one that cannot be written, or one of the inputs.

    Parameters
    ----------
    path : str or os.PathLike
        The file (or, with ``folder=True``, the folder) a run will write.
    what : str
        The argument or option it came from, for the message (``"--out"``, ``"checkpoint"``).
    folder : bool
        ``path`` is a folder, created (with its missing parents) when the run writes: it
        must be a folder if it exists, else its nearest existing parent must be a writable
        folder. A file's folder must exist and be writable, and the file must not be a
        folder nor a read-only file.
    inputs : sequence of (str, path or None)
        ``(what, path)`` of the run's input files (None, ``"-"`` and missing files are
        skipped): ``path`` must be none of them, by identity of the file (a symbolic or hard
        link to an input is that input), not by name.

    Raises
    ------
    ValueError
        One line naming ``what``, the path and what is wrong with it.
    """
    path = os.fspath(path)
    if folder:
        _check_folder_output(path, what)
    else:
        _check_file_output(path, what)
    for source, input_path in inputs:
        if input_path is not None and _same_file(path, input_path):
            raise ValueError(f"{what} {path}: the same file as {source} "
                             f"{os.fspath(input_path)}, an input; writing it would destroy "
                             "that input: choose another file")


def _check_file_output(path, what):
    if os.path.isdir(path):
        raise ValueError(f"{what} {path}: is a directory; give a file name inside it")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise ValueError(f"{what} {path}: the folder {parent} does not exist (create it first)")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"{what} {path}: no permission to write in the folder {parent}")
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise ValueError(f"{what} {path}: the file is read-only")


def _check_folder_output(path, what):
    existing = os.path.abspath(path)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        kind = "is a file, not a folder" if existing == os.path.abspath(path) else (
            f"{existing} is a file, not a folder")
        raise ValueError(f"{what} {path}: {kind}")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"{what} {path}: no permission to write in the folder {existing}")


def _same_file(a, b):
    """Whether paths ``a`` and ``b`` name one existing file (after links)."""
    try:
        return os.fspath(b) != "-" and os.path.samefile(a, b)
    except OSError:  # either does not exist
        return False


def weights_fingerprint(weights):
    """SHA-256 of a list of weight matrices (their shapes and values)."""
    digest = hashlib.sha256()
    for W in weights:
        _hash_rows(digest, np.asarray(W))
    return digest.hexdigest()


def _hash_rows(digest, array):
    digest.update(f"{array.shape}".encode())
    digest.update(np.ascontiguousarray(array, dtype=np.float64))


def write_checkpoint(path, state, extra=None):
    """Atomically write a trainer state (plus ``extra`` metadata) as a checksummed file."""
    payload = pickle.dumps(dict(state=state, extra=extra or {}), protocol=5)
    header = f"{CHECKPOINT_FORMAT} {hashlib.sha256(payload).hexdigest()}\n".encode()
    atomic_write(path, _CHECKPOINT_MAGIC + header + payload)


def read_checkpoint(path):
    """Read a checkpoint written by :func:`write_checkpoint`: ``(state, extra)``.

    Raises ``ValueError`` for a missing, truncated, corrupt or newer-format file.
    """
    try:
        with open(path, "rb") as f:
            blob = f.read()
    except OSError as error:
        raise ValueError(f"{path}: cannot be read ({error})") from error
    if not blob.startswith(_CHECKPOINT_MAGIC):
        raise ValueError(f"{path}: not a fastdln checkpoint")
    line_end = blob.find(b"\n", len(_CHECKPOINT_MAGIC))
    try:
        version, checksum = blob[len(_CHECKPOINT_MAGIC):line_end].decode().split()
        version = int(version)
    except ValueError as error:
        raise ValueError(f"{path}: corrupt checkpoint header") from error
    if version > CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: checkpoint format {version} is newer than this fastdln "
                         f"reads ({CHECKPOINT_FORMAT}); upgrade fastdln")
    payload = blob[line_end + 1:]
    if hashlib.sha256(payload).hexdigest() != checksum:
        raise ValueError(f"{path}: truncated or corrupt checkpoint (checksum mismatch)")
    try:
        content = pickle.loads(payload)
        return content["state"], content["extra"]
    except Exception as error:  # whole and unchanged, but not readable here
        raise ValueError(f"{path}: a checkpoint this fastdln cannot read ({type(error).__name__}: "
                         f"{error}); written by another version of fastdln or numpy?") from error
