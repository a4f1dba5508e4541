"""Demo part for ``scalescope demo``: place a few reference models "as if they were new" from lm-eval files (issue 16).

Five models of five families (Pythia, Falcon, Gemma, Qwen1.5, Llama-3; Llama-3-8B has no ARC-C in the authors' table,
so one benchmark is imputed and flagged) are written out as lm-evaluation-harness v0.4 results files, exactly where
``lm_eval --output_path`` would put them, then placed with ``holdout`` (each is dropped from every reference fit, so
it is predicted out of sample). The section shows the placement figure, the predictions with family-cluster bootstrap
intervals, the pre-registration file, and the pre-registered predictions scored against the models' actual results.
"""

from __future__ import annotations

from pathlib import Path

from scalescope.outputs import writes_output

ORDER = 27
MODELS: tuple[str, ...] = (
    "EleutherAI/pythia-12b-deduped", "tiiuae/falcon-7b", "google/gemma-7b", "Qwen/Qwen1.5-14B",
    "meta-llama/Meta-Llama-3-8B",
)
N_BOOT = 40


@writes_output("demo obs-place")
def run_demo(out_dir: Path, *, quiet: bool = True) -> dict:
    """Write the placement demo into ``out_dir`` (offline, ~10 s); returns the scores of the predictions."""
    import pandas as pd

    from scalescope.data.benchmark_map import BENCHMARKS, write_lm_eval_v04
    from scalescope.observational import datasets as D
    from scalescope.observational.placement import place, write_placement
    from scalescope.observational.preregister import score
    from scalescope.report.section import write_section

    out_dir = Path(out_dir)
    base = D.load_table("obsscaling-base", offline=True).set_index("Model")  # DataNotFoundError offline-only
    inputs = out_dir / "lm_eval_results"
    for m in MODELS:
        write_lm_eval_v04(inputs, m, {b: float(base.at[m, b]) for b in BENCHMARKS})
    res = place(inputs, n_boot=N_BOOT, holdout=True)
    write_placement(res, out_dir, command="demo obs-place")
    # score the pre-registered predictions against what these models actually got (they were held out)
    em = D.load_table("obsscaling-emergent", offline=True)
    post = D.load_table("obsscaling-post-training", offline=True)
    actual = pd.DataFrame({"Model": list(MODELS)}).merge(em, on="Model", how="left").merge(post, on="Model",
                                                                                           how="left")
    sc = score(res.preregistration, actual)
    rows = pd.DataFrame(sc["rows"])
    rows.to_csv(out_dir / "scored.csv", index=False)
    p = res.predictions.merge(rows[["Model", "target", "y"]].rename(columns={"target": "column"}),
                              on=["Model", "column"], how="left")
    covered = p.dropna(subset=["y"])
    inside = ((covered["y"] >= covered["y_pred_lo"]) & (covered["y"] <= covered["y_pred_hi"])).mean()
    lines = [f"{t}: n={v['n']} MSE={v['mse']:.2e} (normalised scale)" for t, v in sc["targets"].items()]
    write_section(
        out_dir, title="Bring your own evaluations: placing models from lm-eval files", kind="obs",
        summary=("Five reference models written as lm-eval v0.4 results files (lm_eval_results/) and placed with "
                 "`scalescope obs place lm_eval_results/ --holdout`: each model is left out of every reference fit, "
                 "so its predictions are genuine out-of-sample forecasts, scored here against its actual results "
                 f"(pre-registration sha256 {res.preregistration['sha256'][:12]}…). Share of actual values inside "
                 f"the {res.level:.0%} family-cluster bootstrap interval ({N_BOOT} replicates): {inside:.0%} of "
                 f"{len(covered)}.\n" + "\n".join(lines)),
        figures=[(out_dir / "placement.png", "The five placed models (stars) among the reference models."),
                 (out_dir / "predictions.png", "Their predicted targets with bootstrap intervals.")],
        tables=[(out_dir / "scored.csv", "Pre-registered predictions vs actual results."),
                (out_dir / "placements.csv", "PC coordinates, imputed benchmarks, compute position.")],
        metrics={"models": len(MODELS), "interval_coverage": round(float(inside), 3),
                 **{f"mse {t}": v["mse"] for t, v in sc["targets"].items()}},
        order=ORDER)
    return {"coverage": float(inside), "targets": sc["targets"]}
