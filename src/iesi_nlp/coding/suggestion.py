"""A suggestion: what the model proposes for one case, typed and (de)serialised in one place.

The same objects travel from the model (:meth:`iesi_nlp.coding.model.CodingModel.suggest`)
through :class:`iesi_nlp.suggest.Suggester` to the bulk output (``iesi-nlp classify``), the
review screen, the decision that answers it (its ``shown`` suggestion, in the annotation
store) and the exports. Every one of them writes and reads it with the functions here:

* :meth:`Suggestion.to_record` / :meth:`Suggestion.from_record`: the JSON form of a whole
  case's suggestion, as in the classify output::

      {"labels": {dim: [ids]}, "scores": {dim: {label: p}},
       "source": {dim: "supervised"|"codebook"|"blend"},
       "evidence": {dim: {label: [{"text", "start", "end"}]}}, "model": id, "version": v}

* :meth:`DimensionSuggestion.to_dict` / :meth:`DimensionSuggestion.from_dict`: one
  dimension's part, as a decision stores what was shown on that dimension;
* :func:`csv_columns` / :meth:`Suggestion.csv_cells`: the flat CSV form.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from iesi_nlp.errors import InputError

Source = Literal["supervised", "codebook", "blend", "unknown"]
#: Where a dimension's probabilities came from: the trained classifier alone, the codebook's
#: label descriptions alone, or a blend of both. ``unknown``: a decision recorded before
#: suggestions carried their source.
SOURCES: tuple[Source, ...] = ("supervised", "codebook", "blend", "unknown")


@dataclass(frozen=True)
class Evidence:
    """A sentence of the case that supports a suggested label: its text and character offsets."""

    text: str
    start: int
    end: int

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "start": self.start, "end": self.end}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Evidence:
        return cls(str(data["text"]), int(data["start"]), int(data["end"]))


@dataclass(frozen=True)
class DimensionSuggestion:
    """The model's suggestion on one dimension: decided labels, every label's score, source and evidence."""

    labels: tuple[str, ...]
    #: Probability of every label of the dimension, in codebook order.
    scores: Mapping[str, float]
    source: Source
    #: Suggested label → its supporting sentences, best first (empty when evidence was not asked for).
    evidence: Mapping[str, tuple[Evidence, ...]] = field(default_factory=dict)

    def top(self, n: int = 3) -> list[tuple[str, float]]:
        """The ``n`` best-scored labels with their scores, best first (the runner-ups of a single-label pick)."""
        return sorted(self.scores.items(), key=lambda item: -item[1])[:n]

    def evidence_dict(self) -> dict[str, list[dict[str, Any]]]:
        return {label: [e.to_dict() for e in spans] for label, spans in self.evidence.items()}

    def to_dict(self) -> dict[str, Any]:
        return {
            "labels": list(self.labels),
            "scores": dict(self.scores),
            "source": self.source,
            "evidence": self.evidence_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DimensionSuggestion:
        source = data.get("source") or "unknown"
        return cls(
            labels=tuple(data.get("labels") or ()),
            scores={str(k): float(v) for k, v in (data.get("scores") or {}).items()},
            source=source if source in SOURCES else "unknown",
            evidence={
                str(label): tuple(Evidence.from_dict(e) for e in spans)
                for label, spans in (data.get("evidence") or {}).items()
            },
        )


@dataclass(frozen=True)
class Suggestion:
    """One case's suggestion on every dimension, with the model (id and registry version) that made it."""

    case_id: str
    model_id: str
    dimensions: Mapping[str, DimensionSuggestion]
    #: The registry version that served (``v0003-…``); None for a model folder outside a registry.
    version: str | None = None

    def __getitem__(self, dimension_id: str) -> DimensionSuggestion:
        return self.dimensions[dimension_id]

    @property
    def labels(self) -> dict[str, list[str]]:
        """Dimension → decided labels."""
        return {d: list(s.labels) for d, s in self.dimensions.items()}

    def to_record(self) -> dict[str, Any]:
        """The JSON form (see the module docstring); the case's own fields are the caller's to add."""
        return {
            "labels": {d: list(s.labels) for d, s in self.dimensions.items()},
            "scores": {d: dict(s.scores) for d, s in self.dimensions.items()},
            "source": {d: s.source for d, s in self.dimensions.items()},
            "evidence": {d: s.evidence_dict() for d, s in self.dimensions.items()},
            "model": self.model_id,
            "version": self.version,
        }

    @classmethod
    def from_record(cls, data: Mapping[str, Any], *, where: str = "suggestion") -> Suggestion:
        """Read :meth:`to_record`'s form (the case id from ``id`` or ``case_id``); a clear error if it is not one."""
        try:
            labels = data["labels"]
            dimensions = {
                d: DimensionSuggestion.from_dict(
                    {
                        "labels": labels[d],
                        "scores": data["scores"][d],
                        "source": (data.get("source") or {}).get(d),
                        "evidence": (data.get("evidence") or {}).get(d),
                    }
                )
                for d in labels
            }
            return cls(
                str(data.get("id", data.get("case_id", ""))), str(data["model"]), dimensions, data.get("version")
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InputError(f"{where}: not a suggestion record ({type(exc).__name__}: {exc})") from None

    def csv_cells(self, dimensions: Mapping[str, Sequence[str]]) -> list[Any]:
        """Cells under :func:`csv_columns` of ``dimensions`` (dimension id → label ids, codebook order)."""
        row: list[Any] = [self.model_id]
        for dimension_id, label_ids in dimensions.items():
            part = self.dimensions[dimension_id]
            row += ["|".join(part.labels), part.source]
            row += [part.scores[label] for label in label_ids]
        row.append(orjson.dumps({d: s.evidence_dict() for d, s in self.dimensions.items()}).decode())
        return row


def csv_columns(dimensions: Mapping[str, Sequence[str]]) -> list[str]:
    """The CSV form's columns: ``model``, then per dimension ``labels.<dim>`` (ids joined by ``|``),
    ``source.<dim>`` and ``score.<dim>.<label>`` for every label, then ``evidence`` (JSON)."""
    header = ["model"]
    for dimension_id, label_ids in dimensions.items():
        header += [f"labels.{dimension_id}", f"source.{dimension_id}"]
        header += [f"score.{dimension_id}.{label}" for label in label_ids]
    return [*header, "evidence"]
