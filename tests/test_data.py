"""Data of any size: the blocked factor of [X Y] against the SVD path, memory maps, .npy files
and dask arrays (docs/math.md section 4)."""

import math
import os
import subprocess
import sys
import textwrap
import threading
import tracemalloc

import numpy as np
import pytest

import fastdln
from fastdln.core import data as data_module
from fastdln.core import io
from fastdln.core.data import Data
from fastdln.maths.factor import split_factor
from fastdln.maths.optimum import rank_of
from fastdln.maths.synthetic import random_data
from tests.helpers import ROOT, max_relative_difference


def _with_spectrum(m, n0, nL, singular_values, seed=0):
    """``X = U diag(singular_values) V^T`` with random orthonormal ``U``, ``V``; ``Y`` random."""
    rng = np.random.default_rng(seed)
    U = np.linalg.qr(rng.normal(size=(m, len(singular_values))))[0]
    V = np.linalg.qr(rng.normal(size=(n0, len(singular_values))))[0]
    return (U * singular_values) @ V.T, rng.normal(size=(m, nL))


def _cases():
    X, Y = random_data(200, 12, 3, seed=1)
    deficient = X.copy()
    deficient[:, -1] = deficient[:, 0]  # rank 11 of 12
    wide_X, wide_Y = random_data(7, 12, 3, seed=2)  # m < n0
    ill_X, ill_Y = _with_spectrum(300, 10, 2, np.logspace(0, -12, 10), seed=3)
    return {"random": (X, Y), "rank-deficient": (deficient, Y), "m < n0": (wide_X, wide_Y),
            "cond 1e12": (ill_X, ill_Y)}


def _svd_path(X, Y):
    """What the compression was before the blocked factor: the SVD of the whole X."""
    U, s, Vt = np.linalg.svd(X, full_matrices=False)
    r = rank_of(s, X.shape)
    Yc = U[:, :r].T @ Y
    return s[:r], Vt[:r], Yc, float(np.sum(Y * Y) - np.sum(Yc * Yc))


@pytest.mark.parametrize("case", list(_cases()))
@pytest.mark.parametrize("rows", [1, 5, 4096], ids=["1-row blocks", "5-row blocks", "one block"])
@pytest.mark.parametrize("workers", [1, 3], ids=["1 thread", "3 threads"])
def test_blocked_factor_equals_the_svd_path(case, rows, workers):
    X, Y = _cases()[case]
    factor = Data(X, Y).factor(center=False, rows=rows, workers=workers)
    split = split_factor(factor.R, X.shape[1], X.shape[0])
    s, Vt, Yc, unreachable = _svd_path(X, Y)
    assert split.rank == s.size
    assert np.max(np.abs(split.s - s)) <= 1e-13 * s[0]  # both backward stable
    # the compressed problem is the whole problem: ||X W^T - Y||^2 = ||Xc W^T - Yc||^2 + c
    Xc = split.s[:, None] * split.Vt
    for W in np.random.default_rng(4).normal(size=(3, Y.shape[1], X.shape[1])):
        full = float(np.sum((X @ W.T - Y) ** 2))
        compressed = float(np.sum((Xc @ W.T - split.Yc) ** 2)) + split.unreachable
        assert compressed == pytest.approx(full, rel=1e-12)
    # how the loss splits into reachable and unreachable parts is as well conditioned as the
    # singular subspaces of X: to eps cond(X) for both factorizations
    cond = s[0] / s[-1]
    assert split.unreachable == pytest.approx(unreachable, rel=1e-13 * cond,
                                              abs=1e-13 * np.sum(Y * Y))
    # the least-norm optimum, (A.1): its weights as accurately as from the SVD of X (to eps
    # cond(X)), and its loss to the first-order perturbation bound of a least-squares
    # minimum, eps ||R*|| ||X|| ||W*|| (large when W* is: on ill-conditioned data)
    optimum = fastdln.global_optimum(X, Y)
    expected = (Vt.T @ (Yc / s[:, None])).T
    assert max_relative_difference([optimum.weight], [expected]) < 1e-13 * cond
    bound = 1e-13 * (np.sqrt(optimum.loss) * s[0] * np.linalg.norm(expected, 2)
                     + optimum.loss)
    for weight in (optimum.weight, expected):
        assert abs(optimum.loss - float(np.sum((X @ weight.T - Y) ** 2))) <= bound


