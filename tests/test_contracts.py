"""The contracts between layers: typed suggestions, cards and decisions, agreement figures checked by hand."""

from __future__ import annotations

import ast
import io
import zipfile
from pathlib import Path

import pytest

from iesi_nlp.annotation.agreement import NO_DOUBLE_CODING, krippendorff_alpha, override_rates
from iesi_nlp.annotation.store import Action, Decision
from iesi_nlp.codebook import load_codebook
from iesi_nlp.coding import artifacts
from iesi_nlp.coding.card import ModelCard
from iesi_nlp.coding.suggestion import DimensionSuggestion, Evidence, Suggestion, csv_columns
from iesi_nlp.embedding.cache import CachedEmbedder, EmbeddingCache
from iesi_nlp.errors import InputError
from iesi_nlp.records import Case
from iesi_nlp.suggest import Suggester
from iesi_nlp.workflow import open_suggester

SRC = Path(__file__).resolve().parents[1] / "src" / "iesi_nlp"


def labelled(case_id, dimension, labels, who, action=Action.ACCEPTED, shown=None):
    return Decision(case_id, dimension, tuple(labels), action, who, shown=shown)


def test_krippendorff_alpha_matches_a_hand_computation():
    codebook = load_codebook()
    # integration_level, two coders, four cases: (separate, separate), (separate, broad), (broad, broad) twice.
    # Coincidences: o(s,s)=2, o(s,b)=o(b,s)=1, o(b,b)=4; n_s=3, n_b=5, n=8.
    # D_o = 2/8; D_e = 2*3*5/(8*7) = 30/56; alpha = 1 - (2/8)/(30/56) = 8/15.
    pairs = [("separate", "separate"), ("separate", "broad"), ("broad", "broad"), ("broad", "broad")]
    decisions = [
        labelled(f"c{i}", "integration_level", [label], who)
        for i, pair in enumerate(pairs)
        for who, label in zip(("anna", "ben"), pair, strict=True)
    ]
    # actors (multi-label), two cases: public: (1,1),(0,0) -> alpha 1; private: (0,1),(0,0) ->
    # o(0,1)=o(1,0)=1, o(0,0)=2, n=4, D_o=2/4, D_e=2*3*1/(4*3)=1/2 -> alpha 0; citizens: (0,0),(1,1) -> 1.
    # Labels nobody used have no variation and are left out: mean (1 + 0 + 1) / 3.
    decisions += [
        labelled("m1", "actors", ["public"], "anna"),
        labelled("m1", "actors", ["public", "private"], "ben"),
        labelled("m2", "actors", ["citizens"], "anna"),
        labelled("m2", "actors", ["citizens"], "ben"),
    ]
    results = {a.dimension: a for a in krippendorff_alpha(decisions, codebook)}
    assert results["integration_level"].alpha == pytest.approx(8 / 15)
    assert (results["integration_level"].cases, results["integration_level"].annotators) == (4, 2)
    assert results["actors"].alpha == pytest.approx(2 / 3)
    # No doubly coded case: no number, and the reason instead of None.
    assert results["service_domain"].alpha is None and results["service_domain"].shown == NO_DOUBLE_CODING


def test_override_rates_match_a_hand_count():
    def shown(*labels):
        return DimensionSuggestion(tuple(labels), {}, "supervised")

    decisions = [
        labelled("a", "service_domain", ["health"], "anna", Action.ACCEPTED, shown("health")),
        labelled("b", "service_domain", ["education"], "anna", Action.CORRECTED, shown("health")),
        labelled("c", "actors", ["public", "private"], "ben", Action.CORRECTED, shown("public")),
        labelled("d", "actors", [], "ben", Action.SKIPPED, shown("public")),  # not an answer: left out
    ]
    rates = {(r.dimension, r.label): r for r in override_rates(decisions)}
    # health: suggested twice, kept once, removed once -> (1 + 0) / 2.
    health = rates[("service_domain", "health")]
    assert (health.suggested, health.kept, health.removed, health.added, health.override_rate) == (2, 1, 1, 0, 0.5)
    assert rates[("service_domain", "education")].override_rate == 1.0  # added by hand, never suggested
    assert rates[("actors", "public")].override_rate == 0.0 and rates[("actors", "public")].suggested == 1
    assert rates[("actors", "private")].added == 1 and rates[("actors", "private")].override_rate == 1.0


