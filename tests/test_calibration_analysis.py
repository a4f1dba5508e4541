"""Calibration analysis on synthetic runs with known answers (spec §1.4–1.6, §4)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalescope.calibration.analysis import (
    AnalysisConfig,
    CalibrationExponent,
    analyze_run,
    analyze_runs,
    derail_flags,
    fit_exponent,
    parse_sampler_spec,
    read_run,
    smooth_column,
    temperature_sweep,
    wilson_interval,
)
from scalescope.calibration.analysis_synth import synthetic_records, write_synthetic_run
from scalescope.errors import InputError

FAST = AnalysisConfig(n_boot=200)


def test_constant_curves_give_exact_entce_and_zero_slope():
    df = synthetic_records(n_samples=16, n_steps=40, h0=2.3, l0=1.8)
    r = analyze_run(df, FAST)
    assert r.entce == pytest.approx(0.5, abs=1e-6)
    assert r.entropy == pytest.approx(2.3, abs=1e-6)
    assert r.log_loss == pytest.approx(1.8, abs=1e-6)
    assert r.slope_per_1000 == pytest.approx(0.0, abs=1e-6)
    assert r.entce_ci[0] == pytest.approx(0.5, abs=1e-5) and r.entce_ci[1] == pytest.approx(0.5, abs=1e-5)
    assert r.n_samples == 16 and r.n_steps == 40 and r.n_tokens == 640
    assert r.log_loss_convention == "exact"
    # every sample sits 0.5 nats above a zero-spread human log loss: the human-reference branch flags them all
    assert r.derail_fraction == 1.0
    # the per-step curves: constant, SE 0, all alive
    c = r.curves
    assert list(c.columns) == ["step", "entropy", "entropy_se", "log_loss", "log_loss_se", "entce", "survivors",
                               "n_human"]
    assert np.allclose(c["entce"], 0.5, atol=1e-6)
    assert (c["survivors"] == 16).all()
    assert np.allclose(c["entropy_se"], 0.0, atol=1e-6)


def test_linear_entropy_growth_slope_and_windows():
    # entropy = 1 + 0.002 t, log loss = 1  ->  EntCE_t = 0.002 t, slope = 2 nats / 1000 steps
    df = synthetic_records(n_samples=20, n_steps=100, h0=1.0, slope_per_step=0.002, l0=1.0)
    r = analyze_run(df, FAST)
    assert r.slope_per_1000 == pytest.approx(2.0, rel=1e-4)
    assert r.early_window == (0, 10) and r.late_window == (50, 100)
    assert r.entce_early == pytest.approx(0.002 * 4.5, rel=1e-4)  # mean of t over 0..9
    assert r.entce_late == pytest.approx(0.002 * 74.5, rel=1e-4)  # mean of t over 50..99
    assert r.entce == pytest.approx(0.002 * 49.5, rel=1e-4)
    r2 = analyze_run(df, AnalysisConfig(n_boot=0, early_steps=5, late_steps=20))
    assert r2.early_window == (0, 5) and r2.late_window == (80, 100)
    assert r2.entce_late == pytest.approx(0.002 * 89.5, rel=1e-4)
    assert math.isnan(r2.entce_ci[0])


def test_paired_growth_cancels_prompt_difficulty():
    # per-prompt human log loss offset (sd 2 nats, shared by every step) + entropy growing 0.01 nats/step: the two
    # windows' separate CIs are wide, the paired growth CI is tight around the true growth
    rng = np.random.default_rng(0)
    n, T = 32, 100
    offset = rng.normal(0.0, 2.0, n)
    t = np.arange(T)
    H = 3.0 + 0.01 * t[None, :] + rng.normal(0, 0.05, (n, T))
    L = 3.0 + offset[:, None] + rng.normal(0, 0.05, (n, T))
    df = pd.DataFrame({"sample_id": np.repeat(np.arange(n), T), "step": np.tile(t, n), "alive": True,
                       "entropy_sampled": H.ravel(), "human_logprob": -L.ravel()})
    r = analyze_run(df, AnalysisConfig(n_boot=500, early_steps=10, late_steps=50))
    assert r.entce_growth == pytest.approx(r.entce_late - r.entce_early, abs=1e-9)
    true_growth = 0.01 * (74.5 - 4.5)
    assert r.entce_growth_ci[0] < true_growth < r.entce_growth_ci[1]
    width_paired = r.entce_growth_ci[1] - r.entce_growth_ci[0]
    assert width_paired < 0.1 < r.entce_early_ci[1] - r.entce_early_ci[0]
    assert r.entce_late_ci[0] < r.entce_early_ci[1]  # the separate CIs overlap although growth is certain
    assert r.conf_int().loc["entce_growth"].tolist() == list(r.entce_growth_ci)
    assert "growth late - early" in r.summary()


def test_prompts_sharing_a_document_are_resampled_together():
    from scalescope.calibration.analysis import bootstrap_weights, cluster_bootstrap_weights

    # one prompt per group: the cluster bootstrap is the prompt bootstrap, draw for draw
    assert np.array_equal(cluster_bootstrap_weights(np.arange(7), 50, 3), bootstrap_weights(7, 50, 3))
    w = cluster_bootstrap_weights(np.array([4, 4, 9, 9, 9, 1]), 200, 0)
    assert np.array_equal(w[:, 0], w[:, 1]) and np.array_equal(w[:, 2], w[:, 4])
    # each replicate draws 3 groups (one column per group), and a group weighs its draw count
    assert np.all(w[:, 0] + w[:, 2] + w[:, 5] == 3) and w[:, 0].std() > 0
    # 24 prompts from 4 documents with a document-level log-loss offset: clustering widens the CI and says so
    rng = np.random.default_rng(1)
    n, T = 24, 20
    doc = np.repeat(np.arange(4), 6)
    offset = rng.normal(0, 1.0, 4)[doc]
    H = 3.0 + rng.normal(0, 0.05, (n, T))
    L = 3.0 + offset[:, None] + rng.normal(0, 0.05, (n, T))
    df = pd.DataFrame({"sample_id": np.repeat(np.arange(n), T), "step": np.tile(np.arange(T), n), "alive": True,
                       "entropy_sampled": H.ravel(), "human_logprob": -L.ravel()})
    cfg = AnalysisConfig(n_boot=400)
    flat = analyze_run(df, cfg, manifest={"steps": T})
    clus = analyze_run(df, cfg, manifest={"steps": T, "passage_documents": doc.tolist()})
    assert flat.bootstrap_unit == "prompts" and clus.bootstrap_unit == "source documents (4 for 24 prompts)"
    assert clus.entce == pytest.approx(flat.entce)
    assert clus.entce_ci[1] - clus.entce_ci[0] > 1.5 * (flat.entce_ci[1] - flat.entce_ci[0])
    assert "over source documents" in clus.summary()
    # distinct documents: the prompt bootstrap, unchanged
    same = analyze_run(df, cfg, manifest={"steps": T, "passage_documents": list(range(n))})
    assert same.bootstrap_unit == "prompts" and same.entce_ci == flat.entce_ci


def test_noisy_ci_covers_truth_and_se_matches_formula():
    df = synthetic_records(n_samples=200, n_steps=30, h0=2.0, l0=1.7, noise=0.5, seed=3)
    r = analyze_run(df, AnalysisConfig(n_boot=400))
    assert r.entce_ci[0] < 0.3 < r.entce_ci[1]
    assert r.entce_ci[1] - r.entce_ci[0] < 0.1
    # SE at step 0 = sd/sqrt(count) over the 200 samples
    h0 = df.loc[df.step == 0, "entropy_sampled"].to_numpy(float)
    assert r.curves.loc[0, "entropy_se"] == pytest.approx(h0.std(ddof=1) / math.sqrt(200), rel=1e-6)
    # slope CI covers 0 (no growth was simulated)
    assert r.slope_per_1000_ci[0] < 0 < r.slope_per_1000_ci[1]


def test_eos_survivors_and_pooled_weighting():
    df = synthetic_records(n_samples=10, n_steps=20, h0=2.0, slope_per_step=0.1, l0=1.0, eos_fraction=0.5)
    r = analyze_run(df, AnalysisConfig(n_boot=0))
    surv = r.curves["survivors"].to_numpy()
    assert surv[:11].tolist() == [10] * 11 and surv[11:].tolist() == [5] * 9
    assert (r.curves["n_human"] == 10).all()  # the human side has every token
    alive = df[df.alive]
    assert r.entropy == pytest.approx(alive.entropy_sampled.astype(float).mean(), rel=1e-6)
    assert r.n_tokens == len(alive)
    # omitting the rows after EOS gives the same entropy side
    r2 = analyze_run(synthetic_records(n_samples=10, n_steps=20, h0=2.0, slope_per_step=0.1, l0=1.0,
                                       eos_fraction=0.5, omit_dead_rows=True), AnalysisConfig(n_boot=0))
    assert r2.entropy == pytest.approx(r.entropy) and r2.n_tokens == r.n_tokens


def test_derail_fraction_is_recovered():
    df = synthetic_records(n_samples=40, n_steps=50, h0=1.0, l0=1.0, noise=0.05, derail_samples=6,
                           derail_factor=3.0)
    r = analyze_run(df, AnalysisConfig(n_boot=0))
    assert r.n_derailed == 6 and r.n_derail_eligible == 40
    assert r.derail_fraction == pytest.approx(0.15)
    lo, hi = r.derail_fraction_ci
    assert lo < 0.15 < hi
    assert "2 x its mean" in r.derail_rule
    assert set(r.traces.loc[r.traces.derailed, "sample_id"]) == set(range(6))
    assert r.n_collapsed == 0
    # collapse: the first 5 samples' late entropy drops to a quarter of the early one
    c = analyze_run(synthetic_records(n_samples=20, n_steps=50, h0=1.0, l0=1.0, derail_samples=5,
                                      derail_factor=0.25), AnalysisConfig(n_boot=0))
    assert c.n_collapsed == 5 and c.collapse_fraction == pytest.approx(0.25) and c.n_derailed == 0


def test_derail_flags_rules():
    he = np.array([1.0, 1.0, 1.0, np.nan])
    hl = np.array([1.5, 2.5, 9.0, 1.0])
    d, e = derail_flags(he, hl, 5.0, ratio=2.0)
    assert e.tolist() == [True, True, True, False]
    assert d.tolist() == [False, True, True, False]
    # the human-reference branch alone
    d2, _ = derail_flags(np.array([2.0, 2.0]), np.array([3.0, 2.0]), 2.5, ratio=10.0)
    assert d2.tolist() == [True, False]


def test_derail_threshold_uses_per_token_sd():
    df = synthetic_records(n_samples=100, n_steps=40, h0=2.0, l0=1.7, noise=0.5, seed=3)
    r = analyze_run(df, AnalysisConfig(n_boot=0))
    late = df[df.step >= 20]
    thr = float((-late.human_logprob.astype(float)).mean() + (-late.human_logprob.astype(float)).std(ddof=1))
    assert f"{thr:.4g}" in r.derail_rule
    assert r.derail_fraction < 0.05  # per-prompt late means ~2.0 +- 0.1 vs threshold ~2.2


def test_truncated_sampler_uses_declared_smoothing_and_coverage():
    df = synthetic_records(n_samples=20, n_steps=30, h0=1.0, l0=1.0, truncated=True, seed=1)
    r = analyze_run(df, AnalysisConfig(n_boot=50))
    kept = df.human_in_kept.to_numpy()
    assert r.coverage == pytest.approx(kept.mean())
    assert "λ=0.001" in r.log_loss_convention
    expected = float(-df[smooth_column(1e-3)].astype(float).mean())
    assert r.log_loss == pytest.approx(expected, rel=1e-5)
    assert set(r.log_loss_smooth) == {"0.01", "0.001", "0.0001"}
    # smaller λ puts less mass on excluded human tokens -> higher log loss
    assert r.log_loss_smooth["0.0001"] > r.log_loss_smooth["0.001"] > r.log_loss_smooth["0.01"]
    assert math.isfinite(r.entce)
    r2 = analyze_run(df, AnalysisConfig(n_boot=0, smooth_lambda=1e-2))
    assert r2.log_loss == pytest.approx(r.log_loss_smooth["0.01"], rel=1e-6)
    with pytest.raises(InputError, match="infinite"):
        analyze_run(df.drop(columns=[smooth_column(1e-3)]), AnalysisConfig(n_boot=0))


def test_bits_scale_everything_but_counts():
    df = synthetic_records(n_samples=8, n_steps=10, h0=2.0, slope_per_step=0.01, l0=1.0)
    n = analyze_run(df, AnalysisConfig(n_boot=0))
    b = analyze_run(df, AnalysisConfig(n_boot=0, units="bits"))
    for k in ("entropy", "log_loss", "entce", "slope_per_1000", "entce_early", "entce_late"):
        assert getattr(b, k) == pytest.approx(getattr(n, k) / math.log(2), rel=1e-9)
    assert b.units == "bits" and b.n_tokens == n.n_tokens


def test_entropy_full_option():
    df = synthetic_records(n_samples=4, n_steps=5, h0=2.0, l0=1.0)
    r = analyze_run(df, AnalysisConfig(n_boot=0, entropy="full"))
    assert r.entropy == pytest.approx(2.1, rel=1e-6)
    assert analyze_run(df, AnalysisConfig(n_boot=0)).entropy_full == pytest.approx(2.1, rel=1e-6)


def _family(exponent: float, sizes=(1e4, 1e5, 1e6, 1e7), c=3.0, noise=0.02, n=60):
    runs = []
    for s in sizes:
        e = c * s**exponent
        df = synthetic_records(n_samples=n, n_steps=20, h0=1.0 + e, l0=1.0, noise=noise, seed=int(math.log10(s)))
        runs.append(analyze_run(df, AnalysisConfig(n_boot=300), manifest={
            "model": {"spec": f"ngram:3:wikitext-2@{int(s)}"}, "train_tokens": int(s), "sampler": ""},
            label=f"n{int(s)}"))
    return runs


def test_exponent_recovered_with_ci():
    runs = _family(-0.25)
    assert {r.family for r in runs} == {"ngram:3:wikitext-2"}
    fit = fit_exponent(runs)
    assert fit.status == "ok"
    assert fit.exponent == pytest.approx(-0.25, abs=0.02)
    assert fit.exponent_ci[0] < -0.25 < fit.exponent_ci[1]
    assert fit.intercept == pytest.approx(math.log(3.0), abs=0.2)
    assert fit.r2 > 0.99 and fit.n_boot_used == 300
    assert fit.legend.startswith("Y = e^{")
    assert fit.size_axis == "train_tokens"
    est = CalibrationExponent().fit(runs)
    assert est.result_.exponent == pytest.approx(fit.exponent)
    assert "exponent b" in fit.summary()


def test_exponent_guard_nonpositive():
    runs = _family(-0.25)
    neg = analyze_run(synthetic_records(n_samples=10, n_steps=5, h0=1.0, l0=1.2), AnalysisConfig(n_boot=10),
                      manifest={"model": {"spec": "ngram:3:wikitext-2@100"}, "train_tokens": 100}, label="tiny")
    with pytest.warns(UserWarning, match="EntCE <= 0 for runs tiny"):
        fit = fit_exponent([*runs, neg])
    assert fit.status == "undefined" and math.isnan(fit.exponent)
    assert fit.reason == "exponent undefined: EntCE <= 0 for runs tiny"
    with pytest.warns(UserWarning, match="excluding"):
        fit2 = fit_exponent([*runs, neg], exclude_nonpositive=True)
    assert fit2.status == "ok" and fit2.excluded == ["tiny"]
    assert fit2.exponent == pytest.approx(fit_exponent(runs).exponent)
    with pytest.warns(UserWarning, match="fewer than 2"):
        assert fit_exponent(runs[:1]).status == "undefined"


def _temp_run(tau: float, n=80, seed=0):
    # entropy rises with tau, log loss is minimised near tau = 1: EntCE(tau) = 2 (tau - 0.9)
    df = synthetic_records(n_samples=n, n_steps=10, h0=2.0 + 2 * (tau - 0.9), l0=2.0 + (tau - 1) ** 2,
                           noise=0.05, seed=seed)
    return analyze_run(df, AnalysisConfig(n_boot=200), manifest={"model": {"spec": "m"}, "sampler": f"temp={tau}"},
                       label=f"t{tau}")


def test_temperature_sweep_zero_crossing():
    runs = [_temp_run(t, seed=i) for i, t in enumerate((1.0, 0.8, 0.85, 0.95, 0.9 + 1e-9))]
    sw = temperature_sweep(runs)
    assert sw.temperatures == sorted(sw.temperatures)
    assert sw.status == "ok"
    tz = 0.9 - np.array([r.entce - 2 * (r.temperature - 0.9) for r in runs]).mean() / 2  # noise-level check
    assert sw.tau_zero == pytest.approx(0.9, abs=0.01) and abs(tz - 0.9) < 0.01
    assert sw.tau_zero_ci[0] <= sw.tau_zero <= sw.tau_zero_ci[1]
    assert list(sw.to_frame().columns[:4]) == ["label", "temperature", "log_loss", "entce"]
    # no sign change -> undefined with a reason
    sw2 = temperature_sweep([_temp_run(1.0), _temp_run(0.95)])
    assert sw2.status == "undefined" and "does not change sign" in sw2.reason


def test_parse_sampler_spec():
    assert parse_sampler_spec("temp=0.9,top_p=0.95") == {"temp": 0.9, "top_p": 0.95}
    assert parse_sampler_spec("") == {} and parse_sampler_spec(None) == {}
    assert parse_sampler_spec("temperature=1.1") == {"temp": 1.1}
    assert parse_sampler_spec({"spec": "min_p=0.1"}) == {"min_p": 0.1}


def test_read_run_and_errors(tmp_path):
    df = synthetic_records(n_samples=40, n_steps=8, h0=2.0, l0=1.0)
    d = write_synthetic_run(tmp_path / "run", df, manifest={"train_tokens": 1000})
    data = read_run(d)
    assert len(data.records) == len(df) and data.complete
    r = analyze_run(d, AnalysisConfig(n_boot=0))
    assert r.label == "run" and r.size == 1000 and r.entce == pytest.approx(1.0)
    with pytest.raises(InputError, match="does not exist"):
        read_run(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="manifest.json is missing"):
        read_run(tmp_path / "empty")
    (tmp_path / "running").mkdir()
    (tmp_path / "running" / "manifest.json").write_text('{"status": "running"}')
    with pytest.raises(InputError, match="no shards"):
        read_run(tmp_path / "running")
    # incomplete run with finished shards: warned, analysed
    inc = write_synthetic_run(tmp_path / "inc", df, status="running")
    with pytest.warns(UserWarning, match="running"):
        assert not read_run(inc).complete
    with pytest.raises(InputError, match="human_logprob"):
        analyze_run(df.drop(columns=["human_logprob"]))
    with pytest.raises(InputError, match="duplicate"):
        analyze_run(pd.concat([df, df.iloc[:1]]))


def test_analyze_runs_groups_families_and_sweeps(tmp_path):
    dirs = []
    for i, s in enumerate((1e3, 1e4, 1e5)):
        df = synthetic_records(n_samples=20, n_steps=10, h0=1.0 + 2 * s**-0.2, l0=1.0, seed=i)
        dirs.append(write_synthetic_run(tmp_path / f"n{i}", df, manifest={
            "model": {"spec": f"ngram:3@{int(s)}"}, "train_tokens": int(s)}))
    for tau in (0.8, 1.2):
        df = synthetic_records(n_samples=20, n_steps=10, h0=1.0 + (tau - 1.0), l0=1.0)
        dirs.append(write_synthetic_run(tmp_path / f"t{tau}", df, manifest={
            "model": {"spec": "ngram:3@100000"}, "train_tokens": 100000, "sampler": f"temp={tau}"}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study = analyze_runs(dirs, AnalysisConfig(n_boot=50))
    assert len(study.runs) == 5
    assert len(study.exponents) == 1 and study.exponents[0].exponent == pytest.approx(-0.2, abs=1e-4)
    # the t=1.0 run (sampler "") belongs to the same model -> a 3-point temperature sweep
    assert len(study.sweeps) == 1 and study.sweeps[0].temperatures == [0.8, 1.0, 1.2]
    # EntCE: -0.2 at 0.8, 2 * 1e5 ** -0.2 = +0.2 at 1.0 -> crossing at 0.9
    assert study.sweeps[0].tau_zero == pytest.approx(0.9, abs=1e-3)
    assert len(study.to_frame()) == 5


@settings(max_examples=25, deadline=None)
@given(
    h=st.floats(0.0, 8.0), lo=st.floats(0.0, 8.0), n=st.integers(2, 12), T=st.integers(1, 12),
)
def test_property_entce_is_entropy_minus_log_loss(h, lo, n, T):
    df = synthetic_records(n_samples=n, n_steps=T, h0=h, l0=lo)
    r = analyze_run(df, AnalysisConfig(n_boot=5))
    assert r.entce == pytest.approx(r.entropy - r.log_loss, abs=1e-9)
    assert r.entce == pytest.approx(np.float32(h) - np.float32(lo), abs=1e-5)
    assert r.early_window[1] <= T and r.late_window[0] >= 0


def test_wilson_interval():
    lo, hi = wilson_interval(0, 10)
    assert lo == 0 and 0.2 < hi < 0.35
    assert all(math.isnan(v) for v in wilson_interval(0, 0))
