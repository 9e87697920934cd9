"""The real-data fetchers against a local http.server on 127.0.0.1 serving generated files (no
other network): mirrors tried in order, checksums verified, an interrupted download resumed,
the cache never holding a partial file, and one line saying where to put the files offline."""

import gzip
import hashlib
import http.server
import io
import socket
import struct
import threading
import zipfile

import numpy as np
import pytest

from fastdln.apps.paper import datasets
from fastdln.apps.paper import datasets as fetch  # the fetchers live in datasets
from fastdln.apps.paper.figure_data import real_data


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``server.files`` (``{path: bytes}``), honours ``Range``; a path in
    ``server.cut`` is sent only up to that many bytes before the connection closes."""

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.server.requests.append((self.path, self.headers.get("Range")))
        body = self.server.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        start = 0
        if self.headers.get("Range"):
            start = int(self.headers["Range"].split("=")[1].split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        cut = self.server.cut.get(self.path, len(body))
        self.wfile.write(body[start:max(cut, start)])
        self.close_connection = True

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.files, httpd.cut, httpd.requests = {}, {}, []
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens there once closed


def _md5(data):
    return hashlib.new("md5", data).hexdigest()


def test_a_download_tries_the_mirrors_in_order_and_verifies_the_md5(server, tmp_path):
    data = bytes(range(256)) * 100
    server.files["/b/f.bin"] = data
    dest = tmp_path / "cache" / "f.bin"
    urls = [f"{server.url}/a/f.bin", f"{server.url}/b/f.bin"]  # the first mirror lacks it
    assert fetch.download(urls, str(dest), _md5(data)) == str(dest)
    assert dest.read_bytes() == data and not (tmp_path / "cache" / "f.bin.part").exists()
    server.requests.clear()
    fetch.download(urls, str(dest), _md5(data))  # present and verified: no request
    assert server.requests == []


def test_a_checksum_mismatch_leaves_nothing_in_the_cache(server, tmp_path):
    server.files["/f.bin"] = b"not the published file"
    dest = tmp_path / "f.bin"
    with pytest.raises(fetch.DownloadError, match="MD5") as error:
        fetch.download([f"{server.url}/f.bin"], str(dest), _md5(b"the published file"))
    assert not dest.exists() and not (tmp_path / "f.bin.part").exists()
    assert "\n" not in str(error.value) and f"into {tmp_path}" in str(error.value)


def test_an_interrupted_download_resumes_where_it_stopped(server, tmp_path):
    data = np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8).tobytes()
    server.files["/one/f.bin"] = server.files["/two/f.bin"] = data
    server.cut["/one/f.bin"] = 20_000  # the first mirror drops the connection
    dest = tmp_path / "f.bin"
    fetch.download([f"{server.url}/one/f.bin", f"{server.url}/two/f.bin"], str(dest),
                   _md5(data))
    assert dest.read_bytes() == data
    assert server.requests[-1] == ("/two/f.bin", "bytes=20000-")  # resumed, not restarted
    server.cut["/two/f.bin"] = 30_000  # interrupted everywhere: the part is kept for later
    dest.unlink()
    with pytest.raises(fetch.DownloadError, match="interrupted"):
        fetch.download([f"{server.url}/two/f.bin"], str(dest), _md5(data))
    assert not dest.exists() and (tmp_path / "f.bin.part").stat().st_size == 30_000
    del server.cut["/two/f.bin"]
    fetch.download([f"{server.url}/two/f.bin"], str(dest), _md5(data))
    assert dest.read_bytes() == data and server.requests[-1][1] == "bytes=30000-"


def test_offline_the_error_says_in_one_line_where_to_put_the_files(tmp_path):
    url = f"http://127.0.0.1:{_closed_port()}/"
    with pytest.raises(fetch.DownloadError) as error:
        fetch.fetch_mnist(str(tmp_path), mirrors=[url], timeout=2)
    message = str(error.value)
    assert "\n" not in message and len(message) < 400
    assert f"put train-images-idx3-ubyte.gz into {tmp_path / 'mnist'}" in message
    assert isinstance(error.value, OSError)  # the CLI prints it as one line


def test_the_cache_folder_is_the_argument_the_environment_or_the_home_cache(monkeypatch):
    monkeypatch.setenv(fetch.CACHE_ENV, "/data/here")
    assert fetch.cache_dir() == "/data/here" and fetch.cache_dir("/x") == "/x"
    monkeypatch.delenv(fetch.CACHE_ENV)
    monkeypatch.setenv("HOME", "/home/u")
    assert fetch.cache_dir() == "/home/u/.cache/fastdln"
    with pytest.raises(TypeError, match="folder"):
        fetch.cache_dir(3)
    with pytest.raises(TypeError, match="urls"):
        fetch.download("http://127.0.0.1/f", "/tmp/f")


def _idx(magic, array):
    return gzip.compress(struct.pack(f">{1 + array.ndim}I", magic, *array.shape)
                         + array.tobytes())


def _mnist_files(rows):
    rng = np.random.default_rng(1)
    files = {}
    for stem, n in (("train", rows), ("t10k", rows // 2)):
        files[f"{stem}-images-idx3-ubyte.gz"] = _idx(
            2051, rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        files[f"{stem}-labels-idx1-ubyte.gz"] = _idx(2049, np.arange(n, dtype=np.uint8) % 10)
    return files


def test_fetched_mnist_loads_both_splits_and_says_what_it_read(server, tmp_path, monkeypatch,
                                                               capsys):
    files = _mnist_files(40)
    server.files.update({f"/mnist/{name}": data for name, data in files.items()})
    monkeypatch.setattr(fetch, "MNIST_FILES", {n: _md5(d) for n, d in files.items()})
    monkeypatch.setattr(fetch, "MNIST_MIRRORS", (f"{server.url}/mnist/",))
    folder = fetch.fetch_mnist(str(tmp_path))
    X, Y = datasets.load_mnist(folder)
    X_test, Y_test = datasets.load_mnist(folder, split="test")
    assert X.shape == (40, 784) and X_test.shape == (20, 784) and Y_test.shape == (20, 10)
    np.testing.assert_array_equal(Y_test.argmax(axis=1), np.arange(20) % 10)
    with pytest.raises(ValueError, match="split"):
        datasets.load_mnist(folder, split="validation")
    monkeypatch.setenv(fetch.CACHE_ENV, str(tmp_path))  # a filled cache is used by itself
    data = real_data("mnist")
    assert not data.stand_in and data.X.shape == (40, 784)
    assert "read MNIST: 40 rows x 784 columns, 10 classes" in capsys.readouterr().out


def _gas_zip(batches=10, broken=False):
    buffer = io.BytesIO()
    rng = np.random.default_rng(2)
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for k in range(1, batches + 1):
            lines = [f"{1 + j % 2};{10.0 + j:.4f} " + " ".join(
                f"{i + 1}:{v:.4f}" for i, v in enumerate(rng.normal(size=128)))
                for j in range(6)]
            archive.writestr(f"Dataset/batch{k}.dat", "\n".join(lines) + "\n")
    data = buffer.getvalue()
    if broken:  # flip bytes inside the compressed data: a CRC failure
        middle = len(data) // 3
        data = data[:middle] + bytes(b ^ 0xFF for b in data[middle:middle + 64]) \
            + data[middle + 64:]
    return data


def test_fetched_gas_sensor_archive_is_checked_extracted_and_loaded(server, tmp_path,
                                                                    monkeypatch, capsys):
    server.files["/bad.zip"] = _gas_zip(broken=True)
    server.files["/short.zip"] = _gas_zip(batches=3)
    server.files["/good.zip"] = _gas_zip()
    server.files["/tail.zip"] = _gas_zip()[:-3] + b"xyz"  # zipfile's seek fails: EINVAL
    with pytest.raises(fetch.DownloadError, match="lacks batch4.dat"):
        fetch.fetch_gas_sensor(str(tmp_path), mirrors=[f"{server.url}/short.zip"])
    folder = fetch.fetch_gas_sensor(str(tmp_path), mirrors=[
        f"{server.url}/bad.zip", f"{server.url}/tail.zip", f"{server.url}/good.zip"])
    assert sorted(p.name for p in (tmp_path / "gas_sensor").glob("batch*.dat")) == sorted(
        fetch.GAS_FILES)
    X, Y = datasets.load_gas_sensor_ethanol(folder)
    assert X.shape == (30, 128) and Y.shape == (30, 1)  # 3 ethanol rows in each of 10
    data = real_data("uci", str(tmp_path))  # --data-dir: its gas_sensor subfolder
    assert not data.stand_in and "read UCI gas sensor ethanol: 30 rows x 128 columns, " \
        "1 target column" in capsys.readouterr().out


def test_reproduce_download_fetches_then_runs_on_the_files(server, tmp_path, monkeypatch,
                                                           capsys):
    from fastdln.apps import cli
    from fastdln.apps.paper import figures
    from fastdln.apps.paper.claims import Claim

    files = _mnist_files(30)
    server.files.update({f"/mnist/{name}": data for name, data in files.items()})
    server.files["/gas.zip"] = _gas_zip()
    monkeypatch.setattr(fetch, "MNIST_FILES", {n: _md5(d) for n, d in files.items()})
    monkeypatch.setattr(fetch, "MNIST_MIRRORS", (f"{server.url}/mnist/",))
    monkeypatch.setattr(fetch, "GAS_MIRRORS", (f"{server.url}/gas.zip",))
    seen = {}

    def fake_fig8(out_dir, *, quick, seed, quiet, data_dir):
        seen["data"] = real_data("mnist", data_dir)
        return [Claim.info("fig8.data", "data", seen["data"].measured(), reading="the data")], []
    monkeypatch.setitem(figures.FIGURES, "fig8", fake_fig8)
    data_dir = tmp_path / "data"
    argv = ["reproduce", "fig8", "--download", "--data-dir", str(data_dir), "--quiet",
            "--out", str(tmp_path / "out")]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert f"mnist files in {data_dir / 'mnist'}" in out and "read MNIST: 30 rows" in out
    assert not seen["data"].stand_in and seen["data"].X.shape == (30, 784)
    assert (data_dir / "gas_sensor" / "batch10.dat").exists()
    monkeypatch.setattr(fetch, "MNIST_MIRRORS", (f"http://127.0.0.1:{_closed_port()}/",))
    argv[4] = str(tmp_path / "empty")  # offline, nothing fetched yet: one line, exit 2
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("fastdln: error: could not download")
    assert f"put train-images-idx3-ubyte.gz into {tmp_path / 'empty' / 'mnist'}" in err


def test_a_stale_part_is_discarded_and_the_download_restarted_once(server, tmp_path):
    """Zeros left by an earlier crash, or a ``.part`` longer than the file: the resumed file
    fails its MD5, so the part is discarded and the file fetched again from the start."""
    data = bytes(range(256)) * 40
    server.files["/f.bin"] = data
    dest = tmp_path / "f.bin"
    (tmp_path / "f.bin.part").write_bytes(bytes(1000))
    fetch.download([f"{server.url}/f.bin"], str(dest), _md5(data))
    assert dest.read_bytes() == data
    assert server.requests == [("/f.bin", "bytes=1000-"), ("/f.bin", None)]
    dest.unlink()
    server.requests.clear()
    (tmp_path / "f.bin.part").write_bytes(bytes(len(data) + 10))  # the server answers 416
    fetch.download([f"{server.url}/f.bin"], str(dest), _md5(data))
    assert dest.read_bytes() == data and server.requests[-1] == ("/f.bin", None)


def test_a_file_that_stays_wrong_after_the_restart_fails_naming_both(server, tmp_path):
    server.files["/f.bin"] = b"not the published file"
    (tmp_path / "f.bin.part").write_bytes(b"old")
    with pytest.raises(fetch.DownloadError, match="also after discarding the earlier .part"):
        fetch.download([f"{server.url}/f.bin"], str(tmp_path / "f.bin"), _md5(b"published"))
    assert len(server.requests) == 2 and not (tmp_path / "f.bin.part").exists()


def test_a_part_that_cannot_be_written_stops_at_once_in_one_line(server, tmp_path):
    """A local write failure (here the ``.part`` is a folder; a full disk alike) is no
    mirror's fault: one line naming the file, no other mirror tried."""
    server.files["/f.bin"] = b"data"
    (tmp_path / "f.bin.part").mkdir()
    with pytest.raises(fetch.DownloadError, match="could not write .*f.bin.part") as error:
        fetch.download([f"{server.url}/f.bin", f"{server.url}/f.bin"],
                       str(tmp_path / "f.bin"), _md5(b"data"))
    assert "\n" not in str(error.value) and len(server.requests) == 1


