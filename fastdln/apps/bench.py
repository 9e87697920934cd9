"""``fastdln bench``: sweep timings, and regression checks between revisions (apps layer).

Two uses (docs/benchmarks.md explains the method and its numbers):

- ``fastdln bench [--quick]``: a table of seconds per sweep, fast engine against the naive
  reference and the BLAS limit, on fixed BLAS thread counts (``--threads``, default 1), each
  figure the median of several alternating rounds with its spread.
- ``fastdln bench --against REV``: the regression command. Another revision of the git
  checkout runs beside this one, in worker processes, in alternating rounds within one run;
  the ratio new/old per configuration is compared with the ratio of two processes of the old
  revision (the noise band). Exit status 1 flags a regression, 0 none, 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import numpy as np

from ..maths.init import layer_widths
from ..maths.synthetic import random_data
from ..core.trainer import Trainer

__all__ = ["AgainstOptions", "COLUMNS", "Config", "QUICK", "STANDARD", "add_arguments",
           "alternating_best", "alternating_samples", "best_time", "blas_limits", "compare",
           "compare_revisions", "format_table", "integer_at_least", "judge",
           "machine_differences", "machine_info", "main", "robust_interval", "round_values",
           "run", "run_config", "setup_row", "spread", "summarize_against"]

REFERENCE_BUDGET = 60.0  # seconds: a slower reference sweep is estimated from a smaller depth
QUICK_REFERENCE_BUDGET = 1.0


@dataclass(frozen=True)
class Config:
    """A benchmark configuration: data ``(m, n0)``, ``(m, nL)``; hidden width; depth."""

    name: str
    n0: int
    nL: int
    m: int
    width: int
    depth: int
    order: str = "descending"


STANDARD = [
    Config("n128-L100", 128, 10, 600, 128, 100),
    Config("n128-L400", 128, 10, 600, 128, 400),
    Config("n128-L100-asc", 128, 10, 600, 128, 100, "ascending"),
    Config("n512-L20", 512, 10, 2000, 512, 20),
    Config("n16-L1000", 16, 4, 64, 16, 1000),
    Config("n128-m60000-L10", 128, 10, 60000, 128, 10),
    Config("n128-w1024-L10", 128, 10, 600, 1024, 10),
]
QUICK = [STANDARD[0], STANDARD[3], STANDARD[4]]
CONFIGS = {config.name: config for config in STANDARD}

# Set-up rows: (samples, features) of the paper's random data with nL = 10, depth 20.
SETUP_STANDARD = [(1_000_000, 128), (60_000, 784)]
SETUP_QUICK = [(200_000, 128)]


# -- timing primitives ----------------------------------------------------------------------
def spread(values):
    """``{"min", "median", "max"}`` of a sequence of numbers."""
    values = [float(v) for v in values]
    return dict(min=min(values), median=statistics.median(values), max=max(values))


def best_time(f, repeats):
    """The best of ``repeats`` wall-clock timings of ``f()`` (seconds)."""
    return min(sample_times(f, repeats))


def sample_times(f, repeats):
    """``repeats`` wall-clock timings of ``f()`` (seconds), in order."""
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        f()
        samples.append(time.perf_counter() - start)
    return samples


def blas_limits(n, count):
    """``count`` products ``(n x n) @ (n x n)``: by numpy, and from jitted code (the BLAS the
    kernels call), as two functions of no argument."""
    from ..maths._kernels import gemm_loop

    a, b, out = np.random.rand(n, n), np.random.rand(n, n), np.empty((n, n))

    def numpy_products():
        for _ in range(count):
            np.dot(a, b, out=out)

    gemm_loop(a, b, out, 1)
    return numpy_products, lambda: gemm_loop(a, b, out, count)


def alternating_samples(functions, rounds, pause=0.1):
    """One timing of each function per round, ``rounds`` rounds running all of them in turn.

    The machine's load changes between rounds, and this way every function sees the same mix.
    A pause before each function keeps one BLAS library from paying for another's threads
    still spinning; an untimed call after it brings the caches and the clock back (the first
    call after a pause was seen 1.3x slower). Returns a list of samples per function.
    """
    samples = [[] for _ in functions]
    for _ in range(rounds):
        for index, f in enumerate(functions):
            time.sleep(pause)
            f()
            samples[index].extend(sample_times(f, 1))
    return samples


def alternating_best(functions, repeats, pause=0.2):
    """The best time of each function over ``repeats`` alternating rounds
    (:func:`alternating_samples`)."""
    return [min(s) for s in alternating_samples(functions, repeats, pause)]


@contextmanager
def fixed_threads(threads):
    """Every loaded BLAS library (threadpoolctl) on ``threads`` threads inside the block."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads):
        yield


