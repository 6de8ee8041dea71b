"""A persistent embedding cache: the same text is never embedded twice by the same model.

One row per (embedder id, text hash) in SQLite (WAL mode, so several processes
can read and write at once). A row keeps everything classification needs
again: the document vector, the sentence offsets and the sentence vectors
(float16: half the space, and cosine scores move by less than 1e-3), and the
language the text was segmented with, so a cached text needs neither language
detection nor sentence splitting a second time.

The key is the text alone: the same text given once with and once without a
language is the same text, and it keeps the segmentation it got first.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from iesi_nlp.embedding.base import DocumentEmbedding, Embedder, _check_languages, document_embedding
from iesi_nlp.text import Span

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    embedder_id      TEXT NOT NULL,
    text_key         TEXT NOT NULL,
    language         TEXT,
    vector           BLOB NOT NULL,
    sentence_offsets BLOB NOT NULL,
    sentence_vectors BLOB NOT NULL,
    PRIMARY KEY (embedder_id, text_key)
) WITHOUT ROWID;
"""


def text_key(text: str) -> str:
    """The cache key of a text: its SHA-256."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class EmbeddingCache:
    """Document embeddings by (embedder id, text key), in one SQLite file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._connection() as connection:
            connection.executescript(_SCHEMA)

    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self.path, timeout=60)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            self._local.connection = connection
        return connection

    def get_many(self, embedder_id: str, texts: dict[str, str], dim: int) -> dict[str, DocumentEmbedding]:
        """Cached embeddings of ``texts`` (key → text), by key; keys not cached are absent."""
        found: dict[str, DocumentEmbedding] = {}
        keys = list(texts)
        connection = self._connection()
        for start in range(0, len(keys), 500):  # SQLite caps the number of parameters
            batch = keys[start : start + 500]
            marks = ",".join("?" * len(batch))
            rows = connection.execute(
                "SELECT text_key, language, vector, sentence_offsets, sentence_vectors FROM documents "
                f"WHERE embedder_id = ? AND text_key IN ({marks})",
                [embedder_id, *batch],
            )
            for key, language, vector, offsets, sentence_vectors in rows:
                document = _decode(texts[key], language, vector, offsets, sentence_vectors, dim)
                if document is not None:
                    found[key] = document
        return found

    def put_many(self, embedder_id: str, documents: dict[str, DocumentEmbedding]) -> None:
        rows = []
        for key, document in documents.items():
            offsets = np.asarray([(s.start, s.end) for s in document.sentences], dtype=np.int32)
            rows.append(
                (
                    embedder_id,
                    key,
                    document.language,
                    np.asarray(document.vector, dtype=np.float32).tobytes(),
                    offsets.tobytes(),
                    np.asarray(document.sentence_vectors, dtype=np.float16).tobytes(),
                )
            )
        with self._connection() as connection:
            connection.executemany("INSERT OR REPLACE INTO documents VALUES (?, ?, ?, ?, ?, ?)", rows)

    def count(self, embedder_id: str | None = None) -> int:
        query = "SELECT COUNT(*) FROM documents" + (" WHERE embedder_id = ?" if embedder_id else "")
        return self._connection().execute(query, [embedder_id] if embedder_id else []).fetchone()[0]


def _decode(text: str, language, vector: bytes, offsets: bytes, sentence_vectors: bytes, dim: int):
    if len(vector) != 4 * dim:
        return None  # written by a model of another size under the same id: embed again
    bounds = np.frombuffer(offsets, dtype=np.int32).reshape(-1, 2)
    sentences = [Span(text[start:end], int(start), int(end)) for start, end in bounds.tolist()]
    matrix = np.frombuffer(sentence_vectors, dtype=np.float16).reshape(len(sentences), dim).astype(np.float32)
    if len(sentences) == 1:  # a label text, or a one-sentence case: the stored vector is exact
        return DocumentEmbedding(np.frombuffer(vector, dtype=np.float32), sentences, matrix, language)
    # Pooled again from the sentences, so the current boilerplate rule applies to cached texts too.
    return document_embedding(sentences, matrix, language)


def _as_cached(document: DocumentEmbedding) -> DocumentEmbedding:
    """``document`` as the cache will give it back: float16 sentence vectors, pooled from those."""
    rounded = document.sentence_vectors.astype(np.float16).astype(np.float32)
    if len(document.sentences) == 1:
        return replace(document, sentence_vectors=rounded)
    return document_embedding(document.sentences, rounded, document.language)


class CachedEmbedder(Embedder):
    """Wraps an embedder with a persistent cache; only unseen texts reach the model."""

    def __init__(self, embedder: Embedder, cache: EmbeddingCache) -> None:
        self.inner = embedder
        self.cache = cache
        self.hits = 0
        self.misses = 0

    @property
    def max_tokens(self) -> int:  # type: ignore[override]
        return self.inner.max_tokens

    @property
    def id(self) -> str:
        return self.inner.id

    @property
    def dim(self) -> int:
        return self.inner.dim

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def _encode_passages(self, passages: Sequence[str]) -> np.ndarray:
        return self.inner._encode_passages(passages)

    def _encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner._encode_queries(texts)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Query vectors (label descriptions), cached under their own key: they differ from document vectors."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        query_id = f"{self.id}#queries"
        keys = [text_key(t) for t in texts]
        found = self.cache.get_many(query_id, dict(zip(keys, texts, strict=True)), self.dim)
        missing = sorted({key: text for key, text in zip(keys, texts, strict=True) if key not in found}.items())
        if missing:
            vectors = self.inner.encode_queries([text for _, text in missing])
            new = {
                key: DocumentEmbedding(vector, [Span(text, 0, len(text))], vector[None, :], None)
                for (key, text), vector in zip(missing, vectors, strict=True)
            }
            self.cache.put_many(query_id, new)
            found.update(new)
        return np.stack([found[key].vector for key in keys]).astype(np.float32)

    def cached(self, texts: Sequence[str]) -> dict[int, DocumentEmbedding]:
        """The embeddings of those ``texts`` already in the cache, by position (embeds nothing)."""
        keys = [text_key(t) for t in texts]
        found = self.cache.get_many(self.id, dict(zip(keys, texts, strict=True)), self.dim) if keys else {}
        return {i: found[key] for i, key in enumerate(keys) if key in found}

    def embed_documents(
        self, texts: Sequence[str], languages: Sequence[str | None] | None = None
    ) -> list[DocumentEmbedding]:
        languages = _check_languages(texts, languages)
        known = self.cached(texts)
        missing = [i for i in range(len(texts)) if i not in known]
        if missing:
            fresh = self.embed_new([texts[i] for i in missing], [languages[i] for i in missing])
            known.update(zip(missing, fresh, strict=True))
        self.hits += len(texts) - len(missing)
        return [known[i] for i in range(len(texts))]

    def embed_new(self, texts: Sequence[str], languages: Sequence[str | None]) -> list[DocumentEmbedding]:
        """Embed texts known to be missing from the cache (see :meth:`cached`) and store them; no second lookup."""
        self.misses += len(texts)
        fresh = self.inner.embed_documents(list(texts), list(languages))
        # Round as the cache stores them and pool from the rounded vectors, so a first run
        # and a rerun score identically.
        new = [_as_cached(document) for document in fresh]
        self.cache.put_many(self.id, {text_key(text): document for text, document in zip(texts, new, strict=True)})
        return new
