"""Synthetic calibration runs with known answers, in the run-directory shard schema (for tests and examples).

The analysis (:mod:`scalescope.calibration.analysis`, spec §1.4–1.6) must recover EntCE, slopes and exponents that
are known in advance; these generators build per-(sample, step) records whose per-step entropy and human log loss
follow simple laws (entropy = ``h0 + slope_per_step * t``, log loss = ``l0``), plus optional noise, early EOS and
derailing samples, and write them as a run directory (``manifest.json`` + ``shards/shard-*.parquet``) exactly as the
engine would.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from scalescope.calibration.analysis import SMOOTH_LAMBDAS, smooth_column


def synthetic_records(
    *,
    n_samples: int = 32,
    n_steps: int = 64,
    h0: float = 2.0,
    slope_per_step: float = 0.0,
    l0: float = 1.5,
    noise: float = 0.0,
    eos_fraction: float = 0.0,
    derail_samples: int = 0,
    derail_factor: float = 3.0,
    truncated: bool = False,
    omit_dead_rows: bool = False,
    seed: int = 0,
) -> pd.DataFrame:
    """Per-(sample, step) records with entropy ``h0 + slope_per_step*t (+noise)`` and log loss ``l0 (+noise)``.

    ``eos_fraction`` of the samples stop (alive=False) half way; the first ``derail_samples`` samples have their
    entropy multiplied by ``derail_factor`` over the second half; ``truncated`` makes 10% of human tokens fall
    outside the kept set (human_logprob = -inf, smoothed columns finite).

    Examples
    --------
    >>> df = synthetic_records(n_samples=2, n_steps=3)
    >>> len(df), float(df.entropy_sampled.mean())
    (6, 2.0)
    """
    rng = np.random.default_rng(seed)
    sid, step = np.meshgrid(np.arange(n_samples), np.arange(n_steps), indexing="ij")
    sid, step = sid.ravel(), step.ravel()
    h = h0 + slope_per_step * step + noise * rng.standard_normal(step.size)
    loss = l0 + noise * rng.standard_normal(step.size)
    half = n_steps // 2
    if derail_samples:
        m = (sid < derail_samples) & (step >= half)
        h = np.where(m, h * derail_factor, h)
    n_eos = int(round(eos_fraction * n_samples))
    alive = ~((sid >= n_samples - n_eos) & (step > half))
    lp = -loss
    kept = np.ones(step.size, bool)
    if truncated:
        kept = rng.random(step.size) >= 0.1
        lp = np.where(kept, lp, -np.inf)
    df = pd.DataFrame(
        {
            "sample_id": sid.astype(np.int64),
            "step": step.astype(np.int32),
            "token_id": rng.integers(0, 100, step.size).astype(np.int64),
            "alive": alive,
            "logprob": (-h).astype(np.float32),
            "logprob_model": (-h).astype(np.float32),
            "entropy_sampled": h.astype(np.float32),
            "entropy_full": (h + 0.1).astype(np.float32),
            "human_token_id": rng.integers(0, 100, step.size).astype(np.int64),
            "human_logprob": lp.astype(np.float32),
            "human_logprob_model": (-loss).astype(np.float32),
            "human_entropy_sampled": np.full(step.size, l0, np.float32),
            "human_entropy_full": np.full(step.size, l0, np.float32),
            "human_in_kept": kept,
        }
    )
    for lam in SMOOTH_LAMBDAS:
        # finite everywhere: outside the kept set the mixture still gives mass λ·p̂
        v = np.where(kept, -loss, -loss + np.log(lam))
        df[smooth_column(lam)] = v.astype(np.float32)
    if omit_dead_rows:
        df = df[df["alive"]].reset_index(drop=True)
    return df


def write_synthetic_run(
    run_dir: str | Path,
    records: pd.DataFrame,
    *,
    manifest: dict | None = None,
    shard_size: int = 16,
    status: str = "complete",
) -> Path:
    """Write ``records`` as a run directory: ``manifest.json`` + ``shards/shard-%05d.parquet`` of ``shard_size``
    samples each. ``manifest`` entries override the defaults (model, sampler, steps, samples, status)."""
    run_dir = Path(run_dir)
    (run_dir / "shards").mkdir(parents=True, exist_ok=True)
    sids = np.unique(records["sample_id"].to_numpy())
    mf = {
        "tool": "scalescope",
        "model": {"spec": "synthetic"},
        "sampler": "",
        "seed": 0,
        "corpus": {"name": "synthetic", "sha256": ""},
        "prompt_tokens": 8,
        "steps": int(records["step"].max()) + 1,
        "samples": int(len(sids)),
        "n_skipped": 0,
        "shard_size": shard_size,
        "status": status,
    }
    mf.update(manifest or {})
    for k, start in enumerate(range(0, len(sids), shard_size)):
        chunk = records[records["sample_id"].isin(sids[start : start + shard_size])]
        chunk.to_parquet(run_dir / "shards" / f"shard-{k:05d}.parquet", index=False)
    (run_dir / "manifest.json").write_text(json.dumps(mf, indent=2), encoding="utf-8")
    return run_dir
