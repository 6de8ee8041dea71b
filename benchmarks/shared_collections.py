"""The real, human-labelled collections of ../shared/data, read at run time and never copied.

Each source's own labels map onto ``service_domain`` as ../shared/spec/codebook-v1.md
says. Shared by the external check, the active-learning and the adaptation benchmarks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from iesi_nlp.codebook import Codebook
from iesi_nlp.ingest import IngestOptions, iter_ingest
from iesi_nlp.records import Case

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data"


@dataclass(frozen=True)
class Source:
    name: str
    file: str
    id_column: str
    text_column: str
    label_column: str
    mapping: dict[str, str]
    #: Keep only rows where this column is true (the SDG benchmark's verified passages).
    filter_column: str | None = None
    separator: str | None = None


SOURCES = [
    Source(
        "dsi4eu",
        "dsi4eu/dsi4eu_projects_flat.csv",
        "project_id",
        "description",
        "areas_of_society",
        {
            "Education and skills": "education",
            "Health and wellbeing": "health",
            "Work and employment": "employment",
            "Neighbourhood regeneration": "local_development",
        },
        separator="|",
    ),
    Source(
        "ipso_ips_explorer",
        "ipso_ips_explorer/cases.csv",
        "id",
        "description",
        "primary_sector",
        {
            "Health": "health",
            "Education": "education",
            "Social protection": "social_inclusion",
            "Housing and community amenities": "housing",
        },
    ),
    Source(
        "sdg_benchmark",
        "sdg_benchmark/benchmark.csv",
        "id",
        "text",
        "sdg",
        {
            "1": "social_inclusion",
            "10": "social_inclusion",
            "3": "health",
            "4": "education",
            "8": "employment",
            "11": "local_development",
        },
        filter_column="label",
    ),
]


def gold_labels(source: Source, table: pd.DataFrame) -> dict[str, str]:
    """Case id → the one mapped domain, for rows with exactly one."""
    if source.filter_column:
        table = table[table[source.filter_column].astype(str).str.lower() == "true"]
    gold = {}
    for case_id, value in zip(table[source.id_column], table[source.label_column], strict=True):
        if pd.isna(value):
            continue
        values = str(value).split(source.separator) if source.separator else [str(value)]
        mapped = {source.mapping[v.strip()] for v in values if v.strip() in source.mapping}
        if len(mapped) == 1:
            gold[str(case_id)] = mapped.pop()
    return gold


@dataclass(frozen=True)
class Collection:
    """One source's texts with exactly one mapped ``service_domain`` label (as the external check keeps them)."""

    name: str
    cases: list[Case]
    labels: list[str]


def load_collection(source: Source, data: Path, codebook: Codebook) -> Collection:
    """The source's cases whose labels map onto exactly one domain, each labelled with it, ids prefixed by the source."""
    path = data / source.file
    table = pd.read_csv(path, dtype={source.id_column: str, source.label_column: str})
    gold = gold_labels(source, table)
    options = IngestOptions(
        columns={"id": source.id_column, "text": source.text_column},
        dedupe_texts=True,
        detect_language=False,
        read_labels=False,
    )
    _, items = iter_ingest([path], codebook, options)
    cases = []
    for item in items:
        if isinstance(item, Case) and item.id in gold:
            labels = {"service_domain": [gold[item.id]]}
            cases.append(item.model_copy(update={"id": f"{source.name}:{item.id}", "labels": labels}))
    return Collection(source.name, cases, sorted(set(source.mapping.values())))


def load_collections(data: Path, codebook: Codebook, names: list[str] | None = None) -> list[Collection]:
    """Every shared collection found under ``data`` (or those named)."""
    return [
        load_collection(source, data, codebook)
        for source in SOURCES
        if (names is None or source.name in names) and (data / source.file).is_file()
    ]
