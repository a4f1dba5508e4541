"""The open_lm over-training testbed of Gadre et al. 2024 ("Language models scale reliably with over-training and on
downstream tasks", arXiv:2403.08540).

mlfoundations/scaling at commit a003c491, ``exp_data/``: 104 models (10.6M-6.9B parameters; C4, RedPajama or
RefinedWeb; 0.25-32x Chinchilla tokens), each with 8 held-out LM losses (``models/*.json``) and 46 downstream
accuracies (``evals/*_heavy.json``). Paper §4 relates loss to average top-1 error; the emergence analyses use the
per-task accuracies as hard metrics and the LM losses as the soft x-axis.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from scalescope.data import registry as _reg
from scalescope.data.validate import load_json, read_csv_strict
from scalescope.errors import InputError

SOURCE = "github.com/mlfoundations/scaling @ a003c4913793ac2ae7ef87b28ecb562955d026d5 (2024-04-01), exp_data/"
LICENSE = "MIT"
UPSTREAM = "https://github.com/mlfoundations/scaling"
COMMIT = "a003c4913793ac2ae7ef87b28ecb562955d026d5"
CITATION = """@article{gadre2024overtraining,
  title   = {Language models scale reliably with over-training and on downstream tasks},
  author  = {Gadre, Samir Yitzhak and Smyrnis, Georgios and Shankar, Vaishaal and Gururangan, Suchin and
             Wortsman, Mitchell and Shao, Rulin and Mercat, Jean and Fang, Alex and Li, Jeffrey and Keh, Sedrick and
             others},
  journal = {arXiv preprint arXiv:2403.08540},
  year    = {2024}
}"""
NOTE = (
    "Downstream metric is top-1 accuracy only (no per-task log-prob); the soft side is held-out LM loss "
    "(nats/token). Random baselines are in gadre-scaling-tasks ('Random baseline', in percent). Several generative "
    "tasks stay near 0 for every model and MMLU stays near 25%: trendless negative controls. flops = 6 * params * "
    "tokens (total parameters)."
)

META_COLUMNS = (
    "model",
    "dataset",
    "arch",
    "params",
    "params_no_embed",
    "tokens",
    "chinchilla_multiplier",
    "flops",
)


def _val_name(val_data) -> str:
    """Short name of a held-out set from its shard path, e.g. ``.../val_tok_mult/paloma_ptb/x.tar`` -> paloma_ptb."""
    path = val_data[0] if isinstance(val_data, list) else str(val_data)
    parts = path.split("/")
    if "val_tok_mult" in parts:
        return parts[parts.index("val_tok_mult") + 1]
    if "eval_data" in parts:
        return parts[parts.index("eval_data") + 1]
    return parts[-2]


def _json(entry_key: str, download: bool) -> dict:
    return load_json(_reg.fetch_file(entry_key, download=download), label=entry_key)


def load(*, download: bool = True) -> pd.DataFrame:
    """One row per model: metadata, ``loss_<val set>`` for the 8 LM losses, and one column per eval task.

    Examples
    --------
    >>> df = load()  # doctest: +SKIP
    >>> df.shape[0], df["dataset"].value_counts().to_dict()  # doctest: +SKIP
    (104, {'rpj': 35, 'rw_original': 35, 'c4_original': 34})
    """
    evals = {e.relpath: e.key for e in _reg.entries("gadre-scaling/evals")}
    rows = []
    for entry in _reg.entries("gadre-scaling/models"):
        m = _json(entry.key, download)
        hp = m.get("hyperparameters", {})
        name = m["name"]
        row = {
            "model": name,
            "dataset": m.get("dataset_name"),
            "arch": str(hp.get("model", "")).rsplit("/", 1)[-1].removesuffix(".json"),
            "params": float(hp["params"]),
            "params_no_embed": float(hp["params_no_embed"]),
            "tokens": float(hp["tokens"]),
            "chinchilla_multiplier": float(hp["chinchilla_multiplier"]),
        }
        row["flops"] = 6.0 * row["params"] * row["tokens"]
        for r in m.get("results", []):
            row[f"loss_{_val_name(r.get('val_data', ''))}"] = float(r["loss"])
        ekey = evals.get(f"evals/evaluation_{name}_heavy.json")
        if ekey is None:
            raise InputError(f"gadre-scaling: no evals/evaluation_{name}_heavy.json for model {name!r}")
        icl = _json(ekey, download).get("eval_metrics", {}).get("icl", {})
        for task, acc in icl.items():
            row[task] = float(acc) if acc is not None else np.nan
        rows.append(row)
    df = pd.DataFrame(rows)
    loss_cols = sorted(c for c in df.columns if c.startswith("loss_"))
    task_cols = [c for c in df.columns if c not in META_COLUMNS and not c.startswith("loss_")]
    return df[list(META_COLUMNS) + loss_cols + task_cols].sort_values("model", ignore_index=True)


def load_tasks(*, download: bool = True) -> pd.DataFrame:
    """``eval_metadata.csv`` as upstream wrote it: task, category, type, shots, datapoints, random baseline (%)."""
    key = "gadre-scaling/eval_metadata.csv"
    return read_csv_strict(_reg.fetch_file(key, download=download), label=key)
