"""Exact DP of the calibration methods vs Monte Carlo (Algorithm 2), and Theorem 5.2's guarantees on small models."""

from __future__ import annotations

import numpy as np
import pytest

from scalescope.calibration.methods import (
    BasePolicy,
    FiniteStateLM,
    FutureEntropyCalibrator,
    LookaheadCalibrator,
    LookaheadPolicy,
    TemperaturePolicy,
    TruncationPolicy,
    evaluate_policy,
    forward_entropy_curve,
    future_entropy_table,
    human_states,
    monte_carlo_future_entropy,
    paired_difference,
    sample_rollouts,
    solve_temperature_exact,
)
from scalescope.calibration.methods.dp import human_logloss

# MC estimates must agree with the exact DP within this many standard errors (|z| for a normal estimate).
Z_TOL = 4.0


def _random_lm(rng, V=5, order=3, conc=0.5):
    return FiniteStateLM.from_transition(rng.dirichlet(np.full(V, conc), size=(V,) * (order - 1)))


def _trained_lm(truth, rng, n_tokens):
    """An n-gram fitted on a little text from ``truth`` (miscalibrated, but related to the truth)."""
    train = sample_rollouts(BasePolicy(truth), truth, np.zeros(1, int), n_tokens, rng)["tokens"][0]
    return FiniteStateLM.from_tokens(train, vocab_size=truth.vocab_size, order=truth.order)


def _passages(truth, rng, n, P, T):
    prompts = rng.integers(0, truth.vocab_size, size=(n, P))
    human = sample_rollouts(BasePolicy(truth), truth, truth.states_of(prompts), T, rng)["tokens"]
    return prompts, human


def test_grid_next_state_and_states_of():
    rng = np.random.default_rng(0)
    lm = _random_lm(rng, V=4, order=3)
    seq = rng.integers(0, 4, size=(50, 7))
    s = lm.states_of(seq[:, :-1])
    assert np.array_equal(lm.next_state[s, seq[:, -1]], lm.states_of(seq))
    assert lm.state_of(seq[0]) == lm.states_of(seq[:1])[0]
    assert lm.context_of(lm.state_of([3, 1])) == [3, 1]


@pytest.mark.parametrize("order", [2, 3])
def test_dp_future_entropy_matches_monte_carlo(order):
    rng = np.random.default_rng(order)
    lm = _random_lm(rng, V=5, order=order)
    T = 12
    G = future_entropy_table(BasePolicy(lm), lm, T)
    for state, start in [(0, 0), (3, 5), (lm.n_states - 1, 9)]:
        mean, se = monte_carlo_future_entropy(BasePolicy(lm), lm, state, start, T, 4000, rng)
        assert abs(mean - G[start, state]) < Z_TOL * se, (state, start, mean, G[start, state], se)


def test_dp_future_entropy_of_adjusted_model_matches_monte_carlo():
    """The recursion uses the ADJUSTED model's own future entropy; Algorithm 2 under that model must agree."""
    rng = np.random.default_rng(1)
    truth = _random_lm(rng, V=4, order=3, conc=0.2)
    lm = _trained_lm(truth, rng, 200)
    prompts, human = _passages(truth, rng, 300, 2, 10)
    pol = FutureEntropyCalibrator().fit(lm, prompts, human).policy_
    assert np.abs(pol.alphas).max() > 1e-3  # a non-trivial adjustment
    G = future_entropy_table(pol, lm, 10)
    np.testing.assert_allclose(G, pol.future, atol=1e-10)  # evaluation DP == the fit's own recursion
    for state, start in [(0, 0), (7, 4)]:
        mean, se = monte_carlo_future_entropy(pol, lm, state, start, 10, 4000, rng)
        assert abs(mean - G[start, state]) < Z_TOL * se


