"""The data of Figures 7-9: the UCI stand-in has the paper's shape and conditioning ("a scalar
regression task with 2565 examples, each comprising 128 features ... After the normalization,
the condition number of the input data matrix is 70,980"), and every stand-in says so."""

import numpy as np

import pytest

from fastdln.apps.paper.datasets import DataFileError
from fastdln.apps.paper.figure_data import (UCI_COND, UCI_SHAPE, condition_number, conditioned_data,
                                matched_draws, real_data, uci_stand_in)


def test_uci_stand_in_has_the_papers_shape_and_condition_number():
    X, Y = uci_stand_in(seed=3)
    assert X.shape == UCI_SHAPE and Y.shape == (UCI_SHAPE[0], 1)
    np.testing.assert_allclose(X.mean(axis=0), 0, atol=1e-12)  # standardized like the paper's
    np.testing.assert_allclose(X.std(axis=0), 1, rtol=1e-12)
    np.testing.assert_allclose([Y.mean(), Y.std()], [0, 1], atol=1e-12)
    cond, rank = condition_number(X)
    assert rank == UCI_SHAPE[1] and UCI_COND / 10 <= cond <= UCI_COND * 10
    assert cond == np.linalg.cond(X) or np.isclose(cond, np.linalg.cond(X), rtol=1e-6)
    np.testing.assert_array_equal(uci_stand_in(seed=3)[0], X)
    assert not np.allclose(uci_stand_in(seed=4)[0], X)


def test_condition_number_of_rank_deficient_data_uses_the_nonzero_spectrum():
    X = np.diag([4.0, 2.0, 0.5, 0.0])
    assert condition_number(X) == (8.0, 3)


def test_every_stand_in_is_named_with_its_condition_number():
    for kind, shape in (("uci", UCI_SHAPE), ("mnist", (1797, 64))):
        data = real_data(kind)
        assert data.stand_in and data.X.shape == shape
        assert data.tag.startswith("STAND-IN ") and f"cond(X) = {data.cond:.4g}" in data.tag


def test_the_seed_reaches_the_uci_stand_in_and_is_named():
    """``reproduce --seed`` draws the UCI stand-in; the digits are fixed data (no seed)."""
    three, four = real_data("uci", seed=3), real_data("uci", seed=4)
    np.testing.assert_array_equal(three.X, uci_stand_in(seed=3)[0])
    assert not np.allclose(three.X, four.X)
    assert three.measured()["data_seed"] == 3 and "data seed 3" in three.tag
    digits = real_data("mnist", seed=3)
    assert digits.measured()["data_seed"] is None and "data seed" not in digits.tag


def test_the_papers_files_are_used_when_present(tmp_path, capsys):
    rng = np.random.default_rng(0)
    lines = [f"1;{10.0 * j:.1f} " + " ".join(f"{i + 1}:{v:.6f}" for i, v in
                                             enumerate(rng.normal(size=128)))
             for j in range(200)]
    (tmp_path / "batch1.dat").write_text("\n".join(lines) + "\n")
    data = real_data("uci", str(tmp_path))
    assert not data.stand_in and "STAND-IN" not in data.tag and data.X.shape == (200, 128)
    capsys.readouterr()
    with pytest.raises(DataFileError, match=rf"^data_dir '{tmp_path}': no MNIST files there "
                                            r"\(train-images-idx3-ubyte\[\.gz\] not found"):
        real_data("mnist", str(tmp_path))  # asked for by name: no silent stand-in


def test_without_data_dir_a_figure_takes_its_stand_in_and_says_where_it_looked(
        tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("FASTDLN_DATA", str(tmp_path))  # an empty cache
    missing = real_data("mnist")
    said = capsys.readouterr().out
    assert missing.stand_in and f"no MNIST files in {tmp_path / 'mnist'}; using the stand-in" \
        in said


def test_figure_3_draws_match_the_papers_condition_number_from_a_stream_per_seed():
    """"the condition number of X was 236": the draws judged have cond(X) within 1.5x of it,
    the first five of a stream of data seeds of their own for each --seed."""
    matched, unmatched = matched_draws(128, 0)
    assert len(matched) == 5 and all(236 / 1.5 <= c <= 236 * 1.5 for c in matched.values())
    assert unmatched and all(not 236 / 1.5 <= c <= 236 * 1.5 for c in unmatched.values())
    assert max(matched) > max(unmatched)  # scanned in order, skipped ones before the last
    first = next(iter(matched))
    assert condition_number(conditioned_data(600, 128, 10, first)[0])[0] == pytest.approx(
        matched[first], rel=1e-9)  # the drawn spectrum's ratio is cond(X)
    other = matched_draws(128, 1)[0]
    assert set(matched).isdisjoint(other) and set(matched).isdisjoint(unmatched)
    spectra = {s + 10_000 for s in list(matched) + list(other)}  # the seeds spectra draw from
    assert spectra.isdisjoint(set(matched) | set(other))
    assert len(matched_draws(128, 0, limit=1)[0]) <= 1
    with pytest.raises(ValueError, match="limit"):
        matched_draws(128, 0, limit=0)
