"""`obs fit --target CSV:COLUMN` where COLUMN is also a benchmark name: the user's values are the target, and the
benchmark of that name is kept out of the capability space (no leakage)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from click.testing import CliRunner

from scalescope.cli import cli


def test_csv_target_named_like_a_benchmark_uses_the_csv_values(tmp_path, data_dir):
    base = pd.read_csv(data_dir / "obsscaling" / "base_llm_benchmark_eval.csv")
    mine = base[["Model"]].assign(MMLU=np.clip(0.5 * base["MMLU"].to_numpy() + 0.1, 0, 1))
    csv = tmp_path / "mine.csv"
    mine.to_csv(csv, index=False)
    out = tmp_path / "fit"
    res = CliRunner().invoke(cli, ["obs", "fit", "--benchmarks", "base", "--target", f"{csv}:MMLU",
                                   "--bootstrap", "0", "--quiet", "--out", str(out)])
    assert res.exit_code == 0, res.output
    result = json.loads((out / "result.json").read_text())
    pred = pd.DataFrame(result["predictions"]).set_index("Model")
    expected = mine.set_index("Model").loc[pred.index, "MMLU"]
    np.testing.assert_allclose(pred["y"].to_numpy(), expected.to_numpy(), atol=1e-12)
    assert "MMLU" not in result["capabilities"]["metrics"]
    assert len(result["capabilities"]["metrics"]) == 7
