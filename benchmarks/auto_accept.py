"""Auto-accept at a stated precision (issue 13): does the promise hold on new cases of a real collection?

The rule (:mod:`iesi_nlp.coding.auto_accept`) picks, from a user's own judged suggestions, the
lowest score whose precision's one-sided Clopper–Pearson lower bound still reaches the target
(fixed-sequence test from the highest score down). Here the "user" is each real collection of
../shared/data that maps onto ``service_domain`` (read at run time, never copied). Per collection,
k own labelled cases (k = 100, 200, 300 where the collection leaves at least
:data:`MIN_HELD_OUT` cases over) and several draws with fixed seeds:

1. draw k own cases; the rest of the collection is held out (the collections have 192–283 cases
   with one mapped domain, so no held-out set of 300 exists);
2. train seed + k own cases with the product's own code (:func:`iesi_nlp.coding.training.train`,
   ``service_domain`` only); its cross-validation predicts the own cases out of fold (the seed
   always trains: ``evaluated_on == "own"``) with the recipe it kept; those predictions become
   the own judged suggestions (:func:`~iesi_nlp.coding.auto_accept.outcomes_out_of_fold`);
3. for targets 0.90 and 0.95, choose the threshold on them, code the held-out cases with the final
   model (:meth:`CodingModel.dimension_proba` and :func:`decide`, as ``benchmarks/adaptation.py``),
   auto-accept the units scoring at or over the threshold and measure their precision (right /
   accepted) and coverage (accepted / decided units; held-out cases with at least one accepted unit).

A draw *misses* when the held-out precision is below target − 0.02 (``missed``); ``missed (sig.)``
counts only misses whose held-out 95% upper bound is below the target too (a held-out set of
60–180 cases measures precision with an error of a few points by itself). The goal: at most 10% of
draws miss, with the coverage next to it (a rule that never accepts cannot miss).

Two accept units, because the gold has ONE mapped domain per case while ``service_domain`` is
multi-label (a second decided label counts as wrong even when it may be right):

* ``labels``: the product's unit, each decided label (right if it is the gold domain);
* ``top1``: the highest-scoring decided label of each case only (right if it is the gold domain),
  as if the dimension were single-label.

Next to the rule, the naive one (the lowest threshold whose observed out-of-fold precision reaches
the target, at least 20 accepted): the gap the issue describes. The rule's confidence level is
swept too; a level other than the product's 0.95 would be chosen on dsi4eu and ipso_ips_explorer
and confirmed on sdg_benchmark (both reported).

``--mislabeled`` (issue 13, item 3): per collection, every case is an own labelled case and 10% of
them get another mapped label at random; the product's training predicts them out of fold (5
folds over the own cases, the seed always training) and cleanlab's ``find_label_issues`` looks for
the flipped ones on those probabilities (cleanlab 2.9.0), against flagging every case whose
top-scoring mapped label is not its given one.

    python benchmarks/auto_accept.py [--draws 3] [--ks 100,200,300] [--mislabeled] [--quick] [--raw FILE]
    python benchmarks/auto_accept.py --draws 5 --first-draw 3 --raw FILE2   # add draws 3-7 to a run
    python benchmarks/auto_accept.py --from-raw FILE,FILE2   # re-analyse saved draws together, no training

Results in benchmarks/results/auto_accept.json (not written by ``--quick``); skips without ../shared/data.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson

from iesi_nlp.codebook import load_codebook
from iesi_nlp.coding.auto_accept import (
    CONFIDENCE,
    REPORTED_TARGETS,
    choose_threshold,
    outcomes_out_of_fold,
    precision_upper_bound,
)
from iesi_nlp.coding.heads import decide
from iesi_nlp.coding.training import OutOfFold, TrainingData, TrainOptions, train
from iesi_nlp.corpus import load_corpus
from iesi_nlp.embedding import DEFAULT_EMBEDDER
from iesi_nlp.records import Case
from iesi_nlp.workflow import cached_embedder

sys.path.insert(0, str(Path(__file__).resolve().parent))
from shared_collections import DEFAULT_DATA, Collection, load_collections  # benchmarks/ is not a package

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DIMENSION = "service_domain"
KS = (100, 200, 300)
#: A k is run on a collection only when it leaves this many held-out cases (fewer measure nothing).
MIN_HELD_OUT = 60
#: A draw misses when its held-out precision is below the target by more than this.
TOLERANCE = 0.02
#: The goal: at most this share of draws miss.
MAX_MISSED = 0.10
#: The naive rule needs at least this many accepted out-of-fold units.
NAIVE_MIN_ACCEPTED = 20
UNITS = ("labels", "top1")
#: Confidence levels swept; one other than the product's would be chosen on TUNING and confirmed on CONFIRM.
CONFIDENCES = (0.5, 0.75, 0.9, 0.95, 0.99)
TUNING = ("dsi4eu", "ipso_ips_explorer")
CONFIRM = ("sdg_benchmark",)
FLIP_SHARE = 0.10


@dataclass
class Bench:
    codebook: object
    embedder: object
    embedder_spec: str
    seed: list[Case]
    options: TrainOptions

    def fit(self, own: list[Case], unlabelled: list[Case]):
        data = TrainingData(seed=self.seed, own=own, unlabelled=unlabelled)
        return train(data, self.embedder, self.embedder_spec, self.codebook, self.options)

    def proba(self, model, cases: list[Case]) -> tuple[np.ndarray, np.ndarray]:
        """The final model's probabilities and decisions on ``cases`` (the document vector, as adaptation.py)."""
        vectors = self.embedder.encode([c.text for c in cases], [c.language for c in cases])
        proba = model.dimension_proba(DIMENSION, vectors, [c.text for c in cases], {})
        head = model.dimensions[DIMENSION]
        return proba, decide(proba, head.multi_label, head.thresholds())


