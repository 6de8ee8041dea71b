"""Consistency between dimensions: the model's decided labels never break a codebook rule it is confident of.

A rule (:class:`~iesi_nlp.codebook.Rule`) says that a case with a premise label on one
dimension has one of the conclusion labels on another ("cross-sector integration
involves the private or the third sector"). When the model decides the premise with a
score of at least the rule's ``confident`` and decides none of the conclusion labels, the
conclusion's best-scoring label is added (a single-label conclusion is replaced by it).
Its score is left as the model gave it, so the record still shows how sure the model was.
With a premise below ``confident`` nothing changes: the screen warns the reviewer instead.
"""

from __future__ import annotations

from dataclasses import replace

from iesi_nlp.codebook import Codebook, Rule
from iesi_nlp.coding.suggestion import DimensionSuggestion, Suggestion


def confident_premise(rule: Rule, suggestion: Suggestion) -> bool:
    premise = suggestion.dimensions.get(rule.premise_dimension)
    return (
        premise is not None
        and rule.premise_label in premise.labels
        and premise.scores.get(rule.premise_label, 0.0) >= rule.confident
    )


def enforce_rules(suggestion: Suggestion, codebook: Codebook) -> Suggestion:
    """``suggestion`` with the conclusion of every rule whose premise it is confident of made to hold."""
    if not codebook.rules:
        return suggestion
    dimensions = dict(suggestion.dimensions)
    changed = False
    for rule in codebook.rules:
        conclusion = dimensions.get(rule.conclusion_dimension)
        if conclusion is None or not confident_premise(rule, suggestion):
            continue
        if set(conclusion.labels) & set(rule.conclusion_labels):
            continue
        best = max(rule.conclusion_labels, key=lambda label: conclusion.scores.get(label, 0.0))
        multi = codebook.dimension(rule.conclusion_dimension).multi_label
        labels = [*conclusion.labels, best] if multi else [best]
        order = codebook.dimension(rule.conclusion_dimension).label_ids
        dimensions[rule.conclusion_dimension] = _with_labels(conclusion, sorted(labels, key=order.index))
        changed = True
    return replace(suggestion, dimensions=dimensions) if changed else suggestion


def _with_labels(part: DimensionSuggestion, labels: list[str]) -> DimensionSuggestion:
    # Evidence is kept for the labels still decided; an added label has none of its own.
    evidence = {label: spans for label, spans in part.evidence.items() if label in labels}
    return replace(part, labels=tuple(labels), evidence=evidence)
