"""Issue 16: ``scalescope obs place`` end to end (CliRunner): outputs, warnings, one-line errors, scoring later."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from scalescope.cli import cli

FIX = Path(__file__).parent / "fixtures" / "lm_eval"


def run(*args):
    return CliRunner().invoke(cli, ["obs", *map(str, args)])


def _one_line_error(r, *needles):
    assert r.exit_code == 2, r.output
    lines = [ln for ln in r.output.strip().splitlines() if ln]
    assert len(lines) == 1 and lines[0].startswith("error: "), r.output
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


def test_help_has_example():
    r = run("place", "--help")
    assert r.exit_code == 0 and "Example:" in r.output and "lm_eval" in r.output


def test_place_fixtures_writes_outputs_and_scores_later(data_dir, tmp_path):
    out = tmp_path / "placed"
    r = run("place", FIX / "v04", FIX / "leaderboard", "--target", "word_unscramble", "--target", "naive_greedy",
            "--bootstrap", 10, "--holdout", "--out", out, "--quiet")
    assert r.exit_code == 0, r.output
    for f in ("placement.json", "placements.csv", "predictions.csv", "provenance.csv", "preregistration.json",
              "placement.png", "predictions.png", "section.json"):
        assert (out / f).is_file(), f
    res = json.loads((out / "placement.json").read_text())
    assert {p["Model"] for p in res["placements"]} == {"EleutherAI/pythia-1.4b-deduped",
                                                         "EleutherAI/pythia-2.8b-deduped"}
    lb = next(p for p in res["placements"] if p["Model"] == "EleutherAI/pythia-2.8b-deduped")
    assert lb["imputed"] == "XWinograd, HumanEval"
    assert "warning: EleutherAI/pythia-2.8b-deduped: XWinograd, HumanEval not measured" in r.output
    sec = json.loads((out / "section.json").read_text())
    assert {f["path"] for f in sec["figures"]} == {"placement.png", "predictions.png"}
    # the held-out models' real values, scored against the pre-registered predictions
    em = (data_dir / "obsscaling" / "base_llm_emergent_capability_eval.csv").read_text().splitlines()
    head = em[0].split(",")
    col = head.index("word_unscrambling_2_exact_match")
    rows = [ln.split(",") for ln in em[1:] if ln.split(",")[0] in {"EleutherAI/pythia-1.4b-deduped",
                                                                     "EleutherAI/pythia-2.8b-deduped"}]
    actual = tmp_path / "actual.csv"
    actual.write_text("Model,word_unscrambling_2_exact_match\n" + "".join(f"{r[0]},{r[col]}\n" for r in rows))
    s = run("score", out / "preregistration.json", "--actual", actual, "--json")
    assert s.exit_code == 0, s.output
    sc = json.loads(s.output)
    assert sc["hash_ok"] and sc["targets"]["word_unscrambling_2_exact_match"]["n"] == 2


def test_shot_mismatch_is_a_warning_line(data_dir, tmp_path):
    from scalescope.data.benchmark_map import write_lm_eval_v04

    write_lm_eval_v04(tmp_path / "res", "me/my-model", {"MMLU": 0.4, "ARC-C": 0.45, "HellaSwag": 0.7,
                                                         "Winograd": 0.65, "TruthfulQA": 0.38, "GSM8K": 0.1},
                      n_shot={"HellaSwag": 0})
    r = run("place", tmp_path / "res", "--target", "persian_qa", "--bootstrap", 0, "--out", tmp_path / "o",
            "--quiet")
    assert r.exit_code == 0, r.output
    assert "warning: me/my-model: HellaSwag measured 0-shot" in r.output and "10-shot" in r.output
    res = json.loads((tmp_path / "o" / "placement.json").read_text())
    assert any("HellaSwag measured 0-shot" in w for w in res["warnings"])


def _v04_obj():
    return json.loads(next((FIX / "v04").rglob("results_*.json")).read_text())


@pytest.mark.parametrize("case", ["truncated", "no_metric", "twice", "mixed"])
def test_malformed_input_is_one_error_line(data_dir, tmp_path, case):
    src = next((FIX / "v04").rglob("results_*.json"))
    if case == "truncated":
        p = tmp_path / "results_cut.json"
        p.write_text(src.read_text()[: len(src.read_text()) // 2])
        needles = ("results_cut.json", "not valid JSON")
    elif case == "no_metric":
        obj = _v04_obj()
        obj["results"]["truthfulqa_mc2"] = {"alias": "truthfulqa_mc2"}
        p = tmp_path / "results_nometric.json"
        p.write_text(json.dumps(obj))
        needles = ("results_nometric.json", "'truthfulqa_mc2' has no usable metric")
    elif case == "twice":
        p = tmp_path / "runs"
        for sub in ("first", "second"):
            (p / sub).mkdir(parents=True)
            (p / sub / src.name).write_text(src.read_text())
        needles = ("EleutherAI/pythia-1.4b-deduped", "appears twice", "first/", "second/")
    else:
        p = tmp_path / "mixed.csv"
        p.write_text("Model,MMLU,ARC-C,HellaSwag\nmine,0.41,45.0,0.7\n")
        needles = ("mixed.csv", "percent and fraction mixed")
    out = tmp_path / "out"
    r = run("place", p, "--bootstrap", 0, "--out", out)
    _one_line_error(r, *needles)
    assert not out.exists()


def test_bad_flags_are_one_line(data_dir, tmp_path):
    _one_line_error(run("place", FIX / "v04", "--reference", "nope", "--out", tmp_path / "o"), "--reference")
    _one_line_error(run("place", FIX / "v04", "--target", "nope", "--out", tmp_path / "o"), "--target")
    _one_line_error(run("place", tmp_path / "missing", "--out", tmp_path / "o"), "missing")


def test_demo_part_places_reference_models_from_generated_files(data_dir, tmp_path):
    from scalescope.observational.place_demo import MODELS, run_demo

    out = tmp_path / "demo"
    got = run_demo(out)
    assert len(list((out / "lm_eval_results").rglob("results_*.json"))) == len(MODELS)
    for f in ("placement.png", "predictions.png", "preregistration.json", "scored.csv", "section.json"):
        assert (out / f).is_file(), f
    assert 0.0 <= got["coverage"] <= 1.0 and len(got["targets"]) == 7  # emergent + post-training targets scored
    assert all(v["mse"] < 0.05 for v in got["targets"].values())


def test_predict_and_fit_take_evaluation_outputs_and_reference_sets(data_dir, tmp_path):
    # --models: an lm-eval output folder and a leaderboard file, interchangeably with a CSV
    for i, src in enumerate((FIX / "v04", next((FIX / "leaderboard").rglob("results_*.json")))):
        out = tmp_path / f"pred{i}"
        r = run("predict", "--models", src, "--target", "persian_qa", "--out", out, "--quiet")
        assert r.exit_code == 0, r.output
        pre = json.loads((out / "predictions.json").read_text())
        assert pre["targets"][0]["predictions"][0]["Model"].startswith("EleutherAI/pythia-")
    # --benchmarks: the authors' set with the pre-registered models (97) and a leaderboard file
    r = run("fit", "--benchmarks", "base+preregistered", "--target", "cot_greedy", "--bootstrap", 0, "--out",
            tmp_path / "fit97", "--quiet", "--json")
    assert r.exit_code == 0, r.output
    res = json.loads((tmp_path / "fit97" / "result.json").read_text())
    assert res["n_train"] + res["n_test"] > 77  # pre-registered models with a target joined the 77
    from scalescope.observational.commands import load_benchmarks

    t, kind = load_benchmarks(str(FIX / "v04"))
    assert kind == "csv" and t.loc[0, "Model"] == "EleutherAI/pythia-1.4b-deduped" and "HumanEval" in t.columns
    with pytest.warns(UserWarning, match="ARC-C measured 5-shot"):
        load_benchmarks(str(data_dir / "pythia-evals" / "pythia-v1" / "pythia-12b-deduped" / "five-shot"
                            / "12b-deduped-5shot_step143000.json"))
