"""Chunks of long documents (issue 12): boundaries, pooling, the unchanged short path, labels and evidence."""

from __future__ import annotations

import math
from itertools import pairwise

import numpy as np
import pytest

from iesi_nlp.coding import model as model_module
from iesi_nlp.coding.chunks import CHUNK_WORDS, chunk_batch, chunk_bounds, combine, document_chunks
from iesi_nlp.embedding.base import DocumentEmbedding, document_embedding, pool
from iesi_nlp.records import Case
from iesi_nlp.text import Span
from iesi_nlp.workflow import open_suggester


def spans_of(texts: list[str]) -> tuple[str, list[Span]]:
    """A text made of ``texts``, one per line, and their spans."""
    spans, offset = [], 0
    for text in texts:
        spans.append(Span(text, offset, offset + len(text)))
        offset += len(text) + 1
    return "\n".join(texts), spans


def sentence(words: int, word: str = "care") -> str:
    return " ".join([word] * (words - 1) + ["end."])


def made_document(texts: list[str], seed: int = 0) -> tuple[str, DocumentEmbedding]:
    text, spans = spans_of(texts)
    vectors = np.random.default_rng(seed).normal(size=(len(spans), 8)).astype(np.float32)
    return text, document_embedding(spans, vectors / np.linalg.norm(vectors, axis=1, keepdims=True), "en")


# -- boundaries and vectors ---------------------------------------------------------------------


def test_chunk_bounds_follow_sentences_and_respect_chunk_words():
    rng = np.random.default_rng(1)
    lengths = rng.integers(5, 40, size=120).tolist()
    _, spans = spans_of([sentence(n) for n in lengths])
    bounds = chunk_bounds(spans)
    # In order, whole sentences, every sentence once.
    assert bounds[0][0] == 0 and bounds[-1][1] == len(spans)
    assert all(stop == next_first for (_, stop), (next_first, _) in pairwise(bounds))
    assert all(first < stop for first, stop in bounds)
    assert len(bounds) == math.ceil(sum(lengths) / CHUNK_WORDS)
    for first, stop in bounds:
        words = sum(lengths[first:stop])
        assert words <= CHUNK_WORDS + max(lengths), (first, stop, words)
        assert words >= CHUNK_WORDS / 2 - max(lengths)  # balanced: no stub at the end


def test_a_short_document_is_one_chunk_with_its_own_vector():
    _, document = made_document([sentence(30)] * 5)
    chunks = document_chunks(document)
    assert len(chunks) == 1 and (chunks[0].first, chunks[0].stop) == (0, 5)
    assert chunks[0].vector is document.vector
    assert chunk_batch([document, document]) is None


def test_chunk_vectors_are_pooled_like_documents_without_boilerplate():
    menu = "Home | About us | Projects | News | Contact"
    texts = [sentence(40, "health")] * 4 + [menu] + [sentence(40, "school")] * 4 + [menu] * 30
    text, document = made_document(texts)
    assert document.boilerplate[4] and not document.boilerplate[0]
    chunks = document_chunks(document, words=200)
    # Boilerplate fills no chunk: 320 content words make two 200-word chunks, the menus' words do not count.
    assert [(c.first, c.stop) for c in chunks] == [(0, 4), (4, len(texts))]
    for c in chunks:
        expected = pool(
            document.sentence_vectors[c.first : c.stop],
            document.sentences[c.first : c.stop],
            document.boilerplate[c.first : c.stop],
        )
        np.testing.assert_array_equal(c.vector, expected)
        assert text[c.start : c.end].startswith(texts[c.first])
    # The menus' vectors do not reach the chunk vectors at all.
    scrambled = document.sentence_vectors.copy()
    scrambled[[i for i, flagged in enumerate(document.boilerplate) if flagged]] = 100.0
    other = DocumentEmbedding(document.vector, document.sentences, scrambled, "en", document.boilerplate)
    for a, b in zip(chunks, document_chunks(other, words=200), strict=True):
        np.testing.assert_array_equal(a.vector, b.vector)


def test_combine_rules():
    document = np.array([[0.5, 0.1, 0.1]])
    chunks = np.array([[0.2, 0.9, 0.1], [0.4, 0.3, 0.2], [0.1, 0.5, 0.0]])
    np.testing.assert_allclose(combine("max", document, chunks, [3], True), [[0.4, 0.9, 0.2]])
    np.testing.assert_allclose(combine("top2", document, chunks, [3], True), [[0.3, 0.7, 0.15]])
    np.testing.assert_allclose(combine("chunk_mean", document, chunks, [3], True), [chunks.mean(axis=0)])
    np.testing.assert_allclose(combine("document_or_max", document, chunks, [3], True), [[0.5, 0.9, 0.2]])
    assert combine("document", document, chunks, [3], True) is document
    two = combine("max", np.vstack([document, document]), chunks, [1, 2], False)
    np.testing.assert_allclose(two.sum(axis=1), [1.0, 1.0])  # single-label rows stay distributions
    with pytest.raises(ValueError, match="unknown chunk rule"):
        combine("vote", document, chunks, [3], True)


