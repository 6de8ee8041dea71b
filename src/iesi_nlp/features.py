"""Feature sets for the classifiers: sentence embeddings alone, or with character n-grams.

``dense`` is the document embedding. ``dense+tfidf`` appends a character n-gram
TF-IDF of the text (``char_wb``, 2–5 characters: robust to inflection and to
the spelling of names across languages, and it catches domain words such as
"Pflege" or "housing" that a small embedding model blurs). Training picks one
per dimension by cross-validated macro-F1 (see :mod:`iesi_nlp.training`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

FEATURE_SETS = ("dense", "dense+tfidf")


def make_tfidf() -> TfidfVectorizer:
    """The character n-gram vectorizer used by ``dense+tfidf``."""
    return TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=(2, 5),
        min_df=2,
        max_df=0.9,
        max_features=60_000,
        sublinear_tf=True,
        lowercase=True,
        dtype=np.float32,
    )


#: Weight of the TF-IDF block against the unit-length embedding. Both blocks have
#: unit rows; the embedding carries most of the signal in few dimensions, so it keeps full weight.
TFIDF_WEIGHT = 0.5


def build_features(feature_set: str, vectors: np.ndarray, texts: Sequence[str] | None, tfidf: TfidfVectorizer | None):
    """The design matrix for ``feature_set``: a dense array, or a CSR matrix with the TF-IDF block."""
    if feature_set == "dense":
        return np.asarray(vectors, dtype=np.float32)
    if feature_set != "dense+tfidf":
        raise ValueError(f"unknown feature set {feature_set!r}; choose from {', '.join(FEATURE_SETS)}")
    if tfidf is None or texts is None:
        raise ValueError("the dense+tfidf feature set needs the texts and a fitted vectorizer")
    return sp.hstack([sp.csr_matrix(vectors, dtype=np.float32), tfidf.transform(texts) * TFIDF_WEIGHT], format="csr")


def tfidf_to_arrays(tfidf: TfidfVectorizer) -> dict[str, np.ndarray]:
    """A fitted vectorizer as plain arrays (vocabulary in column order, idf weights).

    Saved with ``np.savez`` and read back without pickle, this is far smaller and
    faster than a 60,000-entry vocabulary dict in skops (46 MB and 9 s to load).
    """
    terms = np.empty(len(tfidf.vocabulary_), dtype=object)
    for term, column in tfidf.vocabulary_.items():
        terms[column] = term
    return {"terms": terms.astype(str), "idf": np.asarray(tfidf.idf_, dtype=np.float64)}


def tfidf_from_arrays(terms: np.ndarray, idf: np.ndarray) -> TfidfVectorizer:
    """The vectorizer :func:`tfidf_to_arrays` saved, ready to ``transform``."""
    tfidf = make_tfidf()
    tfidf.vocabulary_ = {str(term): column for column, term in enumerate(terms.tolist())}
    tfidf.idf_ = idf
    return tfidf
