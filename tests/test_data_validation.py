"""Bad inputs fail early with ONE line that names the file and says what is wrong (column, value, row)."""

from __future__ import annotations

import json

import pytest

from scalescope import data
from scalescope.data import read_benchmark_csv, read_lm_eval, read_long_csv
from scalescope.errors import InputError

GOOD_WIDE = "Model,Model Family,FLOPs (1E21),MMLU,GSM8K\nm1,A,1.5,0.40,0.10\nm2,A,20,0.60,\n"
GOOD_LONG = "model,task,metric,value,params\na,arith,exact_match,0.0,1e8\nb,arith,exact_match,0.3,1e10\n"


def _write(tmp_path, text, name="scores.csv", mode="w"):
    p = tmp_path / name
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text, encoding="utf-8")
    return p


def _err(fn, *a, **k) -> str:
    with pytest.raises(InputError) as e:
        fn(*a, **k)
    msg = str(e.value)
    assert "\n" not in msg, msg
    return msg


def test_good_files_pass(tmp_path):
    wide = read_benchmark_csv(_write(tmp_path, GOOD_WIDE))
    assert wide.shape == (2, 5) and wide["GSM8K"].isna().tolist() == [False, True]
    long = read_long_csv(_write(tmp_path, GOOD_LONG, "long.csv"))
    assert long["value"].tolist() == [0.0, 0.3]


def test_missing_required_column_lists_found(tmp_path):
    msg = _err(read_benchmark_csv, _write(tmp_path, "name,MMLU\na,0.5\n"))
    assert msg == "scores.csv: column 'Model' missing (found: name, MMLU)"


def test_missing_column_suggests_near_miss(tmp_path):
    msg = _err(read_long_csv, _write(tmp_path, "Model,task,metric,value\na,t,acc,0.5\n", "long.csv"))
    assert msg.startswith("long.csv: column 'model' missing (found: Model, task, metric, value)")
    assert "did you mean 'model' -> 'Model'?" in msg


def test_duplicate_model_names_are_named(tmp_path):
    msg = _err(read_benchmark_csv, _write(tmp_path, "Model,MMLU\na,0.1\nb,0.2\na,0.3\n"))
    assert msg == "scores.csv: duplicate values in column 'Model': 'a'"


def test_non_numeric_score_names_column_value_and_row(tmp_path):
    msg = _err(read_benchmark_csv, _write(tmp_path, "Model,MMLU,GSM8K\na,0.1,0.2\nb,0.2,n/a%\n"))
    assert msg == "scores.csv: column 'GSM8K' has non-numeric value 'n/a%' in row 2 (Model 'b')"


def test_score_outside_declared_range(tmp_path):
    p = _write(tmp_path, "Model,MMLU\na,0.1\nb,63.5\n")
    msg = _err(read_benchmark_csv, p)
    assert msg.startswith(
        "scores.csv: column 'MMLU' has value 63.5 in row 2 (Model 'b'), outside the declared score"
    )
    assert "[0, 1]" in msg
    assert read_benchmark_csv(p, score_range=(0, 100))["MMLU"].tolist() == [0.1, 63.5]


def test_negative_flops(tmp_path):
    msg = _err(read_benchmark_csv, _write(tmp_path, "Model,FLOPs (1E21),MMLU\na,-3,0.1\n"))
    assert msg == "scores.csv: column 'FLOPs (1E21)' must be positive but has -3 in row 1 (Model 'a')"


def test_zero_params_in_long_table(tmp_path):
    msg = _err(read_long_csv, _write(tmp_path, "model,task,metric,value,params\na,t,acc,0.5,0\n", "long.csv"))
    assert msg == "long.csv: column 'params' must be positive but has 0 in row 1 (model 'a')"


def test_empty_file(tmp_path):
    assert _err(read_benchmark_csv, _write(tmp_path, "")) == "scores.csv: file is empty"
    assert _err(read_long_csv, _write(tmp_path, "  \n\n", "long.csv")) == "long.csv: file is empty"


def test_header_without_rows(tmp_path):
    msg = _err(read_benchmark_csv, _write(tmp_path, "Model,MMLU\n"))
    assert msg == "scores.csv: file has a header but no data rows"


def test_non_utf8_says_so_with_byte_offset(tmp_path):
    raw = "Model,MMLU\nCafé,0.5\n".encode("latin-1")
    msg = _err(read_benchmark_csv, _write(tmp_path, raw))
    assert msg == (
        "scores.csv: not valid UTF-8 text (invalid continuation byte at byte offset 14); save the file as UTF-8"
    )


