"""Evaluation tables of "Observational Scaling Laws" (Ruan, Maddison, Hashimoto 2024, arXiv:2405.10938).

The six ``eval_results/*.csv`` files of ryoungj/ObsScaling at commit 4d6e1e43 (research/obsscaling.md; paper §3 uses
the base table for the capability PCA, §4-5 the emergent, post-training and instruct/agent tables). They are returned
exactly as upstream wrote them (column names such as ``Model``, ``Model Family``, ``FLOPs (1E21)``, ``MMLU``; empty
fields are NaN) because the analyses and the paper's code refer to those names.
"""

from __future__ import annotations

import pandas as pd

from scalescope.data import registry as _reg
from scalescope.data.validate import (
    check_numeric,
    check_positive,
    check_unique,
    read_csv_strict,
    require_columns,
)

SOURCE = "github.com/ryoungj/ObsScaling @ 4d6e1e43fd2635d04654aa77d1df9d5266ea0382 (2024-10-01), eval_results/*.csv"
LICENSE = "Apache-2.0"
UPSTREAM = "https://github.com/ryoungj/ObsScaling"
COMMIT = "4d6e1e43fd2635d04654aa77d1df9d5266ea0382"
CITATION = """@inproceedings{ruan2024observational,
  title     = {Observational Scaling Laws and the Predictability of Language Model Performance},
  author    = {Ruan, Yangjun and Maddison, Chris J. and Hashimoto, Tatsunori},
  booktitle = {Advances in Neural Information Processing Systems (NeurIPS)},
  year      = {2024},
  note      = {arXiv:2405.10938}
}"""
NOTE = (
    "Missing values are empty fields (NaN); -1.0 in the post-training table is a real normalised BBH score. "
    "Scores are fractions in [0,1] except BLEU (0-100) and AgentBench/AgentBoard (points/percent). "
    "FLOPs (1E21) = 6 * size(B) * tokens(T) where present; Mistral, Mixtral, Qwen2 (and other rows) have no FLOPs. "
    "MoE sizes follow no single convention. The authors' default loader keeps 77 models / 21 families of the 148."
)

#: table name -> (file, expected shape from SOURCE.md)
TABLES: dict[str, tuple[str, tuple[int, int]]] = {
    "base": ("base_llm_benchmark_eval.csv", (148, 13)),
    "base-sub10b": ("base_llm_benchmark_eval_sub_10b.csv", (92, 13)),
    "emergent": ("base_llm_emergent_capability_eval.csv", (84, 9)),
    "post-training": ("base_llm_post_training_eval.csv", (96, 235)),
    "instruct": ("instruct_llm_benchmark_eval.csv", (27, 14)),
    "agent": ("instruct_llm_agent_eval.csv", (27, 30)),
}

# Metadata columns in units, not scores: must be positive where present.
# The upstream tables' own column names (the schema every analysis and figure refers to).
MODEL_COL = "Model"
FAMILY_COL = "Model Family"
FLOPS_COL = "FLOPs (1E21)"
SIZE_COL = "Model Size (B)"

SIZE_COLUMNS = ("Model Size (B)", "Pretraining Data Size (T)", "FLOPs (1E21)")


def load(table: str = "base", *, download: bool = True) -> pd.DataFrame:
    """One ObsScaling table as upstream wrote it, checked (``Model`` present and unique, numbers numeric).

    Parameters
    ----------
    table : {"base", "base-sub10b", "emergent", "post-training", "instruct", "agent"}
    download : bool
        Allow a download from the pinned URL when the file is neither in ``$SCALESCOPE_DATA_DIR`` nor cached.

    Examples
    --------
    >>> df = load("base")  # doctest: +SKIP
    >>> df.shape, list(df.columns[:5])  # doctest: +SKIP
    ((148, 13), ['Model', 'Model Family', 'Model Size (B)', 'Pretraining Data Size (T)', 'FLOPs (1E21)'])
    """
    if table not in TABLES:
        from scalescope.data.validate import unknown_name

        raise unknown_name(table, TABLES, what="obsscaling table")
    fname, _ = TABLES[table]
    path = _reg.fetch_file(f"obsscaling/{fname}", download=download)
    label = f"obsscaling/{fname}"
    df = read_csv_strict(path, label=label)
    require_columns(df, ["Model"], label=label)
    check_unique(df, "Model", label=label)
    meta = {"Model", "Model Family"}
    df = check_numeric(df, [c for c in df.columns if c not in meta], label=label, key="Model")
    check_positive(df, [c for c in SIZE_COLUMNS if c in df.columns], label=label, key="Model")
    return df