def test_a_suggestion_reads_back_from_its_record_and_bad_records_say_where():
    suggestion = Suggestion(
        "c1",
        "m@1",
        {
            "service_domain": DimensionSuggestion(
                ("health",),
                {"health": 0.7, "education": 0.2, "housing": 0.1},
                "blend",
                {"health": (Evidence("Nurses visit.", 0, 13),)},
            )
        },
        "v0002-abc",
    )
    record = {"id": "c1", **suggestion.to_record()}
    assert Suggestion.from_record(record) == suggestion
    assert suggestion["service_domain"].top(2) == [("health", 0.7), ("education", 0.2)]
    labels = {"service_domain": ["health", "education", "housing"]}
    assert csv_columns(labels)[:3] == ["model", "labels.service_domain", "source.service_domain"]
    assert len(suggestion.csv_cells(labels)) == len(csv_columns(labels))
    with pytest.raises(InputError, match=r"out\.jsonl line 3: not a suggestion record"):
        Suggestion.from_record({"id": "c1", "labels": {"service_domain": ["health"]}}, where="out.jsonl line 3")


def test_the_suggester_looks_each_text_up_in_the_cache_once(trained, tmp_path, monkeypatch):
    _, _, directory = trained
    suggester = open_suggester(directory)
    embedder = CachedEmbedder(suggester.embedder.inner, EmbeddingCache(tmp_path / "cache.sqlite"))
    lookups = []
    real = embedder.cache.get_many
    monkeypatch.setattr(embedder.cache, "get_many", lambda *a, **k: lookups.append(len(a[1])) or real(*a, **k))
    own = Suggester(suggester.model, embedder)
    cases = [Case(id="a", text="A video clinic for patients at home."), Case(id="b", text="Jobs for young people.")]
    own.suggest(cases)
    assert lookups == [2] and (own.stats.embedded, own.stats.cached) == (2, 0)
    own.suggest(cases)
    assert lookups == [2, 2] and (own.stats.embedded, own.stats.cached) == (2, 2)


def test_opening_a_model_reads_its_card_once(trained, monkeypatch):
    _, _, directory = trained
    reads = []
    real = ModelCard.from_json.__func__
    monkeypatch.setattr(ModelCard, "from_json", classmethod(lambda cls, *a, **k: reads.append(1) or real(cls, *a, **k)))
    open_suggester(directory)
    assert len(reads) == 1


def test_models_saved_before_the_coding_package_still_load(trained, tmp_path):
    _, _, directory = trained
    path = directory / "classifiers.skops"
    with zipfile.ZipFile(path) as archive:
        schema = archive.read("schema.json").decode()
        assert '"__module__": "iesi_nlp.coding.classifiers"' in schema
        old = io.BytesIO()
        with zipfile.ZipFile(old, "w") as renamed:
            for item in archive.infolist():
                data = archive.read(item.filename)
                if item.filename == "schema.json":
                    data = schema.replace("iesi_nlp.coding.classifiers", "iesi_nlp.classifiers").encode()
                renamed.writestr(item, data)
    legacy = tmp_path / "legacy.skops"
    legacy.write_bytes(old.getvalue())
    loaded = artifacts._load_classifiers(legacy)
    assert type(loaded["classifiers"]["service_domain"]).__module__ == "iesi_nlp.coding.classifiers"


def test_every_exception_class_lives_in_errors():
    defined = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and any(
                getattr(base, "id", "").endswith(("Error", "Exception")) for base in node.bases
            ):
                defined.append((path.relative_to(SRC).as_posix(), node.name))
    assert defined and {path for path, _ in defined} == {"errors.py"}, defined
