"""Throughput of the calibration engine's fast decode path vs Hugging Face ``generate`` (issue 5).

Builds a random-init Qwen2.5-0.5B-shaped model from its config (no download; 24 layers, hidden 896, 14 query / 2 KV
heads of dim 64, vocab 151,936, tied embeddings: 494 M parameters, 0.99 GB in bf16), then, for each batch size, on
the SAME random prompts in one process:

* HF: ``generate(do_sample=True, top_k=0, output_scores=True)`` for ``--steps`` new tokens, entropies afterwards
  (the issue's baseline: 1,443 tok/s at b64 and 5,934 at b256 on an H100);
* scalescope: :class:`scalescope.calibration.fast.engine.FastDecodeEngine` -- prefill + graphed decode with fused
  entropy / log-prob / sampling (``generate``), then teacher-forced scoring of a human continuation (``score``).

It prints and writes ``benchmarks/results/calibration_throughput-<device>.json`` with, per batch size:
``tokens_per_s`` (generated tokens / wall time of prefill + all decode steps), ``hf_tokens_per_s``,
``roofline_tokens_per_s``, ``fraction_of_roofline``, ``peak_mem_gb`` (CUDA max allocated during the scalescope part;
on CPU the process's max RSS), plus ``decode_tokens_per_s`` (decode steps only), ``score_tokens_per_s``,
``speedup_vs_hf``, ``hf_peak_mem_gb``, ``setup_s`` (graph capture + Triton compilation, once per shape).

Roofline (issue 5; measured here from a device copy: bandwidth = 2 x bytes / time of ``y.copy_(x)`` on 1 GiB).
Every decode step must move at least: the weights once, the K/V of every row at its current length, and one float32
[batch, vocab] logits write + read. For the H100 case (P = 128 prompt tokens, T = 256 steps, lengths 128..383):

* weights: 494.0 M params x 2 B = 0.988 GB;
* KV: 24 layers x 2 (K, V) x 2 KV heads x 64 x 2 B = 12,288 B per token per sequence; mean length 255.5;
* logits: batch x 151,936 x 4 B x 2 = 77.8 MB at b64, 311.2 MB at b256.

b64:  0.988 GB + 64 x 12,288 x 255.5 (0.201 GB) + 0.078 GB = 1.267 GB/step -> 0.424 ms at 2.99 TB/s -> ~151,000 tok/s.
b256: 0.988 GB + 256 x 12,288 x 255.5 (0.804 GB) + 0.311 GB = 2.103 GB/step -> 0.703 ms -> ~364,000 tok/s.
(The script sums the per-step bytes exactly rather than using the mean length; same numbers to 0.1 %.)
Targets (issue 5, on an H100): >= 50 % of roofline at b256, >= 35 % at b64, >= 30x HF generate, peak memory <=
weights + KV + 4 GB; ``--long-check``: 1,000 prompts x 1,000 steps generation + scoring in < 2 min.

Usage::

    python benchmarks/calibration_throughput.py                      # CUDA: Qwen2.5-0.5B shape, b64 and b256
    python benchmarks/calibration_throughput.py --cpu                # CPU mode: tiny config, small batches
    python benchmarks/calibration_throughput.py --long-check         # + 1,000 x 1,000 on CUDA
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import resource
import sys
import time
from pathlib import Path

import torch

from scalescope.calibration.fast.engine import FastDecodeEngine, roofline_tokens_per_s
from scalescope.calibration.samplers import parse_sampler
from scalescope.results import write_json

RESULTS = Path(__file__).resolve().parent / "results"


def build_model(tiny: bool, device: torch.device, dtype: torch.dtype):
    from transformers import Qwen2Config, Qwen2ForCausalLM

    if tiny:
        cfg = Qwen2Config(vocab_size=4096, hidden_size=128, intermediate_size=384, num_hidden_layers=4,
                          num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
                          tie_word_embeddings=True)
    else:
        cfg = Qwen2Config(vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
                          num_attention_heads=14, num_key_value_heads=2, max_position_embeddings=4096,
                          tie_word_embeddings=True)
    torch.manual_seed(0)
    with torch.device(device):
        model = Qwen2ForCausalLM(cfg)
    return model.to(device=device, dtype=dtype).eval()


class _Backend:
    """The minimum of HFBackend the engine uses (no tokenizer needed for random prompts)."""

    def __init__(self, model):
        self.model = model
        self.eos_token_id = None
        self.device = next(model.parameters()).device


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def copy_bandwidth(dev: torch.device) -> float:
    """Bytes/s of a device-to-device copy (read + write counted), best of 5."""
    n = (1 << 30) if dev.type == "cuda" else (1 << 27)
    x = torch.empty(n, dtype=torch.uint8, device=dev).fill_(1)
    y = torch.empty_like(x)
    best = float("inf")
    for _ in range(6):
        _sync(dev)
        t0 = time.perf_counter()
        y.copy_(x)
        _sync(dev)
        best = min(best, time.perf_counter() - t0)
    del x, y
    return 2 * n / best


def _peak_reset(dev):
    if dev.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(dev)


def _peak_gb(dev) -> float:
    if dev.type == "cuda":
        return torch.cuda.max_memory_allocated(dev) / 1e9
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9  # Linux: KiB


@torch.inference_mode()
def hf_generate(model, prompts: torch.Tensor, steps: int) -> tuple[float, float]:
    """Tokens/s and peak GB of HF generate with output_scores + entropies afterwards (the issue's baseline)."""
    dev = prompts.device
    _peak_reset(dev)
    _sync(dev)
    t0 = time.perf_counter()
    out = model.generate(prompts, attention_mask=torch.ones_like(prompts), do_sample=True, top_k=0, top_p=1.0,
                         temperature=1.0, max_new_tokens=steps, min_new_tokens=steps, output_scores=True,
                         return_dict_in_generate=True, pad_token_id=0, eos_token_id=None)
    ent = [torch.special.entr(torch.softmax(s.float(), -1)).sum(-1) for s in out.scores]
    torch.stack(ent).sum().item()
    _sync(dev)
    dt = time.perf_counter() - t0
    return prompts.shape[0] * steps / dt, _peak_gb(dev)


def bench_batch(model, B: int, P: int, T: int, bw: float, skip_hf: bool, seed: int = 0) -> dict:
    dev = next(model.parameters()).device
    V = model.config.vocab_size
    g = torch.Generator(device="cpu").manual_seed(seed)
    prompts = torch.randint(0, V, (B, P), generator=g).to(dev)
    human = torch.randint(0, V, (B, T), generator=g).to(dev)
    tr = parse_sampler("pure")
    be = _Backend(model)
    _peak_reset(dev)
    t0 = time.perf_counter()
    eng = FastDecodeEngine(be, batch_size=B, prompt_len=P, steps=T)
    eng.generate(prompts, tr, torch.Generator(device=dev).manual_seed(1))  # warm-up: graph capture, Triton JIT
    eng.score(prompts, human, tr)
    _sync(dev)
    setup_s = time.perf_counter() - t0
    # timed: prefill + decode
    _sync(dev)
    t0 = time.perf_counter()
    with torch.inference_mode():
        eng.dec.prefill(prompts)
    _sync(dev)
    prefill_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    rec = eng.generate(prompts, tr, torch.Generator(device=dev).manual_seed(2))
    _sync(dev)
    gen_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    eng.score(prompts, human, tr)
    _sync(dev)
    score_s = time.perf_counter() - t0
    peak = _peak_gb(dev)
    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    kv_tok = eng.dec.kv_bytes_per_token()
    roof = roofline_tokens_per_s(bandwidth_bytes_per_s=bw, weight_bytes=weight_bytes, kv_bytes_per_token=kv_tok,
                                 batch=B, prompt_len=P, steps=T, vocab=V)
    tps = B * T / gen_s
    res = {
        "tokens_per_s": round(tps, 1),
        "decode_tokens_per_s": round(B * (T - 1) / max(1e-9, gen_s - prefill_s), 1),
        "score_tokens_per_s": round(B * T / score_s, 1),
        "roofline_tokens_per_s": round(roof, 1),
        "fraction_of_roofline": round(tps / roof, 4),
        "peak_mem_gb": round(peak, 3),
        "weights_plus_kv_gb": round((weight_bytes + kv_tok * B * (P + T)) / 1e9, 3),
        "prefill_s": round(prefill_s, 4),
        "setup_s": round(setup_s, 2),
        "mean_entropy_nats": round(float(rec["entropy_full"].float().mean()), 4),
    }
    del eng
    if not skip_hf:
        hf_tps, hf_peak = hf_generate(model, prompts, T)
        res.update(hf_tokens_per_s=round(hf_tps, 1), hf_peak_mem_gb=round(hf_peak, 3),
                   speedup_vs_hf=round(tps / hf_tps, 2))
    else:
        res.update(hf_tokens_per_s=None, hf_peak_mem_gb=None, speedup_vs_hf=None)
    return res


def long_check(model, n_prompts: int = 1000, steps: int = 1000, P: int = 128, batch: int = 500) -> dict:
    """Wall time of generation + scoring for n_prompts x steps (issue 5 target: < 120 s on an H100)."""
    dev = next(model.parameters()).device
    V = model.config.vocab_size
    tr = parse_sampler("pure")
    eng = FastDecodeEngine(_Backend(model), batch_size=batch, prompt_len=P, steps=steps)
    g = torch.Generator().manual_seed(3)
    _sync(dev)
    t0 = time.perf_counter()
    for b0 in range(0, n_prompts, batch):
        b = min(batch, n_prompts - b0)
        prompts = torch.randint(0, V, (b, P), generator=g).to(dev)
        human = torch.randint(0, V, (b, steps), generator=g).to(dev)
        eng.generate(prompts, tr, torch.Generator(device=dev).manual_seed(b0))
        eng.score(prompts, human, tr)
    _sync(dev)
    return {"prompts": n_prompts, "steps": steps, "batch": batch, "seconds": round(time.perf_counter() - t0, 2),
            "peak_mem_gb": round(_peak_gb(dev), 3)}


def device_slug(dev: torch.device) -> str:
    if dev.type != "cuda":
        return "cpu"
    return re.sub(r"[^a-z0-9]+", "-", torch.cuda.get_device_name(dev).lower()).strip("-")


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cpu", action="store_true", help="CPU mode: tiny config (default when CUDA is absent).")
    ap.add_argument("--batch-sizes", default=None, help="comma-separated (default 64,256 on CUDA; 4,16 on CPU)")
    ap.add_argument("--prompt", type=int, default=None, help="prompt tokens (default 128; 32 on CPU)")
    ap.add_argument("--steps", type=int, default=None, help="generated tokens (default 256; 64 on CPU)")
    ap.add_argument("--skip-hf", action="store_true", help="do not run the HF generate baseline")
    ap.add_argument("--long-check", action="store_true", help="also time 1,000 prompts x 1,000 steps")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch CPU threads (default 1 in CPU mode: on a shared 2-core box more threads spin-wait and "
                         "make tiny matmuls ~100x slower)")
    ap.add_argument("--out", type=Path, default=None, help="JSON path (default benchmarks/results/...)")
    a = ap.parse_args(argv)
    cpu = a.cpu or not torch.cuda.is_available()
    dev = torch.device("cpu" if cpu else "cuda")
    dtype = torch.float32 if cpu else torch.bfloat16
    if a.threads or cpu:
        torch.set_num_threads(a.threads or 1)
    bss = [int(x) for x in (a.batch_sizes or ("4,16" if cpu else "64,256")).split(",")]
    P = a.prompt or (32 if cpu else 128)
    T = a.steps or (64 if cpu else 256)
    model = build_model(cpu, dev, dtype)
    bw = copy_bandwidth(dev)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"device {device_slug(dev)}  params {n_params / 1e6:.1f} M  {dtype}  copy bandwidth {bw / 1e12:.3f} TB/s  "
          f"P={P} T={T}", flush=True)
    out = {"device": device_slug(dev), "device_name": torch.cuda.get_device_name(dev) if not cpu else
           platform.processor() or "cpu", "mode": "cpu-tiny" if cpu else "qwen2.5-0.5b-shape",
           "dtype": str(dtype).replace("torch.", ""), "params": n_params, "prompt_tokens": P, "steps": T,
           "copy_bandwidth_bytes_per_s": round(bw), "torch": torch.__version__,
           "torch_threads": torch.get_num_threads(), "batch": {}}
    for B in bss:
        r = bench_batch(model, B, P, T, bw, a.skip_hf)
        out["batch"][str(B)] = r
        print(f"b{B}: {json.dumps(r)}", flush=True)
    if a.long_check:
        out["long_check"] = long_check(model) if not cpu else long_check(model, 8, 64, 32, 4)
        print(f"long check: {json.dumps(out['long_check'])}", flush=True)
    path = a.out or RESULTS / f"calibration_throughput-{out['device']}.json"
    write_json(out, path)
    print(f"wrote {path}")
    return out


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
