"""Issue 16: place a user's models in the reference capability space from lm-eval / leaderboard results (library)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scalescope.data.benchmark_map import (
    BENCHMARKS,
    MMLU_SUBJECTS,
    read_benchmarks,
    to_lm_eval_v04,
    write_lm_eval_v04,
)
from scalescope.errors import InputError

FIX = Path(__file__).parent / "fixtures" / "lm_eval"
V04 = FIX / "v04"
LB = FIX / "leaderboard"
ROUND_TRIP_TOL = 1e-9


@pytest.fixture(scope="module")
def ref_table(data_dir):
    return pd.read_csv(data_dir / "obsscaling" / "base_llm_benchmark_eval.csv").set_index("Model")


@pytest.fixture(scope="module")
def pythia12(data_dir):
    d = data_dir / "pythia-evals" / "pythia-v1" / "pythia-12b-deduped"
    return [d / "five-shot" / "12b-deduped-5shot_step143000.json", d / "zero-shot" / "12b-deduped_step143000.json"]


# ---------------------------------------------------------------------------------------------------------- mapping
def test_pythia_v03_files_map_with_the_reference_protocol(pythia12):
    bt = read_benchmarks(pythia12)
    row = bt.table.iloc[0]
    assert row["Model"] == "EleutherAI/pythia-v1.1-12b-deduped"
    raw = json.loads(pythia12[0].read_text())["results"]
    mmlu5 = np.mean([raw[f"hendrycksTest-{s}"]["acc"] for s in MMLU_SUBJECTS])
    assert row["MMLU"] == pytest.approx(mmlu5, abs=1e-15)  # 5-shot file, unweighted over the 57 subjects
    assert row["ARC-C"] == raw["arc_challenge"]["acc_norm"]  # acc_norm; 5-shot is closer to 25 than 0-shot
    assert row["Winograd"] == raw["winogrande"]["acc"]  # the 5-shot measurement, as the reference
    assert set(bt.missing()[row["Model"]]) == {"HellaSwag", "TruthfulQA", "GSM8K", "XWinograd", "HumanEval"}
    prov = bt.provenance.set_index("benchmark")
    assert prov.loc["ARC-C", "status"] == "shots" and prov.loc["ARC-C", "n_shot"] == 5
    assert prov.loc["Winograd", "status"] == "ok"
    w = " | ".join(bt.warnings)
    assert "ARC-C measured 5-shot" in w and "25-shot" in w
    assert "hendrycksTest version 0" in w


def test_v04_fixture_reads_the_reference_values(ref_table):
    bt = read_benchmarks(V04)
    assert bt.warnings == ()
    row = bt.table.set_index("Model").loc["EleutherAI/pythia-1.4b-deduped", list(BENCHMARKS)]
    ref = ref_table.loc["EleutherAI/pythia-1.4b-deduped", list(BENCHMARKS)]
    np.testing.assert_allclose(row.to_numpy(float), ref.to_numpy(float), atol=1e-12)
    obj = json.loads(next(V04.rglob("results_*.json")).read_text())
    assert abs(obj["results"]["mmlu"]["acc,none"] - ref["MMLU"]) > 1e-3  # the group row was not used
    assert set(bt.provenance["status"]) == {"ok"}


def test_leaderboard_fixture_reads_six_benchmarks(ref_table):
    bt = read_benchmarks(LB)
    m = "EleutherAI/pythia-2.8b-deduped"
    row = bt.table.set_index("Model").loc[m]
    for b in ("MMLU", "ARC-C", "HellaSwag", "Winograd", "TruthfulQA", "GSM8K"):
        assert row[b] == pytest.approx(ref_table.loc[m, b], abs=1e-12)
    assert np.isnan(row["XWinograd"]) and np.isnan(row["HumanEval"])
    assert set(bt.provenance.loc[bt.provenance.status != "missing", "format"]) == {"leaderboard-v1"}


def test_percent_csv_is_detected_and_converted(tmp_path):
    p = tmp_path / "mine.csv"
    p.write_text("Model,MMLU,ARC-C,GSM8K\nm1,45.5,52.0,0.5\n")
    bt = read_benchmarks(p)
    assert bt.table.loc[0, "MMLU"] == pytest.approx(0.455) and bt.table.loc[0, "GSM8K"] == pytest.approx(0.005)
    assert any("percent" in w for w in bt.warnings)


@pytest.mark.parametrize("case", ["truncated", "no_metric", "twice", "mixed_csv", "mixed_json"])
def test_malformed_inputs_are_one_line_input_errors(tmp_path, case):
    src = next(V04.rglob("results_*.json"))
    if case == "truncated":
        p = tmp_path / "results_x.json"
        p.write_text(src.read_text()[:5000])
        match = "not valid JSON"
    elif case == "no_metric":
        obj = json.loads(src.read_text())
        obj["results"]["arc_challenge"] = {"alias": "arc_challenge", "acc_norm,none": "N/A"}
        p = tmp_path / "results_x.json"
        p.write_text(json.dumps(obj))
        match = "task 'arc_challenge' has no usable metric for ARC-C"
    elif case == "twice":
        for name in ("a", "b"):
            (tmp_path / name).mkdir()
            (tmp_path / name / src.name).write_text(src.read_text())
        p = tmp_path
        match = "appears twice"
    elif case == "mixed_csv":
        p = tmp_path / "mine.csv"
        p.write_text("Model,MMLU,ARC-C\nm1,45.5,0.52\n")
        match = "percent and fraction mixed"
    else:
        obj = json.loads(src.read_text())
        obj["results"]["winogrande"]["acc,none"] = 57.3
        p = tmp_path / "results_x.json"
        p.write_text(json.dumps(obj))
        match = "percent and fraction mixed"
    with pytest.raises(InputError, match=match) as e:
        read_benchmarks(p)
    assert "\n" not in str(e.value)
    assert (p.name if p.is_file() else "appears twice") in str(e.value)


def test_shot_and_metric_mismatch_warn(tmp_path):
    obj = to_lm_eval_v04("me/m", {"ARC-C": 0.4, "HellaSwag": 0.6, "MMLU": 0.3}, n_shot={"ARC-C": 0})
    obj["results"]["hellaswag"] = {"alias": "hellaswag", "acc,none": 0.5}  # acc only: fallback metric
    (tmp_path / "results_m.json").write_text(json.dumps(obj))
    bt = read_benchmarks(tmp_path)
    w = " | ".join(bt.warnings)
    assert "me/m: ARC-C measured 0-shot" in w and "HellaSwag read from hellaswag acc" in w
    st = bt.provenance.set_index("benchmark")["status"]
    assert st["ARC-C"] == "shots" and st["HellaSwag"] == "metric" and st["MMLU"] == "ok"


# ---------------------------------------------------------------------------------------------------------- placing
@pytest.fixture(scope="module")
def round_trip(tmp_path_factory, data_dir):
    """The 77 reference models written out as lm-eval v0.4 files and placed back (no bootstrap)."""
    from scalescope.observational import datasets as D
    from scalescope.observational.placement import place

    base = D.base_models()
    d = tmp_path_factory.mktemp("rt")
    for _, r in base.iterrows():
        write_lm_eval_v04(d, r["Model"], {b: r[b] for b in BENCHMARKS})
    return base, place(d, n_boot=0)


def test_round_trip_lands_on_own_pcs_and_predictions(round_trip):
    from scalescope.observational.analyses import capability_space

    base, res = round_trip
    space = capability_space(base)
    own = pd.DataFrame(space.capabilities.scores_train[:, :3], index=base["Model"], columns=["PC-1", "PC-2", "PC-3"])
    placed = res.params.loc[own.index]
    complete = base.set_index("Model")[list(BENCHMARKS)].notna().all(axis=1)
    err = (placed - own).abs().max(axis=1)
    assert complete.sum() == 71
    assert err[complete].max() < ROUND_TRIP_TOL
    # the 6 models with a missing cell: imputed row by row with the final reference PCA, not jointly as in the fit
    assert err[~complete].max() < 1e-5  # measured 4e-7 (tol 1e-4 stopping rule of the imputer)
    # family and FLOPs came back from the reference table (same ids): compute position and equivalence are defined
    assert res.placements[["Model Family", "FLOPs (1E21)"]].notna().sum().tolist() == [77, 75]
    # predictions: every target's in-sample prediction of a complete training model is reproduced
    n = 0
    for key, law in res.laws.items():
        if key in ("agentbench", "agentboard"):  # fitted on the instruct models, none of which is a base model
            continue
        p = law.predictions[law.predictions.split == "train"].set_index("Model")
        got = res.predictions[res.predictions.target == key].set_index("Model")
        common = [m for m in p.index if m in got.index and complete.get(m, False)]
        assert common, key
        np.testing.assert_allclose(got.loc[common, "y_pred_normalised"], p.loc[common, "y_pred"],
                                   atol=ROUND_TRIP_TOL, rtol=0)
        n += len(common)
    assert n > 300
    assert any("also a reference model" in w for w in res.warnings)


def test_round_trip_equivalent_compute_matches_the_reference_line(round_trip):
    from scalescope.observational.compute import equivalent_compute

    base, res = round_trip
    pl = res.placements.set_index("Model")
    eq = equivalent_compute(pl.loc[base["Model"], "PC-1"], base["Model Family"], base["FLOPs (1E21)"], "Llama-2")
    np.testing.assert_allclose(pl.loc[base["Model"], "equiv_log10_flops"], eq.x_log10, atol=1e-9)
    llama = pl[pl["Model Family"] == "Llama-2"]
    # on its own family line, a Llama-2 model's equivalent compute is close to its actual compute (R² 1.000)
    assert np.abs(llama["log10_efficiency"]).max() < 0.05
    assert (pl["family_fit"].dropna() != "").sum() == 75


def test_place_pythia_v03_with_meta_and_bootstrap(pythia12, data_dir):
    from scalescope.observational.placement import place
    from scalescope.observational.preregister import content_hash, score

    meta = pd.DataFrame({"Model": ["EleutherAI/pythia-v1.1-12b-deduped"], "Model Family": ["Pythia"],
                         "FLOPs (1E21)": [21.6]})
    res = place(pythia12, meta=meta, targets=["word_unscramble", "cot_greedy"], n_boot=30, seed=1)
    r = res.placements.iloc[0]
    assert r["imputed"] == "HellaSwag, TruthfulQA, GSM8K, XWinograd, HumanEval"
    assert r["family_fit"] == "reference" and np.isfinite(r["family_pc1_residual"])
    assert np.isfinite(r["log10_efficiency"])
    p = res.predictions
    assert (p["y_pred_lo"] <= p["y_pred"] + 1e-12).all() and (p["y_pred"] <= p["y_pred_hi"] + 1e-12).all()
    assert (p["y_pred_hi"] > p["y_pred_lo"]).all()
    pre = res.preregistration
    assert pre["sha256"] == content_hash(pre)
    em = pd.read_csv(data_dir / "obsscaling" / "base_llm_emergent_capability_eval.csv")
    actual = pd.DataFrame({"Model": ["EleutherAI/pythia-v1.1-12b-deduped"], "word_unscrambling_2_exact_match":
                           em.set_index("Model").loc["EleutherAI/pythia-12b-deduped", "word_unscrambling_2_exact_match"]})
    sc = score(pre, actual)
    assert sc["hash_ok"] and sc["targets"]["word_unscrambling_2_exact_match"]["n"] == 1
    assert "PC-1" in res.params.columns and len(res.to_frame()) == 1
    assert "PlacementResult" in res.summary()


def test_new_family_gets_its_own_compute_line(data_dir):
    from scalescope.observational import datasets as D
    from scalescope.observational.placement import place

    base = D.base_models().set_index("Model")
    mods = base.loc[["EleutherAI/pythia-410m-deduped", "EleutherAI/pythia-2.8b-deduped",
                     "EleutherAI/pythia-12b-deduped"], list(BENCHMARKS) + ["FLOPs (1E21)"]].reset_index()
    mods["Model"] = ["mine-a", "mine-b", "mine-c"]
    mods["Model Family"] = "Mine"
    res = place(mods, targets=["persian_qa"], n_boot=0)
    pl = res.placements
    assert set(pl["family_fit"]) == {"placed models"}
    fam = res.family_fits.set_index("family")
    pyt = fam.loc["Pythia"]
    # same scores as three Pythia models: the new family's slope is of Pythia's order
    assert fam.loc["Mine", "slope"] == pytest.approx(pyt["slope"], rel=0.5)
    assert np.abs(pl["family_pc1_residual"]).max() < 0.1


def test_reference_sets_and_holdout(data_dir):
    from scalescope.observational import datasets as D
    from scalescope.observational import place  # the flat public API

    assert len(D.reference_set("base+preregistered")) == 97
    assert len(D.reference_set("base")) == 77
    with pytest.raises(InputError, match="reference set"):
        D.reference_set("nope")
    base = D.base_models()
    one = base[base.Model == "google/gemma-7b"]
    kept = place(one, targets=["persian_qa"], n_boot=0)
    held = place(one, targets=["persian_qa"], n_boot=0, holdout=True)
    assert len(held.reference_models) == 76 and len(kept.reference_models) == 77
    assert held.placements["PC-1"].iloc[0] != pytest.approx(kept.placements["PC-1"].iloc[0], abs=1e-9)
    with pytest.raises(InputError, match="--reference"):
        place(one, reference="preregistered", n_boot=0)
