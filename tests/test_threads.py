"""BLAS threads: a fixed count applied to every BLAS library during sweeps, or measured."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastdln
from fastdln.maths.synthetic import random_data
from fastdln.core.threads import FIRST_PROBE, REPROBE_EVERY, SMALL_SETUP, ThreadPolicy
from tests.helpers import ROOT, max_relative_difference


def _blas_threads():
    """The counts of the BLAS libraries loaded when fastdln first looked (a library loaded
    later, such as MKL opened by an in-process warmup's GEMM measure, is no kernel's)."""
    from fastdln.core.threads import _blas_libraries

    return sorted({library.get() for library in _blas_libraries()})


def _kernel_blas_threads():
    """The counts of the libraries the kernels call (what a sweep or a step sets)."""
    from fastdln.core.threads import kernel_libraries

    return sorted({library.get() for library in kernel_libraries()})


def test_the_kernels_library_is_scipys_blas():
    """numba's kernels call scipy's BLAS (through scipy.linalg.cython_blas): a sweep sets
    that library's count; numpy's (a second OpenBLAS in a pip install) is left alone."""
    from fastdln.core.threads import _blas_libraries, kernel_libraries

    kernels = kernel_libraries()
    assert kernels and set(map(id, kernels)) <= set(map(id, _blas_libraries()))
    if len(_blas_libraries()) > 1:
        assert len(kernels) < len(_blas_libraries())


def test_a_fixed_count_holds_during_the_block_and_is_restored_after():
    fastdln.train(*random_data(20, 3, 1, 0), widths=[3, 1])  # load the kernels' BLAS
    before = _blas_threads()
    for count in (1, 2, 3):
        policy = ThreadPolicy(count)
        with policy.applied(10) as used:
            assert used == count and _blas_threads() == [count]
        assert _blas_threads() == before


def _run_policy(policy, calls, seconds):
    """``calls`` sweeps under ``policy``, ``seconds[count]`` per update; the counts used."""
    used = []
    for _ in range(calls):
        count = policy.chosen
        used.append(count)
        policy.record(count, seconds[count])
    return used


def test_on_a_quiet_machine_all_cores_first_and_the_other_count_only_after_a_while():
    policy = ThreadPolicy(None, cores=2, size="quiet-test", load=lambda: 0)
    assert policy.counts == (1, 2)
    used = _run_policy(policy, FIRST_PROBE, {1: 1.0, 2: 2.0})
    assert used == [2] * FIRST_PROBE  # a short run never explores
    used = _run_policy(policy, 1 + REPROBE_EVERY, {1: 1.0, 2: 2.0})
    assert used[0] == 1 and policy.best == 1  # the probe found one thread faster
    assert used[1:REPROBE_EVERY] == [1] * (REPROBE_EVERY - 1) and used[-1] == 2
    # a new policy for a problem of the same size starts on what this one measured
    assert ThreadPolicy(None, cores=2, size="quiet-test", load=lambda: 0).chosen == 1
    assert ThreadPolicy(None, cores=2, size="other-size", load=lambda: 0).chosen == 2


def test_beside_busy_processes_one_thread_per_free_core_and_no_probes():
    busy = ThreadPolicy(None, cores=2, size="busy-test", load=lambda: 1)
    assert _run_policy(busy, 3 * REPROBE_EVERY, {1: 1.0, 2: 1.0}) == [1] * 3 * REPROBE_EVERY
    assert ThreadPolicy(None, cores=8, load=lambda: 3).chosen == 5
    assert ThreadPolicy(None, cores=8, load=lambda: 30).chosen == 1
    assert ThreadPolicy(None, cores=1, load=lambda: 0).counts == (1,)
    assert ThreadPolicy(3, load=lambda: 5).chosen == 3  # a fixed count is fixed


def test_the_load_is_read_from_the_running_tasks_and_cpu_time():
    from fastdln.core.threads import machine_load, other_runnable

    script = "import time\nend = time.time() + 20\nwhile time.time() < end: pass\n"
    spinners = [subprocess.Popen([sys.executable, "-c", script]) for _ in range(2)]
    try:
        import time

        time.sleep(0.5)
        assert other_runnable() >= 1
        machine_load()
        time.sleep(0.3)
        assert machine_load() >= 1  # CPU time other processes took in those 0.3 s
    finally:
        for spinner in spinners:
            spinner.kill()


def _company_data():
    """Sizes whose set-up runs on the chosen count (its largest matrix is SMALL_SETUP wide)
    and whose results differ in the last bits between one and two BLAS threads."""
    return random_data(2000, SMALL_SETUP, 10, seed=5), dict(widths=[SMALL_SETUP] * 6 + [10],
                                                             seed=1)


def _serial_weights(X, Y, common):
    serial = {count: fastdln.train(X, Y, threads=count, sweeps=3, **common).weights
              for count in (1, 2)}
    # the test means something only if the counts give different bits
    assert any(np.any(a != b) for a, b in zip(serial[1], serial[2]))
    return serial


def test_two_python_threads_at_different_counts_train_as_if_alone():
    """The BLAS count is process-wide: concurrent trainers take turns (one lock over every
    BLAS call of a run, set-up included), each restores the count it found, and their
    results are bitwise those of serial runs. The main thread has set counts before (other
    tests, the serial runs): threadpoolctl's own setter would then ignore the workers."""
    from concurrent.futures import ThreadPoolExecutor

    (X, Y), common = _company_data()
    serial = _serial_weights(X, Y, common)
    before = _blas_threads()
    with ThreadPoolExecutor(2) as pool:
        futures = [(count, pool.submit(fastdln.train, X, Y, threads=count, sweeps=3, **common))
                   for count in (1, 2, 1, 2)]
        results = [(count, future.result()) for count, future in futures]
    assert _blas_threads() == before
    for count, result in results:
        for a, b in zip(result.weights, serial[count]):
            np.testing.assert_array_equal(a, b)


