"""Bad input: each kind gets a clear error naming what and where, and nothing is lost."""

from __future__ import annotations

import pandas as pd
import pytest

from iesi_nlp.ingest import IngestOptions, ingest_to_files, iter_ingest
from iesi_nlp.records import Case
from tests.conftest import DE_TEXT, EN_TEXT, read_jsonl

FIFTY_MB = 50 * 1024 * 1024


def run(paths, codebook, **options):
    ingestor, items = iter_ingest(paths, codebook, IngestOptions(**options))
    items = list(items)
    assert ingestor.report.balanced
    return [i for i in items if isinstance(i, Case)], [i for i in items if not isinstance(i, Case)], ingestor.report


def test_empty_file(tmp_path, codebook):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    cases, rejects, report = run([path], codebook)
    assert cases == []
    assert rejects[0].kind == "file" and rejects[0].reason == f"{path}: file is empty"
    assert report.files_rejected == 1


def test_header_only_table(tmp_path, codebook):
    path = tmp_path / "header.csv"
    path.write_text("id,text\n", encoding="utf-8")
    _, rejects, _ = run([path], codebook)
    assert rejects[0].reason == f"{path}: file has no rows"


def test_wrong_encoding_is_repaired(tmp_path, codebook):
    """A Windows-1252 CSV and a UTF-8 file read as Latin-1 once (mojibake) both come out right."""
    text = "Die Gemeinde unterstützt ältere Menschen: Pflegekräfte, Angehörige und Ehrenamtliche nutzen eine gemeinsame Plattform für Besuche und Fahrdienste."
    cp1252 = tmp_path / "windows.csv"
    cp1252.write_bytes(f'id,text\nw1,"{text}"\n'.encode("cp1252"))
    mojibake = tmp_path / "mojibake.csv"
    mojibake.write_text(f'id,text\nm1,"{text.encode("utf-8").decode("latin-1")}"\n', encoding="utf-8")
    cases, rejects, _ = run([cp1252, mojibake], codebook, dedupe_texts=False)
    assert rejects == []
    assert [c.text for c in cases] == [text, text]
    assert {c.language for c in cases} == {"de"}


def test_binary_file_is_not_text(tmp_path, codebook):
    path = tmp_path / "image.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 20)
    _, rejects, _ = run([path], codebook)
    assert "looks like a binary file" in rejects[0].reason and str(path) in rejects[0].reason


def test_mixed_encoding_row_is_rejected_not_mangled(tmp_path, codebook):
    """A file that is UTF-8 for its first megabyte and Latin-1 later: the bad row is rejected, not garbled."""
    path = tmp_path / "mixed.csv"
    good_rows = b"".join(f'ok{i},"{DE_TEXT} Nr. {i}."\n'.encode() for i in range(6000))
    assert len(good_rows) > 1024 * 1024  # beyond the sample used to detect the encoding
    bad = 'bad1,"Café for older people in the neighbourhood, run by volunteers and the city."\n'.encode("latin-1")
    path.write_bytes(b"id,text\n" + good_rows + bad)
    cases, rejects, _ = run([path], codebook)
    assert len(cases) == 6000 and cases[-1].text.endswith("Nr. 5999.")
    assert rejects[0].location == "row 6001" and "undecodable bytes" in rejects[0].reason


def test_missing_text_column(tmp_path, codebook):
    path = tmp_path / "notext.csv"
    pd.DataFrame({"id": [1], "summary_en": [EN_TEXT]}).rename(columns={"summary_en": "blurb"}).to_csv(path, index=False)
    _, rejects, _ = run([path], codebook)
    assert rejects[0].kind == "file"
    assert "no text column (looked for text / description" in rejects[0].reason
    assert "columns are: id, blurb" in rejects[0].reason and "--column text=NAME" in rejects[0].reason


