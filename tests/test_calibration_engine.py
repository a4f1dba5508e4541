"""Engine correctness: float32 statistics vs a float64 reference on tiny random HF models (GPT-2, Llama) and the
n-gram backend, exact token alignment on a closed-form toy backend, EOS survivorship, truncation conventions,
determinism and crash/resume identity (spec §1.4, §2.3, §4, §7)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from scalescope.calibration import stats
from scalescope.calibration.backends.toy import ToyBackend
from scalescope.calibration.corpora import Corpus
from scalescope.calibration.engine import CalibrationConfig, CalibrationRun
from scalescope.calibration.samplers import StepContext, parse_sampler
from scalescope.calibration.store import RunStore, load_run
from scalescope.errors import InputError

# float32 statistics vs float64 recomputation of the same logits (entropy over V <= 64 tokens).
F32_TOL = 2e-4
# bf16 weights: the KV-cache step and the reference's single-row full forward round differently (bf16 eps 7.8e-3
# relative on logits of a few units), so entropies/log-probs agree only to a few 1e-2 nats.
BF16_TOL = 5e-2

ALPHABET = "abcdefgh ijklmnop"
DOC = "abc defg hij klm nop abc hij dfg ponm lkji hgf edcba " * 3


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # Tiny tensors: OpenMP threads only cost time on the shared 2-core machine.
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _tiny_hf(kind: str, *, device="cpu", dtype=torch.float32, n_positions=256):
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

    from scalescope.calibration.backends.hf import HFBackend, char_tokenizer

    tok = char_tokenizer(ALPHABET)
    torch.manual_seed(0)
    if kind == "gpt2":
        cfg = GPT2Config(n_layer=2, n_embd=64, n_head=4, vocab_size=len(tok), n_positions=n_positions,
                         bos_token_id=tok.eos_token_id, eos_token_id=tok.eos_token_id)
        model = GPT2LMHeadModel(cfg)
    else:
        cfg = LlamaConfig(num_hidden_layers=2, hidden_size=64, intermediate_size=128, num_attention_heads=4,
                          num_key_value_heads=2, vocab_size=len(tok), max_position_embeddings=n_positions,
                          bos_token_id=tok.eos_token_id, eos_token_id=tok.eos_token_id)
        model = LlamaForCausalLM(cfg)
    return HFBackend.from_model(model, tok, name=f"tiny-{kind}", device=device, dtype=dtype)


def _corpus(n_docs=6):
    return Corpus.from_documents("toy", [DOC[i:] + DOC[:i] for i in range(n_docs)])


def _run(backend, tmp_path, name="run", **kw):
    base = dict(model=getattr(backend, "name", "m"), corpus="toy", prompt_tokens=6, steps=7, samples=5,
                batch_size=2, shard_size=3)
    corpus = kw.pop("corpus_obj", None) or _corpus()
    base.update(kw)
    cfg = CalibrationConfig(**base)
    out = CalibrationRun(cfg).run(backend, corpus, tmp_path / name, progress=False)
    return load_run(out)


def _reference_f64(backend, manifest, df, sampler="pure"):
    """Recompute every statistic from the backend's teacher-forced logits in float64."""
    P = manifest["prompt_length"]
    T = manifest["steps"]
    cfg = CalibrationConfig(model="m", corpus="toy", prompt_tokens=manifest["prompt_tokens"], steps=T,
                            samples=manifest["samples"], chat_template=manifest["chat_template"])
    prep = CalibrationRun(cfg).prepare(backend, _corpus())
    transform = parse_sampler(sampler)
    tol = F32_TOL if getattr(backend, "dtype", torch.float32) == torch.float32 else BF16_TOL
    for sid, g in df.groupby("sample_id"):
        ids = torch.cat([torch.as_tensor(prep.prompt_prefix, dtype=torch.long),
                         torch.as_tensor(prep.passages.ids[sid])])
        prompt = ids[:P]
        for path, toks in (("gen", torch.tensor(g.token_id.to_numpy())), ("human", ids[P:])):
            seq = torch.cat([prompt, toks])[None]
            logits = backend.score(seq[:, :-1]).double()[0]
            for t in range(T):
                z = logits[P - 1 + t]
                zq = transform(z[None].float(), StepContext(step=t)).double()[0]
                lp = torch.log_softmax(z, -1)
                lq = torch.log_softmax(zq, -1)
                h_full = float(-(lp.exp() * lp).nan_to_num(0.0).sum())
                h_q = float(-(lq.exp() * lq).nan_to_num(0.0).sum())
                tok = int(toks[t])
                row = g.iloc[t]
                if path == "gen":
                    assert row.token_id == tok
                    np.testing.assert_allclose(row.entropy_full, h_full, atol=tol)
                    np.testing.assert_allclose(row.entropy_sampled, h_q, atol=tol)
                    np.testing.assert_allclose(row.logprob_model, float(lp[tok]), atol=tol)
                    np.testing.assert_allclose(row.logprob, float(lq[tok]), atol=tol)
                else:
                    assert row.human_token_id == tok
                    np.testing.assert_allclose(row.human_entropy_full, h_full, atol=tol)
                    np.testing.assert_allclose(row.human_entropy_sampled, h_q, atol=tol)
                    np.testing.assert_allclose(row.human_logprob_model, float(lp[tok]), atol=tol)
                    np.testing.assert_allclose(row.human_logprob, float(lq[tok]), atol=tol)


