"""The calibration measurement engine: batched ancestral sampling + teacher-forced scoring with per-step statistics.

Implements the measurement protocol of Cao et al. 2025 (spec §1.4, §2.3, §7): for each passage (prompt = first P
human tokens), sample T tokens from the (transformed) model q and record, at every generated step t, the full-vocabulary
entropy of q and of the untransformed model p̂ and the log-probs of the sampled token; then score the human
continuation teacher-forced with the *same* model, weights, dtype and transform, aligned exactly: step t of
generation is compared with human token t (the t-th token after the prompt), whose log-prob is read at position
P - 1 + t of the scored sequence. (The official code is off by one here; spec §2.3.) Both step-0 distributions are
therefore the same distribution, given the prompt.

Truncating samplers give -inf log loss on human tokens outside the kept set; the records also hold coverage
(``human_in_kept``) and the mixture-smoothed log-probs of spec §4 option 1.

EOS: when EOS is sampled at step t, that row is still ``alive`` (EOS is a real generated token); from step t + 1 on
rows are kept with ``alive = False``, ``token_id = -1`` and NaN generation statistics, so every sample has exactly
T rows. Human columns are valid at every step (human text does not stop). Per-step survivor counts are
``df.groupby("step").alive.sum()``.

Determinism: shard k (samples ``k*shard_size ..``) draws from a ``torch.Generator`` seeded from (seed, k), so a run
interrupted and resumed writes byte-identical shards to an uninterrupted one (same device, dtype, batch size).
Per-step statistics stay on the backend's device until a shard is written (one host copy per batch), so a GPU fast
path only has to replace :meth:`CalibrationRun._generate` / :meth:`CalibrationRun._score`.

Example
-------
>>> import tempfile
>>> from transformers import GPT2Config, GPT2LMHeadModel
>>> from scalescope.calibration.backends.hf import HFBackend, char_tokenizer
>>> from scalescope.calibration.corpora import Corpus
>>> from scalescope.calibration.engine import CalibrationConfig, CalibrationRun
>>> from scalescope.calibration.store import load_run
>>> tok = char_tokenizer("abcdefgh ")
>>> be = HFBackend.from_model(GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=16, n_head=2, vocab_size=len(tok))), tok)
>>> corpus = Corpus.from_documents("toy", ["abc defg hab cdef gha bcd " * 4] * 4)
>>> cfg = CalibrationConfig(model="tiny", corpus="toy", prompt_tokens=8, steps=5, samples=4, batch_size=2)
>>> out = CalibrationRun(cfg).run(be, corpus, tempfile.mkdtemp() + "/run", progress=False)
>>> manifest, df = load_run(out)
>>> manifest["status"], len(df)
('complete', 20)
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from scalescope.calibration import stats
from scalescope.calibration.backends.base import Backend
from scalescope.calibration.corpora import PASSAGE_MODES, Corpus, Passages, build_passages
from scalescope.calibration.samplers import StepContext, Transform, parse_sampler
from scalescope.calibration.store import SCHEMA, RunStore
from scalescope.errors import InputError

__all__ = ["CalibrationConfig", "CalibrationRun", "PreparedRun", "SPLIT_SEED", "CHAT_INSTRUCTION"]

#: The train/eval document split is always drawn with this seed (not the run seed), so an n-gram trained on the
#: train split and a run prompting from the eval split agree whatever ``--seed`` is.
SPLIT_SEED = 0
#: User turn used with ``--chat-template``; the assistant turn then starts with the human prompt tokens.
CHAT_INSTRUCTION = "Continue the following text."
#: Teacher-forced scoring materialises [rows, length, vocab] float32 logits; cap each call at this many elements.
SCORE_CHUNK_ELEMENTS = 1 << 27
ROWS_AFTER_EOS = "kept: alive=False, token_id=-1, generation columns NaN; human columns valid"


# What runs written before a config key existed did: "passages" arrived in 0.1.0 after openings-only runs.
LEGACY_CONFIG: dict[str, Any] = {"passages": "openings", "passage_seed": None}


def stored_config(manifest: dict[str, Any], where: str = "manifest.json") -> dict[str, Any]:
    """A run manifest's ``config`` with keys added after the run was written filled in as that older version did."""
    cfg = manifest.get("config") if isinstance(manifest, dict) else None
    if cfg is not None and not isinstance(cfg, dict):
        raise InputError(f"{where}: 'config' must be an object, got {type(cfg).__name__} (hand-edited?)")
    return {**LEGACY_CONFIG, **(cfg or {})}


