"""Measuring the machine into the wisdom file (what ``fastdln warmup`` does)."""

import pytest

import fastdln
from fastdln.core import threads, tuning
from fastdln.maths import _wisdom
from fastdln.maths.synthetic import random_data


@pytest.fixture
def two_cores(monkeypatch):
    monkeypatch.setattr(threads, "automatic_cores", lambda: 2)


def test_a_quiet_machine_is_measured_into_the_wisdom_file(wisdom, monkeypatch, two_cores):
    monkeypatch.setattr(threads, "machine_load", lambda: 0)
    monkeypatch.setattr(tuning, "LADDER", (16, 32))
    lines = []
    rows = tuning.measure_machine(["float64", "float32"], report=lines.append)
    assert [(row["width"], row["dtype"]) for row in rows] == [
        (16, "float64"), (32, "float64"), (16, "float32"), (32, "float32")]
    assert len({(row["dtype"], row["size_class"]) for row in rows}) == 4
    _wisdom._forget()  # as a new process reads it
    for row, line in zip(rows, lines):
        assert sorted(row["seconds"]) == [1, 2] and all(s > 0 for s in row["seconds"].values())
        samples = _wisdom.thread_samples(threads.wisdom_context(), row["dtype"],
                                         row["size_class"])
        assert samples == [row["seconds"]]
        assert line.startswith(f"threads {row['dtype']} width {row['width']}: 1 thread ")
    # the classes are those of trainers of these sizes
    X, Y, options = tuning._problem(32, "float32")
    assert fastdln.Trainer(X, Y, **options).size_class == ("float32", rows[-1]["size_class"])


def test_a_busy_machine_is_not_measured(wisdom, monkeypatch, two_cores):
    monkeypatch.setattr(threads, "machine_load", lambda: 1)
    monkeypatch.setattr(tuning, "LADDER", (16,))
    lines = []
    rows = tuning.measure_machine(report=lines.append)
    assert rows[0]["seconds"] == {} and "not measured" in lines[0]
    assert not wisdom.exists()


def test_a_round_busy_at_its_end_is_dropped(monkeypatch):
    readings = iter([0, 1, 0, 0])
    monkeypatch.setattr(threads, "machine_load", lambda: next(readings))
    trainer = fastdln.Trainer(*random_data(40, 8, 2, seed=0), widths=[8, 8, 2], threads=1)
    assert tuning._timed_round(trainer, 1) is None  # other processes ran meanwhile
    assert tuning._timed_round(trainer, 1) > 0
