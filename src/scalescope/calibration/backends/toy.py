"""A tiny exact backend for tests and examples: next-token logits are an explicit table.

``logits(next | prefix) = bigram[last token] + position[len(prefix)]`` (either part optional), so every
distribution the engine sees is known in closed form: tests use it to check token alignment (step t of generation
vs human token t at position P + t), EOS handling and statistics without a neural network. Supports the engine's
protocol fully (prefill/step/score, float32 logits, hidden state = one-hot of the last token).

Example
-------
>>> import torch
>>> from scalescope.calibration.backends.toy import ToyBackend
>>> be = ToyBackend(torch.zeros(4, 4))
>>> logits, state = be.prefill(torch.tensor([[0, 1]]))
>>> logits.tolist(), state.length
([[0.0, 0.0, 0.0, 0.0]], 2)
"""

from __future__ import annotations

from typing import Any

import torch

from scalescope.calibration.backends.base import Backend, DecodeState

__all__ = ["ToyBackend"]


class ToyBackend(Backend):
    """Bigram-plus-position logits over a vocabulary of single characters ``chr(97 + i)`` (a, b, c, ...).

    Parameters
    ----------
    bigram : [V, V] float tensor, row = previous token (``-inf`` entries allowed).
    position : optional [L, V] float tensor added at prefix length ``L`` (rows beyond the end repeat the last).
    eos_token_id, context_length : as in :class:`Backend`.
    """

    def __init__(self, bigram: torch.Tensor, position: torch.Tensor | None = None, *, eos_token_id: int | None = None,
                 context_length: int | None = None, name: str = "toy"):
        self.bigram = bigram.float()
        self.position = None if position is None else position.float()
        self.vocab_size = int(bigram.shape[0])
        self.eos_token_id = eos_token_id
        self.context_length = context_length
        self.device = torch.device("cpu")
        self.name = name
        self.expose_hidden = False

    def encode(self, text: str) -> list[int]:
        return [min(max(ord(c) - 97, 0), self.vocab_size - 1) for c in text if not c.isspace()]

    def decode(self, ids: list[int]) -> str:
        return "".join(chr(97 + int(i)) for i in ids)

    def _logits(self, last: torch.Tensor, length: int) -> torch.Tensor:
        out = self.bigram[last.long()].clone()
        if self.position is not None:
            out += self.position[min(length, self.position.shape[0] - 1)]
        return out

    def _hidden(self, last: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.one_hot(last.long(), self.vocab_size).float()

    def prefill(self, input_ids: torch.Tensor) -> tuple[torch.Tensor, DecodeState]:
        last = input_ids[:, -1]
        state = DecodeState(cache=last, length=int(input_ids.shape[1]))
        if self.expose_hidden:
            state.extra["hidden"] = self._hidden(last)
        return self._logits(last, state.length), state

    def step(self, state: DecodeState, tokens: torch.Tensor) -> tuple[torch.Tensor, DecodeState]:
        new = DecodeState(cache=tokens, length=state.length + 1)
        if self.expose_hidden:
            new.extra["hidden"] = self._hidden(tokens)
        return self._logits(tokens, new.length), new

    def score(self, input_ids: torch.Tensor, *, return_hidden: bool = False):
        L = input_ids.shape[1]
        logits = torch.stack([self._logits(input_ids[:, i], i + 1) for i in range(L)], dim=1)
        if return_hidden:
            return logits, self._hidden(input_ids)
        return logits

    def hidden_size(self) -> int | None:
        return self.vocab_size

    def provenance(self) -> dict[str, Any]:
        return {"model": self.name, "backend": "toy", "device": "cpu", "dtype": "float32",
                "vocab_size": self.vocab_size}
