"""Files written whole or not at all (maths layer: used by the wisdom file and by the
core's model and checkpoint files)."""

from __future__ import annotations

import os
import secrets

__all__ = ["atomic_write"]


def atomic_write(path, payload: bytes) -> None:
    """Write ``payload`` to ``path`` via a temporary file, fsync and rename.

    On any error (disk full, permissions) the temporary file is removed, ``path`` keeps its
    previous content, and an ``OSError`` naming the file is raised. A symbolic link is
    followed: its target gets the new content and the link stays.
    """
    path = os.fspath(path)
    target = os.path.realpath(path)
    folder = os.path.dirname(target)
    handle, temporary = None, None
    try:
        handle, temporary = _new_file(folder)
        with os.fdopen(handle, "wb") as f:
            handle = None
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, target)
        temporary = None
        directory = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    except OSError as error:
        raise OSError(error.errno, f"could not write {path!r} ({error.strerror or error}); "
                      "the previous file, if any, is unchanged") from error
    finally:
        if handle is not None:
            os.close(handle)
        if temporary is not None and os.path.exists(temporary):
            os.remove(temporary)


def _new_file(folder):
    """``(descriptor, path)`` of a new temporary file in ``folder``, created with mode 0o666
    less the umask (the mode ``open`` gives; ``tempfile.mkstemp`` would give 0o600)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        path = os.path.join(folder, f".fastdln-{secrets.token_hex(8)}.tmp")
        try:
            return os.open(path, flags, 0o666), path
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary file name in {folder}")
