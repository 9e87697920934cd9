"""CSV tables for the command line: what real files hold, and one-line errors naming the line."""

import io

import numpy as np
import pytest

from fastdln.apps.tables import read_csv, write_csv


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
    ("a,b\n1,2\n\n3,x\n", "line 4, column 'b': 'x' is not a number"),
    ("a,b\n1,2\n3\n", "line 3: 1 value(s), expected 2 finite numbers"),
    ("a,b\n1,2,3\n", "line 2: 3 value(s), expected 2 finite"),
    ("a,b\n1,\n", "line 2, column 'b': empty"),
    ("a,b\n1,nan\n", "line 2, column 'b': 'nan' (values must be finite numbers)"),
    ("a,b\n-inf, 2\n", "line 2, column 'a': '-inf' (values must be finite"),
    ("a,b\n1;2\n", "line 2: 1 value(s)"),
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
    with pytest.raises(ValueError, match=r"--target column 'z' is not in .*header \['a', 'b', "
                       r"'y'\]$"):
        table.split("z")
    with pytest.raises(ValueError, match="column 'Y' is not in .*; did you mean 'y'?"):
        table.split("Y")
    with pytest.raises(ValueError, match="names a column twice"):
        table.split("y, 2")
    with pytest.raises(ValueError, match="no feature column is left"):
        table.split("a,b,y")


def test_features_are_matched_by_name(tmp_path):
    table = read_csv(_write(tmp_path, "c, y, a, b\n3,9,1,2\n30,90,10,20\n"))
    np.testing.assert_array_equal(table.features(["a", "b", "c"], leave_out=["y"]),
                                  [[1, 2, 3], [10, 20, 30]])
    with pytest.raises(ValueError, match=r"lacks 1 feature column of the model: \['d'\]$"):
        table.features(["a", "b", "c", "d"], leave_out=["y"])
    with pytest.raises(ValueError, match=r"lacks 1 .*: \['B'\]; did you mean 'b'\?"):
        table.features(["a", "B", "c"], leave_out=["y"])
    with pytest.raises(ValueError, match=r"has 1 column the model was not trained on: \['y'\]"):
        table.features(["a", "b", "c"])


def test_written_tables_read_back_exactly(tmp_path):
    values = np.random.default_rng(0).normal(size=(5, 2)) * 1e-7
    stream = io.StringIO()
    write_csv(stream, ["u", "v"], values)
    assert stream.getvalue().startswith("u,v\n")
    table = read_csv(_write(tmp_path, stream.getvalue()))
    assert table.names == ["u", "v"]
    np.testing.assert_array_equal(table.values, values)


WIDE = [f"pixel{j}" for j in range(784)] + [f"label{j}" for j in range(10)]


def _wide_csv(tmp_path, cell=None, header=None):
    """A 794-column CSV (MNIST's pixels and one-hot labels) of 5 rows; ``cell`` replaces
    the value of ``pixel300`` on line 4, ``header`` the header line."""
    values = np.random.default_rng(0).normal(size=(5, len(WIDE)))
    rows = [",".join(WIDE) if header is None else header]
    rows += [",".join(f"{v:.6f}" for v in row) for row in values]
    if cell is not None:
        fields = rows[3].split(",")
        fields[300] = cell
        rows[3] = ",".join(fields)
    return _write(tmp_path, "\n".join(rows) + "\n", name="wide.csv"), values


def _short_message(path, error):
    """The message, checked to be one line of at most 200 characters besides the path."""
    message = str(error.value)
    assert "\n" not in message and len(message.replace(path, "")) <= 200, message
    return message


@pytest.mark.parametrize("cell, fragment", [
    ("oops", "line 4, column 'pixel300': 'oops' is not a number"),
    ("NaN", "line 4, column 'pixel300': 'NaN' (values must be finite numbers)"),
    ("", "line 4, column 'pixel300': empty"),
])
def test_a_bad_cell_of_a_wide_csv_names_its_line_and_column_in_one_short_line(
        tmp_path, cell, fragment):
    path, values = _wide_csv(tmp_path, cell)
    with pytest.raises(ValueError) as caught:
        read_csv(path)
    message = _short_message(path, caught)
    assert message.startswith(f"{path}, {fragment}")
    assert f"{values[2, 0]:.6f}" not in message  # the row is not echoed


def test_a_misspelt_column_of_a_wide_csv_gets_close_names_not_the_whole_header(tmp_path):
    path, _ = _wide_csv(tmp_path)
    table = read_csv(path)
    for typo, close in [("lable3", "'label3'"), ("Label3", "'label3'"), ("pixel 17", "'pixel17'")]:
        with pytest.raises(ValueError) as caught:
            table.split(typo)
        message = _short_message(path, caught)
        assert f"did you mean {close}" in message and "pixel500" not in message
    with pytest.raises(ValueError) as caught:
        table.split("zzz")
    assert _short_message(path, caught).endswith("'pixel3', 'pixel4', ...] (794 in all)")
    with pytest.raises(ValueError) as caught:
        table.features(WIDE[:-10] + ["pixel900"] + WIDE[-10:])
    assert "did you mean" in _short_message(path, caught)
    with pytest.raises(ValueError) as caught:
        table.features(WIDE[:10])
    assert "has 784 columns the model was not trained on" in _short_message(path, caught)


def test_a_wide_header_of_numbers_or_repeated_names_is_not_echoed(tmp_path):
    path, _ = _wide_csv(tmp_path, header=",".join(map(str, range(794))))
    with pytest.raises(ValueError) as caught:
        read_csv(path)
    assert "--no-header" in _short_message(path, caught)
    path, _ = _wide_csv(tmp_path, header=",".join(["x"] * 794))
    with pytest.raises(ValueError) as caught:
        read_csv(path)
    assert "repeats column name(s) ['x']" in _short_message(path, caught)
    path, _ = _wide_csv(tmp_path, header=",".join([f"c{j // 2}" for j in range(794)]))
    with pytest.raises(ValueError) as caught:
        read_csv(path)
    assert "(397 in all)" in _short_message(path, caught)
