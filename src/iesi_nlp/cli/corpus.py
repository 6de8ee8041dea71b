"""``iesi-nlp corpus``: statistics and rule checks of a corpus folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from iesi_nlp.cli.common import CodebookOption, codebook_from_option, console, user_errors
from iesi_nlp.codebook import Codebook
from iesi_nlp.corpus import (
    CorpusRules,
    check_corpus,
    corpus_statistics,
    load_corpus,
    refresh_data_card,
    statistics_markdown,
)
from iesi_nlp.ingest.language import measure_detection

app = typer.Typer(help="Statistics and checks of the seed corpus (or any corpus folder).", no_args_is_help=True)

CorpusOption = Annotated[
    Path | None,
    typer.Option("--corpus", help="Corpus folder with labelled/ and pool/ JSONL files; the bundled corpus by default."),
]


@app.command("stats")
def stats_cli(
    corpus: CorpusOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the statistics as JSON.")] = False,
    langid: Annotated[
        bool, typer.Option("--langid", help="Also measure language detection against the corpus.")
    ] = False,
    codebook: CodebookOption = None,
) -> None:
    """Print sizes, languages, label counts and text lengths of a corpus."""
    with user_errors():
        cb = codebook_from_option(codebook)
        loaded = load_corpus(cb, corpus)
        stats = corpus_statistics(loaded, cb)
        if langid:
            stats["language_detection"] = _detection_summary(loaded.all_cases)
    if as_json:
        console.print_json(json.dumps(stats))
    else:
        print_statistics(stats, cb)


@app.command("check")
def check_cli(corpus: CorpusOption = None, codebook: CodebookOption = None) -> None:
    """Check the corpus rules: unique ids, valid labels, coverage minimums, no near-duplicates."""
    with user_errors():
        cb = codebook_from_option(codebook)
        problems = check_corpus(load_corpus(cb, corpus), cb, CorpusRules())
    for problem in problems:
        console.print(f"[red]✗[/] {problem}", highlight=False)
    if problems:
        raise typer.Exit(1)
    console.print("[green]✓[/] corpus keeps every rule")


@app.command("card")
def card_cli(corpus: CorpusOption = None, codebook: CodebookOption = None) -> None:
    """Rewrite the statistics block of the corpus data card (corpus/README.md) from the data."""
    with user_errors():
        cb = codebook_from_option(codebook)
        loaded = load_corpus(cb, corpus)
        card = loaded.directory / "README.md"
        changed = refresh_data_card(card, statistics_markdown(corpus_statistics(loaded, cb), cb))
    console.print(f"{card}: {'statistics updated' if changed else 'already up to date'}")


def _detection_summary(cases) -> dict:
    result = measure_detection([(c.text, c.language) for c in cases if c.language])
    return {
        "accuracy": round(result.accuracy, 4),
        "correct": result.correct,
        "total": result.total,
        "per_language": {lang: f"{c}/{n}" for lang, (c, n) in result.per_language.items()},
        "confusions": {f"{a}->{b}": n for (a, b), n in result.confusions.items()},
    }


def print_statistics(stats: dict, codebook: Codebook) -> None:
    """The corpus statistics as readable tables."""
    words = stats["words"]
    console.print(
        f"[bold]{stats['labelled']}[/] labelled and [bold]{stats['pool']}[/] pool cases in "
        f"[bold]{stats['languages']}[/] languages; words per text min {words['min']}, "
        f"median {words['median']:.0f}, max {words['max']}; {words['under_80']} under 80 words, "
        f"{words['over_1000']} over 1,000."
    )
    languages = Table(title="Languages")
    languages.add_column("language")
    languages.add_column("labelled", justify="right")
    languages.add_column("pool", justify="right")
    for lang in stats["labelled_by_language"] | stats["pool_by_language"]:
        languages.add_row(
            lang, str(stats["labelled_by_language"].get(lang, 0)), str(stats["pool_by_language"].get(lang, 0))
        )
    console.print(languages)
    labels = Table(title="Positive cases per label (labelled part)")
    labels.add_column("dimension")
    labels.add_column("labels")
    for dim in codebook.dimensions:
        counts = stats["labels"][dim.id]
        labels.add_row(
            f"{dim.id} ({dim.kind.value})", "  ".join(f"{label_id} {counts[label_id]}" for label_id in dim.label_ids)
        )
    console.print(labels)
    console.print("sources: " + ", ".join(f"{k} {v}" for k, v in stats["sources"].items()), highlight=False)
    if "language_detection" in stats:
        detection = stats["language_detection"]
        console.print(
            f"language detection: {detection['correct']}/{detection['total']} correct "
            f"({detection['accuracy']:.1%}); confusions: {detection['confusions'] or 'none'}",
            highlight=False,
        )