@dataclass(frozen=True)
class CalibrationConfig:
    """Everything that determines a run's records (compared on ``--resume``).

    model, corpus : the specs as given (recorded; the engine receives resolved objects).
    prompt_tokens, steps, samples : P, T, N. sampler : spec string for :func:`parse_sampler`.
    seed : shard k is seeded from (seed, k). batch_size : rows decoded together. shard_size : samples per shard.
    stop_at_eos : mark rows after a sampled EOS as not alive. chat_template : wrap prompts in the chat template.
    prompt_split : "auto" (eval split when the model was trained on this corpus, else all documents), "all",
    "eval" or "train". held_out : eval fraction of that split. dtype, device : as requested (recorded).
    passages : "random" (default: a seeded uniform sample of all non-overlapping windows of the running text) or
    "openings" (each document's first window: the paper's protocol on WikiText-103 articles); see
    :func:`~scalescope.calibration.corpora.build_passages`. passage_seed : the seed of the random sample, separate
    from ``seed`` so runs that differ only in sampling (temperature, sampler, seed) share their prompts.
    """

    model: str
    corpus: str
    prompt_tokens: int = 128
    steps: int = 256
    samples: int = 64
    sampler: str = "pure"
    seed: int = 0
    batch_size: int = 16
    shard_size: int = 64
    stop_at_eos: bool = True
    chat_template: bool = False
    prompt_split: str = "auto"
    held_out: float = 0.1
    dtype: str = "auto"
    device: str = "auto"
    passages: str = "random"
    passage_seed: int = 0

    def validate(self) -> CalibrationConfig:
        for name in ("prompt_tokens", "steps", "samples", "batch_size", "shard_size"):
            v = getattr(self, name)
            if not isinstance(v, int | np.integer) or v < 1:
                raise InputError(f"--{name.replace('_', '-')} {v}: must be an integer >= 1")
        if self.prompt_split not in ("auto", "all", "eval", "train"):
            raise InputError(f"prompt_split {self.prompt_split!r}: expected auto, all, eval or train")
        if self.passages not in PASSAGE_MODES:
            raise InputError(f"--passages {self.passages!r}: expected one of {', '.join(PASSAGE_MODES)}")
        if not 0.0 < self.held_out < 1.0:
            raise InputError(f"held_out {self.held_out}: must be in (0, 1)")
        parse_sampler(self.sampler)  # raises a one-line InputError on typos
        if self.device not in (None, "", "auto"):
            # checked here, not only in the HF backend, because n-gram models never resolve a device
            try:
                torch.device(self.device)
            except (RuntimeError, ValueError):
                raise InputError(f"--device {self.device}: expected auto, cpu, cuda or cuda:N") from None
        return self

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["sampler"] = parse_sampler(self.sampler).spec  # canonical form, so "temp=0.90" resumes "temp=0.9"
        if d["passages"] == "openings":
            d["passage_seed"] = None  # unused by openings: a different seed must not block --resume
        return d


@dataclass(frozen=True)
class PreparedRun:
    """A validated run: passages built, prompt length known, nothing written yet."""

    config: CalibrationConfig
    transform: Transform
    passages: Passages
    prompt_prefix: tuple[int, ...]
    prompt_split: str


def _leftovers(run_dir: Path) -> list[str]:
    """Entries of ``run_dir`` that forbid starting a new run there.

    A folder claimed by the output layer for ``calibrate run`` (its marker says so: an earlier run replaced with
    ``--overwrite``, whose own files are already gone) may hold the user's files, which stay beside the new run;
    any other non-empty folder is refused.
    """
    from scalescope.outputs import read_marker

    marker = read_marker(run_dir)
    if marker is not None and marker["command"] == "calibrate run":
        return []
    return [q.name for q in run_dir.iterdir()]


