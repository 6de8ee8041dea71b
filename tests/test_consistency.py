"""Codebook rules between dimensions: parsed and checked, kept by the model when it is confident, warned about."""

from __future__ import annotations

import pytest

from iesi_nlp.codebook import load_codebook
from iesi_nlp.coding.consistency import enforce_rules
from iesi_nlp.coding.suggestion import DimensionSuggestion, Suggestion
from iesi_nlp.errors import CodebookError

RULES_YAML = """
rules:
  - id: cross_sector_needs_a_non_public_actor
    if: {integration_level: cross_sector}
    then: {actors: [private, third_sector]}
"""


def bundled_with(tmp_path, rules: str):
    text = load_codebook().source_text.split("\nrules:")[0] + "\n" + rules
    path = tmp_path / "codebook.yaml"
    path.write_text(text, encoding="utf-8")
    return load_codebook(path)


def test_the_bundled_codebook_declares_the_rules_the_issue_measured():
    described = [rule.describe() for rule in load_codebook().rules]
    assert described == [
        "integration_level = cross_sector implies actors includes private or third_sector",
        "integration_level = broad implies actors includes citizens",
        "integration_level = intra_governmental implies actors includes public",
        "integration_level = inter_governmental implies actors includes public",
    ]


def test_a_codebook_without_rules_works_as_before(tmp_path):
    codebook = bundled_with(tmp_path, "")
    assert codebook.rules == () and codebook.violations({"integration_level": ["broad"]}) == []
    assert codebook.fingerprint == load_codebook().fingerprint  # rules do not change what a model can code


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        (
            "rules:\n  - id: r\n    if: {integration_level: cross_sector}\n    then: {actors: [privat]}\n",
            "rule 'r' 'then': unknown label 'privat' for dimension 'actors'; allowed: public, private, third_sector",
        ),
        (
            "rules:\n  - id: r\n    if: {governance: broad}\n    then: {actors: citizens}\n",
            "rule 'r' 'if': unknown dimension 'governance'",
        ),
        (
            "rules:\n  - id: r\n    if: {integration_level: [broad, cross_sector]}\n    then: {actors: citizens}\n",
            "rule 'r' 'if': name one label",
        ),
        ("rules: {id: r}\n", "'rules' must be a list"),
        (
            "rules:\n  - id: r\n    if: {integration_level: broad}\n    then: {actors: citizens}\n    confident: 2\n",
            "'confident' must be a score above 0 and at most 1",
        ),
    ],
)
def test_a_bad_rule_gets_a_clear_error_naming_it(tmp_path, rules, message):
    with pytest.raises(CodebookError, match=r"codebook\.yaml: ") as raised:
        bundled_with(tmp_path, rules)
    assert message in str(raised.value)


def suggestion(level: str, level_score: float, actors: tuple[str, ...]) -> Suggestion:
    codebook = load_codebook()
    level_scores = {label: 0.0 for label in codebook.dimension("integration_level").label_ids}
    level_scores[level] = level_score
    actor_scores = {"public": 0.9, "private": 0.2, "third_sector": 0.35, "citizens": 0.1}
    return Suggestion(
        "c1",
        "m",
        {
            "integration_level": DimensionSuggestion((level,), level_scores, "supervised"),
            "actors": DimensionSuggestion(actors, actor_scores, "supervised"),
        },
    )


def test_a_confident_premise_brings_its_best_conclusion_label():
    fixed = enforce_rules(suggestion("cross_sector", 0.85, ("public",)), load_codebook())
    assert fixed.dimensions["actors"].labels == ("public", "third_sector")  # third_sector outscores private
    assert fixed.dimensions["actors"].scores["third_sector"] == 0.35  # the score stays the model's
    assert load_codebook().violations({d: p.labels for d, p in fixed.dimensions.items()}) == []


def test_an_unsure_premise_or_a_kept_rule_changes_nothing():
    unsure = suggestion("cross_sector", 0.6, ("public",))
    assert enforce_rules(unsure, load_codebook()) is unsure
    kept = suggestion("cross_sector", 0.95, ("public", "private"))
    assert enforce_rules(kept, load_codebook()) is kept


def test_every_suggestion_the_product_makes_keeps_a_confident_rule(trained, tmp_path):
    from iesi_nlp.records import Case
    from iesi_nlp.workflow import open_suggester
    from tests.small_corpus import small_cases

    _, _, directory = trained
    rule = (
        "rules:\n  - id: health_with_citizens\n    if: {service_domain: health}\n"
        "    then: {actors: [citizens]}\n    confident: 0.01\n"
    )
    suggester = open_suggester(directory, codebook=bundled_with(tmp_path, rule))
    cases = [Case(id=c.id, text=c.text, language=c.language) for c in small_cases()]
    suggestions = suggester.suggest(cases)
    with_health = [s for s in suggestions if "health" in s["service_domain"].labels]
    assert with_health, "the small model should code some cases as health"
    assert all("citizens" in s["actors"].labels for s in with_health)
