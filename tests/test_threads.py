"""BLAS threads: a fixed count applied to every BLAS library during sweeps, or measured."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from threadpoolctl import threadpool_info

import fastdln
from fastdln.threads import KEPT, PROBES, REPROBE_EVERY, ThreadPolicy
from tests.helpers import ROOT, max_relative_difference, paper_data


def _blas_threads():
    return sorted({p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"})


def test_a_fixed_count_holds_during_the_block_and_is_restored_after():
    fastdln.train(*paper_data(20, 3, 1, 0), widths=[3, 1])  # load the kernels' BLAS
    before = _blas_threads()
    for count in (1, 2, 3):
        policy = ThreadPolicy(count)
        with policy.applied(10) as used:
            assert used == count and _blas_threads() == [count]
        assert _blas_threads() == before


def test_the_automatic_choice_probes_both_counts_then_keeps_the_faster():
    policy = ThreadPolicy(None, cores=2)
    assert policy.counts == (1, 2)
    seen = []
    for _ in range(2 * PROBES):  # alternating probes
        count = policy.chosen
        seen.append(count)
        policy.record(count, 1.0 if count == 1 else 2.0)  # one thread is faster
    assert sorted(seen) == [1] * PROBES + [2] * PROBES
    chosen = []
    for _ in range(3 * REPROBE_EVERY):
        count = policy.chosen
        chosen.append(count)
        policy.record(count, 1.0 if count == 1 else 2.0)
    assert chosen.count(2) == 3  # tried again once every REPROBE_EVERY calls
    for _ in range(REPROBE_EVERY * KEPT):  # now two threads become faster (a quiet machine)
        count = policy.chosen
        policy.record(count, 3.0 if count == 1 else 2.0)
    assert policy.best == 2 and policy.chosen == 2
    assert ThreadPolicy(None, cores=1).counts == (1,)
    assert ThreadPolicy(3).chosen == 3


@pytest.mark.parametrize("threads", [1, 2])
def test_a_fixed_count_is_bitwise_reproducible(threads):
    X, Y = paper_data(600, 128, 10, seed=1)
    common = dict(widths=[128] * 20 + [10], seed=2, sweeps=3, threads=threads)
    first, second = fastdln.train(X, Y, **common), fastdln.train(X, Y, **common)
    for a, b in zip(first.weights, second.weights):
        np.testing.assert_array_equal(a, b)


def test_thread_counts_agree_to_rounding_and_may_change_on_resume(tmp_path):
    X, Y = paper_data(600, 128, 10, seed=3)
    common = dict(widths=[128] * 30 + [10], seed=4, sweeps=3)
    one = fastdln.train(X, Y, threads=1, **common)
    two = fastdln.train(X, Y, threads=2, **common)
    auto = fastdln.train(X, Y, **common)
    assert max_relative_difference(one.weights, two.weights) < 1e-12
    assert max_relative_difference(auto.weights, one.weights) < 1e-12
    path = tmp_path / "run.ckpt"
    fastdln.train(X, Y, threads=1, checkpoint=path, **dict(common, sweeps=1))
    resumed = fastdln.train(X, Y, sweeps=3, resume=path, threads=2)
    assert resumed.settings.threads == 2
    assert max_relative_difference(resumed.weights, one.weights) < 1e-12


@pytest.mark.parametrize("bad, error", [(0, ValueError), (-1, ValueError), (1.5, TypeError),
                                        ("2", TypeError)])
def test_bad_thread_counts_are_refused(bad, error):
    with pytest.raises(error, match="threads"):
        fastdln.check_settings(threads=bad)


def test_every_blas_library_is_controlled_even_when_looked_up_before_scipy_is_imported():
    """The lookup happens once per process: it must already see scipy's BLAS (the kernels'
    and the set-up's), which ``import fastdln`` does not load."""
    script = textwrap.dedent("""
        import sys
        import fastdln
        from fastdln import threads
        found = {library.filepath for library in threads._blas_libraries()}
        import scipy.linalg, numba.np.linalg
        from threadpoolctl import threadpool_info
        loaded = {info["filepath"] for info in threadpool_info() if info["user_api"] == "blas"}
        print("scipy.linalg" in sys.modules, sorted(loaded - found))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout.split()
    assert out == ["True", "[]"], out
