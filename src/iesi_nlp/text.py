"""Text preparation: language-aware sentences, with character offsets.

Sentences come from spaCy's blank pipeline for the text's language plus the
rule-based ``sentencizer`` (no model download). Line breaks also end a
sentence, because scraped pages put menus, headings and list items on lines of
their own without final punctuation. Every span keeps its offsets into the
original text, so later stages can point back at evidence. A sentence too long
for the embedding model is cut at words (:func:`sentence_units`).

>>> [s.text for s in split_sentences("Erster Satz. Zweiter Satz!\\nMenü", "de")]
['Erster Satz.', 'Zweiter Satz!', 'Menü']
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import spacy
from spacy.language import Language

#: Counts model tokens in a text; the default approximates subword tokenizers.
TokenCounter = Callable[[str], int]

#: e5 and other XLM-R based models take 512 tokens; stay below with room for a prefix.
DEFAULT_MAX_TOKENS = 480
_LINE_BREAKS = re.compile(r"\n\s*")


@dataclass(frozen=True)
class Span:
    """A piece of a text: ``text == original[start:end]``."""

    text: str
    start: int
    end: int


def approx_token_count(text: str) -> int:
    """Subword tokens of an XLM-R style tokenizer, estimated from length (about 3 characters each).

    Errs on the high side for English and close for Finnish or Greek, so sentence units fit.
    """
    return max(1, math.ceil(len(text) / 3))


@lru_cache(maxsize=64)
def blank_pipeline(language: str | None) -> Language:
    """A blank spaCy pipeline with a sentencizer; the multi-language one for unknown codes."""
    try:
        nlp = spacy.blank(language or "xx")
    except (ImportError, KeyError, ValueError):  # spaCy has no blank class for this code
        nlp = spacy.blank("xx")
    nlp.add_pipe("sentencizer")
    nlp.max_length = 10_000_000
    return nlp


def split_sentences(text: str, language: str | None = None) -> list[Span]:
    """Sentences of ``text`` with offsets; lines without punctuation count as sentences."""
    if not text.strip():
        return []
    doc = blank_pipeline(language)(text)
    spans: list[Span] = []
    for sentence in doc.sents:
        start = sentence.start_char
        end = sentence.end_char
        # Break the sentence further at line breaks.
        piece_start = start
        for match in _LINE_BREAKS.finditer(text, start, end):
            _append_stripped(spans, text, piece_start, match.start())
            piece_start = match.end()
        _append_stripped(spans, text, piece_start, end)
    return spans


def _append_stripped(spans: list[Span], text: str, start: int, end: int) -> None:
    piece = text[start:end]
    stripped = piece.strip()
    if not stripped:
        return
    start += len(piece) - len(piece.lstrip())
    end = start + len(stripped)
    spans.append(Span(stripped, start, end))


def sentence_units(
    text: str,
    language: str | None = None,
    *,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    count_tokens: TokenCounter = approx_token_count,
) -> list[Span]:
    """Sentences of ``text``, with any sentence over ``max_tokens`` cut at words into pieces that fit.

    These are the units the embedders encode: each is short enough for the model,
    and each can be shown as evidence with its offsets.
    """
    units: list[Span] = []
    for sentence in split_sentences(text, language):
        # A token covers at least one character, so short sentences fit without asking the tokenizer.
        if len(sentence.text) <= max_tokens or count_tokens(sentence.text) <= max_tokens:
            units.append(sentence)
        else:
            units.extend(_cut_long_span(text, sentence, max_tokens, count_tokens))
    return units


def _cut_long_span(text: str, span: Span, max_tokens: int, count_tokens: TokenCounter) -> list[Span]:
    """Cut one over-long sentence at word boundaries into pieces that fit.

    Tokens are summed word by word (linear time even for a page without any
    punctuation); that slightly overestimates, which only makes pieces safer.
    """
    pieces: list[Span] = []
    piece_start = piece_end = -1
    piece_tokens = 0
    for match in re.finditer(r"\S+", text[span.start : span.end]):
        start, end = span.start + match.start(), span.start + match.end()
        tokens = count_tokens(match.group(0))
        if piece_start >= 0 and piece_tokens + tokens > max_tokens:
            pieces.append(Span(text[piece_start:piece_end], piece_start, piece_end))
            piece_start = -1
        if piece_start < 0:
            piece_start, piece_tokens = start, 0
        piece_end = end
        piece_tokens += tokens
    if piece_start >= 0:
        pieces.append(Span(text[piece_start:piece_end], piece_start, piece_end))
    return pieces
