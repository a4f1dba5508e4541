"""Writing a calibration-methods comparison: ``summary.json``, ``methods.csv``, figures and ``section.json``.

:func:`run_comparison` is ``scalescope calibrate compare`` as a library call: it runs
:func:`~scalescope.calibration.methods.compare.compare_methods` (engine runs of transformer models go into
``DIR/runs/``) and writes everything under the output contract (:mod:`scalescope.outputs`), so a failure leaves
nothing half-written and an earlier comparison is replaced only with ``overwrite=True``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from scalescope.outputs import output_dir, write_csv, writes_output

__all__ = ["run_comparison", "write_outputs"]


def run_comparison(cfg, out: str | Path, *, backend=None, progress=None, overwrite: bool = False) -> dict:
    """Compare the methods of ``cfg`` and write the result into ``out``; returns the summary dict."""
    from scalescope.calibration.methods.compare import compare_methods

    with output_dir(out, command="calibrate compare", overwrite=overwrite) as d:
        result = compare_methods(cfg, progress=progress, backend=backend,
                                 runs_dir=None if backend is None else d / "runs")
        summary = result.summary_dict()
        write_outputs(summary, d)
    return summary


@writes_output("calibrate compare", arg="out")
def write_outputs(summary: dict, out: Path, *, title: str = "Entropy-calibration methods", order: int = 60) -> None:
    """summary.json, methods.csv, figures and section.json for a comparison summary (output contract applies)."""
    from scalescope.report import write_section
    from scalescope.report.figures.methods import plot_alphas, plot_step_curves, plot_tradeoff
    from scalescope.report.style import new_figure, savefig
    from scalescope.results import write_json

    write_json(summary, out / "summary.json")
    rows = []
    pv = summary.get("paired_vs_base") or {}
    for name, e in summary["methods"].items():
        rows.append({"method": name, "entce": e["entce"], "entce_lo": e["entce_ci"][0], "entce_hi": e["entce_ci"][1],
                     "logloss": e["logloss"], "logloss_se": e["logloss_se"], "entropy": e["entropy"],
                     "logloss_diff_vs_base": pv.get(name, {}).get("logloss_diff", 0.0 if name == "base" else None),
                     "logloss_diff_vs_base_se": pv.get(name, {}).get("logloss_diff_se"),
                     "slope_per_1k": e["entce_slope_per_1k"], "coverage": e["coverage"],
                     "params": ";".join(f"{k}={v}" for k, v in e["params"].items() if k != "alphas")})
    write_csv(pd.DataFrame(rows), out / "methods.csv", float_format="%.5g")
    figs = []
    for fn, name, cap in [
        (plot_tradeoff, "tradeoff", "Held-out log loss vs |EntCE| per method (bars: SE / 95% bootstrap CI), "
                                    "with the per-step temperature path."),
        (plot_step_curves, "entce_steps", "Per-step EntCE_t of each method ("
         + ("exact DP entropies)." if summary.get("backend_kind", "ngram") == "ngram" else "sampled entropies).")),
        (plot_alphas, "alphas", "Fitted α_t of future-entropy scaling (Algorithm 1, "
         + ("exact DP)." if summary.get("backend_kind", "ngram") == "ngram" else "learned future-entropy head).")),
    ]:
        fig, ax = new_figure()
        fn(summary, ax)
        savefig(fig, out / f"{name}.png")
        figs.append((f"{name}.png", cap))
    g = summary.get("guarantees") or {}
    cfg = summary["config"]
    sp = summary.get("split") or {}
    how = {"passages": "a seeded permutation of non-overlapping passages (exchangeable halves; passages of one "
                       "document are correlated and appear in both halves, so TEST measures new passages of the "
                       "same documents)",
           "documents": "whole documents (held out per document; with few documents FIT and TEST differ "
                        "systematically)"}.get(sp.get("split", ""), "given passages")
    text = (f"Calibration methods on {cfg['model']} / {cfg['corpus']}: parameters fitted on {summary['n_fit']} "
            f"passages, scored on {summary['n_test']} held-out passages (P={cfg['prompt_tokens']}, T={cfg['steps']}; "
            f"FIT/TEST by {how}"
            + (f"; stride {sp['stride']}, SEs clustered by segment" if sp.get("se_clusters") == "segment" else "")
            + ")." + (" EntCE = H − L in nats/token with exact (DP) entropies." if summary.get("backend_kind", "ngram")
                      == "ngram" else " Every method measured with the engine (same weights/dtype for generation "
                      "and scoring); EntCE = H − L in nats/token with H the entropy along sampled generations "
                      f"({(summary.get('engine') or {}).get('samples_per_prompt')} per prompt)."))
    head = summary.get("head") or {}
    if head:
        text += (f" Learned future-entropy head: held-out RMSE δ = {head['delta_rmse']:.3f} nats vs "
                 f"{head['baseline_rmse']:.3f} for the per-step-mean label baseline")
        ridge = head.get("ridge")
        if ridge is not None:
            validated = bool(head.get("ridge_validation_rmse"))
            if ridge == "inf":
                text += ("; per-token part dropped " + ("on validation" if validated else
                                                        "(too few FIT prompts to validate one)")
                         + " (ridge = inf: the adjustment is a per-step temperature)")
            else:
                text += f"; per-token ridge {ridge:g} chosen on validation prompts"
        text += "."
    for m, why in (summary.get("skipped") or {}).items():
        text += f" {m}: {why}."
    label = {"future_entropy": "Future-entropy scaling", "future_entropy_eb": "With empirical-Bayes shrinkage"}
    for m, gm in (g.get("by_method") or {}).items():
        text += (f" {label.get(m, m)} vs base: log loss {gm['logloss_diff_minus_base']:+.4f} ± "
                 f"{gm['logloss_diff_se']:.4f} (paired SE; not worse: {gm['logloss_not_worse']}), |EntCE| "
                 f"{gm['abs_entce']:.4f} vs {gm['abs_entce_base']:.4f} (smaller: {gm['abs_entce_smaller']}).")
        mt = [x for x in summary.get("matched_temperature") or [] if x.get("method", "future_entropy") == m]
        if mt:
            text += " Against the temperature with the same |EntCE| on TEST: log loss " + ", ".join(
                f"{x['logloss_diff_fe_minus_temp']:+.4f} ± {x['logloss_diff_se']:.4f} (τ={x['tau']:.3f})" for x in mt
            ) + " (method − temperature)."
    metrics = {f"{k}.entce": v["entce"] for k, v in summary["methods"].items()}
    metrics |= {f"{k}.logloss": v["logloss"] for k, v in summary["methods"].items()}
    write_section(out, title=title, kind="calibration", summary=text, figures=figs,
                  tables=[("methods.csv", "Per-method held-out EntCE (95% CI), log loss (SE), paired log-loss change vs base (SE), "
                                          "fitted parameters.")],
                  metrics=metrics, order=order)
