"""Offline demo of observational scaling laws (Ruan et al. 2024, Sec 3.2-3.3 and 4.1) for ``scalescope demo``.

Writes the capability loadings, PC-1 vs compute per family, and the word-unscramble emergent-task prediction
(PC1-3 sigmoid fitted below 8.4e22 FLOPs) into ``out_dir`` with a ``section.json``. Uses only locally resolvable
data: raises :class:`~scalescope.errors.DataNotFoundError` when the obsscaling tables are not available offline.
"""

from __future__ import annotations

from pathlib import Path

from scalescope.outputs import writes_output

ORDER = 20


@writes_output("demo observational")
def run_demo(out_dir: Path, *, quiet: bool = True) -> None:
    """Write the observational-scaling demo section into ``out_dir`` (a few seconds, offline)."""
    from scalescope.observational import analyses as A
    from scalescope.observational import datasets as D
    from scalescope.observational.constants import EMERGENT_TASKS
    from scalescope.report.figures import obs as F
    from scalescope.report.section import write_section
    from scalescope.report.style import new_figure, savefig

    out_dir = Path(out_dir)
    base = D.base_models(offline=True)  # DataNotFoundError when not available locally
    space = A.capability_space(base)
    task = EMERGENT_TASKS[0]
    em = A.emergent((task,), (("flops", "flops", 0), ("pc1-3", "pc", 3)),
                    frames={task.key: D.flops_families_only(
                        D.join_target(base, D.load_table("obsscaling-emergent", offline=True), [task.column]))})
    out_dir.mkdir(parents=True, exist_ok=True)
    figs = []
    fig, ax = new_figure(width=6.0, height=4.2)
    F.plot_pc_vs_compute(space, ax)
    figs.append((savefig(fig, out_dir / "obs_pc1_vs_compute.png"),
                 "Capability (PC-1 of 8 benchmarks) is log-linear in compute within each family, with "
                 "family-specific efficiency."))
    fig, ax = new_figure(width=6.0, height=2.6)
    F.plot_loadings(space.capabilities, ax)
    figs.append((savefig(fig, out_dir / "obs_loadings.png"),
                 "Loadings: PC-1 general capability, PC-2 language vs reasoning/code, PC-3 coding."))
    law = em.law(task.key)
    fig, ax = new_figure(width=5.0, height=4.0)
    F.plot_law(law, ax, title=f"{task.label}: fitted below 8.4e22 FLOPs", family_legend=True)
    figs.append((savefig(fig, out_dir / "obs_emergent_word_unscramble.png"),
                 "An 'emergent' task predicted from weaker models' benchmark scores (PC1-3 sigmoid)."))
    flops = em.law(task.key, "flops")
    evr = space.capabilities.explained_variance_ratio
    write_section(
        out_dir, title="Observational scaling laws (Ruan et al. 2024)", kind="obs",
        summary=(f"PC1-3 explain {evr[:3].sum():.1%} of the variance of 8 benchmarks over 77 models. "
                 f"Word unscramble test MSE: PC1-3 {law.mse_test:.1e} vs log-FLOPs {flops.mse_test:.1e}."),
        figures=figs,
        metrics={"EVR PC-1": float(evr[0]), "mean within-family R² (PC-1 vs log FLOPs)": space.compute_fits[0].mean_r2,
                 "word unscramble test MSE (PC1-3)": law.mse_test,
                 "word unscramble test MSE (FLOPs)": flops.mse_test},
        order=ORDER,
    )
