"""Measure the engine issue's performance targets in one run.

Run ``python benchmarks/engine_targets.py``.

Every comparison is a ratio of two timings taken in the same run, interleaved and reduced to
the best of several repeats, because the machine is shared and noisy. Prints one line per
target with the measured numbers.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import numpy as np
import fastdln
from fastdln.apps.timing import alternating_best, blas_limits
from fastdln.maths.synthetic import random_data



def best_of(functions, repeats):
    """Best time of each function, calls interleaved so that noise hits all alike."""
    best = [np.inf] * len(functions)
    for _ in range(repeats):
        for j, f in enumerate(functions):
            start = time.perf_counter()
            f()
            best[j] = min(best[j], time.perf_counter() - start)
    return best


def sweep_function(X, Y, widths, engine="fast", **options):
    trainer = fastdln.Trainer(X, Y, widths=widths, seed=0, engine=engine, **options)
    trainer.sweep()  # compile and warm up
    return trainer.sweep


def speedup_over_reference(depth, repeats):
    X, Y = random_data(600, 128, 10, seed=0)
    widths = [128] * depth + [10]
    fast = sweep_function(X, Y, widths)
    trainer = fastdln.Trainer(X, Y, widths=widths, seed=0, engine="reference")
    fast_time, = best_of([fast], repeats)
    start = time.perf_counter()
    trainer.sweep()
    reference_time = time.perf_counter() - start
    return fast_time, reference_time


def blas_limit(n, m, depth, repeats):
    """Sweep, numpy's and the jitted products' times in alternating rounds with a pause before
    each (as ``fastdln bench``): interleaved without pauses, numpy's gemms pay for the kernels'
    BLAS threads still spinning and look up to 2x slower, which flatters the ratio."""
    X, Y = random_data(m, n, 10, seed=0)
    fast = sweep_function(X, Y, [n] * depth + [10])
    return alternating_best([fast, *blas_limits(n, depth)], repeats)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--json", help="write the numbers to this file")
    args = parser.parse_args(argv)
    out = {}
    for depth, target in [(100, 50), (400, 200)]:
        fast_time, ref_time = speedup_over_reference(depth, args.repeats)
        out[f"speedup_L{depth}"] = ref_time / fast_time
        print(f"1. n0=width=128, m=600, L={depth}: fast {fast_time * 1e3:.2f} ms, reference "
              f"{ref_time:.2f} s per sweep: {ref_time / fast_time:.0f}x (target >= {target}x)")
    for n, m, depth, target in [(128, 600, 100, 1.5), (512, 2000, 20, 1.2)]:
        fast_time, gemm_time, jitted_time = blas_limit(n, m, depth, args.repeats)
        out[f"blas_ratio_{n}"] = fast_time / gemm_time
        out[f"jitted_blas_ratio_{n}"] = fast_time / jitted_time
        print(f"2. n0=width={n}, m={m}, L={depth}: sweep {fast_time * 1e3:.2f} ms, {depth} "
              f"numpy gemms {gemm_time * 1e3:.2f} ms: {fast_time / gemm_time:.2f}x "
              f"(target <= {target}); the same gemms from jitted code {jitted_time * 1e3:.2f} "
              f"ms: {fast_time / jitted_time:.2f}x")
    X, Y = random_data(64, 16, 4, seed=0)
    tiny, = best_of([sweep_function(X, Y, [16] * 1000 + [4])], 5 * args.repeats)
    out["tiny_ms"] = tiny * 1e3
    print(f"3. n0=width=16, nL=4, m=64, L=1000: {tiny * 1e3:.3f} ms per sweep (target <= 2 ms)")
    X, Y = random_data(600, 128, 10, seed=0)
    depths = [50, 100, 200, 400, 800]
    times = best_of([sweep_function(X, Y, [128] * d + [10]) for d in depths], args.repeats)
    slope = np.polyfit(np.log(depths), np.log(times), 1)[0]
    out["depth_slope"] = slope
    print("4. sweep time vs L (" + ", ".join(f"L={d}: {t * 1e3:.1f} ms" for d, t in
                                           zip(depths, times)) + f"): log-log slope {slope:.2f}")
    X2, Y2 = random_data(60000, 128, 10, seed=0)
    small_m, large_m = best_of([sweep_function(X, Y, [128] * 10 + [10]),
                                sweep_function(X2, Y2, [128] * 10 + [10])], args.repeats)
    out["m_change"] = large_m / small_m - 1
    print(f"   m=600 vs m=60000 (L=10): {small_m * 1e3:.2f} vs {large_m * 1e3:.2f} ms "
          f"({100 * (large_m / small_m - 1):+.1f}%, target < 10%)")
    narrow, wide = best_of([sweep_function(X, Y, [128] * 10 + [10]),
                            sweep_function(X, Y, [128] + [1024] * 9 + [10])], args.repeats)
    out["width_change"] = wide / narrow - 1
    print(f"   width 128 vs 1024 (orth-identity, L=10): {narrow * 1e3:.2f} vs {wide * 1e3:.2f} ms "
          f"({100 * (wide / narrow - 1):+.1f}%, target < 10%)")
    code = ("import time; t=time.perf_counter(); import numpy as np, fastdln; "
            "X=np.random.rand(50,8); Y=np.random.rand(50,2); fastdln.train(X,Y,widths=[8,8,8,2]);"
            " print(time.perf_counter()-t)")
    warm = min(float(subprocess.check_output([sys.executable, "-c", code])) for _ in range(3))
    out["startup_warm_s"] = warm
    print(f"5. new process, warm numba cache: import + first train {warm:.2f} s (target < 1.5 s)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
