"""Run README.md's commands the way a user does: verbatim, from a fresh working directory, relative paths as written.

Shared by ``tests/test_readme.py`` and ``tests/test_browser.py``. Every ``scalescope ...`` invocation in the README's
```` ```bash ```` blocks is extracted (``&&`` chains split, backslash continuations joined, ``#`` comments and
``VAR=value`` prefixes dropped; the environment the tests run in already sets ``SCALESCOPE_DATA_DIR``).

Sizes. By default a few size flags of the slow measurement commands are capped (``--steps`` 16, ``--samples`` 8,
``--prompt-tokens`` 16, ``--bootstrap`` 50) and the demo runs with ``SCALESCOPE_DEMO_SIZE=small`` (its documented
reduced sizes: every figure and table, noisier numbers) so the suite stays within its time budget; everything else
-- command, flags, relative paths -- is the README's text. Set ``SCALESCOPE_README_FULL=1`` to run every command exactly as
written (minutes more on 2 cores).

Inputs a user brings (``my_evals.csv``, ``my_task.csv``, an lm-eval ``results/`` folder) are made first by
:func:`make_user_inputs` from the shared datasets, in the formats the README describes; the repository's
``examples/`` folder (sweep specs the README names) is copied in, as a user reading the README has it.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
CAPS = {"--steps": 16, "--samples": 8, "--prompt-tokens": 16, "--bootstrap": 50}


def scalescope_exe() -> str:
    exe = Path(sys.executable).parent / "scalescope"
    return str(exe) if exe.exists() else "scalescope"


def readme_commands(text: str | None = None) -> list[list[str]]:
    """Every scalescope invocation in the README's bash blocks, as argv lists (``scalescope`` first), in order."""
    text = README.read_text(encoding="utf-8") if text is None else text
    cmds: list[list[str]] = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        block = re.sub(r"\\\n\s*", " ", block)
        for line in block.splitlines():
            for seg in line.split("&&"):
                try:
                    toks = shlex.split(seg, comments=True)
                except ValueError:
                    continue
                idx = next((i for i, t in enumerate(toks) if t == "scalescope" or t.endswith("/scalescope")), None)
                if idx is None:
                    continue
                cmds.append(["scalescope", *toks[idx + 1:]])
    return cmds


def scaled(argv: list[str]) -> list[str]:
    """``argv`` with the size flags in :data:`CAPS` capped, unless ``SCALESCOPE_README_FULL`` is set."""
    if os.environ.get("SCALESCOPE_README_FULL"):
        return list(argv)
    out = list(argv)
    for i, tok in enumerate(out[:-1]):
        if tok in CAPS:
            try:
                out[i + 1] = str(min(int(float(out[i + 1])), CAPS[tok]))
            except ValueError:
                pass
    return out


def make_user_inputs(workdir: Path, data_dir: Path) -> None:
    """The files a user brings to the README's commands, written into ``workdir``.

    ``my_evals.csv``: the paper's benchmark columns (and FLOPs, size, tokens) for 30 base models (a user's own evaluation table);
    ``my_task.csv``: one target column ``acc`` in [0, 1] for the same models (the emergent task
    ``word_unscrambling_2_exact_match`` of the reference tables, renamed); ``results/``: lm-evaluation-harness v0.4
    result files, as ``lm_eval --output_path results/`` writes them, with ``my_models.csv`` (family, FLOPs) and
    ``measured.csv`` (the reference tables' hard-task scores of those models, for ``obs score``).
    """
    import pandas as pd

    base = pd.read_csv(data_dir / "obsscaling" / "base_llm_benchmark_eval.csv")
    emergent = pd.read_csv(data_dir / "obsscaling" / "base_llm_emergent_capability_eval.csv")
    cols = ["Model", "Model Family", "Model Size (B)", "Pretraining Data Size (T)", "FLOPs (1E21)", "MMLU", "ARC-C", "HellaSwag", "Winograd", "TruthfulQA", "XWinograd",
            "HumanEval", "GSM8K"]
    cols = [c for c in cols if c in base.columns]
    mine = base[cols].dropna(subset=cols[5:]).head(30)
    mine.to_csv(workdir / "my_evals.csv", index=False)
    tcol = next(c for c in emergent.columns if c.startswith("word_unscrambl"))
    task = emergent[["Model", tcol]].rename(columns={tcol: "acc"})
    task[task["Model"].isin(mine["Model"])].to_csv(workdir / "my_task.csv", index=False)
    import shutil

    # the README is read in the repository root: the example files it names come with the checkout
    shutil.copytree(REPO / "examples", workdir / "examples", dirs_exist_ok=True)
    fixture = REPO / "tests" / "fixtures" / "lm_eval" / "v04"
    res = workdir / "results"
    res.mkdir(exist_ok=True)
    # the hand-made lm-eval v0.4 fixtures (see tests/fixtures/lm_eval/README.md for provenance), laid out as
    # `lm_eval --output_path results/` lays them out: results/<sanitised model name>/results_<timestamp>.json
    for f in sorted(fixture.rglob("results_*.json")):
        d = res / f.parent.name
        d.mkdir(exist_ok=True)
        d.joinpath(f.name).write_bytes(f.read_bytes())
    placed = [f.parent.name.replace("__", "/") for f in sorted(fixture.rglob("results_*.json"))]
    meta = base[base["Model"].isin(placed)][["Model", "Model Family", "FLOPs (1E21)"]]
    meta.to_csv(workdir / "my_models.csv", index=False)
    post = pd.read_csv(data_dir / "obsscaling" / "base_llm_post_training_eval.csv")
    measured = emergent.merge(post, on="Model", how="outer")
    measured[measured["Model"].isin(placed)].to_csv(workdir / "measured.csv", index=False)


def run(argv: list[str], cwd: Path, timeout: float = 1800) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.setdefault("TQDM_DISABLE", "1")
    if not os.environ.get("SCALESCOPE_README_FULL"):
        env.setdefault("SCALESCOPE_DEMO_SIZE", "small")  # the demo's documented reduced sizes
    return subprocess.run([scalescope_exe(), *argv[1:]], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


def missing_entries(html: str) -> list[str]:
    """The figures and tables a report page could not show (each is an ``<em class="missing">``)."""
    return re.findall(r'<em class="missing">(.*?)</em>', html, flags=re.S)


def report_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))
