"""``iesi-nlp quickstart``: the main job on the embedded defaults.

Checks the bundled corpus, trains (or reuses) a model on its labelled part,
classifies its unlabelled pool and prints the evaluation summary, offline. A new
model is a new version in ``models/default``; a serving version that learnt from
the user's own cases is never replaced unless ``--replace`` says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
import typer

from iesi_nlp.bulk import classify_files
from iesi_nlp.cli.common import CodebookOption, codebook_from_option, console, user_errors
from iesi_nlp.cli.train import _progress, print_summary
from iesi_nlp.coding.adaptation import RULE_VERSION
from iesi_nlp.coding.artifacts import training_set_hash
from iesi_nlp.coding.card import ModelCard, read_card
from iesi_nlp.corpus import CorpusRules, check_corpus, load_corpus
from iesi_nlp.embedding import DEFAULT_EMBEDDER
from iesi_nlp.errors import ModelError
from iesi_nlp.registry import current_user, resolve_model_dir
from iesi_nlp.workflow import DEFAULT_MODEL_NAME, DEFAULT_MODELS_DIR, open_suggester, train_and_save


def quickstart_cli(
    corpus: Annotated[Path | None, typer.Option("--corpus", help="Corpus folder; the bundled one by default.")] = None,
    models_dir: Annotated[Path, typer.Option("--models-dir", help="Where the model is saved.")] = DEFAULT_MODELS_DIR,
    output: Annotated[Path, typer.Option("--output", "-o", help="Suggestions for the pool.")] = Path(
        "suggestions/pool.jsonl"
    ),
    retrain: Annotated[bool, typer.Option("--retrain", help="Train even if an up-to-date model exists.")] = False,
    replace: Annotated[
        bool,
        typer.Option(
            "--replace",
            help="Serve a model of the bundled corpus even where the serving one learnt from your own cases "
            "(which stays as a version: `iesi-nlp models serve` brings it back).",
        ),
    ] = False,
    codebook: CodebookOption = None,
) -> None:
    """Train on the bundled corpus and suggest codes for its unlabelled pool (offline, embedded defaults).

    The first run embeds about 550 texts (some minutes on 2 cores); later runs reuse
    the embedding cache and the saved model and take seconds.
    """
    with user_errors():
        cb = codebook_from_option(codebook)
        loaded = load_corpus(cb, corpus)
        problems = check_corpus(loaded, cb, CorpusRules())
        for problem in problems:
            console.print(f"[yellow]![/] corpus: {problem}", highlight=False)
        console.print(
            f"corpus {loaded.directory}: {len(loaded.labelled)} labelled and {len(loaded.pool)} pool cases; "
            f"codebook {cb.id} {cb.version} ({len(cb.dimensions)} dimensions)"
        )
        registry = models_dir / DEFAULT_MODEL_NAME
        serving = _serving(registry)
        own = (serving[1].training_set.own or 0) if serving else 0
        if own and not replace:
            # A model that learnt from the user's own cases is worth more than one of the bundled corpus.
            trained = False
            directory = resolve_model_dir(registry)
            console.print(
                f"{registry} serves {directory.name}, trained with {own} of your own cases: quickstart keeps it "
                "serving (--replace trains on the bundled corpus alone and serves that instead)",
                highlight=False,
            )
        else:
            trained = retrain or replace or not _up_to_date(serving, loaded.labelled, cb.fingerprint)
            if not trained:
                directory = resolve_model_dir(registry)
                console.print(
                    f"model {directory} is up to date with the corpus (use --retrain to train again)", highlight=False
                )
        if trained:
            _, report, directory = train_and_save(
                loaded.labelled,
                cb,
                models_dir=models_dir,
                embedder_spec=DEFAULT_EMBEDDER,
                progress=_progress,
                by=f"{current_user()} (iesi-nlp quickstart)",
                reason="iesi-nlp quickstart on the bundled corpus",
            )
        else:
            report = orjson.loads((directory / "evaluation.json").read_bytes())
        print_summary(report, "Cross-validated metrics on the labelled corpus")
        suggester = open_suggester(directory, codebook=cb)
        model = suggester.model
        pool_dir = loaded.directory / "pool"
        _progress(f"classifying the pool ({len(loaded.pool)} cases) with {model.id}")
        # A new model starts the pool's suggestions afresh; the same model resumes them.
        restart = trained or _written_by_another_model(output, model.id)
        result = classify_files([pool_dir], suggester, output, restart=restart, progress=console.is_terminal)
    done = result.classified + result.resumed
    console.print(f"[green]✓[/] suggestions for {done} pool cases in {output}")
    with output.open("rb") as handle:
        first = orjson.loads(handle.readline())
    console.print(f"\nFirst suggestion ({first['id']}, {first['language']}):")
    for dimension_id, labels in first["labels"].items():
        scores = first["scores"][dimension_id]
        shown = ", ".join(f"{label} {scores[label]:.2f}" for label in labels)
        console.print(f"  {dimension_id:<18} {shown}  [dim]({first['source'][dimension_id]})[/]", highlight=False)
    console.print(
        "\nNext: review your own cases in your browser with [bold]iesi-nlp review --cases YOUR_FILE.csv[/] "
        f"(or the bundled pool with [bold]iesi-nlp review --model {registry}[/], which starts with this model; "
        "it prints the address); "
        f"code your own files with [bold]iesi-nlp classify FILE --model {registry}[/]; "
        f"the model card is {directory / 'model.md'}.",
        highlight=False,
    )


def _serving(registry: Path) -> tuple[Path, ModelCard] | None:
    """The folder and card of the model serving in ``registry`` (None when there is none yet)."""
    try:
        directory = resolve_model_dir(registry)
    except ModelError:
        return None
    return directory, read_card(directory)


def _up_to_date(serving: tuple[Path, ModelCard] | None, labelled, fingerprint: str) -> bool:
    if serving is None:
        return False
    directory, card = serving
    return (
        card.training_set.hash == training_set_hash(labelled)
        and card.codebook.fingerprint == fingerprint
        and card.embedder.spec == DEFAULT_EMBEDDER
        and card.rule_version == RULE_VERSION
        and (directory / "evaluation.json").is_file()
    )


def _written_by_another_model(output: Path, model_id: str) -> bool:
    if not output.is_file():
        return False
    with output.open("rb") as handle:
        first = handle.readline()
    try:
        return orjson.loads(first).get("model") != model_id
    except (orjson.JSONDecodeError, AttributeError):
        return True