# -- the table of sweep timings ----------------------------------------------------------
def _trainer(config, depth, engine, threads):
    X, Y = random_data(config.m, config.n0, config.nL, seed=0)
    widths = layer_widths(config.n0, config.nL, depth, config.width)
    trainer = Trainer(X, Y, widths=widths, seed=0, engine=engine, order=config.order,
                      threads=threads)
    if engine == "fast":
        trainer.sweep()  # warm-up (compilation, caches)
    return trainer


def _reference_time(config, fast, threads, budget):
    """Reference seconds per sweep, measured, or estimated (L^2 growth) from a smaller depth
    when one sweep would take more than ``budget`` seconds.

    The guess of the reference's cost scales the fast sweep by the depth and by what the fast
    engine saves through compression (``m / rank``) and width reduction.
    """
    fast_time = best_time(fast.sweep, 1)
    columns = min(config.m, config.n0) if fast.compressed else config.m
    trained_width = max(config.n0, config.nL) if fast.width_reduced else config.width
    saved = (config.m / columns) * (config.width / trained_width) ** 2
    depth, guess = config.depth, fast_time * config.depth * saved
    while depth > 2 and guess > budget:
        depth //= 2
        guess /= 4
    seconds = best_time(_trainer(config, depth, "reference", threads).sweep, 1)
    return seconds * (config.depth / depth) ** 2, depth != config.depth


def run_config(config, repeats, threads=1, reference_budget=REFERENCE_BUDGET):
    """One row of the table: fast sweep, reference, BLAS limits (medians of ``repeats``
    alternating rounds, every sample kept) and their ratios, on ``threads`` BLAS threads."""
    with fixed_threads(threads):
        fast = _trainer(config, config.depth, "fast", threads)
        width = config.width if not fast.width_reduced else max(config.n0, config.nL)
        samples = alternating_samples([fast.sweep, *blas_limits(width, config.depth)], repeats)
        reference, estimated = _reference_time(config, fast, threads, reference_budget)
    fast_time, limit, jit_limit = (statistics.median(s) for s in samples)
    return dict(config=asdict(config), threads=threads, fast_s=fast_time,
                fast_spread=spread(samples[0]), fast_samples=samples[0],
                reference_s=reference, reference_estimated=estimated, blas_limit_s=limit,
                blas_limit_samples=samples[1], us_per_update=fast_time / config.depth * 1e6,
                speedup=reference / fast_time, over_blas_limit=fast_time / limit,
                jit_blas_limit_s=jit_limit, jit_blas_limit_samples=samples[2],
                over_jit_blas_limit=fast_time / jit_limit)


def setup_row(m, n0, repeats, threads=1):
    """Seconds to build a :class:`fastdln.Trainer` (validation, the factor of ``[X Y]``, the
    optimum, the engine) on ``m x n0`` data: median of ``repeats``, every sample kept."""
    X, Y = random_data(m, n0, 10, seed=0)
    widths = layer_widths(n0, 10, 20, n0)
    Trainer(X[:200], Y[:200], widths=widths, seed=0, threads=threads)  # compile first
    samples = sample_times(lambda: Trainer(X, Y, widths=widths, seed=0, threads=threads),
                           repeats)
    return dict(m=m, n0=n0, setup_s=statistics.median(samples), setup_samples=samples,
                data_gib=(X.nbytes + Y.nbytes) / 2**30)


def format_setup(rows):
    """The set-up rows as text, one line each."""
    return "\n".join(f"set-up {row['m']} x {row['n0']} ({row['data_gib']:.2f} GiB): "
                     f"{row['setup_s']:.3f} s" for row in rows)


