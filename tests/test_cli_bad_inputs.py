"""Bad inputs across every CLI group: exit code 2, exactly one ``error: ...`` line naming the input, no traceback,
no half-written output directory.

Regression tests of the final CLI sweep: each case here used to give a traceback, a silent success on nonsense
(a NaN result, an empty selection), a warning on stderr, or an error that named the wrong input.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from scalescope.cli import cli

NON_UTF8 = b"\xff\xfe\x00bad"


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def one_line_error(r, *needles: str) -> str:
    """Assert exit 2, no traceback, and exactly one stderr line ``error: ...`` containing every needle."""
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert r.exit_code == 2, (r.exit_code, r.output, r.stderr)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


@pytest.fixture
def afile(tmp_path):
    p = tmp_path / "afile"
    p.write_text("x")
    return p


# ------------------------------------------------------------------------------------------------------ obs
def test_obs_fit_ragged_target_csv_is_malformed_not_missing_column(data_dir, tmp_path):
    # pandas shifts a ragged row into the index; the old reader then blamed a "missing Model column"
    p = tmp_path / "t.csv"
    p.write_text("Model,acc\na,0.1,0.2\nb\n")
    r = run("obs", "fit", "--target", f"{p}:acc", "--out", tmp_path / "o", "--quiet")
    one_line_error(r, "t.csv", "malformed CSV")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("value, what", [("inf", "infinite"), ("abc", "non-numeric")])
def test_obs_fit_target_column_inf_or_text(data_dir, tmp_path, value, what):
    p = tmp_path / "t.csv"
    p.write_text(f"Model,acc\nmeta-llama/Llama-2-7b-hf,{value}\nmeta-llama/Llama-2-13b-hf,0.3\n")
    r = run("obs", "fit", "--target", f"{p}:acc", "--out", tmp_path / "o", "--quiet")
    one_line_error(r, "t.csv", "'acc'", what)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("flag, value", [("--bootstrap", -1), ("--chance", "nan"), ("--ceiling", "inf")])
def test_obs_fit_bad_numeric_flags(tmp_path, flag, value):
    r = run("obs", "fit", "--target", "word_unscramble", flag, value, "--out", tmp_path / "o", "--quiet")
    one_line_error(r, flag)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("flag, value", [("--max-families", 0), ("--cutoff", -5)])
def test_obs_select_bad_numeric_flags(tmp_path, flag, value):
    r = run("obs", "select", "--budget", 4, flag, value, "--out", tmp_path / "s", "--quiet")
    one_line_error(r, flag)
    assert not (tmp_path / "s").exists()


def _models_csv(tmp_path, mmlu="0.5"):
    from scalescope.observational import constants as C

    cols = list(C.BASE_METRICS)
    vals = [mmlu if c == "MMLU" else "0.5" for c in cols]
    p = tmp_path / "new.csv"
    p.write_text("Model," + ",".join(cols) + "\nnew-model," + ",".join(vals) + "\n")
    return p


@pytest.mark.parametrize("pcs", [0, -1])
def test_obs_predict_pcs_must_be_positive(tmp_path, pcs):
    r = run("obs", "predict", "--models", _models_csv(tmp_path), "--pcs", pcs, "--out", tmp_path / "p")
    one_line_error(r, "--pcs")
    assert not (tmp_path / "p").exists()


def test_obs_predict_text_in_benchmark_column(data_dir, tmp_path):
    r = run("obs", "predict", "--models", _models_csv(tmp_path, mmlu="abc"), "--out", tmp_path / "p")
    one_line_error(r, "new.csv", "'MMLU'", "non-numeric")
    assert not (tmp_path / "p").exists()


def test_obs_score_non_utf8_and_non_object_predictions(tmp_path):
    actual = tmp_path / "actual.csv"
    actual.write_text("Model,acc\na,0.5\n")
    bad = tmp_path / "pred.json"
    bad.write_bytes(NON_UTF8)
    one_line_error(run("obs", "score", bad, "--actual", actual), "pred.json", "UTF-8")
    bad.write_text("[1, 2]")
    one_line_error(run("obs", "score", bad, "--actual", actual), "pred.json", "pre-registration")


def test_obs_score_inf_actual(tmp_path):
    pred = tmp_path / "pred.json"
    pred.write_text(json.dumps({"kind": "scalescope.obs.preregistration", "targets": [
        {"target": "acc", "chance": 0.0, "ceiling": 1.0, "predictions": []}]}))
    actual = tmp_path / "actual.csv"
    actual.write_text("Model,acc\na,inf\n")
    one_line_error(run("obs", "score", pred, "--actual", actual), "actual.csv", "'acc'", "infinite")


# ------------------------------------------------------------------------------------------------ emergence
@pytest.mark.parametrize("holdout", ["size:-1", "size:0", "cutoff:-1", "cutoff:nan"])
def test_emergence_backtest_bad_holdout(tmp_path, holdout):
    # size:-1 used to raise IndexError (traceback); the others ran and then blamed the data
    r = run("emergence", "backtest", "--data", "olmo-ladder", "--holdout", holdout, "--out", tmp_path / "b",
            "--quiet")
    one_line_error(r, f"--holdout {holdout}")
    assert not (tmp_path / "b").exists()


# ------------------------------------------------------------------------------------------------ calibrate
def test_calibrate_run_bad_device_with_ngram(tmp_path):
    # n-gram models never resolve a device, so a typo used to be accepted silently
    r = run("calibrate", "run", "--model", "ngram:3", "--corpus", "wikitext-2", "--steps", 8, "--samples", 4,
            "--device", "bogus", "--out", tmp_path / "c", "--quiet")
    one_line_error(r, "--device bogus")
    assert not (tmp_path / "c").exists()


def test_calibrate_analyze_non_utf8_manifest(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "manifest.json").write_bytes(NON_UTF8)
    r = run("calibrate", "analyze", run_dir, "--out", tmp_path / "a", "--quiet")
    one_line_error(r, "manifest.json", "UTF-8")
    assert not (tmp_path / "a").exists()


@pytest.mark.parametrize("flag, value", [("--early", 0), ("--late", -1), ("--bootstrap", -1), ("--ci", 1.5)])
def test_calibrate_analyze_flags_are_named(tmp_path, flag, value):
    r = run("calibrate", "analyze", tmp_path, flag, value, "--out", tmp_path / "a", "--quiet")
    one_line_error(r, flag)
    assert not (tmp_path / "a").exists()


@pytest.mark.parametrize("flag", ["--early", "--late"])
def test_calibrate_analyze_window_longer_than_run(tmp_path, flag):
    from scalescope.calibration.analysis_synth import synthetic_records, write_synthetic_run

    write_synthetic_run(tmp_path / "run", synthetic_records(n_samples=4, n_steps=10, h0=2.0, l0=1.5))
    r = run("calibrate", "analyze", tmp_path / "run", flag, 16, "--out", tmp_path / "a", "--quiet")
    one_line_error(r, f"{flag} 16 is longer than the run's 10 steps")
    assert not (tmp_path / "a").exists()


# --------------------------------------------------------------------------------------------------- theory
@pytest.mark.parametrize("args, needle", [
    (["--entropy-jump", 0], "--entropy-jump"),  # EntCE = 0: the exponent was NaN with exit 0
    (["--entropy-jump", "nan"], "--entropy-jump"),
    (["--vocab", 1e12], "--vocab"),  # MemoryError traceback
    (["--m-max", "inf"], "--m-max"),  # RuntimeWarning on stderr, then an error naming "m=..."
])
def test_theory_simulate_bad_numbers(tmp_path, args, needle):
    r = run("theory", "simulate", "--alpha", 1.5, *args, "--out", tmp_path / "t", "--quiet")
    one_line_error(r, needle)
    assert not (tmp_path / "t").exists()


def test_theory_singleton_m_above_validated_range():
    one_line_error(run("theory", "singleton", "--alpha", 1.5, "--m", 1e13, "--vocab", 1e5), "--m")


def test_theory_singleton_degenerate_vocab_has_no_warning():
    r = run("theory", "singleton", "--alpha", 1.5, "--m", 1e6, "--vocab", 1)
    assert r.exit_code == 0 and r.stderr == "", r.stderr


@pytest.mark.parametrize("cmd", [["simulate", "--alpha", 1.5, "--vocab", 1000],
                                 ["zipf-fit", "--corpus", "tinyshakespeare", "--bootstrap", 0]])
def test_theory_out_is_a_file(afile, cmd):
    # FileExistsError traceback from mkdir, after the whole computation
    one_line_error(run("theory", *cmd, "--out", afile, "--quiet"), str(afile), "not a directory")


def test_out_below_a_file_is_one_line(afile):
    # NotADirectoryError from mkdir is caught by the CLI group for every command
    r = run("theory", "simulate", "--alpha", 1.5, "--vocab", 1000, "--out", afile / "sub", "--quiet")
    one_line_error(r, str(afile / "sub"))


# --------------------------------------------------------------------------------------------------- report
@pytest.mark.parametrize("content, needle", [(b"{bad", "not valid JSON"), (NON_UTF8, "UTF-8"),
                                             (b"[1]", "JSON object"), (b'{"order": "x"}', "'order'")])
def test_report_bad_section_json(tmp_path, content, needle):
    d = tmp_path / "res"
    d.mkdir()
    (d / "section.json").write_bytes(content)
    r = run("report", d, "--out", tmp_path / "r")
    one_line_error(r, "section.json", needle)
    assert not (tmp_path / "r").exists()


def test_report_out_is_a_file(tmp_path, afile):
    d = tmp_path / "res"
    d.mkdir()
    one_line_error(run("report", d, "--out", afile), f"--out {afile}")


def test_calibrate_compare_bad_corpus_erases_the_progress_bar(tmp_path):
    # without --quiet the error used to be appended to the unfinished bar ("...passages]error: corpus ...")
    r = run("calibrate", "compare", "--model", "ngram:3@20k/char", "--corpus", tmp_path / "nope.txt", "--steps", 8,
            "--samples", 4, "--out", tmp_path / "c")
    assert r.exit_code == 2, r.stderr
    assert [ln for ln in r.stderr.split("\n") if ln.strip()] == [r.stderr.strip("\n")]  # one terminal line
    assert r.stderr.strip().split("\r")[-1].startswith("error: corpus"), r.stderr
    assert not (tmp_path / "c").exists()
