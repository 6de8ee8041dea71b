"""The seed corpus: loading, statistics and the rules it must keep.

A corpus folder holds ``labelled/*.jsonl`` (coded cases) and ``pool/*.jsonl``
(unlabelled cases for the review screen). It is read through the same
ingestion as any user input, so it meets the same schema and codebook checks.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from iesi_nlp.codebook import Codebook
from iesi_nlp.errors import CorpusError
from iesi_nlp.ingest import IngestOptions, Ingestor, Reject
from iesi_nlp.records import Case

#: Two texts at or above this cosine similarity of character 5-gram TF-IDF are near-duplicates.
NEAR_DUPLICATE_THRESHOLD = 0.8


@dataclass(frozen=True)
class Corpus:
    labelled: list[Case]
    pool: list[Case]
    directory: Path

    @property
    def all_cases(self) -> list[Case]:
        return self.labelled + self.pool


@dataclass(frozen=True)
class CorpusRules:
    """Minimums the bundled corpus keeps; a user's own corpus may set its own."""

    min_labelled: int = 300
    min_pool: int = 150
    min_languages: int = 12
    max_english_share: float = 0.40
    min_positives_per_label: int = 10
    near_duplicate_threshold: float = NEAR_DUPLICATE_THRESHOLD


def bundled_corpus_dir() -> Path:
    """The ``corpus/`` folder of this checkout (the package is installed editable from it)."""
    candidate = Path(__file__).resolve().parents[2] / "corpus"
    if not (candidate / "labelled").is_dir():
        raise CorpusError(
            f"bundled corpus not found at {candidate}; install iesi-nlp from its repository "
            "with 'pip install -e .' or pass --corpus PATH"
        )
    return candidate


def bundled_pool_dir() -> Path:
    """The bundled corpus's unlabelled pool: the demo project's cases (``iesi-nlp review`` with no cases)."""
    return bundled_corpus_dir() / "pool"


def load_corpus(codebook: Codebook, directory: str | Path | None = None) -> Corpus:
    """Read and validate a corpus folder; any unusable record is a :class:`CorpusError`."""
    directory = Path(directory) if directory is not None else bundled_corpus_dir()
    labelled_files = sorted((directory / "labelled").glob("*.jsonl"))
    pool_files = sorted((directory / "pool").glob("*.jsonl"))
    if not labelled_files:
        raise CorpusError(f"{directory}: no labelled/*.jsonl files")
    # One ingestor for both parts, so ids and texts are unique across the whole corpus.
    ingestor = Ingestor(codebook, IngestOptions())
    labelled = _read_part(ingestor, labelled_files)
    pool = _read_part(ingestor, pool_files)
    unlabelled = [c.id for c in labelled if not c.is_labelled]
    if unlabelled:
        raise CorpusError(f"{directory}/labelled: cases without labels: {', '.join(unlabelled[:10])}")
    labelled_in_pool = [c.id for c in pool if c.is_labelled]
    if labelled_in_pool:
        raise CorpusError(f"{directory}/pool: pool cases must be unlabelled: {', '.join(labelled_in_pool[:10])}")
    return Corpus(labelled=labelled, pool=pool, directory=directory)


def _read_part(ingestor: Ingestor, files: list[Path]) -> list[Case]:
    cases: list[Case] = []
    rejects: list[Reject] = []
    for path in files:
        for item in ingestor.ingest_file(path):
            (cases if isinstance(item, Case) else rejects).append(item)
    if rejects:
        listed = "\n  ".join(r.reason for r in rejects[:20])
        raise CorpusError(f"{len(rejects)} corpus record(s) cannot be used:\n  {listed}")
    return cases


def word_count(text: str) -> int:
    return len(text.split())


def corpus_statistics(corpus: Corpus, codebook: Codebook) -> dict[str, Any]:
    """Counts a data card and the main command report: sizes, languages, labels, lengths."""
    labelled, pool = corpus.labelled, corpus.pool
    lengths = [word_count(c.text) for c in corpus.all_cases]
    label_counts = {
        dim.id: {label_id: sum(label_id in c.labels.get(dim.id, []) for c in labelled) for label_id in dim.label_ids}
        for dim in codebook.dimensions
    }
    return {
        "labelled": len(labelled),
        "pool": len(pool),
        "languages": len({c.language for c in corpus.all_cases}),
        "labelled_by_language": dict(Counter(c.language for c in labelled).most_common()),
        "pool_by_language": dict(Counter(c.language for c in pool).most_common()),
        "countries": dict(Counter(c.country for c in corpus.all_cases).most_common()),
        "sources": dict(Counter(c.source for c in corpus.all_cases).most_common()),
        "words": {
            "min": min(lengths, default=0),
            "median": statistics.median(lengths) if lengths else 0,
            "max": max(lengths, default=0),
            "under_80": sum(n < 80 for n in lengths),
            "over_1000": sum(n > 1000 for n in lengths),
        },
        "labels": label_counts,
        "labels_per_case": {
            dim.id: round(float(np.mean([len(c.labels.get(dim.id, [])) for c in labelled])), 2) if labelled else 0.0
            for dim in codebook.dimensions
        },
    }


