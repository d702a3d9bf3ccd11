"""The `gguf` backend: a GGUF file loaded through transformers, converted once to safetensors.

Loading a GGUF file dequantises every tensor (~16 s for SmolLM2-135M); the converted folder loads in
~0.2 s. Conversions live in MODEL_CACHE_DIR under a key made of the file's size and a hash of its first
and last megabyte (cheap, and stable when the same file is reinstalled elsewhere). Two workers
converting at once are safe: a file lock lets one convert while the other waits, and the folder is
written under a temporary name and renamed into place, so a half-written folder is never visible.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from filelock import FileLock

from . import conf
from .defaults import resolve_source
from .types import ModelSpec, ModelUnavailable

MARKER = "assay-conversion.json"
_SAMPLE = 1024 * 1024


def gguf_path(spec: ModelSpec) -> Path:
    path = resolve_source(spec.source)
    if not path.is_file():
        raise ModelUnavailable(f"GGUF file not found: {path} does not exist on this worker")
    if path.suffix.lower() != ".gguf":
        raise ModelUnavailable(f"{path} is not a .gguf file")
    return path


def conversion_key(path: Path) -> str:
    size = path.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with path.open("rb") as handle:
        digest.update(handle.read(_SAMPLE))
        handle.seek(max(0, size - _SAMPLE))
        digest.update(handle.read(_SAMPLE))
    return digest.hexdigest()[:16]


def converted_folder(path: Path, cache_dir: Path | None = None) -> Path:
    """The safetensors folder for this GGUF file, converting it first if no worker has yet."""
    cache_dir = Path(cache_dir or conf.model_cache_dir())
    target = cache_dir / f"{path.stem}-{conversion_key(path)}"
    if (target / MARKER).is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if (target / MARKER).is_file():  # another worker finished while we waited
            return target
        scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=cache_dir))
        try:
            convert(path, scratch)
            (scratch / MARKER).write_text(
                json.dumps({"source": str(path), "size": path.stat().st_size, "key": target.name}, indent=2)
            )
            if target.exists():  # a folder without its marker was not written by this code: replace it
                shutil.rmtree(target)
            try:
                os.rename(scratch, target)
            except OSError:
                if not (target / MARKER).is_file():  # not "someone else finished first"
                    raise
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return target


def convert(path: Path, folder: Path) -> None:
    """Dequantises the GGUF file into float32 safetensors plus its tokenizer (with the chat template)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
        model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelUnavailable(f"cannot read the GGUF file {path}: {exc}") from exc
    # The weights are now plain float32 tensors, but the model still carries the GGUF quantizer and
    # save_pretrained refuses "quantized" models: clear the markers.
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model, "quantization_method"):
        model.quantization_method = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
