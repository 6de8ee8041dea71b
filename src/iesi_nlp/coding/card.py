"""The model card: what a model was trained on and how well it did, typed, for programs and for people.

Every model folder has ``model.json`` (:meth:`ModelCard.to_json`, read back by
:func:`read_card`) and ``model.md`` (:meth:`ModelCard.markdown`). The registry, the
review screen and the CLI read cards only through :class:`ModelCard`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from iesi_nlp.coding.adaptation import RULE_SUMMARY, AdaptationOptions, Recipe
from iesi_nlp.errors import ModelError

FORMAT_VERSION = 1


class _Part(BaseModel):
    # Cards written by a newer version may carry more; an older reader keeps what it knows.
    model_config = ConfigDict(extra="allow", frozen=True)


class CodebookRef(_Part):
    id: str
    version: str
    fingerprint: str


class EmbedderRef(_Part):
    id: str
    spec: str


class TrainingSet(_Part):
    """The labelled cases a model learnt from."""

    hash: str
    size: int
    languages: dict[str, int] = Field(default_factory=dict)
    #: Labelled seed cases, labelled own cases, unlabelled cases (None on cards from before projects).
    seed: int | None = None
    own: int | None = None
    unlabelled: int | None = None
    #: The last review decision (sequence number) the training saw; 0 outside the review screen.
    decisions_through: int = 0


class PriorParams(_Part):
    temperature: float
    slope: float
    intercept: float | list[float]
    fitted_on: int


class DimensionMetrics(_Part):
    """Cross-validated (out-of-fold) scores of one dimension."""

    cases: int | None = None
    macro_f1: float | None = None
    micro_f1: float | None = None
    accuracy: float | None = None
    exact_match: float | None = None
    ece: float | None = None
    codebook_only_macro_f1: float | None = None
    macro_f1_by_feature_set: dict[str, float] = Field(default_factory=dict)
    #: ``own``: scored on the user's own cases (they chose the recipe); ``all``: on every labelled case.
    evaluated_on: str = "all"
    #: Recipe name → its out-of-fold scores (``macro_f1``, ``log_loss``), when own cases chose.
    candidates: dict[str, dict[str, float]] = Field(default_factory=dict)
    label_shift: float | None = None


class AutoAcceptCard(_Part):
    """Auto-accept of one dimension at one target precision, as estimated when the model was trained.

    ``threshold`` None: nothing is auto-accepted (``reason`` says why). ``outcomes``: the own
    judged suggestions behind it; ``lower``/``upper``: the precision's interval at the threshold.
    """

    threshold: float | None
    outcomes: int
    accepted: int = 0
    correct: int = 0
    lower: float = 0.0
    upper: float = 1.0
    coverage: float = 0.0
    reason: str = ""


class DimensionCard(_Part):
    """How one dimension was trained and how well it does."""

    kind: Literal["single", "multi"]
    source: str
    supervised_weight: float
    labelled_cases: int
    own_cases: int = 0
    rule: str = ""
    recipe: dict[str, Any] | None = None
    label_offsets: list[float] | None = None
    sharpness: float = 1.0
    feature_set: str | None = None
    prior: PriorParams
    metrics: DimensionMetrics | None = None

    @property
    def recipe_name(self) -> str:
        return Recipe(**self.recipe).name if self.recipe else (self.feature_set or "codebook")


class ModelCard(_Part):
    """``model.json``: identity, codebook, embedder, training set, options, per-dimension metrics, libraries."""

    format_version: int = FORMAT_VERSION
    model_id: str
    name: str
    created: str
    codebook: CodebookRef
    embedder: EmbedderRef
    training_set: TrainingSet
    options: dict[str, Any] = Field(default_factory=dict)
    #: The version of the rule that decided how own cases count (:mod:`iesi_nlp.coding.adaptation`).
    rule_version: str | None = None
    dimensions: dict[str, DimensionCard]
    libraries: dict[str, str] = Field(default_factory=dict)
    #: Dimension → target precision ("0.90", "0.95") → auto-accept there (:mod:`iesi_nlp.coding.auto_accept`).
    auto_accept: dict[str, dict[str, AutoAcceptCard]] = Field(default_factory=dict)

    def macro_f1(self) -> dict[str, float | None]:
        """Dimension → cross-validated macro-F1 (None where not measured)."""
        return {d: (c.metrics.macro_f1 if c.metrics else None) for d, c in self.dimensions.items()}

    def to_json(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json", exclude_none=False), option=orjson.OPT_INDENT_2)

    @classmethod
    def from_json(cls, data: bytes, *, where: str) -> ModelCard:
        try:
            raw = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise ModelError(f"{where}: damaged model card: {exc}") from None
        if not isinstance(raw, dict):
            raise ModelError(f"{where}: damaged model card: not a JSON object")
        if raw.get("format_version") != FORMAT_VERSION:
            raise ModelError(
                f"{where}: model format {raw.get('format_version')!r}, this version reads {FORMAT_VERSION}; retrain it"
            )
        # Cards before the typed card kept the rule version under "adaptation".
        if "rule_version" not in raw and isinstance(raw.get("adaptation"), dict):
            raw["rule_version"] = raw.pop("adaptation").get("rule_version")
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
            raise ModelError(f"{where}: damaged model card: {problems}") from None

    def markdown(self) -> str:
        """``model.md``: the card for people."""
        training = self.training_set
        lines = [
            f"# Model card: {self.name}",
            "",
            f"- **Model id:** `{self.model_id}`, created {self.created}",
            f"- **Codebook:** `{self.codebook.id}` version {self.codebook.version} "
            f"(fingerprint `{self.codebook.fingerprint[:16]}`)",
            f"- **Embedder:** `{self.embedder.id}`",
            f"- **Training set:** {training.size} labelled cases, hash `{training.hash[:16]}`; "
            "languages " + ", ".join(f"{k} {v}" for k, v in training.languages.items()),
            "",
            "## Dimensions",
            "",
            "Metrics are cross-validated (out-of-fold): on your own cases where they chose the recipe "
            "(the seed trains in every fold), on every labelled case otherwise; see `evaluation.md` for "
            "labels, languages and calibration.",
            "",
            "| dimension | kind | source | labelled cases (own) | how trained | metrics on | macro-F1 | micro-F1 | ECE "
            "| codebook-only macro-F1 |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for dimension_id, d in self.dimensions.items():
            m = d.metrics or DimensionMetrics()

            def fmt(value: float | None) -> str:
                return f"{value:.3f}" if value is not None else "–"

            lines.append(
                f"| {dimension_id} | {d.kind} | {d.source} | {d.labelled_cases} ({d.own_cases}) | "
                f"{d.rule or '–'}: {d.recipe_name} | {m.evaluated_on if d.metrics else '–'} cases | "
                f"{fmt(m.macro_f1)} | {fmt(m.micro_f1)} | {fmt(m.ece)} | {fmt(m.codebook_only_macro_f1)} |"
            )
        rule = AdaptationOptions()
        lines += [
            "",
            "## How your own cases count",
            "",
            RULE_SUMMARY.format(
                version=self.rule_version or "before adaptation-1",
                min_own=rule.min_own_cases,
                tfidf=rule.tfidf_min_own_cases,
                margin=rule.margin_scale,
                alone=rule.own_alone_from,
                competent=rule.min_codebook_macro_f1,
                shift=rule.shift_threshold,
            ).strip(),
        ]
        tried = {
            d: c.metrics
            for d, c in self.dimensions.items()
            if c.metrics is not None and c.metrics.candidates and c.metrics.evaluated_on == "own"
        }
        if tried:
            lines += ["", "Recipes tried on your own cases (out-of-fold macro-F1):", ""]
            for dimension_id, metrics in tried.items():
                shift = metrics.label_shift
                shift_note = f" (label shift from the seed {shift:.2f})" if shift is not None else ""
                lines.append(
                    f"- {dimension_id}{shift_note}: "
                    + "; ".join(f"{name} {score['macro_f1']:.3f}" for name, score in metrics.candidates.items())
                )
        lines += self._auto_accept_markdown()
        lines += ["", "## Libraries", ""] + [f"- {k} {v}" for k, v in self.libraries.items()]
        lines += [
            "",
            "## Intended use",
            "",
            "Suggests codes for human review. Suggestions from the `codebook` source come from label "
            "definitions alone and are weaker; check them with particular care.",
            "",
        ]
        return "\n".join(lines)

    def _auto_accept_markdown(self) -> list[str]:
        if not self.auto_accept:
            return []
        targets = sorted({t for per_target in self.auto_accept.values() for t in per_target})
        lines = [
            "",
            "## Auto-accept",
            "",
            "Estimated on your own judged suggestions only (reviewed ones and out-of-fold predictions; "
            "never the seed). Coverage: the share of those suggestions accepted unreviewed at that precision; "
            "the interval is the precision's 95% confidence interval at the threshold.",
            "",
            "| dimension | " + " | ".join(f"at {float(t):.0%}" for t in targets) + " |",
            "|---|" + "---|" * len(targets),
        ]
        for dimension_id, per_target in self.auto_accept.items():
            cells = []
            for target in targets:
                card = per_target.get(target)
                if card is None:
                    cells.append("–")
                elif card.threshold is None:
                    cells.append(f"off: {card.reason}")
                else:
                    cells.append(
                        f"coverage {card.coverage:.0%} (score ≥ {card.threshold:.2f}; precision "
                        f"{card.lower:.2f}–{card.upper:.2f}, {card.outcomes} own)"
                    )
            lines.append(f"| {dimension_id} | " + " | ".join(cells) + " |")
        return lines


def read_card(directory: str | Path) -> ModelCard:
    """The card of a model folder; :class:`ModelError` if it has none, or a damaged or too old one."""
    directory = Path(directory)
    card_path = directory / "model.json"
    if not card_path.is_file():
        raise ModelError(f"{directory}: not a model folder (no model.json); train one with `iesi-nlp train`")
    return ModelCard.from_json(card_path.read_bytes(), where=str(card_path))