@pytest.mark.parametrize("kind", ["gpt2", "llama"])
@pytest.mark.parametrize("sampler", ["pure", "temp=0.7,top_k=5"])
def test_hf_stats_match_float64_reference(kind, sampler, tmp_path):
    be = _tiny_hf(kind)
    manifest, df = _run(be, tmp_path, sampler=sampler, stop_at_eos=False)
    assert len(df) == 5 * 7 and manifest["status"] == "complete"
    assert manifest["params"] > 0 and manifest["dtype"] == "float32"
    _reference_f64(be, manifest, df, sampler)


def test_ngram_stats_match_float64_reference(tmp_path):
    from scalescope.calibration.backends.ngram import NGramBackend

    be = NGramBackend.from_corpus(list(_corpus().documents), order=2, tokenizer="char")
    manifest, df = _run(be, tmp_path, stop_at_eos=False)
    _reference_f64(be, manifest, df)


def test_alignment_on_closed_form_toy_backend(tmp_path):
    # Position-only logits: the distribution at prefix length L is softmax(position[L]), whatever the tokens.
    V, P, T = 6, 6, 7
    g = torch.Generator().manual_seed(1)
    position = torch.randn(P + T + 1, V, generator=g) * 2
    be = ToyBackend(torch.zeros(V, V), position)
    corpus = Corpus.from_documents("toy", ["abcdefabcdefabcdefabcdef", "fedcbafedcbafedcba"])
    manifest, df = _run(be, tmp_path, samples=2, corpus_obj=corpus, stop_at_eos=False, prompt_tokens=P, steps=T)
    ids = {0: be.encode(corpus.documents[0]), 1: be.encode(corpus.documents[1])}
    for _, row in df.iterrows():
        t, s = int(row.step), int(row.sample_id)
        lp = torch.log_softmax(position[P + t].double(), -1)  # step t is predicted from prefix length P + t
        human = ids[s][P + t]  # human token t = the t-th token after the prompt
        assert row.human_token_id == human
        assert row.human_logprob_model == pytest.approx(float(lp[human]), abs=1e-5)
        assert row.logprob_model == pytest.approx(float(lp[int(row.token_id)]), abs=1e-5)
        # same prefix length => same distribution in both paths
        assert row.entropy_full == pytest.approx(row.human_entropy_full, abs=1e-6)


@pytest.mark.parametrize("kind", ["gpt2", "llama"])
def test_first_step_distribution_equals_teacher_forced(kind, tmp_path):
    be = _tiny_hf(kind)
    _, df = _run(be, tmp_path, sampler="temp=0.8,top_p=0.9")
    d0 = df[df.step == 0]
    np.testing.assert_allclose(d0.entropy_full, d0.human_entropy_full, atol=1e-5)
    np.testing.assert_allclose(d0.entropy_sampled, d0.human_entropy_sampled, atol=1e-5)


def test_pure_sampling_logprob_equals_model_and_smoothing_identity(tmp_path):
    _, df = _run(_tiny_hf("gpt2"), tmp_path)
    alive = df[df.alive]
    np.testing.assert_array_equal(alive.logprob.to_numpy(), alive.logprob_model.to_numpy())
    np.testing.assert_allclose(df["human_logprob_smooth_1e-2"], df.human_logprob, atol=1e-6)
    assert df.human_in_kept.all()


