"""Scraped boilerplate: what counts, that it stays out of case vectors and evidence, and HTML in table cells."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from iesi_nlp.boilerplate import is_boilerplate
from iesi_nlp.codebook import load_codebook
from iesi_nlp.coding.evidence import evidence_candidates
from iesi_nlp.embedding.base import pool
from iesi_nlp.ingest import IngestOptions, iter_ingest
from iesi_nlp.ingest.encoding import html_fragment_to_text
from iesi_nlp.records import Case
from iesi_nlp.text import Span, split_sentences

FURNITURE = [
    "Domů | Program | Kurzy | Online poradna | Herna | Kontakt",
    "Startseite > Angebote > Digitallotsen > English",
    "Start / Omsorg och stöd / Ekonomiskt bistånd / Ansök digitalt",
    "Tento web používá cookies.",
    "Wir verwenden Cookies, um unsere Website für Sie zu verbessern. [",
    "Akzeptieren] [Ablehnen] [Einstellungen]",
    "Share | Print | Back to top",
    "Teilen / Share  ·  Drucken / Print",
    "© 2021 NousHome.",
    "Impressum | Datenschutz | Barrierefreiheit",
    "Thank you for reading our newsletter!",
    "Skip to content",
    "Samospráva   Občan   Podnikateľ   Turista   Kontakt",
]

CONTENT = [
    "Volunteers share their phone numbers with older neighbours who need a lift to the clinic.",
    "The project runs a Facebook group where parents swap advice on childcare and school meals.",
    "Parents can join from home or from the school.",
    "Hospicová péče bez hranic / Hospizbetreuung ohne Grenzen",
    "Die Jugendberufsagentur nimmt dann von sich aus Kontakt auf.",
    "Eleven kan dela en bild av uppgiften eller sin skärm.",
    "Legal analysis in each country covers the national implementation of the GDPR and child protection law.",
]


@pytest.mark.parametrize("line", FURNITURE)
def test_page_furniture_is_boilerplate(line):
    assert is_boilerplate(line)


@pytest.mark.parametrize("line", CONTENT)
def test_content_that_mentions_a_furniture_word_is_kept(line):
    assert not is_boilerplate(line)


def test_boilerplate_stays_out_of_the_case_vector_and_the_evidence():
    text = "Home | About us | Projects | Contact\nA night shelter books free beds online for homeless people.\nWe use cookies."
    sentences = split_sentences(text, "en")
    assert sentences[0].text == "Home | About us | Projects | Contact"
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(len(sentences), 8)).astype(np.float32)
    content_only = vectors[1] / np.linalg.norm(vectors[1])
    assert pool(vectors, sentences) == pytest.approx(content_only, abs=1e-6)
    assert evidence_candidates(sentences) == [1]
    # A text of nothing but furniture still gets a vector, but never a boilerplate line as evidence.
    menu = [Span("Home | About us | Contact", 0, 25)]
    assert np.isfinite(pool(vectors[:1], menu)).all() and evidence_candidates(menu) == []


def test_html_in_a_table_cell_is_read_as_text(tmp_path):
    assert html_fragment_to_text("<p>First&nbsp;part.</p><p>Second &amp; last.</p>") == "First\xa0part.\nSecond & last."
    assert html_fragment_to_text("Fish & chips, a < b") == "Fish & chips, a < b"
    path = tmp_path / "cells.csv"
    pd.DataFrame(
        {
            "id": ["a"],
            "text": ["<p>A food bank for families &ldquo;in need&rdquo;.</p><ul><li>Online booking</li></ul>"],
        }
    ).to_csv(path, index=False)
    _, items = iter_ingest([path], load_codebook(), IngestOptions(detect_language=False))
    (case,) = list(items)
    assert isinstance(case, Case) and "<" not in case.text and "“in need”" in case.text
