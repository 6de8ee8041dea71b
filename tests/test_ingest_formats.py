"""Every input format, read from small files written in the test."""

from __future__ import annotations

import pandas as pd
import pytest

from iesi_nlp.ingest import IngestOptions, iter_ingest
from iesi_nlp.records import Case
from tests.conftest import DE_TEXT, EN_TEXT, PL_TEXT


def run(paths, codebook, **options):
    ingestor, items = iter_ingest(paths, codebook, IngestOptions(**options))
    items = list(items)
    cases = [i for i in items if isinstance(i, Case)]
    rejects = [i for i in items if not isinstance(i, Case)]
    assert ingestor.report.balanced
    return cases, rejects, ingestor.report


@pytest.fixture
def frame():
    return pd.DataFrame(
        {
            "id": ["a1", "a2", "a3"],
            "title": ["Video calls", "Pflegeportal", "Pomoc sąsiedzka"],
            "text": [EN_TEXT, DE_TEXT, PL_TEXT],
            "country": ["FI", "DE", "PL"],
            "service_domain": ["long_term_care|health", "long_term_care", "social_inclusion; long_term_care"],
        }
    )


@pytest.mark.parametrize("suffix", ["csv", "tsv", "parquet", "xlsx", "jsonl"])
def test_tables(tmp_path, codebook, frame, suffix):
    path = tmp_path / f"cases.{suffix}"
    if suffix == "csv":
        frame.to_csv(path, index=False)
    elif suffix == "tsv":
        frame.to_csv(path, sep="\t", index=False)
    elif suffix == "parquet":
        frame.to_parquet(path)
    elif suffix == "xlsx":
        frame.to_excel(path, index=False)
    else:
        frame.to_json(path, orient="records", lines=True, force_ascii=False)
    cases, rejects, report = run([path], codebook)
    assert rejects == []
    assert [c.id for c in cases] == ["a1", "a2", "a3"]
    assert [c.language for c in cases] == ["en", "de", "pl"]
    assert report.detected_languages == 3
    assert cases[0].labels == {"service_domain": ["health", "long_term_care"]}
    assert cases[2].labels == {"service_domain": ["social_inclusion", "long_term_care"]}
    assert cases[2].text == PL_TEXT  # diacritics survive every format
    assert cases[0].label_provenance == f"import:cases.{suffix}"
    assert cases[1].origin == f"{path} row 2" or cases[1].origin == f"{path} line 2"


def test_column_mapping_and_label_columns(tmp_path, codebook):
    path = tmp_path / "dsi.csv"
    pd.DataFrame(
        {
            "project_id": ["p1"],
            "description": [EN_TEXT],
            "areas": ["health"],
            "lang_guess": ["xx"],
            "when": ["2019-04-01"],
        }
    ).to_csv(path, index=False)
    cases, rejects, _ = run(
        [path],
        codebook,
        columns={"id": "project_id", "text": "description", "year": "when"},
        label_columns={"service_domain": "areas"},
    )
    assert rejects == []
    assert cases[0].id == "p1" and cases[0].year == 2019
    assert cases[0].labels == {"service_domain": ["health"]}


def test_jsonl_with_nested_labels(write_jsonl, codebook):
    path = write_jsonl(
        "cases.jsonl",
        [
            {
                "id": "x",
                "text": EN_TEXT,
                "language": "en",
                "labels": {"actors": ["public", "third_sector"], "ict_innovation": ["disruptive"]},
            }
        ],
    )
    cases, rejects, _ = run([path], codebook)
    assert rejects == []
    assert cases[0].labels == {"actors": ["public", "third_sector"], "ict_innovation": ["disruptive"]}
    assert cases[0].language == "en"


