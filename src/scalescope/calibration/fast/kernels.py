"""Fused, vocabulary-chunked next-token statistics: log-normaliser, entropy, token log-prob and inverse-CDF sampling.

Implements the per-step quantities of the entropy-calibration protocol (Cao et al. 2025, spec §1.2/§1.4: the
full-vocabulary entropy H(p) = log Z - E_p[z] of every distribution sampled from or scored with, and log p(token))
for the GPU fast decode path (issue 5), without materialising a float32 ``[batch, vocab]`` log-softmax, its
exponent and a cumulative sum per step as :mod:`scalescope.calibration.stats` does. Logits are read in vocabulary
chunks (any dtype; cast to float32 per chunk), in two passes:

1. the row maximum ``m``;
2. ``s = sum exp(z - m)`` and ``t = sum exp(z - m) (z - m)``, plus the per-chunk mass for sampling;

then ``log Z = m + log s``, ``H = log s - t / s``, ``log p(v) = z_v - log Z``. Sampling is the SAME formula as
:func:`scalescope.calibration.stats.sample_categorical` -- one uniform ``u`` per row from the run's generator, the
first token whose cumulative probability exceeds ``u * total`` -- but the cumulative sum is only formed inside the
one chunk where the threshold falls. With the same generator draws the fast path therefore reproduces the simple
path's tokens except where ``u * total`` falls within float rounding of a token boundary (probability ~1e-7/draw).

``-inf`` logits (masked tokens) contribute nothing; a row whose logits are all ``-inf`` gives NaN statistics, as the
simple path does. On CUDA, :func:`fused_stats` uses the Triton kernels of :mod:`.triton_kernels` when Triton is
importable and passes a one-off self-check against this implementation; otherwise this pure-torch version runs.

Example
-------
>>> import torch
>>> from scalescope.calibration.fast.kernels import fused_stats
>>> z = torch.tensor([[0.0, 0.0, float("-inf")], [1.0, 2.0, 3.0]])
>>> st = fused_stats(z, target=torch.tensor([1, 2]), chunk=2)
>>> [round(float(x), 5) for x in st.entropy]
[0.69315, 0.8324]
>>> round(float(st.target_logprob[0]), 5)
-0.69315
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

__all__ = ["FusedStats", "fused_stats", "torch_fused_stats", "default_chunk", "triton_available"]

#: Upper bound on the float32 elements of one chunk temporary (rows x chunk columns): 2^24 floats = 64 MiB.
CHUNK_ELEMENTS = 1 << 24
_F32_MIN = torch.finfo(torch.float32).min


@dataclass
class FusedStats:
    """Per-row statistics of ``softmax(scale * logits)`` (float32 tensors of shape [N] unless noted).

    logz : log normaliser; entropy : nats; target_logprob : log p(target) (None without ``target``);
    sample : int64 drawn token (None without ``u``); sample_logprob : log p(sample).
    """

    logz: torch.Tensor
    entropy: torch.Tensor
    target_logprob: torch.Tensor | None = None
    sample: torch.Tensor | None = None
    sample_logprob: torch.Tensor | None = None


def default_chunk(n_rows: int, vocab: int) -> int:
    """Vocabulary chunk width so a float32 chunk temporary stays under :data:`CHUNK_ELEMENTS` elements."""
    return max(1, min(vocab, max(1024, CHUNK_ELEMENTS // max(1, n_rows))))


def _chunk(logits: torch.Tensor, c0: int, c1: int, scale: float) -> torch.Tensor:
    # May be a view of ``logits`` (float32, scale 1): callers must not modify it in place.
    z = logits[:, c0:c1].float()
    return z * scale if scale != 1.0 else z


def torch_fused_stats(logits: torch.Tensor, *, target: torch.Tensor | None = None, u: torch.Tensor | None = None,
                      scale: float = 1.0, chunk: int | None = None) -> FusedStats:
    """Pure-torch chunked statistics of ``softmax(scale * logits)`` (CPU or GPU; see the module docstring).

    Parameters
    ----------
    logits : [N, V] any float dtype (``-inf`` allowed).
    target : optional int64 [N]; its log-prob is returned.
    u : optional float32 [N] or [N, 1] uniforms in [0, 1) (``torch.rand(N, 1, generator=g)``, exactly what
        :func:`~scalescope.calibration.stats.sample_categorical` draws); one token per row is sampled.
    scale : multiply logits by this first (1 / temperature).
    chunk : vocabulary chunk width (default :func:`default_chunk`).
    """
    N, V = logits.shape
    C = int(chunk or default_chunk(N, V))
    bounds = [(c0, min(V, c0 + C)) for c0 in range(0, V, C)]
    m = torch.full((N,), float("-inf"), dtype=torch.float32, device=logits.device)
    for c0, c1 in bounds:
        m = torch.maximum(m, _chunk(logits, c0, c1, scale).amax(dim=-1))
    # All -inf rows: shift by 0 so the sums are 0 and log Z = -inf (NaN entropy), as the simple path gives.
    m_safe = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
    s = torch.zeros(N, dtype=torch.float32, device=logits.device)
    t = torch.zeros_like(s)
    for c0, c1 in bounds:
        z = _chunk(logits, c0, c1, scale) - m_safe[:, None]  # out of place: float() of float32 is a view
        e = z.exp()
        s += e.sum(dim=-1)
        # exp(-inf) = 0 but 0 * -inf = NaN: clamp z so masked entries contribute exactly 0.
        t += (e * z.clamp_(min=_F32_MIN)).sum(dim=-1)
    log_s = s.log()
    logz = m_safe + log_s
    entropy = log_s - t / s
    out = FusedStats(logz=logz, entropy=entropy)
    if target is not None:
        zt = logits.gather(1, target.long().view(N, 1)).squeeze(1).float() * scale
        out.target_logprob = zt - logz
    if u is not None:
        out.sample = _sample_chunked(logits, logz, u.reshape(N).to(torch.float64), bounds, C, scale)
        zs = logits.gather(1, out.sample.view(N, 1)).squeeze(1).float() * scale
        out.sample_logprob = zs - logz
    return out


def _sample_chunked(logits: torch.Tensor, logz: torch.Tensor, u: torch.Tensor, bounds, C: int,
                    scale: float) -> torch.Tensor:
    """Inverse-CDF draw over p = exp(z - log Z), cumulated in float64 (as the CPU ``cumsum`` of the simple path)."""
    N, V = logits.shape
    mass = torch.stack([(_chunk(logits, c0, c1, scale) - logz[:, None]).exp().double().sum(dim=-1)
                        for c0, c1 in bounds], dim=1)  # [N, n_chunks]
    cum = mass.cumsum(dim=1)
    thr = u * cum[:, -1]
    # First chunk whose cumulative mass exceeds the threshold (clamped: float rounding may leave none).
    k = (cum <= thr[:, None]).sum(dim=1).clamp_(max=len(bounds) - 1)
    offset = torch.where(k > 0, cum.gather(1, (k - 1).clamp(min=0).view(N, 1)).squeeze(1), torch.zeros_like(thr))
    idx = k.view(N, 1) * C + torch.arange(C, device=logits.device).view(1, C)
    valid = idx < V
    zg = logits.gather(1, idx.clamp(max=V - 1)).float() * scale
    p = (zg - logz[:, None]).exp().masked_fill_(~valid, 0.0).double()
    within = offset[:, None] + p.cumsum(dim=1)
    j = (within <= thr[:, None]).sum(dim=1)
    # Never return a padding column or step past the chunk; a zero-mass tail is skipped by the <= comparison.
    last = (valid.sum(dim=1) - 1).clamp(min=0)
    j = torch.minimum(j, last)
    return (k * C + j).long()


# -- Triton dispatch ---------------------------------------------------------------------------------------------

_TRITON_STATE: dict[str, object] = {}


def triton_available(device: torch.device) -> bool:
    """True when Triton kernels can be used on ``device`` (CUDA, importable, self-check passed, not disabled by
    ``SCALESCOPE_FAST_TRITON=0``)."""
    if device.type != "cuda" or os.environ.get("SCALESCOPE_FAST_TRITON", "1") == "0":
        return False
    key = str(device)
    if key not in _TRITON_STATE:
        try:
            from scalescope.calibration.fast import triton_kernels

            _TRITON_STATE[key] = triton_kernels.self_check(device)
        except Exception as e:  # noqa: BLE001 - any failure means: use the torch path, say why once
            import warnings

            warnings.warn(f"scalescope fast path: Triton kernels unavailable ({type(e).__name__}: {e}); "
                          f"using the pure-torch chunked kernels", stacklevel=2)
            _TRITON_STATE[key] = False
    return bool(_TRITON_STATE[key])


def fused_stats(logits: torch.Tensor, *, target: torch.Tensor | None = None, u: torch.Tensor | None = None,
                scale: float = 1.0, chunk: int | None = None, use_triton: bool | None = None) -> FusedStats:
    """Statistics of ``softmax(scale * logits)``: Triton on CUDA when available, else :func:`torch_fused_stats`.

    ``use_triton=None`` decides automatically; ``True`` forces it (raises if unavailable); ``False`` never uses it.
    """
    want = triton_available(logits.device) if use_triton is None else use_triton
    if want:
        from scalescope.calibration.fast import triton_kernels

        return triton_kernels.triton_fused_stats(logits, target=target, u=u, scale=scale)
    return torch_fused_stats(logits, target=target, u=u, scale=scale, chunk=chunk)
