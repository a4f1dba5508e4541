"""OLMo 2 "model ladder" training-curve evaluations (Bhagia et al. 2024, "Establishing Task Scaling Laws via
Compute-Efficient Model Ladders", arXiv:2412.04403).

W&B exports of allenai/OLMo (branch ``ladder-1xC``) at commit 9bc064c7, ``scripts/scaling/data/peteish-moreeval/``:
one CSV per training run, one row per evaluated checkpoint. Each row carries hard metrics (accuracy), soft metrics
(p and log p of the correct option), task loss (bits per byte) and 11 held-out LM losses from the same forward passes,
which is what the emergence analyses (research/emergence.md §2A, metric choice) need.
"""

from __future__ import annotations

import re

import pandas as pd

from scalescope.data import registry as _reg
from scalescope.data.validate import check_numeric, read_csv_strict, require_columns

SOURCE = (
    "github.com/allenai/OLMo @ 9bc064c72b1439640993e7ff28238e7b8f855aee (branch ladder-1xC), "
    "scripts/scaling/data/peteish-moreeval/*.csv"
)
LICENSE = "Apache-2.0"
UPSTREAM = "https://github.com/allenai/OLMo/tree/ladder-1xC"
COMMIT = "9bc064c72b1439640993e7ff28238e7b8f855aee"
CITATION = """@inproceedings{bhagia2025ladder,
  title     = {Establishing Task Scaling Laws via Compute-Efficient Model Ladders},
  author    = {Bhagia, Akshita and Liu, Jiacheng and Wettig, Alexander and Heineman, David and Tafjord, Oyvind and
               Jha, Ananya Harsh and Soldaini, Luca and Smith, Noah A. and Groeneveld, Dirk and Koh, Pang Wei and
               Dodge, Jesse and Hajishirzi, Hannaneh},
  booktitle = {Conference on Language Modeling (COLM)},
  year      = {2025},
  note      = {arXiv:2412.04403}
}"""
NOTE = (
    "Ladder runs {190M,370M,760M,1B,3B} x {0.5,1,2,5,10}xC (+5 denser 1xC reruns); targets peteish7 (7B), "
    "peteish13 (13B), peteish7_medlr, peteish1 (1 row). Ladder '1B'/'3B' are 1.28B/3.17B parameters (upstream "
    "MODEL_PARAMS). Empty cells = eval not run at that step. The anneal file has no _step column. "
    "params of peteish1 (an OLMo 2 1B target) is NaN: its size is not in the upstream table."
)

#: Non-embedding + embedding parameter counts per ladder size, from upstream olmo/scaling/scaling_laws/utils.py
#: (``MODEL_PARAMS``, "updated with actual Peteish count").
MODEL_PARAMS: dict[str, int] = {
    "190M": 190354176,
    "370M": 371262464,
    "760M": 758220288,
    "1B": 1279395840,
    "3B": 3169537280,
    "7B": 6887575552,
    "13B": 13202396160,
}
#: Training FLOPs per token (same upstream file, ``MODEL_FLOPS``); multiply by tokens seen.
MODEL_FLOPS_PER_TOKEN: dict[str, int] = {
    "190M": 1903391232,
    "370M": 3443922944,
    "760M": 6373843968,
    "1B": 10109071360,
    "3B": 22970355200,
    "7B": 49412071424,
    "13B": 91335915520,
}

_LADDER_RE = re.compile(r"^(?P<size>\d+[MB])-(?P<mult>[\d.]+)xC(?:-rerun)?$")
_TARGET_RE = re.compile(r"^peteish(?P<size>\d+)_")

ADDED_COLUMNS = ("run", "size", "multiplier", "params")


def parse_run(stem: str) -> tuple[str, float]:
    """``(size, multiplier)`` of a run file stem: ``"760M-0.5xC"`` -> ``("760M", 0.5)``; targets get NaN.

    Examples
    --------
    >>> parse_run("760M-0.5xC"), parse_run("1B-1xC-rerun"), parse_run("peteish13_eval_full")
    (('760M', 0.5), ('1B', 1.0), ('13B', nan))
    """
    m = _LADDER_RE.match(stem)
    if m:
        return m["size"], float(m["mult"])
    m = _TARGET_RE.match(stem)
    if m:
        return f"{m['size']}B", float("nan")
    raise ValueError(f"olmo-ladder: cannot parse run name {stem!r}")


def load(*, download: bool = True) -> pd.DataFrame:
    """All 42 run files concatenated: added columns ``run``, ``size``, ``multiplier``, ``params``, then upstream's.

    Column sets differ between ladder and target files (targets add MC-format accuracies, ladders add
    ``throughput/*`` and the learning rate); missing ones are NaN after concatenation.

    Examples
    --------
    >>> df = load()  # doctest: +SKIP
    >>> df.groupby("size")["run"].nunique().to_dict()  # doctest: +SKIP
    {'13B': 3, '190M': 6, '1B': 7, '370M': 6, '3B': 6, '760M': 6, '7B': 8}
    """
    frames = []
    for entry in _reg.entries("olmo-ladder"):
        if not entry.key.endswith(".csv"):
            continue
        stem = entry.relpath[: -len(".csv")]
        path = _reg.fetch_file(entry.key, download=download)
        df = read_csv_strict(path, label=entry.key)
        df = check_numeric(df, list(df.columns), label=entry.key)
        size, mult = parse_run(stem)
        # peteish1 is an OLMo 2 1B *target*, not the ladder's 1B config; don't pretend to know its size.
        params = float("nan") if stem.startswith("peteish1_") else float(MODEL_PARAMS[size])
        added = pd.DataFrame(
            {"run": stem, "size": size, "multiplier": mult, "params": params}, index=df.index
        )
        frames.append(pd.concat([added, df], axis=1))
    df = pd.concat(frames, ignore_index=True, sort=False)
    require_columns(df, ["_step"], label="olmo-ladder")
    df["multiplier"] = df["multiplier"].astype(float)
    df["params"] = df["params"].astype(float)
    return df
