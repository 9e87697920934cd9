"""Set-up time and peak memory on large data, in one run: arrays, a memory-mapped .npy, dask.

``python benchmarks/large_data.py [--old REV] [--skip-setup] [--skip-npy] [--skip-dask]
[--rounds N]``

Each measurement runs in a fresh process (so that its peak resident memory is its own):

- ``Trainer(X, Y, widths=[n0] * 20 + [10])`` set-up seconds (and, apart, how long the 20
  initial weights alone take: they do not depend on the data) and peak resident memory above
  the interpreter's (data included, as a multiple of the size of X and Y) for X 1,000,000 x 128
  and 60,000 x 784 (MNIST's shape), float64; with ``--old REV`` the same for that revision
  (a temporary git worktree), alternating with the working tree, best of ``--rounds``;
- a 10,000,000 x 64 ``.npy`` file (about 5 GB) trained from its memory map: peak resident
  memory, and the error curve against the same data trained from memory (relative difference);
- a dask array of 1,000,000 x 128 in 8 chunks on a ``LocalCluster`` of 2 workers: set-up
  seconds and the weights against the numpy array's.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PRELUDE = textwrap.dedent("""
    import json, sys, time
    import numpy as np
    import fastdln

    def peak_gib():  # this process's peak resident memory (VmHWM: getrusage's ru_maxrss
        # would carry the parent's peak over fork and exec)
        with open("/proc/self/status") as status:
            line = next(line for line in status if line.startswith("VmHWM:"))
        return int(line.split()[1]) / 2**20

    def reset_peak():  # the peak restarts from the current resident memory
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")

    def warm(n0):  # compile and load everything before the measure
        rng = np.random.default_rng(1)
        fastdln.Trainer(rng.normal(size=(300, n0)), rng.normal(size=(300, 10)),
                        widths=[n0] * 3 + [10], seed=0).sweep()
""")

SETUP = PRELUDE + textwrap.dedent("""
    m, n0 = int(sys.argv[1]), int(sys.argv[2])
    warm(n0)
    reset_peak()
    base = peak_gib()
    rng = np.random.default_rng(0)
    X = rng.normal(0.0, 1.0 / np.sqrt(n0), (m, n0))
    Y = rng.uniform(-1.0, 2.0, (m, 10))
    start = time.perf_counter()
    trainer = fastdln.Trainer(X, Y, widths=[n0] * 20 + [10], seed=0)
    seconds = time.perf_counter() - start
    data = (X.nbytes + Y.nbytes) / 2**30
    peak = (peak_gib() - base) / data
    start = time.perf_counter()  # the part that does not depend on the data
    fastdln.init_weights([n0] * 20 + [10], seed=0)
    init = time.perf_counter() - start
    print(json.dumps(dict(seconds=seconds, peak=peak, data=data, init=init)))
""")

NPY = PRELUDE + textwrap.dedent("""
    folder, mode = sys.argv[1], sys.argv[2]
    warm(64)
    reset_peak()
    base = peak_gib()
    X = np.load(folder + "/X.npy", mmap_mode="r")
    Y = np.load(folder + "/Y.npy", mmap_mode="r")
    if mode == "memory":
        X, Y = np.array(X), np.array(Y)
    start = time.perf_counter()
    result = fastdln.train(X, Y, widths=[64] * 10 + [10], seed=0, sweeps=5)
    seconds = time.perf_counter() - start
    np.save(folder + f"/errors-{mode}.npy", result.errors)
    print(json.dumps(dict(seconds=seconds, peak_gib=peak_gib(), above_interpreter=peak_gib()
                          - base)))
""")

DASK = PRELUDE + textwrap.dedent("""
    import dask.array as da
    from distributed import Client, LocalCluster
    warm(128)
    rng = np.random.default_rng(0)
    X = rng.normal(0.0, 1.0 / np.sqrt(128), (1_000_000, 128))
    Y = rng.uniform(-1.0, 2.0, (1_000_000, 10))
    expected = fastdln.train(X, Y, widths=[128] * 20 + [10], seed=0, sweeps=3)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as client:
        Xd = da.from_array(X, chunks=(125_000, 128)).persist()
        Yd = da.from_array(Y, chunks=(125_000, 10)).persist()
        start = time.perf_counter()
        trainer = fastdln.Trainer(Xd, Yd, widths=[128] * 20 + [10], seed=0)
        seconds = time.perf_counter() - start
        trainer.sweep(3)
    worst = max(float(np.abs(a - b).max() / np.abs(b).max())
                for a, b in zip(trainer.weights, expected.weights))
    print(json.dumps(dict(seconds=seconds, weights_rel=worst, chunks=8)))
