from iesi_nlp.cli.main import app

app()