def test_truncation_records_coverage_and_finite_smoothed_loss(tmp_path):
    _, df = _run(_tiny_hf("llama"), tmp_path, sampler="top_k=2")
    out = ~df.human_in_kept
    assert out.any()
    assert np.isneginf(df.loc[out, "human_logprob"]).all()
    assert np.isfinite(df.loc[df.human_in_kept, "human_logprob"]).all()
    for lam in ("1e-2", "1e-3", "1e-4"):
        assert np.isfinite(df[f"human_logprob_smooth_{lam}"]).all()
    # log((1-l)q + l p) >= log(l p) and, for kept tokens, >= log((1-l) q)
    lam = 1e-2
    assert (df["human_logprob_smooth_1e-2"] >= df.human_logprob_model + math.log(lam) - 1e-5).all()
    kept = df[df.human_in_kept]
    assert (kept["human_logprob_smooth_1e-2"] >= kept.human_logprob + math.log1p(-lam) - 1e-5).all()
    # sampled distribution has at most 2 tokens: 0 <= H(q) <= log 2
    assert (df.entropy_sampled.dropna() <= math.log(2) + 1e-5).all()
    assert (df.human_entropy_sampled >= -1e-6).all()


def test_eos_survivorship(tmp_path):
    V = 5
    bigram = torch.zeros(V, V)
    bigram[:, 4] = 1.5  # token 'e' (id 4) is EOS and fairly likely
    bigram[4, :] = float("-inf")
    bigram[4, 4] = 0.0
    be = ToyBackend(bigram, eos_token_id=4)
    corpus = Corpus.from_documents("toy", ["abcd" * 4 * 2] * 4)
    manifest, df = _run(be, tmp_path, samples=8, corpus_obj=corpus, steps=12, prompt_tokens=4, batch_size=3)
    assert manifest["rows_after_eos"].startswith("kept")
    assert len(df) == 8 * 12  # rows after EOS are kept
    for _, g in df.groupby("sample_id"):
        alive = g.alive.to_numpy()
        assert alive[0]
        assert (np.diff(alive.astype(int)) <= 0).all()  # once dead, stays dead
        eos_steps = np.flatnonzero(g.token_id.to_numpy() == 4)
        if len(eos_steps):
            first = eos_steps[0]
            assert alive[first] and not alive[first + 1:].any()
        dead = g[~g.alive]
        assert (dead.token_id == -1).all() and dead.entropy_full.isna().all()
        assert g.human_logprob_model.notna().all()  # human text never stops
    survivors = df.groupby("step").alive.sum()
    assert survivors.iloc[0] == 8 and survivors.is_monotonic_decreasing and survivors.iloc[-1] < 8


def test_hidden_state_exposed_to_samplers(tmp_path):
    from scalescope.calibration import samplers

    seen = []

    class NeedsHidden(samplers.Transform):
        spec = "probe_hidden=1"
        needs_hidden = True

        def transform(self, logits, ctx):
            seen.append((ctx.mode, ctx.step, None if ctx.hidden is None else tuple(ctx.hidden.shape),
                         tuple(ctx.history.shape)))
            return logits

    samplers.register("probe_hidden", lambda v: NeedsHidden())
    be = _tiny_hf("gpt2")
    _run(be, tmp_path, sampler="probe_hidden=1", samples=2, batch_size=2, shard_size=2)
    gen = [s for s in seen if s[0] == "generate"]
    score = [s for s in seen if s[0] == "score"]
    assert gen[0] == ("generate", 0, (2, 64), (2, 6)) and gen[3][3] == (2, 9)
    assert score[0] == ("score", 0, (2, 64), (2, 6))


def test_same_seed_same_records_other_seed_differs(tmp_path):
    be = _tiny_hf("gpt2")
    _, a = _run(be, tmp_path, "a", seed=3)
    _, b = _run(be, tmp_path, "b", seed=3)
    _, c = _run(be, tmp_path, "c", seed=4)
    pd.testing.assert_frame_equal(a, b)
    assert not a.token_id.equals(c.token_id)


