"""The case record: one schema for every case description, whatever file it came from."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from iesi_nlp.errors import InputError

#: Fields of a case, in the order they are written.
CASE_FIELDS = (
    "id",
    "title",
    "text",
    "language",
    "country",
    "source",
    "url",
    "year",
    "labels",
    "label_provenance",
    "origin",
)


class Case(BaseModel):
    """A case description of an (ICT-enabled) social innovation.

    ``labels`` maps a codebook dimension id to the label ids assigned on it; a
    case with no labels is unlabelled. ``label_provenance`` says who assigned
    them (e.g. ``synthetic-expert``, ``annotator:maria``, ``import``).
    ``origin`` points back at where ingestion found it (``file.csv row 12``).
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str = Field(min_length=1)
    title: str = ""
    text: str = Field(min_length=1)
    language: str | None = None
    country: str | None = None
    source: str | None = None
    url: str | None = None
    year: int | None = Field(default=None, ge=1900, le=2100)
    labels: dict[str, list[str]] = Field(default_factory=dict)
    label_provenance: str | None = None
    origin: str | None = None

    @field_validator("language")
    @classmethod
    def _lower_language(cls, value: str | None) -> str | None:
        return value.lower() if value else None

    @field_validator("country")
    @classmethod
    def _upper_country(cls, value: str | None) -> str | None:
        return value.upper() if value else None

    @property
    def is_labelled(self) -> bool:
        return any(self.labels.values())

    def to_json_line(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json")) + b"\n"


def stable_case_id(*parts: str) -> str:
    """A deterministic id for inputs that carry none (e.g. from file name and row)."""
    digest = hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()[:12]
    return f"case-{digest}"


def case_from_dict(data: dict[str, Any], *, where: str) -> Case:
    """Build a :class:`Case`, turning schema violations into an :class:`InputError` at ``where``."""
    try:
        return Case.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'record'}: {err['msg']}" for err in exc.errors()
        )
        raise InputError(f"{where}: {problems}") from None


def read_cases(path: str | Path) -> Iterator[Case]:
    """Stream cases from a JSONL file written by iesi-nlp (one case per line)."""
    path = Path(path)
    with path.open("rb") as handle:
        for line_number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            where = f"{path} line {line_number}"
            try:
                data = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise InputError(f"{where}: invalid JSON ({exc})") from None
            yield case_from_dict(data, where=where)


def write_cases(cases: Iterable[Case], path: str | Path) -> int:
    """Write cases as JSONL; return how many were written."""
    count = 0
    with Path(path).open("wb") as handle:
        for case in cases:
            handle.write(case.to_json_line())
            count += 1
    return count
