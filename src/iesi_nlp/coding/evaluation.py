"""Evaluation reports from cross-validated predictions: F1, per label, per language, calibration.

Everything here is computed from out-of-fold predictions (see
:func:`iesi_nlp.coding.training.cross_validate`); nothing is scored on cases it was
trained on. Calibration is the expected calibration error (ECE) over ten
equal-width bins: for a single-label dimension, of the top label's probability
against whether it was right; for a multi-label one, of every label's
probability against whether the case has that label.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, precision_recall_fscore_support

from iesi_nlp.coding.heads import FEATURE_SETS
from iesi_nlp.coding.metrics import expected_calibration_error, macro_f1
from iesi_nlp.coding.training import CrossValidation, OutOfFold
from iesi_nlp.records import Case

#: Languages with fewer labelled cases than this get no per-language line (too noisy to read).
MIN_LANGUAGE_CASES = 5


def calibration(result: OutOfFold) -> dict:
    truth = result.targets.matrix
    if result.multi_label:
        return expected_calibration_error(result.proba, truth)
    top = np.argmax(result.proba, axis=1)
    correct = truth[np.arange(len(top)), top]
    return expected_calibration_error(result.proba.max(axis=1), correct)


def _scores(truth: np.ndarray, chosen: np.ndarray, multi_label: bool) -> dict:
    scores = {
        "macro_f1": round(macro_f1(truth, chosen), 4),
        "micro_f1": round(macro_f1(truth, chosen, "micro"), 4),
    }
    if multi_label:
        scores["exact_match"] = round(float(accuracy_score(truth, chosen)), 4)
    else:
        scores["accuracy"] = round(float((truth.argmax(1) == chosen.argmax(1)).mean()), 4)
    return scores


def dimension_report(result: OutOfFold, languages: Sequence[str | None]) -> dict[str, Any]:
    """Everything measured about one dimension's kept configuration."""
    truth = result.targets.matrix
    precision, recall, f1, support = precision_recall_fscore_support(truth, result.chosen, zero_division=0.0)
    per_label = {
        label: {
            "precision": round(float(p), 4),
            "recall": round(float(r), 4),
            "f1": round(float(f), 4),
            "support": int(s),
        }
        for label, p, r, f, s in zip(result.label_ids, precision, recall, f1, support, strict=True)
    }
    by_language: dict[str, list[int]] = defaultdict(list)
    for position, row in enumerate(result.targets.rows):
        by_language[languages[row] or "unknown"].append(position)
    per_language = {
        language: {"cases": len(positions), **_scores(truth[positions], result.chosen[positions], result.multi_label)}
        for language, positions in sorted(by_language.items())
        if len(positions) >= MIN_LANGUAGE_CASES
    }
    return {
        "kind": "multi" if result.multi_label else "single",
        "cases": len(result.targets.rows),
        "feature_set": result.feature_set,
        "source": max(set(result.sources), key=result.sources.count) if result.sources else "codebook",
        **_scores(truth, result.chosen, result.multi_label),
        "codebook_only": _scores(truth, result.codebook_chosen, result.multi_label),
        "calibration": calibration(result),
        "per_label": per_label,
        "per_language": per_language,
    }


def evaluation_report(validation: CrossValidation, cases: Sequence[Case], folds: int) -> dict[str, Any]:
    """The whole evaluation as a JSON-ready dict."""
    languages = [case.language for case in cases]
    dimensions = {}
    for dimension_id, choice in validation.choices.items():
        kept = choice.kept_result
        report = dimension_report(kept, languages)
        report["rule"] = choice.rule
        report["recipe"] = {"name": choice.recipe.name, **choice.recipe.as_dict()}
        report["evaluated_on"] = kept.evaluated_on
        report["codebook_prior_macro_f1"] = (
            round(choice.codebook_macro_f1, 4) if choice.codebook_macro_f1 is not None else None
        )
        report["label_shift"] = choice.label_shift
        report["candidates"] = {
            name: {"macro_f1": round(result.macro_f1, 4), "log_loss": round(result.log_loss, 4)}
            for name, result in choice.results.items()
        }
        # Without own cases to decide, the candidates differ only in their features.
        if kept.evaluated_on == "all":
            report["feature_sets"] = {
                result.feature_set: round(result.macro_f1, 4) for result in choice.results.values()
            }
        dimensions[dimension_id] = report
    return {
        "method": (
            f"{folds}-fold stratified cross-validation (iterative stratification for multi-label dimensions); "
            "where own cases chose the recipe, only the own cases are predicted (the seed trains in every fold)"
        ),
        "cases": len(cases),
        "dimensions": dimensions,
    }


def summary_rows(report: dict[str, Any]) -> list[list[str]]:
    """One row per dimension for a terminal table or Markdown."""
    rows = []
    for dimension_id, d in report["dimensions"].items():
        if "feature_sets" in d:
            compared = " / ".join(
                f"{d['feature_sets'][fs]:.3f}" if fs in d["feature_sets"] else "–" for fs in FEATURE_SETS
            )
        else:
            compared = f"recipe chosen on {d['cases']} own cases: {d['recipe']['name']}"
        rows.append(
            [
                dimension_id,
                d["kind"],
                str(d["cases"]),
                f"{d['macro_f1']:.3f}",
                f"{d['micro_f1']:.3f}",
                f"{d['calibration']['ece']:.3f}",
                f"{d['codebook_only']['macro_f1']:.3f}",
                d["feature_set"],
                compared,
            ]
        )
    return rows


SUMMARY_HEADER = [
    "dimension",
    "kind",
    "cases",
    "macro-F1",
    "micro-F1",
    "ECE",
    "cold-start macro-F1",
    "features kept",
    "macro-F1 dense / dense+tfidf (or the recipe chosen on own cases)",
]


def report_markdown(report: dict[str, Any], title: str = "Evaluation") -> str:
    """A readable Markdown version of :func:`evaluation_report`."""
    lines = [
        f"# {title}",
        "",
        f"{report['method']} on {report['cases']} cases.",
        "",
        "| " + " | ".join(SUMMARY_HEADER) + " |",
        "|" + "---|" * len(SUMMARY_HEADER),
    ]
    lines += ["| " + " | ".join(row) + " |" for row in summary_rows(report)]
    lines += [
        "",
        "ECE: expected calibration error (10 bins); 0 is perfectly calibrated.",
        "Cold start: the suggestions of the codebook alone (label definitions and examples, no training labels).",
        "",
    ]
    for dimension_id, d in report["dimensions"].items():
        lines += [f"## {dimension_id}", "", "| label | precision | recall | F1 | support |", "|---|---|---|---|---|"]
        lines += [
            f"| {label} | {s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} | {s['support']} |"
            for label, s in d["per_label"].items()
        ]
        if d["per_language"]:
            lines += ["", "| language | cases | macro-F1 | micro-F1 |", "|---|---|---|---|"]
            lines += [
                f"| {lang} | {s['cases']} | {s['macro_f1']:.3f} | {s['micro_f1']:.3f} |"
                for lang, s in d["per_language"].items()
            ]
        lines += ["", "| probability bin | mean probability | observed | count |", "|---|---|---|---|"]
        lines += [
            f"| {b['bin'][0]:.1f}–{b['bin'][1]:.1f} | {b['mean_probability']:.3f} | {b['observed']:.3f} | {b['count']} |"
            for b in d["calibration"]["bins"]
        ]
        lines.append("")
    return "\n".join(lines)