def format_table(rows):
    """The sweep rows as a text table (medians, the fast sweep's spread as min-max)."""
    header = (f"{'config':16} {'fast s/sweep':>12} {'min-max %':>11} {'reference':>12} "
              f"{'BLAS limit':>11} {'us/update':>10} {'speed-up':>9} {'fast/limit':>10} "
              f"{'fast/jit':>9}")
    lines = [header, "-" * len(header)]
    for row in rows:
        mark = "~" if row["reference_estimated"] else " "
        low, high = row["fast_spread"]["min"], row["fast_spread"]["max"]
        band = f"{100 * (low / row['fast_s'] - 1):+.0f}/{100 * (high / row['fast_s'] - 1):+.0f}"
        lines.append(
            f"{row['config']['name']:16} {row['fast_s']:12.5f} {band:>11} "
            f"{mark}{row['reference_s']:11.4f} {row['blas_limit_s']:11.5f} "
            f"{row['us_per_update']:10.1f} {row['speedup']:9.0f} {row['over_blas_limit']:10.2f} "
            f"{row['over_jit_blas_limit']:9.2f}")
    lines.append("~ estimated from a smaller depth assuming the reference's L^2 growth; "
                 f"BLAS threads: {rows[0]['threads'] if rows else '-'}")
    return "\n".join(lines)


COLUMNS = """Columns: fast s/sweep, the fast engine's median seconds per sweep over --repeats
alternating rounds; min-max %, the fastest and slowest round against that median;
reference, the naive engine's (~: estimated from a smaller depth by its L^2 growth); BLAS
limit, L numpy products (d x d) @ (d x d) with d the width the kernels train (after width
reduction), what a sweep costs at least; us/update, microseconds per layer update;
speed-up, reference / fast; fast/limit, the sweep as a multiple of the BLAS limit;
fast/jit, against the same products called from jitted code (the BLAS the kernels use).
Set-up rows: seconds to build a Trainer on that much data. Every timing runs on --threads
BLAS threads (default 1: the kernel, not the automatic thread policy, is timed).

Regressions: --against REV runs revision REV of the git checkout beside this code in
alternating rounds and prints, per configuration, new/old with its min, median and max
over the rounds and the noise band (two processes of REV against each other); it exits 1
when a configuration's ratio interval lies above the noise band (docs/benchmarks.md).
--compare OLD.json compares with a saved run: ratios of medians and of minima, with each
run's spread; times taken at different moments compare loads as much as code, and a file
measured on another machine (CPU, cores, BLAS) is named in a warning."""


# -- machine and saved runs ---------------------------------------------------------------
def machine_info():
    """CPU, cores, BLAS libraries (threadpoolctl) and versions, for the JSON file."""
    import numba

    info = dict(platform=platform.platform(), processor=platform.processor(),
                cores=os.cpu_count(), python=platform.python_version(),
                numpy=np.__version__, numba=numba.__version__, cpu=_cpu_model())
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = [dict(library=p.get("internal_api"), version=p.get("version"),
                             threads=p.get("num_threads"), architecture=p.get("architecture"),
                             path=p.get("filepath")) for p in threadpool_info()]
    except ImportError:
        info["blas"] = "threadpoolctl not installed"
    return info


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        return names[0] if names else platform.processor()
    except OSError:
        return platform.processor()


def machine_differences(old_machine, new_machine):
    """What differs between two machines' ``machine_info()`` (CPU, cores, BLAS, versions)."""
    differences = []
    for key in ("cpu", "cores", "platform", "numpy", "numba"):
        if old_machine.get(key) != new_machine.get(key):
            differences.append(f"{key}: {old_machine.get(key)} -> {new_machine.get(key)}")

    def blas(machine):
        libraries = machine.get("blas")
        if not isinstance(libraries, list):
            return libraries
        return sorted(f"{b.get('library')} {b.get('version')} {b.get('architecture')}"
                      for b in libraries)

    if blas(old_machine) != blas(new_machine):
        differences.append(f"BLAS: {blas(old_machine)} -> {blas(new_machine)}")
    return differences


def _samples(row):
    """A saved row's fast-sweep samples (files before 0.x kept only the best: one sample)."""
    return row.get("fast_samples") or [row["fast_s"]]


