"""``scalescope calibrate run`` end to end: success, resume, and bad inputs (one line, exit 2, no RUN_DIR)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from scalescope.calibration.store import load_run
from scalescope.cli import cli

TEXT = ("the cat sat on the mat and the dog sat on the log . " * 80 + "\n\n") * 12  # 12 documents


@pytest.fixture
def corpus_file(tmp_path):
    f = tmp_path / "corpus.txt"
    f.write_text(TEXT, encoding="utf-8")
    return f


@pytest.fixture(scope="module")
def tiny_hf_dir(tmp_path_factory):
    from transformers import GPT2Config, GPT2LMHeadModel

    from scalescope.calibration.backends.hf import char_tokenizer

    d = tmp_path_factory.mktemp("tiny-gpt2")
    tok = char_tokenizer("abcdefghijklmnopqrstuvwxyz .")
    cfg = GPT2Config(n_layer=1, n_embd=32, n_head=2, vocab_size=len(tok), n_positions=64,
                     bos_token_id=tok.eos_token_id, eos_token_id=tok.eos_token_id)
    GPT2LMHeadModel(cfg).save_pretrained(d)
    tok.save_pretrained(d)
    return d


def _invoke(args):
    return CliRunner().invoke(cli, ["calibrate", "run", *map(str, args)])


def test_run_ngram_then_resume_noop(tmp_path, corpus_file):
    out = tmp_path / "run"
    args = ["--model", "ngram:2", "--corpus", corpus_file, "--prompt-tokens", 8, "--steps", 6, "--samples", 4,
            "--batch-size", 2, "--shard-size", 2, "--sampler", "temp=0.9", "--out", out, "--quiet"]
    r = _invoke(args)
    assert r.exit_code == 0, r.output
    manifest, df = load_run(out)
    assert manifest["status"] == "complete" and manifest["prompt_split"] == "eval"
    assert manifest["order"] == 2 and manifest["train_tokens"] > 0 and manifest["sampler"] == "temp=0.9"
    assert len(df) == 4 * 6 and manifest["n_shards"] == 2
    again = _invoke(args)
    assert again.exit_code == 2 and "already exists" in again.output
    assert _invoke([*args, "--resume"]).exit_code == 0
    changed = _invoke([*args[:-3], "--seed", 5, "--out", out, "--resume"])
    assert changed.exit_code == 2 and "configuration differs (seed: 0 -> 5)" in changed.output


def test_resume_keeps_the_runs_passage_protocol(tmp_path, corpus_file):
    import json

    from scalescope.calibration.store import RunStore

    base = ["--model", "ngram:2", "--corpus", corpus_file, "--prompt-tokens", 8, "--steps", 6, "--samples", 4,
            "--batch-size", 2, "--shard-size", 2, "--quiet"]
    # a run started with --passages openings resumes without repeating the flag; a different seed is irrelevant
    out = tmp_path / "open"
    assert _invoke([*base, "--passages", "openings", "--out", out]).exit_code == 0
    st = RunStore(out)
    man = st.read_manifest()
    assert man["config"]["passages"] == "openings" and man["config"]["passage_seed"] is None
    assert _invoke([*base, "--out", out, "--resume"]).exit_code == 0
    assert _invoke([*base, "--passage-seed", 3, "--out", out, "--resume"]).exit_code == 0
    r = _invoke([*base, "--passages", "random", "--out", out, "--resume"])
    assert r.exit_code == 2 and "passages: 'openings' -> 'random'" in r.output
    # a run written before the flag existed (no keys) resumes with its original command
    man["config"].pop("passages")
    man["config"].pop("passage_seed")
    (out / "manifest.json").write_text(json.dumps(man))
    assert _invoke([*base, "--out", out, "--resume"]).exit_code == 0
    # a new run defaults to random windows, seed 0
    assert _invoke([*base, "--out", tmp_path / "new"]).exit_code == 0
    cfg = RunStore(tmp_path / "new").read_manifest()["config"]
    assert cfg["passages"] == "random" and cfg["passage_seed"] == 0


def test_run_local_hf_model(tmp_path, corpus_file, tiny_hf_dir):
    out = tmp_path / "hf"
    r = _invoke(["--model", tiny_hf_dir, "--corpus", corpus_file, "--prompt-tokens", 16, "--steps", 8,
                 "--samples", 3, "--out", out, "--quiet", "--dtype", "float32"])
    assert r.exit_code == 0, r.output
    manifest, df = load_run(out)
    assert manifest["backend"]["backend"] == "hf" and manifest["params"] > 0 and len(df) == 24


@pytest.mark.parametrize(
    "case, message",
    [
        ("empty_corpus", "contains no text"),
        ("non_utf8", "not valid UTF-8"),
        ("too_short", "no document has"),
        ("context", "exceeds its context length 64"),
        ("unknown_model", "no such file or directory"),
        ("unknown_hub_id", "not found locally"),
        ("sampler_typo", "unknown kind 'top_q' (did you mean top_p?)"),
        ("bad_steps", "--steps 0: must be an integer >= 1"),
        ("bad_ngram", "n-gram order 'x'"),
    ],
)
def test_bad_inputs_one_line_exit_2_no_run_dir(tmp_path, corpus_file, tiny_hf_dir, case, message, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    out = tmp_path / "out"
    corpus, model = corpus_file, "ngram:2"
    extra = []
    steps = 6
    if case == "empty_corpus":
        corpus = tmp_path / "empty.txt"
        corpus.write_text("")
    elif case == "non_utf8":
        corpus = tmp_path / "latin1.txt"
        corpus.write_bytes("caf\xe9 ".encode("latin-1") * 50)
    elif case == "too_short":
        steps = 5000
    elif case == "context":
        model, steps = tiny_hf_dir, 60
    elif case == "unknown_model":
        model = "./no/such/model"
    elif case == "unknown_hub_id":
        model = "no-such-org/no-such-model-xyz"
    elif case == "sampler_typo":
        extra = ["--sampler", "top_q=0.9"]
    elif case == "bad_steps":
        steps = 0
    elif case == "bad_ngram":
        model = "ngram:x"
    r = _invoke(["--model", model, "--corpus", corpus, "--prompt-tokens", 8, "--steps", steps, "--samples", 2,
                 "--out", out, "--quiet", *extra])
    assert r.exit_code == 2, r.output
    lines = [x for x in r.output.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], r.output
    assert not out.exists()


def test_help_has_example():
    r = CliRunner().invoke(cli, ["calibrate", "run", "--help"])
    assert r.exit_code == 0 and "Example:" in r.output


def test_engine_fast_matches_simple(tmp_path, corpus_file):
    pytest.importorskip("scalescope.calibration.fast.engine")
    from transformers import LlamaConfig, LlamaForCausalLM

    from scalescope.calibration.backends.hf import char_tokenizer

    d = tmp_path / "llama"
    tok = char_tokenizer("abcdefghijklmnopqrstuvwxyz .")
    LlamaForCausalLM(LlamaConfig(num_hidden_layers=1, hidden_size=32, intermediate_size=64, num_attention_heads=2,
                                 num_key_value_heads=1, vocab_size=len(tok), max_position_embeddings=128)
                     ).save_pretrained(d)
    tok.save_pretrained(d)
    frames = {}
    for engine in ("simple", "fast"):
        r = _invoke(["--model", d, "--corpus", corpus_file, "--prompt-tokens", 16, "--steps", 8, "--samples", 4,
                     "--engine", engine, "--out", tmp_path / engine, "--quiet", "--dtype", "float32"])
        assert r.exit_code == 0, r.output
        frames[engine] = load_run(tmp_path / engine)[1]
    a, b = frames["simple"], frames["fast"]
    assert (a.token_id == b.token_id).all()
    assert (a.entropy_full - b.entropy_full).abs().max() < 1e-4
    assert (a.human_logprob - b.human_logprob).abs().max() < 1e-4
