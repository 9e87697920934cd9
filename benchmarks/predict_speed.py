"""fastdln.predict against one product with the end-to-end matrix, in alternating rounds.

``python benchmarks/predict_speed.py [--rows M] [--width N] [--depth L] [--outputs K]
[--rounds R]`` (defaults: Fashion-MNIST's 60,000 x 784, depth 10, 10 outputs, orthogonal
weights) times ``fastdln.predict(X, weights)`` and ``X @ W_e2e.T`` with ``W_e2e = W_L ...
W_1`` computed beforehand (the baseline is given the end-to-end matrix for free), alternating
the two in each round, and prints the best seconds of each, their ratio, the peak memory each
allocates (tracemalloc, which numpy reports to; ``X`` and the weights are allocated before)
and that ratio, and the largest difference between the two outputs.
"""

import argparse
import time
import tracemalloc
from functools import reduce

import numpy as np

import fastdln


def _measure(function):
    """Seconds and peak bytes allocated by one call."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    start = time.perf_counter()
    out = function()
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return seconds, peak, out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=60000)
    parser.add_argument("--width", type=int, default=784)
    parser.add_argument("--depth", type=int, default=10)
    parser.add_argument("--outputs", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, (args.rows, args.width))
    weights = fastdln.init_weights([args.width] * args.depth + [args.outputs], "orthogonal",
                                   seed=0)
    end_to_end = reduce(lambda product, W: W @ product, weights[1:], weights[0])
    runs = {"predict": lambda: fastdln.predict(X, weights),
            "X @ W_e2e.T": lambda: X @ end_to_end.T}
    best = {name: [float("inf"), float("inf"), None] for name in runs}
    for _ in range(args.rounds):
        for name, run in runs.items():
            seconds, peak, out = _measure(run)
            best[name] = [min(best[name][0], seconds), min(best[name][1], peak), out]
    (t_p, m_p, out_p), (t_e, m_e, out_e) = best["predict"], best["X @ W_e2e.T"]
    print(f"X {args.rows} x {args.width}, depth {args.depth}, {args.outputs} outputs, "
          f"best of {args.rounds} alternating rounds")
    print(f"predict      {t_p:8.4f} s  peak {m_p / 2 ** 20:8.2f} MiB")
    print(f"X @ W_e2e.T  {t_e:8.4f} s  peak {m_e / 2 ** 20:8.2f} MiB")
    print(f"ratio predict / (X @ W_e2e.T): time {t_p / t_e:.2f}, memory {m_p / m_e:.2f}; "
          f"largest difference {np.max(np.abs(out_p - out_e)):.1e}")


if __name__ == "__main__":
    main()
