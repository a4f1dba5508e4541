"""The calibration engine's fast path: static-cache decoding, CUDA-graphed steps and fused per-step statistics.

Implements issue 5 for the measurement protocol of spec §1.4/§2.3 (``research/entropy_calibration.md``): the same
records as :class:`scalescope.calibration.engine.CalibrationRun` (whose ``_generate`` / ``_score`` this replaces,
through :class:`FastCalibrationRun`), computed with

* :class:`~scalescope.calibration.fast.decoder.StaticDecoder` (preallocated KV cache, GQA read in place, one-pass
  prefill), one CUDA graph per cache-read bucket on CUDA (the position, step index and token are device tensors);
* :func:`~scalescope.calibration.fast.kernels.fused_stats` (entropy, log-probs and the inverse-CDF draw without a
  float32 log-softmax/probs/cumsum per step; Triton on CUDA) -- for ``pure`` and ``temp=τ`` samplers the whole step
  (model, statistics, sampling, record writes, EOS bookkeeping) is inside the graph; other samplers run the model
  step graphed and the transform + statistics eagerly on one float32 [B, V] copy of the logits;
* teacher-forced scoring: one causal forward per row chunk, lm_head + fused statistics over position chunks.

RNG: every step draws ``torch.rand(b, 1, generator=gen)`` -- the very draws of the simple path's
``stats.sample_categorical`` -- and applies the same inverse-CDF rule, so with float32 weights the two paths give
identical token streams unless a draw lands within rounding of a token boundary (tests check this on CPU). In bf16
the two forwards (ours vs. HF's kernels) differ by bf16 rounding, so token streams agree until the first draw that
falls between the two paths' slightly different CDFs, and then diverge; statistics agree within bf16 tolerance.
Per-step records stay on the device until the engine writes a shard.

Example
-------
>>> import tempfile, torch
>>> from transformers import LlamaConfig, LlamaForCausalLM
>>> from scalescope.calibration.backends.hf import HFBackend, char_tokenizer
>>> from scalescope.calibration.corpora import Corpus
>>> from scalescope.calibration.engine import CalibrationConfig
>>> from scalescope.calibration.fast.engine import FastCalibrationRun
>>> tok = char_tokenizer("abcdefgh ")
>>> cfg = LlamaConfig(vocab_size=len(tok), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
...                   num_attention_heads=4, num_key_value_heads=2)
>>> be = HFBackend.from_model(LlamaForCausalLM(cfg), tok)
>>> corpus = Corpus.from_documents("toy", ["abc defg hab cdef gha bcd " * 4] * 4)
>>> rc = CalibrationConfig(model="tiny", corpus="toy", prompt_tokens=8, steps=5, samples=4, batch_size=2)
>>> out = FastCalibrationRun(rc).run(be, corpus, tempfile.mkdtemp() + "/run", progress=False)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from scalescope.calibration import stats
from scalescope.calibration.engine import CalibrationRun
from scalescope.calibration.fast.decoder import StaticDecoder, check_supported
from scalescope.calibration.fast.kernels import fused_stats
from scalescope.calibration.samplers import Identity, StepContext, Temperature, Transform
from scalescope.errors import InputError

__all__ = ["FastDecodeEngine", "FastCalibrationRun", "fused_scale"]

_GEN_F32 = ("logprob", "logprob_model", "entropy_sampled", "entropy_full")
#: Scoring materialises lm_head output for (rows x positions) at a time; cap it at this many elements.
SCORE_LOGITS_ELEMENTS = 1 << 26
#: Cap on rows x length x max(intermediate, hidden) activations of one teacher-forced forward chunk.
SCORE_ACT_ELEMENTS = 1 << 28


def fused_scale(transform: Transform) -> float | None:
    """1/τ when ``transform`` is pure (1.0) or a single temperature; None when it needs the eager path."""
    if type(transform) is Identity:
        return 1.0
    if type(transform) is Temperature:
        return 1.0 / transform.tau
    return None


@dataclass
class _Graphs:
    graphs: dict[int, torch.cuda.CUDAGraph]
    fused: bool


class FastDecodeEngine:
    """Generation + teacher-forced scoring over one HF model with static buffers (reused across batches).

    Parameters
    ----------
    backend : an :class:`~scalescope.calibration.backends.hf.HFBackend` (its ``model``, ``eos_token_id``).
    batch_size, prompt_len, steps : the static shapes (a smaller batch is padded).
    use_graphs : capture CUDA graphs (default: on CUDA). bucket, attention : see ``StaticDecoder``.
    use_triton : passed to :func:`fused_stats` (None = auto on CUDA).
    """

    def __init__(self, backend, *, batch_size: int, prompt_len: int, steps: int, use_graphs: bool | None = None,
                 bucket: int | None = None, attention: str = "sdpa", use_triton: bool | None = None):
        model = getattr(backend, "model", None)
        if model is None:
            raise InputError("--engine fast: needs a transformers model backend; use --engine simple")
        check_supported(model, prompt_len + steps)
        self.backend = backend
        self.B, self.P, self.T = int(batch_size), int(prompt_len), int(steps)
        self.dec = StaticDecoder(model, batch_size=self.B, max_len=self.P + self.T, bucket=bucket,
                                 attention=attention)
        dev = self.dec.device
        self.device = dev
        self.use_graphs = (dev.type == "cuda") if use_graphs is None else bool(use_graphs)
        self.use_triton = use_triton
        self.eos = getattr(backend, "eos_token_id", None)
        B, T = self.B, self.T
        with torch.inference_mode():
            self.tok = torch.zeros(B, dtype=torch.long, device=dev)
            self.pos = torch.zeros((), dtype=torch.long, device=dev)
            self.t_idx = torch.zeros((), dtype=torch.long, device=dev)
            self.u = torch.zeros(B, 1, dtype=torch.float32, device=dev)
            self.ended = torch.zeros(B, dtype=torch.bool, device=dev)
            self.stop = torch.zeros((), dtype=torch.bool, device=dev)
            self.hist = torch.zeros(B, self.P + T, dtype=torch.long, device=dev)
            self.rec = {n: torch.zeros(B, T, dtype=torch.float32, device=dev) for n in _GEN_F32}
            self.rec_tok = torch.zeros(B, T, dtype=torch.long, device=dev)
            self.rec_alive = torch.zeros(B, T, dtype=torch.bool, device=dev)
            self.hidden = torch.zeros(B, self.dec.hidden_size, dtype=torch.float32, device=dev)
            self.logits_buf: torch.Tensor | None = None
        self._graphs: dict[tuple[float | None, bool], _Graphs] = {}

    # -- one generation step ---------------------------------------------------------------------------------------
    def _record(self, scale: float, logits: torch.Tensor) -> None:
        """Fused statistics + draw from softmax(scale * logits); write step ``t_idx`` records; advance the token."""
        B = self.B
        if scale == 1.0:
            st = fused_stats(logits, u=self.u, use_triton=self.use_triton)
            lq = lp = st.sample_logprob
            hq = hp = st.entropy
        else:
            sp = fused_stats(logits, use_triton=self.use_triton)
            st = fused_stats(logits, u=self.u, scale=scale, use_triton=self.use_triton)
            lq, hq, hp = st.sample_logprob, st.entropy, sp.entropy
            lp = logits.gather(1, st.sample.view(B, 1)).squeeze(1).float() - sp.logz
        self._write(st.sample, lq, lp, hq, hp)

    def _write(self, tok, lq, lp, hq, hp) -> None:
        B = self.B
        col = self.t_idx.view(1)
        for name, v in zip(_GEN_F32, (lq, lp, hq, hp), strict=True):
            self.rec[name].index_copy_(1, col, v.view(B, 1))
        self.rec_tok.index_copy_(1, col, tok.view(B, 1))
        self.rec_alive.index_copy_(1, col, (~self.ended).view(B, 1))
        if self.eos is not None:
            self.ended.logical_or_(self.stop & (tok == self.eos))
        self.hist.index_copy_(1, (self.t_idx + self.P).view(1), tok.view(B, 1))
        self.tok.copy_(tok)

    def _model_step(self, n_read: int) -> torch.Tensor:
        """Decode ``tok`` at ``pos``: logits [B, V] (model dtype) and the hidden state into ``self.hidden``."""
        h = self.dec.decode(self.tok, self.pos, n_read)
        self.hidden.copy_(h)
        return self.dec.logits(h)

    def _graph_body(self, n_read: int, scale: float | None) -> None:
        logits = self._model_step(n_read)
        if scale is None:
            if self.logits_buf is None or self.logits_buf.shape != logits.shape:
                self.logits_buf = torch.empty(logits.shape, dtype=torch.float32, device=self.device)
            self.logits_buf.copy_(logits)
        else:
            self.t_idx.add_(1)
            self._record(scale, logits)
        self.pos.add_(1)

    def _capture(self, scale: float | None) -> _Graphs:
        key = (scale, True)
        if key in self._graphs:
            return self._graphs[key]
        buckets = sorted({self.dec.bucket_len(self.P + t) for t in range(1, self.T)})
        graphs: dict[int, torch.cuda.CUDAGraph] = {}
        pool = torch.cuda.graph_pool_handle()
        saved = (self.pos.clone(), self.t_idx.clone())
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for n_read in buckets:  # warm-up: Triton compilation, cuBLAS workspaces, SDPA kernel selection
                for _ in range(2):
                    self.pos.fill_(n_read - 1)
                    self.t_idx.zero_()
                    self._graph_body(n_read, scale)
        torch.cuda.current_stream().wait_stream(side)
        for n_read in buckets:
            self.pos.fill_(n_read - 1)
            self.t_idx.zero_()
            g = torch.cuda.CUDAGraph()
            with torch.cuda.graph(g, pool=pool):
                self._graph_body(n_read, scale)
            graphs[n_read] = g
        self.pos.copy_(saved[0])
        self.t_idx.copy_(saved[1])
        torch.cuda.synchronize(self.device)
        out = _Graphs(graphs, scale is not None)
        self._graphs[key] = out
        return out

    # -- generation ------------------------------------------------------------------------------------------------
    @torch.inference_mode()
    def generate(self, prompts: torch.Tensor, transform: Transform, gen: torch.Generator,
                 stop_at_eos: bool = True) -> dict[str, torch.Tensor]:
        """Same contract and records as ``CalibrationRun._generate`` for prompts [b, P], b <= batch_size."""
        b, P = prompts.shape
        if P != self.P or b > self.B:
            raise ValueError(f"prompts {b}x{P} do not fit the engine's static shapes {self.B}x{self.P}")
        B, T = self.B, self.T
        if b < B:  # pad with copies of row 0; their draws are zeros and their records are dropped
            prompts = torch.cat([prompts, prompts[:1].expand(B - b, P)], dim=0)
        scale = fused_scale(transform)
        graphs = self._capture(scale) if self.use_graphs else None
        self.hist[:, :P].copy_(prompts)
        self.ended.zero_()
        self.stop.fill_(bool(stop_at_eos and self.eos is not None))
        self.t_idx.zero_()
        self.u.zero_()
        h = self.dec.prefill(prompts)
        self.hidden.copy_(h)
        logits = self.dec.logits(h)
        self.pos.fill_(P)
        for t in range(T):
            if t > 0:
                self._draw(b, gen)
                n_read = self.dec.bucket_len(P + t)
                if graphs is not None:
                    graphs.graphs[n_read].replay()
                    logits = self.logits_buf
                else:
                    self._graph_body(n_read, scale)
                    logits = self.logits_buf
                if scale is not None:
                    continue
            else:
                self._draw(b, gen)
                if scale is not None:
                    self._record(scale, logits)
                    continue
            self.t_idx.fill_(t)
            self._eager_step(t, logits, transform, b)
        return self._collect(b)

    def _draw(self, b: int, gen: torch.Generator) -> None:
        # Exactly the simple path's draw: torch.rand(b, 1, generator=gen) (padding rows get 0).
        self.u[:b].copy_(torch.rand(b, 1, generator=gen, device=self.device, dtype=torch.float32))

    def _eager_step(self, t: int, logits: torch.Tensor, transform: Transform, b: int) -> None:
        """Any other sampler: the transform on a float32 copy, fused statistics on both distributions."""
        z = logits.float()
        ctx = StepContext(step=t, history=self.hist[:, :self.P + t], hidden=self.hidden, backend=self.backend,
                          mode="generate")
        zq = transform(z, ctx)
        sp = fused_stats(z, use_triton=self.use_triton)
        st = fused_stats(zq, u=self.u, use_triton=self.use_triton)
        lp = z.gather(1, st.sample.view(-1, 1)).squeeze(1) - sp.logz
        self._write(st.sample, st.sample_logprob, lp, st.entropy, sp.entropy)

    def _collect(self, b: int) -> dict[str, torch.Tensor]:
        alive = self.rec_alive[:b].clone()
        dead = ~alive
        out = {n: self.rec[n][:b].clone().masked_fill_(dead, float("nan")) for n in _GEN_F32}
        return {"token_id": self.rec_tok[:b].clone().masked_fill_(dead, -1), "alive": alive, **out}

    # -- teacher-forced scoring ------------------------------------------------------------------------------------
    @torch.inference_mode()
    def score(self, prompts: torch.Tensor, human: torch.Tensor, transform: Transform) -> dict[str, torch.Tensor]:
        """Same contract and records as ``CalibrationRun._score``: one causal forward per row chunk, then the
        lm_head and fused statistics over chunks of positions P-1 .. P+T-2."""
        B, P = prompts.shape
        T = human.shape[1]
        full = torch.cat([prompts, human], dim=1).to(self.device)
        scale = fused_scale(transform)
        names = ["human_logprob", "human_logprob_model", "human_entropy_sampled", "human_entropy_full"]
        out = {n: torch.empty(B, T, dtype=torch.float32, device=self.device) for n in names}
        cfg = self.dec.model.config
        width = max(int(getattr(cfg, "intermediate_size", 0) or 0), self.dec.hidden_size)
        rows = max(1, SCORE_ACT_ELEMENTS // max(1, (P + T) * width))
        V = self.dec.vocab_size
        for r0 in range(0, B, rows):
            r1 = min(B, r0 + rows)
            hs = self.dec.hidden_all(full[r0:r1, :-1])[:, P - 1:, :]  # row P-1+t predicts human token t
            n = r1 - r0
            tc = max(1, min(T, SCORE_LOGITS_ELEMENTS // max(1, n * V)))
            for t0 in range(0, T, tc):
                t1 = min(T, t0 + tc)
                tgt = full[r0:r1, P + t0:P + t1]
                if scale is not None:
                    lg = self.dec.logits(hs[:, t0:t1].reshape(-1, hs.shape[-1]))
                    flat = tgt.reshape(-1)
                    sp = fused_stats(lg, target=flat, use_triton=self.use_triton)
                    sq = sp if scale == 1.0 else fused_stats(lg, target=flat, scale=scale,
                                                             use_triton=self.use_triton)
                    cols = {"human_logprob": sq.target_logprob, "human_logprob_model": sp.target_logprob,
                            "human_entropy_sampled": sq.entropy, "human_entropy_full": sp.entropy}
                    for name, v in cols.items():
                        out[name][r0:r1, t0:t1] = v.view(n, t1 - t0)
                    continue
                for t in range(t0, t1):
                    z = self.dec.logits(hs[:, t]).float()
                    ctx = StepContext(step=t, history=full[r0:r1, :P + t], hidden=hs[:, t].float(),
                                      backend=self.backend, mode="score")
                    zq = transform(z, ctx)
                    sp = fused_stats(z, target=tgt[:, t - t0], use_triton=self.use_triton)
                    sq = fused_stats(zq, target=tgt[:, t - t0], use_triton=self.use_triton)
                    out["human_logprob"][r0:r1, t] = sq.target_logprob
                    out["human_logprob_model"][r0:r1, t] = sp.target_logprob
                    out["human_entropy_sampled"][r0:r1, t] = sq.entropy
                    out["human_entropy_full"][r0:r1, t] = sp.entropy
        lq, lp = out["human_logprob"], out["human_logprob_model"]
        out["human_in_kept"] = torch.isfinite(lq)
        for s, lam in stats.SMOOTHING_LAMBDAS:
            out[f"human_logprob_smooth_{s}"] = stats.mixture_logprob(lq, lp, lam)
        out["human_token_id"] = human.to(device=self.device, dtype=torch.long)
        return out


class FastCalibrationRun(CalibrationRun):
    """:class:`~scalescope.calibration.engine.CalibrationRun` with the fast path (``--engine fast``).

    Same configuration, run directory, shards and seeding; only ``_generate`` and ``_score`` are replaced. The
    :class:`FastDecodeEngine` (its cache and CUDA graphs) is built on the first batch and reused.
    Extra keyword arguments go to :class:`FastDecodeEngine` (``use_graphs``, ``bucket``, ``attention``, ...).
    """

    def __init__(self, config, **engine_kwargs):
        super().__init__(config)
        self.engine_kwargs = engine_kwargs
        self._engine: FastDecodeEngine | None = None

    def _fast(self, backend, prompt_len: int) -> FastDecodeEngine:
        e = self._engine
        if e is None or e.backend is not backend or e.P != prompt_len:
            e = FastDecodeEngine(backend, batch_size=self.config.batch_size, prompt_len=prompt_len,
                                 steps=self.config.steps, **self.engine_kwargs)
            self._engine = e
        return e

    def prepare(self, backend, corpus):
        if getattr(backend, "model", None) is None:
            raise InputError(f"model '{self.config.model}': --engine fast needs a transformers model; "
                             f"use --engine simple")
        check_supported(backend.model, None if self.config.chat_template else
                        self.config.prompt_tokens + self.config.steps)
        prep = super().prepare(backend, corpus)
        if getattr(prep.transform, "needs_hidden", False):
            raise InputError(f"--engine fast: sampler '{prep.transform.spec}' needs hidden states through the "
                             f"backend's step API; use --engine simple")
        return prep

    def _generate(self, backend, transform, prompts, steps, gen, stop_at_eos):
        return self._fast(backend, prompts.shape[1]).generate(prompts, transform, gen, stop_at_eos)

    def _score(self, backend, transform, prompts, human):
        return self._fast(backend, prompts.shape[1]).score(prompts, human, transform)

    def _manifest(self, backend, corpus, prep):
        m = super()._manifest(backend, corpus, prep)
        m["engine"] = "fast"
        return m


def roofline_bytes_per_step(*, weight_bytes: int, kv_bytes_per_token: int, batch: int, length: int, vocab: int,
                            logits_bytes: int = 4) -> int:
    """Bytes one decode step must move: weights once + K/V of every row at ``length`` + a [batch, vocab] logits
    write and read (float32 by default, as in issue 5's roofline)."""
    return weight_bytes + kv_bytes_per_token * batch * length + 2 * logits_bytes * batch * vocab


def roofline_tokens_per_s(*, bandwidth_bytes_per_s: float, weight_bytes: int, kv_bytes_per_token: int, batch: int,
                          prompt_len: int, steps: int, vocab: int) -> float:
    """Tokens/s if every decode step ran at ``bandwidth``: ``batch * steps / sum_t bytes_t / bandwidth``."""
    total = sum(roofline_bytes_per_step(weight_bytes=weight_bytes, kv_bytes_per_token=kv_bytes_per_token,
                                        batch=batch, length=prompt_len + t, vocab=vocab) for t in range(steps))
    return batch * steps * bandwidth_bytes_per_s / total if total else math.inf
