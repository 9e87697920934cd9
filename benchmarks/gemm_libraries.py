"""The kernels' gemm shapes on each GEMM library found, against scipy's BLAS, in one run.

``python benchmarks/gemm_libraries.py [--rounds N]`` times, on one thread (thread time: robust
to other processes), the gemm shapes of one BCGD update at widths 16, 128 and 512 (the
prefix pass's square ``W P``, the suffix's ``S W``, the gradient's inner-``nL`` product; see
``fastdln/maths/_fastest_gemm.py``), float64 and float32, for every library
``_gemm.candidates()`` finds (MKL's ``mkl_rt`` from ``pip install mkl``) and scipy's,
alternating within each round. Prints per shape the median ratio (library over scipy; below 1
is faster) with its spread over the rounds, and the verdict ``fastdln warmup`` would keep.
"""

import argparse
import os

import numpy as np

from fastdln.maths import _fastest_gemm, _gemm


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args(argv)
    found = _gemm.candidates()
    if not found:
        print("no other GEMM library in this environment (pip install mkl)")
    load = os.getloadavg()[0]
    for path in found:
        print(f"{path} over scipy's BLAS, one thread, {args.rounds} alternating rounds "
              f"(load average {load:.1f})")
        for dtype in ("float64", "float32"):
            for width, per_round in _fastest_gemm.compare(path, dtype,
                                                          rounds=args.rounds).items():
                shapes = _fastest_gemm.kernel_shapes(width) + ["all"]
                cells = []
                for index, shape in enumerate(shapes):
                    ratios = [r[index] for r in per_round]
                    name = shape if shape == "all" else "x".join(map(str, shape))
                    cells.append(f"{name} {np.median(ratios):.2f} "
                                 f"[{min(ratios):.2f}-{max(ratios):.2f}]")
                print(f"  {dtype} width {width:3}: " + "  ".join(cells), flush=True)


if __name__ == "__main__":
    main()
