"""Sentence embeddings kept in the database by text (llmcore.models.TextEmbedding): `embed_cached` looks
every text up by its sha256, embeds only those it has not seen, in batches, and stores them.

They are embedded in bfloat16 where the CPU multiplies it natively (Embedder.embed's `fast`): about twice
as fast, within 1e-4 cosine of float32, which nearest-neighbour search and the triage classifier do not
notice. Scorers use Embedder.embed without it, so experiment scores stay float32."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

import numpy as np

from .embeddings import DEFAULT_BATCH_SIZE, get_embedder

CHUNK = 512  # texts embedded and stored per step (progress is reported after each)


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def embed_cached(
    texts: Sequence[str], on_progress: Callable[[int, int], None] | None = None
) -> tuple[np.ndarray, int]:
    """Unit-length embeddings in input order and how many texts had to be embedded (not cached)."""
    from llmcore.models import TextEmbedding

    embedder = get_embedder()
    model = embedder.model_dir.parent.name[:100]
    hashes = [text_hash(t or "") for t in texts]
    wanted = list(dict.fromkeys(hashes))
    found: dict[str, np.ndarray] = {}
    for start in range(0, len(wanted), 5000):
        rows = TextEmbedding.objects.filter(model=model, text_hash__in=wanted[start : start + 5000])
        for digest, vector in rows.values_list("text_hash", "vector"):
            found[digest] = np.frombuffer(bytes(vector), dtype="<f4")
    missing = [h for h in wanted if h not in found]
    text_of = dict(zip(hashes, texts, strict=True))
    for start in range(0, len(missing), CHUNK):
        chunk = missing[start : start + CHUNK]
        vectors = embedder.embed([text_of[h] or "" for h in chunk], batch_size=DEFAULT_BATCH_SIZE, fast=True)
        TextEmbedding.objects.bulk_create(
            [
                TextEmbedding(model=model, text_hash=h, vector=v.astype("<f4").tobytes())
                for h, v in zip(chunk, vectors, strict=True)
            ],
            ignore_conflicts=True,
        )
        found.update(zip(chunk, vectors, strict=True))
        if on_progress:
            on_progress(min(start + CHUNK, len(missing)), len(missing))
    dimension = embedder.dimension
    out = np.zeros((len(texts), dimension), dtype=np.float32)
    for i, digest in enumerate(hashes):
        out[i] = found[digest]
    return out, len(missing)