def test_reproduce_download_takes_mirror_option_and_environment(server, tmp_path, monkeypatch,
                                                                capsys):
    """``--mirror URL`` (or ``$FASTDLN_MIRROR``): a base URL with the files under their own
    names, tried before the official mirrors (here unreachable)."""
    from fastdln.apps import cli

    files = dict(_mnist_files(20), **{fetch.GAS_ARCHIVE: _gas_zip()})
    server.files.update({f"/mirror/{name}": data for name, data in files.items()})
    monkeypatch.setattr(fetch, "MNIST_FILES", {n: _md5(d) for n, d in files.items()
                                               if n.endswith(".gz")})
    closed = f"http://127.0.0.1:{_closed_port()}/"
    monkeypatch.setattr(fetch, "MNIST_MIRRORS", (closed,))
    monkeypatch.setattr(fetch, "GAS_MIRRORS", (closed + "gas.zip",))
    monkeypatch.setattr(cli, "run_figure", lambda *args, **kwargs: ([], []))
    argv = ["reproduce", "fig8", "--download", "--quiet", "--out", str(tmp_path / "out")]
    assert cli.main([*argv, "--data-dir", str(tmp_path / "a"), "--mirror",
                     f"{server.url}/mirror"]) == 0
    assert (tmp_path / "a" / "gas_sensor" / "batch10.dat").exists()
    assert (tmp_path / "a" / "mnist" / "t10k-labels-idx1-ubyte.gz").exists()
    monkeypatch.setenv(fetch.MIRROR_ENV, f"{closed} {server.url}/mirror/")
    assert cli.main([*argv, "--data-dir", str(tmp_path / "b")]) == 0
    assert (tmp_path / "b" / "mnist" / "train-images-idx3-ubyte.gz").exists()
    assert "mnist files in" in capsys.readouterr().out