def test_resume_after_crash_is_byte_identical(tmp_path):
    be = _tiny_hf("llama")
    cfg = CalibrationConfig(model="tiny", corpus="toy", prompt_tokens=6, steps=5, samples=7, batch_size=2,
                            shard_size=3, sampler="temp=0.9")
    CalibrationRun(cfg).run(be, _corpus(), tmp_path / "full", progress=False)
    # "crash" after the first shard
    CalibrationRun(cfg).run(be, _corpus(), tmp_path / "part", progress=False, max_shards=1)
    st = RunStore(tmp_path / "part")
    assert st.shard_indices() == [0] and st.read_manifest()["status"] == "running"
    with pytest.raises(InputError, match="already exists"):
        CalibrationRun(cfg).run(be, _corpus(), tmp_path / "part", progress=False)
    CalibrationRun(cfg).run(be, _corpus(), tmp_path / "part", progress=False, resume=True)
    full, part = RunStore(tmp_path / "full"), RunStore(tmp_path / "part")
    assert full.shard_indices() == part.shard_indices() == [0, 1, 2]
    for k in full.shard_indices():
        assert full.shard_path(k).read_bytes() == part.shard_path(k).read_bytes()
    assert part.read_manifest()["status"] == "complete"
    # a different configuration refuses to resume
    other = CalibrationConfig(**{**cfg.__dict__, "sampler": "temp=0.8"})
    with pytest.raises(InputError, match="configuration differs"):
        CalibrationRun(other).run(be, _corpus(), tmp_path / "part", progress=False, resume=True)


