"""The codebook: dimensions and labels of an analytical framework, loaded from YAML.

Nothing downstream hard-codes a dimension or label id: everything reads a
:class:`Codebook`, so a user can point the tool at another framework's file.

>>> cb = load_codebook()  # the bundled IESI codebook
>>> cb.dimension("ict_innovation").label_ids
('incremental', 'sustaining', 'disruptive', 'transformative')
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from iesi_nlp.errors import CodebookError, LabelError

DEFAULT_CODEBOOK = "iesi-v1.yaml"
_ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")


class DimensionKind(StrEnum):
    """How many labels a case takes on a dimension."""

    SINGLE = "single"
    MULTI = "multi"


@dataclass(frozen=True)
class Label:
    """One code of a dimension, with the guidance an annotator needs."""

    id: str
    name: str
    definition: str
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()


@dataclass(frozen=True)
class Dimension:
    """A coding question with its labels, in the order the contract fixes."""

    id: str
    name: str
    kind: DimensionKind
    ordinal: bool
    question: str
    definition: str
    labels: tuple[Label, ...]

    @cached_property  # read in inner loops (scores per case and label)
    def label_ids(self) -> tuple[str, ...]:
        return tuple(label.id for label in self.labels)

    @property
    def multi_label(self) -> bool:
        return self.kind is DimensionKind.MULTI

    def label(self, label_id: str) -> Label:
        for label in self.labels:
            if label.id == label_id:
                return label
        raise LabelError(f"unknown label {label_id!r} for dimension {self.id!r}; allowed: {', '.join(self.label_ids)}")

    def validate_labels(self, values: Iterable[str], *, where: str = "") -> list[str]:
        """Check a case's labels on this dimension; return them in codebook order.

        Raises :class:`LabelError` naming the bad value and the allowed ones.
        """
        prefix = f"{where}: " if where else ""
        values = list(values)
        unknown = [v for v in values if v not in self.label_ids]
        if unknown:
            raise LabelError(
                f"{prefix}unknown label {unknown[0]!r} for dimension {self.id!r}; allowed: {', '.join(self.label_ids)}"
            )
        if not self.multi_label and len(set(values)) > 1:
            raise LabelError(
                f"{prefix}dimension {self.id!r} is single-label but got {len(set(values))} labels: {', '.join(values)}"
            )
        chosen = set(values)
        return [label_id for label_id in self.label_ids if label_id in chosen]


#: A rule's premise counts as confident at this score unless the rule says otherwise.
DEFAULT_CONFIDENT = 0.8


@dataclass(frozen=True)
class Rule:
    """A soft rule between dimensions: a case with ``premise_label`` on ``premise_dimension`` should have
    at least one of ``conclusion_labels`` on ``conclusion_dimension``.

    Soft: people may break it (the screen warns); the model never does when its premise
    scores at least ``confident`` (:mod:`iesi_nlp.coding.consistency`).
    """

    id: str
    premise_dimension: str
    premise_label: str
    conclusion_dimension: str
    conclusion_labels: tuple[str, ...]
    note: str = ""
    confident: float = DEFAULT_CONFIDENT

    def applies(self, labels: Mapping[str, Iterable[str]]) -> bool:
        return self.premise_label in labels.get(self.premise_dimension, ())

    def violated_by(self, labels: Mapping[str, Iterable[str]]) -> bool:
        """The premise holds and no conclusion label is there."""
        present = set(labels.get(self.conclusion_dimension, ()))
        return self.applies(labels) and not present.intersection(self.conclusion_labels)

    def describe(self) -> str:
        either = " or ".join(self.conclusion_labels)
        return f"{self.premise_dimension} = {self.premise_label} implies {self.conclusion_dimension} includes {either}"


@dataclass(frozen=True)
class Codebook:
    """A versioned set of dimensions. Load it with :func:`load_codebook`."""

    id: str
    version: str
    name: str
    description: str
    dimensions: tuple[Dimension, ...]
    path: Path | None = field(default=None, compare=False)
    #: The YAML it was read from (saved with every model, so a model carries its codebook).
    source_text: str = field(default="", compare=False, repr=False)
    #: Soft rules between dimensions (none by default; they do not change what a model can code).
    rules: tuple[Rule, ...] = ()

    @property
    def dimension_ids(self) -> tuple[str, ...]:
        return tuple(d.id for d in self.dimensions)

    @cached_property
    def fingerprint(self) -> str:
        """A short hash of the ids and kinds: changes when a model would no longer fit."""
        shape = [(d.id, d.kind.value, d.ordinal, d.label_ids) for d in self.dimensions]
        return hashlib.sha256(repr((self.id, self.version, shape)).encode()).hexdigest()[:16]

    def dimension(self, dimension_id: str) -> Dimension:
        for dim in self.dimensions:
            if dim.id == dimension_id:
                return dim
        raise LabelError(
            f"unknown dimension {dimension_id!r} in codebook {self.id!r} {self.version}; "
            f"allowed: {', '.join(self.dimension_ids)}"
        )

    def violations(self, labels: Mapping[str, Iterable[str]]) -> list[Rule]:
        """The rules a case's labels break (empty when they break none, or the codebook has none)."""
        labels = {dimension_id: tuple(values) for dimension_id, values in labels.items()}
        return [rule for rule in self.rules if rule.violated_by(labels)]

    def validate_labels(self, labels: Mapping[str, Iterable[str]], *, where: str = "") -> dict[str, list[str]]:
        """Validate a case's labels on every dimension it names; drop empty ones."""
        clean: dict[str, list[str]] = {}
        for dim_id, values in labels.items():
            try:
                dim = self.dimension(dim_id)
            except LabelError as exc:
                raise LabelError(f"{where}: {exc}" if where else str(exc)) from None
            checked = dim.validate_labels(values, where=where)
            if checked:
                clean[dim_id] = checked
        return clean


