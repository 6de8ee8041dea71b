"""The case schema and its JSONL files."""

from __future__ import annotations

import pytest

from iesi_nlp.errors import InputError
from iesi_nlp.records import Case, case_from_dict, read_cases, write_cases
from tests.conftest import DE_TEXT, EN_TEXT


def test_round_trip(tmp_path):
    cases = [
        Case(id="a", text=EN_TEXT, language="EN", country="fi", labels={"actors": ["public"]}, year=2021),
        Case(id="b", text=DE_TEXT),
    ]
    path = tmp_path / "cases.jsonl"
    assert write_cases(cases, path) == 2
    loaded = list(read_cases(path))
    assert loaded == cases
    assert loaded[0].language == "en" and loaded[0].country == "FI"
    assert loaded[0].is_labelled and not loaded[1].is_labelled


def test_schema_errors_name_the_place_and_field(tmp_path):
    with pytest.raises(InputError, match=r"cases.jsonl line 2: text: String should have at least 1 character"):
        case_from_dict({"id": "x", "text": ""}, where="cases.jsonl line 2")
    with pytest.raises(InputError, match=r"here: colour: Extra inputs are not permitted"):
        case_from_dict({"id": "x", "text": EN_TEXT, "colour": "red"}, where="here")
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "a", "text": "fine text here"}\n{broken\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"bad.jsonl line 2: invalid JSON"):
        list(read_cases(path))