""")


def run(script, *args, tree=ROOT):
    env = dict(os.environ, PYTHONPATH=tree)
    out = subprocess.run([sys.executable, "-c", script, *map(str, args)], env=env, cwd=tree,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def setups(old, rounds):
    trees = {"now": ROOT}
    folder = None
    if old:
        folder = tempfile.mkdtemp(prefix="fastdln-old-")
        trees[old] = os.path.join(folder, "tree")
        subprocess.run(["git", "-C", ROOT, "worktree", "add", "--detach", trees[old], old],
                       check=True, capture_output=True)
    try:
        for m, n0 in ((1_000_000, 128), (60_000, 784)):
            best = {}
            for _ in range(rounds):
                for name, tree in trees.items():
                    result = run(SETUP, m, n0, tree=tree)
                    if name not in best or result["seconds"] < best[name]["seconds"]:
                        best[name] = result
            for name, result in best.items():
                print(f"set-up X {m} x {n0} ({result['data']:.2f} GiB with Y), {name}: "
                      f"{result['seconds']:.2f} s (initial weights alone: "
                      f"{result.get('init', float('nan')):.2f} s), peak memory "
                      f"{result['peak']:.2f} x the data (best of {rounds})", flush=True)
    finally:
        if folder:
            subprocess.run(["git", "-C", ROOT, "worktree", "remove", "--force",
                            trees[old]], capture_output=True)
            shutil.rmtree(folder, ignore_errors=True)


def npy_file(rows=10_000_000):
    import numpy as np

    folder = tempfile.mkdtemp(prefix="fastdln-npy-")
    try:
        rng = np.random.default_rng(0)
        X = np.lib.format.open_memmap(f"{folder}/X.npy", "w+", np.float64, (rows, 64))
        Y = np.lib.format.open_memmap(f"{folder}/Y.npy", "w+", np.float64, (rows, 10))
        for start in range(0, rows, 500_000):
            stop = min(start + 500_000, rows)
            X[start:stop] = rng.normal(0.0, 0.125, (stop - start, 64))
            Y[start:stop] = rng.uniform(-1.0, 2.0, (stop - start, 10))
        X.flush()
        Y.flush()
        del X, Y
        size = os.path.getsize(f"{folder}/X.npy") + os.path.getsize(f"{folder}/Y.npy")
        mapped = run(NPY, folder, "mapped")
        print(f".npy {rows} x 64 ({size / 2**30:.2f} GiB on disk) from its memory map: "
              f"{mapped['seconds']:.1f} s for set-up and 5 sweeps, peak resident memory "
              f"{mapped['peak_gib']:.2f} GiB ({mapped['above_interpreter']:.2f} above the "
              "interpreter's)", flush=True)
        memory = run(NPY, folder, "memory")
        a = np.load(f"{folder}/errors-mapped.npy")
        b = np.load(f"{folder}/errors-memory.npy")
        print(f"  the same data from memory: {memory['seconds']:.1f} s, peak "
              f"{memory['peak_gib']:.2f} GiB; error curves differ by "
              f"{float(np.max(np.abs(a - b) / np.abs(b))):.1e} (relative, {a.size} errors)")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--old", default=None, help="a git revision to compare set-ups with")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-setup", action="store_true")
    parser.add_argument("--skip-npy", action="store_true")
    parser.add_argument("--skip-dask", action="store_true")
    args = parser.parse_args(argv)
    if not args.skip_setup:
        setups(args.old, args.rounds)
    if not args.skip_dask:
        result = run(DASK)
        print(f"dask 1000000 x 128 in {result['chunks']} chunks, LocalCluster of 2 workers: "
              f"set-up {result['seconds']:.2f} s; weights after 3 sweeps differ from the numpy "
              f"run's by {result['weights_rel']:.1e} (relative)", flush=True)
    if not args.skip_npy:
        npy_file()


if __name__ == "__main__":
    main()