def test_random_passages_recorded_and_old_manifests_resume(tmp_path):
    be = _tiny_hf("gpt2")
    cfg = CalibrationConfig(model="tiny", corpus="toy", prompt_tokens=6, steps=5, samples=4, shard_size=2,
                            passages="random", passage_seed=3)
    prep = CalibrationRun(cfg).prepare(be, _corpus())
    opening = CalibrationRun(CalibrationConfig(**{**cfg.__dict__, "passages": "openings"})).prepare(be, _corpus())
    assert not np.array_equal(prep.passages.ids, opening.passages.ids)
    CalibrationRun(cfg).run(be, _corpus(), tmp_path / "r", progress=False, max_shards=1)
    st = RunStore(tmp_path / "r")
    man = st.read_manifest()
    assert man["config"]["passages"] == "random" and man["passages"]["mode"] == "random"
    assert man["passages"]["seed"] == 3
    docs = man["passage_documents"]
    assert len(docs) == 4 and docs == prep.passages.doc_index.tolist()
    # a run written before --passages existed has neither key: it resumes as "openings" (what it did)
    cfg0 = CalibrationConfig(model="tiny", corpus="toy", prompt_tokens=6, steps=5, samples=4, shard_size=2,
                             passages="openings")
    CalibrationRun(cfg0).run(be, _corpus(), tmp_path / "old", progress=False, max_shards=1)
    old = RunStore(tmp_path / "old")
    m = old.read_manifest()
    for k in ("passages", "passage_seed"):
        m["config"].pop(k)
    (tmp_path / "old" / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(InputError, match="passages: 'openings' -> 'random'"):
        CalibrationRun(CalibrationConfig(**{**cfg0.__dict__, "passages": "random"})).run(
            be, _corpus(), tmp_path / "old", progress=False, resume=True)
    CalibrationRun(cfg0).run(be, _corpus(), tmp_path / "old", progress=False, resume=True)
    assert old.read_manifest()["status"] == "complete"
    with pytest.raises(InputError, match="--passages 'middle'"):
        CalibrationConfig(model="t", corpus="c", passages="middle").validate()


def test_prompt_longer_than_context_is_input_error():
    be = _tiny_hf("gpt2", n_positions=10)
    cfg = CalibrationConfig(model="tiny", corpus="toy", prompt_tokens=6, steps=7, samples=2)
    with pytest.raises(InputError, match="exceeds its context length 10"):
        CalibrationRun(cfg).prepare(be, _corpus())


def test_passages_too_short_names_corpus():
    be = ToyBackend(torch.zeros(4, 4))
    cfg = CalibrationConfig(model="toy", corpus="tiny", prompt_tokens=6, steps=7, samples=2)
    with pytest.raises(InputError, match="corpus 'tiny'"):
        CalibrationRun(cfg).prepare(be, Corpus.from_documents("tiny", ["abc", "abcd"]))


def test_stats_nan_safe_with_neg_inf_logits():
    z = torch.tensor([[0.0, float("-inf"), 0.0, float("-inf")], [1.0, 2.0, 3.0, 4.0]])
    h = stats.entropy(z)
    assert torch.isfinite(h).all()
    assert float(h[0]) == pytest.approx(math.log(2), abs=1e-6)
    p = torch.softmax(z[1].double(), -1)
    assert float(h[1]) == pytest.approx(float(-(p * p.log()).sum()), abs=1e-6)
    lq = stats.log_softmax(z)
    mix = stats.mixture_logprob(lq[:, 1], torch.log_softmax(torch.zeros(2, 4), -1)[:, 1], 1e-3)
    assert float(mix[0]) == pytest.approx(math.log(1e-3 * 0.25), rel=1e-6)


@pytest.mark.gpu
@pytest.mark.parametrize("kind", ["gpt2", "llama"])
@pytest.mark.parametrize("sampler", ["pure", "temp=0.9"])  # non-truncating: bf16 noise cannot flip a kept set
def test_gpu_bf16_stats_match_float64_reference(kind, sampler, tmp_path):
    be = _tiny_hf(kind, device="cuda", dtype=torch.bfloat16)
    manifest, df = _run(be, tmp_path, sampler=sampler, stop_at_eos=False)
    assert manifest["dtype"] == "bfloat16" and manifest["device"].startswith("cuda")
    _reference_f64(be, manifest, df, sampler)


@pytest.mark.gpu
def test_gpu_resume_identical(tmp_path):
    be = _tiny_hf("llama", device="cuda", dtype=torch.bfloat16)
    cfg = CalibrationConfig(model="tiny", corpus="toy", prompt_tokens=6, steps=5, samples=7, batch_size=2,
                            shard_size=3)
    CalibrationRun(cfg).run(be, _corpus(), tmp_path / "full", progress=False)
    CalibrationRun(cfg).run(be, _corpus(), tmp_path / "part", progress=False, max_shards=1)
    CalibrationRun(cfg).run(be, _corpus(), tmp_path / "part", progress=False, resume=True)
    for k in range(3):
        assert RunStore(tmp_path / "full").shard_path(k).read_bytes() == \
            RunStore(tmp_path / "part").shard_path(k).read_bytes()


def test_sample_categorical_matches_distribution():
    q = torch.tensor([[0.1, 0.0, 0.6, 0.3], [0.0, 0.0, 1.0, 0.0]]).repeat(5000, 1)
    g = torch.Generator().manual_seed(0)
    draws = stats.sample_categorical(q, g).view(5000, 2)
    freq = torch.bincount(draws[:, 0], minlength=4).double() / 5000
    assert freq[1] == 0 and (draws[:, 1] == 2).all()
    # binomial standard error at n = 5000 is <= 0.0071; 5 sigma
    np.testing.assert_allclose(freq.numpy(), [0.1, 0.0, 0.6, 0.3], atol=0.036)


def test_chat_template_prefixes_every_prompt(tmp_path):
    be = _tiny_hf("gpt2")
    be.tokenizer.chat_template = "{% for m in messages %}ab{{ m['content'][:3] }}{% endfor %}{% if add_generation_prompt %} {% endif %}"
    manifest, df = _run(be, tmp_path, chat_template=True, samples=2, stop_at_eos=False)
    assert manifest["prompt_length"] == manifest["prompt_tokens"] + len("abCon ")
    assert manifest["config"]["chat_template"] is True
    _reference_f64(be, manifest, df)  # the reference rebuilds prompts from passages + the same prefix


def test_chat_template_missing_is_input_error():
    be = _tiny_hf("gpt2")
    cfg = CalibrationConfig(model="tiny", corpus="toy", prompt_tokens=6, steps=7, samples=2, chat_template=True)
    with pytest.raises(InputError, match="no chat template"):
        CalibrationRun(cfg).prepare(be, _corpus())


def test_load_run_helpers(tmp_path):
    st = RunStore(tmp_path / "r")
    st.create({"config": {}, "status": "running"})
    m, df = load_run(tmp_path / "r")
    assert len(df) == 0 and "human_logprob" in df.columns
    with pytest.raises(InputError, match="not complete"):
        load_run(tmp_path / "r", require_complete=True)
    with pytest.raises(InputError, match="not a calibration run directory"):
        load_run(tmp_path)
    _, df = _run(ToyBackend(torch.zeros(4, 4)), tmp_path, "toy", corpus_obj=Corpus.from_documents(
        "t", ["abcd" * 10] * 3), samples=4)
    m, sub = load_run(tmp_path / "toy", columns=["sample_id", "step", "entropy_full"], require_complete=True)
    assert list(sub.columns) == ["sample_id", "step", "entropy_full"] and len(sub) == 4 * 7
    assert sub.entropy_full.dtype == np.float32
