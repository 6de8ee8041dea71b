"""Entry point of the ``iesi-nlp`` console script."""

from __future__ import annotations

import typer

from iesi_nlp import __version__
from iesi_nlp.cli import codebook, corpus, models
from iesi_nlp.cli.add import add_cli
from iesi_nlp.cli.classify import classify_cli
from iesi_nlp.cli.export import export_cli
from iesi_nlp.cli.ingest import ingest_cli
from iesi_nlp.cli.quickstart import quickstart_cli
from iesi_nlp.cli.review import review_cli
from iesi_nlp.cli.train import evaluate_cli, train_cli

app = typer.Typer(
    name="iesi-nlp",
    help=(
        "Suggest IESI codes for case descriptions of ICT-enabled social innovation.\n\n"
        "Start with 'iesi-nlp quickstart'. Review your own cases with 'iesi-nlp review --cases FILE' (a project "
        "folder keeps them, your decisions and the model versions), train on your labelled files with "
        "'iesi-nlp train FILE' and code new cases with 'iesi-nlp classify FILE_OR_FOLDER'."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
app.command("quickstart")(quickstart_cli)
app.command("ingest")(ingest_cli)
app.command("train")(train_cli)
app.command("evaluate")(evaluate_cli)
app.command("classify")(classify_cli)
app.command("export")(export_cli)
app.command("review")(review_cli)
app.command("add")(add_cli)
app.add_typer(models.app, name="models")
app.add_typer(corpus.app, name="corpus")
app.add_typer(codebook.app, name="codebook")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"iesi-nlp {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """Suggest IESI codes for case descriptions of ICT-enabled social innovation."""


if __name__ == "__main__":
    app()
