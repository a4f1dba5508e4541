"""lm-evaluation-harness results of the Pythia suite across sizes and training checkpoints (Biderman et al. 2023,
"Pythia: A Suite for Analyzing Large Language Models Across Training and Scaling", arXiv:2304.01373).

EleutherAI/pythia at commit a19eecb8: ``evals/pythia-v1`` (16 models x 27 zero-shot + 15 five-shot checkpoints) and
the OPT/BLOOM baselines (final checkpoints, zero-shot). Files are in the lm-eval-harness v0.3 format and are parsed by
:func:`scalescope.data.lm_eval.parse_results`; this module adds model size, parameter count, dedup flag, checkpoint
step and tokens seen. Used for training-step x-axes in the emergence analyses (research/emergence.md §2B).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from scalescope.data import registry as _reg
from scalescope.data.lm_eval import load_json, result_rows

SOURCE = (
    "github.com/EleutherAI/pythia @ a19eecb807ec2c79a39ebf18108816e6ffffc1d5, evals/pythia-v1/*, evals/opt/*, "
    "evals/bloom/*"
)
LICENSE = "Apache-2.0"
UPSTREAM = "https://github.com/EleutherAI/pythia"
COMMIT = "a19eecb807ec2c79a39ebf18108816e6ffffc1d5"
CITATION = """@inproceedings{biderman2023pythia,
  title     = {Pythia: A Suite for Analyzing Large Language Models Across Training and Scaling},
  author    = {Biderman, Stella and Schoelkopf, Hailey and Anthony, Quentin Gregory and Bradley, Herbie and
               O'Brien, Kyle and Hallahan, Eric and Khan, Mohammad Aflah and Purohit, Shivanshu and
               Prashanth, USVSN Sai and Raff, Edward and Skowron, Aviya and Sutawika, Lintang and van der Wal, Oskar},
  booktitle = {International Conference on Machine Learning (ICML)},
  year      = {2023},
  note      = {arXiv:2304.01373}
}"""
NOTE = (
    "lm-eval-harness v0.3 format; MMLU is 'hendrycksTest-*'. Only lambada_openai has a task-level soft metric (ppl). "
    "pythia-1b is the '-bf16' run (no plain pythia-1b folder upstream). shots come from config.num_fewshot (four "
    "'1b-bf16-5shot_step*' files in zero-shot/ are zero-shot). tokens = step x 2,097,152 for Pythia; OPT 180B and "
    "BLOOM 366B training tokens (their papers); OPT/BLOOM params are the nominal sizes in their names."
)

#: Total parameters (GPTNeoXForCausalLM, with embeddings) per Pythia size; Pythia paper Table 1.
PYTHIA_PARAMS: dict[str, int] = {
    "70m": 70426624,
    "160m": 162322944,
    "410m": 405334016,
    "1b": 1011781632,
    "1.4b": 1414647808,
    "2.8b": 2775208960,
    "6.9b": 6857302016,
    "12b": 11846072320,
}
TOKENS_PER_STEP = 2_097_152  # 1024 sequences x 2048 tokens
BASELINE_TOKENS = {"opt": 180e9, "bloom": 366e9}

_PYTHIA_DIR = re.compile(r"^pythia-(?P<size>[\d.]+[mb])(?P<variant>-deduped|-bf16)?$")
_STEP = re.compile(r"_step(?P<step>\d+)\.json$")
# bloom-7b1 = 7.1b
_NOMINAL = re.compile(r"^(?:opt|bloom)-(?P<num>\d+(?:\.\d+)?)(?P<unit>[mb])(?P<frac>\d+)?$")

COLUMNS = (
    "family", "model", "size", "params", "deduped", "step", "tokens", "shots",
    "task", "metric", "value", "stderr", "source_file",
)  # fmt: skip


def nominal_params(name: str) -> float:
    """Parameters implied by an OPT/BLOOM name: ``opt-1.3b`` -> 1.3e9, ``bloom-1b7`` -> 1.7e9, ``bloom-560m`` -> 5.6e8.

    Examples
    --------
    >>> nominal_params("opt-1.3b"), nominal_params("bloom-7b1"), nominal_params("bloom-560m")
    (1300000000.0, 7100000000.0, 560000000.0)
    """
    m = _NOMINAL.match(name)
    if not m:
        return float("nan")
    num = float(f"{m['num']}.{m['frac']}" if m["frac"] else m["num"])
    return num * (1e9 if m["unit"] == "b" else 1e6)


def _describe(relpath: str) -> dict:
    parts = relpath.split("/")
    if parts[0] == "pythia-v1":
        m = _PYTHIA_DIR.match(parts[1])
        size = m["size"]
        step = int(_STEP.search(parts[-1])["step"])
        return {
            "family": "pythia",
            "model": parts[1],
            "size": size,
            "params": float(PYTHIA_PARAMS[size]),
            "deduped": m["variant"] == "-deduped",
            "step": float(step),
            "tokens": float(step * TOKENS_PER_STEP),
        }
    family, fname = parts[0], parts[-1]
    name = fname.removesuffix(".json")
    return {
        "family": family,
        "model": name,
        "size": name.split("-", 1)[1],
        "params": nominal_params(name),
        "deduped": False,
        "step": np.nan,
        "tokens": BASELINE_TOKENS.get(family, np.nan),
    }


def load(*, download: bool = True) -> pd.DataFrame:
    """Long table: one row per (model, checkpoint, shots, task, metric) with value and stderr.

    Examples
    --------
    >>> df = load()  # doctest: +SKIP
    >>> df.query("model == 'pythia-12b' and step == 143000 and task == 'lambada_openai' and shots == 0")  # doctest: +SKIP
    """
    rows = []
    for entry in _reg.entries("pythia-evals"):
        if not entry.key.endswith(".json"):
            continue
        path = _reg.fetch_file(entry.key, download=download)
        info = _describe(entry.relpath)
        for r in result_rows(load_json(path, label=entry.key), label=entry.key):
            rows.append(
                {
                    **info,
                    "shots": r["n_shot"],
                    "task": r["task"],
                    "metric": r["metric"],
                    "value": r["value"],
                    "stderr": r["stderr"],
                    "source_file": entry.relpath,
                }
            )
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    df["deduped"] = df["deduped"].astype(bool)
    df["shots"] = df["shots"].astype("Int64")
    df["value"] = df["value"].astype(float)
    df["stderr"] = df["stderr"].astype(float)
    return df[list(COLUMNS)]
