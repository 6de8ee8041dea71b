"""A trained coding model: one head per dimension, and the suggestions they make for cases.

:class:`CodingModel` holds the codebook, the embedder it was trained with, the codebook
heads (the prior) and one :class:`~iesi_nlp.coding.heads.BlendedHead` per dimension.
:meth:`CodingModel.suggest` turns embedded cases into typed
:class:`~iesi_nlp.coding.suggestion.Suggestion` objects: labels, the score of every label,
the source, and the sentences that support each suggested label (:mod:`iesi_nlp.coding.evidence`).
Saving and loading: :mod:`iesi_nlp.coding.artifacts`; its card: :mod:`iesi_nlp.coding.card`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from iesi_nlp.codebook import Codebook
from iesi_nlp.coding.card import ModelCard
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
        """One :class:`Suggestion` per document: every dimension's labels, scores, source and evidence."""
        if not documents:
            return []
        vectors = np.stack([d.vector for d in documents])
        inputs = HeadInputs(vectors, texts, self.tfidf)
        candidates = [evidence_candidates(d.sentences, d.boilerplate) for d in documents] if evidence else []
        parts: list[dict[str, DimensionSuggestion]] = [{} for _ in documents]
        for dimension_id, head in self.dimensions.items():
            probabilities = head.scores(inputs)
            chosen = decide(probabilities, head.multi_label, head.thresholds())
            rounded = np.round(probabilities, 4).tolist()
            directions = head.sentence_directions(vectors.shape[1]) if evidence else None
            for row, document in enumerate(documents):
                suggested = np.flatnonzero(chosen[row])
                spans: dict[str, tuple[Evidence, ...]] = {}
                if evidence:
                    specific = label_specific_scores(document.sentence_vectors @ directions.T, suggested)
                    spans = {
                        head.label_ids[j]: select_evidence(
                            document.sentences, specific[:, column], candidates=candidates[row]
                        )
                        for column, j in enumerate(suggested)
                    }
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
