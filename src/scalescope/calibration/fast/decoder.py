"""Static-cache decoder over Hugging Face Llama-family weights: one-pass prefill, graph-capturable one-token steps.

Part of the GPU fast decode path of the calibration engine (issue 5; the measurement protocol is spec §1.4/§2.3 of
``research/entropy_calibration.md``; the design follows ``research/gpu-decode-notes.md``). The Hugging Face forward
spent 56-77 % of a graphed decode step materialising ``repeat_kv`` over the whole preallocated cache and attending over
all of it. This decoder reuses the model's own modules (embeddings, RMSNorms, q/k/v/o projections incl. biases and
Qwen3 q/k norms, MLPs, lm_head, and the rotary embedding's cos/sin, so rope scaling variants match exactly) but owns:

* the KV cache: one preallocated ``[B, H_kv, L_max, D]`` tensor per layer, written in place at a device-tensor position;
* decode attention that reads the grouped KV heads in place: the ``G = H_q / H_kv`` query heads sharing a KV head are
  folded into the query-length axis (``[B, H_kv, G, D]``), so one SDPA call over ``[B, H_kv, L, D]`` keys serves them
  all (no copy), and only the filled prefix is read -- rounded up to a ``bucket`` of positions, with a mask for the
  few positions past the current one, so each bucket length is one static shape for a CUDA graph;
* prefill / teacher-forced forwards in one pass (causal SDPA with ``enable_gqa=True``).

Supported: ``model_type`` llama, qwen2, qwen3, mistral (without an active sliding window). Anything else raises
InputError naming the model type, and the engine's simple path remains available.

Example
-------
>>> import torch
>>> from transformers import Qwen2Config, Qwen2ForCausalLM
>>> from scalescope.calibration.fast.decoder import StaticDecoder
>>> cfg = Qwen2Config(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
...                   num_attention_heads=4, num_key_value_heads=2)
>>> model = Qwen2ForCausalLM(cfg).eval()
>>> dec = StaticDecoder(model, batch_size=2, max_len=16)
>>> ids = torch.randint(0, 64, (2, 5))
>>> h = dec.prefill(ids)
>>> logits = dec.logits(dec.decode(ids[:, -1], torch.tensor(5), 8))
>>> tuple(logits.shape)
(2, 64)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from scalescope.errors import InputError

__all__ = ["StaticDecoder", "SUPPORTED_MODEL_TYPES", "check_supported"]

SUPPORTED_MODEL_TYPES = ("llama", "qwen2", "qwen3", "mistral")


def check_supported(model, max_len: int | None = None) -> None:
    """Raise InputError (one line) unless ``model`` is a Llama-family causal LM the fast decoder can run."""
    cfg = getattr(model, "config", None)
    mt = getattr(cfg, "model_type", None)
    inner = getattr(model, "model", None)
    if mt not in SUPPORTED_MODEL_TYPES or inner is None or not hasattr(inner, "layers"):
        raise InputError(f"--engine fast: model type {mt!r} is not supported (supported: "
                         f"{', '.join(SUPPORTED_MODEL_TYPES)}); use --engine simple")
    if not hasattr(inner, "rotary_emb"):
        raise InputError(f"--engine fast: model type {mt!r} has no shared rotary embedding; use --engine simple")
    for layer in inner.layers:
        sw = getattr(layer.self_attn, "sliding_window", None)
        if sw is not None and (max_len is None or max_len > sw):
            raise InputError(f"--engine fast: sliding-window attention (window {sw}) is not supported; "
                             f"use --engine simple")


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def _rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    return x * cos + _rotate_half(x) * sin


class StaticDecoder:
    """Own prefill / decode loop over an HF Llama-family model's weights with a preallocated KV cache.

    Parameters
    ----------
    model : a ``LlamaForCausalLM`` / ``Qwen2ForCausalLM`` / ``Qwen3ForCausalLM`` / ``MistralForCausalLM`` (eval mode;
        its device and dtype are used).
    batch_size : rows of the cache (the engine pads a smaller last batch).
    max_len : longest sequence (prompt + generated) the cache holds.
    bucket : decode attention reads the cache prefix rounded up to a multiple of this (1 = exactly the prefix; CUDA
        graphs need a small number of shapes, so the GPU default is 64).
    attention : "sdpa" (``scaled_dot_product_attention`` with a boolean mask) or "matmul" (explicit, same reads).
    """

    def __init__(self, model, *, batch_size: int, max_len: int, bucket: int | None = None,
                 attention: str = "sdpa"):
        check_supported(model, max_len)
        if attention not in ("sdpa", "matmul"):
            raise ValueError(f"attention {attention!r}: expected sdpa or matmul")
        self.model = model
        inner = model.model
        self.layers = list(inner.layers)
        self.embed = model.get_input_embeddings()
        self.norm = inner.norm
        self.lm_head = model.get_output_embeddings()
        cfg = model.config
        first = next(model.parameters())
        self.device, self.dtype = first.device, first.dtype
        a0 = self.layers[0].self_attn
        self.n_heads = int(cfg.num_attention_heads)
        self.n_kv = int(getattr(cfg, "num_key_value_heads", None) or self.n_heads)
        self.head_dim = int(getattr(a0, "head_dim", None) or cfg.hidden_size // self.n_heads)
        self.groups = self.n_heads // self.n_kv
        self.scaling = float(getattr(a0, "scaling", self.head_dim ** -0.5))
        self.batch_size = int(batch_size)
        self.bucket = int(bucket or (64 if self.device.type == "cuda" else 1))
        self.max_len = -(-int(max_len) // self.bucket) * self.bucket
        self.attention = attention
        self.vocab_size = int(self.lm_head.weight.shape[0])
        self.hidden_size = int(cfg.hidden_size)
        shape = (self.batch_size, self.n_kv, self.max_len, self.head_dim)
        with torch.inference_mode():
            self.k_cache = [torch.zeros(shape, dtype=self.dtype, device=self.device) for _ in self.layers]
            self.v_cache = [torch.zeros(shape, dtype=self.dtype, device=self.device) for _ in self.layers]
            # cos/sin for every position from the model's own rotary module (covers rope-scaling variants).
            pos = torch.arange(self.max_len, device=self.device).view(1, -1)
            dummy = torch.zeros(1, 1, self.head_dim, dtype=self.dtype, device=self.device)
            cos, sin = inner.rotary_emb(dummy, pos)
            self.cos, self.sin = cos[0].contiguous(), sin[0].contiguous()  # [L_max, D]
            self.arange = torch.arange(self.max_len, device=self.device)

    # -- sizes ---------------------------------------------------------------------------------------------------
    def kv_bytes_per_token(self) -> int:
        """Bytes of K and V per token per sequence (all layers)."""
        return 2 * len(self.layers) * self.n_kv * self.head_dim * self.k_cache[0].element_size()

    def bucket_len(self, n_positions: int) -> int:
        """Cache prefix length read when ``n_positions`` positions are filled."""
        return min(self.max_len, -(-n_positions // self.bucket) * self.bucket)

    # -- pieces --------------------------------------------------------------------------------------------------
    def _qkv(self, layer, h: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor):
        B, L, _ = h.shape
        x = layer.input_layernorm(h)
        at = layer.self_attn
        q = at.q_proj(x).view(B, L, -1, self.head_dim)
        k = at.k_proj(x).view(B, L, -1, self.head_dim)
        v = at.v_proj(x).view(B, L, -1, self.head_dim)
        if hasattr(at, "q_norm"):  # Qwen3: per-head RMSNorm before rope
            q, k = at.q_norm(q), at.k_norm(k)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        return _rope(q, cos, sin), _rope(k, cos, sin), v

    def _finish_layer(self, layer, h: torch.Tensor, attn: torch.Tensor) -> torch.Tensor:
        B, L = h.shape[:2]
        h = h + layer.self_attn.o_proj(attn.reshape(B, L, -1))
        return h + layer.mlp(layer.post_attention_layernorm(h))

    def _causal_forward(self, ids: torch.Tensor, *, write_cache: bool) -> torch.Tensor:
        """Final-norm hidden states [B, L, d] of ``ids`` [B, L] from position 0 (optionally filling the cache)."""
        B, L = ids.shape
        if write_cache and (B > self.batch_size or L > self.max_len):
            raise ValueError(f"prefill of {B}x{L} exceeds the cache ({self.batch_size}x{self.max_len})")
        h = self.embed(ids)
        cos, sin = self.cos[:L], self.sin[:L]
        for i, layer in enumerate(self.layers):
            q, k, v = self._qkv(layer, h, cos, sin)
            if write_cache:
                self.k_cache[i][:B, :, :L].copy_(k)
                self.v_cache[i][:B, :, :L].copy_(v)
            o = F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=self.scaling,
                                               enable_gqa=self.groups > 1)
            h = self._finish_layer(layer, h, o.transpose(1, 2))
        return self.norm(h)

    @torch.inference_mode()
    def prefill(self, ids: torch.Tensor) -> torch.Tensor:
        """Run prompts ``ids`` [B, P] in one pass, fill cache positions 0..P-1; return last hidden [B, d]."""
        return self._causal_forward(ids.to(self.device), write_cache=True)[:, -1, :]

    @torch.inference_mode()
    def hidden_all(self, ids: torch.Tensor) -> torch.Tensor:
        """Teacher-forced final-norm hidden states [B, L, d] (no cache use); ``logits(h)`` row t predicts t+1."""
        return self._causal_forward(ids.to(self.device), write_cache=False)

    @torch.inference_mode()
    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """lm_head of hidden states (model dtype; callers reduce it with the fused kernels)."""
        return self.lm_head(hidden)

    @torch.inference_mode()
    def decode(self, tokens: torch.Tensor, pos: torch.Tensor, n_read: int) -> torch.Tensor:
        """One step: feed ``tokens`` [B] at position ``pos`` (0-dim int64 device tensor); return hidden [B, d].

        ``n_read`` (a Python int, > pos) is how many cache positions attention reads: a static shape, so one CUDA
        graph serves every step whose position falls in the same bucket.
        """
        B = tokens.shape[0]
        h = self.embed(tokens.view(B, 1))
        pidx = pos.view(1)
        cos, sin = self.cos.index_select(0, pidx), self.sin.index_select(0, pidx)  # [1, D]
        keep = (self.arange[:n_read] <= pos).view(1, 1, 1, n_read)
        for i, layer in enumerate(self.layers):
            q, k, v = self._qkv(layer, h, cos, sin)  # q [B, Hq, 1, D], k/v [B, Hkv, 1, D]
            kc, vc = self.k_cache[i], self.v_cache[i]
            if B != kc.shape[0]:
                kc, vc = kc[:B], vc[:B]
            kc.index_copy_(2, pidx, k)
            vc.index_copy_(2, pidx, v)
            # Query heads h = j * G + g share KV head j (HF repeat_kv layout): fold g into the query axis.
            qg = q.reshape(B, self.n_kv, self.groups, self.head_dim)
            K, V = kc[:, :, :n_read], vc[:, :, :n_read]
            if self.attention == "sdpa":
                o = F.scaled_dot_product_attention(qg, K, V, attn_mask=keep, scale=self.scaling)
            else:
                sc = torch.matmul(qg, K.transpose(-1, -2)).float() * self.scaling
                sc = sc.masked_fill(~keep, float("-inf"))
                o = torch.matmul(sc.softmax(dim=-1).to(V.dtype), V)
            h = self._finish_layer(layer, h, o.reshape(B, 1, self.n_heads * self.head_dim))
        return self.norm(h)[:, 0, :]
