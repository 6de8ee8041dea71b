"""A trained coding model: one head per dimension, and the suggestions they make for cases.

:class:`CodingModel` holds the codebook, the embedder it was trained with, the codebook
heads (the prior) and one :class:`~iesi_nlp.coding.heads.BlendedHead` per dimension.
:meth:`CodingModel.suggest` turns embedded cases into typed
:class:`~iesi_nlp.coding.suggestion.Suggestion` objects: labels, the score of every label,
the source, and the sentences that support each suggested label (:mod:`iesi_nlp.coding.evidence`).
A document longer than a case is also scored chunk by chunk (:mod:`iesi_nlp.coding.chunks`).
Saving and loading: :mod:`iesi_nlp.coding.artifacts`; its card: :mod:`iesi_nlp.coding.card`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from iesi_nlp.codebook import Codebook
from iesi_nlp.coding.card import ModelCard
from iesi_nlp.coding.chunks import Chunk, ChunkedBatch, chunk_batch, combine, rule_for
from iesi_nlp.coding.evidence import evidence_candidates, label_specific_scores, select_evidence
from iesi_nlp.coding.heads import BlendedHead, CodebookPrior, HeadInputs, decide
from iesi_nlp.coding.suggestion import DimensionSuggestion, Evidence, Suggestion
from iesi_nlp.embedding.base import DocumentEmbedding


@dataclass
class CodingModel:
    """Everything needed to code new cases; saved and loaded by :mod:`iesi_nlp.coding.artifacts`."""

    codebook: Codebook
    embedder_id: str
    embedder_spec: str
    prior: CodebookPrior
    dimensions: dict[str, BlendedHead]
    tfidf: Any = None
    id: str = "unsaved"
    #: The model card, once saved or loaded (None for a model just trained in memory).
    card: ModelCard | None = None

    def __post_init__(self) -> None:
        # Each blended head reads its dimension's codebook head (the prior the model was trained with).
        for dimension_id, head in self.dimensions.items():
            head.codebook = self.prior.dimensions[dimension_id]

    def dimension_proba(self, dimension_id: str, vectors: np.ndarray, texts: Sequence[str], cache: dict) -> np.ndarray:
        """Probabilities of every label of one dimension, codebook order (``cache`` shares features across calls)."""
        inputs = HeadInputs(vectors, texts, self.tfidf, cache)
        return self.dimensions[dimension_id].scores(inputs)

    def suggest(
        self,
        documents: Sequence[DocumentEmbedding],
        texts: Sequence[str],
        case_ids: Sequence[str],
        *,
        evidence: bool = True,
        version: str | None = None,
    ) -> list[Suggestion]:
        """One :class:`Suggestion` per document: every dimension's labels, scores, source and evidence.

        A document longer than one chunk (:mod:`iesi_nlp.coding.chunks`) is also scored chunk by chunk,
        its probabilities combined by the dimension kind's rule, and each label's evidence taken from
        the chunk that scored the label highest. Shorter documents are scored from their vector alone,
        by the same head call as ever, so their suggestions do not change.
        """
        if not documents:
            return []
        vectors = np.stack([d.vector for d in documents])
        inputs = HeadInputs(vectors, texts, self.tfidf)
        batch = chunk_batch(documents)
        # One head call per dimension for every chunk of the batch.
        chunk_inputs = HeadInputs(batch.vectors, batch.texts(texts), self.tfidf) if batch else None
        chunked_at = {row: i for i, row in enumerate(batch.rows)} if batch else {}
        candidates = [evidence_candidates(d.sentences, d.boilerplate) for d in documents] if evidence else []
        parts: list[dict[str, DimensionSuggestion]] = [{} for _ in documents]
        for dimension_id, head in self.dimensions.items():
            probabilities = head.scores(inputs)
            rule = rule_for(head.multi_label)
            chunk_probabilities = None
            if batch and (evidence or rule != "document"):
                chunk_probabilities = head.scores(chunk_inputs)
                if rule != "document":
                    probabilities = probabilities.copy()
                    probabilities[batch.rows] = combine(
                        rule, probabilities[batch.rows], chunk_probabilities, batch.sizes, head.multi_label
                    )
            chosen = decide(probabilities, head.multi_label, head.thresholds())
            rounded = np.round(probabilities, 4).tolist()
            directions = head.sentence_directions(vectors.shape[1]) if evidence else None
            for row, document in enumerate(documents):
                suggested = np.flatnonzero(chosen[row])
                spans: dict[str, tuple[Evidence, ...]] = {}
                if evidence:
                    specific = label_specific_scores(document.sentence_vectors @ directions.T, suggested)
                    where = chunked_at.get(row)
                    for column, j in enumerate(suggested):
                        allowed = candidates[row]
                        if where is not None:
                            chunk = _best_chunk(batch, where, chunk_probabilities, j)
                            allowed = _chunk_candidates(document, chunk)
                        spans[head.label_ids[j]] = select_evidence(
                            document.sentences, specific[:, column], candidates=allowed
                        )
                parts[row][dimension_id] = DimensionSuggestion(
                    labels=tuple(head.label_ids[j] for j in suggested),
                    scores=dict(zip(head.label_ids, rounded[row], strict=True)),
                    source=head.source,
                    evidence=spans,
                )
        return [
            Suggestion(case_id, self.id, dimensions, version)
            for case_id, dimensions in zip(case_ids, parts, strict=True)
        ]


def _best_chunk(batch: ChunkedBatch, position: int, chunk_probabilities: np.ndarray, label: int) -> Chunk:
    """The chunk of the ``position``-th chunked document that scored ``label`` highest."""
    start = batch.offsets[position]
    return batch.chunks[position][int(np.argmax(chunk_probabilities[start : batch.offsets[position + 1], label]))]


def _chunk_candidates(document: DocumentEmbedding, chunk: Chunk) -> list[int]:
    """The evidence candidates inside ``chunk`` (the rules of :func:`evidence_candidates`, applied to the chunk)."""
    flags = document.boilerplate[chunk.first : chunk.stop] if document.boilerplate is not None else None
    inside = evidence_candidates(document.sentences[chunk.first : chunk.stop], flags)
    return [chunk.first + i for i in inside]
