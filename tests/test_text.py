"""Sentence segmentation and the cutting of over-long sentences keep exact offsets in every language."""

from __future__ import annotations

import pytest

from iesi_nlp.text import sentence_units, split_sentences

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


def test_overlong_sentence_is_cut_at_words():
    text = "Intro. " + " ".join(f"word{i}" for i in range(3000)) + " End."
    units = sentence_units(text, "en", max_tokens=50, count_tokens=lambda s: len(s.split()))
    assert all(len(u.text.split()) <= 50 for u in units)
    assert units[0].text == "Intro." and len(units) > 60
    rebuilt = " ".join(u.text for u in units)
    assert rebuilt.split() == text.split()
    for unit in units:
        assert text[unit.start : unit.end] == unit.text


def test_ascii_shortcut_of_text_repair_changes_nothing_ftfy_would_not():
    # repair_text skips ftfy for plain ASCII without control characters; on any ASCII text it
    # must give exactly what ftfy gives.
    import random
    import string

    import ftfy

    from iesi_nlp.ingest.encoding import repair_text

    rng = random.Random(0)
    alphabet = string.printable + "\x00\x1b\x7f\x0c"
    texts = ["plain words.", "line\r\nbreak", "escape \x1b[31mred\x1b[0m", "&amp; stays"]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80))) for _ in range(3000)]
    for text in texts:
        expected = ftfy.fix_text(
            text, normalization="NFC", unescape_html=False, uncurl_quotes=False, fix_character_width=False
        )
        assert repair_text(text) == expected, repr(text)
