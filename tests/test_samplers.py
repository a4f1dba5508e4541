"""Every sampler of spec §4.1 against its definition (float64 reference), on random logits with hypothesis:
kept set, renormalisation, 0 <= H <= log V, at least one token kept, the top-p crossing token kept; plus the spec
grammar and its one-line errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from scalescope.calibration import stats
from scalescope.calibration.samplers import (
    Compose,
    Identity,
    StepContext,
    Temperature,
    parse_sampler,
    register,
    sampler_kinds,
)
from scalescope.errors import InputError

# A token whose probability lies within this of a rule's threshold may legitimately fall either side in float32.
BOUNDARY_TOL = 1e-5

CTX = StepContext(step=0)


@st.composite
def logit_rows(draw):
    v = draw(st.integers(2, 40))
    seed = draw(st.integers(0, 2**31 - 1))
    scale = draw(st.sampled_from([0.1, 1.0, 3.0, 8.0]))
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(2, v)) * scale
    n_masked = draw(st.integers(0, v - 1))
    if n_masked:
        z[:, rng.choice(v, n_masked, replace=False)] = -np.inf
    return z


def _ref_keep(kind: str, value: float, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(keep mask, margin) per token in float64; margin = |distance to the rule's boundary| (inf if irrelevant)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.exp(z - z.max())
        p /= p.sum()
        logp = np.log(p)
    margin = np.full(p.shape, np.inf)
    if kind == "top_k":
        k = min(int(value), len(p))
        kth = np.sort(z)[::-1][k - 1]
        keep = z >= kth
    elif kind in ("top_p", "typical"):
        if kind == "top_p":
            order = np.argsort(-p, kind="stable")
        else:
            h = -np.sum(p[p > 0] * logp[p > 0])
            score = np.where(p > 0, np.abs(-logp - h), np.inf)
            order = np.argsort(score, kind="stable")
        before = np.cumsum(p[order]) - p[order]
        keep_sorted = before < value
        keep = np.zeros_like(keep_sorted)
        keep[order] = keep_sorted
        margin[order] = np.abs(before - value)
        if kind == "typical":  # ties in score make the order ambiguous
            with np.errstate(invalid="ignore", over="ignore"):
                gaps = np.nan_to_num(np.abs(np.diff(np.r_[-1, score[order]])), nan=np.inf, posinf=np.inf)
                margin[order] = np.minimum(margin[order], gaps * 1e3)
    else:
        if kind == "min_p":
            thresh = value * p.max()
        elif kind == "epsilon":
            thresh = value
        elif kind == "eta":
            h = -np.sum(p[p > 0] * logp[p > 0])
            thresh = min(value, math.sqrt(value) * math.exp(-h))
        keep = p >= thresh
        keep[np.argmax(z)] = True
        margin = np.abs(p - thresh)
    return keep & np.isfinite(z), margin


KINDS = {
    "top_k": st.integers(1, 50),
    "top_p": st.floats(0.01, 0.99),
    "min_p": st.floats(0.0, 1.0),
    "epsilon": st.floats(1e-4, 0.5),
    "eta": st.floats(1e-4, 0.5),
    "typical": st.floats(0.01, 0.99),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_sampler_matches_definition(kind, data):
    z = data.draw(logit_rows())
    value = data.draw(KINDS[kind])
    tr = parse_sampler(f"{kind}={value}")
    assert tr.truncates
    out = tr(torch.tensor(z, dtype=torch.float32), CTX)
    kept = torch.isfinite(out).numpy()
    for b in range(z.shape[0]):
        ref, margin = _ref_keep(kind, value, z[b])
        bad = kept[b] != ref
        assert not (bad & (margin > BOUNDARY_TOL)).any(), (kind, value, z[b], kept[b], ref)
        assert kept[b].sum() >= 1
        if kind != "typical":  # typical keeps the most *typical* token, which need not be the argmax
            assert kept[b][np.argmax(z[b])]
        assert not (kept[b] & np.isneginf(z[b])).any()  # nothing masked comes back
        # kept logits are unchanged; the renormalised q is p restricted to the kept set
        np.testing.assert_array_equal(out[b].numpy()[kept[b]], z[b][kept[b]].astype(np.float32))
        lq = stats.log_softmax(out[b : b + 1])[0].double().numpy()
        with np.errstate(divide="ignore"):
            p = np.exp(z[b] - z[b].max())
            p /= p.sum()
            q_ref = np.where(kept[b], p, 0) / np.where(kept[b], p, 0).sum()
        np.testing.assert_allclose(np.exp(lq), q_ref, atol=1e-6)
        h = float(stats.entropy(out[b : b + 1])[0])
        assert -1e-6 <= h <= math.log(kept[b].sum()) + 1e-5 <= math.log(z.shape[1]) + 1e-5


@settings(max_examples=60, deadline=None)
@given(z=logit_rows(), p0=st.floats(0.01, 0.99))
def test_top_p_keeps_crossing_token(z, p0):
    out = parse_sampler(f"top_p={p0}")(torch.tensor(z, dtype=torch.float32), CTX)
    for b in range(z.shape[0]):
        with np.errstate(divide="ignore"):
            p = np.exp(z[b] - z[b].max())
        p /= p.sum()
        kept = torch.isfinite(out[b]).numpy()
        mass = p[kept].sum()
        assert mass >= p0 - BOUNDARY_TOL  # reaches the threshold (so the crossing token is in)
        assert mass - p[kept].min() < p0 + BOUNDARY_TOL  # smallest such set


@settings(max_examples=40, deadline=None)
@given(z=logit_rows(), tau=st.floats(0.05, 5.0))
def test_temperature_is_power_of_p(z, tau):
    out = parse_sampler(f"temp={tau}")(torch.tensor(z, dtype=torch.float32), CTX)
    lq = stats.log_softmax(out).double().numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        ref = z / tau
        ref = ref - ref.max(axis=1, keepdims=True)
        ref = ref - np.log(np.exp(ref).sum(axis=1, keepdims=True))
    fin = np.isfinite(ref)
    assert (np.isfinite(lq) == fin).all()
    np.testing.assert_allclose(lq[fin], ref[fin], atol=2e-4 * max(1.0, 1 / tau))


def test_composition_applies_left_to_right():
    z = torch.tensor([[4.0, 3.0, 2.0, 1.0, 0.0]])
    a = parse_sampler("temp=0.5,top_p=0.9")
    assert isinstance(a, Compose) and a.spec == "temp=0.5,top_p=0.9"
    manual = parse_sampler("top_p=0.9")(Temperature(0.5)(z, CTX), CTX)
    assert torch.equal(a(z, CTX), manual)
    assert isinstance(parse_sampler("pure"), Identity) and isinstance(parse_sampler(""), Identity)
    assert parse_sampler("top_p=1.0")(z, CTX) is z  # p = 1 keeps everything


def test_aliases_and_canonical_spec():
    assert parse_sampler("temperature=0.90").spec == "temp=0.9"
    assert parse_sampler("nucleus=0.95, topk=40").spec == "top_p=0.95,top_k=40"
    assert parse_sampler("temp=1").spec == "temp=1"


@pytest.mark.parametrize(
    "spec, message",
    [
        ("top_q=0.9", "unknown kind 'top_q' (did you mean top_p?)"),
        ("temprature=0.9", "did you mean temp?"),
        ("temp=abc", "bad value 'abc' for temp"),
        ("temp=0", "temperature must be a positive"),
        ("top_k=2.5", "top_k must be an integer"),
        ("top_p=1.5", "top_p must be in (0, 1]"),
        ("temp", "needs the form kind=value"),
        ("temp=0.9,,top_k=3", "empty item"),
    ],
)
def test_spec_errors_are_one_line(spec, message):
    with pytest.raises(InputError) as e:
        parse_sampler(spec)
    assert message in str(e.value) and "\n" not in str(e.value)
    assert str(e.value).startswith(f"sampler '{spec}'")


def test_register_new_kind():
    register("half_temp", lambda v: Temperature(float(v) / 2))
    assert "half_temp" in sampler_kinds()
    assert parse_sampler("half_temp=1.6").spec == "temp=0.8"


@settings(max_examples=40, deadline=None)
@given(z=logit_rows(), p0=st.floats(0.01, 0.99), k=st.integers(1, 6))
def test_top_p_partial_sort_shortcut_is_exact(z, p0, k):
    from scalescope.calibration.samplers import TopP

    full, short = TopP(p0), TopP(p0)
    full.candidate_k = 10**9
    short.candidate_k = k  # forces both the shortcut and the fallback across examples
    zt = torch.tensor(z, dtype=torch.float32)
    a, b = torch.isfinite(full(zt, CTX)), torch.isfinite(short(zt, CTX))
    probs = torch.softmax(zt, -1)
    # identical kept sets, up to tokens tied in probability at the boundary
    diff = a != b
    if diff.any():
        assert torch.allclose(probs[diff].min(), probs[diff].max(), atol=1e-7)


def test_future_entropy_head_kind_is_known_without_importing_methods():
    # Registered lazily by scalescope.calibration.methods.value_head: `calibrate run --sampler` must know it.
    import subprocess
    import sys

    code = ("from scalescope.calibration.samplers import parse_sampler\n"
            "try:\n    parse_sampler('future_entropy_head=/nonexistent.pt')\n"
            "except Exception as e:\n    print(type(e).__name__, e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.startswith("InputError") and "no head file" in out and "unknown kind" not in out
