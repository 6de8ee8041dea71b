"""Does the review queue pay? Simulated annotators: queue order against random order.

The bundled corpus's labels play the annotators. 100 labelled cases are held out
for scoring; the other 284 are the pool. Both strategies start from the same 20
random cases; then, round after round, the model is retrained (as ``iesi-nlp
train`` fits it: calibrated classifiers blended with the codebook prior) and the
next 20 cases come either from the queue (:mod:`iesi_nlp.active_learning`:
margin uncertainty over all dimensions, rare-label boost, diversity) or at random.
Each reviewed case reveals its labels on every dimension.

Reported per dimension: the number of reviewed cases needed to reach 95% of the
macro-F1 of a model trained on the whole pool (goal: the queue needs at most 60%
of what random order needs), averaged over repeats, and the learning curves as a plot.

    python benchmarks/active_learning.py [--repeats 3] [--batch 20]
"""

from __future__ import annotations

import argparse
import copy
import random
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson

from iesi_nlp.active_learning import QueueOptions, build_queue, dimension_uncertainty, priority
from iesi_nlp.codebook import Codebook, Dimension, load_codebook
from iesi_nlp.coding.adaptation import Recipe
from iesi_nlp.coding.heads import CodebookPrior, decide
from iesi_nlp.coding.metrics import macro_f1
from iesi_nlp.coding.training import Design, Targets, TrainOptions, dimension_targets, fit_dimension
from iesi_nlp.corpus import load_corpus
from iesi_nlp.workflow import cached_embedder

sys.path.insert(0, str(Path(__file__).resolve().parent))
from shared_collections import DEFAULT_DATA, load_collections

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
HELD_OUT = 100
#: Of the ~740 real texts with one mapped domain (``--pool shared``).
SHARED_HELD_OUT = 200
SEED_CASES = 20
TARGET_SHARE = 0.95


@dataclass(frozen=True)
class Simulation:
    """What every round of every strategy shares: the cases, their labels and how models are fitted."""

    codebook: Codebook
    dimensions: list[Dimension]
    texts: list[str]
    vectors: np.ndarray
    targets_by_dim: dict[str, Targets]
    prior: CodebookPrior
    options: TrainOptions

    def fit(self, rows) -> dict:
        """Per dimension: (model, fitted prior part) trained on ``rows`` (indices into the cases)."""
        fitted = {}
        for dimension in self.dimensions:
            targets = self.targets_by_dim[dimension.id]
            train = Targets(np.asarray(rows), targets.matrix[rows])
            part = copy.deepcopy(self.prior.dimensions[dimension.id])
            part.fit(self.vectors[rows], train.matrix if dimension.multi_label else np.argmax(train.matrix, axis=1))
            design = Design(self.texts, self.vectors, np.zeros(len(self.texts), dtype=bool))
            model = fit_dimension(dimension, design, train, Recipe(), None, self.options, has_seed=False)
            fitted[dimension.id] = (model, part)
        return fitted

    def evaluate(self, fitted, test_rows) -> dict[str, float]:
        """Macro-F1 per dimension of ``fitted`` on ``test_rows``."""
        scores = {}
        for dimension in self.dimensions:
            p, thresholds = proba(fitted, dimension, self.vectors[test_rows])
            chosen = decide(p, dimension.multi_label, thresholds)
            scores[dimension.id] = macro_f1(self.targets_by_dim[dimension.id].matrix[test_rows], chosen)
        return scores


def proba(fitted, dimension, vectors):
    model, part = fitted[dimension.id]
    return model.blend(part.proba(vectors), lambda: vectors), model.thresholds()


def run(sim: Simulation, strategy, pool, test_rows, seed_rows, batch, rng, queue_options=None, kind="margin"):
    """The learning curve [(reviewed cases, macro-F1 per dimension)] of one strategy from ``seed_rows``."""
    labelled = list(seed_rows)
    remaining = [i for i in pool if i not in set(seed_rows)]
    curve = []
    while True:
        fitted = sim.fit(labelled)
        curve.append((len(labelled), sim.evaluate(fitted, test_rows)))
        if not remaining:
            return curve
        if strategy == "random":
            picks = rng.sample(remaining, min(batch, len(remaining)))
        else:
            scores, thresholds = {}, {}
            for dimension in sim.dimensions:
                scores[dimension.id], thresholds[dimension.id] = proba(fitted, dimension, sim.vectors[remaining])
            counts = {
                d.id: Counter(
                    {
                        label: int(sim.targets_by_dim[d.id].matrix[labelled, j].sum())
                        for j, label in enumerate(d.label_ids)
                    }
                )
                for d in sim.dimensions
            }
            chosen_rows = pick_batch(
                kind, scores, thresholds, counts, sim.codebook, sim.vectors[remaining], batch, queue_options
            )
            picks = [remaining[i] for i in chosen_rows]
        labelled += picks
        chosen = set(picks)
        remaining = [i for i in remaining if i not in chosen]


