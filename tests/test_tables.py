"""CSV tables for the command line: what real files hold, and one-line errors naming the line."""

import io

import numpy as np
import pytest

from fastdln.tables import read_csv, write_csv


def _write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_spaces_blank_lines_quotes_and_a_bom_are_read(tmp_path):
    text = "\ufeff a , \"b\" ,y \n\n1, 2 ,3\n   \n\"4\",5, 6e-1\n\n7,8,9\n\n\n"
    table = read_csv(_write(tmp_path, text))
    assert table.names == ["a", "b", "y"]
    np.testing.assert_array_equal(table.values, [[1, 2, 3], [4, 5, 0.6], [7, 8, 9]])
    X, Y, features, targets = table.split("y")
    np.testing.assert_array_equal(X, [[1, 2], [4, 5], [7, 8]])
    assert Y.shape == (3, 1) and features == ["a", "b"] and targets == ["y"]


def test_minus_reads_standard_input(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("x,y\n1,2\n3,4\n"))
    table = read_csv("-")
    assert table.names == ["x", "y"] and table.source == "<stdin>"
    np.testing.assert_array_equal(table.values, [[1, 2], [3, 4]])


def test_a_file_without_header_is_refused_unless_told(tmp_path):
    path = _write(tmp_path, "1,2,3\n4,5,6\n")
    with pytest.raises(ValueError, match=r"first line \(1,2,3\) holds numbers.*--no-header"):
        read_csv(path)
    table = read_csv(path, header=False)
    assert table.names is None and table.values.shape == (2, 3)  # no row lost
    X, Y, features, targets = table.split("2")
    np.testing.assert_array_equal(Y[:, 0], [3, 6])
    assert features is None and targets is None


@pytest.mark.parametrize("text, fragment", [
    ("a,b\n1,2\n\n3,x\n", "line 4: expected 2 finite numbers separated by commas, got '3,x'"),
    ("a,b\n1,2\n3\n", "line 3: expected 2 finite"),
    ("a,b\n1,2,3\n", "line 2: expected 2 finite"),
    ("a,b\n1,\n", "line 2: expected 2 finite"),
    ("a,b\n1,nan\n", "line 2: expected 2 finite"),
    ("a,b\n1;2\n", "line 2"),
    ("a,a\n1,2\n", "repeats column name(s) ['a']"),
    ("a,,c\n1,2,3\n", "header column(s) [2] have no name"),
    ("a,b\n\n", "no data row after the header"),
    ("\n  \n", "empty file"),
])
def test_bad_files_are_refused_naming_file_and_line(tmp_path, text, fragment):
    path = _write(tmp_path, text)
    with pytest.raises(ValueError) as caught:
        read_csv(path)
    assert fragment in str(caught.value) and str(caught.value).startswith(path)
    assert "\n" not in str(caught.value)


def test_missing_file_and_bad_column_names(tmp_path):
    with pytest.raises(ValueError, match="nope.csv: no such file"):
        read_csv(str(tmp_path / "nope.csv"))
    table = read_csv(_write(tmp_path, "a,b,y\n1,2,3\n"))
    with pytest.raises(ValueError, match="--target column 'z' is not in .*header"):
        table.split("z")
    with pytest.raises(ValueError, match="names a column twice"):
        table.split("y, 2")
    with pytest.raises(ValueError, match="no feature column is left"):
        table.split("a,b,y")


def test_features_are_matched_by_name(tmp_path):
    table = read_csv(_write(tmp_path, "c, y, a, b\n3,9,1,2\n30,90,10,20\n"))
    np.testing.assert_array_equal(table.features(["a", "b", "c"], leave_out=["y"]),
                                  [[1, 2, 3], [10, 20, 30]])
    with pytest.raises(ValueError, match=r"lacks the model's feature column\(s\) \['d'\]"):
        table.features(["a", "b", "c", "d"], leave_out=["y"])
    with pytest.raises(ValueError, match=r"has column\(s\) \['y'\] the model was not trained"):
        table.features(["a", "b", "c"])


def test_written_tables_read_back_exactly(tmp_path):
    values = np.random.default_rng(0).normal(size=(5, 2)) * 1e-7
    stream = io.StringIO()
    write_csv(stream, ["u", "v"], values)
    assert stream.getvalue().startswith("u,v\n")
    table = read_csv(_write(tmp_path, stream.getvalue()))
    assert table.names == ["u", "v"]
    np.testing.assert_array_equal(table.values, values)
