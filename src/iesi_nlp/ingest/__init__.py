"""Read case descriptions from tables and report folders into validated :class:`~iesi_nlp.records.Case` records."""

from iesi_nlp.ingest.language import DetectedLanguage, detect_language
from iesi_nlp.ingest.pipeline import (
    DEFAULT_COLUMNS,
    SUPPORTED_SUFFIXES,
    IngestOptions,
    Ingestor,
    IngestReport,
    Reject,
    check_inputs,
    estimate_cases,
    expand_inputs,
    expand_patterns,
    ingest_to_files,
    iter_ingest,
)
from iesi_nlp.ingest.sources import RawRecord

__all__ = [
    "DEFAULT_COLUMNS",
    "SUPPORTED_SUFFIXES",
    "DetectedLanguage",
    "IngestOptions",
    "IngestReport",
    "Ingestor",
    "RawRecord",
    "Reject",
    "check_inputs",
    "detect_language",
    "estimate_cases",
    "expand_inputs",
    "expand_patterns",
    "ingest_to_files",
    "iter_ingest",
]