def test_forward_curve_matches_sampled_entropies():
    rng = np.random.default_rng(2)
    lm = _random_lm(rng, V=5, order=2)
    pol = TemperaturePolicy(lm, 0.7)
    starts = rng.integers(0, lm.n_states, size=4000)
    curve = forward_entropy_curve(pol, lm, 8, starts)
    ent = sample_rollouts(pol, lm, starts, 8, rng)["entropy"]
    z = (ent.mean(0) - curve) / (ent.std(0, ddof=1) / np.sqrt(len(starts)))
    assert np.all(np.abs(z) < Z_TOL)
    # Totals: the forward curve sums to the mean backward-DP total from the same starts.
    G = future_entropy_table(pol, lm, 8)
    assert curve.sum() == pytest.approx(G[0][starts].mean(), rel=1e-10)


def test_in_sample_identity_and_theorem_bound():
    """(L − H) = Σ_t (1 + α_t) g_t exactly; ε-stationary α_t give |EntCE| ≤ Σ(1+α_t)ε/T and L_t ≤ base L_t."""
    rng = np.random.default_rng(3)
    truth = _random_lm(rng, V=5, order=3, conc=0.3)
    lm = _trained_lm(truth, rng, 300)
    prompts, human = _passages(truth, rng, 200, 2, 15)
    for tol in (1e-2, 1e-9):
        r = FutureEntropyCalibrator(tol=tol).fit(lm, prompts, human).result_
        assert abs(r.identity_residual) < 1e-9
        assert r.converged.all()
        assert abs(r.entce_per_token) <= r.bound_per_token + 1e-12
        assert r.bound_per_token <= np.max(1 + r.alphas) * tol + 1e-15
        assert np.all(r.logloss_t <= r.logloss_base_t + 1e-12)
    # The evaluation module agrees with the fit's own in-sample totals.
    cal = FutureEntropyCalibrator(tol=1e-10).fit(lm, prompts, human)
    ev = evaluate_policy(cal.policy_, lm, prompts, human)
    assert ev.entce == pytest.approx(cal.result_.entce_per_token, abs=1e-9)
    assert ev.logloss * 15 == pytest.approx(cal.result_.logloss_total, rel=1e-10)


def test_future_entropy_guarantees_hold_out_of_sample():
    """Theorem 5.2 as measured on held-out passages (seeded): log loss not above base beyond its paired standard
    error, and |EntCE| below the base model's."""
    rng = np.random.default_rng(4)
    V, T = 6, 16
    truth = _random_lm(rng, V=V, order=3, conc=0.3)
    lm = _trained_lm(truth, rng, 400)
    fit_p, fit_h = _passages(truth, rng, 600, 2, T)
    test_p, test_h = _passages(truth, rng, 600, 2, T)
    cal = FutureEntropyCalibrator().fit(lm, fit_p, fit_h)
    base = evaluate_policy(BasePolicy(lm), lm, test_p, test_h)
    fe = evaluate_policy(cal.policy_, lm, test_p, test_h)
    diff, se = paired_difference(fe, base, "logloss")
    assert diff <= se
    assert abs(fe.entce) < abs(base.entce)
    assert abs(base.entce) > 3 * base.entce_se  # the base model is measurably miscalibrated here


def test_temperature_solves():
    rng = np.random.default_rng(5)
    truth = _random_lm(rng, V=5, order=2, conc=0.2)
    lm = _trained_lm(truth, rng, 100)
    prompts, human = _passages(truth, rng, 300, 1, 12)
    sol = solve_temperature_exact(lm, prompts, human, target="entce")
    assert sol.bracketed
    ev = evaluate_policy(TemperaturePolicy(lm, sol.tau), lm, prompts, human)
    assert abs(ev.entce) < 1e-6
    slope = solve_temperature_exact(lm, prompts, human, target="slope")
    if slope.bracketed:
        ev = evaluate_policy(TemperaturePolicy(lm, slope.tau), lm, prompts, human)
        assert abs(ev.entce_slope_per_1k) < 1e-3


