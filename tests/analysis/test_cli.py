"""Tests for the ``attnkernel`` command line: outputs checked against the library functions."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_digits
from sklearn.preprocessing import normalize

from sklearn_attnkernel.analysis.cli import main
from sklearn_attnkernel.diagnostics.kappa import effective_condition_number, kappa_report


@pytest.fixture
def matrix():
    rng = np.random.default_rng(11)
    X = rng.normal(size=(40, 6)) * np.array([3.0, 2.0, 1.0, 0.5, 0.2, 0.1])
    X.flags.writeable = False
    return X


def _run_json(capsys, argv):
    status = main(argv)
    captured = capsys.readouterr()
    assert status == 0, captured.err
    return json.loads(captured.out), captured.err


def _fails(capsys, argv, match):
    status = main(argv)
    captured = capsys.readouterr()
    assert status == 2
    assert "Traceback" not in captured.err
    assert match in captured.err
    assert captured.out == ""


def test_console_script_and_module_entry_points():
    script = shutil.which("attnkernel") or str(Path(sys.executable).with_name("attnkernel"))
    for command in (
        [script, "diagnose", "--dataset", "digits", "--json"],
        [sys.executable, "-m", "sklearn_attnkernel", "diagnose", "--dataset", "digits", "--json"],
    ):
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        out = json.loads(done.stdout)
        assert (out["n_samples"], out["n_features"]) == (1797, 64)


def test_digits_json_matches_library(capsys):
    out, _ = _run_json(capsys, ["diagnose", "--dataset", "digits", "--json"])
    expected = kappa_report(normalize(load_digits().data / 16.0)).to_dict()
    assert out["source"] == "dataset digits"
    assert out["numerical_rank"] == expected["numerical_rank"] == 61
    assert out["kappa"] == pytest.approx(expected["kappa"], rel=1e-12)
    assert out["curve_ranks"] == expected["curve_ranks"]


def test_digits_text_report(capsys):
    assert main(["diagnose", "--dataset", "digits"]) == 0
    out = capsys.readouterr().out
    assert "1797 samples × 64 features" in out
    assert "verdict: MLP-Attn's sufficient width is κ⁴ = 10^" in out
    assert "(κ read at rank 61)" in out
    assert "bound of the matrix-exponential model" in out
    assert "softmax bound" not in out


def test_npy_with_rank_and_options(tmp_path, capsys, matrix):
    path = tmp_path / "X.npy"
    np.save(path, matrix)
    out, _ = _run_json(capsys, ["diagnose", str(path), "--rank", "3", "--n-layers", "2", "--json"])
    kappa = effective_condition_number(matrix, rank=3)
    assert out["rank"] == 3
    assert out["kappa"] == pytest.approx(kappa, rel=1e-12)
    assert out["kappa_layers"] == pytest.approx(kappa**5, rel=1e-12)
    out, _ = _run_json(capsys, ["diagnose", str(path), "--rank", "0.9", "--json"])
    assert out["kappa"] == pytest.approx(effective_condition_number(matrix, rank=0.9), rel=1e-12)
    out, _ = _run_json(capsys, ["diagnose", str(path), "--normalize-rows", "--json"])
    expected = effective_condition_number(normalize(matrix))
    assert out["kappa"] == pytest.approx(expected, rel=1e-12)


def test_csv_and_parquet_keep_numeric_columns(tmp_path, capsys, matrix):
    frame = pd.DataFrame(matrix, columns=[f"x{i}" for i in range(6)])
    frame.insert(2, "label", ["a", "b"] * 20)
    csv, parquet = tmp_path / "X.csv", tmp_path / "X.parquet"
    frame.to_csv(csv, index=False)
    frame.to_parquet(parquet)
    expected = effective_condition_number(matrix)
    for path in (csv, parquet):
        out, err = _run_json(capsys, ["diagnose", str(path), "--json"])
        assert out["n_features"] == 6
        assert out["kappa"] == pytest.approx(expected, rel=1e-10)
        assert "ignoring 1 non-numeric column(s): label" in err


def test_rank_above_numerical_rank_warns_on_stderr(tmp_path, capsys):
    rng = np.random.default_rng(0)
    path = tmp_path / "low_rank.npy"
    np.save(path, rng.normal(size=(20, 3)) @ rng.normal(size=(3, 8)))
    status = main(["diagnose", str(path), "--rank", "5"])
    captured = capsys.readouterr()
    assert status == 0
    assert "warning:" in captured.err
    assert "numerical rank 3" in captured.err


def test_bad_inputs_exit_2_without_traceback(tmp_path, capsys):
    _fails(capsys, ["diagnose", str(tmp_path / "X.txt")], "unknown extension '.txt'")
    _fails(capsys, ["diagnose", str(tmp_path / "absent.npy")], "no such file")
    _fails(capsys, ["diagnose", "--dataset", "mnist"], "unknown dataset 'mnist'")

    corrupt = tmp_path / "corrupt.npy"
    corrupt.write_bytes(b"not an npy file")
    _fails(capsys, ["diagnose", str(corrupt)], "cannot read")

    vector = tmp_path / "vector.npy"
    np.save(vector, np.arange(5.0))
    _fails(capsys, ["diagnose", str(vector)], "need a 2-D matrix")

    with_nan = tmp_path / "nan.npy"
    np.save(with_nan, np.array([[1.0, np.nan], [0.0, 1.0]]))
    _fails(capsys, ["diagnose", str(with_nan)], "NaN")

    zero_row = tmp_path / "zero_row.npy"
    np.save(zero_row, np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]]))
    _fails(capsys, ["diagnose", str(zero_row), "--normalize-rows"], "rows [1]")

    text_only = tmp_path / "text.csv"
    pd.DataFrame({"a": ["x", "y"]}).to_csv(text_only, index=False)
    _fails(capsys, ["diagnose", str(text_only)], "no numeric columns")


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        ([], "required"),
        (["diagnose"], "one of the arguments FILE --dataset is required"),
        (["diagnose", "--dataset", "digits", "--rank", "many"], "invalid rank 'many'"),
        (["diagnose", "--dataset", "digits", "--rank", "1.5"], "'rank' parameter"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_usage_errors_exit_2(capsys, argv, match):
    _fails(capsys, argv, match)


def test_help_exits_0(capsys):
    assert main(["diagnose", "--help"]) == 0
    assert "--normalize-rows" in capsys.readouterr().out


def test_headerless_csv_keeps_its_first_row(tmp_path, capsys, matrix):
    """A first row of numbers is data: none of the 40 rows is lost."""
    path = tmp_path / "X.csv"
    np.savetxt(path, matrix, delimiter=",")
    expected = effective_condition_number(matrix)
    out, err = _run_json(capsys, ["diagnose", str(path), "--json"])
    assert out["n_samples"] == 40
    assert out["kappa"] == pytest.approx(expected, rel=1e-10)
    assert "read as data" in err
    out, err = _run_json(capsys, ["diagnose", str(path), "--no-header", "--json"])
    assert out["n_samples"] == 40
    assert "read as data" not in err


def test_header_flags_decide_what_auto_detection_cannot(tmp_path, capsys, matrix):
    # numeric column names (pandas' default 0..5): auto reads them as a row, --header does not
    numbered = tmp_path / "numbered.csv"
    pd.DataFrame(matrix).to_csv(numbered, index=False)
    out, err = _run_json(capsys, ["diagnose", str(numbered), "--json"])
    assert out["n_samples"] == 41
    assert "pass --header" in err
    out, _ = _run_json(capsys, ["diagnose", str(numbered), "--header", "--json"])
    assert out["n_samples"] == 40
    assert out["kappa"] == pytest.approx(effective_condition_number(matrix), rel=1e-10)
    # a headerless file whose first row has a text field: auto takes it for names, --no-header not
    labelled = tmp_path / "labelled.csv"
    frame = pd.DataFrame(matrix)
    frame.insert(0, "label", ["a", "b"] * 20)
    frame.to_csv(labelled, index=False, header=False)
    out, _ = _run_json(capsys, ["diagnose", str(labelled), "--json"])
    assert out["n_samples"] == 39
    out, _ = _run_json(capsys, ["diagnose", str(labelled), "--no-header", "--json"])
    assert out["n_samples"] == 40
    assert out["kappa"] == pytest.approx(effective_condition_number(matrix), rel=1e-10)


def test_header_flags_apply_to_csv_only(tmp_path, capsys, matrix):
    path = tmp_path / "X.npy"
    np.save(path, matrix)
    _fails(capsys, ["diagnose", str(path), "--no-header"], "apply to .csv files only")
    _fails(capsys, ["diagnose", "--dataset", "digits", "--header"], "not to --dataset")
