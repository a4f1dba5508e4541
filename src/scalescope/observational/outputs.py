"""Writing observational-scaling outputs: result/targets JSON, CSV tables, figures and the report ``section.json``.

Shared by ``scalescope obs ...`` and the demo so both render the same figures (report/figures/obs.py).
"""

from __future__ import annotations

from pathlib import Path

from scalescope.outputs import write_csv, writes_output
from scalescope.report.figures import obs as F
from scalescope.report.section import write_section
from scalescope.report.style import new_figure, savefig
from scalescope.results import write_json


@writes_output("obs reproduce")
def write_reproduce(out: Path, targets: list[dict], art: dict) -> list[tuple[str, str]]:
    """targets.json + figures + section.json for ``obs reproduce`` (output contract applies)."""
    write_json(targets, out / "targets.json")
    figs = []
    space = art["space"]
    fig, ax = new_figure(width=6.0, height=2.6)
    F.plot_loadings(space.capabilities, ax)
    figs.append((savefig(fig, out / "loadings.png"), "Capability loadings of PC-1..3 (8 metrics, 77 base models)."))
    fig, ax = new_figure(width=6.0, height=4.2)
    F.plot_pc_vs_compute(space, ax)
    figs.append((savefig(fig, out / "pc1_vs_compute.png"),
                 "PC-1 is log-linear in training FLOPs within each family (dashed per-family OLS)."))
    em = art["emergent"]
    heads = [t for t in em.tasks if t.headline]
    fig, axes = new_figure(ncols=len(heads), width=4.0, height=3.6)
    for ax, t in zip(axes.ravel(), heads, strict=False):
        F.plot_law(em.law(t.key), ax, title=t.label)
    figs.append((savefig(fig, out / "emergent_predictions.png"),
                 "Emergent tasks: PC1-3 sigmoid laws fitted below the cutoff (train) and extrapolated (test)."))
    fig, axes = new_figure(ncols=len(heads), width=4.0, height=3.6)
    for ax, t in zip(axes.ravel(), heads, strict=False):
        F.plot_law(em.law(t.key, "flops"), ax, title=f"{t.label} (FLOPs baseline)")
    figs.append((savefig(fig, out / "emergent_flops_baseline.png"),
                 "The same tasks predicted from log10 training FLOPs (true log10 axis)."))
    post = art["post_training"]
    ph = [t for t in post.tasks if t.headline]
    fig, axes = new_figure(ncols=len(ph), width=4.0, height=3.6)
    for ax, t in zip(axes.ravel(), ph, strict=False):
        F.plot_law(post.law(t.key), ax, title=t.label)
    figs.append((savefig(fig, out / "post_training_predictions.png"),
                 "GSM8K with CoT / self-consistency: floor-sigmoid laws on the Llama-2-equivalent FLOPs axis."))
    fig, ax = new_figure(width=5.6, height=4.2)
    F.plot_multi_law({t.label: post.law(t.key) for t in ph}, ax, title="GSM8K: greedy vs CoT vs self-consistency")
    figs.append((savefig(fig, out / "post_training_methods.png"),
                 "Post-training methods on one Llama-2-equivalent axis: CoT and self-consistency gains grow with "
                 "capability (steeper slopes)."))
    ag = art["agents"]
    fig, axes = new_figure(ncols=len(ag.tasks), width=4.2, height=3.6)
    for ax, t in zip(axes.ravel(), ag.tasks, strict=False):
        F.plot_law(ag.law(t.key), ax, title=t.label)
    figs.append((savefig(fig, out / "agent_predictions.png"),
                 "Agent benchmarks (instruct models, top 10% held out, Llama-2-Chat-equivalent axis)."))
    fig, ax = new_figure(width=6.0, height=1.8)
    F.plot_metric_weights({t.label: ag.law(t.key) for t in ag.tasks}, ax)
    figs.append((savefig(fig, out / "agent_weights.png"),
                 "Which benchmarks the agent laws lean on (PC1-3 weights mapped back to benchmarks)."))
    aues = art["aue"]
    fig, axes = new_figure(ncols=len(aues), width=3.8, height=3.4)
    for ax, (k, r) in zip(axes.ravel(), aues.items(), strict=False):
        F.plot_aue(r, ax, title=k)
    figs.append((savefig(fig, out / "aue_curves.png"), "Cutoff robustness: test MSE vs held-out fraction q."))
    fig, ax = new_figure(width=5.0, height=3.6)
    F.plot_selection(art["selection"], ax)
    figs.append((savefig(fig, out / "selection_curve.png"),
                 "V-optimal model-subset selection vs random subsets (3 GSM8K laws, geometric-mean test MSE)."))
    tables = [
        (write_csv(em.table, out / "emergent_table.csv"), "Emergent tasks: test/train MSE per predictor."),
        (write_csv(post.table, out / "post_training_table.csv"), "Post-training targets: test/train MSE per predictor."),
        (write_csv(art["selection"].table.drop(columns=["random_gmean_mse_all"]), out / "selection_table.csv"),
         "V-optimal subsets per budget."),
    ]
    n_ok = sum(t["ok"] for t in targets)
    write_section(out, title="Observational scaling laws: reproduction", kind="obs",
                  summary=(f"{n_ok}/{len(targets)} reproduction targets of Ruan et al. (2024) within tolerance "
                           "(spec research/obsscaling.md §6)."),
                  figures=figs, tables=tables,
                  metrics={t["id"]: "ok" if t["ok"] else "FAILED: " + ", ".join(t["failed"]) for t in targets},
                  order=20)
    return figs
