"""Evidence: the sentences of a case that support a suggested label most.

Each sentence is scored for the label by the same linear model that scored the
whole case (its weights on the sentence's embedding, see
:meth:`iesi_nlp.coding.classifiers.DimensionClassifier.feature_weights`, and its
similarity to the label's codebook prototype). The case's score is the
length-weighted mean of its sentences' scores, so the sentences chosen are the
ones that actually moved the suggestion, not look-alikes found afterwards.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np

from iesi_nlp.boilerplate import is_boilerplate
from iesi_nlp.coding.suggestion import Evidence
from iesi_nlp.text import Span

MAX_EVIDENCE = 3

#: Sentences shorter than this (in characters) are menus, headings or list stubs;
#: they are evidence only when nothing longer supports the label.
MIN_EVIDENCE_CHARS = 25


def evidence_candidates(sentences: Sequence[Span], boilerplate: Sequence[bool] | None = None) -> list[int]:
    """Indices of the sentences that may serve as evidence (computed once per case, used for every label).

    Boilerplate (menus, cookie banners, share links: :mod:`iesi_nlp.boilerplate`; ``boilerplate``
    gives the flags when they are known already) never is;
    stubs shorter than :data:`MIN_EVIDENCE_CHARS` only when nothing longer is left.
    """
    if boilerplate is None:
        boilerplate = [is_boilerplate(s.text) for s in sentences]
    content = [i for i, flagged in enumerate(boilerplate) if not flagged]
    eligible = [i for i in content if sentences[i].end - sentences[i].start >= MIN_EVIDENCE_CHARS]
    return eligible or content


def label_specific_scores(sentence_scores: np.ndarray, labels: Sequence[int]) -> np.ndarray:
    """Sentence scores for each of ``labels`` (columns of ``sentence_scores``), relative to the other ``labels``.

    A sentence that supports every suggested label alike (a general description of the
    project) says nothing about why one label rather than another was suggested; taking
    the mean score of the other suggested labels off each label's score makes the evidence
    of each label the sentences that support it *more than the others*, so the same
    sentence is no longer shown for every label. With one label, its scores are unchanged.
    """
    chosen = np.asarray(sentence_scores)[:, list(labels)]
    if chosen.shape[1] < 2:
        return chosen
    others = (chosen.sum(axis=1, keepdims=True) - chosen) / (chosen.shape[1] - 1)
    return chosen - others


def select_evidence(
    sentences: Sequence[Span], scores, limit: int = MAX_EVIDENCE, candidates: list[int] | None = None
) -> tuple[Evidence, ...]:
    """Up to ``limit`` sentences, best first, as :class:`~iesi_nlp.coding.suggestion.Evidence`.

    The best sentence is always given. The next ones only when they score above
    the case's mean sentence, so a weak second sentence is left out rather than
    padded in. ``candidates`` is :func:`evidence_candidates` of ``sentences``.
    """
    if candidates is None:
        candidates = evidence_candidates(sentences)
    if not candidates:
        return ()
    values = scores.tolist() if hasattr(scores, "tolist") else list(scores)
    # Plain Python: a case has tens of sentences, and this runs for every suggested label.
    ranked = sorted(candidates, key=lambda i: -values[i])
    mean = sum(values[i] for i in candidates) / len(candidates)
    chosen = ranked[:1] + [i for i in ranked[1:limit] if values[i] > mean]
    return tuple(Evidence(sentences[i].text, sentences[i].start, sentences[i].end) for i in chosen)


def highlight_html(text: str, spans: Sequence[tuple[int, int, str]]) -> str:
    """``text`` as HTML with ``spans`` (start, end, tooltip) wrapped in ``<mark>``; everything escaped.

    Case texts come from scraped pages: every piece of text and every tooltip goes
    through :func:`html.escape`, so no input can add markup or script to the page.
    Overlapping spans are merged.
    """
    merged: list[list] = []
    for start, end, note in sorted((max(0, s), min(len(text), e), n) for s, e, n in spans if e > s):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
            if note not in merged[-1][2]:
                merged[-1][2].append(note)
        else:
            merged.append([start, end, [note]])
    pieces, cursor = [], 0
    for start, end, notes in merged:
        pieces.append(html.escape(text[cursor:start]))
        title = html.escape("; ".join(notes), quote=True)
        pieces.append(f'<mark title="{title}">{html.escape(text[start:end])}</mark>')
        cursor = end
    pieces.append(html.escape(text[cursor:]))
    return "".join(pieces).replace("\n", "<br>")
