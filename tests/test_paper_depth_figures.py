"""The data sentences of Figures 7 and 8 are judged on what was read: the real files' rows,
shape and conditioning; a stand-in, built to the paper's numbers or not MNIST at all, gives
an INFO that says why it checks nothing."""

import numpy as np
import pytest

from fastdln.apps.paper.depth_figures import MNIST_ROWS, _mnist_data_claim, _uci_data_claim
from fastdln.apps.paper.figure_data import PaperData, uci_stand_in


def _data(rows, columns, rank, stand_in=False, cond=10.0):
    X = np.zeros((rows, columns))
    return PaperData(X, np.zeros((rows, 10)), "MNIST", stand_in, cond, rank)


@pytest.mark.parametrize("rows, rank, verdict", [
    (MNIST_ROWS, 712, "PASS"),   # the whole training set, rank below its 784 columns
    (10_000, 712, "FAIL"),       # 10,000 rows do not pass "the entire ... 60,000 samples"
    (MNIST_ROWS, 784, "FAIL")])  # full rank: "X is not full rank" fails
def test_mnist_data_sentence_is_judged_on_the_rows_read(rows, rank, verdict):
    claim = _mnist_data_claim(_data(rows, 784, rank))
    assert claim.verdict == verdict and claim.measured["paper_rows"] == MNIST_ROWS
    assert f"{rows:,} rows" in claim.evidence


def test_a_stand_in_checks_no_data_sentence():
    digits = _mnist_data_claim(_data(1797, 64, 61, stand_in=True))
    assert digits.verdict == "INFO" and "can be checked" in digits.evidence
    X, Y = uci_stand_in(0)
    stand_in = PaperData(X, Y, "synthetic", True, 70_980.0, 128, 0)
    uci = _uci_data_claim(stand_in)
    assert uci.verdict == "INFO" and "cannot check" in uci.evidence
    real = PaperData(X, Y, "UCI gas sensor ethanol", False, 70_980.0, 128)
    assert _uci_data_claim(real).verdict == "PASS"
    assert _uci_data_claim(PaperData(X[:2000], Y[:2000], "UCI", False, 70_980.0,
                                     128)).verdict == "FAIL"  # not the paper's 2565 rows
