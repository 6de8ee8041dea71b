"""`iesi-nlp train FILE...` on the user's labelled files: seed plus own cases, and clear errors on bad input."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from iesi_nlp.cli.main import app
from iesi_nlp.coding.card import read_card
from iesi_nlp.registry import read_history, serving_version, versions
from tests.conftest import DE_TEXT, EN_TEXT, PL_TEXT, write_seed_corpus
from tests.small_corpus import DOMAIN_SENTENCES

runner = CliRunner()
FAST = ["--folds", "3", "--feature-set", "dense", "--min-cases", "5"]


@pytest.fixture
def seed(tmp_path):
    return write_seed_corpus(tmp_path / "seed")


def own_rows() -> list[dict]:
    """Cases labelled on service_domain only (a sentence per domain, reworded so the texts are new)."""
    rows = []
    for domain, sentences in DOMAIN_SENTENCES.items():
        for number, (sentence, _) in enumerate(sentences[:3]):
            rows.append({"id": f"own-{domain}-{number}", "text": f"In our town: {sentence}", "domains": domain})
    return rows


def train(tmp_path, *args):
    return runner.invoke(app, ["train", *args, "--models-dir", str(tmp_path / "models"), *FAST])


def test_train_learns_from_the_seed_and_the_users_labelled_file(tmp_path, seed):
    labelled = tmp_path / "ours.csv"
    pd.DataFrame(own_rows()).to_csv(labelled, index=False)
    result = train(tmp_path, str(labelled), "--seed", str(seed), "--label", "service_domain=domains")
    assert result.exit_code == 0, result.output
    registry = tmp_path / "models" / "default"
    first = serving_version(registry)
    card = read_card(first.path)
    assert card.training_set.seed == 48 and card.training_set.own == 12
    assert card.training_set.size == 60
    assert card.dimensions["service_domain"].labelled_cases == 60  # labelled on one dimension only
    assert card.dimensions["actors"].labelled_cases == 48
    assert "version v0001-" in " ".join(result.output.split())
    # Training again adds a version; the first stays as it was.
    before = (first.path / "classifiers.skops").read_bytes()
    result = train(tmp_path, str(labelled), "--seed", str(seed), "--label", "service_domain=domains")
    assert result.exit_code == 0, result.output
    assert [v.number for v in versions(registry)] == [1, 2] and serving_version(registry).number == 2
    assert (first.path / "classifiers.skops").read_bytes() == before
    assert "iesi-nlp train" in read_history(registry)[-1]["by"]


def test_no_seed_learns_from_the_file_alone(tmp_path):
    labelled = tmp_path / "ours.csv"
    pd.DataFrame(own_rows()).rename(columns={"domains": "service_domain"}).to_csv(labelled, index=False)
    result = train(tmp_path, str(labelled), "--no-seed")
    assert result.exit_code == 0, result.output
    card = read_card(serving_version(tmp_path / "models" / "default").path)
    assert (card.training_set.seed, card.training_set.own) == (0, 12)
    result = train(tmp_path, str(labelled), "--no-seed", "--seed", str(labelled))
    assert result.exit_code == 2 and "not both" in result.output


def assert_nothing_written(tmp_path):
    assert not (tmp_path / "models").exists(), "a failed training must leave no model folder or version"


def test_an_unknown_label_names_the_value_row_file_and_allowed_ids(tmp_path, seed):
    labelled = tmp_path / "ours.csv"
    pd.DataFrame(
        [
            {"id": "a", "text": EN_TEXT, "service_domain": "long_term_care"},
            {"id": "b", "text": DE_TEXT, "service_domain": "elderly"},
        ]
    ).to_csv(labelled, index=False)
    result = train(tmp_path, str(labelled), "--seed", str(seed))
    assert result.exit_code == 2
    message = " ".join(result.output.split())
    assert f"{labelled}: 1 record(s) cannot be used for training, so nothing was trained" in message
    assert f"{labelled} row 2: unknown label 'elderly' for dimension 'service_domain'; allowed: " in message
    assert "long_term_care" in message and "Traceback" not in result.output
    assert_nothing_written(tmp_path)


def test_a_file_whose_columns_match_no_dimension_says_how_to_map_them(tmp_path, seed):
    labelled = tmp_path / "ours.csv"
    pd.DataFrame(
        [{"id": "a", "text": EN_TEXT, "Service Domain": "health"}, {"id": "b", "text": PL_TEXT, "Service Domain": ""}]
    ).to_csv(labelled, index=False)
    result = train(tmp_path, str(labelled), "--seed", str(seed))
    assert result.exit_code == 2
    message = " ".join(result.output.split())
    assert "no column matches a codebook dimension" in message
    assert "columns found: id, text, Service Domain" in message
    assert "dimension ids expected: ict_innovation," in message and "service_domain" in message
    assert "--label service_domain='Service Domain'" in message
    assert_nothing_written(tmp_path)
    result = train(tmp_path, str(labelled), "--seed", str(seed), "--label", "sector=Service Domain")
    assert result.exit_code == 2 and "'sector' is not a dimension" in " ".join(result.output.split())
    assert_nothing_written(tmp_path)


def test_a_file_without_any_labelled_case_is_refused(tmp_path, seed):
    labelled = tmp_path / "ours.csv"
    pd.DataFrame([{"id": "a", "text": EN_TEXT, "service_domain": ""}, {"id": "b", "text": DE_TEXT}]).to_csv(
        labelled, index=False
    )
    result = train(tmp_path, str(labelled), "--seed", str(seed))
    assert result.exit_code == 2
    assert "no labelled case: all 2 case(s) have empty label columns (service_domain)" in " ".join(
        result.output.split()
    )
    assert_nothing_written(tmp_path)
    report = tmp_path / "report.txt"
    report.write_text(EN_TEXT, encoding="utf-8")
    result = train(tmp_path, str(report), "--seed", str(seed))
    assert result.exit_code == 2 and "documents (PDF, DOCX, HTML, TXT) carry no labels" in " ".join(
        result.output.split()
    )
    assert_nothing_written(tmp_path)


def test_train_project_adds_a_version_of_the_projects_model(review_project):
    before = serving_version(review_project.models_dir)
    result = runner.invoke(
        app, ["train", "--project", str(review_project.root), "--folds", "3", "--feature-set", "dense"]
    )
    assert result.exit_code == 0, result.output
    after = serving_version(review_project.models_dir)
    assert after.number == before.number + 1
    assert read_card(after.path).training_set.unlabelled == 4
    result = runner.invoke(app, ["train", "x.csv", "--project", str(review_project.root)])
    assert result.exit_code == 2 and "iesi-nlp add FILE --project" in " ".join(result.output.split())