def compare(rows, old_path, threshold):
    """Compare sweep rows with a saved run, configuration by configuration.

    Returns ``(lines, slower)``: a line per configuration present in both (ratios new/old of
    the medians and of the minima, and each run's min-max spread), and the names of those
    whose median and minimum both got slower than ``threshold`` times the saved ones.
    """
    with open(old_path) as f:
        old = {row["config"]["name"]: row for row in json.load(f)["results"]}
    lines, slower = [], []
    for row in rows:
        name = row["config"]["name"]
        if name not in old:
            continue
        before, after = spread(_samples(old[name])), spread(_samples(row))
        medians, minima = after["median"] / before["median"], after["min"] / before["min"]
        flagged = medians > threshold and minima > threshold
        lines.append(f"{'SLOWER' if flagged else 'same  '} {name:16} new/old median "
                     f"{medians:.3f}, min {minima:.3f}  (old {_ms(before)}, new {_ms(after)})")
        if flagged:
            slower.append(name)
    return lines, slower


def _ms(summary):
    return (f"{summary['median'] * 1e3:.3f} ms [{summary['min'] * 1e3:.3f}-"
            f"{summary['max'] * 1e3:.3f}]")


def main(quick=False, json_path=None, compare_path=None, threshold=1.2, repeats=None,
         threads=1, echo=print):
    """Run the standard (or quick) set and print the table; return the process exit code.

    ``compare_path``: a JSON file of an earlier run; exit code 1 when a configuration's
    median and minimum are both more than ``threshold`` times the saved ones.
    """
    configs = QUICK if quick else STANDARD
    repeats = repeats or (5 if quick else 9)
    budget = QUICK_REFERENCE_BUDGET if quick else REFERENCE_BUDGET
    rows = []
    for config in configs:
        rows.append(run_config(config, repeats, threads, budget))
        echo(f"  measured {config.name}")
    echo(format_table(rows))
    setups = [setup_row(m, n0, 3, threads) for m, n0 in (SETUP_QUICK if quick else SETUP_STANDARD)]
    echo(format_setup(setups))
    if json_path:
        _write_json(json_path, dict(machine=machine_info(), threads=threads, results=rows,
                                    setup=setups))
        echo(f"wrote {json_path}")
    if compare_path:
        return _report_compare(rows, compare_path, threshold, echo)
    return 0


def _write_json(path, content):
    with open(path, "w") as f:
        json.dump(content, f, indent=1)


def _report_compare(rows, compare_path, threshold, echo):
    with open(compare_path) as f:
        old_machine = json.load(f).get("machine", {})
    differences = machine_differences(old_machine, machine_info())
    if differences:
        echo(f"WARNING: {compare_path} was measured on another machine or setup "
             f"({'; '.join(differences)}): the ratios below compare machines, not only code")
    lines, slower = compare(rows, compare_path, threshold)
    for line in lines:
        echo(line)
    echo("(runs at different moments: a ratio mixes code and load; "
         "fastdln bench --against REV measures both in one run)")
    if slower:
        echo(f"{len(slower)} configuration(s) slower than {threshold}x of {compare_path}: "
             f"{', '.join(slower)}")
        return 1
    echo(f"no configuration slower than {threshold}x of {compare_path}")
    return 0


# -- regressions between revisions: worker processes ----------------------------------------
# Runs in a process of its own with the revision under test first on sys.path; uses only
# the public API that every revision has (Trainer, sweep), so it works across history.
WORKER = r"""
import json, os, sys, time
import numpy as np
import fastdln

spec = json.load(open(sys.argv[1]))
threads = spec["threads"]
takes_threads = True
trainers = {}
for config in spec["configs"]:
    data = np.load(config["data"])
    options = dict(widths=config["widths"], seed=0, order=config["order"])
    try:  # revisions without the threads option: the environment fixes the count
        trainer = fastdln.Trainer(data["X"], data["Y"], threads=threads, **options)
    except (TypeError, ValueError):
        trainer = fastdln.Trainer(data["X"], data["Y"], **options)
        takes_threads = False
    trainer.sweep()
    trainers[config["name"]] = trainer
try:
    from threadpoolctl import threadpool_info
    blas = [dict(library=p.get("internal_api"), version=p.get("version"),
                 threads=p.get("num_threads")) for p in threadpool_info()]
except ImportError:
    blas = None
print(json.dumps(dict(ready=True, file=os.path.abspath(fastdln.__file__),
                      version=getattr(fastdln, "__version__", None), blas=blas,
                      threads_option=takes_threads)), flush=True)
for line in sys.stdin:
    name, repeats, min_time = line.split()
    trainer = trainers[name]
    trainer.sweep()  # untimed: caches and clock back after the pause
    samples = []
    while len(samples) < int(repeats) or sum(samples) < float(min_time):
        start = time.perf_counter()
        trainer.sweep()
        samples.append(time.perf_counter() - start)
    print(json.dumps(samples), flush=True)
"""

THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                    "NUMBA_NUM_THREADS")


class Worker:
    """A process of one revision of fastdln keeping a warmed-up trainer per configuration.

    Parameters
    ----------
    tree : str
        Folder that holds the revision's ``fastdln`` package (put first on ``PYTHONPATH``).
    spec_path : str
        JSON file: the configurations (widths, order, data file) and the thread count.
    threads : int
        BLAS threads, fixed through the environment before anything is imported.
    cache : str or None
        ``NUMBA_CACHE_DIR`` of the process (None: inherited).
    """

    def __init__(self, tree, spec_path, threads, cache=None):
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [tree] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
        env.update({name: str(threads) for name in THREAD_VARIABLES})
        if cache:
            env["NUMBA_CACHE_DIR"] = cache
        self.tree = tree
        self._log = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen([sys.executable, "-c", WORKER, spec_path],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=self._log, text=True, env=env, cwd=tree)
        self.info = None

    def ready(self):
        """Wait for the worker's set-up; return what it reports (its ``fastdln`` file, BLAS).

        Raises ``RuntimeError`` when the worker failed or imported fastdln from elsewhere.
        """
        self.info = json.loads(self._line())
        expected = os.path.realpath(os.path.join(self.tree, "fastdln"))
        if not os.path.realpath(self.info["file"]).startswith(expected + os.sep):
            raise RuntimeError(f"the worker for {self.tree} imported {self.info['file']}")
        return self.info

    def time(self, name, repeats, min_time=0.0):
        """Seconds of one sweep each of configuration ``name``, after one untimed sweep:
        ``repeats`` sweeps, more while they add up to less than ``min_time`` seconds."""
        self.process.stdin.write(f"{name} {repeats} {min_time}\n")
        self.process.stdin.flush()
        return json.loads(self._line())

    def _line(self):
        line = self.process.stdout.readline()
        if not line:
            self.process.wait(timeout=60)
            self._log.seek(0)
            raise RuntimeError(f"the benchmark worker for {self.tree} stopped "
                               f"(exit {self.process.returncode}):\n{self._log.read()[-3000:]}")
        return line

    def close(self):
        """End the worker (closing its input) and wait for it."""
        if self.process.stdin and not self.process.stdin.closed:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()