def gold(cases: list[Case], label_ids: list[str]) -> np.ndarray:
    return np.array([[int(label in c.labels[DIMENSION]) for label in label_ids] for c in cases])


def own_out_of_fold(result: OutOfFold, n_seed: int, own: list[Case]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The out-of-fold probabilities, decisions and truth of the own cases, in the order of ``own``.

    Rows of ``result.targets.rows`` index the labelled cases, seed first then own: own rows are those
    from ``n_seed`` on (all of them when only the own cases were evaluated).
    """
    rows = result.targets.rows
    keep = rows >= n_seed
    positions = rows[keep] - n_seed
    if sorted(positions.tolist()) != list(range(len(own))):
        raise RuntimeError("the cross-validation did not predict every own case out of fold")
    order = np.argsort(positions)
    pick = np.flatnonzero(keep)[order]
    return result.proba[pick], result.chosen[pick], result.targets.matrix[pick]


def top1(proba: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """The highest-scoring decided label of each row, as a one-hot decision."""
    masked = np.where(chosen.astype(bool), proba, -np.inf)
    one = np.zeros_like(chosen)
    one[np.arange(len(proba)), np.argmax(masked, axis=1)] = 1
    return one


def units(
    label_ids: list[str], case_ids: list[str], proba: np.ndarray, chosen: np.ndarray, truth: np.ndarray
) -> dict[str, dict]:
    """Accept units of both definitions, through the product's own conversion (:func:`outcomes_out_of_fold`)."""
    out = {}
    for unit, multi, decided in (("labels", True, chosen), ("top1", False, top1(proba, chosen))):
        outcomes = outcomes_out_of_fold(DIMENSION, multi, label_ids, case_ids, proba, decided, truth)
        out[unit] = {
            "scores": [round(o.score, 6) for o in outcomes],
            "correct": [bool(o.correct) for o in outcomes],
            "case": [o.case_id for o in outcomes],
        }
    return out


# -- the rules, applied to one draw's own and held-out units ---------------------------------------------


def naive_threshold(scores: np.ndarray, correct: np.ndarray, target: float) -> float | None:
    """The lowest score whose observed precision at or over it reaches ``target``, at least 20 accepted."""
    order = np.argsort(-scores, kind="stable")
    ranked, right = scores[order], correct[order]
    precision = np.cumsum(right) / np.arange(1, len(ranked) + 1)
    # A threshold accepts every unit with its score: only the last position of a run of ties is one.
    ends = np.flatnonzero(np.append(ranked[1:] != ranked[:-1], True))
    passing = [p for p in ends if p + 1 >= NAIVE_MIN_ACCEPTED and precision[p] >= target]
    return float(ranked[passing[-1]]) if passing else None


def apply_rule(own: dict, held_out: dict, target: float, rule: str, confidence: float = CONFIDENCE) -> dict:
    """Choose a threshold on ``own`` units, accept held-out units at or over it, measure them."""
    scores, correct = np.asarray(own["scores"]), np.asarray(own["correct"], dtype=bool)
    reason = ""
    if rule == "bound":
        chosen = choose_threshold(DIMENSION, scores, correct, target, confidence=confidence)
        threshold, reason = chosen.threshold, chosen.reason
    else:
        threshold = naive_threshold(scores, correct, target)
    test_scores = np.asarray(held_out["scores"])
    test_correct = np.asarray(held_out["correct"], dtype=bool)
    cases = len(set(held_out["case"]))
    if threshold is None:
        return {
            "active": False,
            "reason": reason,
            "coverage": 0.0,
            "case_coverage": 0.0,
            "missed": False,
            "missed_significant": False,
        }
    own_accepted = scores >= threshold
    accepted = test_scores >= threshold
    n, right = int(accepted.sum()), int(test_correct[accepted].sum())
    precision = right / n if n else None
    return {
        "active": True,
        "threshold": round(threshold, 4),
        "own_accepted": int(own_accepted.sum()),
        "own_precision": round(float(correct[own_accepted].mean()), 4),
        "own_coverage": round(float(own_accepted.mean()), 4),
        "accepted": n,
        "right": right,
        "precision": None if precision is None else round(precision, 4),
        "coverage": round(n / len(test_scores), 4) if len(test_scores) else 0.0,
        "case_coverage": round(len({c for c, a in zip(held_out["case"], accepted, strict=True) if a}) / cases, 4),
        "missed": precision is not None and precision < target - TOLERANCE,
        "missed_significant": n > 0 and precision_upper_bound(right, n) < target,
    }


def summarise(runs: list[dict]) -> dict:
    """Over draws: how often active, held-out precision (mean, min, pooled), coverage, missed share."""
    active = [r for r in runs if r["active"]]
    measured = [r for r in active if r["precision"] is not None]
    accepted = sum(r["accepted"] for r in active)
    missed = sum(r["missed"] for r in runs) / len(runs)
    return {
        "draws": len(runs),
        "active": round(len(active) / len(runs), 3),
        "precision_mean": round(float(np.mean([r["precision"] for r in measured])), 4) if measured else None,
        "precision_min": round(float(np.min([r["precision"] for r in measured])), 4) if measured else None,
        "precision_pooled": round(sum(r["right"] for r in active) / accepted, 4) if accepted else None,
        "own_precision_mean": round(float(np.mean([r["own_precision"] for r in active])), 4) if active else None,
        "coverage": round(float(np.mean([r["coverage"] for r in runs])), 4),
        "case_coverage": round(float(np.mean([r["case_coverage"] for r in runs])), 4),
        "coverage_when_active": round(float(np.mean([r["coverage"] for r in active])), 4) if active else None,
        "missed": round(missed, 3),
        "missed_when_active": round(sum(r["missed"] for r in active) / len(active), 3) if active else None,
        "missed_significant": round(sum(r["missed_significant"] for r in runs) / len(runs), 3),
        "meets_goal": missed <= MAX_MISSED and bool(active),
    }


def analyse(draws: list[dict]) -> dict:
    """Every rule and confidence on every draw, summarised per collection, k, target and unit."""
    per_draw, summary, sweep = [], {}, {}
    for draw in draws:
        entry = {key: draw[key] for key in ("collection", "k", "draw", "held_out", "recipe")}
        entry["labels_per_case"] = draw["labels_per_case"]
        # Are the final model's scores on new cases like the out-of-fold ones (the threshold is a score)?
        entry["top1_score_and_accuracy"] = {
            part: {
                "mean_score": round(float(np.mean(draw[part]["top1"]["scores"])), 4),
                "accuracy": round(float(np.mean(draw[part]["top1"]["correct"])), 4),
            }
            for part in ("own", "test")
        }
        for target in REPORTED_TARGETS:
            for unit in UNITS:
                own, held_out = draw["own"][unit], draw["test"][unit]
                entry[f"{target}/{unit}/bound"] = apply_rule(own, held_out, target, "bound")
                entry[f"{target}/{unit}/naive"] = apply_rule(own, held_out, target, "naive")
                for confidence in CONFIDENCES:
                    run = apply_rule(own, held_out, target, "bound", confidence)
                    key = (draw["collection"], target, unit, confidence)
                    sweep.setdefault(key, []).append(run)
        per_draw.append(entry)
    groups: dict[tuple, list[dict]] = {}
    for entry in per_draw:
        groups.setdefault((entry["collection"], entry["k"]), []).append(entry)
    for (collection, k), entries in groups.items():
        for target in REPORTED_TARGETS:
            for unit in UNITS:
                summary[f"{collection}/k={k}/{target}/{unit}"] = {
                    "collection": collection,
                    "k": k,
                    "target": target,
                    "unit": unit,
                    **{rule: summarise([e[f"{target}/{unit}/{rule}"] for e in entries]) for rule in ("bound", "naive")},
                }
    return {"per_draw": per_draw, "summary": summary, "confidence": confidence_sweep(sweep)}


def confidence_sweep(sweep: dict[tuple, list[dict]]) -> dict:
    """Per unit and target: each confidence level on the tuning collections and the confirming one."""
    out: dict = {}
    for unit in UNITS:
        for target in REPORTED_TARGETS:
            rows = {}
            for confidence in CONFIDENCES:
                rows[confidence] = {}
                for part, names in (("tuning", TUNING), ("confirm", CONFIRM)):
                    runs = [r for name in names for r in sweep.get((name, target, unit, confidence), [])]
                    rows[confidence][part] = summarise(runs) if runs else None
            # The lowest confidence (most coverage) that meets the goal on the tuning collections.
            meeting = [c for c in CONFIDENCES if rows[c]["tuning"] and rows[c]["tuning"]["meets_goal"]]
            out[f"{target}/{unit}"] = {
                "levels": rows,
                "chosen_on_tuning": min(meeting) if meeting else None,
            }
    return out


# -- the runs --------------------------------------------------------------------------------------------


def run_draw(bench: Bench, collection: Collection, k: int, draw: int) -> dict:
    label_ids = list(bench.codebook.dimension(DIMENSION).label_ids)
    cases = collection.cases
    order = np.random.default_rng(draw).permutation(len(cases))
    own = [cases[i] for i in order[:k]]
    held_out = [cases[i] for i in order[k:]]
    unlabelled = [c.model_copy(update={"labels": {}}) for c in held_out]
    model, validation = bench.fit(own, unlabelled)
    result = validation.kept_result(DIMENSION)
    n_seed = sum(1 for c in bench.seed if c.labels)
    proba, chosen, truth = own_out_of_fold(result, n_seed, own)
    test_proba, test_chosen = bench.proba(model, held_out)
    return {
        "collection": collection.name,
        "k": k,
        "draw": draw,
        "held_out": len(held_out),
        "recipe": validation.choices[DIMENSION].kept,
        "evaluated_on": result.evaluated_on,
        "labels_per_case": {
            "own_out_of_fold": round(float(chosen.sum(axis=1).mean()), 3),
            "held_out": round(float(test_chosen.sum(axis=1).mean()), 3),
        },
        "own": units(label_ids, [c.id for c in own], proba, chosen, truth),
        "test": units(label_ids, [c.id for c in held_out], test_proba, test_chosen, gold(held_out, label_ids)),
    }


def flip_labels(collection: Collection, draw: int) -> tuple[list[Case], np.ndarray]:
    """The collection with FLIP_SHARE of its cases given another mapped label at random, and which."""
    rng = np.random.default_rng(1000 + draw)
    cases = list(collection.cases)
    flipped = np.zeros(len(cases), dtype=bool)
    flipped[rng.choice(len(cases), round(FLIP_SHARE * len(cases)), replace=False)] = True
    for i in np.flatnonzero(flipped):
        given = cases[i].labels[DIMENSION][0]
        other = [label for label in collection.labels if label != given]
        cases[i] = cases[i].model_copy(update={"labels": {DIMENSION: [str(rng.choice(other))]}})
    return cases, flipped


def found(flagged: np.ndarray, flipped: np.ndarray) -> dict:
    hits, n_flagged, n_flipped = int((flagged & flipped).sum()), int(flagged.sum()), int(flipped.sum())
    return {
        "flagged": n_flagged,
        "hits": hits,
        "precision": round(hits / n_flagged, 4) if n_flagged else None,
        "recall": round(hits / n_flipped, 4),
    }


def run_mislabeled(bench: Bench, collection: Collection, draw: int) -> dict:
    from cleanlab.filter import find_label_issues  # cleanlab 2.9.0

    label_ids = list(bench.codebook.dimension(DIMENSION).label_ids)
    mapped = [label_ids.index(label) for label in collection.labels]
    cases, flipped = flip_labels(collection, draw)
    _, validation = bench.fit(cases, [])
    result = validation.kept_result(DIMENSION)
    n_seed = sum(1 for c in bench.seed if c.labels)
    proba, _, truth = own_out_of_fold(result, n_seed, cases)
    given = np.argmax(truth[:, mapped], axis=1)  # one mapped label per case
    restricted = proba[:, mapped]
    # The gold is single-label: the mapped labels' probabilities, renormalised, as one distribution.
    single = restricted / restricted.sum(axis=1, keepdims=True)
    single_flags = find_label_issues(given, single, n_jobs=1)
    # The product's dimension is multi-label: each mapped label's own probability, the given label as a set.
    multi_flags = find_label_issues([[int(g)] for g in given], restricted, multi_label=True, n_jobs=1)
    disagree = np.argmax(restricted, axis=1) != given
    return {
        "collection": collection.name,
        "draw": draw,
        "cases": len(cases),
        "flipped": int(flipped.sum()),
        "recipe": validation.choices[DIMENSION].kept,
        "cleanlab_single_label": found(np.asarray(single_flags, dtype=bool), flipped),
        "cleanlab_multi_label": found(np.asarray(multi_flags, dtype=bool), flipped),
        "top_label_disagrees": found(disagree, flipped),
    }


def summarise_mislabeled(runs: list[dict]) -> dict:
    out: dict = {}
    for name in sorted({r["collection"] for r in runs}):
        mine = [r for r in runs if r["collection"] == name]
        out[name] = {"draws": len(mine), "cases": mine[0]["cases"], "flipped": mine[0]["flipped"]}
        for method in ("cleanlab_single_label", "cleanlab_multi_label", "top_label_disagrees"):
            hits = sum(r[method]["hits"] for r in mine)
            flagged = sum(r[method]["flagged"] for r in mine)
            out[name][method] = {
                "flagged": round(flagged / len(mine), 1),
                "precision": round(hits / flagged, 4) if flagged else None,
                "recall": round(hits / sum(r["flipped"] for r in mine), 4),
            }
    return out


# -- the tables ------------------------------------------------------------------------------------------


def fmt(value, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def print_tables(results: dict) -> None:
    analysis = results.get("analysis")
    if analysis:
        print("\n## Auto-accept on held-out cases (rule: confidence 0.95; naive: observed precision, ≥ 20)\n")
        print(
            "| collection | k | held-out | target | unit | active | precision mean / min / pooled | own prec. "
            "| coverage units / cases | missed: all / of active (sig.) | goal | naive: active | precision mean / min "
            "| coverage | missed: all / of active |"
        )
        print("|" + "---|" * 15)
        held = {}
        for entry in analysis["per_draw"]:
            held.setdefault((entry["collection"], entry["k"]), []).append(entry["held_out"])
        for row in analysis["summary"].values():
            b, n = row["bound"], row["naive"]
            sizes = held[(row["collection"], row["k"])]
            print(
                f"| {row['collection']} | {row['k']} | {min(sizes)} | {row['target']:.2f} | {row['unit']} "
                f"| {b['active']:.2f} | {fmt(b['precision_mean'])} / {fmt(b['precision_min'])} / "
                f"{fmt(b['precision_pooled'])} | {fmt(b['own_precision_mean'])} "
                f"| {b['coverage']:.3f} / {b['case_coverage']:.3f} | {b['missed']:.2f} / {fmt(b['missed_when_active'], 2)} "
                f"({b['missed_significant']:.2f}) "
                f"| {'yes' if b['meets_goal'] else 'no'} | {n['active']:.2f} "
                f"| {fmt(n['precision_mean'])} / {fmt(n['precision_min'])} | {n['coverage']:.3f} "
                f"| {n['missed']:.2f} / {fmt(n['missed_when_active'], 2)} |"
            )
        print("\n## Confidence level of the bound (tuning: dsi4eu + ipso_ips_explorer; confirm: sdg_benchmark)\n")
        print(
            "| target | unit | confidence | tuning: active / coverage / missed | "
            "confirm: active / coverage / missed | chosen on tuning |"
        )
        print("|---|---|---|---|---|---|")
        for key, block in analysis["confidence"].items():
            target, unit = key.split("/")
            for confidence, parts in block["levels"].items():
                cells = []
                for part in ("tuning", "confirm"):
                    s = parts[part]
                    cells.append("–" if s is None else f"{s['active']:.2f} / {s['coverage']:.3f} / {s['missed']:.2f}")
                mark = "←" if block["chosen_on_tuning"] == confidence else ""
                print(f"| {target} | {unit} | {confidence} | {cells[0]} | {cells[1]} | {mark} |")
        print(
            "\nOwn out-of-fold against held-out (mean over draws): decided labels per case; "
            "top-1 label's mean score and accuracy"
        )
        for name, k in sorted({(e["collection"], e["k"]) for e in analysis["per_draw"]}):
            mine = [e for e in analysis["per_draw"] if e["collection"] == name and e["k"] == k]
            if not all("top1_score_and_accuracy" in e for e in mine):  # an analysis saved by an older script
                continue

            def mean(get, entries=mine):
                return float(np.mean([get(e) for e in entries]))

            print(
                f"  {name} k={k}: labels/case {mean(lambda e: e['labels_per_case']['own_out_of_fold']):.2f} / "
                f"{mean(lambda e: e['labels_per_case']['held_out']):.2f}; top-1 score "
                f"{mean(lambda e: e['top1_score_and_accuracy']['own']['mean_score']):.3f} / "
                f"{mean(lambda e: e['top1_score_and_accuracy']['test']['mean_score']):.3f}, accuracy "
                f"{mean(lambda e: e['top1_score_and_accuracy']['own']['accuracy']):.3f} / "
                f"{mean(lambda e: e['top1_score_and_accuracy']['test']['accuracy']):.3f}"
            )
    mislabeled = results.get("mislabeled_summary")
    if mislabeled:
        print(f"\n## Finding {FLIP_SHARE:.0%} flipped labels (out-of-fold, seed always training)\n")
        print("| collection | cases | flipped | method | flagged | precision | recall |")
        print("|---|---|---|---|---|---|---|")
        for name, row in mislabeled.items():
            for method in ("cleanlab_single_label", "cleanlab_multi_label", "top_label_disagrees"):
                m = row[method]
                print(
                    f"| {name} | {row['cases']} | {row['flipped']} | {method} | {m['flagged']} "
                    f"| {fmt(m['precision'])} | {fmt(m['recall'])} |"
                )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--draws", type=int, default=3)
    parser.add_argument("--first-draw", type=int, default=0, help="Seed of the first draw (to add draws to a run).")
    parser.add_argument("--ks", default=",".join(map(str, KS)))
    parser.add_argument("--collections", default=None, help="Comma-separated names (default: all).")
    parser.add_argument("--mislabeled", action="store_true", help="Also find flipped labels with cleanlab.")
    parser.add_argument("--mislabeled-draws", type=int, default=2)
    parser.add_argument("--no-accept", action="store_true", help="Skip the auto-accept section.")
    parser.add_argument("--quick", action="store_true", help="Smoke run: 1 draw, k=100, dsi4eu; writes nothing.")
    parser.add_argument("--raw", type=Path, default=None, help="Save every draw's units here (for --from-raw).")
    parser.add_argument("--from-raw", default=None, help="Re-analyse saved units (comma-separated files); no training.")
    parser.add_argument("--embedder", default=DEFAULT_EMBEDDER)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args(argv)
    if args.quick:
        args.draws, args.ks, args.collections, args.mislabeled_draws = 1, "100", "dsi4eu", 1
    started = time.perf_counter()
    output = RESULTS / "auto_accept.json"
    results: dict = orjson.loads(output.read_bytes()) if output.is_file() and not args.quick else {}
    if args.from_raw:
        draws = [d for path in args.from_raw.split(",") for d in orjson.loads(Path(path).read_bytes())]
        results["draws"] = len({d["draw"] for d in draws})
        results["analysis"] = analyse(draws)
        print_tables(results)
        output.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))
        return 0
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
    collections = load_collections(args.data, codebook, names)
    ks = [int(k) for k in args.ks.split(",")]
    results.update({"embedder": args.embedder, "confidence": CONFIDENCE, "tolerance": TOLERANCE})
    runtime = results["runtime_s"] = results.get("runtime_s") if isinstance(results.get("runtime_s"), dict) else {}
    if not args.no_accept:
        draws, skipped = [], []
        for collection in collections:
            for k in ks:
                if len(collection.cases) - k < MIN_HELD_OUT:
                    skipped.append(f"{collection.name} k={k} ({len(collection.cases)} cases)")
                    continue
                for draw in range(args.first_draw, args.first_draw + args.draws):
                    t = time.perf_counter()
                    draws.append(run_draw(bench, collection, k, draw))
                    last = draws[-1]
                    print(
                        f"{collection.name} k={k} draw {draw}: {last['held_out']} held out, recipe "
                        f"{last['recipe']!r} ({time.perf_counter() - t:.0f} s; {time.perf_counter() - started:.0f} s)",
                        flush=True,
                    )
        if skipped:
            print(f"skipped (fewer than {MIN_HELD_OUT} held-out cases): {', '.join(skipped)}", flush=True)
        if args.raw:
            args.raw.write_bytes(orjson.dumps(draws))
        results.update({"draws": args.draws, "ks": ks, "skipped": skipped, "analysis": analyse(draws)})
        # Added draws (--first-draw) add their time to the run's.
        runtime["accept"] = round(time.perf_counter() - started) + (runtime.get("accept", 0) if args.first_draw else 0)
    if args.mislabeled:
        section_started = time.perf_counter()
        runs = []
        for collection in collections:
            for draw in range(args.mislabeled_draws):
                t = time.perf_counter()
                runs.append(run_mislabeled(bench, collection, draw))
                print(
                    f"{collection.name} flipped draw {draw}: "
                    f"cleanlab {runs[-1]['cleanlab_single_label']} ({time.perf_counter() - t:.0f} s)",
                    flush=True,
                )
        results["mislabeled"] = runs
        results["mislabeled_summary"] = summarise_mislabeled(runs)
        runtime["mislabeled"] = round(time.perf_counter() - section_started)
    print_tables(results)
    print(f"\n{round(time.perf_counter() - started)} s")
    if not args.quick:
        RESULTS.mkdir(parents=True, exist_ok=True)
        output.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