def test_mapped_text_column_missing(tmp_path, codebook):
    path = tmp_path / "cases.csv"
    pd.DataFrame({"text": [EN_TEXT]}).to_csv(path, index=False)
    _, rejects, _ = run([path], codebook, columns={"text": "body_text"})
    assert "no text column (looked for body_text)" in rejects[0].reason


def test_unknown_label_names_value_and_allowed(tmp_path, codebook):
    path = tmp_path / "labels.csv"
    pd.DataFrame({"id": ["a", "b"], "text": [EN_TEXT, DE_TEXT], "service_domain": ["health", "healthcare"]}).to_csv(
        path, index=False
    )
    cases, rejects, _ = run([path], codebook)
    assert [c.id for c in cases] == ["a"]
    reason = rejects[0].reason
    assert reason.startswith(f"{path} row 2: unknown label 'healthcare' for dimension 'service_domain'")
    assert "allowed: education, health, employment" in reason
    assert rejects[0].record["service_domain"] == "healthcare"  # the raw row is kept


def test_unknown_dimension(write_jsonl, codebook):
    path = write_jsonl("x.jsonl", [{"id": "a", "text": EN_TEXT, "labels": {"sector": ["health"]}}])
    _, rejects, _ = run([path], codebook)
    assert "line 1: unknown dimension 'sector'" in rejects[0].reason


def test_fifty_megabyte_text_file_is_refused_before_reading(tmp_path, codebook):
    path = tmp_path / "dump.txt"
    with path.open("wb") as handle:
        handle.truncate(FIFTY_MB)  # sparse: instant, yet 50 MB on stat()
    _, rejects, _ = run([path], codebook)
    assert f"{path}: file of {FIFTY_MB:,} bytes is larger than a case description can be" in rejects[0].reason


