"""Agreement between annotators, and between annotators and the model.

* Inter-annotator agreement: Krippendorff's alpha (nominal) per dimension, on the
  cases that at least two annotators labelled (the ``krippendorff`` package computes
  it). Single-label dimensions use the label as the value; multi-label dimensions are
  scored label by label (present / absent) and the labels' alphas averaged, since alpha
  is defined for one value per coder and unit. Where there is no alpha, :class:`Agreement`
  says why.
* Override rate: how often annotators changed the model's suggestion, per label.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import krippendorff
import numpy as np

from iesi_nlp.annotation.store import Action, Decision
from iesi_nlp.codebook import Codebook

#: Why a dimension has no alpha.
NO_DOUBLE_CODING = "needs two annotators on the same case"
NO_VARIATION = "undefined: every annotator gave the same label to every doubly coded case"


@dataclass(frozen=True)
class Agreement:
    """Krippendorff's alpha of one dimension, or why there is none."""

    dimension: str
    alpha: float | None
    #: Cases labelled by at least two annotators, and the annotators involved.
    cases: int
    annotators: int
    reason: str | None = None

    @property
    def shown(self) -> str:
        """The alpha to three decimals, or the reason there is none."""
        return f"{self.alpha:.3f}" if self.alpha is not None else str(self.reason)


@dataclass(frozen=True)
class OverrideRate:
    """How often the model suggested a label, and how often annotators removed it or added it themselves."""

    dimension: str
    label: str
    suggested: int
    kept: int
    removed: int
    added: int

    @property
    def override_rate(self) -> float:
        """(removed + added) / (suggested + added): the share of this label's appearances an annotator changed."""
        touched = self.suggested + self.added
        return round((self.removed + self.added) / touched, 3) if touched else 0.0


def latest_labels_by_annotator(decisions: Iterable[Decision]) -> dict[str, dict[str, dict[str, tuple[str, ...]]]]:
    """dimension → case → annotator → that annotator's latest labels (adjudications excluded)."""
    table: dict[str, dict[str, dict[str, tuple[str, ...]]]] = defaultdict(lambda: defaultdict(dict))
    for decision in decisions:
        if decision.action in (Action.ACCEPTED, Action.CORRECTED):
            table[decision.dimension][decision.case_id][decision.annotator] = tuple(sorted(decision.final_labels))
    return table


def krippendorff_alpha(decisions: Iterable[Decision], codebook: Codebook) -> list[Agreement]:
    """Per dimension of ``codebook``: alpha over the cases at least two annotators labelled."""
    results = []
    table = latest_labels_by_annotator(decisions)
    for dimension in codebook.dimensions:
        cases = {c: by for c, by in table.get(dimension.id, {}).items() if len(by) >= 2}
        annotators = sorted({a for by in cases.values() for a in by})
        if not cases:
            results.append(Agreement(dimension.id, None, 0, len(annotators), NO_DOUBLE_CODING))
            continue
        case_ids = sorted(cases)
        if dimension.multi_label:
            alphas = []
            for label in dimension.label_ids:
                data = np.array(
                    [[float(label in cases[c][a]) if a in cases[c] else np.nan for c in case_ids] for a in annotators]
                )
                value = _alpha(data)
                if value is not None:
                    alphas.append(value)
            alpha = float(np.mean(alphas)) if alphas else None
        else:
            index = {label: i for i, label in enumerate(dimension.label_ids)}
            data = np.array(
                [[float(index[cases[c][a][0]]) if a in cases[c] else np.nan for c in case_ids] for a in annotators]
            )
            alpha = _alpha(data)
        reason = None if alpha is not None else NO_VARIATION
        results.append(Agreement(dimension.id, alpha, len(cases), len(annotators), reason))
    return results


def _alpha(data: np.ndarray) -> float | None:
    values = data[~np.isnan(data)]
    if values.size == 0 or np.unique(values).size < 2:
        return None  # alpha is undefined without any variation
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))


def override_rates(decisions: Iterable[Decision]) -> list[OverrideRate]:
    """Per dimension and label, over accepted and corrected decisions that answered a suggestion."""
    counts: dict[tuple[str, str], dict[str, int]] = defaultdict(
        lambda: {"suggested": 0, "kept": 0, "removed": 0, "added": 0}
    )
    for decision in decisions:
        if decision.action not in (Action.ACCEPTED, Action.CORRECTED) or decision.shown is None:
            continue
        suggested, final = set(decision.suggested_labels), set(decision.final_labels)
        for label in suggested | final:
            entry = counts[(decision.dimension, label)]
            if label in suggested:
                entry["suggested"] += 1
                entry["kept" if label in final else "removed"] += 1
            else:
                entry["added"] += 1
    return [OverrideRate(dimension, label, **entry) for (dimension, label), entry in sorted(counts.items())]
