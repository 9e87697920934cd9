"""Make ``asv publish``'s pages work without the network.

``python benchmarks/asv_offline.py [--html-dir .asv/html] [--vendor DIR]``

asv's ``index.html`` loads jQuery, flot, bootstrap and a few more from CDNs; offline the
page stays on its error screen. This script copies each of those files into
``HTML_DIR/vendor/`` and points ``index.html`` at the copies. The files come from
``--vendor DIR`` (default ``~/.cache/fastdln/asv-vendor``), downloaded there on the first
run (once, while online); later runs need no network. Then serve the folder:
``asv preview`` (or ``python -m http.server -d .asv/html``) and open the address it prints
(the pages read their JSON through HTTP, so ``file://`` does not work).
"""

import argparse
import os
import re
import shutil
import urllib.request

CDN = re.compile(r'(?:src|href)="(https://(?:code\.jquery\.com|cdnjs\.cloudflare\.com|'
                 r'cdn\.jsdelivr\.net)/[^"]+)"')


def vendor_name(url):
    """The local file name of a CDN address (its path, flattened)."""
    return url.split("://", 1)[1].split("/", 1)[1].replace("/", "_").replace("@", "-")


def fetch(url, folder):
    """The local copy of ``url`` in ``folder``, downloaded once."""
    path = os.path.join(folder, vendor_name(url))
    if not os.path.exists(path):
        os.makedirs(folder, exist_ok=True)
        with urllib.request.urlopen(url, timeout=60) as response:
            data = response.read()
        with open(path + ".part", "wb") as f:
            f.write(data)
        os.replace(path + ".part", path)
    return path


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
