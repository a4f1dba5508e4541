"""Composable logit transforms (samplers) with a small spec grammar: ``parse_sampler("temp=0.9,top_p=0.95")``.

Implements the sampler definitions of the entropy-calibration spec §4.1 exactly (Cao et al. 2025 §4.3 and the
prior work it cites): temperature, top-k (Fan et al. 2018), nucleus/top-p (Holtzman et al. 2020), min-p (Nguyen et
al. 2024), epsilon and eta sampling (Hewitt et al. 2022) and locally typical sampling (Meister et al. 2023).
A transform maps float32 logits ``[B, V]`` to logits of the distribution actually sampled, q: removed tokens are set
to ``-inf`` and at least one token (the argmax) is always kept. The engine applies the *same* transform when it
scores human text (teacher forced), so log loss is measured under q (spec §4, "consistent log-loss convention").

Threshold rules are evaluated on ``softmax`` of the logits the transform receives, so in ``temp=0.9,top_p=0.95``
the nucleus is taken from the temperature-scaled distribution (the Hugging Face ``generate`` convention);
transforms apply in the order written.

Spec grammar: comma-separated ``kind=value`` items, e.g. ``temp=0.8``, ``top_k=50,temp=0.7``; ``pure`` (or an empty
string) is ancestral sampling from the model. F2 adds kinds with :func:`register`.

Example
-------
>>> import torch
>>> from scalescope.calibration.samplers import parse_sampler, StepContext
>>> s = parse_sampler("top_k=2")
>>> s(torch.tensor([[3.0, 1.0, 2.0]]), StepContext(step=0)).isinf().tolist()
[[False, True, False]]
"""

from __future__ import annotations

import difflib
import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from scalescope.errors import InputError

__all__ = [
    "StepContext",
    "Transform",
    "Identity",
    "Temperature",
    "TopK",
    "TopP",
    "MinP",
    "Epsilon",
    "Eta",
    "Typical",
    "Compose",
    "parse_sampler",
    "register",
    "sampler_kinds",
]

NEG_INF = float("-inf")


@dataclass
class StepContext:
    """What a transform may look at besides the logits.

    step : 0-based generated position t (the same t for generation and for teacher-forced scoring of human text).
    history : int64 [B, P + t] -- prompt plus tokens so far (generated ones, or the human prefix when scoring).
    hidden : float [B, d] last hidden state at the current position, if the backend exposes it, else None.
    backend : the :class:`~scalescope.calibration.backends.base.Backend` in use (for lookahead methods).
    mode : "generate" or "score".
    """

    step: int
    history: torch.Tensor | None = None
    hidden: torch.Tensor | None = None
    backend: Any = None
    mode: str = "generate"


class Transform:
    """Base class: ``transform(logits [B, V] float32, ctx) -> logits [B, V]`` with removed tokens at ``-inf``.

    Subclasses set ``spec`` (the canonical text form) and ``truncates`` (whether tokens can be removed, i.e. whether
    log loss under q can be infinite), and may set ``needs_hidden`` to ask the engine for hidden states.
    """

    spec: str = "pure"
    truncates: bool = False
    needs_hidden: bool = False

    def __call__(self, logits: torch.Tensor, ctx: StepContext) -> torch.Tensor:
        return self.transform(logits, ctx)

    def transform(self, logits: torch.Tensor, ctx: StepContext) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.spec!r})"


class Identity(Transform):
    """Pure ancestral sampling: q = p (the paper's setting at temperature 1)."""

    spec = "pure"

    def transform(self, logits, ctx):
        return logits


def _probs(logits: torch.Tensor) -> torch.Tensor:
    return torch.softmax(logits.float(), dim=-1)