def test_errors_far_below_1e_10_stay_resolved_on_ill_conditioned_data():
    """The error of the computed optimum, in the compressed coordinates, is a sum of squares
    of a tiny residual (here about (eps cond(X))^2 = 1e-20), as on the SVD path, and not a
    difference of two losses of order 100 (whose rounding alone is 1e-14)."""
    X, Y = _with_spectrum(400, 8, 2, np.logspace(0, -6, 8), seed=5)
    W_star = fastdln.global_optimum(X, Y).weight
    trainer = fastdln.Trainer(X, Y, [W_star])
    s, Vt, Yc, _ = _svd_path(X, Y)
    svd_error = float(np.sum((s[:, None] * Vt @ W_star.T - Yc) ** 2)) / len(X)
    assert trainer.compressed and trainer.optimum.loss > 100
    assert 0 <= trainer.errors[0] < 1e-18 and svd_error < 1e-18
    full = float(np.sum((X @ W_star.T - Y) ** 2)) - trainer.optimum.loss
    assert abs(full) / len(X) > 100 * trainer.errors[0]  # what the full-data difference gives


def test_small_blocks_train_like_one_block(monkeypatch):
    X, Y = random_data(300, 9, 3, seed=6)
    common = dict(widths=[9, 9, 9, 3], seed=0, sweeps=4, fit_intercept=True,
                  sample_weight=np.random.default_rng(7).uniform(0.5, 2, 300))
    whole = fastdln.train(X, Y, **common)
    monkeypatch.setattr(data_module, "BLOCK_ROWS", 7)
    blocked = fastdln.train(X, Y, **common)
    assert max_relative_difference(blocked.weights, whole.weights) < 1e-10
    np.testing.assert_allclose(blocked.errors, whole.errors, rtol=1e-8, atol=1e-14)
    np.testing.assert_allclose(blocked.intercept, whole.intercept, rtol=1e-12)


def test_centering_from_the_factor_equals_centering_the_data():
    X, Y = random_data(150, 6, 2, seed=8)
    X, Y = X + 100.0, Y - 50.0
    w = np.random.default_rng(9).uniform(0, 3, 150)
    factor = Data(X, Y, w).factor(center=True, rows=16)
    np.testing.assert_allclose(factor.x_mean, np.average(X, 0, w), rtol=1e-13)
    np.testing.assert_allclose(factor.y_mean, np.average(Y, 0, w), rtol=1e-13)
    root = np.sqrt(w)[:, None]
    centered = np.hstack([X - factor.x_mean, Y - factor.y_mean]) * root
    expected = np.linalg.svd(centered, compute_uv=False)
    np.testing.assert_allclose(np.linalg.svd(factor.R, compute_uv=False), expected,
                               rtol=1e-10)


