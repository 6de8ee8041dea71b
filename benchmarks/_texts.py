"""Benchmark inputs made from the project's own pool corpus (never from ../shared)."""

from __future__ import annotations

import random
from pathlib import Path

import orjson

from iesi_nlp.codebook import load_codebook
from iesi_nlp.corpus import load_corpus
from iesi_nlp.text import split_sentences


def pool_sentences() -> list[tuple[str, str]]:
    """(sentence, language) pairs of the bundled pool, sentences of 6 words or more."""
    corpus = load_corpus(load_codebook())
    pairs = []
    for case in corpus.pool:
        for span in split_sentences(case.text, case.language):
            if len(span.text.split()) >= 6:
                pairs.append((span.text, case.language))
    return pairs


def texts_of_words(n_texts: int, words: int, seed: int = 0) -> list[str]:
    """``n_texts`` distinct texts of about ``words`` words, each made of sentences in one language."""
    rng = random.Random(seed)
    by_language: dict[str, list[str]] = {}
    for sentence, language in pool_sentences():
        by_language.setdefault(language, []).append(sentence)
    languages = sorted(by_language)
    texts = []
    for index in range(n_texts):
        sentences = by_language[languages[index % len(languages)]]
        chosen, count = [], 0
        while count < words:
            sentence = rng.choice(sentences)
            chosen.append(sentence)
            count += len(sentence.split())
        texts.append(" ".join(chosen))
    return texts


def write_jsonl(path: Path, texts: list[str], *, prefix: str = "bench") -> Path:
    """Rows with an id and a text only: the pipeline detects languages itself."""
    with path.open("wb") as handle:
        for number, text in enumerate(texts):
            handle.write(orjson.dumps({"id": f"{prefix}-{number}", "text": text}) + b"\n")
    return path
