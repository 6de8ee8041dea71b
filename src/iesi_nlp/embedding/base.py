"""The embedder interface: texts in, L2-normalised float32 rows out, with a stable id.

Long texts are cut into passages that fit the model (see :mod:`iesi_nlp.text`) and
their vectors are pooled, weighted by passage length, so a 2,000-word report is
represented by all of it and not by its first 512 tokens.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np

from iesi_nlp.text import chunk_passages


class Embedder(ABC):
    """Encodes texts as unit-length vectors.

    Subclasses implement :meth:`_encode_passages` (texts already short enough for
    the model) and :meth:`count_tokens`; the base class handles chunking, pooling
    and normalisation. ``id`` must change whenever the vectors would change
    (model, revision, prefix), because caches and saved classifiers key on it.
    """

    #: Longest input, in model tokens, including special tokens and any prefix.
    max_tokens: int = 512

    @property
    @abstractmethod
    def id(self) -> str:
        """A stable identifier of the model and settings that produce the vectors."""

    @property
    @abstractmethod
    def dim(self) -> int:
        """Length of each vector."""

    @abstractmethod
    def count_tokens(self, text: str) -> int:
        """Model tokens in ``text`` as the model will see it."""

    @abstractmethod
    def _encode_passages(self, passages: Sequence[str]) -> np.ndarray:
        """Vectors of texts that each fit ``max_tokens``; any float dtype, any norm."""

    def encode(self, texts: Sequence[str], languages: Sequence[str | None] | None = None) -> np.ndarray:
        """Embed texts; returns an ``(n, dim)`` float32 matrix of unit rows.

        ``languages`` (ISO 639-1 codes, optional) lets long texts be segmented
        with the right sentence rules before pooling.
        """
        languages = list(languages) if languages is not None else [None] * len(texts)
        if len(languages) != len(texts):
            raise ValueError(f"got {len(texts)} texts but {len(languages)} languages")
        pieces: list[str] = []
        weights: list[int] = []
        owners: list[int] = []
        budget = self.max_tokens - 16  # room for the prefix and special tokens
        for index, (text, language) in enumerate(zip(texts, languages, strict=True)):
            if self.count_tokens(text) <= budget:
                passages = [text]
            else:
                passages = [
                    p.text for p in chunk_passages(text, language, max_tokens=budget, count_tokens=self.count_tokens)
                ]
            for passage in passages or [text]:
                pieces.append(passage)
                weights.append(len(passage))
                owners.append(index)
        if not pieces:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = _normalise(np.asarray(self._encode_passages(pieces), dtype=np.float32))
        pooled = np.zeros((len(texts), self.dim), dtype=np.float32)
        np.add.at(pooled, np.asarray(owners), vectors * np.asarray(weights, dtype=np.float32)[:, None])
        return _normalise(pooled)


def _normalise(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)
