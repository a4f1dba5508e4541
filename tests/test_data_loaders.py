"""Every named dataset loads from the shared data with the shapes its SOURCE.md documents."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from scalescope import data
from scalescope.data import registry as reg


@pytest.mark.parametrize(
    "name, shape",
    [
        ("obsscaling-base", (148, 13)),
        ("obsscaling-base-sub10b", (92, 13)),
        ("obsscaling-emergent", (84, 9)),
        ("obsscaling-post-training", (96, 235)),
        ("obsscaling-instruct", (27, 14)),
        ("obsscaling-agent", (27, 30)),
    ],
)
def test_obsscaling_shapes(data_dir, name, shape):
    df = data.load(name)
    assert df.shape == shape
    assert df["Model"].is_unique


def test_obsscaling_base_is_upstream_as_is(data_dir):
    df = data.load("obsscaling-base")
    assert list(df.columns) == [
        "Model", "Model Family", "Model Size (B)", "Pretraining Data Size (T)", "FLOPs (1E21)",
        "MMLU", "ARC-C", "HellaSwag", "Winograd", "TruthfulQA", "GSM8K", "XWinograd", "HumanEval",
    ]  # fmt: skip
    # SOURCE.md: Llama-2-7B = 7B params x 2T tokens -> FLOPs (1E21) = 84; 25 rows without FLOPs; 47 families.
    llama = df.set_index("Model").loc["meta-llama/Llama-2-7b-hf"]
    assert llama["FLOPs (1E21)"] == 84.0
    assert df["FLOPs (1E21)"].isna().sum() == 25
    assert df["Model Family"].nunique() == 47
    # sub-10b is a strict subset with identical values
    sub = data.load("obsscaling-base-sub10b").set_index("Model")
    pd.testing.assert_frame_equal(sub, df.set_index("Model").loc[sub.index])


def test_obsscaling_post_training_keeps_negative_scores(data_dir):
    df = data.load("obsscaling-post-training")
    assert (
        df.select_dtypes("number") == -1.0
    ).sum().sum() == 596  # SOURCE.md: -1.0 in 596 cells, real scores


def test_olmo_ladder(data_dir):
    df = data.load("olmo-ladder")
    assert list(df.columns[:4]) == ["run", "size", "multiplier", "params"]
    assert df["run"].nunique() == 42
    assert df.groupby("size")["run"].nunique().to_dict() == {
        "190M": 6, "370M": 6, "760M": 6, "1B": 7, "3B": 6, "7B": 8, "13B": 3,
    }  # fmt: skip
    ladder = df[df["multiplier"].notna()]
    assert sorted(ladder["multiplier"].unique()) == [0.5, 1.0, 2.0, 5.0, 10.0]
    assert ladder["run"].nunique() == 30
    assert df.loc[df.run == "peteish7_eval_full", "multiplier"].isna().all()
    assert (df.loc[df.run == "peteish7_eval_full", "_step"].max()) == 925000
    assert len(df[df.run == "peteish7_eval_full"]) == 186
    assert df.loc[df["size"] == "1B", "params"].dropna().unique().tolist() == [1279395840.0]
    assert "eval/downstream/hellaswag_val_rc_5shot_len_norm" in df.columns
    assert "eval/downstream/arc_challenge_test_mc_5shot_acc" in df.columns  # 7B/13B MC format
    counts = df.groupby("run").size()
    assert counts[~counts.index.str.startswith("peteish")].between(37, 202).all()


def test_gadre(data_dir):
    df = data.load("gadre-scaling")
    assert len(df) == 104 and df["model"].is_unique
    assert df["dataset"].value_counts().to_dict() == {"rpj": 35, "rw_original": 35, "c4_original": 34}
    loss_cols = [c for c in df.columns if c.startswith("loss_")]
    assert len(loss_cols) == 8 and "loss_paloma_ptb" in loss_cols and "loss_openlm" in loss_cols
    task_cols = [c for c in df.columns if c not in data.gadre.META_COLUMNS and not c.startswith("loss_")]
    assert len(task_cols) == 46
    assert df[task_cols].stack().between(0, 1).all()
    sizes = df["params"].round(-5).value_counts().sort_index()
    assert sizes.tolist() == [24, 24, 24, 23, 6, 3]  # SOURCE.md counts per size
    # SOURCE.md: max simple_arithmetic_nospaces accuracy at 1.44B is 0.028
    mx = df.groupby(df["params"].round(-7))["simple_arithmetic_nospaces"].max()
    assert mx.iloc[4] == pytest.approx(0.028, abs=5e-4)
    tasks = data.load("gadre-scaling-tasks")
    assert "Random baseline" in tasks.columns and "Eval Task" in tasks.columns


def test_pythia(data_dir):
    df = data.load("pythia-evals")
    assert list(df.columns) == list(data.pythia.COLUMNS)
    files = df.groupby("family")["source_file"].nunique().to_dict()
    assert files == {"pythia": 672, "opt": 8, "bloom": 5}
    py = df[df.family == "pythia"]
    assert py["model"].nunique() == 16
    zero = py[py.shots == 0].groupby("model")["step"].nunique()
    five = py[py.shots == 5].groupby("model")["step"].nunique()
    assert (zero == 27).all() and (five == 15).all()
    assert df.loc[df.family != "pythia", "step"].isna().all()
    sel = (py.model == "pythia-12b") & (py.step == 143000) & (py.shots == 0)
    row = py[sel & (py.task == "lambada_openai") & (py.metric == "ppl")]
    assert len(row) == 1 and row["params"].item() == 11846072320
    assert row["tokens"].item() == 143000 * 2_097_152
    assert py.loc[py.model == "pythia-1b-bf16", "size"].unique().tolist() == ["1b"]
    assert set(py["deduped"]) == {True, False}
    assert df.loc[df.model == "bloom-7b1", "params"].unique().tolist() == [7.1e9]
    assert df["task"].nunique() == 87
    assert not df.duplicated(["model", "step", "shots", "task", "metric"]).any()


@pytest.mark.parametrize("name, loader_file", [("wikitext-2", "valid.txt"), ("tinyshakespeare", "input.txt")])
def test_text_corpora_are_lossless_document_splits(data_dir, name, loader_file):
    df = data.load(name)
    assert list(df.columns) == ["doc_id", "title", "text"]
    path = data.fetch(name)
    assert path.name == loader_file
    assert "".join(df["text"]) == path.read_text(encoding="utf-8")
    assert df["doc_id"].tolist() == list(range(len(df)))


def test_wikitext_articles(data_dir):
    df = data.load("wikitext-2")
    assert len(df) == 60  # the validation split holds 60 articles
    assert df["title"].iloc[0] == "Homarus gammarus"
    assert all(t.lstrip().startswith("= ") for t in df["text"])


def test_tinyshakespeare_speakers(data_dir):
    df = data.load("tinyshakespeare")
    assert df["title"].iloc[0] == "First Citizen"
    assert (df["title"] != "").mean() > 0.99


def test_list_datasets_covers_every_loadable_name():
    df = data.list_datasets()
    assert list(df.columns) == ["name", "title", "files", "n_files", "license", "upstream", "commit"]
    assert set(df["name"]) == set(data.DATASETS)
    assert df.set_index("name").loc["pythia-evals", "n_files"] == 685
    assert df["commit"].str.fullmatch(r"[0-9a-f]{40}").all()
    for name in data.DATASETS:
        mod = data.get_spec(name).module
        for const in ("SOURCE", "LICENSE", "CITATION", "NOTE"):
            assert getattr(mod, const), (name, const)
        assert mod.CITATION.lstrip().startswith("@")


def test_registry_agrees_with_source_md_checksums(data_dir):
    text = (data_dir / "obsscaling" / "SOURCE.md").read_text()
    listed = dict((f, h) for h, f in re.findall(r"^([0-9a-f]{64})\s+(\S+)$", text, flags=re.M))
    assert len(listed) == 7
    for fname, sha in listed.items():
        assert reg.registry()[f"obsscaling/{fname}"].sha256 == sha


def test_registry_is_complete_and_well_formed(data_dir):
    r = reg.registry()
    assert len(r) == 947
    counts = pd.Series([k.split("/", 1)[0] for k in r]).value_counts().to_dict()
    assert counts == {
        "pythia-evals": 685,
        "gadre-scaling": 210,
        "olmo-ladder": 42,
        "obsscaling": 7,
        "text": 3,
    }
    for key, e in r.items():
        assert re.fullmatch(r"[0-9a-f]{64}", e.sha256)
        assert e.url == reg.url_for(key)
        assert e.url.startswith("https://raw.githubusercontent.com/")
    assert r["pythia-evals/opt/opt-125m.json"].url.endswith(
        "/EleutherAI/pythia/a19eecb807ec2c79a39ebf18108816e6ffffc1d5/evals/opt/opt-125m.json"
    )
    assert r["obsscaling/LICENSE"].url.endswith("/4d6e1e43fd2635d04654aa77d1df9d5266ea0382/LICENSE")
    # regenerating from the shared copies gives exactly the committed registry (no file changed or appeared)
    fresh = {e.key: e for e in reg.make_registry(data_dir, out=None)}
    assert fresh == r


def test_fetch(data_dir):
    assert data.fetch("obsscaling-base").name == "base_llm_benchmark_eval.csv"
    assert data.fetch("olmo-ladder", "3B-5xC.csv").name == "3B-5xC.csv"
    assert data.fetch("obsscaling", "LICENSE").name == "LICENSE"
    with pytest.raises(data.InputError if hasattr(data, "InputError") else ValueError, match="pass file="):
        data.fetch("olmo-ladder")
    with pytest.raises(ValueError, match="no registered files match 'nope.csv'"):
        data.fetch("olmo-ladder", "nope.csv")


def test_load_returns_independent_frames(data_dir):
    a = data.load("obsscaling-instruct")
    a.loc[0, "MMLU"] = np.nan
    assert data.load("obsscaling-instruct")["MMLU"].notna().iloc[0]
