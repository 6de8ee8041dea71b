"""A persistent embedding cache: the same text is never embedded twice by the same model.

Vectors live in SQLite (WAL mode, safe for several processes) keyed by the
embedder id and a hash of the text and its language.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from iesi_nlp.embedding.base import Embedder

_SCHEMA = """
CREATE TABLE IF NOT EXISTS embeddings (
    embedder_id TEXT NOT NULL,
    text_key    TEXT NOT NULL,
    vector      BLOB NOT NULL,
    PRIMARY KEY (embedder_id, text_key)
) WITHOUT ROWID;
"""


def text_key(text: str, language: str | None) -> str:
    return hashlib.sha256(f"{language or ''}\x1f{text}".encode()).hexdigest()


class EmbeddingCache:
    """Vectors by (embedder id, text key), stored in one SQLite file."""

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

    def get_many(self, embedder_id: str, keys: Sequence[str], dim: int) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        connection = self._connection()
        for start in range(0, len(keys), 500):  # SQLite caps the number of parameters
            batch = list(keys[start : start + 500])
            marks = ",".join("?" * len(batch))
            rows = connection.execute(
                f"SELECT text_key, vector FROM embeddings WHERE embedder_id = ? AND text_key IN ({marks})",
                [embedder_id, *batch],
            )
            for key, blob in rows:
                vector = np.frombuffer(blob, dtype=np.float32)
                if vector.shape[0] == dim:
                    found[key] = vector
        return found

    def put_many(self, embedder_id: str, items: dict[str, np.ndarray]) -> None:
        with self._connection() as connection:
            connection.executemany(
                "INSERT OR REPLACE INTO embeddings (embedder_id, text_key, vector) VALUES (?, ?, ?)",
                [(embedder_id, key, np.asarray(v, dtype=np.float32).tobytes()) for key, v in items.items()],
            )

    def count(self, embedder_id: str | None = None) -> int:
        query = "SELECT COUNT(*) FROM embeddings" + (" WHERE embedder_id = ?" if embedder_id else "")
        return self._connection().execute(query, [embedder_id] if embedder_id else []).fetchone()[0]


class CachedEmbedder(Embedder):
    """Wraps an embedder with a persistent cache; only unseen texts reach the model."""

    def __init__(self, embedder: Embedder, cache: EmbeddingCache) -> None:
        self.inner = embedder
        self.cache = cache
        self.max_tokens = embedder.max_tokens
        self.hits = 0
        self.misses = 0

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

    def encode(self, texts: Sequence[str], languages: Sequence[str | None] | None = None) -> np.ndarray:
        languages = list(languages) if languages is not None else [None] * len(texts)
        keys = [text_key(t, lang) for t, lang in zip(texts, languages, strict=True)]
        found = self.cache.get_many(self.id, keys, self.dim) if keys else {}
        missing = [i for i, key in enumerate(keys) if key not in found]
        self.hits += len(keys) - len(missing)
        self.misses += len(missing)
        if missing:
            fresh = self.inner.encode([texts[i] for i in missing], [languages[i] for i in missing])
            new = {keys[i]: fresh[row] for row, i in enumerate(missing)}
            self.cache.put_many(self.id, new)
            found.update(new)
        if not keys:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([found[key] for key in keys]).astype(np.float32, copy=False)
