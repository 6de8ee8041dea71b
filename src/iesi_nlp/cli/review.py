"""``iesi-nlp review``: start the review screen on this machine."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Annotated

import typer

from iesi_nlp.annotation import DEFAULT_STORE
from iesi_nlp.artifacts import ModelError, read_card
from iesi_nlp.cli.common import console, user_errors
from iesi_nlp.cli.train import _progress
from iesi_nlp.codebook import load_codebook
from iesi_nlp.corpus import bundled_corpus_dir, load_corpus
from iesi_nlp.errors import IesiError
from iesi_nlp.review import APP_SCRIPT, app_environment, streamlit_command
from iesi_nlp.workflow import DEFAULT_MODEL_NAME, DEFAULT_MODELS_DIR, train_and_save


def review_cli(
    model: Annotated[Path, typer.Option("--model", "-m", help="Model folder; trained first if missing.")] = (
        DEFAULT_MODELS_DIR / DEFAULT_MODEL_NAME
    ),
    store: Annotated[Path, typer.Option("--store", help="Annotation database.")] = DEFAULT_STORE,
    port: Annotated[int, typer.Option(help="Port of the screen.")] = 8501,
    host: Annotated[str, typer.Option(help="Address to listen on; 127.0.0.1 keeps it on this machine.")] = "127.0.0.1",
    annotators: Annotated[
        str | None, typer.Option(help="Comma-separated names allowed to annotate (default: anyone by name).")
    ] = None,
    password_env: Annotated[
        str | None,
        typer.Option(help="Name of an environment variable holding the password (kept out of the process list)."),
    ] = None,
    retrain_every: Annotated[
        int, typer.Option(min=1, help="Retrain in the background after this many decisions.")
    ] = 20,
) -> None:
    """Open the review screen: the bundled pool, suggestions, and every decision saved to STORE."""
    with user_errors():
        if not APP_SCRIPT.is_file():
            raise IesiError(f"{APP_SCRIPT}: the review app is missing from this checkout")
        try:
            read_card(model)
        except ModelError:
            console.print(f"no model in {model}: training one on the bundled corpus first")
            codebook = load_codebook()
            train_and_save(
                load_corpus(codebook).labelled, codebook, name=model.name, models_dir=model.parent, progress=_progress
            )
        env = dict(os.environ)
        env.update(app_environment(store.resolve(), model.resolve(), bundled_corpus_dir(), retrain_every))
        if annotators:
            env["IESI_NLP_ANNOTATORS"] = annotators
        if password_env:
            if not os.environ.get(password_env):
                raise IesiError(f"environment variable {password_env} is empty; set the password there first")
            env["IESI_NLP_PASSWORD"] = os.environ[password_env]
    console.print(f"review screen on http://{host}:{port} (Ctrl+C to stop)")
    raise typer.Exit(subprocess.call(streamlit_command(host, port), env=env))
