"""The bundled seed corpus keeps its rules; the rule checks themselves catch what they should."""

from __future__ import annotations

import pytest

from iesi_nlp.corpus import (
    CorpusRules,
    check_corpus,
    corpus_statistics,
    data_card_block,
    find_near_duplicates,
    load_corpus,
    statistics_markdown,
)
from iesi_nlp.errors import CorpusError
from iesi_nlp.records import Case
from tests.conftest import DE_TEXT, EN_TEXT


@pytest.fixture(scope="module")
def corpus(codebook):
    return load_corpus(codebook)


def test_bundled_corpus_keeps_every_rule(corpus, codebook):
    assert check_corpus(corpus, codebook) == []


def test_bundled_corpus_shape(corpus, codebook):
    stats = corpus_statistics(corpus, codebook)
    assert stats["labelled"] >= 300 and stats["pool"] >= 150
    assert len(stats["labelled_by_language"]) >= 12
    assert stats["labelled_by_language"]["en"] / stats["labelled"] <= 0.40
    assert stats["words"]["min"] >= 40 and stats["words"]["max"] > 1000
    assert stats["words"]["under_80"] >= 10 and stats["words"]["over_1000"] >= 5
    for dim in codebook.dimensions:
        for label_id, count in stats["labels"][dim.id].items():
            assert count >= 10, f"{dim.id}/{label_id} has {count} positives"
    ids = [c.id for c in corpus.all_cases]
    assert len(ids) == len(set(ids))
    for case in corpus.labelled:
        assert set(case.labels) == set(codebook.dimension_ids), case.id
        for dim in codebook.dimensions:
            assert dim.validate_labels(case.labels[dim.id]) == case.labels[dim.id]
            if not dim.multi_label:
                assert len(case.labels[dim.id]) == 1


def test_data_card_statistics_match_the_data(corpus, codebook):
    """corpus/README.md must describe the corpus as it is (regenerate with `iesi-nlp corpus card`)."""
    expected = statistics_markdown(corpus_statistics(corpus, codebook), codebook)
    assert data_card_block(corpus.directory / "README.md") == expected


def test_near_duplicates_are_found():
    original = Case(id="a", text=EN_TEXT + " " + DE_TEXT)
    edited = Case(id="b", text=EN_TEXT.replace("every morning", "each morning") + " " + DE_TEXT)
    other = Case(id="c", text="A completely different text about school meals and local farms in rural Portugal.")
    pairs = find_near_duplicates([original, edited, other])
    assert [(a, b) for a, b, _ in pairs] == [("a", "b")]


def test_small_corpus_breaks_rules_and_says_which(tmp_path, codebook, write_jsonl):
    (tmp_path / "labelled").mkdir()
    (tmp_path / "pool").mkdir()
    labels = {d.id: [d.label_ids[0]] for d in codebook.dimensions}
    rows = [
        {"id": "x1", "text": EN_TEXT, "language": "en", "labels": labels},
        {"id": "x2", "text": EN_TEXT.replace("every", "each"), "language": "en", "labels": labels},
    ]
    write_jsonl("labelled/a.jsonl", rows)
    write_jsonl("pool/a.jsonl", [{"id": "p1", "text": DE_TEXT}])
    loaded = load_corpus(codebook, tmp_path)
    problems = check_corpus(loaded, codebook, CorpusRules())
    assert "2 labelled cases, fewer than 300" in problems
    assert "English is 100% of labelled cases, more than 40%" in problems
    assert "ict_innovation/sustaining: 0 positive cases, fewer than 10" in problems
    assert any(p.startswith("near-duplicate texts: x1 and x2") for p in problems)


def test_corpus_with_duplicate_ids_is_refused(tmp_path, codebook, write_jsonl):
    (tmp_path / "labelled").mkdir()
    labels = {"actors": ["public"]}
    write_jsonl("labelled/a.jsonl", [{"id": "x1", "text": EN_TEXT, "labels": labels}])
    write_jsonl("labelled/b.jsonl", [{"id": "x1", "text": DE_TEXT, "labels": labels}])
    with pytest.raises(CorpusError, match=r"duplicate id 'x1'"):
        load_corpus(codebook, tmp_path)


def test_pool_must_be_unlabelled(tmp_path, codebook, write_jsonl):
    (tmp_path / "labelled").mkdir()
    (tmp_path / "pool").mkdir()
    write_jsonl("labelled/a.jsonl", [{"id": "x1", "text": EN_TEXT, "labels": {"actors": ["public"]}}])
    write_jsonl("pool/a.jsonl", [{"id": "p1", "text": DE_TEXT, "labels": {"actors": ["public"]}}])
    with pytest.raises(CorpusError, match="pool cases must be unlabelled: p1"):
        load_corpus(codebook, tmp_path)


def test_language_detector_agrees_with_the_corpus(corpus):
    """Lingua (with sampling for mixed-language texts) against the languages the writers declared."""
    from iesi_nlp.ingest.language import measure_detection

    result = measure_detection([(c.text, c.language) for c in corpus.all_cases])
    assert result.accuracy >= 0.98, result.confusions
