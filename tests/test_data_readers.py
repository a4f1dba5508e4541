"""Readers for users' own results: lm-evaluation-harness JSON (v0.4 and v0.3), the canonical long CSV, to_wide."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalescope.data import read_lm_eval, read_long_csv, to_wide
from scalescope.data.lm_eval import COLUMNS
from scalescope.data.text import split_speaker_blocks, split_wikitext
from scalescope.errors import InputError

FIXTURES = Path(__file__).parent / "fixtures" / "data" / "lm_eval"
V04 = FIXTURES / "EleutherAI__pythia-160m" / "results_2024-06-03T14-21-07.512345.json"


def test_lm_eval_v04_file():
    df = read_lm_eval(V04)
    assert list(df.columns) == list(COLUMNS)
    assert len(df) == 9
    assert set(df["model"]) == {"EleutherAI/pythia-160m"}
    assert set(df["revision"]) == {"step143000"}
    gsm = df[df.task == "gsm8k"].set_index("filter")
    assert gsm.loc["flexible-extract", "value"] == pytest.approx(0.018953752843062926)
    assert gsm.loc["strict-match", "stderr"] == pytest.approx(0.002389281512077243)
    assert set(gsm["n_shot"]) == {5}
    ppl = df[(df.task == "lambada_openai") & (df.metric == "perplexity")].iloc[0]
    assert pd.notna(ppl["higher_is_better"]) and not ppl["higher_is_better"]
    mmlu = df[df.task == "mmlu"].iloc[0]
    assert bool(mmlu["is_group"]) and pd.isna(mmlu["stderr"])  # "N/A" stderr of a group -> NaN
    assert not df.loc[df.task == "mmlu_anatomy", "is_group"].any()
    assert "alias" not in set(df["metric"])


def test_lm_eval_directory_is_recursive_and_reads_v03():
    df = read_lm_eval(FIXTURES)
    assert sorted(df["source_file"].unique()) == [
        "EleutherAI__pythia-160m/results_2024-06-03T14-21-07.512345.json",
        "v03/results_pythia-70m_step3000.json",
    ]
    v03 = df[df.source_file.str.startswith("v03")]
    assert set(v03["model"]) == {"EleutherAI/pythia-v1.1-70m"}
    assert set(v03["revision"]) == {"step3000"}
    assert set(v03["filter"]) == {"none"} and set(v03["n_shot"]) == {0}
    ppl = v03[(v03.task == "lambada_openai") & (v03.metric == "ppl")].iloc[0]
    assert ppl["value"] == pytest.approx(1150.3282424932452) and ppl["stderr"] == pytest.approx(
        53.91186234431004
    )
    assert v03["higher_is_better"].isna().all()


def test_lm_eval_reads_the_shared_pythia_files(data_dir):
    df = read_lm_eval(data_dir / "pythia-evals" / "opt")
    assert df["source_file"].nunique() == 8
    assert set(df["model"]) >= {"facebook/opt-125m", "facebook/opt-66b"}


def test_long_csv_aliases_and_types(tmp_path):
    p = tmp_path / "long.csv"
    p.write_text(
        "model,family,task,metric,metric_kind,value,params_total,train_flops,chance_level,higher_is_better,step\n"
        "a,f,arith,exact_match,HARD,0.0,1e8,6e17,0,true,\n"
        "b,f,arith,exact_match,hard,0.3,1e10,6e19,0,1,\n"
        "b,f,arith,log_p,soft,-2.5,1e10,6e19,,False,\n"
    )
    df = read_long_csv(p)
    assert {"params_total", "train_flops", "chance_level"} <= set(df.columns)  # the canonical (§1.4) spellings
    assert df["metric_kind"].tolist() == ["hard", "hard", "soft"]
    assert df["higher_is_better"].tolist() == [True, True, False]
    assert df["params_total"].dtype == float and df["step"].isna().all()
    # the short spellings are aliases, renamed to the canonical names
    p.write_text(p.read_text().replace("params_total,train_flops,chance_level", "params,flops,chance"))
    short = read_long_csv(p)
    assert "params" not in short.columns and short["params_total"].tolist() == df["params_total"].tolist()


def test_to_wide_and_duplicates():
    long = pd.DataFrame(
        {"model": ["a", "a", "b"], "task": ["x", "y", "x"], "metric": "acc", "value": [1.0, 2.0, 3.0]}
    )
    wide = to_wide(long)
    assert list(wide.columns) == ["x/acc", "y/acc"] and wide.loc["b", "x/acc"] == 3.0
    assert list(to_wide(long, columns="task").columns) == ["x", "y"]
    with pytest.raises(InputError, match=r"to_wide: duplicate values in columns \(model, task, metric\)"):
        to_wide(pd.concat([long, long.iloc[:1]]))


def test_to_wide_of_pythia(data_dir):
    from scalescope import data

    df = data.load("pythia-evals").query("family == 'pythia' and shots == 0 and metric == 'acc'")
    wide = to_wide(df, index=["model", "step"], columns="task")
    assert wide.shape[0] == 16 * 27


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.sampled_from([" = A = \n", " = = S = = \n", " text \n", " \n", "\n", " = B = \n"]), max_size=30
    )
)
def test_wikitext_split_is_lossless(lines):
    text = "".join(lines)
    df = split_wikitext(text)
    assert "".join(df["text"]) == text
    assert df["doc_id"].tolist() == list(range(len(df)))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["KING:\n", "Speak.\n", "\n", "All:\n", "x y\n"]), max_size=30))
def test_speaker_split_is_lossless(lines):
    text = "".join(lines)
    df = split_speaker_blocks(text)
    assert "".join(df["text"]) == text