#: Queue strategies compared; ``margin`` is the product's (iesi_nlp.active_learning), the others are
#: alternatives measured against it.
QUEUE_KINDS = ("margin", "max", "density", "badge")


def pick_batch(kind, scores, thresholds, counts, codebook, vectors, batch, queue_options):
    """Indices (into ``vectors``) of the next ``batch`` cases to review under strategy ``kind``."""
    if kind == "margin":
        ranked = priority(scores, codebook, counts, thresholds, queue_options)
        return build_queue(vectors, ranked, batch, queue_options)
    in_scope = [d for d in codebook.dimensions if d.id in scores]
    per_dimension = np.array(
        [dimension_uncertainty(scores[d.id], d.multi_label, thresholds.get(d.id)) for d in in_scope]
    )
    if kind == "max":  # the most uncertain dimension, not the mean
        return build_queue(vectors, per_dimension.max(axis=0), batch, queue_options)
    if kind == "density":  # information density: uncertainty times mean similarity to the pool
        density = np.clip((vectors @ vectors.T).mean(axis=1), 1e-6, None)
        return build_queue(vectors, per_dimension.mean(axis=0) * density / density.max(), batch, queue_options)
    if kind == "badge":  # k-means++ seeding on gradient embeddings (Ash et al. 2020), all dimensions
        parts = []
        for d in in_scope:
            p = np.asarray(scores[d.id], dtype=float)
            if d.multi_label:
                t = thresholds.get(d.id)
                predicted = (p >= (0.5 if t is None else np.asarray(t))).astype(float)
            else:
                predicted = np.eye(p.shape[1])[np.argmax(p, axis=1)]
            parts.append(((p - predicted)[:, :, None] * vectors[:, None, :]).reshape(len(vectors), -1))
        gradients = np.concatenate(parts, axis=1)
        rng = np.random.default_rng(len(vectors))
        chosen = [int(np.argmax((gradients**2).sum(axis=1)))]
        distance = ((gradients - gradients[chosen[0]]) ** 2).sum(axis=1)
        while len(chosen) < min(batch, len(vectors)):
            total = distance.sum()
            pick = int(rng.choice(len(distance), p=distance / total if total > 0 else None))
            if pick not in chosen:
                chosen.append(pick)
                distance = np.minimum(distance, ((gradients - gradients[pick]) ** 2).sum(axis=1))
        return chosen
    raise ValueError(f"unknown queue strategy {kind!r}; choose from {', '.join(QUEUE_KINDS)}")


def needed(curve, dimension_id, target):
    for size, scores in curve:
        if scores[dimension_id] >= target:
            return size
    return curve[-1][0]


def corpus_pool(codebook):
    """The bundled corpus: every case is coded on every dimension."""
    cases = load_corpus(codebook).labelled
    return cases, list(codebook.dimensions), HELD_OUT


def shared_pool(codebook, data: Path):
    """Real texts from ../shared/data with their service_domain (mapped as the external check maps it).

    Read at run time, never copied into the repository. Only ``service_domain`` has real labels.
    """
    cases = [case for collection in load_collections(data, codebook) for case in collection.cases]
    return cases, [codebook.dimension("service_domain")], SHARED_HELD_OUT


