"""Learned future-entropy head on a tiny GPT-2 trained in the test on a synthetic Markov corpus (CPU, seeded)."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from scalescope.calibration.methods import BasePolicy, FiniteStateLM, sample_rollouts  # noqa: E402
from scalescope.calibration.methods.value_head import (  # noqa: E402
    FutureEntropyHead,
    LearnedFutureEntropyCalibrator,
    evaluate_transformer,
    hf_forward,
)
from scalescope.calibration.samplers import StepContext  # noqa: E402


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    V = 8
    truth = FiniteStateLM.from_transition(rng.dirichlet(np.full(V, 0.15), size=(V, V)))
    corpus = torch.tensor(sample_rollouts(BasePolicy(truth), truth, np.zeros(32, int), 40, rng)["tokens"])
    cfg = transformers.GPT2Config(vocab_size=V, n_positions=64, n_embd=16, n_layer=1, n_head=2, resid_pdrop=0.0,
                                  embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=0, eos_token_id=0)
    model = transformers.GPT2LMHeadModel(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(25):
        out = model(input_ids=corpus, labels=corpus)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
    model.eval()

    def passages(n, T=6):
        p = rng.integers(0, V, (n, 3))
        h = sample_rollouts(BasePolicy(truth), truth, truth.states_of(p), T, rng)["tokens"]
        return torch.tensor(p), torch.tensor(h)

    return hf_forward(model), passages(120), passages(120)


def test_head_parametrisation_is_zero_at_last_step():
    head = FutureEntropyHead(4, 5, horizon=3)
    h = torch.randn(2, 4)
    assert torch.all(head(h, 2) == 0) and head(h, 0).shape == (2, 5)


@pytest.mark.slow  # ~12 s CPU, longer on a loaded machine
def test_learned_head_runs_end_to_end_and_reports_delta(tiny):
    fwd, (fp, fh), (tp, th) = tiny
    cal = LearnedFutureEntropyCalibrator(horizon=6, rollouts_per_prompt=2, epochs=150, seed=0).fit(fwd, fp, fh)
    r = cal.result_
    assert np.isfinite(r.delta_rmse) and r.delta_rmse > 0 and r.converged.all()
    assert r.train_rmse <= r.baseline_rmse * 1.5
    base = evaluate_transformer(fwd, tp, th, samples_per_prompt=2)
    adj = evaluate_transformer(fwd, tp, th, adjust=cal.adjust, samples_per_prompt=2)
    for d in (base, adj):
        assert np.isfinite(d["entce"]) and np.isfinite(d["logloss"])
    # The fitted α_t move the model toward calibration on held-out text here (seeded; large base miscalibration).
    assert abs(adj["entce"]) < abs(base["entce"])
    assert adj["logloss"] <= base["logloss"] + 2 * base["logloss_se"]
    # The engine-facing sampler applies the same adjustment from ctx.hidden / ctx.step.
    logp, hid = fwd(tp[:3])
    out = cal.sampler()(logp, StepContext(step=1, hidden=hid))
    torch.testing.assert_close(out, cal.adjust(logp, hid, 1))


def _synthetic_rollouts(n_roll, T, d, V, *, token_effect, noise, seed):
    """Rollouts whose future-entropy rate after token v is 3 + token_effect[v] + 0.5·h[0] (plus label noise)."""
    g = torch.Generator().manual_seed(seed)
    hidden = torch.randn(n_roll, T, d, generator=g) * 4.0 + 2.0  # unstandardised, as real hidden states are
    tokens = torch.randint(0, V, (n_roll, T), generator=g)
    rate = 3.0 + token_effect[tokens] + 0.5 * (hidden[..., 0] - 2.0) / 4.0
    rem = (T - 1 - torch.arange(T)).float()
    future = rem * rate + noise * torch.randn(n_roll, T, generator=g) * rem.sqrt()
    return hidden, tokens, future


def test_train_head_recovers_token_effects_and_folds_standardisation():
    from scalescope.calibration.methods.value_head import train_head

    V, d, T = 6, 8, 5
    effect = torch.tensor([0.0, 1.0, -1.0, 2.0, 0.5, -0.5])
    hidden, tokens, future = _synthetic_rollouts(400, T, d, V, token_effect=effect, noise=0.3, seed=1)
    idx = torch.arange(400)
    head, info = train_head(hidden, tokens, future, vocab_size=V, train_idx=idx[:300], test_idx=idx[300:],
                            epochs=400, lr=0.05)
    assert math.isfinite(info.ridge) and set(info.validation_rmse) == {"1", "10", "100", "1000", "inf"}
    assert info.delta_rmse < 0.5 * info.baseline_rmse
    # the folded linear layer reproduces the rate: per-token differences at any hidden state = the true effects
    h = torch.randn(3, d, generator=torch.Generator().manual_seed(5)) * 4.0 + 2.0
    f = head(h, 0) / (T - 1)
    diffs = f - f[:, :1]
    err = (diffs - (effect - effect[0])).abs().max()
    assert err < 0.2, err


def test_train_head_does_not_overfit_noise_labels():
    # labels carry no token information and each token is seen a handful of times: the per-token part can only
    # overfit. The validated ridge must keep the held-out error at the per-step-mean baseline; ridge 0 overfits.
    from scalescope.calibration.methods.value_head import train_head

    V, d, T = 400, 32, 6
    hidden, tokens, future = _synthetic_rollouts(160, T, d, V, token_effect=torch.zeros(V), noise=3.0, seed=2)
    idx = torch.arange(160)
    groups = torch.arange(160) // 4  # 4 rollouts per prompt
    kw = dict(vocab_size=V, train_idx=idx[:120], test_idx=idx[120:], epochs=300, lr=0.05)
    _, chosen = train_head(hidden, tokens, future, groups=groups, **kw)
    _, free = train_head(hidden, tokens, future, ridge=0.0, **kw)
    assert chosen.ridge >= 100
    assert chosen.delta_rmse < 1.05 * chosen.baseline_rmse
    assert free.delta_rmse > chosen.delta_rmse and free.train_rmse < 0.1 * free.delta_rmse  # memorised
    # ridge = inf is exactly the per-step-mean baseline
    _, none = train_head(hidden, tokens, future, ridge=math.inf, **kw)
    assert none.delta_rmse == pytest.approx(none.baseline_rmse, rel=1e-5)


def test_head_save_load_roundtrip_and_legacy_file(tmp_path):
    from scalescope.calibration.methods.value_head import train_head

    V, d, T = 6, 8, 5
    hidden, tokens, future = _synthetic_rollouts(80, T, d, V, token_effect=torch.arange(V).float(), noise=0.1, seed=3)
    head, _ = train_head(hidden, tokens, future, vocab_size=V, train_idx=torch.arange(60),
                         test_idx=torch.arange(60, 80), epochs=50, ridge=1.0)
    cal = LearnedFutureEntropyCalibrator(horizon=T)
    cal.head_, cal.alphas_ = head, np.linspace(-0.1, 0.1, T)
    cal.save(tmp_path / "h.pt")
    back = LearnedFutureEntropyCalibrator.load(tmp_path / "h.pt")
    h = torch.randn(2, d, generator=torch.Generator().manual_seed(0))
    for t in range(T):
        assert torch.allclose(back.head_(h, t), head(h, t))
        assert torch.allclose(back.adjust(torch.log_softmax(h[:, :V], -1), h, t),
                              cal.adjust(torch.log_softmax(h[:, :V], -1), h, t))
    assert head(h, 0).std() > 0 and torch.all(head(h, T - 1) == 0)
    # a head saved before the per-step term existed loads with c_t = 0 (the softmax is unchanged)
    d0 = torch.load(tmp_path / "h.pt", weights_only=True)
    d0["state_dict"].pop("step_bias")
    torch.save(d0, tmp_path / "old.pt")
    old = LearnedFutureEntropyCalibrator.load(tmp_path / "old.pt")
    assert torch.all(old.head_.step_bias == 0)
    assert torch.allclose(old.adjust(torch.log_softmax(h[:, :V], -1), h, 1),
                          cal.adjust(torch.log_softmax(h[:, :V], -1), h, 1), atol=1e-5)


def test_train_head_with_a_single_training_rollout_is_finite():
    from scalescope.calibration.methods.value_head import train_head

    hidden, tokens, future = _synthetic_rollouts(2, 2, 4, 3, token_effect=torch.zeros(3), noise=0.1, seed=0)
    head, info = train_head(hidden, tokens, future, vocab_size=3, train_idx=torch.tensor([0]),
                            test_idx=torch.tensor([1]), epochs=20)
    assert np.isfinite([info.train_rmse, info.delta_rmse, info.baseline_rmse]).all()
    assert torch.isfinite(head(hidden[:, 0], 0)).all()
