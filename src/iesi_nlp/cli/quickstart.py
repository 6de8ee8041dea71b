"""``iesi-nlp quickstart``: the main job on the embedded defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from iesi_nlp.cli.common import CodebookOption, codebook_from_option, console, user_errors
from iesi_nlp.cli.corpus import print_statistics
from iesi_nlp.corpus import CorpusRules, check_corpus, corpus_statistics, load_corpus


def quickstart_cli(
    corpus: Annotated[Path | None, typer.Option("--corpus", help="Corpus folder; the bundled one by default.")] = None,
    codebook: CodebookOption = None,
) -> None:
    """Ingest and validate the bundled corpus and print its statistics.

    This is the command a newcomer runs first; it needs no network.
    """
    with user_errors():
        cb = codebook_from_option(codebook)
        console.print(f"codebook: {cb.name} ({cb.id} {cb.version}, {len(cb.dimensions)} dimensions)")
        loaded = load_corpus(cb, corpus)
        print_statistics(corpus_statistics(loaded, cb), cb)
        problems = check_corpus(loaded, cb, CorpusRules())
    if problems:
        for problem in problems:
            console.print(f"[red]✗[/] {problem}", highlight=False)
        raise typer.Exit(1)
    console.print(f"[green]✓[/] corpus at {loaded.directory} is valid and keeps every rule")
