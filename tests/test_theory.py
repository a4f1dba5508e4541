"""Zipf/singleton theory: exact singleton mass, its approximations, the toy simulator, Zipf estimators, CLI."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from click.testing import CliRunner

from scalescope.calibration import theory as T
from scalescope.errors import InputError


def _brute_force_singleton_mass(m: int, alpha: float, v: int) -> float:
    p = T.zipf_probs(alpha, v)
    total = 0.0
    for seq in itertools.product(range(v), repeat=m):
        counts = np.bincount(seq, minlength=v)
        total += float(np.prod(p[list(seq)])) * np.count_nonzero(counts == 1) / m
    return total


@pytest.mark.parametrize(("m", "alpha", "v"), [(1, 1.0, 3), (2, 1.5, 3), (4, 0.8, 3), (5, 1.25, 4), (6, 2.0, 3)])
def test_exact_matches_brute_force_enumeration(m, alpha, v):
    want = _brute_force_singleton_mass(m, alpha, v)
    for method in ("direct", "hybrid"):
        assert T.expected_singleton_mass(m, alpha, v, method=method) == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("alpha", [0.8, 1.0, 1.25, 1.5])
def test_hybrid_tail_is_exact_and_poisson_form_agrees(alpha):
    m = np.geomspace(10, 1e7, 9)
    direct = T.expected_singleton_mass(m, alpha, 500_000, method="direct")
    hybrid = T.expected_singleton_mass(m, alpha, 500_000, method="hybrid")
    np.testing.assert_allclose(hybrid, direct, rtol=1e-9)
    poisson = T.singleton_mass_poisson(m, alpha, 500_000)
    # The integral replaces the sum: off by O(f(1)) at small m, negligible once m >> 1.
    np.testing.assert_allclose(poisson[m >= 1e3], direct[m >= 1e3], rtol=2e-3)
    np.testing.assert_allclose(poisson, direct, rtol=0.05)
    assert np.all(np.diff(direct) < 0)  # E[q] decreases in m for every distribution


@pytest.mark.parametrize("alpha", [1.5, 2.0, 3.0])
def test_large_m_approaches_asymptote(alpha):
    # m << v: the finite vocabulary is (nearly) invisible for alpha >= 1.5 (at alpha = 1.25, v = 1e8 is still 12% off) and E[q] -> C_alpha m^(1/alpha-1) (v = inf, Prop. 3.1).
    m = np.array([1e6, 1e7])
    exact = T.expected_singleton_mass(m, alpha, 10**8)
    np.testing.assert_allclose(exact, T.singleton_asymptote(m, alpha), rtol=0.02)
    np.testing.assert_allclose(T.singleton_mass_poisson(m, alpha, None), T.singleton_asymptote(m, alpha),
                               rtol=1e-6)


def test_stable_at_extremes():
    lq = T.log_expected_singleton_mass([1e3, 1e9, 1e12], 1.1, 10**8)
    assert np.all(np.isfinite(lq)) and np.all(np.diff(lq) < 0)
    # m >> v: E[q] underflows to 0 but its log stays finite and accurate.
    lq2 = T.log_expected_singleton_mass([1e12], 0.9, 10**8)
    assert np.isfinite(lq2[0]) and lq2[0] < -700
    assert T.expected_singleton_mass(1, 1.3, 100) == 1.0
    assert T.singleton_asymptote(1e6, 1.0) is None and T.singleton_constant(0.9) is None
    with pytest.raises(InputError, match="alpha"):
        T.expected_singleton_mass(10, -1.0, 10)
    with pytest.raises(InputError, match="m="):
        T.expected_singleton_mass(0.5, 1.0, 10)
    with pytest.raises(InputError, match="vocab"):
        T.expected_singleton_mass(10, 1.0, 2.5)


def test_zipf_normaliser_matches_direct_sum():
    for alpha in (0.7, 1.0, 1.3):
        v = 3_000_000
        direct = float(np.sum(np.arange(1, v + 1, dtype=float) ** -alpha))
        assert T.zipf_normaliser(alpha, v) == pytest.approx(direct, rel=1e-10)


@pytest.mark.parametrize("alpha", [1.25, 1.5])
def test_simulator_reproduces_exact_exponent(alpha):
    v = 100_000
    m = np.geomspace(100, v / 3, 7)
    r = T.simulate_toy(alpha, v, m, steps=10, samples=1000, tables=16, seed=3)
    assert abs(r.exponent_derail - r.exponent_exact) < 0.03
    assert r.exponent_exact == pytest.approx(T.finite_v_slope(alpha, v, m_min=100, m_max=v / 3, n=7), abs=1e-9)
    np.testing.assert_allclose(r.singleton_mass, r.exact_singleton_mass, rtol=0.15)  # K1/m varies ~10% between tables at m = 100
    # per-step entropy growth follows C_H (1 - (1 - q)^t)
    t = np.arange(r.steps)
    theory = r.entropy_jump * (1 - (1 - r.exact_singleton_mass[:, None]) ** t[None, :])
    np.testing.assert_allclose(r.entropy_curves, theory, atol=0.05)  # 16 count tables; q varies at m = 100
    assert r.entropy_curves[:, 0].max() == 0.0


def test_simulator_two_steps_entce_is_linear_in_q():
    # With 2 steps EntCE = C_H q / 2 exactly, so its exponent equals the derail-rate exponent in expectation.
    m = np.geomspace(300, 30_000, 5)
    r = T.simulate_toy(1.5, 100_000, m, steps=2, samples=5000, tables=16, entropy_jump=2.0, seed=0)
    np.testing.assert_allclose(r.entce, r.exact_singleton_mass, rtol=0.1)
    assert abs(r.exponent_entce - r.exponent_exact) < 0.05


@pytest.mark.parametrize("alpha", [0.9, 1.2, 1.6])
def test_zipf_estimators_recover_alpha(alpha):
    rng = np.random.default_rng(int(alpha * 10))
    counts = rng.multinomial(1_000_000, T.zipf_probs(alpha, 50_000))
    mle = T.fit_zipf(counts, top_k=1000, method="mle", n_boot=30)
    ols = T.fit_zipf(counts, top_k=1000, method="ols", n_boot=30)
    assert mle.alpha == pytest.approx(alpha, abs=0.01)
    assert ols.alpha == pytest.approx(alpha, abs=0.03)
    for f in (mle, ols):
        lo, hi = f.conf_int().loc["alpha"]
        assert lo <= f.alpha <= hi and hi - lo < 0.05
        assert f.predicted_exponent == pytest.approx(1 / f.alpha - 1)
    assert 0.9 < ols.r2 <= 1
    with pytest.raises(InputError, match="method"):
        T.fit_zipf(counts, method="lsq")
    with pytest.raises(InputError, match="distinct"):
        T.fit_zipf([5, 3])


# ---------------------------------------------------------------------------------------------------- CLI
def _cli():
    from scalescope.cli import cli

    return cli


def test_cli_singleton_json_and_errors():
    r = CliRunner().invoke(_cli(), ["theory", "singleton", "--alpha", "1.5", "--m", "1e6", "--vocab", "1e5", "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert {"expected_singleton_mass", "asymptote", "predicted_exponent"} <= set(d)
    assert d["expected_singleton_mass"] == pytest.approx(T.expected_singleton_mass(1e6, 1.5, 100_000))
    assert d["predicted_exponent"] == pytest.approx(-1 / 3)
    r = CliRunner().invoke(_cli(), ["theory", "singleton", "--alpha", "0.9", "--m", "1e4", "--vocab", "1e5", "--json"])
    assert json.loads(r.output)["asymptote"] is None
    for bad in (["--alpha", "0"], ["--alpha", "1", "--vocab", "-3"], ["--alpha", "1", "--m", "0"]):
        args = {"--alpha": "1", "--m": "10", "--vocab": "10"}
        args.update(dict(zip(bad[::2], bad[1::2])))
        r = CliRunner().invoke(_cli(), ["theory", "singleton", *sum(map(list, args.items()), [])])
        assert r.exit_code == 2 and r.output.startswith("error:") and len(r.output.strip().splitlines()) == 1


def test_cli_simulate_and_zipf_fit(tmp_path):
    out = tmp_path / "sim"
    r = CliRunner().invoke(_cli(), ["theory", "simulate", "--alpha", "1.5", "--vocab", "1e4", "--points", "3",
                                    "--samples", "200", "--tables", "1", "--out", str(out), "--quiet", "--json"])
    assert r.exit_code == 0, r.output
    assert (out / "section.json").exists() and (out / "simulation.csv").exists()
    assert json.loads(r.output)["simulations"][0]["alpha"] == 1.5

    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in rng.zipf(1.3, size=20_000) if i < 2000]
    text = tmp_path / "corpus.txt"
    text.write_text("\n\n".join(" ".join(words[i : i + 200]) for i in range(0, len(words), 200)))
    zout = tmp_path / "zipf"
    r = CliRunner().invoke(_cli(), ["theory", "zipf-fit", "--corpus", str(text), "--top-k", "200", "--bootstrap",
                                    "10", "--out", str(zout), "--quiet", "--json"])
    assert r.exit_code == 0, r.output
    res = json.loads((zout / "result.json").read_text())
    assert abs(res["corpora"][str(text)]["mle"]["alpha"] - 1.3) < 0.15
    r = CliRunner().invoke(_cli(), ["theory", "zipf-fit", "--corpus", str(tmp_path / "missing.txt"), "--out",
                                    str(tmp_path / "z2")])
    assert r.exit_code == 2 and not (tmp_path / "z2").exists()


@pytest.mark.slow
def test_theory_demo(tmp_path, data_dir):
    from scalescope.calibration.theory_demo import run_demo

    run_demo(tmp_path, quiet=True)
    sec = json.loads((tmp_path / "section.json").read_text())
    assert sec["kind"] == "theory" and len(sec["figures"]) >= 3
    for f in sec["figures"]:
        assert (tmp_path / f["path"]).exists()
    assert sec["metrics"]["alpha_ols_wikitext-2"] == pytest.approx(0.96, abs=0.03)
