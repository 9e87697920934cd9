import atexit
import os
import shutil
import tempfile

import pytest
from hypothesis import settings

# No test, nor a process it starts, reads or writes the user's wisdom file: set before fastdln
# is imported (the kernels' GEMM is chosen from the file at import).
os.environ["FASTDLN_WISDOM"] = os.path.join(tempfile.mkdtemp(prefix="fastdln-wisdom-"),
                                            "fastdln-wisdom.json")
atexit.register(shutil.rmtree, os.path.dirname(os.environ["FASTDLN_WISDOM"]), True)

from fastdln.maths import _wisdom  # noqa: E402
from fastdln.maths.synthetic import random_data  # noqa: E402

# CI runs a fixed (derandomized) set of examples, explored locally with many seeds first, so
# a landing is never decided by a new random draw; locally every run explores new examples.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture
def small_data():
    return random_data(60, 8, 3, seed=0)


@pytest.fixture(autouse=True, scope="session")
def _private_wisdom():
    """Nothing the session measured is left for the flush at exit."""
    yield
    _wisdom._forget()


@pytest.fixture
def wisdom(tmp_path, monkeypatch):
    """An empty wisdom file of the test's own (its path); what the process read or measured
    (the thread counts faster per size, too) is forgotten before and after."""
    from fastdln.core import threads

    path = tmp_path / "cache" / _wisdom.FILE_NAME
    monkeypatch.setenv("FASTDLN_WISDOM", str(path))
    monkeypatch.setattr(threads, "_QUIET_BEST", {})
    _wisdom._forget()
    yield path
    _wisdom._forget()
