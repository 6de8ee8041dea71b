"""Sentence segmentation and passage chunking keep exact offsets in every language."""

from __future__ import annotations

import itertools

import pytest

from iesi_nlp.text import approx_token_count, chunk_passages, split_sentences

SAMPLES = {
    "en": "Home | About us\nThe city opened a one-stop shop. It serves families! Does it work? Yes.",
    "de": "Startseite\nDer Landkreis bietet z. B. Beratung an. Pflegende Angehörige nutzen die App.",
    "pl": "Strona główna\nGmina uruchomiła platformę. Seniorzy korzystają z niej codziennie.",
    "el": "Αρχική\nΟ δήμος δημιούργησε μια πλατφόρμα. Οι ηλικιωμένοι τη χρησιμοποιούν καθημερινά.",
    "fi": "Etusivu\nKaupunki avasi palvelupisteen. Ikäihmiset käyttävät sitä päivittäin.",
    "xx": "Menu\nSomething in an unknown language. Another sentence here.",
}


@pytest.mark.parametrize(("language", "text"), SAMPLES.items())
def test_sentences_keep_offsets(language, text):
    sentences = split_sentences(text, language)
    assert len(sentences) >= 3
    for sentence in sentences:
        assert text[sentence.start : sentence.end] == sentence.text
        assert sentence.text == sentence.text.strip() and "\n" not in sentence.text
    assert sentences[0].text in {"Home | About us", "Startseite", "Strona główna", "Αρχική", "Etusivu", "Menu"}


def test_english_sentences_exactly():
    sentences = [s.text for s in split_sentences(SAMPLES["en"], "en")]
    assert sentences == [
        "Home | About us",
        "The city opened a one-stop shop.",
        "It serves families!",
        "Does it work?",
        "Yes.",
    ]


def test_unknown_language_code_falls_back():
    assert [s.text for s in split_sentences("One. Two.", "zz")] == ["One.", "Two."]
    assert split_sentences("   \n ", "en") == []


def test_passages_fit_and_cover_every_sentence():
    text = " ".join(f"Sentence number {i} talks about integrated care for older people." for i in range(200))
    sentences = split_sentences(text, "en")
    passages = chunk_passages(text, "en", max_tokens=60, sentences=sentences)
    assert all(approx_token_count(p.text) <= 60 for p in passages)
    assert passages[0].first_sentence == 0 and passages[-1].last_sentence == len(sentences) - 1
    for before, after in itertools.pairwise(passages):
        assert after.first_sentence == before.last_sentence + 1
    for passage in passages:
        assert text[passage.start : passage.end] == passage.text


def test_overlong_sentence_is_cut_at_words():
    text = "Intro. " + " ".join(f"word{i}" for i in range(3000)) + " End."
    passages = chunk_passages(text, "en", max_tokens=50, count_tokens=lambda s: len(s.split()))
    assert all(len(p.text.split()) <= 50 for p in passages)
    assert passages[0].text == "Intro."
    rebuilt = " ".join(p.text for p in passages)
    assert rebuilt.split() == text.split()


def test_custom_token_counter_and_bad_limit():
    text = "Care is local here. Data is shared. Users decide."
    passages = chunk_passages(text, "en", max_tokens=8, count_tokens=lambda s: len(s.split()))
    assert [p.text for p in passages] == ["Care is local here. Data is shared.", "Users decide."]
    with pytest.raises(ValueError, match="max_tokens must be at least 8"):
        chunk_passages("x", "en", max_tokens=2)
