"""Chunks of a long document: runs of consecutive sentences, each pooled and scored like a case.

Models learn from case descriptions of some 30-400 words. A 3,000-word project report that
covers several activities, pooled into one vector, dilutes a label that only one section is
about. Its chunks are therefore scored one by one by the same heads, and the document's
probability of each label is combined from theirs (:func:`combine`, rule per dimension kind in
:data:`CHUNK_RULES`); evidence of a label comes from the chunk that scored it highest.

A chunk is consecutive sentences of a :class:`~iesi_nlp.embedding.base.DocumentEmbedding`,
about :data:`CHUNK_WORDS` words of content (boilerplate counts for nothing, as it weighs nothing
in the vector), its vector pooled exactly as a document's (:func:`~iesi_nlp.embedding.base.pool`).
A document with no more content than that is one chunk, and is scored exactly as before.
The value and the rules were chosen with ``benchmarks/long_reports.py`` (see its docstring).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from iesi_nlp.boilerplate import is_boilerplate
from iesi_nlp.embedding.base import DocumentEmbedding, pool
from iesi_nlp.text import Span

#: Content words per chunk at most (give or take a sentence); a document with no more is one chunk.
#: 400, from ``benchmarks/long_reports.py``: on cases as long as the bundled corpus's (about 370 words)
#: it changes next to nothing (micro-F1 within 0.006 on every dimension; 200-word chunks cut such cases
#: in two or three and cost the abstract multi-label dimensions 0.01-0.03), while reports of four such
#: cases gain almost as much as with 200 (e.g. service_domain 0.33 -> 0.74, against 0.81 at 200;
#: actors 0.77 -> 0.91). On reports built of the shared collections' short cases (60-100 words) it keeps
#: about half of the gain of 200-word chunks. Case descriptions are the main input, so they come first.
CHUNK_WORDS = 400

#: How a chunked document's label probabilities are made, by kind of dimension (see :func:`combine`).
#: ``max`` beat the other rules on synthetic long reports of every collection and draw of
#: ``benchmarks/long_reports.py`` (service_domain, mean of micro- and macro-F1: 0.62 against 0.45 for
#: the pooled vector). Single-label dimensions describe the whole initiative and keep the pooled
#: vector: chunks did not help them on the bundled corpus's cases, and little on padded ones.
CHUNK_RULES = {"multi_label": "max", "single_label": "document"}

#: The rules :func:`combine` knows. ``document``: today's mean-pooled vector, chunks ignored;
#: ``max``: each label's best chunk; ``top2``: the mean of each label's two best chunks;
#: ``chunk_mean``: the mean over chunks; ``document_or_max``: the higher of ``document`` and ``max``.
RULES = ("document", "max", "top2", "chunk_mean", "document_or_max")


@dataclass(frozen=True)
class Chunk:
    """Sentences ``first`` to ``stop - 1`` of a document: their character span and pooled vector."""

    first: int
    stop: int
    start: int
    end: int
    vector: np.ndarray


def chunk_bounds(
    sentences: Sequence[Span], boilerplate: Sequence[bool] | None = None, words: int = CHUNK_WORDS
) -> list[tuple[int, int]]:
    """``(first, stop)`` sentence ranges of the chunks, in order, together covering every sentence.

    A text of ``W`` content words becomes ``ceil(W / words)`` chunks of about equal size (rather
    than full chunks and a stub at the end, which would be scored on a few words): each cut is the
    sentence boundary nearest to its share of the words. Each chunk has some content, and at most
    ``words`` content words plus about one sentence.
    """
    n = len(sentences)
    if n <= 1:
        return [(0, n)]
    counts = np.fromiter((len(s.text.split()) for s in sentences), dtype=np.int64, count=n)
    if counts.sum() <= words:  # most cases: no need to look for boilerplate
        return [(0, n)]
    if boilerplate is None:
        boilerplate = [is_boilerplate(s.text) for s in sentences]
    counts[np.asarray(boilerplate, dtype=bool)] = 0  # boilerplate weighs nothing in a vector, so fills no chunk
    total = int(counts.sum())
    pieces = math.ceil(total / words)
    if pieces <= 1:
        return [(0, n)]
    before = np.concatenate([[0], np.cumsum(counts)])  # content words before each boundary 0..n
    cuts = [0]
    for piece in range(1, pieces):
        allowed = np.flatnonzero((before > before[cuts[-1]]) & (before < total))
        if not len(allowed):
            break
        cuts.append(int(allowed[np.argmin(np.abs(before[allowed] - total * piece / pieces))]))
    return list(zip(cuts, [*cuts[1:], n], strict=True))


def document_chunks(document: DocumentEmbedding, words: int = CHUNK_WORDS) -> list[Chunk]:
    """The chunks of ``document``; one chunk (with the document's own vector) when it is short."""
    sentences = document.sentences
    bounds = chunk_bounds(sentences, document.boilerplate, words)
    if len(bounds) == 1:
        start, end = (sentences[0].start, sentences[-1].end) if sentences else (0, 0)
        return [Chunk(0, len(sentences), start, end, document.vector)]
    boilerplate = document.boilerplate or tuple(is_boilerplate(s.text) for s in sentences)
    return [
        Chunk(
            first,
            stop,
            sentences[first].start,
            sentences[stop - 1].end,
            pool(document.sentence_vectors[first:stop], sentences[first:stop], boilerplate[first:stop]),
        )
        for first, stop in bounds
    ]


@dataclass(frozen=True)
class ChunkedBatch:
    """The chunks of the documents of a batch that have more than one, ready for one head call.

    ``rows[i]`` is the batch position of the ``i``-th chunked document; its chunks are
    ``chunks[i]``, and their rows in ``vectors`` are ``offsets[i]:offsets[i + 1]``.
    """

    rows: list[int]
    chunks: list[list[Chunk]]
    vectors: np.ndarray
    offsets: np.ndarray

    @property
    def sizes(self) -> np.ndarray:
        return np.diff(self.offsets)

    def texts(self, texts: Sequence[str]) -> list[str]:
        """Each chunk's text, cut from its document's text (``texts`` in batch order)."""
        return [texts[row][c.start : c.end] for row, chunks in zip(self.rows, self.chunks, strict=True) for c in chunks]


def chunk_batch(documents: Sequence[DocumentEmbedding], words: int = CHUNK_WORDS) -> ChunkedBatch | None:
    """The chunks of every document of ``documents`` longer than one chunk; None when none is."""
    rows, chunks = [], []
    for row, document in enumerate(documents):
        parts = document_chunks(document, words)
        if len(parts) > 1:
            rows.append(row)
            chunks.append(parts)
    if not rows:
        return None
    vectors = np.stack([c.vector for parts in chunks for c in parts])
    offsets = np.concatenate([[0], np.cumsum([len(parts) for parts in chunks])])
    return ChunkedBatch(rows, chunks, vectors, offsets)


def combine(rule: str, document: np.ndarray, chunks: np.ndarray, sizes: Sequence[int], multi_label: bool) -> np.ndarray:
    """Label probabilities of chunked documents by ``rule`` (one of :data:`RULES`).

    ``document``: ``(n, k)`` probabilities of their mean-pooled vectors; ``chunks``: ``(sum(sizes), k)``
    of their chunks, document after document. Single-label rows are renormalised to sum to 1.
    """
    if rule == "document":
        return document
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int)
    if rule in ("max", "document_or_max"):
        combined = np.maximum.reduceat(chunks, starts, axis=0)
        if rule == "document_or_max":
            combined = np.maximum(combined, document)
    elif rule == "chunk_mean":
        combined = np.add.reduceat(chunks, starts, axis=0) / np.asarray(sizes)[:, None]
    elif rule == "top2":
        combined = np.stack(
            [
                np.sort(chunks[start : start + size], axis=0)[-2:].mean(axis=0)
                for start, size in zip(starts, sizes, strict=True)
            ]
        )
    else:
        raise ValueError(f"unknown chunk rule {rule!r}; choose from {', '.join(RULES)}")
    if not multi_label:
        combined = combined / combined.sum(axis=1, keepdims=True)
    return combined


def rule_for(multi_label: bool) -> str:
    """The rule that :meth:`~iesi_nlp.coding.model.CodingModel.suggest` uses for a dimension of this kind."""
    return CHUNK_RULES["multi_label" if multi_label else "single_label"]
