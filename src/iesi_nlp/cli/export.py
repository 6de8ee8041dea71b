"""``iesi-nlp export``: the grown training set (seed corpus plus review decisions) as JSONL or CSV."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from iesi_nlp.annotation import DEFAULT_STORE, AnnotationStore, merge_decisions
from iesi_nlp.cli.common import CodebookOption, codebook_from_option, console, user_errors
from iesi_nlp.errors import InputError
from iesi_nlp.records import write_cases
from iesi_nlp.workflow import load_training_cases

StoreOption = Annotated[Path, typer.Option("--store", help="Annotation database written by the review screen.")]


def export_cli(
    output: Annotated[Path, typer.Option("--output", "-o", help="JSONL, or CSV when it ends in .csv.")] = Path(
        "training.jsonl"
    ),
    store: StoreOption = DEFAULT_STORE,
    seed: Annotated[
        list[Path] | None,
        typer.Option("--seed", help="Labelled cases to start from (default: the bundled corpus)."),
    ] = None,
    no_seed: Annotated[bool, typer.Option("--no-seed", help="Export reviewed cases only.")] = False,
    codebook: CodebookOption = None,
) -> None:
    """Write the training set grown by review: seed cases, with settled review labels winning.

    A dimension is settled when its annotators agree or an adjudicator decided;
    disagreements wait for adjudication. Provenance says which labels came from review.
    """
    with user_errors():
        cb = codebook_from_option(codebook)
        if not store.is_file():
            raise InputError(f"{store}: no annotation database; review some cases first (iesi-nlp review)")
        seed_cases = [] if no_seed else load_training_cases(seed, cb)
        cases = merge_decisions(seed_cases, AnnotationStore(store, cb))
        output.parent.mkdir(parents=True, exist_ok=True)
        if output.suffix.lower() == ".csv":
            rows = []
            for case in cases:
                row = case.model_dump(mode="json", exclude={"labels"})
                row.update({dim: "|".join(case.labels.get(dim, [])) for dim in cb.dimension_ids})
                rows.append(row)
            pd.DataFrame(rows).to_csv(output, index=False)
        else:
            write_cases(cases, output)
    reviewed = sum("review:" in (case.label_provenance or "") for case in cases)
    console.print(f"[green]✓[/] {len(cases)} labelled cases ({reviewed} with review decisions) → {output}")
