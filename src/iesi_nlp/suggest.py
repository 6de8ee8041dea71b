"""The Suggester: cases in, typed suggestions out. Used by bulk classification and the review screen alike.

It embeds each case (from the embedding cache where possible, detecting the language
only of texts it has to embed), asks the model's heads for every dimension, keeps the
decisions to the codebook's rules (:mod:`iesi_nlp.coding.consistency`), and returns one
:class:`~iesi_nlp.coding.suggestion.Suggestion` per case, stamped with the model id and
registry version. It checks once, when built, that the embedder is the model's.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from iesi_nlp.coding.consistency import enforce_rules
from iesi_nlp.coding.model import CodingModel
from iesi_nlp.coding.suggestion import Suggestion
from iesi_nlp.embedding.base import DocumentEmbedding, Embedder
from iesi_nlp.embedding.cache import CachedEmbedder
from iesi_nlp.errors import ModelError
from iesi_nlp.ingest.language import detect_language
from iesi_nlp.records import Case


@dataclass
class EmbeddingStats:
    """How many cases a :class:`Suggester` embedded and how many came from the cache, and the time embedding took."""

    embedded: int = 0
    cached: int = 0
    seconds: float = 0.0


class Suggester:
    """Suggestions of one model (with its embedder) for any cases."""

    def __init__(
        self, model: CodingModel, embedder: Embedder, *, version: str | None = None, evidence: bool = True
    ) -> None:
        if embedder.id != model.embedder_id:
            raise ModelError(
                f"the model was trained on vectors of embedder '{model.embedder_id}', not '{embedder.id}' "
                "(its vectors would mean something else to the model). Use that embedder or retrain."
            )
        self.model, self.embedder, self.version, self.evidence = model, embedder, version, evidence
        self.stats = EmbeddingStats()

    def embed(self, cases: Sequence[Case]) -> list[DocumentEmbedding]:
        """The cases' embeddings: cached ones looked up once, the others embedded (and cached)."""
        texts = [case.text for case in cases]
        cached = isinstance(self.embedder, CachedEmbedder)
        known = self.embedder.cached(texts) if cached else {}
        missing = [i for i in range(len(cases)) if i not in known]
        self.stats.cached += len(known)
        if missing:
            languages = [cases[i].language or _detected(texts[i]) for i in missing]
            started = time.perf_counter()
            if cached:
                fresh = self.embedder.embed_new([texts[i] for i in missing], languages)
            else:
                fresh = self.embedder.embed_documents([texts[i] for i in missing], languages)
            self.stats.seconds += time.perf_counter() - started
            self.stats.embedded += len(missing)
            known.update(zip(missing, fresh, strict=True))
        return [known[i] for i in range(len(cases))]

    def suggest(self, cases: Sequence[Case]) -> list[Suggestion]:
        return self.suggest_embedded(cases, self.embed(cases))

    def suggest_embedded(self, cases: Sequence[Case], documents: Sequence[DocumentEmbedding]) -> list[Suggestion]:
        """Suggestions for cases already embedded (``documents``, same order), consistent with the codebook's rules."""
        suggestions = self.model.suggest(
            documents,
            [case.text for case in cases],
            [case.id for case in cases],
            evidence=self.evidence,
            version=self.version,
        )
        return [enforce_rules(suggestion, self.model.codebook) for suggestion in suggestions]


def _detected(text: str) -> str | None:
    detected = detect_language(text)
    return detected.code if detected else None
