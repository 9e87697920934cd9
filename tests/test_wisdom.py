"""The wisdom file: written, read back, merged between writers, and harmless when damaged."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from fastdln.maths import _wisdom
from tests.helpers import ROOT

CONTEXT = "test machine | test blas"


def _fresh_read(path):
    """What a new process would find in the file."""
    _wisdom._forget()
    return _wisdom.thread_samples(CONTEXT, "float64", 20)


def test_it_lives_beside_the_kernel_cache_or_where_the_environment_says(monkeypatch,
                                                                         tmp_path):
    from numba.core import config

    from fastdln.apps.warmup import kernel_cache_folder

    kernels = kernel_cache_folder()  # NUMBA_CACHE_DIR or numba's user-wide folder, as set
    if kernels is not None:  # the kernels in a subfolder of the wisdom's folder
        assert os.path.commonpath([kernels, _wisdom.cache_root()]) == _wisdom.cache_root()
    monkeypatch.setattr(config, "CACHE_DIR", str(tmp_path))
    assert _wisdom.cache_root() == str(tmp_path)
    monkeypatch.setattr(config, "CACHE_DIR", "")  # numba's user-wide folder
    assert os.path.isabs(_wisdom.cache_root()) and "numba" in _wisdom.cache_root()
    monkeypatch.delenv("FASTDLN_WISDOM")
    assert _wisdom.wisdom_file() == os.path.join(_wisdom.cache_root(), _wisdom.FILE_NAME)
    monkeypatch.setenv("FASTDLN_WISDOM", str(tmp_path / "shared.json"))
    assert _wisdom.wisdom_file() == str(tmp_path / "shared.json")


def test_a_sample_is_written_and_read_back_by_a_new_process(wisdom):
    assert _wisdom.thread_samples(CONTEXT, "float64", 20) == []
    _wisdom.record_threads(CONTEXT, "float64", 20, {1: 2e-4, 2: 3e-4}, "warmup")
    assert _wisdom.thread_samples(CONTEXT, "float64", 20) == [{1: 2e-4, 2: 3e-4}]
    assert not wisdom.exists()  # nothing written until a flush
    assert _wisdom.flush() and wisdom.exists()
    assert _fresh_read(wisdom) == [{1: 2e-4, 2: 3e-4}]
    assert _wisdom.thread_samples(CONTEXT, "float32", 20) == []  # keyed by dtype
    assert _wisdom.thread_samples("another machine | test blas", "float64", 20) == []
    assert not [p for p in os.listdir(wisdom.parent) if p.startswith(".fastdln-wisdom-")]


def test_a_class_never_measured_takes_the_nearest_measured_within_two(wisdom):
    _wisdom.record_threads(CONTEXT, "float64", 14, {1: 1.0, 2: 2.0}, "warmup")
    _wisdom.record_threads(CONTEXT, "float64", 18, {1: 2.0, 2: 1.0}, "warmup")
    assert _wisdom.thread_samples(CONTEXT, "float64", 15) == [{1: 1.0, 2: 2.0}]
    assert _wisdom.thread_samples(CONTEXT, "float64", 16) == [{1: 1.0, 2: 2.0}]  # a tie
    assert _wisdom.thread_samples(CONTEXT, "float64", 17) == [{1: 2.0, 2: 1.0}]
    assert _wisdom.thread_samples(CONTEXT, "float64", 21) == []  # too far from any


def test_only_the_newest_samples_are_kept(wisdom):
    for i in range(_wisdom.KEPT_SAMPLES + 3):
        _wisdom.record_threads(CONTEXT, "float64", 20, {1: 1.0 + i, 2: 1.0}, "run")
    assert _wisdom.flush()
    samples = _fresh_read(wisdom)
    assert len(samples) == _wisdom.KEPT_SAMPLES and samples[-1][1] == _wisdom.KEPT_SAMPLES + 3


def test_a_writer_merges_what_another_process_wrote_meanwhile(wisdom):
    _wisdom.record_threads(CONTEXT, "float64", 20, {1: 1.0, 2: 2.0}, "run")
    _wisdom.record_gemm(CONTEXT, "/lib/other.so", "stamp", {"float64": 0.8})
    assert _wisdom.flush()
    # another process (its own memory) adds its entries after this one read the file
    assert _write_from_another_process(20, {1: 3.0, 2: 1.0}).wait(timeout=120) == 0
    _wisdom.record_threads(CONTEXT, "float64", 17, {1: 5.0, 2: 6.0}, "run")
    assert _wisdom.flush()
    samples = _fresh_read(wisdom)
    assert {1: 1.0, 2: 2.0} in samples and {1: 3.0, 2: 1.0} in samples
    assert _wisdom.thread_samples(CONTEXT, "float64", 17) == [{1: 5.0, 2: 6.0}]
    assert _wisdom.gemm_entries(CONTEXT)["/lib/other.so"]["ratios"] == {"float64": 0.8}


def _write_from_another_process(size_class, seconds, count=1, barrier=None):
    """A process of its own (the wisdom file of ``FASTDLN_WISDOM``) writing ``count``
    samples, one write each."""
    script = textwrap.dedent(f"""
        import os, sys, time
        from fastdln.maths import _wisdom
        barrier = {str(barrier) if barrier else None!r}
        if barrier:  # start writing together with the other writer
            open(barrier + str(os.getpid()), "w").close()
            while len([p for p in os.listdir(os.path.dirname(barrier))
                       if p.startswith(os.path.basename(barrier))]) < 2:
                time.sleep(0.001)
        for i in range({count}):  # one write each
            seconds = {{int(k): v + i for k, v in {seconds!r}.items()}}
            _wisdom.record_threads({CONTEXT!r}, "float64", {size_class} + i, seconds, "run")
            assert _wisdom.flush()
    """)
    return subprocess.Popen([sys.executable, "-c", script], cwd=ROOT,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)))


def test_two_processes_writing_at_once_lose_nothing(wisdom, tmp_path):
    barrier = tmp_path / "ready-"
    writers = [_write_from_another_process(start, {1: 1.0, 2: 2.0}, count=40,
                                           barrier=barrier) for start in (0, 100)]
    assert [writer.wait(timeout=120) for writer in writers] == [0, 0]
    _wisdom._forget()
    for start in (0, 100):
        for i in range(40):
            assert _wisdom.thread_samples(CONTEXT, "float64", start + i) == [
                {1: 1.0 + i, 2: 2.0 + i}]


@pytest.mark.parametrize("content", [b"", b"{", b"\xff\xfe garbage", b"[1, 2]", b"null",
                                     b'{"format": "something else", "threads": 3}',
                                     b'{"format": "fastdln-wisdom", "version": 1, '
                                     b'"threads": {"c": {"float64": {"x": 5, "20": [{}]}}}, '
                                     b'"gemm": [1]}'])
def test_a_damaged_or_foreign_file_is_ignored_and_replaced(wisdom, content, capsys):
    wisdom.parent.mkdir()
    wisdom.write_bytes(content)
    assert _fresh_read(wisdom) == []
    assert _wisdom.gemm_entries(CONTEXT) == {}
    _wisdom.record_threads(CONTEXT, "float64", 20, {1: 1.0, 2: 2.0}, "run")
    assert _wisdom.flush()
    assert _fresh_read(wisdom) == [{1: 1.0, 2: 2.0}]
    assert capsys.readouterr() == ("", "")


def test_invalid_entries_are_dropped_and_valid_ones_kept(wisdom):
    good = {"seconds": {"1": 1.0, "2": 2.0}, "at": 1.0, "source": "run"}
    bad = [{"seconds": {"1": -1.0}, "at": 1.0, "source": "run"},
           {"seconds": {"one": 1.0}, "at": 1.0, "source": "run"},
           {"seconds": {"1": float("nan")}, "at": 1.0, "source": "run"},
           {"seconds": {}, "at": 1.0, "source": "run"}, {"at": 1.0}, "text"]
    wisdom.parent.mkdir()
    wisdom.write_text(json.dumps({"format": _wisdom.FORMAT, "version": _wisdom.VERSION,
                                  "threads": {CONTEXT: {"float64": {"20": [good, *bad]}}},
                                  "gemm": {CONTEXT: {"/a.so": {"ratios": {"float64": 0}}}}}))
    assert _fresh_read(wisdom) == [{1: 1.0, 2: 2.0}]
    assert _wisdom.gemm_entries(CONTEXT) == {}


def test_a_newer_versions_file_is_neither_read_nor_overwritten(wisdom):
    wisdom.parent.mkdir()
    newer = json.dumps({"format": _wisdom.FORMAT, "version": _wisdom.VERSION + 1,
                        "threads": {CONTEXT: {"float64": {"20": [
                            {"seconds": {"1": 1.0}, "at": 1.0, "source": "run"}]}}}})
    wisdom.write_text(newer)
    assert _fresh_read(wisdom) == []
    _wisdom.record_threads(CONTEXT, "float64", 20, {1: 1.0, 2: 2.0}, "run")
    assert not _wisdom.flush()
    assert wisdom.read_text() == newer


def test_an_unwritable_folder_keeps_the_measures_in_memory(wisdom, monkeypatch, tmp_path):
    blocked = tmp_path / "a file, not a folder"
    blocked.write_text("")
    monkeypatch.setattr(_wisdom, "wisdom_file", lambda: str(blocked / _wisdom.FILE_NAME))
    _wisdom.record_threads(CONTEXT, "float64", 20, {1: 1.0, 2: 2.0}, "run")
    assert not _wisdom.flush()
    assert _wisdom.thread_samples(CONTEXT, "float64", 20) == [{1: 1.0, 2: 2.0}]
    monkeypatch.setattr(_wisdom, "wisdom_file", lambda: None)  # no cache folder at all
    assert not _wisdom.flush()


def test_the_machine_names_the_cpu():
    name = _wisdom.machine()
    assert name and name == _wisdom.machine()
    if os.path.exists("/proc/cpuinfo"):
        assert "flags" in name
