"""The codebook file: the contract's ids, and precise errors for broken codebooks."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from iesi_nlp.codebook import DimensionKind, load_codebook
from iesi_nlp.errors import CodebookError, LabelError

# The label contract of ../shared/spec/codebook-v1.md, copied by hand on purpose:
# if the data file drifts from the contract, this test must fail.
CONTRACT = {
    "ict_innovation": ("single", ["incremental", "sustaining", "disruptive", "transformative"]),
    "si_elements": ("multi", ["needs_driven", "collaborative_networks", "institutional_change", "public_value"]),
    "integration_level": ("single", ["separate", "intra_governmental", "inter_governmental", "cross_sector", "broad"]),
    "integration_type": ("multi", ["funding", "administrative", "organisational", "service_delivery"]),
    "sip_objectives": (
        "multi",
        [
            "integrated_provision",
            "cost_effectiveness",
            "access_quality",
            "simplified_delivery",
            "return_on_investment",
            "skills_jobs",
            "policy_reform",
        ],
    ),
    "service_domain": (
        "multi",
        [
            "education",
            "health",
            "employment",
            "social_inclusion",
            "long_term_care",
            "children_families",
            "housing",
            "migration",
            "local_development",
        ],
    ),
    "actors": ("multi", ["public", "private", "third_sector", "citizens"]),
}


def test_bundled_codebook_matches_the_contract(codebook):
    assert list(codebook.dimension_ids) == list(CONTRACT)
    for dim in codebook.dimensions:
        kind, labels = CONTRACT[dim.id]
        assert dim.kind.value == kind
        assert list(dim.label_ids) == labels
    assert codebook.dimension("integration_level").ordinal
    assert not codebook.dimension("ict_innovation").ordinal


def test_every_label_has_guidance(codebook):
    for dim in codebook.dimensions:
        assert dim.definition and dim.name
        for label in dim.labels:
            assert len(label.definition) > 30, f"{dim.id}/{label.id} definition too thin"
            assert 1 <= len(label.examples) <= 3, f"{dim.id}/{label.id} needs one to three examples"
            assert label.include or label.exclude, f"{dim.id}/{label.id} needs inclusion or exclusion notes"


def test_validate_labels_orders_and_rejects(codebook):
    dim = codebook.dimension("service_domain")
    assert dim.validate_labels(["housing", "health"]) == ["health", "housing"]
    with pytest.raises(
        LabelError, match=r"unknown label 'healthcare' for dimension 'service_domain'; allowed: education"
    ):
        dim.validate_labels(["healthcare"])
    with pytest.raises(LabelError, match="single-label"):
        codebook.dimension("ict_innovation").validate_labels(["incremental", "disruptive"])
    with pytest.raises(LabelError, match="unknown dimension 'domain'"):
        codebook.validate_labels({"domain": ["health"]})


def _bundled_text() -> str:
    from importlib import resources

    return resources.files("iesi_nlp.codebooks").joinpath("iesi-v1.yaml").read_text(encoding="utf-8")


def _write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "codebook.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda d: d["dimensions"][0].__setitem__("kind", "multiple"),
            r"dimension 'ict_innovation': unknown kind 'multiple'; allowed: single, multi",
        ),
        (
            lambda d: d["dimensions"][1].__setitem__("id", "ict_innovation"),
            r"dimension 'ict_innovation': duplicate dimension id",
        ),
        (
            lambda d: d["dimensions"][0]["labels"][1].__setitem__("id", "incremental"),
            r"label 'incremental': duplicate label id",
        ),
        (
            lambda d: d["dimensions"][0]["labels"][2].__setitem__("definition", "  "),
            r"dimension 'ict_innovation' label 'disruptive'.definition: must be a non-empty text",
        ),
        (
            lambda d: d["dimensions"][3].__setitem__("ordinal", True),
            r"dimension 'integration_type': an ordinal dimension must be single-label",
        ),
        (
            lambda d: d["dimensions"][0]["labels"][0].__setitem__("id", "Incremental Innovation"),
            r"id must be lower-case",
        ),
        (lambda d: d.__setitem__("dimensions", []), r"'dimensions' must be a non-empty list"),
    ],
)
def test_broken_codebook_names_file_and_entry(tmp_path, mutate, message):
    data = yaml.safe_load(_bundled_text())
    mutate(data)
    path = _write(tmp_path, data)
    with pytest.raises(CodebookError, match=message) as info:
        load_codebook(path)
    assert str(path) in str(info.value)


def test_missing_and_invalid_files(tmp_path):
    with pytest.raises(CodebookError, match="codebook file not found"):
        load_codebook(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("codebook: [unclosed", encoding="utf-8")
    with pytest.raises(CodebookError, match="not valid YAML"):
        load_codebook(bad)


OTHER_FRAMEWORK = {
    "codebook": {"id": "sdg_lite", "version": "0.1", "name": "Two SDGs"},
    "dimensions": [
        {
            "id": "goal",
            "name": "Goal",
            "kind": "single",
            "definition": "Which sustainable development goal the project serves.",
            "labels": [
                {"id": "no_poverty", "name": "No poverty", "definition": "End poverty in all its forms."},
                {"id": "good_health", "name": "Good health", "definition": "Healthy lives and well-being."},
            ],
        }
    ],
}


def test_another_framework_loads(tmp_path):
    cb = load_codebook(_write(tmp_path, OTHER_FRAMEWORK))
    assert cb.id == "sdg_lite"
    assert cb.dimension("goal").kind is DimensionKind.SINGLE
    assert cb.fingerprint != load_codebook().fingerprint