# -- regressions between revisions: git --------------------------------------------------
def _git(repo, *args):
    result = subprocess.run(["git", "-C", repo, *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise ValueError(f"git {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout.strip()


def git_repository(path):
    """The top folder of the git checkout holding ``path``; ``ValueError`` outside one."""
    try:
        return _git(path, "rev-parse", "--show-toplevel")
    except (ValueError, OSError) as error:
        raise ValueError(f"--against needs a git checkout of fastdln: run fastdln bench inside "
                         f"one or give --repo DIR ({path} is not in one: {error})") from None


def resolve_revision(repo, revision, option="--against"):
    """The full commit hash of ``revision`` in ``repo``; ``ValueError`` naming ``option``."""
    try:
        return _git(repo, "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}")
    except ValueError:
        raise ValueError(f"{option} {revision}: not a commit of the repository {repo}") from None


def revision_tree(repo, commit):
    """A folder holding the files of ``commit`` (``git archive``), and its numba cache folder.

    Kept under the repository's git folder (``fastdln-bench/<commit>``), so a later run finds
    the revision extracted and its kernels compiled (the files keep the commit's time stamp).
    """
    common = os.path.join(repo, _git(repo, "rev-parse", "--git-common-dir"))
    home = os.path.join(os.path.abspath(common), "fastdln-bench", commit)
    tree, cache = os.path.join(home, "tree"), os.path.join(home, "numba")
    if not os.path.isdir(tree):
        os.makedirs(home, exist_ok=True)
        staging = tempfile.mkdtemp(dir=home, prefix="extract-")
        archive = subprocess.run(["git", "-C", repo, "archive", "--format=tar", commit],
                                 capture_output=True, check=True).stdout
        with tempfile.TemporaryFile() as f:
            f.write(archive)
            f.seek(0)
            with tarfile.open(fileobj=f) as tar:
                safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
                tar.extractall(staging, **safe)
        try:
            os.rename(staging, tree)
        except OSError:  # another run extracted it first
            shutil.rmtree(staging, ignore_errors=True)
    return tree, cache


def _current_tree():
    """The folder holding the ``fastdln`` package this process runs."""
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# -- regressions between revisions: measurement and verdict ---------------------------------
@dataclass(frozen=True)
class AgainstOptions:
    """What ``fastdln bench --against`` measures (see :func:`compare_revisions`)."""

    against: str
    new: str | None = None
    repo: str = "."
    configs: tuple = ("n128-L100", "n512-L20", "n16-L1000")
    rounds: int = 9
    repeats: int = 5
    threads: int = 1
    threshold: float = 1.05
    pause: float = 0.1
    min_time: float = 0.4  # spans slow and fast spells of the machine (docs/benchmarks.md)


WORKER_NAMES = ("A", "A2", "B")


def alternate(workers, names, rounds, repeats, pause, min_time=0.0, clock=time.sleep):
    """Samples of every worker and configuration in alternating rounds.

    Round ``r`` runs the configurations in turn, each on every worker (``repeats`` sweeps,
    more while they take less than ``min_time`` seconds), the workers' order rotated by
    ``r`` so that none always comes first. Returns ``{name: {worker: [[seconds, ...]] *
    rounds}}``.
    """
    samples = {name: {key: [] for key in workers} for name in names}
    keys = list(workers)
    for r in range(rounds):
        order = keys[r % len(keys):] + keys[:r % len(keys)]
        for name in names:
            for key in order:
                clock(pause)
                samples[name][key].append(workers[key].time(name, repeats, min_time))
    return samples


def round_values(rounds):
    """A worker's value per round: the fastest of that round's sweeps (a sweep that a
    neighbour interrupted is slower, never faster)."""
    return [min(samples) for samples in rounds]


def robust_interval(values):
    """``(low, high)``: the middle half of ``values`` (a quarter of them, rounded down,
    dropped at each end): a neighbour that disturbs a few rounds does not decide."""
    ordered = sorted(values)
    trim = len(ordered) // 4
    return ordered[trim], ordered[len(ordered) - 1 - trim]


def judge(ratios, noise, threshold):
    """The verdict on one configuration from per-round ratios new/old and old'/old.

    The ratio interval (:func:`robust_interval` of ``ratios``) is compared with the noise
    band: the robust interval of ``noise``, widened to at least ``[1/threshold,
    threshold]``. Returns ``"slower"`` when the whole ratio interval lies above the band,
    ``"faster"`` when it lies below, ``"same"`` otherwise.
    """
    low, high = robust_interval(ratios)
    band_low, band_high = robust_interval(noise)
    band_low, band_high = min(band_low, 1 / threshold), max(band_high, threshold)
    if low > band_high:
        return "slower"
    if high < band_low:
        return "faster"
    return "same"


def summarize_against(samples, threshold):
    """Per configuration: ratios B/A and A2/A per round (round values from
    :func:`round_values`), their min, median, max and robust interval, and the verdict."""
    summary = {}
    for name, by_worker in samples.items():
        a, a2, b = (round_values(by_worker[key]) for key in WORKER_NAMES)
        ratios = [y / x for x, y in zip(a, b)]
        noise = [y / x for x, y in zip(a, a2)]
        summary[name] = dict(
            ratio=dict(spread(ratios), interval=robust_interval(ratios), values=ratios),
            noise=dict(spread(noise), interval=robust_interval(noise), values=noise),
            old_s=spread(a), new_s=spread(b), verdict=judge(ratios, noise, threshold))
    return summary


def format_against(summary, labels, options):
    """The ``--against`` report: a line per configuration and the verdict's meaning."""
    lines = [f"new {labels['B']} / old {labels['A']}: {options.rounds} alternating rounds, "
             f"best of {options.repeats} sweeps per round, {options.threads} BLAS thread(s)",
             f"{'config':14} {'old ms':>9} {'new ms':>9} {'new/old min':>11} {'median':>7} "
             f"{'max':>6}  {'noise old/old':>17}  verdict"]
    for name, row in summary.items():
        ratio, noise = row["ratio"], row["noise"]
        lines.append(
            f"{name:14} {row['old_s']['median'] * 1e3:9.3f} {row['new_s']['median'] * 1e3:9.3f} "
            f"{ratio['min']:11.3f} {ratio['median']:7.3f} {ratio['max']:6.3f}  "
            f"{noise['interval'][0]:7.3f} - {noise['interval'][1]:6.3f}  "
            f"{row['verdict'].upper()}")
    lines.append(f"A configuration is SLOWER (FASTER) when the middle half of its new/old "
                 f"ratios lies above (below) the noise band: the middle half of old/old (two "
                 f"processes of the old revision), widened to at least 1/{options.threshold} - "
                 f"{options.threshold} (--threshold). Ratios per round: best sweep against "
                 "best sweep.")
    return "\n".join(lines)


def _data_files(names, folder):
    """One ``.npz`` of the paper's random data per configuration, and its widths."""
    configs = []
    for name in names:
        config = CONFIGS[name]
        X, Y = random_data(config.m, config.n0, config.nL, seed=0)
        path = os.path.join(folder, f"{name}.npz")
        np.savez(path, X=X, Y=Y)
        configs.append(dict(name=name, order=config.order, data=path,
                            widths=layer_widths(config.n0, config.nL, config.depth,
                                                config.width)))
    return configs


def _trees(options, repo):
    """``{worker: (tree, cache)}`` and ``{A, B: label}`` for the two revisions."""
    old = resolve_revision(repo, options.against)
    trees = {"A": revision_tree(repo, old)}
    trees["A2"] = trees["A"]
    labels = {"A": f"{options.against} ({old[:10]})"}
    if options.new is None:
        trees["B"] = (_current_tree(), None)
        labels["B"] = f"this fastdln ({_current_tree()})"
    else:
        new = resolve_revision(repo, options.new, "--new")
        trees["B"] = revision_tree(repo, new)
        labels["B"] = f"{options.new} ({new[:10]})"
    return trees, labels


def _start_workers(trees, spec, threads):
    """Start the workers, the old revision's first (it may compile while the others wait)."""
    workers = {}
    try:
        for key in WORKER_NAMES:
            tree, cache = trees[key]
            workers[key] = Worker(tree, spec, threads, cache=cache)
            workers[key].ready()
    except BaseException:
        for worker in workers.values():
            worker.close()
        raise
    return workers


def compare_revisions(options, echo=print, json_path=None):
    """Run the regression check of :class:`AgainstOptions`; return the exit code (1 when a
    configuration is slower, else 0) after printing the report (and writing ``json_path``)."""
    repo = git_repository(os.path.abspath(options.repo))
    unknown = [name for name in options.configs if name not in CONFIGS]
    if unknown:
        raise ValueError(f"--configs: unknown configuration(s) {', '.join(unknown)} "
                         f"(choose from {', '.join(CONFIGS)})")
    trees, labels = _trees(options, repo)
    with tempfile.TemporaryDirectory(prefix="fastdln-against-") as folder:
        spec = os.path.join(folder, "spec.json")
        configs = _data_files(options.configs, folder)
        _write_json(spec, dict(configs=configs, threads=options.threads))
        echo(f"starting workers: old {labels['A']} (twice), new {labels['B']}")
        workers = _start_workers(trees, spec, options.threads)
        try:
            samples = alternate(workers, options.configs, options.rounds, options.repeats,
                                options.pause, options.min_time)
        finally:
            for worker in workers.values():
                worker.close()
    summary = summarize_against(samples, options.threshold)
    echo(format_against(summary, labels, options))
    slower = [name for name, row in summary.items() if row["verdict"] == "slower"]
    if json_path:
        _write_json(json_path, dict(
            kind="against", options=asdict(options), labels=labels, machine=machine_info(),
            workers={key: w.info for key, w in workers.items()}, samples=samples,
            summary=summary, regression=bool(slower)))
        echo(f"wrote {json_path}")
    echo(f"REGRESSION: {', '.join(slower)}" if slower else "no regression")
    return 1 if slower else 0


# -- command line ---------------------------------------------------------------------------
def integer_at_least(minimum):
    """An argparse ``type``: an integer >= ``minimum`` (the command line's options too)."""
    def integer(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}")
        return value
    return integer


def _number(accept, expected):
    """An argparse ``type``: a finite float for which ``accept`` holds."""
    def number(text):
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not (np.isfinite(value) and accept(value)):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value
    return number


_above_one = _number(lambda value: value > 1, "a number above 1")
_positive = _number(lambda value: value >= 0, "a number >= 0")


def _names(text):
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in names if name not in CONFIGS]
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"expected names among {', '.join(CONFIGS)}, got "
                                         f"{text!r}")
    return names


def add_arguments(parser):
    """The options of ``fastdln bench`` on an ``argparse`` parser."""
    parser.add_argument("--quick", action="store_true",
                        help="three configurations, under a minute on a quiet machine")
    parser.add_argument("--json", metavar="FILE",
                        help="save every sample with the machine (CPU, cores, BLAS, versions)")
    parser.add_argument("--threads", type=integer_at_least(1), default=1,
                        help="BLAS threads of every timing (default: %(default)s)")
    parser.add_argument("--repeats", type=integer_at_least(1), default=None,
                        help="table: alternating rounds (default 5 quick, 9); --against: "
                        "sweeps per round, the best kept (default 5)")
    parser.add_argument("--threshold", type=_above_one, default=None,
                        help="--against: the smallest ratio ever flagged (default 1.05); "
                        "--compare: the ratio flagged (default 1.2)")
    revisions = parser.add_argument_group("regression check between revisions")
    revisions.add_argument("--against", metavar="REV",
                           help="the old revision (git), run beside this fastdln or --new; "
                           "exit 1 on a regression")
    revisions.add_argument("--new", metavar="REV", default=None,
                           help="measure this revision instead of the running fastdln")
    revisions.add_argument("--repo", metavar="DIR", default=".",
                           help="the git checkout (default: the current folder)")
    revisions.add_argument("--configs", type=_names, default=AgainstOptions.configs,
                           help="comma-separated (default: %s)" % ",".join(AgainstOptions.configs))
    revisions.add_argument("--rounds", type=integer_at_least(2), default=AgainstOptions.rounds,
                           help="alternating rounds (default: %(default)s)")
    revisions.add_argument("--pause", type=_positive, default=AgainstOptions.pause,
                           help="seconds before each timing (default: %(default)s)")
    revisions.add_argument("--min-time", type=_positive, default=AgainstOptions.min_time,
                           help="seconds of sweeps per worker and round at least, --repeats "
                           "sweeps at least (default: %(default)s)")
    parser.add_argument("--compare", metavar="OLD.json",
                        help="compare with a saved run (exit 1 when slower than --threshold); "
                        "warns when OLD was measured on another machine (CPU, cores, BLAS)")


def run(args):
    """Run ``fastdln bench`` from parsed :func:`add_arguments` options; the exit code."""
    if args.against is None and args.new is not None:
        raise ValueError("--new REV needs --against REV (the old revision)")
    if args.against is not None:
        if args.compare or args.quick:
            raise ValueError("--against cannot be combined with --compare or --quick")
        options = AgainstOptions(
            args.against, args.new, args.repo, args.configs, args.rounds,
            args.repeats or AgainstOptions.repeats, args.threads,
            args.threshold or AgainstOptions.threshold, args.pause, args.min_time)
        return compare_revisions(options, json_path=args.json)
    return main(quick=args.quick, json_path=args.json, compare_path=args.compare,
                threshold=args.threshold or 1.2, repeats=args.repeats, threads=args.threads)