def load_codebook(path: str | Path | None = None) -> Codebook:
    """Load and validate a codebook YAML file; the bundled IESI v1 codebook by default.

    Raises :class:`CodebookError` naming the file and the offending entry.
    """
    if path is None:
        source = resources.files("iesi_nlp.codebooks").joinpath(DEFAULT_CODEBOOK)
        text = source.read_text(encoding="utf-8")
        where = f"bundled codebook {DEFAULT_CODEBOOK}"
        file_path = None
    else:
        file_path = Path(path)
        where = str(file_path)
        try:
            text = file_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise CodebookError(f"{where}: codebook file not found") from None
        except UnicodeDecodeError as exc:
            raise CodebookError(f"{where}: codebook is not UTF-8 ({exc.reason})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CodebookError(f"{where}: not valid YAML: {exc}") from None
    return replace(_parse_codebook(data, where=where, path=file_path), source_text=text)


def _parse_codebook(data: Any, *, where: str, path: Path | None) -> Codebook:
    if not isinstance(data, dict):
        raise CodebookError(f"{where}: expected a mapping with 'codebook' and 'dimensions'")
    meta = _mapping(data.get("codebook"), f"{where}: codebook")
    codebook_id = _identifier(meta.get("id"), f"{where}: codebook.id")
    version = _text(meta.get("version"), f"{where}: codebook.version")
    raw_dims = data.get("dimensions")
    if not isinstance(raw_dims, list) or not raw_dims:
        raise CodebookError(f"{where}: 'dimensions' must be a non-empty list")
    dimensions = []
    seen_dims: set[str] = set()
    for index, raw in enumerate(raw_dims):
        entry = f"{where}: dimensions[{index}]"
        raw = _mapping(raw, entry)
        dim_id = _identifier(raw.get("id"), f"{entry}.id")
        entry = f"{where}: dimension {dim_id!r}"
        if dim_id in seen_dims:
            raise CodebookError(f"{entry}: duplicate dimension id")
        seen_dims.add(dim_id)
        dimensions.append(_parse_dimension(raw, dim_id, entry))
    return Codebook(
        id=codebook_id,
        version=version,
        name=_text(meta.get("name", codebook_id), f"{where}: codebook.name"),
        description=str(meta.get("description") or "").strip(),
        dimensions=tuple(dimensions),
        path=path,
        rules=_parse_rules(data.get("rules"), {d.id: d for d in dimensions}, where),
    )


def _parse_rules(raw: Any, dimensions: Mapping[str, Dimension], where: str) -> tuple[Rule, ...]:
    """``rules: [{id, if: {DIMENSION: LABEL}, then: {DIMENSION: [LABEL, ...]}, note, confident}]``."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise CodebookError(f"{where}: 'rules' must be a list")
    rules: list[Rule] = []
    for index, entry in enumerate(raw):
        entry = _mapping(entry, f"{where}: rules[{index}]")
        rule_id = _identifier(entry.get("id"), f"{where}: rules[{index}].id")
        at = f"{where}: rule {rule_id!r}"
        if rule_id in {rule.id for rule in rules}:
            raise CodebookError(f"{at}: duplicate rule id")
        premise_dimension, premise_labels = _rule_side(entry.get("if"), dimensions, f"{at} 'if'")
        if len(premise_labels) != 1:
            raise CodebookError(f"{at} 'if': name one label (a rule per premise), got {', '.join(premise_labels)}")
        conclusion_dimension, conclusion_labels = _rule_side(entry.get("then"), dimensions, f"{at} 'then'")
        confident = entry.get("confident", DEFAULT_CONFIDENT)
        if not isinstance(confident, int | float) or not 0.0 < confident <= 1.0:
            raise CodebookError(f"{at}: 'confident' must be a score above 0 and at most 1, got {confident!r}")
        rules.append(
            Rule(
                rule_id,
                premise_dimension,
                premise_labels[0],
                conclusion_dimension,
                conclusion_labels,
                str(entry.get("note") or "").strip(),
                float(confident),
            )
        )
    return tuple(rules)


def _rule_side(raw: Any, dimensions: Mapping[str, Dimension], at: str) -> tuple[str, tuple[str, ...]]:
    """One side of a rule, ``{DIMENSION: LABEL or [LABELS]}``, checked against the codebook."""
    if not isinstance(raw, dict) or len(raw) != 1:
        raise CodebookError(f"{at}: expected one 'dimension: label(s)' pair, got {raw!r}")
    ((dimension_id, values),) = raw.items()
    if dimension_id not in dimensions:
        raise CodebookError(f"{at}: unknown dimension {dimension_id!r}; dimensions: {', '.join(dimensions)}")
    values = [values] if isinstance(values, str) else values
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise CodebookError(f"{at}: {dimension_id}: expected a label or a list of labels, got {values!r}")
    allowed = dimensions[dimension_id].label_ids
    for value in values:
        if value not in allowed:
            raise CodebookError(
                f"{at}: unknown label {value!r} for dimension {dimension_id!r}; allowed: {', '.join(allowed)}"
            )
    return dimension_id, tuple(values)


def _parse_dimension(raw: dict, dim_id: str, entry: str) -> Dimension:
    kind_value = raw.get("kind")
    try:
        kind = DimensionKind(kind_value)
    except ValueError:
        allowed = ", ".join(k.value for k in DimensionKind)
        raise CodebookError(f"{entry}: unknown kind {kind_value!r}; allowed: {allowed}") from None
    ordinal = raw.get("ordinal", False)
    if not isinstance(ordinal, bool):
        raise CodebookError(f"{entry}: 'ordinal' must be true or false, got {ordinal!r}")
    if ordinal and kind is DimensionKind.MULTI:
        raise CodebookError(f"{entry}: an ordinal dimension must be single-label")
    raw_labels = raw.get("labels")
    if not isinstance(raw_labels, list) or len(raw_labels) < 2:
        raise CodebookError(f"{entry}: 'labels' must list at least two labels")
    labels = []
    seen: set[str] = set()
    for index, raw_label in enumerate(raw_labels):
        label_entry = f"{entry} labels[{index}]"
        raw_label = _mapping(raw_label, label_entry)
        label_id = _identifier(raw_label.get("id"), f"{label_entry}.id")
        label_entry = f"{entry} label {label_id!r}"
        if label_id in seen:
            raise CodebookError(f"{label_entry}: duplicate label id")
        seen.add(label_id)
        labels.append(
            Label(
                id=label_id,
                name=_text(raw_label.get("name"), f"{label_entry}.name"),
                definition=_text(raw_label.get("definition"), f"{label_entry}.definition"),
                include=_strings(raw_label.get("include"), f"{label_entry}.include"),
                exclude=_strings(raw_label.get("exclude"), f"{label_entry}.exclude"),
                examples=_strings(raw_label.get("examples"), f"{label_entry}.examples"),
            )
        )
    return Dimension(
        id=dim_id,
        name=_text(raw.get("name"), f"{entry}.name"),
        kind=kind,
        ordinal=ordinal,
        question=str(raw.get("question") or "").strip(),
        definition=_text(raw.get("definition"), f"{entry}.definition"),
        labels=tuple(labels),
    )


def _mapping(value: Any, where: str) -> dict:
    if not isinstance(value, dict):
        raise CodebookError(f"{where}: expected a mapping, got {type(value).__name__}")
    return value


def _identifier(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _ID_PATTERN.match(value):
        raise CodebookError(
            f"{where}: id must be lower-case letters, digits and underscores starting with a letter, got {value!r}"
        )
    return value


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str | int | float) or not str(value).strip():
        raise CodebookError(f"{where}: must be a non-empty text")
    return str(value).strip()


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise CodebookError(f"{where}: must be a list of non-empty texts")
    return tuple(v.strip() for v in value)
