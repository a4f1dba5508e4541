"""Triton kernels (CUDA only) for the fused entropy / log-prob / inverse-CDF sampling step of the fast decode path.

Same quantities and the same sampling formula as :func:`scalescope.calibration.fast.kernels.torch_fused_stats`
(spec §1.2/§1.4 statistics; issue 5 fast path), but each row's logits are read once for the statistics (an online
max / sum-exp / sum-exp-times-logit over vocabulary segments, grid = rows x segments so small batches still fill the
GPU) and once more, over ONE segment only, for the inverse-CDF draw. Logits are read in their own dtype (bf16 on the
GPU): no float32 [batch, vocab] buffer is ever written. Everything is capturable in a CUDA graph (no host syncs).

This module imports ``triton`` at import time; :mod:`.kernels` imports it lazily and falls back to the pure-torch
path when the import or :func:`self_check` fails. Untested without a GPU: ``tests/test_fast_gpu.py`` (marked gpu)
compares it with the torch path.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from scalescope.calibration.fast.kernels import FusedStats, torch_fused_stats

__all__ = ["triton_fused_stats", "self_check"]

BLOCK = 1024


@triton.jit
def _seg_stats_kernel(X, stride_row, V, scale, seg_len, M_out, S_out, T_out, n_seg, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    seg = tl.program_id(1)
    start = seg * seg_len
    base = X + row.to(tl.int64) * stride_row
    m = tl.full([BLOCK], float("-inf"), tl.float32)
    s = tl.zeros([BLOCK], tl.float32)
    t = tl.zeros([BLOCK], tl.float32)
    for off in range(0, seg_len, BLOCK):
        lane = off + tl.arange(0, BLOCK)
        cols = start + lane
        mask = (cols < V) & (lane < seg_len)
        z = tl.load(base + cols, mask=mask, other=float("-inf")).to(tl.float32) * scale
        m_new = tl.maximum(m, z)
        m_ref = tl.where(m_new == float("-inf"), 0.0, m_new)
        alpha = tl.exp(m - m_ref)
        dm = tl.where(m == float("-inf"), 0.0, m - m_ref)
        e = tl.exp(z - m_ref)
        d = tl.where(e > 0, z - m_ref, 0.0)
        # t holds sum e_i (z_i - m); moving the reference from m to m_ref: t' = alpha (t + (m - m_ref) s).
        t = alpha * (t + dm * s) + e * d
        s = s * alpha + e
        m = m_new
    mx = tl.max(m, 0)
    mx_ref = tl.where(mx == float("-inf"), 0.0, mx)
    w = tl.exp(m - mx_ref)
    dm = tl.where(m == float("-inf"), 0.0, m - mx_ref)
    s_tot = tl.sum(s * w, 0)
    t_tot = tl.sum(w * (t + dm * s), 0)
    out = row * n_seg + seg
    tl.store(M_out + out, mx)
    tl.store(S_out + out, s_tot)
    tl.store(T_out + out, t_tot)


@triton.jit
def _seg_sample_kernel(X, stride_row, V, scale, seg_len, K, LZ, THR, OFF, COUNT, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    base = X + row.to(tl.int64) * stride_row
    k = tl.load(K + row)
    lz = tl.load(LZ + row)
    thr = tl.load(THR + row)
    carry = tl.load(OFF + row)
    start = k * seg_len
    cnt = tl.zeros([BLOCK], tl.int32)
    for off in range(0, seg_len, BLOCK):
        lane = off + tl.arange(0, BLOCK)
        cols = start + lane
        mask = (cols < V) & (lane < seg_len)
        z = tl.load(base + cols, mask=mask, other=float("-inf")).to(tl.float32) * scale
        p = tl.exp(z - lz)
        c = tl.cumsum(p, 0) + carry
        cnt += ((c <= thr) & mask).to(tl.int32)
        carry += tl.sum(p, 0)
    tl.store(COUNT + row, tl.sum(cnt, 0))


def _n_segments(n_rows: int, vocab: int, device: torch.device) -> int:
    sms = torch.cuda.get_device_properties(device).multi_processor_count
    want = -(-4 * sms // max(1, n_rows))  # ~4 programs per SM
    return int(max(1, min(want, 64, -(-vocab // BLOCK))))


def triton_fused_stats(logits: torch.Tensor, *, target: torch.Tensor | None = None, u: torch.Tensor | None = None,
                       scale: float = 1.0) -> FusedStats:
    """Triton version of :func:`~scalescope.calibration.fast.kernels.torch_fused_stats` (no ``chunk``)."""
    if logits.stride(-1) != 1:
        logits = logits.contiguous()
    N, V = logits.shape
    S = _n_segments(N, V, logits.device)
    seg_len = -(-V // S)
    seg_len = -(-seg_len // BLOCK) * BLOCK
    S = -(-V // seg_len)
    f32 = dict(dtype=torch.float32, device=logits.device)
    m = torch.empty(N, S, **f32)
    s = torch.empty(N, S, **f32)
    t = torch.empty(N, S, **f32)
    _seg_stats_kernel[(N, S)](logits, logits.stride(0), V, float(scale), seg_len, m, s, t, S, BLOCK=BLOCK,
                              num_warps=4)
    mx = m.amax(dim=1)
    mx_ref = torch.where(torch.isfinite(mx), mx, torch.zeros_like(mx))
    w = torch.exp(m - mx_ref[:, None])
    dm = torch.where(torch.isfinite(m), m - mx_ref[:, None], torch.zeros_like(m))
    s_tot = (s * w).sum(dim=1)
    t_tot = (w * (t + dm * s)).sum(dim=1)
    log_s = s_tot.log()
    logz = mx_ref + log_s
    out = FusedStats(logz=logz, entropy=log_s - t_tot / s_tot)
    if target is not None:
        out.target_logprob = logits.gather(1, target.long().view(N, 1)).squeeze(1).float() * scale - logz
    if u is not None:
        mass = s * torch.exp(torch.where(torch.isfinite(m), m - logz[:, None], torch.full_like(m, float("-inf"))))
        cum = mass.cumsum(dim=1)
        thr = u.reshape(N).float() * cum[:, -1]
        k = (cum <= thr[:, None]).sum(dim=1).clamp_(max=S - 1)
        off = torch.where(k > 0, cum.gather(1, (k - 1).clamp(min=0).view(N, 1)).squeeze(1), torch.zeros_like(thr))
        count = torch.empty(N, dtype=torch.int32, device=logits.device)
        k32 = k.to(torch.int32).contiguous()
        _seg_sample_kernel[(N,)](logits, logits.stride(0), V, float(scale), seg_len, k32, logz.contiguous(),
                                 thr.contiguous(), off.contiguous(), count, BLOCK=BLOCK, num_warps=4)
        n_valid = torch.clamp(V - k * seg_len, max=seg_len)
        j = torch.minimum(count.long(), n_valid - 1)
        out.sample = k * seg_len + j
        out.sample_logprob = logits.gather(1, out.sample.view(N, 1)).squeeze(1).float() * scale - logz
    return out


def self_check(device: torch.device) -> bool:
    """Compare with the torch implementation on random bf16 logits (with -inf entries); True when they agree."""
    g = torch.Generator(device=device).manual_seed(0)
    z = (torch.randn(16, 50_000, generator=g, device=device) * 3).to(torch.bfloat16)
    z[:, ::7] = float("-inf")
    tgt = torch.randint(0, 50_000, (16,), generator=g, device=device)
    tgt = tgt - tgt % 7 + 1
    u = torch.rand(16, 1, generator=g, device=device)
    a = triton_fused_stats(z, target=tgt, u=u, scale=0.9)
    b = torch_fused_stats(z, target=tgt, u=u, scale=0.9)
    ok = bool(torch.allclose(a.entropy, b.entropy, rtol=1e-4, atol=1e-4)
              and torch.allclose(a.logz, b.logz, rtol=1e-5, atol=1e-4)
              and torch.allclose(a.target_logprob, b.target_logprob, rtol=1e-4, atol=1e-4)
              and int((a.sample == b.sample).sum()) >= 15)
    if not ok:
        import warnings

        warnings.warn("scalescope fast path: Triton kernels disagree with the torch reference; not using them",
                      stacklevel=2)
    return ok