def test_ragged_row_too_many_fields(tmp_path):
    msg = _err(read_benchmark_csv, _write(tmp_path, "Model,MMLU\na,0.1\nb,0.2,0.3\n"))
    assert msg == "scores.csv: malformed CSV: line 3 has 3 fields but the header has 2"


def test_ragged_row_too_few_fields(tmp_path):
    msg = _err(read_long_csv, _write(tmp_path, "model,task,metric,value\na,t,acc\n", "long.csv"))
    assert msg == "long.csv: malformed CSV: line 2 has 3 fields but the header has 4"


def test_duplicate_column_names(tmp_path):
    msg = _err(read_benchmark_csv, _write(tmp_path, "Model,MMLU,MMLU\na,0.1,0.2\n"))
    assert msg == "scores.csv: duplicate column names: 'MMLU'"


def test_infinite_score(tmp_path):
    msg = _err(read_benchmark_csv, _write(tmp_path, "Model,MMLU\na,0.1\nb,inf\n"))
    assert msg == "scores.csv: column 'MMLU' has an infinite value in row 2 (Model 'b')"


def test_nan_value_not_allowed_in_long_table(tmp_path):
    msg = _err(
        read_long_csv, _write(tmp_path, "model,task,metric,value\na,t,acc,0.5\nb,t,acc,\n", "long.csv")
    )
    assert msg == (
        "long.csv: column 'value' has a missing (empty/NaN) value in row 2 (model 'b'), which is not allowed here"
    )


def test_unknown_metric_kind(tmp_path):
    p = _write(tmp_path, "model,task,metric,value,metric_kind\na,t,acc,0.5,hardish\n", "long.csv")
    msg = _err(read_long_csv, p)
    assert (
        msg
        == "long.csv: column 'metric_kind' has 'hardish' in row 1; expected one of hard, soft, loss, lm_loss"
    )


def test_bad_higher_is_better(tmp_path):
    p = _write(tmp_path, "model,task,metric,value,higher_is_better\na,t,acc,0.5,maybe\n", "long.csv")
    assert (
        _err(read_long_csv, p)
        == "long.csv: column 'higher_is_better' has 'maybe' in row 1; expected true/false"
    )


def test_duplicate_measurements_in_long_table(tmp_path):
    p = _write(
        tmp_path, "model,task,metric,value,step\na,t,acc,0.5,10\na,t,acc,0.6,10\na,t,acc,0.7,20\n", "long.csv"
    )
    msg = _err(read_long_csv, p)
    assert msg == "long.csv: duplicate values in columns (model, step, task, metric): ('a', 10.0, 't', 'acc')"


def test_explicit_score_column_missing(tmp_path):
    msg = _err(read_benchmark_csv, _write(tmp_path, GOOD_WIDE), score_columns=["MMLU", "ARC-C"])
    assert msg.startswith(
        "scores.csv: column 'ARC-C' missing (found: Model, Model Family, FLOPs (1E21), MMLU, GSM8K)"
    )


def test_empty_model_cell(tmp_path):
    msg = _err(read_benchmark_csv, _write(tmp_path, "Model,MMLU\na,0.1\n,0.2\n"))
    assert msg == "scores.csv: column 'Model' is empty in row 2"


def test_unknown_dataset_suggests_closest():
    msg = _err(data.load, "obsscaling-bsae")
    assert msg.startswith(
        "unknown dataset 'obsscaling-bsae'; did you mean 'obsscaling-base'? (known: obsscaling-base,"
    )
    assert "pythia-evals" in msg


def test_unknown_dataset_without_close_match_lists_known():
    msg = _err(data.load, "imagenet")
    assert msg.startswith("unknown dataset 'imagenet' (known: obsscaling-base, ")
    assert msg.endswith("wikitext-2, tinyshakespeare)")


def test_missing_file(tmp_path):
    assert _err(read_long_csv, tmp_path / "nope.csv") == "nope.csv: no such file"


def test_lm_eval_invalid_json(tmp_path):
    p = _write(tmp_path, '{"results": {"piqa": {"acc": 0.5,}}}', "results_x.json")
    msg = _err(read_lm_eval, p)
    assert msg.startswith(f"{p}: not valid JSON (")
    assert "line 1, column" in msg


def test_lm_eval_without_results(tmp_path):
    p = _write(tmp_path, json.dumps({"config": {}}), "results_x.json")
    assert _err(read_lm_eval, p) == f"{p}: not an lm-evaluation-harness results file (no 'results' object)"


def test_lm_eval_empty_directory(tmp_path):
    (tmp_path / "empty").mkdir()
    msg = _err(read_lm_eval, tmp_path / "empty")
    assert msg == f"{tmp_path / 'empty'}: no results_*.json (or any .json) files found under this directory"