# -- the model ----------------------------------------------------------------------------------

TOWNS = ["Tampere", "Graz", "Lyon", "Porto", "Gdansk", "Ghent", "Malmo", "Turin", "Cork", "Brno", "Riga", "Bled"]
HEALTH = [
    "patients book doctor appointments and see their test results in a hospital app.",
    "a telemedicine service lets nurses monitor chronic patients' blood pressure at home.",
    "mental health patients chat with a psychologist through a secure video clinic.",
]
EDUCATION = [
    "pupils at the secondary school follow maths lessons on an online learning platform.",
    "teachers share lesson plans and homework with pupils through a school portal.",
    "adults without a diploma take evening courses in a digital classroom to finish school.",
]


def section(sentences: list[str], words: int) -> str:
    """Sentences about one domain, varied by town, until ``words`` words."""
    out, count, i = [], 0, 0
    while count < words:
        line = f"In {TOWNS[i % len(TOWNS)]}, {sentences[i % len(sentences)]}"
        out.append(line)
        count += len(line.split())
        i += 1
    return " ".join(out)


@pytest.fixture(scope="module")
def suggester(trained):
    _, _, directory = trained
    return open_suggester(directory)


@pytest.fixture(scope="module")
def report(suggester):
    """A long report: three chunks' worth about health, then one about education."""
    health = section(HEALTH, 3 * CHUNK_WORDS - 20)
    text = health + "\n\n" + section(EDUCATION, CHUNK_WORDS - 20)
    case = Case(id="report", text=text, language="en")
    return case, suggester.embed([case])[0], len(health)


def without_chunks(monkeypatch):
    monkeypatch.setattr(model_module, "chunk_batch", lambda documents: None)


def test_short_documents_are_scored_exactly_as_without_chunks(suggester, report, monkeypatch):
    long_case, long_document, _ = report
    cases = [
        Case(id="a", text="A charity runs a video clinic where patients with diabetes talk to a nurse.", language="en"),
        Case(id="b", text=section(EDUCATION, CHUNK_WORDS - 40), language="en"),
        long_case,
    ]
    documents = [*suggester.embed(cases[:2]), long_document]
    assert [len(document_chunks(d)) for d in documents] == [1, 1, 4]
    with_chunks = suggester.suggest_embedded(cases, documents)
    without_chunks(monkeypatch)
    plain = suggester.suggest_embedded(cases, documents)
    assert with_chunks[:2] == plain[:2]  # labels, scores (as stored) and evidence spans, all equal
    assert with_chunks[2] != plain[2]


def test_a_label_only_one_section_is_about_is_found_in_its_chunk(suggester, report, monkeypatch):
    case, document, _ = report
    chunked_suggestion = suggester.suggest_embedded([case], [document])[0]
    without_chunks(monkeypatch)
    pooled_suggestion = suggester.suggest_embedded([case], [document])[0]
    chunked, pooled = chunked_suggestion["service_domain"], pooled_suggestion["service_domain"]
    assert pooled.labels == ("health",)  # the education quarter is diluted in the mean vector
    assert set(chunked.labels) == {"health", "education"}
    assert chunked.scores["education"] > pooled.scores["education"]
    # Single-label dimensions keep the pooled vector (CHUNK_RULES): same labels and scores.
    for dimension_id, head in suggester.model.dimensions.items():
        if not head.multi_label:
            assert chunked_suggestion[dimension_id].labels == pooled_suggestion[dimension_id].labels
            assert chunked_suggestion[dimension_id].scores == pooled_suggestion[dimension_id].scores


def test_evidence_of_a_label_lies_in_the_chunk_that_scored_it_highest(suggester, report):
    case, document, health_end = report
    model = suggester.model
    chunks = document_chunks(document)
    texts = [case.text[c.start : c.end] for c in chunks]
    suggestion = suggester.suggest_embedded([case], [document])[0]
    for dimension_id, part in suggestion.dimensions.items():
        probabilities = model.dimension_proba(dimension_id, np.stack([c.vector for c in chunks]), texts, {})
        label_ids = model.dimensions[dimension_id].label_ids
        for label, spans in part.evidence.items():
            best = chunks[int(np.argmax(probabilities[:, label_ids.index(label)]))]
            assert spans, (dimension_id, label)
            assert all(best.start <= e.start and e.end <= best.end for e in spans), (dimension_id, label)
            assert all(case.text[e.start : e.end] == e.text for e in spans)
    evidence = suggestion["service_domain"].evidence
    assert all(e.end <= health_end for e in evidence["health"])
    assert all(e.start > health_end for e in evidence["education"])