def find_near_duplicates(
    cases: list[Case], threshold: float = NEAR_DUPLICATE_THRESHOLD
) -> list[tuple[str, str, float]]:
    """Pairs of cases whose texts are near-duplicates, most similar first.

    Character 5-grams within word boundaries catch copies with small edits in any
    language and script; cosine similarity of their TF-IDF vectors scores a pair.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    if len(cases) < 2:
        return []
    vectors = TfidfVectorizer(analyzer="char_wb", ngram_range=(5, 5), lowercase=True, sublinear_tf=True).fit_transform(
        [c.text for c in cases]
    )
    similarity = (vectors @ vectors.T).tocoo()
    pairs = [
        (cases[i].id, cases[j].id, round(float(s), 3))
        for i, j, s in zip(similarity.row, similarity.col, similarity.data, strict=True)
        if i < j and s >= threshold
    ]
    return sorted(pairs, key=lambda pair: -pair[2])


def check_corpus(corpus: Corpus, codebook: Codebook, rules: CorpusRules | None = None) -> list[str]:
    """Every broken rule, as a sentence; an empty list means the corpus is fit for use."""
    rules = rules or CorpusRules()
    problems: list[str] = []
    labelled = corpus.labelled
    if len(labelled) < rules.min_labelled:
        problems.append(f"{len(labelled)} labelled cases, fewer than {rules.min_labelled}")
    if len(corpus.pool) < rules.min_pool:
        problems.append(f"{len(corpus.pool)} pool cases, fewer than {rules.min_pool}")
    languages = Counter(c.language for c in labelled)
    if len(languages) < rules.min_languages:
        problems.append(f"labelled cases in {len(languages)} languages, fewer than {rules.min_languages}")
    if labelled and languages.get("en", 0) / len(labelled) > rules.max_english_share:
        problems.append(
            f"English is {languages['en'] / len(labelled):.0%} of labelled cases, more than {rules.max_english_share:.0%}"
        )
    for case in labelled:
        missing = [d for d in codebook.dimension_ids if not case.labels.get(d)]
        if missing:
            problems.append(f"case {case.id}: not coded on {', '.join(missing)}")
    for dim in codebook.dimensions:
        for label_id in dim.label_ids:
            positives = sum(label_id in c.labels.get(dim.id, []) for c in labelled)
            if positives < rules.min_positives_per_label:
                problems.append(
                    f"{dim.id}/{label_id}: {positives} positive cases, fewer than {rules.min_positives_per_label}"
                )
    for a, b, score in find_near_duplicates(corpus.all_cases, rules.near_duplicate_threshold):
        problems.append(f"near-duplicate texts: {a} and {b} (similarity {score:.2f})")
    return problems


STATS_START = "<!-- statistics: generated by `iesi-nlp corpus card`; do not edit by hand -->"
STATS_END = "<!-- end of statistics -->"


def statistics_markdown(stats: dict[str, Any], codebook: Codebook) -> str:
    """The statistics block of the data card, as Markdown tables."""
    words = stats["words"]
    lines = [
        f"- **{stats['labelled']}** labelled cases and **{stats['pool']}** unlabelled pool cases, "
        f"in **{stats['languages']}** languages and {len(stats['countries'])} countries (or `EU` for multi-country projects).",
        f"- Words per text: min {words['min']}, median {words['median']:.0f}, max {words['max']}; "
        f"{words['under_80']} texts under 80 words, {words['over_1000']} over 1,000.",
        "- Sources: " + ", ".join(f"{name} {count}" for name, count in stats["sources"].items()) + ".",
        "",
        "| language | labelled | pool |",
        "|---|---:|---:|",
    ]
    for language in stats["labelled_by_language"] | stats["pool_by_language"]:
        lines.append(
            f"| {language} | {stats['labelled_by_language'].get(language, 0)} | {stats['pool_by_language'].get(language, 0)} |"
        )
    lines += ["", "| dimension | kind | positive cases per label | labels per case |", "|---|---|---|---:|"]
    for dim in codebook.dimensions:
        counts = stats["labels"][dim.id]
        kind = dim.kind.value + (", ordinal" if dim.ordinal else "")
        labels = ", ".join(f"`{label_id}` {counts[label_id]}" for label_id in dim.label_ids)
        lines.append(f"| `{dim.id}` | {kind} | {labels} | {stats['labels_per_case'][dim.id]} |")
    return "\n".join(lines)


def refresh_data_card(card: Path, block: str) -> bool:
    """Replace the statistics block of a data card; return whether it changed."""
    text = card.read_text(encoding="utf-8")
    if STATS_START not in text or STATS_END not in text:
        raise CorpusError(f"{card}: statistics markers not found; add the lines {STATS_START!r} and {STATS_END!r}")
    head, rest = text.split(STATS_START, 1)
    _, tail = rest.split(STATS_END, 1)
    updated = f"{head}{STATS_START}\n{block}\n{STATS_END}{tail}"
    if updated != text:
        card.write_text(updated, encoding="utf-8")
    return updated != text


def data_card_block(card: Path) -> str:
    """The statistics block currently written in a data card."""
    text = card.read_text(encoding="utf-8")
    return text.split(STATS_START, 1)[1].split(STATS_END, 1)[0].strip("\n")
