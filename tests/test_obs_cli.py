"""CLI tests of ``scalescope obs`` (CliRunner): outputs, one-line errors with exit code 2."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from scalescope.cli import cli


def run(*args):
    return CliRunner().invoke(cli, ["obs", *map(str, args)])


def _one_line_error(r):
    assert r.exit_code == 2, r.output
    lines = [ln for ln in r.output.strip().splitlines() if ln]
    assert len(lines) == 1 and lines[0].startswith("error: "), r.output
    return lines[0]


@pytest.mark.parametrize("cmd", ["fit", "reproduce", "select", "predict", "score"])
def test_help_has_example(cmd):
    r = run(cmd, "--help")
    assert r.exit_code == 0 and "Example:" in r.output


def test_fit_builtin_task(data_dir, tmp_path):
    out = tmp_path / "fit"
    r = run("fit", "--target", "word_unscramble", "--bootstrap", 8, "--out", out, "--quiet", "--json")
    assert r.exit_code == 0, r.output
    res = json.loads((out / "result.json").read_text())
    assert res["n_train"] == 44 and res["n_test"] == 19
    assert abs(res["mse_test"] - 2.6e-3) < 2e-4
    assert len(res["bootstrap"]["mse_test_ci"]) == 2
    assert {"y_pred_lo", "y_pred_hi"} <= set(res["predictions"][0])
    assert (out / "section.json").exists() and (out / "prediction.png").exists()


def _user_csvs(data_dir, tmp_path):
    import pandas as pd

    base = pd.read_csv(data_dir / "obsscaling" / "base_llm_benchmark_eval.csv").head(40)
    bench = tmp_path / "bench.csv"
    base.to_csv(bench, index=False)
    em = pd.read_csv(data_dir / "obsscaling" / "base_llm_emergent_capability_eval.csv")
    tgt = tmp_path / "target.csv"
    em.to_csv(tgt, index=False)
    return bench, tgt, base, em


def test_fit_user_csv_with_chance_and_exclude(data_dir, tmp_path):
    bench, tgt, _, _ = _user_csvs(data_dir, tmp_path)
    out = tmp_path / "o"
    r = run("fit", "--benchmarks", bench, "--target", f"{tgt}:parsinlu_qa_2_acc", "--chance", 0.25,
            "--exclude-benchmarks", "GSM8K", "--split", "cutoff:FLOPs=200", "--link", "sigmoid-floor",
            "--bootstrap", 0, "--out", out, "--quiet")
    assert r.exit_code == 0, r.output
    res = json.loads((out / "result.json").read_text())
    assert "GSM8K" not in res["capabilities"]["metrics"] and res["chance"] == 0.25


def test_fit_bad_inputs(data_dir, tmp_path):
    import pandas as pd

    bench, tgt, base, em = _user_csvs(data_dir, tmp_path)
    no_model = tmp_path / "nomodel.csv"
    em.rename(columns={"Model": "name"}).to_csv(no_model, index=False)
    msg = _one_line_error(run("fit", "--benchmarks", bench, "--target", f"{no_model}:parsinlu_qa_2_acc",
                              "--out", tmp_path / "x1"))
    assert "'Model' is missing" in msg
    other = tmp_path / "other.csv"
    pd.DataFrame({"Model": ["nobody/none"], "acc": [0.5]}).to_csv(other, index=False)
    assert "no model" in _one_line_error(run("fit", "--benchmarks", bench, "--target", f"{other}:acc",
                                             "--out", tmp_path / "x2"))
    nan = tmp_path / "nan.csv"
    em.assign(parsinlu_qa_2_acc=float("nan")).to_csv(nan, index=False)
    assert "NaN" in _one_line_error(run("fit", "--benchmarks", bench, "--target", f"{nan}:parsinlu_qa_2_acc",
                                        "--out", tmp_path / "x3"))
    assert "training model" in _one_line_error(run("fit", "--target", "word_unscramble", "--split",
                                                   "cutoff:FLOPs=0.2", "--out", tmp_path / "x4"))
    assert "family" in _one_line_error(run("fit", "--target", "word_unscramble", "--reference-family", "MPT-X",
                                           "--out", tmp_path / "x5"))
    one = base.copy()
    one.loc[0, "Model Family"] = "Solo"
    solo = tmp_path / "solo.csv"
    one.to_csv(solo, index=False)
    assert "Solo" in _one_line_error(run("fit", "--benchmarks", solo, "--target", f"{tgt}:parsinlu_qa_2_acc",
                                         "--reference-family", "Solo", "--out", tmp_path / "x6"))
    assert "--split" in _one_line_error(run("fit", "--target", "word_unscramble", "--split", "bogus",
                                            "--out", tmp_path / "x7"))
    for i in range(1, 8):
        assert not (tmp_path / f"x{i}").exists()  # inputs validated before the output directory is created


def test_select(data_dir, tmp_path):
    r = run("select", "--budget", "4,8", "--no-evaluate", "--out", tmp_path / "s", "--json")
    assert r.exit_code == 0, r.output
    sel = json.loads((tmp_path / "s" / "selection.json").read_text())
    assert sel["n_combinations"] == 15913
    assert sorted(sel["budgets"][0]["families"]) == ["MPT", "Phi", "StarCoder2"]
    r = run("select", "--budget", "4", "--mode", "greedy", "--no-evaluate", "--out", tmp_path / "g", "--quiet")
    assert r.exit_code == 0, r.output
    _one_line_error(run("select", "--budget", "x", "--out", tmp_path / "bad"))


def test_predict_and_score_roundtrip(data_dir, tmp_path):
    import pandas as pd

    base = pd.read_csv(data_dir / "obsscaling" / "base_llm_benchmark_eval.csv")
    new = base[base["Model"].isin(["google/gemma-2-9b", "Qwen/Qwen2-7B"])]
    models = tmp_path / "new.csv"
    new.to_csv(models, index=False)
    r = run("predict", "--models", models, "--target", "word_unscramble", "--target", "cot_greedy",
            "--out", tmp_path / "p", "--quiet")
    assert r.exit_code == 0, r.output
    pred = tmp_path / "p" / "predictions.json"
    payload = json.loads(pred.read_text())
    assert len(payload["sha256"]) == 64 and payload["created_utc"]
    em = pd.read_csv(data_dir / "obsscaling" / "base_llm_emergent_capability_eval.csv")
    actual = tmp_path / "actual.csv"
    em[em["Model"].isin(new["Model"])].to_csv(actual, index=False)
    r = run("score", pred, "--actual", actual, "--json")
    assert r.exit_code == 0, r.output
    res = json.loads(r.output)
    assert res["hash_ok"] and res["targets"]["word_unscrambling_2_exact_match"]["n"] == 2
    payload["targets"][0]["predictions"][0]["y_pred_normalised"] = 0.99
    pred.write_text(json.dumps(payload))
    assert json.loads(run("score", pred, "--actual", actual, "--json").output)["hash_ok"] is False
    _one_line_error(run("score", tmp_path / "missing.json", "--actual", actual))


def test_fit_leave_one_family_out(data_dir, tmp_path):
    out = tmp_path / "lofo"
    r = run("fit", "--target", "persian_qa", "--split", "lofo", "--out", out, "--quiet", "--json")
    assert r.exit_code == 0, r.output
    res = json.loads((out / "result.json").read_text())
    assert len(res["families"]) >= 10 and res["mean_mse_test"] > 0
    assert (out / "lofo.png").exists() and (out / "section.json").exists()


def test_fit_rejects_percent_scale_benchmarks(data_dir, tmp_path):
    bench, tgt, base, _ = _user_csvs(data_dir, tmp_path)
    pct = tmp_path / "pct.csv"
    base.assign(MMLU=base["MMLU"] * 100).to_csv(pct, index=False)
    msg = _one_line_error(run("fit", "--benchmarks", pct, "--target", f"{tgt}:parsinlu_qa_2_acc",
                              "--out", tmp_path / "y"))
    assert "MMLU" in msg and not (tmp_path / "y").exists()


def test_demo_writes_section(data_dir, tmp_path):
    from scalescope.observational.demo import run_demo

    run_demo(tmp_path / "demo")
    sec = json.loads((tmp_path / "demo" / "section.json").read_text())
    assert sec["kind"] == "obs" and len(sec["figures"]) == 3
    assert all((tmp_path / "demo" / f["path"]).exists() for f in sec["figures"])
