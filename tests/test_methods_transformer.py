"""``calibrate compare`` on transformer backends: a tiny random-init GPT-2 saved to disk, run end to end on CPU via the
CLI (engine-measured methods, learned future-entropy head); the same on CUDA with a Qwen2-shaped model (gpu mark)."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from click.testing import CliRunner  # noqa: E402

from scalescope.calibration.backends.hf import char_tokenizer  # noqa: E402
from scalescope.calibration.methods.compare_transformer import solve_temperature_measured  # noqa: E402
from scalescope.cli import cli  # noqa: E402

ALPHABET = "abcdefgh "


def _corpus_dir(path, n_docs=10, chars=600, seed=0):
    """Documents of a small Markov chain over ALPHABET (one .txt file each)."""
    rng = np.random.default_rng(seed)
    k = len(ALPHABET)
    trans = rng.dirichlet(np.full(k, 0.3), size=k)
    path.mkdir()
    for d in range(n_docs):
        s, out = 0, []
        for _ in range(chars):
            s = rng.choice(k, p=trans[s])
            out.append(ALPHABET[s])
        (path / f"doc{d:02d}.txt").write_text("".join(out))
    return path


def _save_model(path, config_cls, model_cls, **cfg):
    torch.manual_seed(0)
    tok = char_tokenizer(ALPHABET)
    model = model_cls(config_cls(vocab_size=len(tok), eos_token_id=tok.eos_token_id, bos_token_id=tok.eos_token_id,
                                 **cfg))
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


def _check_summary(out, methods):
    s = json.loads((out / "summary.json").read_text())
    assert s["backend_kind"] == "transformer"
    for m in methods:
        e = s["methods"][m]
        assert np.isfinite(e["entce"]) and np.isfinite(e["logloss"]) and e["logloss_se"] > 0
        lo, hi = e["entce_ci"]
        assert lo <= e["entce"] <= hi
        assert len(e["entce_t"]) == s["config"]["steps"]
    assert "lookahead" in s["skipped"] and "lookahead" not in s["methods"]
    h = s["head"]
    assert np.isfinite(h["delta_rmse"]) and h["delta_rmse"] > 0 and h["baseline_rmse"] > 0
    assert len(s["fits"]["future_entropy"]["alphas"]) == s["config"]["steps"]
    t = s["fits"]["temperature"]
    assert 0 < t["tau"] and 1 <= t["measured_runs"] <= s["config"]["temperature_runs"]
    assert len(t["runs"]) == t["measured_runs"]
    assert set(s["paired_vs_base"]) == set(methods) - {"base"}
    assert (out / "section.json").is_file() and (out / "tradeoff.png").is_file()
    assert (out / "runs" / "test_future_entropy" / "manifest.json").is_file()
    return s


def test_compare_tiny_gpt2_end_to_end_cpu(tmp_path):
    model = _save_model(tmp_path / "gpt2", transformers.GPT2Config, transformers.GPT2LMHeadModel,
                        n_positions=64, n_embd=16, n_layer=1, n_head=2)
    corpus = _corpus_dir(tmp_path / "corpus")
    out = tmp_path / "cmp"
    methods = ["base", "temperature", "top_p", "min_p", "future_entropy"]
    res = CliRunner().invoke(cli, [
        "calibrate", "compare", "--model", str(model), "--corpus", str(corpus), "--methods",
        ",".join(methods + ["lookahead"]), "--prompt-tokens", "8", "--steps", "6", "--samples", "12",
        "--samples-per-prompt", "2", "--rollouts-per-prompt", "4", "--head-epochs", "60", "--temperature-runs", "4",
        "--device", "cpu", "--batch-size", "8", "--quiet", "--json", "--out", str(out)])
    assert res.exit_code == 0, res.output
    s = _check_summary(out, methods)
    assert s["engine"]["device"] == "cpu" and s["engine"]["dtype"] == "float32"
    assert s["n_fit"] == 12 and s["n_test"] == 12
    printed = json.loads(res.output)
    assert "head" in printed and "future_entropy" in printed
    # Every engine run is a complete run directory with the requested sampler recorded.
    man = json.loads((out / "runs" / "test_top_p" / "manifest.json").read_text())
    assert man["status"] == "complete" and man["sampler"] == "top_p=0.9" and man["config"]["batch_size"] == 8


def test_compare_transformer_bad_inputs(tmp_path):
    corpus = _corpus_dir(tmp_path / "corpus", n_docs=3)
    base = ["calibrate", "compare", "--corpus", str(corpus), "--out", str(tmp_path / "x")]
    for args, needle in [
        (["--model", str(tmp_path / "missing")], "no such file"),
        (["--model", "ngram:2/char", "--device", "cpu"], "--device"),
        (["--model", str(tmp_path), "--batch-size", "0"], "--batch-size"),
        (["--model", str(tmp_path), "--temperature-runs", "1"], "--temperature-runs"),
    ]:
        res = CliRunner().invoke(cli, base + args)
        assert res.exit_code == 2, (args, res.output)
        assert needle in res.output and "Traceback" not in res.output
        assert not (tmp_path / "x").exists()


def test_measured_temperature_solve_brackets_and_refines():
    calls = []

    def f(tau):
        calls.append(tau)
        return 2.0 * np.log(tau / 0.7) + 0.1 * np.log(tau / 0.7) ** 2

    r = solve_temperature_measured(f, max_runs=6)
    assert r["bracketed"] and abs(r["tau"] - 0.7) < 5e-3 and len(calls) == 6
    # No sign change within the budget: the best measured τ, flagged.
    r = solve_temperature_measured(lambda t: 1.0 + 0 * t, max_runs=3)
    assert not r["bracketed"] and len(r["runs"]) == 3


@pytest.mark.gpu
def test_compare_qwen2_shaped_end_to_end_cuda(tmp_path):
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    model = _save_model(tmp_path / "qwen2", transformers.Qwen2Config, transformers.Qwen2ForCausalLM,
                        hidden_size=256, intermediate_size=704, num_hidden_layers=4, num_attention_heads=4,
                        num_key_value_heads=2, max_position_embeddings=256, tie_word_embeddings=True)
    corpus = _corpus_dir(tmp_path / "corpus", n_docs=20, chars=20000)
    out = tmp_path / "cmp"
    methods = ["base", "temperature", "top_p", "min_p", "future_entropy"]
    res = CliRunner().invoke(cli, [
        "calibrate", "compare", "--model", str(model), "--corpus", str(corpus), "--methods", ",".join(methods),
        "--prompt-tokens", "32", "--steps", "64", "--samples", "64", "--samples-per-prompt", "4",
        "--rollouts-per-prompt", "8", "--device", "cuda", "--dtype", "bfloat16", "--batch-size", "64", "--quiet",
        "--out", str(out)])
    assert res.exit_code == 0, res.output
    s = _check_summary(out, methods)
    assert s["engine"]["device"].startswith("cuda") and s["engine"]["dtype"] == "bfloat16"
