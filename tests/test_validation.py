"""Bad input raises ValueError/TypeError naming the argument, before any computation."""

import numpy as np
import pytest

import fastdln

X = np.random.default_rng(0).normal(size=(12, 4))
Y = np.random.default_rng(1).normal(size=(12, 2))
W = fastdln.init_weights([4, 5, 2], "random", seed=0)

X_nan = X.copy()
X_nan[3, 1] = np.nan
Y_inf = Y.copy()
Y_inf[0, 0] = np.inf

TRAIN_CASES = [
    # (description, kwargs, exception, message fragment)
    ("NaN in X", dict(X=X_nan, Y=Y, widths=[4, 2]), ValueError, "X must be finite"),
    ("inf in Y", dict(X=X, Y=Y_inf, widths=[4, 2]), ValueError, "Y must be finite"),
    ("X is 1-D", dict(X=X[:, 0], Y=Y, widths=[1, 2]), ValueError, "X must be 2-D"),
    ("Y is 3-D", dict(X=X, Y=Y[:, :, None], widths=[4, 2]), ValueError, "Y must be 1-D or 2-D"),
    ("sample counts differ", dict(X=X[:5], Y=Y, widths=[4, 2]), ValueError, "same number"),
    ("widths[0] != n0", dict(X=X, Y=Y, widths=[3, 2]), ValueError, "widths\\[0\\]"),
    ("widths[-1] != nL", dict(X=X, Y=Y, widths=[4, 3]), ValueError, "widths\\[-1\\]"),
    ("depth 0", dict(X=X, Y=Y, widths=[4]), ValueError, "depth >= 1"),
    ("zero width", dict(X=X, Y=Y, widths=[4, 0, 2]), ValueError, "widths\\[1\\]"),
    ("non-integer width", dict(X=X, Y=Y, widths=[4, 2.5, 2]), TypeError, "widths\\[1\\]"),
    ("neither weights nor widths", dict(X=X, Y=Y), ValueError, "weights or widths"),
    ("width without depth", dict(X=X, Y=Y, width=5), ValueError, "width needs depth"),
    ("depth 0 (the shortcut)", dict(X=X, Y=Y, depth=0), ValueError, "depth must be an integer"),
    ("depth vs widths", dict(X=X, Y=Y, widths=[4, 5, 2], depth=3), ValueError,
     r"depth=3 does not match widths=\[4, 5, 2\] \(2 layers\)"),
    ("width vs widths", dict(X=X, Y=Y, widths=[4, 5, 2], width=6), ValueError,
     r"width=6 does not match widths"),
    ("depth vs weights", dict(X=X, Y=Y, weights=W, depth=3), ValueError,
     r"depth=3 does not match widths=\[4, 5, 2\]"),
    ("weights do not chain", dict(X=X, Y=Y, weights=[W[0], W[0]]), ValueError, "chain"),
    ("weights vs X", dict(X=X[:, :3], Y=Y, weights=W), ValueError, "weights\\[0\\]"),
    ("weights vs widths", dict(X=X, Y=Y, weights=W, widths=[4, 6, 2]), ValueError, "widths"),
    ("NaN in weights", dict(X=X, Y=Y, weights=[W[0] * np.nan, W[1]]), ValueError,
     "weights\\[0\\] must be finite"),
    ("unknown init", dict(X=X, Y=Y, widths=[4, 2], init="xavier"), ValueError, "init"),
    ("unknown order", dict(X=X, Y=Y, widths=[4, 2], order="up"), ValueError, "order"),
    ("unknown lr", dict(X=X, Y=Y, widths=[4, 2], lr="best"), ValueError, "lr"),
    ("negative lr", dict(X=X, Y=Y, widths=[4, 2], lr=-0.1), ValueError, "lr"),
    ("eta above 2", dict(X=X, Y=Y, widths=[4, 2], lr="bounded", eta=2.0), ValueError, "eta"),
    ("eta zero", dict(X=X, Y=Y, widths=[4, 2], lr="bounded", eta=0), ValueError, "eta"),
    ("eta with optimal", dict(X=X, Y=Y, widths=[4, 2], eta=1.0), ValueError, "eta"),
    ("unknown loss", dict(X=X, Y=Y, widths=[4, 2], loss="l1"), ValueError, "loss"),
    ("unknown method", dict(X=X, Y=Y, widths=[4, 2], method="adam"), ValueError, "method"),
    ("unknown engine", dict(X=X, Y=Y, widths=[4, 2], engine="gpu"), ValueError, "engine"),
    ("unknown record", dict(X=X, Y=Y, widths=[4, 2], record="all"), ValueError, "record"),
    ("negative sweeps", dict(X=X, Y=Y, widths=[4, 2], sweeps=-1), ValueError, "sweeps"),
    ("float sweeps", dict(X=X, Y=Y, widths=[4, 2], sweeps=2.0), TypeError, "sweeps"),
    ("negative tol", dict(X=X, Y=Y, widths=[4, 2], tol=-1.0), ValueError, "tol"),
    ("bad dtype", dict(X=X, Y=Y, widths=[4, 2], dtype="float16"), ValueError, "dtype"),
    ("complex X", dict(X=X + 1j, Y=Y, widths=[4, 2]), TypeError, "X must be a real array"),
    ("string Y", dict(X=X, Y=Y.astype(str), widths=[4, 2]), TypeError, "Y must be a real array"),
    ("float16 X", dict(X=X.astype(np.float16), Y=Y, widths=[4, 2]), TypeError, "X must be"),
    ("empty X", dict(X=X[:0], Y=Y[:0], widths=[4, 2]), ValueError, "X must not be empty"),
    ("bad seed", dict(X=X, Y=Y, widths=[4, 2], seed="abc"), TypeError, "seed"),
    ("negative seed", dict(X=X, Y=Y, widths=[4, 2], seed=-3), ValueError, "seed"),
    ("callback not callable", dict(X=X, Y=Y, widths=[4, 2], callback=3), TypeError, "callback"),
    ("bad compress", dict(X=X, Y=Y, widths=[4, 2], compress="yes"), ValueError, "compress"),
    ("weights too large for memory", dict(X=X, Y=Y, widths=[4, 10 ** 6, 10 ** 6, 2]),
     MemoryError, "out of memory: widths \\[4, 1000000, 1000000, 2\\] need 7.3 TiB"),
]


