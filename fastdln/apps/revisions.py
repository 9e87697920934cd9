"""``fastdln bench --against REV``: this fastdln against another revision of its git checkout.

The revision is extracted once (``git archive``) under the repository's git folder; worker
processes of both revisions keep a warmed-up trainer per configuration and time sweeps in
alternating rounds within one run; the ratio new/old per configuration is judged against the
ratio of two processes of the old revision (the noise band). docs/benchmarks.md explains it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import asdict, dataclass

import numpy as np

from ..maths.init import layer_widths
from ..maths.synthetic import random_data
from .timing import CONFIGS, machine_info, spread, write_json

__all__ = ["AgainstOptions", "WORKER_NAMES", "Worker", "alternate", "compare_revisions",
           "format_against", "git_repository", "judge", "resolve_revision", "revision_tree",
           "robust_interval", "round_values", "summarize_against"]


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
        write_json(spec, dict(configs=configs, threads=options.threads))
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
        write_json(json_path, dict(
            kind="against", options=asdict(options), labels=labels, machine=machine_info(),
            workers={key: w.info for key, w in workers.items()}, samples=samples,
            summary=summary, regression=bool(slower)))
        echo(f"wrote {json_path}")
    echo(f"REGRESSION: {', '.join(slower)}" if slower else "no regression")
    return 1 if slower else 0