def test_lookahead_fit_is_stationary_and_topk_approximation():
    rng = np.random.default_rng(6)
    truth = _random_lm(rng, V=6, order=3, conc=0.2)
    lm = _trained_lm(truth, rng, 300)
    prompts, human = _passages(truth, rng, 300, 2, 10)
    cal = LookaheadCalibrator().fit(lm, prompts, human)
    assert cal.solve_.converged and cal.solve_.f <= cal.logloss_base_ + 1e-12
    # α = 0 is the base model; the feature is the next-next entropy H(p̂(· | s ⊕ v)).
    s = np.arange(lm.n_states)
    np.testing.assert_allclose(LookaheadPolicy(lm, 0.0).log_probs(0, s), lm.logp)
    feat = LookaheadPolicy(lm, 1.0).features(s)
    np.testing.assert_allclose(feat, lm.entropy_rows()[lm.next_state])
    # top-k: the k most probable keep their own feature, the rest get the top-k mean.
    f2 = LookaheadPolicy(lm, 1.0, top_k=2).features(s[:1])[0]
    top = np.argsort(-lm.logp[0])[:2]
    rest = np.setdiff1d(np.arange(6), top)
    np.testing.assert_allclose(f2[top], feat[0, top])
    np.testing.assert_allclose(f2[rest], feat[0, top].mean())


def test_truncation_policies_match_engine_samplers():
    torch = pytest.importorskip("torch")
    from scalescope.calibration.samplers import StepContext, parse_sampler

    rng = np.random.default_rng(7)
    lm = _random_lm(rng, V=8, order=2, conc=0.3)
    s = np.arange(lm.n_states)
    for kind, value in [("top_p", 0.8), ("min_p", 0.2)]:
        ours = TruncationPolicy(lm, kind, value).log_probs(0, s)
        theirs = parse_sampler(f"{kind}={value}")(torch.tensor(lm.logp, dtype=torch.float32), StepContext(step=0))
        np.testing.assert_array_equal(np.isfinite(ours), torch.isfinite(theirs).numpy())
    # Human tokens outside the kept set are scored under the declared (1 − λ) q + λ p̂ mixture: finite.
    prompts, human = _passages(lm, rng, 100, 1, 6)
    loss, kept = human_logloss(TruncationPolicy(lm, "min_p", 0.5), lm, human_states(lm, prompts, human), human)
    assert np.isfinite(loss).all() and (~kept).any()


def test_from_ngram_matches_kneser_ney_backend():
    from scalescope.calibration.backends.ngram import NGramLM

    rng = np.random.default_rng(8)
    ng = NGramLM(order=3).fit([rng.integers(0, 5, 2000)], vocab_size=5)
    lm = FiniteStateLM.from_ngram(ng)
    ctx = rng.integers(0, 5, size=(40, 6))
    s = lm.states_of(ctx)
    np.testing.assert_allclose(lm.logp[s], ng.next_logprobs(ctx[:, -2:]), atol=1e-5)
    v = rng.integers(0, 5, 40)
    assert np.array_equal(lm.next_state[s, v], lm.states_of(np.concatenate([ctx, v[:, None]], 1)))


def test_eb_shrinkage_pools_alphas_and_keeps_identity():
    rng = np.random.default_rng(9)
    truth = _random_lm(rng, V=5, order=3, conc=0.3)
    lm = _trained_lm(truth, rng, 300)
    prompts, human = _passages(truth, rng, 200, 2, 12)
    raw = FutureEntropyCalibrator().fit(lm, prompts, human)
    eb = FutureEntropyCalibrator(shrinkage="eb").fit(lm, prompts, human)
    assert np.std(eb.alphas_) <= np.std(raw.alphas_) + 1e-12
    assert abs(eb.result_.identity_residual) < 1e-9  # the DP identity holds for any α
    assert abs(eb.result_.entce_per_token) <= eb.result_.bound_per_token + 1e-12