def test_fifty_megabyte_cell_is_rejected_with_its_row(tmp_path, codebook):
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8") as handle:
        handle.write(f'id,text\nsmall,"{EN_TEXT}"\nhuge,"')
        chunk = "word " * 200_000
        for _ in range(FIFTY_MB // len(chunk)):
            handle.write(chunk)
        handle.write('"\n')
    cases, rejects, _ = run([path], codebook)
    assert [c.id for c in cases] == ["small"]
    assert rejects[0].location == "row 2"
    assert "characters, more than the limit of 1,000,000 (--max-chars)" in rejects[0].reason
    assert len(rejects[0].record["text"]) < 20_000  # the reject points back instead of copying 50 MB


def test_corrupt_pdf(tmp_path, codebook):
    path = tmp_path / "broken.pdf"
    path.write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n%%garbage" + bytes(range(256)) * 4)
    _, rejects, report = run([path], codebook)
    assert rejects[0].kind == "file" and rejects[0].reason.startswith(f"{path}: ")
    assert "PDF" in rejects[0].reason
    assert report.files_rejected == 1


def test_corrupt_docx_and_xlsx(tmp_path, codebook):
    docx_path = tmp_path / "broken.docx"
    docx_path.write_bytes(b"PK\x03\x04 not really a zip")
    xlsx_path = tmp_path / "broken.xlsx"
    xlsx_path.write_bytes(b"plain text pretending")
    _, rejects, _ = run([docx_path, xlsx_path], codebook)
    assert "corrupt or unreadable DOCX" in rejects[0].reason
    assert "cannot read as XLSX" in rejects[1].reason


def test_invalid_json_line_and_non_object(tmp_path, codebook):
    path = tmp_path / "cases.jsonl"
    path.write_text(f'{{"id": "a", "text": "{EN_TEXT}"}}\n{{"id": "b", "text": \n[1, 2]\n', encoding="utf-8")
    cases, rejects, _ = run([path], codebook)
    assert [c.id for c in cases] == ["a"]
    assert [r.location for r in rejects] == ["line 2", "line 3"]
    assert "invalid JSON" in rejects[0].reason and "expected a JSON object" in rejects[1].reason


def test_duplicates_short_texts_bad_year_unsupported(tmp_path, codebook):
    path = tmp_path / "dups.csv"
    pd.DataFrame(
        {
            "id": ["a", "a", "c", "d", "e"],
            "text": [EN_TEXT, DE_TEXT, EN_TEXT, "Too short", DE_TEXT + " Extra."],
            "year": ["2020", "2021", "2022", "2023", "sometime"],
        }
    ).to_csv(path, index=False)
    other = tmp_path / "slides.pptx"
    other.write_bytes(b"x")
    cases, rejects, report = run([path, other], codebook)
    assert [c.id for c in cases] == ["a"]
    reasons = [r.reason for r in rejects]
    assert "duplicate id 'a' (first seen at" in reasons[0]
    assert "same text as case 'a'" in reasons[1]
    assert "fewer than the minimum of 20" in reasons[2]
    assert "year 'sometime' holds no four-digit year" in reasons[3]
    assert "unsupported file type '.pptx'" in reasons[4]
    assert report.records_read == 5 and report.records_rejected == 4 and report.files_rejected == 1


def test_nothing_is_lost_between_output_and_rejects(tmp_path, codebook):
    """Every row of several files is in the output or in the rejects file, and the counts say so."""
    rows = [{"id": f"r{i}", "text": f"{EN_TEXT} Variant {i}.", "actors": "public"} for i in range(30)]
    rows[3]["actors"] = "government"
    rows[7]["text"] = ""
    rows[11]["id"] = "r10"
    pd.DataFrame(rows).to_csv(tmp_path / "a.csv", index=False)
    pd.DataFrame(rows[:5]).to_parquet(tmp_path / "b.parquet")  # repeats: duplicates
    output, rejects = tmp_path / "out" / "cases.jsonl", tmp_path / "out" / "rejects.jsonl"
    report = ingest_to_files([tmp_path / "a.csv", tmp_path / "b.parquet"], output, rejects, codebook)
    written, rejected = read_jsonl(output), read_jsonl(rejects)
    assert report.records_read == 35
    assert len(written) == report.ingested == 27
    assert len(rejected) == report.records_rejected == 8
    assert report.balanced
    assert {r["location"] for r in rejected if r["file"].endswith("a.csv")} == {"row 4", "row 8", "row 12"}


def test_missing_input_path_is_an_error(tmp_path, codebook):
    from iesi_nlp.errors import InputError

    with pytest.raises(InputError, match="input not found"):
        ingest_to_files([tmp_path / "nowhere.csv"], tmp_path / "o.jsonl", tmp_path / "r.jsonl", codebook)


def test_bad_options_are_refused():
    from iesi_nlp.errors import InputError

    with pytest.raises(InputError, match="unknown case field"):
        IngestOptions(columns={"body": "text"})
    with pytest.raises(InputError, match="text length limits"):
        IngestOptions(min_text_chars=100, max_text_chars=50)


def test_countries_are_normalised_or_refused(tmp_path, codebook):
    path = tmp_path / "countries.csv"
    texts = [f"{EN_TEXT} Site {i}." for i in range(6)]
    pd.DataFrame({"text": texts, "country": ["United Kingdom", "pl", "DEU", "EU", "Turkey", "Atlantis"]}).to_csv(
        path, index=False
    )
    cases, rejects, _ = run([path], codebook)
    assert [c.country for c in cases] == ["GB", "PL", "DE", "EU", "TR"]
    assert rejects[0].location == "row 6"
    assert "country 'Atlantis' is not a country name or ISO 3166 code" in rejects[0].reason


def test_mapped_column_that_does_not_exist(tmp_path, codebook):
    path = tmp_path / "cases.csv"
    pd.DataFrame({"text": [EN_TEXT], "project_name": ["x"]}).to_csv(path, index=False)
    _, rejects, _ = run([path], codebook, columns={"title": "name"})
    assert rejects[0].kind == "file"
    assert "mapped column(s) not found: name; columns are: text, project_name" in rejects[0].reason
