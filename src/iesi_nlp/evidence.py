"""Evidence: the sentences of a case that support a suggested label most.

Each sentence is scored for the label by the same linear model that scored the
whole case (its weights on the sentence's embedding, see
:meth:`iesi_nlp.classifiers.DimensionClassifier.feature_weights`, and its
similarity to the label's codebook prototype). The case's score is the
length-weighted mean of its sentences' scores, so the sentences chosen are the
ones that actually moved the suggestion, not look-alikes found afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from iesi_nlp.text import Span

MAX_EVIDENCE = 3

#: Sentences shorter than this (in characters) are menus, headings or list stubs;
#: they are evidence only when nothing longer supports the label.
MIN_EVIDENCE_CHARS = 25


def select_evidence(sentences: Sequence[Span], scores: np.ndarray, limit: int = MAX_EVIDENCE) -> list[dict]:
    """Up to ``limit`` sentences, best first, as ``{"text", "start", "end"}``.

    The best sentence is always given. The next ones only when they score above
    the case's mean sentence, so a weak second sentence is left out rather than
    padded in.
    """
    if not sentences:
        return []
    scores = np.asarray(scores, dtype=np.float64)
    lengths = np.asarray([s.end - s.start for s in sentences])
    eligible = lengths >= MIN_EVIDENCE_CHARS
    if not eligible.any():
        eligible = np.ones(len(sentences), dtype=bool)
    ranked = [i for i in np.argsort(-scores, kind="stable") if eligible[i]]
    mean = float(scores[eligible].mean())
    chosen = [ranked[0]] + [i for i in ranked[1:limit] if scores[i] > mean]
    return [{"text": sentences[i].text, "start": sentences[i].start, "end": sentences[i].end} for i in chosen]