def _utcnow() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _git_hash() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent, capture_output=True,
                             text=True, timeout=5, check=False)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def shard_seed(seed: int, shard: int) -> int:
    """Seed of shard ``shard``: a hash of (seed, shard), so shards are independent of each other and of order."""
    return int.from_bytes(hashlib.sha256(f"scalescope:{seed}:{shard}".encode()).digest()[:8], "little") >> 1


class CalibrationRun:
    """Run the measurement for one (model, corpus, sampler) and write a run directory.

    Parameters
    ----------
    config : :class:`CalibrationConfig`.

    Use :meth:`prepare` to validate everything (passages, context length) before creating any directory, then
    :meth:`run`. ``run`` calls ``prepare`` itself when given no prepared run.
    """

    def __init__(self, config: CalibrationConfig):
        self.config = config

    # -- validation ----------------------------------------------------------------------------------------------
    def prepare(self, backend: Backend, corpus: Corpus) -> PreparedRun:
        cfg = self.config.validate()
        transform = parse_sampler(cfg.sampler)
        prefix: tuple[int, ...] = ()
        if cfg.chat_template:
            if not hasattr(backend, "chat_prefix_ids"):
                raise InputError(f"model '{cfg.model}': --chat-template is only supported for transformers models")
            prefix = tuple(backend.chat_prefix_ids(CHAT_INSTRUCTION))
        prompt_len = len(prefix) + cfg.prompt_tokens
        ctx = getattr(backend, "context_length", None)
        if ctx is not None and prompt_len + cfg.steps > ctx:
            what = f"prompt ({prompt_len} tokens{' incl. chat template' if prefix else ''}) + --steps {cfg.steps}"
            raise InputError(f"model '{cfg.model}': {what} = {prompt_len + cfg.steps} tokens exceeds its context "
                             f"length {ctx}")
        split = cfg.prompt_split
        if split == "auto":
            trained_on = getattr(backend, "train_corpus_sha256", None)
            split = "eval" if trained_on is not None and trained_on == corpus.sha256 else "all"
        if split == "all":
            docs = list(corpus.documents)
        else:
            train, evald = corpus.split(seed=SPLIT_SEED, held_out=cfg.held_out)
            docs = evald if split == "eval" else train
        if not docs:
            raise InputError(f"corpus '{corpus.name}': contains no documents")
        passages = build_passages(docs, backend.encode, prompt_tokens=cfg.prompt_tokens, steps=cfg.steps,
                                  n=cfg.samples, corpus_name=corpus.name, mode=cfg.passages,
                                  seed=cfg.passage_seed)
        vmax = int(passages.ids.max())
        if vmax >= backend.vocab_size:
            raise InputError(f"model '{cfg.model}': tokenizer produced id {vmax} >= vocabulary size "
                             f"{backend.vocab_size}")
        return PreparedRun(cfg, transform, passages, prefix, split)

    # -- the run -------------------------------------------------------------------------------------------------
    def run(self, backend: Backend, corpus: Corpus, out_dir: str | os.PathLike, *, resume: bool = False,
            progress: bool = True, prepared: PreparedRun | None = None, max_shards: int | None = None) -> Path:
        """Measure and write ``out_dir``; returns its path. ``max_shards`` stops early (tests simulate a crash)."""
        prep = prepared or self.prepare(backend, corpus)
        cfg = prep.config
        store = RunStore(out_dir)
        cfg_dict = cfg.to_dict()
        if store.exists():
            if not resume:
                raise InputError(f"{out_dir}: run directory already exists; pass --resume to continue it or choose "
                                 f"another --out")
            old = store.read_manifest()
            old_cfg = stored_config(old, store.manifest_path)  # an old run still resumes
            diff = sorted(k for k in set(old_cfg) | set(cfg_dict) if old_cfg.get(k) != cfg_dict.get(k))
            if diff:
                shown = ", ".join(f"{k}: {old_cfg.get(k)!r} -> {cfg_dict.get(k)!r}" for k in diff[:4])
                raise InputError(f"{out_dir}: cannot resume, the configuration differs ({shown})")
            old_corpus = old.get("corpus", {})
            if not isinstance(old_corpus, dict):
                raise InputError(f"{out_dir}: cannot resume, manifest 'corpus' must be an object, got "
                                 f"{type(old_corpus).__name__} (hand-edited?)")
            if old_corpus.get("sha256") != corpus.sha256:
                raise InputError(f"{out_dir}: cannot resume, corpus '{corpus.name}' has changed (sha256 differs)")
            import pyarrow.parquet as pq

            for k in store.shard_indices():  # a finished shard is kept as it is: it must be a readable Parquet file
                if store.has_shard(k):
                    try:
                        pq.read_metadata(store.shard_path(k))
                    except Exception as e:  # pyarrow raises several types for corrupt files
                        raise InputError(f"{store.shard_path(k)}: cannot resume, not a readable shard "
                                         f"({type(e).__name__}); remove it to measure it again") from None
            store.update({"status": "running", "resumed_at": [*old.get("resumed_at", []), _utcnow()]})
        else:
            p = Path(out_dir)
            if p.exists() and (not p.is_dir() or _leftovers(p)):
                raise InputError(f"{out_dir}: exists and is not an empty directory or a run directory")
            store.create(self._manifest(backend, corpus, prep))

        n_shards = math.ceil(cfg.samples / cfg.shard_size)
        todo = [k for k in range(n_shards) if not store.has_shard(k)]
        done_samples = sum(min(cfg.shard_size, cfg.samples - k * cfg.shard_size) for k in range(n_shards)
                           if k not in todo)
        if getattr(prep.transform, "needs_hidden", False) and hasattr(backend, "expose_hidden"):
            backend.expose_hidden = True
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=cfg.samples, initial=done_samples, unit="sample", desc=f"calibrate {cfg.model}",
                       dynamic_ncols=True)
        t0 = time.perf_counter()
        n_tokens = 0
        written = 0
        try:
            for k in todo:
                if max_shards is not None and written >= max_shards:
                    return Path(out_dir)
                frame = self._run_shard(backend, prep, k, bar)
                store.write_shard(k, frame)
                written += 1
                n_tokens += len(frame["step"]) * 2  # generated + scored tokens
        finally:
            if bar is not None:
                bar.close()
        elapsed = time.perf_counter() - t0
        old = store.read_manifest()
        fields: dict[str, Any] = {"status": "complete", "n_shards": n_shards}
        if written:  # a resume of a finished run changes nothing but the status
            # Totals over every session of this run (a resumed run adds to what the first session measured).
            total_s = float(old.get("elapsed_s") or 0.0) + elapsed
            total_tok = int(old.get("tokens_measured") or 0) + n_tokens
            fields.update({"finished_at": _utcnow(), "elapsed_s": round(total_s, 3), "tokens_measured": total_tok,
                           "tokens_per_s": round(total_tok / total_s, 1) if total_s > 0 else None})
        store.update(fields)
        return Path(out_dir)

    def _manifest(self, backend: Backend, corpus: Corpus, prep: PreparedRun) -> dict[str, Any]:
        from scalescope import __version__

        cfg = prep.config
        prov = dict(backend.provenance())
        m: dict[str, Any] = {
            "tool": "scalescope",
            "version": __version__,
            "git_hash": _git_hash(),
            "status": "running",
            "started_at": _utcnow(),
            "config": cfg.to_dict(),
            "model_spec": cfg.model,
            "model": prov.get("model", getattr(backend, "name", cfg.model)),
            "backend": prov,
            "dtype": prov.get("dtype"),
            "device": prov.get("device", str(getattr(backend, "device", ""))),
            "revision": prov.get("revision"),
            "sampler": prep.transform.spec,
            "sampler_truncates": bool(prep.transform.truncates),
            "seed": cfg.seed,
            "corpus": {"name": corpus.name, "sha256": corpus.sha256, "source": corpus.source,
                       "n_documents": len(corpus)},
            "prompt_split": prep.prompt_split,
            "prompt_tokens": cfg.prompt_tokens,
            "prompt_length": len(prep.prompt_prefix) + cfg.prompt_tokens,
            "chat_template": cfg.chat_template,
            "steps": cfg.steps,
            "samples": cfg.samples,
            "n_skipped": prep.passages.n_skipped,
            "n_documents_scanned": prep.passages.n_documents_scanned,
            "passage_windows": int(prep.passages.window_index.max()) + 1,
            "passages": {"mode": cfg.passages, "seed": cfg.passage_seed if cfg.passages == "random" else None,
                         "documents": int(np.unique(prep.passages.doc_index).size)},
            # sample i's prompt came from document passage_documents[i] (analysis clusters its bootstrap on it)
            "passage_documents": prep.passages.doc_index.tolist(),
            "shard_size": cfg.shard_size,
            "n_shards": math.ceil(cfg.samples / cfg.shard_size),
            "eos_token_id": getattr(backend, "eos_token_id", None),
            "vocab_size": getattr(backend, "vocab_size", None),
            "rows_after_eos": ROWS_AFTER_EOS if cfg.stop_at_eos else "EOS ignored (all rows alive)",
            "smoothing_lambdas": [lam for _, lam in stats.SMOOTHING_LAMBDAS],
            "units": "nats",
            "columns": SCHEMA.names,
        }
        for key in ("params", "train_tokens", "order", "model_kind", "quantization"):
            if key in prov:
                m[key] = prov[key]
        return m

    # -- one shard -----------------------------------------------------------------------------------------------
    def _run_shard(self, backend: Backend, prep: PreparedRun, k: int, bar=None) -> dict[str, np.ndarray]:
        cfg = prep.config
        lo, hi = k * cfg.shard_size, min(cfg.samples, (k + 1) * cfg.shard_size)
        gen = torch.Generator(device=backend.device)
        gen.manual_seed(shard_seed(cfg.seed, k))
        parts: list[dict[str, np.ndarray]] = []
        for b0 in range(lo, hi, cfg.batch_size):
            b1 = min(hi, b0 + cfg.batch_size)
            ids = torch.as_tensor(prep.passages.ids[b0:b1], device=backend.device)
            prefix = torch.as_tensor(prep.prompt_prefix, dtype=torch.long, device=backend.device)
            prompts = torch.cat([prefix.expand(b1 - b0, -1), ids[:, :cfg.prompt_tokens]], dim=1)
            human = ids[:, cfg.prompt_tokens:]
            with torch.inference_mode():
                g = self._generate(backend, prep.transform, prompts, cfg.steps, gen, cfg.stop_at_eos)
                s = self._score(backend, prep.transform, prompts, human)
            rec = {**g, **s}
            rec = {name: t.cpu().numpy() for name, t in rec.items()}  # one host copy per batch
            rec["sample_id"] = np.repeat(np.arange(b0, b1, dtype=np.int64), cfg.steps)[:, None].reshape(b1 - b0,
                                                                                                      cfg.steps)
            rec["step"] = np.broadcast_to(np.arange(cfg.steps, dtype=np.int32), (b1 - b0, cfg.steps))
            parts.append({name: np.ascontiguousarray(v).reshape(-1) for name, v in rec.items()})
            if bar is not None:
                bar.update(b1 - b0)
        return {name: np.concatenate([p[name] for p in parts]) for name in SCHEMA.names}

    @staticmethod
    def _dist(logits: torch.Tensor, transform: Transform, ctx: StepContext):
        """(log p̂, log q) in float32 for one step; shares the buffer when the transform is the identity."""
        logits = logits.float()
        logp = stats.log_softmax(logits)
        zq = transform(logits, ctx)
        # Identity transforms return the very same tensor; anything else (even an in-place edit) is re-normalised.
        logq = logp if zq is logits and not transform.truncates and transform.spec in ("pure", "temp=1") \
            else stats.log_softmax(zq)
        return logp, logq

    def _generate(self, backend: Backend, transform: Transform, prompts: torch.Tensor, steps: int,
                  gen: torch.Generator, stop_at_eos: bool) -> dict[str, torch.Tensor]:
        B, P = prompts.shape
        dev = prompts.device
        hist = torch.empty(B, P + steps, dtype=torch.long, device=dev)
        hist[:, :P] = prompts
        f32 = {n: torch.empty(B, steps, dtype=torch.float32, device=dev)
               for n in ("logprob", "logprob_model", "entropy_sampled", "entropy_full")}
        token = torch.empty(B, steps, dtype=torch.long, device=dev)
        alive = torch.empty(B, steps, dtype=torch.bool, device=dev)
        ended = torch.zeros(B, dtype=torch.bool, device=dev)
        eos = getattr(backend, "eos_token_id", None)
        logits, state = backend.prefill(prompts)
        for t in range(steps):
            ctx = StepContext(step=t, history=hist[:, :P + t], hidden=state.extra.get("hidden"), backend=backend,
                              mode="generate")
            logits = logits.float()
            logp, logq = self._dist(logits, transform, ctx)
            h_q, q = stats.entropy_and_probs(logq)
            tok = stats.sample_categorical(q, gen)
            token[:, t] = tok
            alive[:, t] = ~ended
            f32["logprob"][:, t] = stats.token_logprob(logq, tok)
            f32["logprob_model"][:, t] = stats.token_logprob(logp, tok)
            f32["entropy_sampled"][:, t] = h_q
            f32["entropy_full"][:, t] = h_q if logq is logp else stats.entropy_from_logprobs(logp)
            if stop_at_eos and eos is not None:
                ended |= tok == eos
            hist[:, P + t] = tok
            if t + 1 < steps:
                logits, state = backend.step(state, tok)
        dead = ~alive
        for v in f32.values():
            v.masked_fill_(dead, float("nan"))
        token.masked_fill_(dead, -1)
        return {"token_id": token, "alive": alive, **f32}

    def _score(self, backend: Backend, transform: Transform, prompts: torch.Tensor,
               human: torch.Tensor) -> dict[str, torch.Tensor]:
        B, P = prompts.shape
        T = human.shape[1]
        full = torch.cat([prompts, human], dim=1)
        names = ["human_logprob", "human_logprob_model", "human_entropy_sampled", "human_entropy_full"] + [
            f"human_logprob_smooth_{s}" for s, _ in stats.SMOOTHING_LAMBDAS]
        out = {n: torch.empty(B, T, dtype=torch.float32, device=full.device) for n in names}
        out["human_in_kept"] = torch.empty(B, T, dtype=torch.bool, device=full.device)
        want_hidden = bool(getattr(transform, "needs_hidden", False))
        vocab = int(getattr(backend, "vocab_size", 1) or 1)
        rows = max(1, SCORE_CHUNK_ELEMENTS // max(1, (P + T) * vocab))
        for r0 in range(0, B, rows):
            r1 = min(B, r0 + rows)
            inp = full[r0:r1, :-1]
            hidden_all = None
            if want_hidden:
                try:
                    all_logits, hidden_all = backend.score(inp, return_hidden=True)
                except TypeError:
                    all_logits = backend.score(inp)
            else:
                all_logits = backend.score(inp)
            for t in range(T):
                # Row P-1+t of the scored sequence predicts human token t (the t-th token after the prompt).
                logits = all_logits[:, P - 1 + t, :].float()
                ctx = StepContext(step=t, history=full[r0:r1, :P + t],
                                  hidden=None if hidden_all is None else hidden_all[:, P - 1 + t, :],
                                  backend=backend, mode="score")
                logp, logq = self._dist(logits, transform, ctx)
                htok = full[r0:r1, P + t]
                lq = stats.token_logprob(logq, htok)
                lp = stats.token_logprob(logp, htok)
                out["human_logprob"][r0:r1, t] = lq
                out["human_logprob_model"][r0:r1, t] = lp
                h_full = stats.entropy_from_logprobs(logp)
                out["human_entropy_full"][r0:r1, t] = h_full
                out["human_entropy_sampled"][r0:r1, t] = h_full if logq is logp else \
                    stats.entropy_from_logprobs(logq)
                out["human_in_kept"][r0:r1, t] = torch.isfinite(lq)
                for s, lam in stats.SMOOTHING_LAMBDAS:
                    out[f"human_logprob_smooth_{s}"][r0:r1, t] = stats.mixture_logprob(lq, lp, lam)
        out["human_token_id"] = human.to(torch.long)
        return out