def main() -> int:
    parser = argparse.ArgumentParser(description="active learning against random order")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--rare-weight", type=float, default=QueueOptions().rare_weight)
    parser.add_argument("--diversity", type=float, default=QueueOptions().diversity)
    parser.add_argument("--queue", choices=QUEUE_KINDS, default="margin", help="Queue strategy to compare with random.")
    parser.add_argument(
        "--pool",
        choices=("corpus", "shared"),
        default="corpus",
        help="corpus: the bundled corpus, every dimension; shared: real texts of ../shared/data, service_domain.",
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--output", default="active_learning", help="Name of the result files in results/.")
    args = parser.parse_args()
    codebook = load_codebook()
    if args.pool == "shared" and not args.data.is_dir():
        print(f"skipped: {args.data} not found (the shared data lives outside the repository)")
        return 0
    cases, dimensions, held_out = corpus_pool(codebook) if args.pool == "corpus" else shared_pool(codebook, args.data)
    embedder = cached_embedder()
    texts = [c.text for c in cases]
    sim = Simulation(
        codebook=codebook,
        dimensions=dimensions,
        texts=texts,
        vectors=embedder.encode(texts, [c.language for c in cases]),
        targets_by_dim={d.id: dimension_targets(cases, d) for d in dimensions},
        prior=CodebookPrior.build(codebook, embedder),
        options=TrainOptions(),
    )
    assert all(len(t.rows) == len(cases) for t in sim.targets_by_dim.values()), "every case is coded on every dimension"
    queue_options = QueueOptions(
        rare_weight=args.rare_weight, diversity=args.diversity, dimensions=tuple(d.id for d in dimensions)
    )
    results = {
        "pool": args.pool,
        "cases": len(cases),
        "batch": args.batch,
        "held_out": held_out,
        "rare_weight": args.rare_weight,
        "diversity": args.diversity,
        "queue": args.queue,
        "repeats": [],
    }
    for repeat in range(args.repeats):
        rng = random.Random(repeat)
        order = list(range(len(cases)))
        rng.shuffle(order)
        test_rows, pool = np.asarray(order[:held_out]), order[held_out:]
        seed_rows = rng.sample(pool, SEED_CASES)
        full = sim.evaluate(sim.fit(pool), test_rows)
        curves = {
            strategy: run(
                sim,
                strategy,
                pool,
                test_rows,
                seed_rows,
                args.batch,
                random.Random(1000 + repeat),
                queue_options,
                args.queue,
            )
            for strategy in ("queue", "random")
        }
        needed_by = {
            strategy: {d.id: needed(curve, d.id, TARGET_SHARE * full[d.id]) for d in dimensions}
            for strategy, curve in curves.items()
        }
        results["repeats"].append({"full_data_macro_f1": full, "curves": curves, "needed": needed_by})
        print(repeat, needed_by, flush=True)
    summary = {}
    for d in dimensions:
        queue = float(np.mean([r["needed"]["queue"][d.id] for r in results["repeats"]]))
        rand = float(np.mean([r["needed"]["random"][d.id] for r in results["repeats"]]))
        summary[d.id] = {"queue": queue, "random": rand, "ratio": round(queue / rand, 3)}
        print(f"{d.id:<18} queue {queue:6.1f}  random {rand:6.1f}  ratio {queue / rand:.2f}")
    results["summary"] = summary
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.output}.json").write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    plot(results, [d.id for d in dimensions], RESULTS / f"{args.output}.png")
    return 0


def plot(results, dimensions: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = (
        plt.subplots(2, 4, figsize=(16, 7), sharex=True)
        if len(dimensions) > 1
        else plt.subplots(1, 1, figsize=(6, 4), squeeze=False)
    )
    for axis, dimension_id in zip(axes.ravel(), dimensions, strict=False):
        for strategy, colour in (("queue", "tab:blue"), ("random", "tab:grey")):
            sizes = [size for size, _ in results["repeats"][0]["curves"][strategy]]
            values = np.mean(
                [[scores[dimension_id] for _, scores in r["curves"][strategy]] for r in results["repeats"]], axis=0
            )
            axis.plot(sizes, values, label=strategy, color=colour)
        target = np.mean([r["full_data_macro_f1"][dimension_id] for r in results["repeats"]]) * TARGET_SHARE
        axis.axhline(target, linestyle=":", color="tab:red", label="95% of full data")
        axis.set_title(dimension_id)
        axis.set_xlabel("reviewed cases")
        axis.set_ylabel("macro-F1 (held out)")
    for axis in axes.ravel()[len(dimensions) :]:
        axis.axis("off")
    axes.ravel()[0].legend(loc="lower right")
    figure.suptitle("Review queue against random order (mean of repeats)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)


if __name__ == "__main__":
    raise SystemExit(main())
