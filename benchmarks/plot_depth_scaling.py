"""Log-log plot of seconds per sweep against depth, fast engine and naive reference.

``python benchmarks/plot_depth_scaling.py docs/depth_scaling.png`` (n0 = width = 128, nL = 10,
m = 600, orth-identity, descending). The fast sweep grows linearly in L, the reference's
quadratically; the reference stops at L = 100 (3-4 s per sweep here).
"""

import argparse
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import fastdln  # noqa: E402


def seconds_per_sweep(depth, engine, repeats):
    rng = np.random.default_rng(0)
    X, Y = rng.normal(0, 1 / np.sqrt(128), (600, 128)), rng.uniform(-1, 2, (600, 10))
    trainer = fastdln.Trainer(X, Y, widths=[128] * depth + [10], seed=0, engine=engine)
    trainer.sweep()
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        trainer.sweep()
        best = min(best, time.perf_counter() - start)
    return best


def main(path):
    fast_depths = [5, 10, 25, 50, 100, 200, 400, 800]
    reference_depths = [5, 10, 25, 50, 100]
    fast = [seconds_per_sweep(d, "fast", 7) for d in fast_depths]
    reference = [seconds_per_sweep(d, "reference", 1) for d in reference_depths]
    fig, ax = plt.subplots(figsize=(6, 4.2))
    ax.loglog(fast_depths, fast, "o-", label="fastdln (fast engine)")
    ax.loglog(reference_depths, reference, "s-", label="naive reference")
    for depths, times, power in [(fast_depths, fast, 1), (reference_depths, reference, 2)]:
        guide = times[-1] * (np.array(depths, float) / depths[-1]) ** power
        ax.loglog(depths, guide, "k:", lw=0.8)
        ax.annotate(f"~ L^{power}", (depths[-1], times[-1]), textcoords="offset points",
                    xytext=(-30, 8))
    ax.set_xlabel("depth L")
    ax.set_ylabel("seconds per sweep")
    ax.set_title("One BCGD sweep, n0 = width = 128, nL = 10, m = 600")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    for d, t in zip(fast_depths, fast):
        print(f"fast      L={d:4d}: {t * 1e3:9.3f} ms")
    for d, t in zip(reference_depths, reference):
        print(f"reference L={d:4d}: {t * 1e3:9.1f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", nargs="?", default="depth_scaling.png", help="the PNG to write")
    main(parser.parse_args().path)
