"""CLI and end-to-end tests of ``scalescope emergence analyze|backtest`` on a hand-written long CSV fixture."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from scalescope.cli import cli
from scalescope.emergence.table import from_long_csv

FIX = Path(__file__).parent / "fixtures" / "emergence" / "long.csv"


def test_long_csv_reader_maps_aliases():
    t = from_long_csv(FIX)
    assert set(t["metric_kind"]) == {"hard", "soft", "loss"}
    assert t["params_total"].min() == 1e7 and t["train_flops"].notna().all()
    assert not t.loc[t["metric"] == "bpb", "higher_is_better"].any()


def test_analyze_and_backtest_on_fixture(tmp_path):
    r = CliRunner().invoke(cli, ["emergence", "analyze", "--data", str(FIX), "--out", str(tmp_path / "a"),
                                 "--quiet", "--n-boot", "30", "--quick"])
    assert r.exit_code == 0, r.output
    s = json.loads((tmp_path / "a" / "summary.json").read_text())
    arith = s["tasks"]["toy:arith:exact_match"]
    assert arith["emergent"] and "BIC" in arith["evidence"]
    assert not s["tasks"]["toy:arith:logp_target"]["emergent"]
    mc = {m["task"]: m["verdict"] for m in s["metric_choice"]}
    assert mc["arith"] == "metric-induced"
    assert (tmp_path / "a" / "section.json").exists()
    r = CliRunner().invoke(cli, ["emergence", "backtest", "--data", str(FIX), "--out", str(tmp_path / "b"),
                                 "--quiet", "--json"])
    assert r.exit_code == 0, r.output
    s = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert s["holdout"] == "size:2" and set(s["held_out_models"]) == {"xl", "xxl"}
    assert "compute-sigmoid" in s["tasks"]["toy:qa:acc"] and "two-step" in s["tasks"]["toy:qa:acc"]
    assert s["tasks"]["toy:qa:acc"]["compute-sigmoid"]["mae"] < 0.02


def test_backtest_methods_flag(tmp_path):
    r = CliRunner().invoke(cli, ["emergence", "backtest", "--data", str(FIX), "--out", str(tmp_path / "b"),
                                 "--quiet", "--methods", "compute-linear, compute-sigmoid"])
    assert r.exit_code == 0, r.output
    s = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert {m["method"] for m in s["leaderboard"]} == {"compute-linear", "compute-sigmoid"}
    assert (tmp_path / "b" / "predictions.csv").exists()
    r = CliRunner().invoke(cli, ["emergence", "backtest", "--data", str(FIX), "--out", str(tmp_path / "c"),
                                 "--methods", "compute-sigmoid,magic"])
    assert r.exit_code == 2 and "--methods: unknown method magic" in r.output
    assert len(r.output.strip().splitlines()) == 1 and not (tmp_path / "c").exists()


def _bad(tmp_path, df: pd.DataFrame) -> tuple[int, str]:
    p = tmp_path / "bad.csv"
    df.to_csv(p, index=False)
    r = CliRunner().invoke(cli, ["emergence", "analyze", "--data", str(p), "--out", str(tmp_path / "o")])
    return r.exit_code, r.output


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d[d["model"] == "tiny"], "at least 3 models"),
        # the data layer's long-CSV reader rejects NaN values itself; either way one line naming 'value'
        (lambda d: d.assign(value=float("nan")), "'value'"),
        (lambda d: d.assign(metric_kind="fuzzy"), "'fuzzy'"),
        (lambda d: d.assign(params=d["params"].where(d["metric"] != "bpb", d["params"] * 2)), "conflicting sizes"),
        (lambda d: d.assign(flops=d["flops"].iloc[::-1].to_numpy()), "not monotone"),
        (lambda d: d.assign(value=d["value"].where(d["metric"] != "bpb", float("nan"))), "'value'"),
        (lambda d: d.drop(columns=["value"]), "'value'"),
    ],
)
def test_bad_inputs_exit_2_one_line(tmp_path, mutate, message):
    code, out = _bad(tmp_path, mutate(pd.read_csv(FIX)))
    assert code == 2, out
    assert message in out and out.strip().count("\n") == 0
    assert not (tmp_path / "o").exists()


def test_unknown_dataset_and_help():
    r = CliRunner().invoke(cli, ["emergence", "analyze", "--data", "olmo-lader", "--out", "x"])
    assert r.exit_code == 2 and "did you mean 'olmo-ladder'" in r.output
    for cmd in ("analyze", "backtest"):
        r = CliRunner().invoke(cli, ["emergence", cmd, "--help"])
        assert r.exit_code == 0 and "Example:" in r.output
    r = CliRunner().invoke(cli, ["emergence", "backtest", "--data", str(FIX), "--out", "x", "--holdout", "foo:1"])
    assert r.exit_code == 2 and "--holdout" in r.output
