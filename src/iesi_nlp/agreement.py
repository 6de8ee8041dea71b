"""Agreement between annotators and between annotators and the model.

* Inter-annotator agreement: Krippendorff's alpha (nominal) per dimension, on the
  cases that at least two annotators labelled. Single-label dimensions use the
  label as the value; multi-label dimensions are scored label by label (present /
  absent) and the labels' alphas averaged, since alpha is defined for one value per
  coder and unit.
* Override rate: how often annotators changed the model's suggestion, per label.
"""

from __future__ import annotations

from collections import defaultdict

import krippendorff
import numpy as np

from iesi_nlp.annotation import LABELLING_ACTIONS, Action, AnnotationStore


def latest_labels_by_annotator(store: AnnotationStore) -> dict[str, dict[str, dict[str, tuple[str, ...]]]]:
    """dimension → case → annotator → that annotator's latest labels (adjudications excluded)."""
    table: dict[str, dict[str, dict[str, tuple[str, ...]]]] = defaultdict(lambda: defaultdict(dict))
    for decision in store.decisions():
        if decision.action in LABELLING_ACTIONS and decision.action != Action.ADJUDICATED:
            table[decision.dimension][decision.case_id][decision.annotator] = tuple(sorted(decision.final_labels))
    return table


def krippendorff_alpha(store: AnnotationStore) -> dict[str, dict[str, float | int | None]]:
    """Per dimension: alpha over doubly-annotated cases (None when there are none or no variation)."""
    results: dict[str, dict[str, float | int | None]] = {}
    table = latest_labels_by_annotator(store)
    for dimension in store.codebook.dimensions:
        cases = {c: by for c, by in table.get(dimension.id, {}).items() if len(by) >= 2}
        annotators = sorted({a for by in cases.values() for a in by})
        alpha = None
        if cases:
            case_ids = sorted(cases)
            if dimension.multi_label:
                alphas = []
                for label in dimension.label_ids:
                    data = np.array(
                        [
                            [float(label in cases[c][a]) if a in cases[c] else np.nan for c in case_ids]
                            for a in annotators
                        ]
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
        results[dimension.id] = {"alpha": alpha, "cases": len(cases), "annotators": len(annotators)}
    return results


def _alpha(data: np.ndarray) -> float | None:
    values = data[~np.isnan(data)]
    if values.size == 0 or np.unique(values).size < 2:
        return None  # alpha is undefined without any variation
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))


def override_rates(store: AnnotationStore) -> list[dict[str, object]]:
    """Per dimension and label: how often the model suggested it, and how often annotators removed or added it."""
    counts: dict[tuple[str, str], dict[str, int]] = defaultdict(
        lambda: {"suggested": 0, "kept": 0, "removed": 0, "added": 0}
    )
    for decision in store.decisions():
        if decision.action not in (Action.ACCEPTED, Action.CORRECTED):
            continue
        suggested, final = set(decision.suggested_labels), set(decision.final_labels)
        for label in suggested | final:
            entry = counts[(decision.dimension, label)]
            if label in suggested:
                entry["suggested"] += 1
                entry["kept" if label in final else "removed"] += 1
            else:
                entry["added"] += 1
    rows = []
    for (dimension, label), entry in sorted(counts.items()):
        touched = entry["suggested"] + entry["added"]
        rows.append(
            {
                "dimension": dimension,
                "label": label,
                **entry,
                "override_rate": round((entry["removed"] + entry["added"]) / touched, 3) if touched else 0.0,
            }
        )
    return rows
