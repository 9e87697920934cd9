import os

import pytest
from hypothesis import settings

from fastdln.maths import _wisdom
from fastdln.maths.synthetic import random_data

# CI runs a fixed (derandomized) set of examples, explored locally with many seeds first, so
# a landing is never decided by a new random draw; locally every run explores new examples.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture
def small_data():
    return random_data(60, 8, 3, seed=0)


@pytest.fixture(autouse=True, scope="session")
def _private_wisdom(tmp_path_factory):
    """No test reads or writes the wisdom file of the machine's user."""
    patch = pytest.MonkeyPatch()
    path = tmp_path_factory.mktemp("wisdom") / _wisdom.FILE_NAME
    patch.setattr(_wisdom, "wisdom_file", lambda: str(path))
    _wisdom._forget()
    yield
    _wisdom._forget()  # nothing left for the flush at exit
    patch.undo()


@pytest.fixture
def wisdom(tmp_path, monkeypatch):
    """An empty wisdom file of the test's own (its path); what the process read or measured
    (the thread counts faster per size, too) is forgotten before and after."""
    from fastdln.core import threads

    path = tmp_path / "cache" / _wisdom.FILE_NAME
    monkeypatch.setattr(_wisdom, "wisdom_file", lambda: str(path))
    monkeypatch.setattr(threads, "_QUIET_BEST", {})
    _wisdom._forget()
    yield path
    _wisdom._forget()