def test_trainers_built_in_two_threads_and_trained_after_give_their_serial_results():
    import threading

    (X, Y), common = _company_data()
    serial = _serial_weights(X, Y, common)
    built = {}
    workers = [threading.Thread(target=lambda c=count: built.__setitem__(
        c, fastdln.Trainer(X, Y, threads=c, **common))) for count in (1, 2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    for count, trainer in built.items():
        trainer.sweep(3)
        for a, b in zip(trainer.weights, serial[count]):
            np.testing.assert_array_equal(a, b)


def test_a_count_set_in_another_python_thread_takes_effect():
    """threadpoolctl lets only the first thread that set an OpenBLAS count set it again; the
    libraries' own functions work from any thread."""
    import threading

    from fastdln.core.threads import _blas_libraries, blas_threads

    libraries = _blas_libraries()
    seen = {}

    def inside(count):
        with blas_threads(count):
            seen[count] = sorted({library.get() for library in libraries})

    with blas_threads(2):  # this thread sets a count first
        pass
    for count in (1, 3):
        worker = threading.Thread(target=inside, args=(count,))
        worker.start()
        worker.join()
        assert seen[count] == [count]


def test_an_enclosing_threadpool_limit_caps_the_automatic_count(monkeypatch):
    from threadpoolctl import threadpool_limits

    from fastdln.core import threads

    monkeypatch.setattr(threads, "machine_load", lambda: 0)  # quiet: all cores otherwise
    threads._blas_libraries()  # the cap found at the first look: an earlier test's limit
    monkeypatch.setattr(threads, "_CAP", [threads.available_cores()])
    assert threads.automatic_cores() >= 2 or pytest.skip("one core: nothing to cap")
    X, Y = random_data(300, 64, 4, seed=2)
    with threadpool_limits(1):
        trainer = fastdln.Trainer(X, Y, widths=[64] * 4 + [4], seed=0)
        trainer.sweep(1)
        assert trainer.thread_count == 1
        trainer.step()
        assert trainer.thread_count == 1
        fixed = fastdln.Trainer(X, Y, widths=[64] * 4 + [4], seed=0, threads=2)
        fixed.sweep(1)  # a fixed count overrides it inside fastdln's calls
        assert fixed.thread_count == 2 and _blas_threads() == [1]


@pytest.mark.parametrize("threads", [1, 2])
def test_a_fixed_count_is_bitwise_reproducible(threads):
    X, Y = random_data(600, 128, 10, seed=1)
    common = dict(widths=[128] * 20 + [10], seed=2, sweeps=3, threads=threads)
    first, second = fastdln.train(X, Y, **common), fastdln.train(X, Y, **common)
    for a, b in zip(first.weights, second.weights):
        np.testing.assert_array_equal(a, b)


def test_thread_counts_agree_to_rounding_and_may_change_on_resume(tmp_path):
    X, Y = random_data(600, 128, 10, seed=3)
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
        from fastdln.core import threads
        found = {library.filepath for library in threads._blas_libraries()}
        import scipy.linalg, numba.np.linalg
        from threadpoolctl import threadpool_info
        loaded = {info["filepath"] for info in threadpool_info() if info["user_api"] == "blas"}
        print("scipy.linalg" in sys.modules, sorted(loaded - found))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout.split()
    assert out == ["True", "[]"], out


def test_stepping_holds_the_count_for_its_block_and_steps_like_step():
    """Inside ``stepping()`` the BLAS count is set once and restored when the block ends;
    the steps are bitwise those of plain ``step()`` calls (and ``thread_count`` says the
    count used)."""
    X, Y = random_data(80, 16, 4, seed=6)
    common = dict(widths=[16] * 6 + [4], seed=2, threads=1)
    plain, held = fastdln.Trainer(X, Y, **common), fastdln.Trainer(X, Y, **common)
    assert held.thread_count is None
    before = _blas_threads()
    plain_errors = [plain.step() for _ in range(15)]
    with held.stepping():
        assert _kernel_blas_threads() == [1] and held.thread_count == 1
        held_errors = [held.step() for _ in range(15)]
        with held.stepping():  # nested: the outer block keeps the count
            held_errors.append(held.step())
        assert _kernel_blas_threads() == [1]
    plain_errors.append(plain.step())
    assert _blas_threads() == before
    assert held_errors == plain_errors
    for a, b in zip(held.weights, plain.weights):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(held.learning_rates, plain.learning_rates)


def _wise(size, seconds):
    """Put one sample (count -> seconds per update) for ``size`` into the wisdom file."""
    from fastdln.core.threads import remember_measures
    from fastdln.maths import _wisdom

    remember_measures(size, seconds, "warmup")
    assert _wisdom.flush()
    _wisdom._forget()  # read back from the file, as a new process would


@pytest.mark.parametrize("faster", [1, 2])
def test_a_fresh_policy_starts_on_the_count_the_wisdom_file_found_faster(wisdom, faster):
    size = ("float64", 20)
    _wise(size, {faster: 1.0, 3 - faster: 1.5})
    policy = ThreadPolicy(None, cores=2, size=size, load=lambda: 0)
    assert policy.chosen == faster
    # the other dtype, a class too far, a policy without a size: nothing known, all cores
    for other in [("float32", 20), ("float64", 25), None]:
        assert ThreadPolicy(None, cores=2, size=other, load=lambda: 0).chosen == 2
    # measured on 1 and 2 threads: nothing said about 4 cores
    assert ThreadPolicy(None, cores=4, size=size, load=lambda: 0).chosen == 4
    # what the run measures itself decides once it has measured both counts
    used = _run_policy(policy, FIRST_PROBE + 2, {faster: 2.0, 3 - faster: 1.0})
    assert used[FIRST_PROBE] == 3 - faster and used[-1] == 3 - faster


def test_the_samples_vote_by_their_ratios(wisdom):
    size = ("float64", 21)
    for seconds in ({1: 1.0, 2: 1.2}, {1: 5.0, 2: 4.0}, {1: 0.1, 2: 0.3}):  # problems differ
        _wise(size, seconds)
    assert ThreadPolicy(None, cores=2, size=size, load=lambda: 0).chosen == 1
    _wise(size, {1: 2.0, 2: 1.0})
    _wise(size, {1: 3.0, 2: 1.0})
    assert ThreadPolicy(None, cores=2, size=size, load=lambda: 0).chosen == 2


@pytest.mark.parametrize("two, chosen", [(0.99, 1), (1.01, 1), (0.95, 2)])
def test_a_tie_in_the_wisdom_file_goes_to_fewer_threads(wisdom, two, chosen):
    """Counts within WISE_TIE of the fastest tie; a tie leaves the other cores free."""
    from fastdln.core.threads import WISE_TIE

    assert 1 - WISE_TIE < 0.99 and 0.95 < 1 - WISE_TIE  # the cases straddle the tie band
    size = ("float64", 23)
    _wise(size, {1: 1.0, 2: two})
    assert ThreadPolicy(None, cores=2, size=size, load=lambda: 0).chosen == chosen


def test_beside_busy_processes_the_wisdom_does_not_decide(wisdom):
    size = ("float64", 22)
    _wise(size, {1: 2.0, 8: 1.0})
    assert ThreadPolicy(None, cores=8, size=size, load=lambda: 0).chosen == 8
    assert ThreadPolicy(None, cores=8, size=size, load=lambda: 3).chosen == 5
    _wise(("float64", 23), {1: 1.0, 2: 2.0})
    busy = ThreadPolicy(None, cores=2, size=("float64", 23), load=lambda: 1)
    assert _run_policy(busy, 2 * REPROBE_EVERY, {1: 1.0, 2: 1.0}) == [1] * 2 * REPROBE_EVERY


def test_a_quiet_run_adds_one_sample_once_it_has_measured_both_counts(wisdom):
    from fastdln.core.threads import wisdom_context
    from fastdln.maths import _wisdom

    size = ("float64", 24)
    busy = ThreadPolicy(None, cores=2, size=size, load=lambda: 1)
    _run_policy(busy, 3 * REPROBE_EVERY, {1: 1.0, 2: 2.0})
    quiet = ThreadPolicy(None, cores=2, size=size, load=lambda: 0)
    _run_policy(quiet, FIRST_PROBE, {1: 1.0, 2: 2.0})
    assert _wisdom.thread_samples(wisdom_context(), *size) == []  # both counts not yet
    _run_policy(quiet, 3 * REPROBE_EVERY, {1: 1.0, 2: 2.0})
    assert _wisdom.thread_samples(wisdom_context(), *size) == [{1: 1.0, 2: 2.0}]  # once
    assert not wisdom.exists()  # written off the hot path: by the next policy's set-up
    ThreadPolicy(None, cores=2, size=size, load=lambda: 0)
    _wisdom._forget()
    assert _wisdom.thread_samples(wisdom_context(), *size) == [{1: 1.0, 2: 2.0}]


def test_a_trainers_first_sweep_follows_the_wisdom_file_under_any_enclosing_cap(
        wisdom, monkeypatch):
    from threadpoolctl import threadpool_limits

    from fastdln.core import threads
    from fastdln.maths import _wisdom

    monkeypatch.setattr(threads, "machine_load", lambda: 0)
    threads._blas_libraries()  # the cap found at the first look: an earlier test's limit
    monkeypatch.setattr(threads, "_CAP", [threads.available_cores()])
    assert threads.automatic_cores() >= 2 or pytest.skip("one core: nothing to choose")
    X, Y = random_data(300, 48, 4, seed=2)
    options = dict(widths=[48] * 4 + [4], seed=0)
    size = fastdln.Trainer(X, Y, **options).size_class
    cores = threads.automatic_cores()
    for faster in (1, cores):
        wisdom.unlink(missing_ok=True)
        _wisdom._forget()
        monkeypatch.setattr(threads, "_QUIET_BEST", {})  # what the process measured comes first
        _wise(size, {faster: 1.0, 1 + cores - faster: 2.0})
        trainer = fastdln.Trainer(X, Y, **options)
        trainer.sweep(1)
        assert trainer.thread_count == faster
        with threadpool_limits(1):  # an enclosing limit (joblib, dask) caps it
            capped = fastdln.Trainer(X, Y, **options)
            capped.sweep(1)
            assert capped.thread_count == 1


def test_sweeps_and_steps_never_touch_the_wisdom_file(wisdom, monkeypatch):
    from fastdln.core import threads
    from fastdln.maths import _wisdom

    monkeypatch.setattr(threads, "machine_load", lambda: 0)
    X, Y = random_data(100, 8, 2, seed=2)
    trainer = fastdln.Trainer(X, Y, widths=[8] * 3 + [2], seed=0)
    touched = []
    monkeypatch.setattr(_wisdom, "flush", lambda: touched.append("flush"))
    monkeypatch.setattr(_wisdom, "_read", lambda path: touched.append("read"))
    trainer.sweep(FIRST_PROBE + 3 * REPROBE_EVERY)
    for _ in range(10):
        trainer.step()
    assert touched == []


def test_the_kernels_switch_the_count_of_their_own_library_and_set_it_back():
    """A sweep or step switches the BLAS count inside the kernel (C calls through the
    symbols of the library behind the GEMM ones), not from Python: the symbols act on the
    kernels' library, and a step finds the count, runs, and leaves it as it found it."""
    from numba import njit

    from fastdln.core.threads import blas_threads, kernel_libraries
    from fastdln.maths import _gemm, _kernels

    if not _gemm.kernel_thread_control():
        pytest.skip("the kernels' BLAS has no thread-count functions fastdln knows")

    @njit
    def switch(count):
        before = _kernels._GET_THREADS()
        _kernels._SET_THREADS(count)
        return before, _kernels._GET_THREADS()

    [library] = kernel_libraries()
    with blas_threads(2, [library]):
        assert switch(3) == (2, 3) and library.getter() == 3
        switch(2)
        X, Y = random_data(80, 16, 4, seed=6)
        trainer = fastdln.Trainer(X, Y, widths=[16] * 6 + [4], seed=2, threads=1)
        assert trainer._kernel_threads
        trainer.step()
        engine = trainer._engine
        assert engine.index[_kernels.THREADS_] == 1 and engine.index[_kernels.FOUND_] == 2
        assert library.getter() == 2 and trainer.thread_count == 1
