"""Hugging Face ``transformers`` causal language models as a calibration backend.

Wraps any ``AutoModelForCausalLM`` (a hub id available offline, a local directory, or an already-built model object)
behind :class:`~scalescope.calibration.backends.base.Backend`: batched prefill of equal-length prompts, one-token
decode steps over a KV cache, and teacher-forced scoring in one forward pass. Logits are cast to float32 before any
statistic (spec §2.3: the paper scored a 4-bit model against full-precision generations; we score with the *same*
weights and dtype used for sampling).

Example
-------
>>> from transformers import GPT2Config, GPT2LMHeadModel
>>> from scalescope.calibration.backends.hf import HFBackend, char_tokenizer
>>> tok = char_tokenizer("abcdefgh ")
>>> model = GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=16, n_head=2, vocab_size=len(tok)))
>>> be = HFBackend.from_model(model, tok, name="tiny")
>>> logits, state = be.prefill(be.encode_batch(["abc", "bca"]))
>>> tuple(logits.shape), logits.dtype
((2, 11), torch.float32)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from scalescope.calibration.backends.base import Backend, DecodeState
from scalescope.errors import InputError

__all__ = ["HFBackend", "resolve_device", "resolve_dtype", "char_tokenizer"]

try:  # what transformers' strict config dataclasses raise on a field of the wrong type
    from huggingface_hub.errors import StrictDataclassError as _StrictDataclassError
except ImportError:  # pragma: no cover - older huggingface_hub

    class _StrictDataclassError(Exception):
        pass


def _check_model_dir(local: Path, spec: str) -> None:
    """Refuse a model folder holding FIFOs, sockets or devices before transformers opens them (a FIFO named
    tokenizer.json would block the load forever)."""
    import stat

    for dirpath, dirnames, filenames in os.walk(local):
        for name in filenames + dirnames:
            p = Path(dirpath) / name
            try:
                mode = os.stat(p).st_mode
            except OSError:
                continue  # a dangling link: transformers reports it if it needs the file
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                raise InputError(f"model '{spec}': {p} is not a regular file (a FIFO, socket or device)")


_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` -> CUDA when available, else CPU; anything else is validated (InputError on a bad name)."""
    if isinstance(device, torch.device):
        return device
    if device in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise InputError(f"--device {device}: expected auto, cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"--device {device}: CUDA is not available on this machine")
    return dev


def resolve_dtype(dtype: str | torch.dtype = "auto", device: torch.device | None = None) -> torch.dtype:
    """``auto`` -> bfloat16 on CUDA (when supported), float32 on CPU; else float32|bfloat16|float16."""
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype in (None, "", "auto"):
        if device is not None and device.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    if dtype not in _DTYPES:
        raise InputError(f"--dtype {dtype}: expected auto, float32, bfloat16 or float16")
    return _DTYPES[dtype]


def char_tokenizer(alphabet: str, *, eos_token: str | None = "</s>"):
    """A tiny offline character-level ``PreTrainedTokenizerFast`` (one token per character of ``alphabet``).

    For tests and examples: no download. Characters outside ``alphabet`` map to ``<unk>``.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab: dict[str, int] = {}
    for ch in alphabet:
        vocab.setdefault(ch, len(vocab))
    specials = ["<unk>"] + ([eos_token] if eos_token else [])
    for s in specials:
        vocab.setdefault(s, len(vocab))
    tk = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.Split("", behavior="isolated")
    tk.decoder = decoders.Fuse()
    kw: dict[str, Any] = {"unk_token": "<unk>"}
    if eos_token:
        kw["eos_token"] = eos_token
    return PreTrainedTokenizerFast(tokenizer_object=tk, **kw)


def _offline(timeout_s: float = 3.0) -> bool:
    """True when the hub must not or cannot be reached (offline env vars, or no TCP connection in ``timeout_s``)."""
    if os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("TRANSFORMERS_OFFLINE") == "1":
        return True
    import socket

    try:
        socket.create_connection(("huggingface.co", 443), timeout=timeout_s).close()
        return False
    except OSError:
        return True


class HFBackend(Backend):
    """A transformers causal LM behind the engine's :class:`Backend` protocol.

    Use :meth:`from_pretrained` for an id or path, :meth:`from_model` for an object you built.
    ``expose_hidden = True`` makes prefill/step put the last hidden state [B, d] (float32) in
    ``state.extra["hidden"]`` (F2's learned future-entropy head needs it).
    """

    def __init__(self, model, tokenizer, *, name: str, device: torch.device, dtype: torch.dtype,
                 provenance: dict[str, Any] | None = None):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.name = name
        self.device = device
        self.dtype = dtype
        self.expose_hidden = False
        cfg = model.config
        # The logits' width is the model's output size, which can exceed len(tokenizer) (padded embeddings).
        self.vocab_size = int(model.get_output_embeddings().weight.shape[0])
        ctx = getattr(cfg, "max_position_embeddings", None) or getattr(cfg, "n_positions", None)
        self.context_length = int(ctx) if ctx else None
        eos = getattr(tokenizer, "eos_token_id", None)
        if eos is None:
            eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None) or cfg.eos_token_id
        if isinstance(eos, list | tuple):
            eos = eos[0] if eos else None
        self.eos_token_id = int(eos) if eos is not None else None
        self._provenance = dict(provenance or {})

    # -- construction --------------------------------------------------------------------------------------------
    @classmethod
    def from_model(cls, model, tokenizer, *, name: str | None = None, device: str | torch.device | None = None,
                   dtype: str | torch.dtype | None = None, extra_provenance: dict[str, Any] | None = None,
                   ) -> HFBackend:
        """Wrap an already-built model (moved to ``device``/``dtype`` when given; default: where it already is)."""
        first = next(model.parameters())
        dev = resolve_device(device) if device is not None else first.device
        dt = resolve_dtype(dtype, dev) if dtype is not None else first.dtype
        model = model.to(device=dev, dtype=dt)
        name = name or getattr(model.config, "_name_or_path", "") or type(model).__name__
        return cls(model, tokenizer, name=name, device=dev, dtype=dt, provenance=extra_provenance)

    @classmethod
    def from_pretrained(cls, spec: str, *, dtype: str = "auto", device: str = "auto", revision: str | None = None,
                        ) -> HFBackend:
        """Load ``AutoModelForCausalLM`` + ``AutoTokenizer`` from a local path or an (offline-cached) hub id.

        Raises InputError (one line) when the model is neither a local directory nor in the local cache.
        """
        from transformers import AutoModelForCausalLM, AutoTokenizer

        dev = resolve_device(device)
        dt = resolve_dtype(dtype, dev)
        local = Path(spec).expanduser()
        if spec.startswith((".", "/", "~")) and not local.exists():
            raise InputError(f"model '{spec}': no such file or directory")
        if local.exists() and not local.is_dir():
            raise InputError(f"model '{spec}': expected a model directory (config.json + weights) or a hub id")
        if local.is_dir() and not (local / "config.json").is_file():
            raise InputError(f"model '{spec}': directory has no config.json (not a transformers model)")
        if local.is_dir():
            _check_model_dir(local, spec)
        kw: dict[str, Any] = {"revision": revision} if revision else {}
        where = str(local) if local.is_dir() else spec
        # A local folder is the user's input: whatever transformers raises on its files (a config.json field of the
        # wrong type fails strict dataclass validation, a config that is not an object a TypeError) is bad input.
        bad_local = (OSError, ValueError, TypeError, KeyError, AttributeError, _StrictDataclassError)
        try:
            # Local files first: an unreachable hub would otherwise cost a minute of retries per unknown id.
            tok = AutoTokenizer.from_pretrained(where, local_files_only=True, **kw)
            model = AutoModelForCausalLM.from_pretrained(where, dtype=dt, local_files_only=True, **kw)
        except bad_local as e:
            if not isinstance(e, OSError | ValueError) and not local.is_dir():
                raise
            if local.is_dir():
                first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                raise InputError(f"model '{spec}': transformers could not load it ({first})") from e
            if _offline():
                raise InputError(
                    f"model '{spec}': not found locally and the Hugging Face hub is unreachable (offline)") from e
            try:
                tok = AutoTokenizer.from_pretrained(spec, **kw)
                model = AutoModelForCausalLM.from_pretrained(spec, dtype=dt, **kw)
            except (OSError, ValueError) as e2:
                raise InputError(f"model '{spec}': not found locally or on the Hugging Face hub") from e2
        model = model.to(dev)
        prov = {"revision": revision or getattr(model.config, "_commit_hash", None)}
        return cls(model, tok, name=spec, device=dev, dtype=dt, provenance=prov)

    # -- text ----------------------------------------------------------------------------------------------------
    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])

    def encode_batch(self, texts: list[str]) -> torch.Tensor:
        """Equal-length encodings of ``texts`` as an int64 tensor on the device (for examples and tests)."""
        ids = [self.encode(t) for t in texts]
        if len({len(i) for i in ids}) != 1:
            raise ValueError("encode_batch needs texts of equal token length")
        return torch.tensor(ids, dtype=torch.long, device=self.device)

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(list(ids))

    def chat_prefix_ids(self, instruction: str) -> list[int]:
        """Token ids of a chat template with one user turn ``instruction`` and the assistant turn opened.

        The engine appends the human prompt tokens after it, so the model continues the text as the assistant.
        """
        if not getattr(self.tokenizer, "chat_template", None):
            raise InputError(f"model '{self.name}': --chat-template given but the tokenizer has no chat template")
        ids = self.tokenizer.apply_chat_template([{"role": "user", "content": instruction}],
                                                 add_generation_prompt=True, tokenize=True)
        if isinstance(ids, dict) or hasattr(ids, "input_ids"):
            ids = ids["input_ids"]
        return [int(i) for i in ids]

    # -- model ---------------------------------------------------------------------------------------------------
    def _forward(self, input_ids: torch.Tensor, cache=None, *, all_positions: bool, hidden: bool):
        out = self.model(input_ids=input_ids.to(self.device), past_key_values=cache, use_cache=not all_positions,
                         output_hidden_states=hidden, return_dict=True)
        logits = out.logits if all_positions else out.logits[:, -1, :]
        h = None
        if hidden:
            h = out.hidden_states[-1] if all_positions else out.hidden_states[-1][:, -1, :]
            h = h.float()
        return logits.float(), out, h

    @torch.inference_mode()
    def prefill(self, input_ids: torch.Tensor) -> tuple[torch.Tensor, DecodeState]:
        logits, out, h = self._forward(input_ids, None, all_positions=False, hidden=self.expose_hidden)
        state = DecodeState(cache=out.past_key_values, length=int(input_ids.shape[1]))
        if h is not None:
            state.extra["hidden"] = h
        return logits, state

    @torch.inference_mode()
    def step(self, state: DecodeState, tokens: torch.Tensor) -> tuple[torch.Tensor, DecodeState]:
        logits, out, h = self._forward(tokens.view(-1, 1), state.cache, all_positions=False,
                                       hidden=self.expose_hidden)
        new = DecodeState(cache=out.past_key_values, length=state.length + 1, extra=dict(state.extra))
        if h is not None:
            new.extra["hidden"] = h
        return logits, new

    @torch.inference_mode()
    def score(self, input_ids: torch.Tensor, *, return_hidden: bool = False):
        """Teacher-forced float32 logits [B, L, V] (row t predicts token t+1) in one forward pass.

        With ``return_hidden=True`` returns ``(logits, hidden [B, L, d] float32)``.
        """
        logits, _, h = self._forward(input_ids, None, all_positions=True, hidden=return_hidden)
        return (logits, h) if return_hidden else logits

    def hidden_size(self) -> int | None:
        return int(getattr(self.model.config, "hidden_size", 0) or getattr(self.model.config, "n_embd", 0)) or None

    def n_params(self) -> int:
        return int(sum(p.numel() for p in self.model.parameters()))

    def provenance(self) -> dict[str, Any]:
        cfg = self.model.config
        prov: dict[str, Any] = {
            "model": self.name,
            "backend": "hf",
            "architecture": (cfg.architectures or [type(self.model).__name__])[0]
            if getattr(cfg, "architectures", None) else type(self.model).__name__,
            "dtype": str(self.dtype).replace("torch.", ""),
            "device": str(self.device),
            "params": self.n_params(),
            "vocab_size": self.vocab_size,
            "context_length": self.context_length,
            "eos_token_id": self.eos_token_id,
            "tokenizer": type(self.tokenizer).__name__,
        }
        prov.update(self._provenance)
        return prov
