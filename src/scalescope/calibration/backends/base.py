"""The one small protocol every language-model backend implements (Hugging Face, GGUF via transformers, n-gram).

The engine (``scalescope.calibration.engine``) only ever talks to a :class:`Backend`: it encodes text, runs a batched
prefill that returns next-token logits plus an opaque decoding state (a KV cache, or n-gram contexts), then steps that
state one token at a time, and scores human text teacher-forced. Logits come back as float32 ``torch`` tensors on the
backend's device, whatever dtype the weights are in, so entropies and log-probs are always computed in float32
(spec §2.3: same weights and precision for generation and scoring).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass
class DecodeState:
    """Opaque per-batch decoding state. ``cache`` is backend-specific; ``length`` is tokens consumed so far."""

    cache: Any
    length: int
    extra: dict[str, Any] = field(default_factory=dict)


class Backend(ABC):
    """A causal language model the engine can sample from and score with.

    Attributes (set by subclasses)
    ------------------------------
    name : str            model id recorded in the run manifest
    vocab_size : int      size of the logits' last dimension
    context_length : int | None   longest sequence (prompt + steps) the model accepts; None = unbounded
    eos_token_id : int | None
    device : torch.device
    """

    name: str
    vocab_size: int
    context_length: int | None
    eos_token_id: int | None
    device: torch.device

    # -- text -------------------------------------------------------------------------------------------------
    @abstractmethod
    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` (no special tokens added)."""

    @abstractmethod
    def decode(self, ids: list[int]) -> str:
        """Text of ``ids``."""

    # -- model ------------------------------------------------------------------------------------------------
    @abstractmethod
    def prefill(self, input_ids: torch.Tensor) -> tuple[torch.Tensor, DecodeState]:
        """Run prompts ``input_ids`` [B, P] (int64, equal lengths) and return (float32 logits [B, V] of the next
        token, state)."""

    @abstractmethod
    def step(self, state: DecodeState, tokens: torch.Tensor) -> tuple[torch.Tensor, DecodeState]:
        """Append ``tokens`` [B] to every sequence; return (float32 logits [B, V] of the next token, new state)."""

    @abstractmethod
    def score(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Teacher-forced float32 logits [B, L, V]; row ``t`` predicts token ``t + 1``."""

    def hidden_size(self) -> int | None:
        """Width of the last hidden state exposed through ``DecodeState.extra['hidden']`` (None if not exposed)."""
        return None

    def provenance(self) -> dict[str, Any]:
        """Manifest fields: model id, revision, dtype, device, quantisation, tokenizer, ..."""
        return {"model": self.name, "device": str(self.device)}