def test_txt_and_html_and_docx_and_pdf_folder(tmp_path, codebook):
    folder = tmp_path / "reports"
    (folder / "sub").mkdir(parents=True)
    (folder / "note.txt").write_text(f"Pflegeportal\n\n{DE_TEXT}", encoding="utf-8")
    (folder / "sub" / "page.html").write_text(
        f"""<html><head><title>Neighbourhood help app</title></head><body>
        <nav><ul><li><a href="/">Home</a></li><li><a href="/about">About us</a></li><li>Contact</li></ul></nav>
        <div class="cookie-banner">We use cookies to improve your experience. Accept all cookies</div>
        <article><h1>Neighbourhood help app</h1><p>{EN_TEXT}</p><p>{EN_TEXT.replace("Tampere", "Oulu")}</p></article>
        <footer>Copyright 2024 City of Tampere. Privacy policy. Share on Facebook</footer></body></html>""",
        encoding="utf-8",
    )
    import docx

    document = docx.Document()
    document.core_properties.title = "Pomoc sąsiedzka"
    document.add_paragraph(PL_TEXT)
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "Partner"
    table.rows[0].cells[1].text = "MOPS Kraków"
    document.save(folder / "report.docx")
    from fpdf import FPDF

    pdf = FPDF()
    for paragraph in (EN_TEXT, "Second page: " + EN_TEXT.replace("Tampere", "Espoo")):
        pdf.add_page()
        pdf.set_font("helvetica", size=11)
        pdf.multi_cell(0, 6, paragraph)
    pdf.add_page()  # an empty third page: skipped, with its own reject line
    pdf.output(str(folder / "report.pdf"))
    (folder / ".DS_Store").write_bytes(b"\x00\x01")

    cases, rejects, report = run([folder], codebook)
    by_name = {c.origin.split("/")[-1]: c for c in cases}
    assert set(by_name) == {"note.txt", "page.html", "report.docx", "report.pdf"}
    html_case = by_name["page.html"]
    assert "video-call service" in html_case.text
    assert "cookies" not in html_case.text.lower() and "Privacy policy" not in html_case.text
    assert html_case.title == "Neighbourhood help app" and html_case.language == "en"
    assert by_name["report.docx"].title == "Pomoc sąsiedzka" and "MOPS Kraków" in by_name["report.docx"].text
    assert by_name["report.docx"].language == "pl"
    assert "Espoo" in by_name["report.pdf"].text and by_name["report.pdf"].language == "en"
    assert by_name["note.txt"].language == "de" and by_name["note.txt"].title == "Pflegeportal"
    assert [(r.kind, r.location) for r in rejects] == [("page", "page 3")]
    assert "no extractable text" in rejects[0].reason
    assert report.pages_skipped == 1 and report.files_rejected == 0


def test_ids_are_generated_stably_when_missing(tmp_path, codebook):
    path = tmp_path / "noid.csv"
    pd.DataFrame({"text": [EN_TEXT, DE_TEXT]}).to_csv(path, index=False)
    first, _, _ = run([path], codebook)
    second, _, _ = run([path], codebook)
    assert [c.id for c in first] == [c.id for c in second]
    assert len({c.id for c in first}) == 2 and first[0].id.startswith("case-")


def test_mixed_language_text_gets_its_main_language():
    from iesi_nlp.ingest import detect_language

    abstract = "Abstract. " + EN_TEXT + " " + EN_TEXT.replace("Tampere", "Lahti")
    body = " ".join(
        [PL_TEXT, PL_TEXT.replace("seniorzy", "osoby starsze"), PL_TEXT.replace("okolicy", "dzielnicy")] * 3
    )
    detected = detect_language(abstract + "\n\n" + body)
    assert detected.code == "pl"
    assert detect_language("12345 67890 !!!") is None


def test_a_quoted_glob_reads_the_files_it_matches(tmp_path, codebook, frame):
    from iesi_nlp.errors import InputError
    from iesi_nlp.ingest import check_inputs

    (tmp_path / "2024").mkdir()
    frame.iloc[:2].to_csv(tmp_path / "2024" / "a.csv", index=False)
    frame.iloc[2:].to_csv(tmp_path / "b.csv", index=False)
    (tmp_path / "notes.txt").write_text(EN_TEXT, encoding="utf-8")
    pattern = str(tmp_path / "**" / "*.csv")
    check_inputs([pattern])  # matches: no error
    cases, rejects, _ = run([pattern], codebook)
    assert [c.id for c in cases] == ["a1", "a2", "a3"] and rejects == []
    with pytest.raises(InputError, match=r"\*\.pdf: no file matches this pattern"):
        check_inputs([str(tmp_path / "*.pdf")])
    with pytest.raises(InputError, match="input not found"):
        check_inputs([tmp_path / "absent.csv"])