def _keep_argmax(remove: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """Never remove the argmax, so at least one token is kept (``min_tokens_to_keep = 1``)."""
    top = logits.argmax(dim=-1, keepdim=True)
    return remove.scatter(-1, top, False)


def _sorted_prefix_keep(scores_sorted_probs: torch.Tensor, mass: float) -> torch.Tensor:
    """Boolean keep-mask over a sorted order: the smallest prefix whose cumulative probability reaches ``mass``.

    Token i (in sorted order) is kept iff the mass *before* it is < ``mass``, so the token crossing the
    threshold is kept (spec §4.1) and the first token always is.
    """
    cum = scores_sorted_probs.cumsum(dim=-1)
    before = cum - scores_sorted_probs
    return before < mass


class Temperature(Transform):
    """p_tau ∝ exp(z / tau) = p^(1/tau). tau < 1 sharpens, tau > 1 flattens; never removes tokens."""

    def __init__(self, tau: float):
        if not (tau > 0 and math.isfinite(tau)):
            raise ValueError("temperature must be a positive finite number")
        self.tau = float(tau)
        self.spec = f"temp={_fmt(tau)}"

    def transform(self, logits, ctx):
        return logits / self.tau if self.tau != 1.0 else logits


class TopK(Transform):
    """Keep the k highest-probability tokens (ties at the k-th value are kept, as in Hugging Face)."""

    truncates = True

    def __init__(self, k: int):
        if int(k) != k or k < 1:
            raise ValueError("top_k must be an integer >= 1")
        self.k = int(k)
        self.spec = f"top_k={self.k}"

    def transform(self, logits, ctx):
        k = min(self.k, logits.shape[-1])
        kth = torch.topk(logits, k, dim=-1).values[..., -1:]
        return logits.masked_fill(logits < kth, NEG_INF)


class TopP(Transform):
    """Nucleus: sort by probability, keep the smallest prefix with total mass >= p (the crossing token is kept)."""

    truncates = True
    #: Size of the partial sort tried before a full-vocabulary sort (a speed knob; results are identical).
    candidate_k = 1024

    def __init__(self, p: float):
        if not 0.0 < p <= 1.0:
            raise ValueError("top_p must be in (0, 1]")
        self.p = float(p)
        self.spec = f"top_p={_fmt(p)}"

    def transform(self, logits, ctx):
        if self.p >= 1.0:
            # Float cumulative sums can reach 1 before the tail; p = 1 is the identity by definition.
            return logits
        probs = _probs(logits)
        # Exact shortcut: if the top ``candidate_k`` tokens already hold mass >= p in every row, the nucleus lies
        # inside them, so a partial top-k replaces the full-vocabulary sort (several times faster at V ~ 50k+).
        k = min(self.candidate_k, probs.shape[-1])
        sp, idx = probs.topk(k, dim=-1, sorted=True)
        if k == probs.shape[-1] or not bool((sp.sum(dim=-1) >= self.p).all()):
            sp, idx = probs.sort(dim=-1, descending=True)
        keep_sorted = _sorted_prefix_keep(sp, self.p)
        keep = torch.zeros(probs.shape, dtype=torch.bool, device=probs.device).scatter(-1, idx, keep_sorted)
        return logits.masked_fill(~keep, NEG_INF)


class MinP(Transform):
    """Keep x iff p(x) >= p_base * max p."""

    truncates = True

    def __init__(self, p_base: float):
        if not 0.0 <= p_base <= 1.0:
            raise ValueError("min_p must be in [0, 1]")
        self.p_base = float(p_base)
        self.spec = f"min_p={_fmt(p_base)}"

    def transform(self, logits, ctx):
        probs = _probs(logits)
        thresh = self.p_base * probs.max(dim=-1, keepdim=True).values
        remove = _keep_argmax(probs < thresh, logits)
        return logits.masked_fill(remove, NEG_INF)


class Epsilon(Transform):
    """epsilon-sampling: keep x iff p(x) >= epsilon (the argmax is always kept)."""

    truncates = True

    def __init__(self, eps: float):
        if not 0.0 < eps < 1.0:
            raise ValueError("epsilon must be in (0, 1)")
        self.eps = float(eps)
        self.spec = f"epsilon={_fmt(eps)}"

    def transform(self, logits, ctx):
        probs = _probs(logits)
        remove = _keep_argmax(probs < self.eps, logits)
        return logits.masked_fill(remove, NEG_INF)


class Eta(Transform):
    """eta-sampling: eta = min(eps, sqrt(eps) * exp(-H(p))); keep x iff p(x) >= eta (argmax always kept)."""

    truncates = True

    def __init__(self, eps: float):
        if not 0.0 < eps < 1.0:
            raise ValueError("eta must be in (0, 1)")
        self.eps = float(eps)
        self.spec = f"eta={_fmt(eps)}"

    def transform(self, logits, ctx):
        from scalescope.calibration.stats import entropy

        probs = _probs(logits)
        h = entropy(logits).unsqueeze(-1)
        eta = torch.minimum(torch.full_like(h, self.eps), math.sqrt(self.eps) * torch.exp(-h))
        remove = _keep_argmax(probs < eta, logits)
        return logits.masked_fill(remove, NEG_INF)


class Typical(Transform):
    """Locally typical: s(x) = |-log p(x) - H(p)|, sort ascending, keep the smallest set with mass >= tau.

    The one token always kept is the most *typical* one (as in Meister et al. and Hugging Face), which need not
    be the argmax.
    """

    truncates = True

    def __init__(self, mass: float):
        if not 0.0 < mass <= 1.0:
            raise ValueError("typical must be in (0, 1]")
        self.mass = float(mass)
        self.spec = f"typical={_fmt(mass)}"

    def transform(self, logits, ctx):
        if self.mass >= 1.0:
            return logits
        from scalescope.calibration.stats import entropy_from_logprobs

        logp = torch.log_softmax(logits.float(), dim=-1)
        h = entropy_from_logprobs(logp).unsqueeze(-1)
        # Tokens with p = 0 get score +inf so they sort last and are never needed to reach the mass.
        score = torch.where(torch.isfinite(logp), (-logp - h).abs(), torch.full_like(logp, math.inf))
        order = score.argsort(dim=-1, stable=True)
        sp = logp.exp().gather(-1, order)
        keep_sorted = _sorted_prefix_keep(sp, self.mass)
        keep = torch.zeros_like(keep_sorted).scatter(-1, order, keep_sorted)
        return logits.masked_fill(~keep, NEG_INF)


class Compose(Transform):
    """Apply transforms in order (left to right, as written in the spec string)."""

    def __init__(self, transforms: list[Transform]):
        self.transforms = list(transforms)
        self.spec = ",".join(t.spec for t in self.transforms) or "pure"
        self.truncates = any(t.truncates for t in self.transforms)
        self.needs_hidden = any(getattr(t, "needs_hidden", False) for t in self.transforms)

    def transform(self, logits, ctx):
        for t in self.transforms:
            logits = t(logits, ctx)
        return logits


def _fmt(x: float) -> str:
    r = repr(float(x))
    return r[:-2] if r.endswith(".0") else r


# -- registry and grammar -------------------------------------------------------------------------------------------

Factory = Callable[[str], Transform]


def _float_factory(cls: type[Transform]) -> Factory:
    return lambda value: cls(float(value))


def _int_factory(value: str) -> Transform:
    f = float(value)
    if not f.is_integer():
        raise ValueError("top_k must be an integer >= 1")
    return TopK(int(f))


_REGISTRY: dict[str, Factory] = {
    "temp": _float_factory(Temperature),
    "top_k": _int_factory,
    "top_p": _float_factory(TopP),
    "min_p": _float_factory(MinP),
    "epsilon": _float_factory(Epsilon),
    "eta": _float_factory(Eta),
    "typical": _float_factory(Typical),
}
_ALIASES = {
    "temperature": "temp",
    "tau": "temp",
    "t": "temp",
    "topk": "top_k",
    "topp": "top_p",
    "nucleus": "top_p",
    "minp": "min_p",
    "eps": "epsilon",
    "epsilon_cutoff": "epsilon",
    "eta_cutoff": "eta",
    "typical_p": "typical",
}
_PURE = {"", "pure", "none", "ancestral", "identity"}
# Kinds registered by modules that are heavy to import: imported on first use, so `calibrate run --sampler` knows them.
_LAZY = {"future_entropy_head": "scalescope.calibration.methods.learned_calibrator"}


def register(kind: str, factory: Factory, *, aliases: tuple[str, ...] = ()) -> None:
    """Register a new sampler kind: ``factory(value_string) -> Transform`` (raise ValueError on a bad value).

    >>> register("double_temp", lambda v: Temperature(2 * float(v)))
    >>> parse_sampler("double_temp=0.5").spec
    'temp=1'
    """
    _REGISTRY[kind] = factory
    for a in aliases:
        _ALIASES[a] = kind


def sampler_kinds() -> list[str]:
    """Names of every registered sampler kind."""
    return sorted(_REGISTRY)


def parse_sampler(spec: str | Transform | None) -> Transform:
    """Parse ``"kind=value,kind=value"`` into a :class:`Transform` (a :class:`Compose` when several are given).

    Raises :class:`~scalescope.errors.InputError` with one line naming the spec and what is wrong, with a
    "did you mean" suggestion for misspelt kinds.

    >>> parse_sampler("temp=0.9,top_p=0.95").spec
    'temp=0.9,top_p=0.95'
    """
    if isinstance(spec, Transform):
        return spec
    text = (spec or "").strip()
    if text.lower() in _PURE:
        return Identity()
    items = []
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            raise InputError(f"sampler {text!r}: empty item (write e.g. 'temp=0.9,top_p=0.95')")
        if item.lower() in _PURE:
            continue
        if "=" not in item:
            raise InputError(f"sampler {text!r}: item {item!r} needs the form kind=value (e.g. 'top_p=0.9')")
        kind, value = (s.strip() for s in item.split("=", 1))
        key = _ALIASES.get(kind.lower().replace("-", "_"), kind.lower().replace("-", "_"))
        if key not in _REGISTRY and key in _LAZY:
            importlib.import_module(_LAZY[key])
        if key not in _REGISTRY:
            names = sorted(set(_REGISTRY) | set(_ALIASES))
            close = difflib.get_close_matches(kind.lower(), names, n=1, cutoff=0.6)
            hint = f" (did you mean {_ALIASES.get(close[0], close[0])}?)" if close else ""
            raise InputError(
                f"sampler {text!r}: unknown kind {kind!r}{hint}; known: {', '.join(sampler_kinds())}"
            )
        try:
            items.append(_REGISTRY[key](value))
        except (TypeError, ValueError) as e:
            msg = str(e) if str(e) and "could not convert" not in str(e) else "not a number"
            raise InputError(f"sampler {text!r}: bad value {value!r} for {key} ({msg})") from None
    if not items:
        return Identity()
    return items[0] if len(items) == 1 else Compose(items)
