"""The named emergence case of spec §0.3 / §4.5: OLMo 2 7B MMLU, multiple-choice letter vs cloze accuracy vs bits per
byte across checkpoints, the MC jump and a backtest of each series from the checkpoints before it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from scalescope.emergence.predictors import predict_compute_sigmoid, predict_two_step
from scalescope.errors import InputError
from scalescope.results import Result


@dataclass(frozen=True)
class MCJumpCase(Result):
    """OLMo 2 7B MMLU (mean of the 4 validation splits) across checkpoints: MC-letter vs cloze accuracy vs bpb.

    ``anchors``: the spec §4.5 rows; ``jump``: the largest single-interval MC increase and the cloze/bpb change
    over the same interval relative to their typical |change|; ``backtest``: each series predicted at the final
    checkpoint from checkpoints up to ``fit_until_step`` (compute-sigmoid; two-step through bpb).
    """

    series: pd.DataFrame
    anchors: pd.DataFrame
    jump: dict
    backtest: pd.DataFrame
    fit_until_step: int


def olmo_mmlu_mc_case(table: pd.DataFrame, *, model: str = "OLMo-2-7B", fit_until_step: int = 55000) -> MCJumpCase:
    """The named emergence case of spec §0.3 / §4.5 from the olmo-ladder canonical table."""
    t = table[(table["model"] == model) & table["task"].str.match(r"^mmlu_.*_val$")]
    if t.empty:
        raise InputError(f"olmo_mmlu_mc_case: no MMLU validation rows for model {model!r}")
    sel = {"mc_acc": (t["metric"] == "acc") & (t["prompt_format"] == "mc"),
           "cloze_acc": (t["metric"] == "acc") & (t["prompt_format"] == "cloze"),
           "bpb": t["metric"] == "bpb"}
    cols = {}
    for name, m in sel.items():
        g = t[m].groupby("step")
        # mean of the 4 splits, only at steps where all 4 are present
        cols[name] = g["value"].mean().where(g["value"].count() == 4)
    S = pd.DataFrame(cols).dropna().reset_index()
    fl = t.groupby("step")["train_flops"].first()
    S["train_flops"] = S["step"].map(fl)
    anchors = S[S["step"].isin([0, 50000, 55000, 60000, 65000, S["step"].max()])].reset_index(drop=True)
    d = S[["mc_acc", "cloze_acc", "bpb"]].diff().iloc[1:]
    i = int(d["mc_acc"].to_numpy().argmax()) + 1
    typical = d.abs().median()
    jump = {
        "from_step": int(S["step"].iloc[i - 1]), "to_step": int(S["step"].iloc[i]),
        "mc_change": float(d["mc_acc"].iloc[i - 1]), "cloze_change": float(d["cloze_acc"].iloc[i - 1]),
        "bpb_change": float(d["bpb"].iloc[i - 1]),
        "mc_change_over_typical": float(abs(d["mc_acc"].iloc[i - 1]) / typical["mc_acc"]),
        "cloze_change_over_typical": float(abs(d["cloze_acc"].iloc[i - 1]) / typical["cloze_acc"]),
        "bpb_change_over_typical": float(abs(d["bpb"].iloc[i - 1]) / typical["bpb"]),
    }
    pre = S[(S["step"] <= fit_until_step) & (S["train_flops"] > 0)]
    fin = S.iloc[[-1]]
    x_tr, x_te = np.log10(pre["train_flops"].to_numpy(float)), np.log10(fin["train_flops"].to_numpy(float))
    rows = []
    for series in ("mc_acc", "cloze_acc"):
        y = pre[series].to_numpy(float)
        p1 = predict_compute_sigmoid(x_tr, y, x_te, 0.25)[0]
        p2, _ = predict_two_step(x_tr, pre["bpb"].to_numpy(float), x_te, pre["bpb"].to_numpy(float), y, 0.25)
        for m, p in (("compute-sigmoid", p1), ("two-step", float(p2[0]))):
            a = float(fin[series].iloc[0])
            rows.append(dict(series=series, method=m, actual=a, predicted=float(p), abs_error=abs(float(p) - a)))
    return MCJumpCase(series=S, anchors=anchors, jump=jump, backtest=pd.DataFrame(rows), fit_until_step=fit_until_step)
