"""Chunked fused entropy / log-prob / sampling kernels (scalescope.calibration.fast.kernels) vs a float64 reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from scalescope.calibration import stats
from scalescope.calibration.fast.kernels import default_chunk, fused_stats, torch_fused_stats

TIGHT = 2e-5  # float32 chunked sums vs float64 over V <= 5000


def _ref(z: torch.Tensor, scale: float = 1.0):
    z = z.double() * scale
    lp = torch.log_softmax(z, dim=-1)
    p = lp.exp()
    h = -(p * torch.where(torch.isfinite(lp), lp, torch.zeros_like(lp))).sum(-1)
    return lp, h, torch.logsumexp(z, -1)


def _logits(n, v, seed, mask_frac=0.0):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, v, generator=g) * 3
    if mask_frac:
        z[torch.rand(n, v, generator=g) < mask_frac] = float("-inf")
        z[:, 0] = 0.5  # keep >= 1 token
    return z


@pytest.mark.parametrize("chunk", [7, 64, 1000, 5000])
@pytest.mark.parametrize("mask_frac", [0.0, 0.6])
@pytest.mark.parametrize("scale", [1.0, 1 / 0.7])
def test_stats_match_float64(chunk, mask_frac, scale):
    z = _logits(12, 3001, 0, mask_frac)
    tgt = torch.randint(0, 3001, (12,), generator=torch.Generator().manual_seed(1))
    out = torch_fused_stats(z, target=tgt, scale=scale, chunk=chunk)
    lp, h, lz = _ref(z, scale)
    np.testing.assert_allclose(out.entropy.double(), h, rtol=TIGHT, atol=TIGHT)
    np.testing.assert_allclose(out.logz.double(), lz, rtol=TIGHT, atol=TIGHT)
    want = lp.gather(1, tgt.view(-1, 1)).squeeze(1)
    got = out.target_logprob.double()
    fin = torch.isfinite(want)
    assert torch.equal(fin, torch.isfinite(got))  # masked targets give -inf, not NaN
    np.testing.assert_allclose(got[fin], want[fin], rtol=TIGHT, atol=1e-4)


def test_truncation_mask_topk_and_all_masked_row():
    z = _logits(4, 500, 2)
    keep = z >= z.topk(5, dim=-1).values[:, -1:]
    zt = z.masked_fill(~keep, float("-inf"))
    zt[3] = float("-inf")  # a fully masked row -> NaN, like the simple path
    out = torch_fused_stats(zt, chunk=64)
    _, h, _ = _ref(zt[:3])
    np.testing.assert_allclose(out.entropy[:3].double(), h, rtol=TIGHT, atol=TIGHT)
    assert torch.isnan(out.entropy[3])
    assert bool(torch.isfinite(out.entropy[:3]).all())


@pytest.mark.parametrize("chunk", [16, 333, 4096])
def test_sampling_reproduces_simple_path_draws(chunk):
    z = _logits(400, 2000, 3, mask_frac=0.3)
    g1, g2 = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    want = stats.sample_categorical(stats.log_softmax(z).exp(), g1)
    out = torch_fused_stats(z, u=torch.rand(400, 1, generator=g2), chunk=chunk)
    # identical except where a draw lands within float rounding of a token boundary (~1e-7 per draw)
    assert int((want != out.sample).sum()) <= 1
    assert bool(torch.isfinite(z.gather(1, out.sample.view(-1, 1))).all())  # never a masked token
    lp = stats.log_softmax(z).gather(1, out.sample.view(-1, 1)).squeeze(1)
    np.testing.assert_allclose(out.sample_logprob, lp, rtol=1e-5, atol=1e-5)


def test_sampling_distribution():
    p = torch.tensor([0.5, 0.0, 0.3, 0.2, 0.0])
    z = p.log().expand(20000, 5).contiguous()
    u = torch.rand(20000, 1, generator=torch.Generator().manual_seed(0))
    s = torch_fused_stats(z, u=u, chunk=2).sample
    freq = torch.bincount(s, minlength=5).double() / 20000
    assert freq[1] == 0 and freq[4] == 0
    np.testing.assert_allclose(freq, p.double(), atol=0.015)


def test_edge_draws_stay_in_range():
    z = torch.zeros(3, 10)
    z[:, 7:] = float("-inf")
    u = torch.tensor([[0.0], [1 - 2 ** -24], [0.5]])
    s = torch_fused_stats(z, u=u, chunk=4).sample
    assert s.tolist()[0] == 0 and 0 <= s[1] <= 6 and s[2] == 3


def test_dtype_bf16_input_and_default_chunk():
    z = _logits(4, 777, 5).to(torch.bfloat16)
    out = fused_stats(z, target=torch.tensor([1, 2, 3, 4]))
    _, h, _ = _ref(z.float())
    np.testing.assert_allclose(out.entropy.double(), h, rtol=TIGHT, atol=TIGHT)
    assert default_chunk(256, 151936) == 65536 and default_chunk(1, 50) == 50


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 5), v=st.integers(2, 300), chunk=st.integers(1, 300), seed=st.integers(0, 10_000),
       mask=st.floats(0.0, 0.9))
def test_property_entropy_bounds(n, v, chunk, seed, mask):
    z = _logits(n, v, seed, mask)
    out = torch_fused_stats(z, chunk=chunk, u=torch.rand(n, 1, generator=torch.Generator().manual_seed(seed)))
    k = torch.isfinite(z).sum(-1).double()
    assert bool((out.entropy >= -1e-5).all()) and bool((out.entropy.double() <= k.log() + 1e-4).all())
    _, h, _ = _ref(z)
    np.testing.assert_allclose(out.entropy.double(), h, rtol=1e-4, atol=1e-4)
    assert bool(torch.isfinite(z.gather(1, out.sample.view(-1, 1))).all())


@pytest.mark.gpu
def test_triton_matches_torch_on_cuda():
    from scalescope.calibration.fast.triton_kernels import self_check, triton_fused_stats

    dev = torch.device("cuda")
    assert self_check(dev)
    z = (_logits(64, 151936, 9, 0.1) * 2).to(dev, torch.bfloat16)
    tgt = torch.randint(0, 151936, (64,), device=dev)
    u = torch.rand(64, 1, device=dev)
    a = triton_fused_stats(z, target=tgt, u=u, scale=1 / 0.8)
    b = torch_fused_stats(z, target=tgt, u=u, scale=1 / 0.8)
    _, h, _ = _ref(z.float().cpu(), 1 / 0.8)
    np.testing.assert_allclose(a.entropy.double().cpu(), h, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(a.logz.cpu(), b.logz.cpu(), rtol=1e-5, atol=1e-4)
    fin = torch.isfinite(b.target_logprob)
    np.testing.assert_allclose(a.target_logprob[fin].cpu(), b.target_logprob[fin].cpu(), rtol=1e-4, atol=1e-3)
    assert int((a.sample != b.sample).sum()) <= 1