def test_threads_fold_disjoint_row_ranges_side_by_side(monkeypatch):
    """Each worker folds its own whole blocks, at the same time as the others (the barrier
    times out otherwise), with one BLAS thread each."""
    from threadpoolctl import threadpool_info

    rows = data_module.FINGERPRINT_ROWS // 2
    X, Y = random_data(4 * data_module.FINGERPRINT_ROWS, 5, 2, seed=10)
    both_running = threading.Barrier(2, timeout=60)
    seen = {}
    fold = data_module._Fold.add

    def add(self, Xb, Yb, weight, begin=None):
        if not seen.setdefault(threading.get_ident(), []):
            both_running.wait()
        seen[threading.get_ident()].append(len(Xb))
        assert all(lib["num_threads"] == 1 for lib in threadpool_info()
                   if lib["user_api"] == "blas")
        fold(self, Xb, Yb, weight, begin)

    monkeypatch.setattr(data_module._Fold, "add", add)
    Data(X, Y).factor(center=True, rows=rows, workers=2)
    assert sorted(map(sum, seen.values())) == [len(X) // 2] * 2
    assert all(size == rows for blocks in seen.values() for size in blocks)


@pytest.mark.parametrize("m, rows, workers", [(1, 5, 2), (10, 5, 2), (11, 5, 2), (1000, 7, 3),
                                              (12, 4, 8), (100_000, 16384, 2),
                                              (100_000, 1000, 3), (50_000, 8192, 8)])
def test_row_ranges_cover_every_row_once_in_whole_blocks(m, rows, workers):
    """... and start at chunks of the fingerprint, so that its digests do not depend on the
    number of workers."""
    chunk = data_module.FINGERPRINT_ROWS
    ranges = data_module._row_ranges(m, rows, workers)
    assert ranges[0][0] == 0 and ranges[-1][1] == m
    assert all(stop == start for (_, stop), (start, _) in zip(ranges, ranges[1:]))
    assert all(start % rows == 0 and start % chunk == 0 and start < stop
               for start, stop in ranges)
    assert len(ranges) == min(workers, -(-m // math.lcm(rows, chunk)))


def _npy(tmp_path, array, name):
    path = tmp_path / name
    np.save(path, array)
    return np.load(path, mmap_mode="r")


@pytest.mark.parametrize("order", ["descending", "ascending"])
def test_npy_memory_maps_train_like_arrays_in_memory(tmp_path, order):
    X, Y = random_data(500, 8, 2, seed=10)
    Xm, Ym = _npy(tmp_path, X, "X.npy"), _npy(tmp_path, Y, "Y.npy")
    common = dict(widths=[8, 8, 8, 2], seed=0, sweeps=3, order=order, fit_intercept=True)
    mapped = fastdln.train(Xm, Ym, **common)
    in_memory = fastdln.train(X, Y, **common)
    for a, b in zip(mapped.weights, in_memory.weights):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(mapped.errors, in_memory.errors)
    rows = fastdln.train(Xm[100:300], Ym[100:300], **common)  # a view at an offset
    expected = fastdln.train(X[100:300], Y[100:300], **common)
    np.testing.assert_array_equal(rows.errors, expected.errors)


def test_memory_maps_are_read_without_mapping_their_pages(tmp_path):
    """The pages of a memory-mapped X are read by pread: the process's resident memory does
    not grow by the size of the file (a subprocess, so that the measure is its own)."""
    script = textwrap.dedent("""
        import sys, numpy as np, fastdln
        def rss():
            with open("/proc/self/status") as f:
                return int(next(l for l in f if l.startswith("VmRSS")).split()[1]) * 1024
        X = np.load(sys.argv[1], mmap_mode="r"); Y = np.load(sys.argv[2], mmap_mode="r")
        fastdln.train(X[:50], Y[:50], widths=[X.shape[1], 2])  # compile and warm up
        before = rss()
        fastdln.train(X, Y, widths=[X.shape[1], 2], sweeps=1)
        print(rss() - before)
    """)
    rng = np.random.default_rng(11)
    X = np.lib.format.open_memmap(tmp_path / "X.npy", "w+", np.float64, (400_000, 32))
    for start in range(0, len(X), 50_000):
        X[start : start + 50_000] = rng.normal(size=(50_000, 32))
    X.flush()
    del X
    np.save(tmp_path / "Y.npy", rng.normal(size=(400_000, 2)))
    out = subprocess.run([sys.executable, "-c", script, str(tmp_path / "X.npy"),
                          str(tmp_path / "Y.npy")], capture_output=True, text=True,
                         cwd=ROOT, timeout=300, check=True)
    size = 400_000 * 34 * 8  # 104 MB
    assert int(out.stdout) < size / 4, (int(out.stdout), size)


def test_a_memory_mapped_run_with_a_checkpoint_reads_its_files_once(tmp_path, monkeypatch):
    """The set-up's one pass (the factor) also gives the checkpoint's fingerprint: every
    byte of X and Y is read once, through os.pread; a resumed run reads them once more, for
    the fingerprint alone."""
    X, Y = random_data(3 * data_module.FINGERPRINT_ROWS + 17, 6, 2, seed=19)
    Xm, Ym = _npy(tmp_path, X, "X.npy"), _npy(tmp_path, Y, "Y.npy")
    common = dict(widths=[6, 6, 2], seed=0)
    read = []
    pread = os.pread

    def counting(fd, size, offset):
        read.append(size)
        return pread(fd, size, offset)

    monkeypatch.setattr(data_module.os, "pread", counting)
    path = tmp_path / "run.ckpt"
    first = fastdln.train(Xm, Ym, sweeps=2, checkpoint=path, **common)
    assert first.compressed
    assert sum(read) == X.nbytes + Y.nbytes
    read.clear()
    resumed = fastdln.train(Xm, Ym, sweeps=4, resume=path, **common)
    assert sum(read) == X.nbytes + Y.nbytes
    np.testing.assert_array_equal(resumed.errors,
                                  fastdln.train(X, Y, sweeps=4, **common).errors)


def test_the_fingerprint_depends_on_the_values_only():
    """The same values give the same fingerprint however they are held and read (layout,
    memory map, blocks, threads, dask chunks); one changed entry or weight changes it."""
    chunk = data_module.FINGERPRINT_ROWS
    X, Y = random_data(3 * chunk + 100, 3, 2, seed=20)
    w = np.linspace(0.5, 2.0, len(X))
    expected = Data(X, Y).fingerprint()
    assert Data(np.asfortranarray(X), Y[:, :1].ravel()).fingerprint() != expected
    assert Data(np.asfortranarray(X), Y).fingerprint() == expected
    for rows, workers in ((chunk // 2, 2), (1000, 3), (data_module.BLOCK_ROWS, 1)):
        assert Data(X, Y).factor(False, rows, workers, fingerprint=True).fingerprint == expected
    assert Data(X, Y).factor(True, workers=2).fingerprint is None
    assert Data(X, Y).dense(fingerprint=True)[2] == expected
    weighted = Data(X, Y, w).fingerprint()
    assert weighted != expected
    assert Data(X, Y, w).factor(True, 1000, 2, fingerprint=True).fingerprint == weighted
    changed = X.copy()
    changed[2 * chunk + 5, 1] += 1e-12
    assert Data(changed, Y).fingerprint() != expected


def test_validation_and_the_compressed_set_up_make_no_copy_of_x():
    X, Y = random_data(200_000, 16, 2, seed=12)  # X: 25.6 MB
    fastdln.Trainer(X[:100], Y[:100], widths=[16, 16, 2])  # compile outside the measure
    tracemalloc.start()
    trainer = fastdln.Trainer(X, Y, widths=[16, 16, 2])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert trainer.compressed
    assert peak < X.nbytes / 4, (peak, X.nbytes)


def test_what_needs_the_full_data_reads_it_once():
    """bcsgd trains on the full data: one working copy of X and Y (the engine's), not one per
    step of the set-up; the engine adds its residual buffers (two of Y's size), the optimum's
    output and residual the errors are measured against (two more, docs/math.md section 12)
    and reading holds a block or two (BLOCK_ROWS rows of X)."""
    X, Y = random_data(100_000, 16, 2, seed=13)  # X: 12.8 MB
    options = dict(widths=[16, 2], method="bcsgd", sampling="uniform", batch_size=8)
    fastdln.Trainer(X[:100], Y[:100], **options)
    tracemalloc.start()
    fastdln.Trainer(X, Y, **options)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    block = data_module.BLOCK_ROWS * X.shape[1] * 8
    assert peak < X.nbytes + 5.5 * Y.nbytes + 2 * block, (peak, X.nbytes)


dask_array = pytest.importorskip("dask.array")


def test_dask_arrays_train_like_numpy_and_only_factors_travel(monkeypatch, tmp_path):
    distributed = pytest.importorskip("distributed")
    X, Y = random_data(4000, 12, 3, seed=14)
    common = dict(widths=[12, 12, 12, 3], seed=0, sweeps=3, fit_intercept=True)
    expected = fastdln.train(X, Y, **common)

    def refuse(*args, **kwargs):
        raise AssertionError("the whole dask array was brought to the client")

    monkeypatch.setattr(dask_array.Array, "__array__", refuse)
    monkeypatch.setattr(dask_array.Array, "compute", refuse)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        Xd = dask_array.from_array(X, chunks=(500, 12))  # 8 chunks
        Yd = dask_array.from_array(Y, chunks=(500, 3))
        result = fastdln.train(Xd, Yd, **common)
        path = tmp_path / "run.ckpt"  # the fingerprint is taken on the workers too
        fastdln.train(Xd, Yd, checkpoint=path, **dict(common, sweeps=1))
        resumed = fastdln.train(Xd, Yd, resume=path, **common)
        assert Data(Xd.rechunk((700, 12)), Yd).fingerprint() == Data(X, Y).fingerprint()
    assert result.compressed
    assert max_relative_difference(result.weights, expected.weights) < 1e-10
    np.testing.assert_allclose(result.errors, expected.errors, rtol=1e-10, atol=1e-14)
    np.testing.assert_array_equal(resumed.errors, result.errors)
    assert io.read_checkpoint(path)[1]["fingerprint"] == Data(X, Y).fingerprint()


def test_dask_fingerprint_chunks_start_at_its_digests():
    chunk = data_module.FINGERPRINT_ROWS
    aligned = data_module._aligned_chunks((5000, 5000, 5000, 3000))
    assert sum(aligned) == 18000
    assert all(edge % chunk == 0 for edge in np.cumsum(aligned)[:-1])
    assert data_module._aligned_chunks((100, 100)) == (200,)


def test_dask_input_that_needs_the_full_data_says_so():
    X, Y = random_data(300, 5, 2, seed=15)
    Xd = dask_array.from_array(X, chunks=(100, 5))
    with pytest.warns(UserWarning, match="needs the whole data in memory"):
        result = fastdln.train(Xd, Y, widths=[5, 2], loss="l4", sweeps=2, seed=0)
    expected = fastdln.train(X, Y, widths=[5, 2], loss="l4", sweeps=2, seed=0)
    np.testing.assert_array_equal(result.errors, expected.errors)


def test_bad_values_are_found_while_reading():
    X, Y = random_data(100, 4, 2, seed=16)
    X[97, 2] = np.nan
    with pytest.raises(ValueError, match="X must be finite"):
        fastdln.train(X, Y, widths=[4, 2])
    Xd = dask_array.from_array(np.where(np.isnan(X), np.inf, X), chunks=(30, 4))
    with pytest.raises(ValueError, match="X must be finite"):
        fastdln.train(Xd, Y, widths=[4, 2])
