"""The fast decode path (scalescope.calibration.fast) vs the simple engine on tiny random Llama/Qwen2 GQA models."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import (
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
    Qwen2Config,
    Qwen2ForCausalLM,
)

from scalescope.calibration.backends.hf import HFBackend, char_tokenizer
from scalescope.calibration.corpora import Corpus
from scalescope.calibration.engine import CalibrationConfig, CalibrationRun
from scalescope.calibration.fast.decoder import StaticDecoder
from scalescope.calibration.fast.engine import FastCalibrationRun, FastDecodeEngine, roofline_tokens_per_s
from scalescope.calibration.samplers import parse_sampler
from scalescope.calibration.store import load_run
from scalescope.errors import InputError

FP32_TOL = 2e-4  # float32: our forward vs HF's differ only in summation order
BF16_TOL = 0.05  # nats; bf16 weights and activations


def _model(kind: str, vocab: int, seed: int = 0, dtype=torch.float32):
    torch.manual_seed(seed)
    common = dict(vocab_size=vocab, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256)
    if kind == "llama":
        m = LlamaForCausalLM(LlamaConfig(**common, rope_theta=500.0))
    else:
        m = Qwen2ForCausalLM(Qwen2Config(**common, tie_word_embeddings=True))
    # random init is nearly uniform; sharpen the output so sampling is not trivially flat
    with torch.no_grad():
        m.get_output_embeddings().weight.mul_(3.0)
    return m.to(dtype).eval()


@pytest.fixture(scope="module")
def tok():
    return char_tokenizer("abcdefghij klmnop")


@pytest.mark.parametrize("kind", ["llama", "qwen2"])
@pytest.mark.parametrize("attention,bucket", [("sdpa", 1), ("sdpa", 4), ("matmul", 8)])
def test_decoder_logits_match_hf(kind, attention, bucket):
    m = _model(kind, 40)
    ids = torch.randint(0, 40, (3, 9), generator=torch.Generator().manual_seed(0))
    dec = StaticDecoder(m, batch_size=3, max_len=9, bucket=bucket, attention=attention)
    with torch.inference_mode():
        want = m(input_ids=ids).logits
        h = dec.prefill(ids[:, :5])
        np.testing.assert_allclose(dec.logits(h), want[:, 4], rtol=FP32_TOL, atol=FP32_TOL)
        for p in range(5, 9):
            h = dec.decode(ids[:, p], torch.tensor(p), dec.bucket_len(p + 1))
            np.testing.assert_allclose(dec.logits(h), want[:, p], rtol=FP32_TOL, atol=FP32_TOL)
        np.testing.assert_allclose(dec.logits(dec.hidden_all(ids)), want, rtol=FP32_TOL, atol=FP32_TOL)


def _both(be, prompts, human, sampler, seed=3, stop_at_eos=True, **kw):
    tr = parse_sampler(sampler)
    run = CalibrationRun(CalibrationConfig(model="m", corpus="c"))
    T = human.shape[1]
    with torch.inference_mode():
        simple = {**run._generate(be, tr, prompts, T, torch.Generator().manual_seed(seed), stop_at_eos),
                  **run._score(be, tr, prompts, human)}
        eng = FastDecodeEngine(be, batch_size=kw.pop("batch_size", prompts.shape[0]), prompt_len=prompts.shape[1],
                               steps=T, **kw)
        fast = {**eng.generate(prompts, tr, torch.Generator().manual_seed(seed), stop_at_eos),
                **eng.score(prompts, human, tr)}
    return simple, fast


def _assert_same(simple, fast, tol=FP32_TOL):
    assert set(simple) == set(fast)
    for k, v in simple.items():
        f = fast[k]
        assert f.shape == v.shape and f.dtype == v.dtype, k
        if v.dtype in (torch.bool, torch.long):
            assert torch.equal(f, v), k
        else:
            np.testing.assert_allclose(f, v, rtol=tol, atol=tol, err_msg=k)


@pytest.mark.parametrize("kind", ["llama", "qwen2"])
@pytest.mark.parametrize("sampler", ["pure", "temp=0.7", "top_p=0.8", "top_k=5,temp=1.3"])
def test_generate_and_score_match_simple_engine(kind, sampler, tok):
    m = _model(kind, len(tok), seed=1)
    be = HFBackend.from_model(m, tok)
    g = torch.Generator().manual_seed(5)
    prompts = torch.randint(0, len(tok) - 2, (4, 6), generator=g)
    human = torch.randint(0, len(tok) - 2, (4, 12), generator=g)
    simple, fast = _both(be, prompts, human, sampler, stop_at_eos=False)
    _assert_same(simple, fast)  # identical token streams, same statistics
    assert simple["token_id"].unique().numel() > 3  # the draws really vary


def test_eos_padding_and_buckets(tok):
    m = _model("qwen2", len(tok), seed=2)
    be = HFBackend.from_model(m, tok)
    be.eos_token_id = 3  # a common token, so rows end early
    g = torch.Generator().manual_seed(6)
    prompts = torch.randint(0, len(tok) - 2, (3, 5), generator=g)
    human = torch.randint(0, len(tok) - 2, (3, 15), generator=g)
    # batch of 3 in an engine built for 5 (padded), cache read in buckets of 4 positions
    simple, fast = _both(be, prompts, human, "pure", batch_size=5, bucket=4)
    _assert_same(simple, fast)


def test_full_run_matches_simple_run(tmp_path, tok):
    m = _model("llama", len(tok), seed=4)
    be = HFBackend.from_model(m, tok)
    corpus = Corpus.from_documents("toy", ["abc defg hij klm nop " * 6] * 5)
    cfg = CalibrationConfig(model="tiny", corpus="toy", prompt_tokens=8, steps=6, samples=3, batch_size=2,
                            shard_size=2, sampler="temp=0.9")
    a = CalibrationRun(cfg).run(be, corpus, tmp_path / "simple", progress=False)
    b = FastCalibrationRun(cfg).run(be, corpus, tmp_path / "fast", progress=False)
    ma, da = load_run(a)
    mb, db = load_run(b)
    assert mb["engine"] == "fast" and mb["status"] == "complete"
    assert list(da.columns) == list(db.columns) and len(da) == len(db) == 18
    for c in da.columns:
        if da[c].dtype.kind == "f":
            np.testing.assert_allclose(db[c], da[c], rtol=FP32_TOL, atol=FP32_TOL, err_msg=c)
        else:
            assert (da[c].to_numpy() == db[c].to_numpy()).all(), c


def test_unsupported_models_are_input_errors(tok):
    gpt2 = GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=16, n_head=2, vocab_size=len(tok)))
    be = HFBackend.from_model(gpt2, tok)
    cfg = CalibrationConfig(model="gpt2", corpus="toy", prompt_tokens=4, steps=3, samples=2)
    with pytest.raises(InputError, match="model type 'gpt2' is not supported"):
        FastCalibrationRun(cfg).prepare(be, Corpus.from_documents("toy", ["abc def " * 4]))


def test_roofline_arithmetic_issue5():
    # issue 5: Qwen2.5-0.5B shape, 0.99 GB bf16 weights, 12 KB/token/seq KV, V=151,936, 2.99 TB/s, P=128, T=256
    kw = dict(bandwidth_bytes_per_s=2.99e12, weight_bytes=988_000_000, kv_bytes_per_token=12_288, prompt_len=128,
              steps=256, vocab=151_936)
    assert roofline_tokens_per_s(batch=64, **kw) == pytest.approx(150_000, rel=0.03)
    assert roofline_tokens_per_s(batch=256, **kw) == pytest.approx(370_000, rel=0.03)


@pytest.mark.gpu
@pytest.mark.parametrize("sampler", ["pure", "temp=0.8", "top_p=0.9"])
def test_gpu_bf16_graphs_match_simple_engine(sampler, tok):
    """bf16 on CUDA with CUDA graphs + Triton: scoring within bf16 tolerance; generated statistics equal HF's
    teacher-forced statistics of the fast path's own token stream; token streams equal while the paths agree."""
    dev = torch.device("cuda")
    m = _model("qwen2", len(tok), seed=7, dtype=torch.bfloat16).to(dev)
    be = HFBackend.from_model(m, tok)
    g = torch.Generator().manual_seed(8)
    prompts = torch.randint(0, len(tok) - 2, (8, 16), generator=g).to(dev)
    human = torch.randint(0, len(tok) - 2, (8, 70), generator=g).to(dev)
    tr = parse_sampler(sampler)
    run = CalibrationRun(CalibrationConfig(model="m", corpus="c"))
    with torch.inference_mode():
        simple_s = run._score(be, tr, prompts, human)
        simple_g = run._generate(be, tr, prompts, 70, torch.Generator(device=dev).manual_seed(1), False)
        eng = FastDecodeEngine(be, batch_size=8, prompt_len=16, steps=70, bucket=32)
        fast_g = eng.generate(prompts, tr, torch.Generator(device=dev).manual_seed(1), False)
        fast_s = eng.score(prompts, human, tr)
        # the fast path's own stream, re-scored teacher-forced by the simple path (HF forward)
        rescored = run._score(be, tr, prompts, fast_g["token_id"])
    for k in ("human_logprob_model", "human_entropy_full", "human_entropy_sampled"):
        np.testing.assert_allclose(fast_s[k].cpu(), simple_s[k].cpu(), rtol=BF16_TOL, atol=BF16_TOL, err_msg=k)
    np.testing.assert_allclose(fast_g["entropy_full"].cpu(), rescored["human_entropy_full"].cpu(), rtol=BF16_TOL,
                               atol=BF16_TOL)
    np.testing.assert_allclose(fast_g["logprob_model"].cpu(), rescored["human_logprob_model"].cpu(),
                               rtol=BF16_TOL, atol=BF16_TOL)
    same = (fast_g["token_id"] == simple_g["token_id"]).cpu().numpy()
    assert same[:, :3].all()  # identical draws; bf16 forwards may diverge later