@pytest.mark.parametrize("description, kwargs, exception, fragment", TRAIN_CASES,
                         ids=[case[0] for case in TRAIN_CASES])
@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_train_rejects_bad_input(description, kwargs, exception, fragment, engine):
    kwargs = dict(kwargs)
    kwargs.setdefault("engine", engine)
    with pytest.raises(exception, match=fragment):
        fastdln.train(**kwargs)


INIT_CASES = [
    ("init_weights: depth 0", dict(widths=[4]), ValueError, "depth >= 1"),
    ("init_weights: negative width", dict(widths=[4, -1]), ValueError, "widths\\[1\\]"),
    ("init_weights: widths a string", dict(widths="45"), TypeError, "widths"),
    ("init_weights: unknown init", dict(widths=[4, 2], init="he"), ValueError, "init"),
    ("init_weights: integer dtype", dict(widths=[4, 2], dtype="int8"), ValueError, "dtype"),
    ("init_weights: float seed", dict(widths=[4, 2], seed=1.5), TypeError, "seed"),
    ("init_weights: too large for memory", dict(widths=[4, 10 ** 6, 10 ** 6, 2]), MemoryError,
     "for their weights"),
]

OTHER_CASES = [
    ("global_optimum: NaN in X", lambda: fastdln.global_optimum(X_nan, Y), ValueError,
     "X must be finite"),
    ("global_optimum: widths vs X", lambda: fastdln.global_optimum(X, Y, [5, 2]), ValueError,
     "widths\\[0\\]"),
    ("global_optimum: odd p", lambda: fastdln.global_optimum(X, Y, loss="l3"), ValueError,
     "loss"),
    ("predict: weights vs X", lambda: fastdln.predict(X, [np.ones((2, 3))]), ValueError,
     "weights\\[0\\] must have 4 columns"),
    ("load: a file that is not a model", lambda: fastdln.load(__file__), ValueError,
     "not a fastdln model"),
    ("Trainer.sweep: k = 0", lambda: fastdln.Trainer(X, Y, widths=[4, 2]).sweep(0),
     ValueError, "k must be"),
]


@pytest.mark.parametrize("description, kwargs, exception, fragment", INIT_CASES,
                         ids=[case[0] for case in INIT_CASES])
def test_init_weights_rejects_bad_input(description, kwargs, exception, fragment):
    with pytest.raises(exception, match=fragment):
        fastdln.init_weights(**kwargs)


@pytest.mark.parametrize("description, call, exception, fragment", OTHER_CASES,
                         ids=[case[0] for case in OTHER_CASES])
def test_other_entry_points_reject_bad_input(description, call, exception, fragment):
    with pytest.raises(exception, match=fragment):
        call()


def test_the_error_table_in_the_docs_lists_every_case():
    """docs/errors.md and these tests describe the same cases, row for row."""
    import pathlib

    table = (pathlib.Path(__file__).resolve().parents[1] / "docs" / "errors.md").read_text()
    rows = {line.split("|")[1].strip() for line in table.splitlines()
            if line.startswith("| ") and not line.startswith("| case") and "---" not in line}
    cases = {c[0] for c in TRAIN_CASES} | {c[0] for c in INIT_CASES} | {
        c[0] for c in OTHER_CASES}
    assert cases <= rows, sorted(cases - rows)
    assert len(cases) >= 40


def test_callers_arrays_are_never_modified():
    Xc, Yc, Wc = X.copy(), Y.copy(), [w.copy() for w in W]
    for engine in ["fast", "reference"]:
        fastdln.train(X, Y, W, sweeps=2, engine=engine)
    fastdln.global_optimum(X, Y, [4, 5, 2])
    fastdln.predict(X, W)
    np.testing.assert_array_equal(X, Xc)
    np.testing.assert_array_equal(Y, Yc)
    for a, b in zip(W, Wc):
        np.testing.assert_array_equal(a, b)
