"""The adaptation rule on collections coded on all seven dimensions: language groups of the bundled corpus.

The shared collections carry ``service_domain`` only, and their labels differ sharply from the
seed's (one domain per case, a few of the nine used). A user's collection coded on every
dimension, with labels much like the seed's, is the other case the rule must serve. Lacking
such a real collection, this benchmark carves one out of the bundled corpus: the cases in the
given languages are the "own collection" (k of them reviewed, the rest held out), the cases in
every other language are the seed. Every model is trained by the product's ``training.train``:

* ``rule``: the product's rule (:mod:`iesi_nlp.coding.adaptation`);
* ``seed-weighted``: seed + own ×30 with the own label frequencies, on every dimension;
* ``own``: own cases alone, on every dimension;
* ``unweighted``: seed and own cases together, unweighted, the classifier alone.

Score: macro-F1 of the decided labels on the held-out own cases, per dimension.

    python benchmarks/corpus_splits.py [--split en:50 --split de,es,fr,it,nl:60]

Results in benchmarks/results/corpus_splits.json.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np
import orjson

from iesi_nlp.codebook import load_codebook
from iesi_nlp.coding.adaptation import CANDIDATES, AdaptationOptions
from iesi_nlp.coding.heads import decide
from iesi_nlp.coding.metrics import macro_f1
from iesi_nlp.coding.training import TrainingData, TrainOptions, train
from iesi_nlp.corpus import load_corpus
from iesi_nlp.embedding import DEFAULT_EMBEDDER
from iesi_nlp.workflow import cached_embedder

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"

VARIANTS = {
    "rule": None,
    # shift_threshold 0: the one candidate is the default whatever the label shift.
    "seed-weighted": AdaptationOptions(candidates=(CANDIDATES[0],), own_alone_from=10**6, shift_threshold=0.0),
    "own": AdaptationOptions(candidates=(CANDIDATES[1],), own_alone_from=10**6, shift_threshold=0.0),
    "unweighted": AdaptationOptions(
        min_own_cases=10**9,
        cold_start=replace(CANDIDATES[0], own_weight=1.0, own_label_priors=False, supervised_weight=1.0),
    ),
}


def run_split(languages: set[str], k: int, codebook, embedder, embedder_spec: str, seed: int = 0) -> dict:
    cases = load_corpus(codebook).labelled
    own_all = [c for c in cases if c.language in languages]
    seed_cases = [c for c in cases if c.language not in languages]
    order = np.random.default_rng(seed).permutation(len(own_all))
    own = [own_all[i] for i in order[:k]]
    test = [own_all[i] for i in order[k:]]
    unlabelled = [c.model_copy(update={"labels": {}}) for c in test]
    vectors = embedder.encode([c.text for c in test], [c.language for c in test])
    out = {"languages": sorted(languages), "seed": len(seed_cases), "own": len(own), "held_out": len(test)}
    for name, adaptation in VARIANTS.items():
        options = TrainOptions(feature_set="dense")
        if adaptation is not None:
            options = replace(options, adaptation=adaptation)
        model, validation = train(
            TrainingData(seed=seed_cases, own=own, unlabelled=unlabelled), embedder, embedder_spec, codebook, options
        )
        scores = {}
        for dimension in codebook.dimensions:
            proba = model.dimension_proba(dimension.id, vectors, [c.text for c in test], {})
            chosen = decide(proba, dimension.multi_label, model.dimensions[dimension.id].thresholds())
            truth = np.array([[int(label in c.labels[dimension.id]) for label in dimension.label_ids] for c in test])
            scores[dimension.id] = round(macro_f1(truth, chosen), 4)
        out[name] = {"macro_f1": scores, "mean": round(float(np.mean(list(scores.values()))), 4)}
        if name == "rule":
            out[name]["kept"] = {d: c.kept for d, c in validation.choices.items()}
            out[name]["label_shift"] = {d: c.label_shift for d, c in validation.choices.items()}
        print(f"{'+'.join(sorted(languages))} k={k} {name:14s} mean {out[name]['mean']:.3f}  {scores}", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", action="append", help="LANGUAGES:K, e.g. en:50 (repeatable)")
    parser.add_argument("--embedder", default=DEFAULT_EMBEDDER)
    parser.add_argument("--output", default="corpus_splits")
    args = parser.parse_args(argv)
    splits = args.split or ["en:50", "de,es,fr,it,nl:60"]
    codebook = load_codebook()
    embedder = cached_embedder(args.embedder)
    results = []
    for split in splits:
        languages, k = split.rsplit(":", 1)
        results.append(run_split(set(languages.split(",")), int(k), codebook, embedder, args.embedder))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.output}.json").write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
