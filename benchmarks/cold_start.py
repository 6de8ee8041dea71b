"""Cold start: macro-F1 as labelled cases accumulate, codebook vs supervised vs the blend the product uses.

For each training size n (0, 10, 25, 50, 100, 200), n cases are drawn at random
from the bundled corpus's labelled cases and the rest of a fixed held-out set of
134 cases is coded three ways:

* codebook: the label prototypes alone (calibrated on the n cases when n >= 5);
* supervised: the classifier alone (the codebook when it cannot be trained);
* blend: what ``iesi-nlp train`` does (codebook below 10 cases, supervised from 100).

Three random draws per size; the mean is reported. Embeddings come from the cache.

    python benchmarks/cold_start.py
"""

from __future__ import annotations

import copy
import random
from pathlib import Path

import numpy as np
import orjson

from iesi_nlp.codebook import load_codebook
from iesi_nlp.coding.adaptation import Recipe
from iesi_nlp.coding.heads import CodebookPrior, build_features, decide
from iesi_nlp.coding.metrics import macro_f1
from iesi_nlp.coding.training import Design, Targets, TrainOptions, dimension_targets, fit_dimension
from iesi_nlp.corpus import load_corpus
from iesi_nlp.workflow import cached_embedder

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SIZES = (0, 10, 25, 50, 100, 200)
DIMENSIONS = ("ict_innovation", "si_elements", "service_domain", "actors")
HELD_OUT = 134
DRAWS = 3


def code(dimension, texts, vectors, targets, train, test, prior_part, options) -> dict[str, float]:
    train_targets = Targets(targets.rows[train], targets.matrix[train])
    prior = copy.deepcopy(prior_part)
    prior.fit(
        vectors[train_targets.rows],
        train_targets.matrix if dimension.multi_label else np.argmax(train_targets.matrix, axis=1),
    )
    test_vectors = vectors[targets.rows[test]]
    truth = targets.matrix[test]
    codebook = prior.proba(test_vectors)
    half = np.full(len(dimension.label_ids), 0.5) if dimension.multi_label else None
    scores = {"codebook": macro_f1(truth, decide(codebook, dimension.multi_label, half))}
    for name, opts in (("supervised", TrainOptions(min_cases=1, full_weight_cases=1, C=options.C)), ("blend", options)):
        design = Design(list(texts), vectors, np.zeros(len(texts), dtype=bool))
        model = (
            fit_dimension(dimension, design, train_targets, Recipe(), None, opts, has_seed=False)
            if len(train)
            else None
        )
        if model is None or model.classifier is None:
            scores[name] = scores["codebook"]
            continue
        proba = model.blend(codebook, lambda: build_features("dense", test_vectors, None, None))
        thresholds = model.thresholds() if dimension.multi_label else None
        scores[name] = macro_f1(truth, decide(proba, dimension.multi_label, thresholds))
    return scores


def main() -> int:
    codebook = load_codebook()
    cases = load_corpus(codebook).labelled
    embedder = cached_embedder()
    vectors = embedder.encode([c.text for c in cases], [c.language for c in cases])
    prior = CodebookPrior.build(codebook, embedder)
    texts = [c.text for c in cases]
    options = TrainOptions()
    order = list(range(len(cases)))
    random.Random(0).shuffle(order)
    test, pool = np.asarray(order[:HELD_OUT]), order[HELD_OUT:]
    results: dict[str, dict[int, dict[str, float]]] = {}
    for dimension_id in DIMENSIONS:
        dimension = codebook.dimension(dimension_id)
        targets = dimension_targets(cases, dimension)
        results[dimension_id] = {}
        for size in SIZES:
            runs = []
            for draw in range(DRAWS):
                train = np.asarray(random.Random(100 + draw).sample(pool, size), dtype=int)
                runs.append(
                    code(dimension, texts, vectors, targets, train, test, prior.dimensions[dimension_id], options)
                )
            mean = {k: round(float(np.mean([r[k] for r in runs])), 3) for k in runs[0]}
            results[dimension_id][size] = mean
            print(dimension_id, size, mean, flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "cold_start.json").write_bytes(
        orjson.dumps(
            {"sizes": SIZES, "held_out": HELD_OUT, "draws": DRAWS, "results": results},
            option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
