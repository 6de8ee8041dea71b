"""Long reports: how a chunked document should get its labels (issue 12), measured on synthetic reports.

Models learn from case descriptions of some 30-400 words; a scraped project report covering several
activities is far longer. This builds long reports whose labels are known from the real collections
of ../shared/data (read at run time, never copied) and compares the rules of
:func:`iesi_nlp.coding.chunks.combine` (``document``: today's mean-pooled vector; ``max``, ``top2``,
``chunk_mean``, ``document_or_max`` over the chunks) at several chunk sizes.

Per collection and draw (fixed seeds): the cases are split in halves; a model is trained on one half
by the product's training code (:func:`iesi_nlp.coding.training.train`, the bundled seed plus the half
as own cases, ``service_domain`` only, as ``benchmarks/adaptation.py`` does; the candidate recipes
with character n-grams are left out unless ``--ngrams``, which makes each model ten times slower).
Reports are built from the other half:

* ``plain k=K``: K random test cases joined with a blank line; the truth is the union of their labels;
* ``padded k=K``: the same plus about :data:`PADDING_WORDS` words of label-neutral project management
  text (budget, work packages, timeline, dissemination: :data:`PADDING`), the paragraphs shuffled in.

A report's embedding is built from its parts' cached embeddings (offsets shifted, document vector
pooled again): sentence vectors are per sentence, so this is what embedding the report would give.
``k=1`` plain reports are the test cases themselves, exactly as the product scores them.

Scores over the collection's mapped labels (each case has one; a label the collection cannot express
is not held against the model): micro- and macro-F1 of the decided labels against the union truth,
and labels decided per report (mapped, and over all nine) against the true number.

The rule is chosen on dsi4eu and ipso_ips_explorer by the mean of micro- and macro-F1 over every
setting (plain and padded, every k, k=1 included so that a rule that hurts ordinary cases pays for
it), then confirmed on sdg_benchmark. The chunk size is not chosen by that mean alone: it favours
chunks as long as the parts the reports are made of (60-100-word cases), an artefact of the
construction; ordinary cases (plain k=1) must keep their scores. A seed check (``--no-seed-check``
skips it) codes held-out halves of the bundled corpus on every dimension, its cases as they are
(about 370 words: two or three chunks of 200) and padded: whether the rule suits the other
multi-label dimensions, and which rule suits the single-label ones (one true label, so only k=1).

Findings (3 draws, 150 reports per setting): ``max`` beat every other rule at every chunk size, on
every collection and draw (at 200 words 0.624 against 0.449 for ``document`` on the choice
collections, 0.650 against 0.385 on sdg_benchmark); ``document_or_max`` decided the same labels there.
Chunks of 100 words scored higher still (0.719) but changed ordinary cases (micro-F1 -0.005 to
-0.009, more labels per case); at 200 they moved by at most 0.006, and 300 and 400 kept less of the
gain (0.569, 0.538). On the bundled corpus's cases, ``max`` at 200 costs the abstract multi-label
dimensions 0.01-0.03 micro-F1 (service_domain gains 0.013; at 400 the cost is gone); on reports of
four of its cases every multi-label dimension gains 0.12-0.49, and on padded cases up to 0.33, except
integration_type (-0.05: the padding's budget and co-financing text is not neutral for its ``funding``
and ``administrative`` labels). Single-label dimensions keep the pooled vector: as good or better on
the bundled corpus's cases, and ``max`` gained less than 0.01 accuracy on padded ones.

Chosen: ``max`` for multi-label dimensions, the pooled vector for single-label ones, chunks of 400
words (``CHUNK_WORDS``). Case descriptions of the bundled corpus's length are the main input: at 400
they keep their scores (micro-F1 within 0.006 on every dimension), and reports of four such cases
still gain nearly what 200-word chunks give (service_domain 0.33 -> 0.74 against 0.81; actors 0.77 ->
0.91 against 0.92). On reports built of the shared collections' 60-100-word cases, 400 keeps about half
of the gain of 200 (0.538 against 0.449 for ``document`` on the choice collections; 0.473 against
0.385 on sdg_benchmark). The JSON holds every size, so the table below can be re-read for any.

    nice -n 10 python benchmarks/long_reports.py [--draws 3] [--reports 150] [--ngrams] [--no-seed-check]

Results in benchmarks/results/long_reports.json; a markdown table on stdout. Skips without ../shared/data.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson
from sklearn.metrics import f1_score

from iesi_nlp.codebook import Codebook, load_codebook
from iesi_nlp.coding.adaptation import AdaptationOptions
from iesi_nlp.coding.chunks import CHUNK_RULES, CHUNK_WORDS, RULES, chunk_batch, combine
from iesi_nlp.coding.heads import decide
from iesi_nlp.coding.model import CodingModel
from iesi_nlp.coding.training import TrainingData, TrainOptions, train
from iesi_nlp.corpus import load_corpus
from iesi_nlp.embedding import DEFAULT_EMBEDDER
from iesi_nlp.embedding.base import DocumentEmbedding, document_embedding
from iesi_nlp.records import Case
from iesi_nlp.text import Span
from iesi_nlp.workflow import cached_embedder

sys.path.insert(0, str(Path(__file__).resolve().parent))
from shared_collections import DEFAULT_DATA, load_collections  # benchmarks/ is not a package

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DIMENSION = "service_domain"
CHOOSE_ON = ("dsi4eu", "ipso_ips_explorer")
CONFIRM_ON = ("sdg_benchmark",)
KS = (1, 4, 8, 16)
PADDED_KS = (1, 4)
CHUNK_SIZES = (100, 200, 300, 400)
PADDING_WORDS = 800
SEPARATOR = "\n\n"

#: Label-neutral project management paragraphs (written for this benchmark): what surrounds the
#: description of the activities in a funded project's report.
PADDING = (
    "The total eligible budget of the project amounts to 1.2 million euro, of which 70 percent is "
    "co-financed by the programme. Personnel costs account for the largest share, followed by travel, "
    "equipment and subcontracting. Indirect costs are calculated as a flat rate of 15 percent of direct "
    "staff costs. Budget transfers between partners above 20 percent require prior approval by the "
    "managing authority.",
    "Work package 1 covers project management and coordination. The lead partner chairs the steering "
    "committee, which meets every six months, prepares the progress reports and keeps the risk register "
    "up to date. Each partner appoints a contact person who is responsible for the timely delivery of "
    "its tasks and for reporting costs in the monitoring system.",
    "The project started in January and runs for 36 months. The first six months were devoted to the "
    "kick-off meeting, the consortium agreement and the detailed work plan. Milestone 2, the mid-term "
    "review, was reached in month 18 with a delay of six weeks, which was recovered in the following "
    "period without affecting the final deadline.",
    "Dissemination activities include a project website, a newsletter published three times a year, "
    "posts on social media and presentations at two international conferences. A final event will "
    "present the results to stakeholders and policy makers. All public deliverables are available for "
    "download, and the communication plan is updated annually.",
    "Quality assurance follows the procedures laid down in the quality plan. Every deliverable is "
    "reviewed by a partner that did not write it, and comments are addressed before submission. "
    "Deviations from the work plan are recorded, discussed at the steering committee and reported to "
    "the programme secretariat together with corrective measures.",
    "The consortium consists of seven partners from five countries. The partnership agreement sets out "
    "the rights and obligations of each partner, the rules on intellectual property and the procedure "
    "for resolving disputes. One partner withdrew in the second year; its tasks were redistributed "
    "among the remaining partners after an amendment to the grant agreement.",
    "Risk management identified delays in procurement, staff turnover and changes in the legal "
    "framework as the main risks. For each risk, the likelihood and impact were assessed and a "
    "mitigation measure agreed. The risk register is reviewed at every steering committee meeting and "
    "no risk has so far materialised with a high impact.",
    "Financial reporting is done every twelve months. Partners upload their expenditure and supporting "
    "documents, which are checked by an independent first level controller before the lead partner "
    "submits the consolidated claim. The first two payment claims were approved without reductions, and "
    "the third is under verification.",
    "Key performance indicators were defined at the start and are monitored quarterly: the number of "
    "deliverables submitted on time, attendance at project events, downloads of project outputs and "
    "mentions in the press. Targets for the first two reporting periods have been met or exceeded, "
    "with the exception of the number of press mentions.",
    "The timeline for the remaining period foresees the finalisation of the evaluation report in month "
    "30, the preparation of the sustainability plan in month 33 and the closing conference in month "
    "36. A no-cost extension of three months may be requested if the pending procurement procedure is "
    "not concluded by the end of the current period.",
    "The project contributes to the horizontal principles of the programme. Equal opportunities and "
    "non-discrimination are taken into account in the recruitment of project staff and in the "
    "organisation of events, and environmental impacts are limited by holding most meetings online. "
    "These aspects are reported in each progress report.",
    "Lessons learnt so far concern mainly coordination: early agreement on templates and deadlines "
    "saved time, while the approval of documents by several partners took longer than planned. The "
    "consortium therefore introduced shorter review cycles and a shared document repository with "
    "version control, which has improved the flow of information.",
    "Procurement of external services followed the national public procurement rules of each partner. "
    "Three tenders were launched for the website, the external evaluation and the translation of "
    "materials. One tender had to be repeated because no valid offer was received, which caused a "
    "delay of two months in the related tasks.",
    "Sustainability beyond the funding period will be ensured by integrating the outputs into the "
    "regular work of the partner organisations, seeking follow-up funding and transferring the "
    "materials to other organisations interested in using them. A memorandum of understanding on the "
    "use of the results will be signed at the final event.",
)


@dataclass
class Reports:
    """Synthetic reports of one setting: texts, embeddings and the union of their parts' labels."""

    texts: list[str]
    documents: list[DocumentEmbedding]
    truth: np.ndarray  # (n_reports, n_labels) 0/1, codebook label order


def join(parts: list[tuple[str, DocumentEmbedding]]) -> tuple[str, DocumentEmbedding]:
    """The text of ``parts`` joined by :data:`SEPARATOR`, and its embedding built from theirs (nothing embedded)."""
    if len(parts) == 1:
        return parts[0]
    sentences: list[Span] = []
    offset = 0
    for text, document in parts:
        sentences += [Span(s.text, s.start + offset, s.end + offset) for s in document.sentences]
        offset += len(text) + len(SEPARATOR)
    vectors = np.concatenate([document.sentence_vectors for _, document in parts])
    text = SEPARATOR.join(text for text, _ in parts)
    return text, document_embedding(sentences, vectors, parts[0][1].language)


def padding_parts(rng: np.random.Generator, padding: list[tuple[str, DocumentEmbedding]], words: int) -> list:
    """Padding paragraphs drawn without repetition until about ``words`` words."""
    chosen, total = [], 0
    for i in rng.permutation(len(padding)):
        if total >= words:
            break
        chosen.append(padding[i])
        total += len(padding[i][0].split())
    return chosen


def build_reports(
    rng: np.random.Generator,
    cases: list[Case],
    documents: list[DocumentEmbedding],
    truth: np.ndarray,
    k: int,
    n_reports: int,
    padding: list | None,
) -> Reports:
    """``n_reports`` reports of ``k`` distinct cases each (every case once when ``k`` is 1), padded or not."""
    picks = (
        [[i] for i in range(len(cases))]
        if k == 1
        else [rng.choice(len(cases), k, replace=False) for _ in range(n_reports)]
    )
    texts, embedded, rows = [], [], []
    for pick in picks:
        parts = [(cases[i].text, documents[i]) for i in pick]
        if padding is not None:
            parts += padding_parts(rng, padding, PADDING_WORDS)
            parts = [parts[i] for i in rng.permutation(len(parts))]
        text, document = join(parts)
        texts.append(text)
        embedded.append(document)
        rows.append(truth[list(pick)].max(axis=0))
    return Reports(texts, embedded, np.asarray(rows))


def rule_decisions(
    model: CodingModel, dimension_id: str, reports: Reports, sizes: tuple[int, ...]
) -> tuple[dict[int, dict[str, np.ndarray]], dict[int, float]]:
    """Decided labels per chunk size and rule, computed as :meth:`CodingModel.suggest` does; chunks per report."""
    head = model.dimensions[dimension_id]
    vectors = np.stack([d.vector for d in reports.documents])
    document = model.dimension_proba(dimension_id, vectors, reports.texts, {})
    decisions: dict[int, dict[str, np.ndarray]] = {}
    chunks_per_report: dict[int, float] = {}
    for size in sizes:
        batch = chunk_batch(reports.documents, size)
        chunk = model.dimension_proba(dimension_id, batch.vectors, batch.texts(reports.texts), {}) if batch else None
        decisions[size] = {}
        for rule in RULES:
            probabilities = document.copy()
            if batch:
                probabilities[batch.rows] = combine(rule, document[batch.rows], chunk, batch.sizes, head.multi_label)
            decisions[size][rule] = decide(probabilities, head.multi_label, head.thresholds())
        n_chunks = len(reports.texts) - (len(batch.rows) if batch else 0) + (len(batch.vectors) if batch else 0)
        chunks_per_report[size] = round(n_chunks / len(reports.texts), 2)
    return decisions, chunks_per_report


def multi_label_scores(truth: np.ndarray, chosen: np.ndarray, mapped: list[int]) -> dict[str, float]:
    t, c = truth[:, mapped], chosen[:, mapped]
    scores = {
        "micro_f1": f1_score(t, c, average="micro", zero_division=0),
        "macro_f1": f1_score(t, c, average="macro", zero_division=0),
        "labels_true": t.sum(axis=1).mean(),
        "labels_decided": c.sum(axis=1).mean(),
        "labels_decided_all": chosen.sum(axis=1).mean(),
    }
    return {metric: round(float(value), 4) for metric, value in scores.items()}


def single_label_scores(truth: np.ndarray, chosen: np.ndarray) -> dict[str, float]:
    t, c = truth.argmax(axis=1), chosen.argmax(axis=1)
    labels = sorted(set(t.tolist()))
    return {
        "accuracy": round(float((t == c).mean()), 4),
        "macro_f1": round(float(f1_score(t, c, labels=labels, average="macro", zero_division=0)), 4),
    }


def label_matrix(cases: list[Case], dimension_id: str, label_ids) -> np.ndarray:
    return np.array([[int(label in c.labels.get(dimension_id, [])) for label in label_ids] for c in cases])


def without_labels(cases: list[Case]) -> list[Case]:
    return [c.model_copy(update={"labels": {}}) for c in cases]


def settings() -> list[tuple[str, int, bool]]:
    return [(f"plain k={k}", k, False) for k in KS] + [(f"padded k={k}", k, True) for k in PADDED_KS]


def check_suggest(model: CodingModel, reports: Reports, decided: np.ndarray) -> None:
    """The product path (:meth:`CodingModel.suggest`, with evidence) decides what this benchmark computed."""
    label_ids = model.dimensions[DIMENSION].label_ids
    n = min(20, len(reports.texts))
    suggestions = model.suggest(reports.documents[:n], reports.texts[:n], [str(i) for i in range(n)])
    for row, suggestion in enumerate(suggestions):
        expected = [label_ids[j] for j in np.flatnonzero(decided[row])]
        assert list(suggestion[DIMENSION].labels) == expected, (row, suggestion[DIMENSION].labels, expected)
        for label, spans in suggestion[DIMENSION].evidence.items():
            assert spans, label


def run_collection(collection, codebook: Codebook, embedder, seed: list[Case], args) -> dict:
    label_ids = list(codebook.dimension(DIMENSION).label_ids)
    mapped = [label_ids.index(label) for label in collection.labels]
    cases = collection.cases
    documents = embedder.embed_documents([c.text for c in cases], [c.language for c in cases])
    truth = label_matrix(cases, DIMENSION, label_ids)
    padding = padding_documents(embedder)
    adaptation = AdaptationOptions() if args.ngrams else AdaptationOptions(tfidf_min_own_cases=10**9)
    options = TrainOptions(feature_set="dense", dimensions=(DIMENSION,), n_jobs=1, adaptation=adaptation)
    draws = []
    for draw in range(args.draws):
        started = time.perf_counter()
        order = np.random.default_rng(draw).permutation(len(cases))
        train_rows, test_rows = order[: len(cases) // 2], order[len(cases) // 2 :]
        own = [cases[i] for i in train_rows]
        test = [cases[i] for i in test_rows]
        data = TrainingData(seed=seed, own=own, unlabelled=without_labels(test))
        model, _ = train(data, embedder, args.embedder, codebook, options)
        trained = time.perf_counter() - started
        rng = np.random.default_rng(1000 + draw)
        results = {"recipe": model.dimensions[DIMENSION].recipe.name, "settings": {}}
        for name, k, padded in settings():
            reports = build_reports(
                rng,
                test,
                [documents[i] for i in test_rows],
                truth[test_rows],
                k,
                args.reports,
                padding if padded else None,
            )
            decisions, chunks = rule_decisions(model, DIMENSION, reports, CHUNK_SIZES)
            if CHUNK_WORDS in decisions:
                check_suggest(model, reports, decisions[CHUNK_WORDS][CHUNK_RULES["multi_label"]])
            results["settings"][name] = {
                "reports": len(reports.texts),
                "words": round(float(np.mean([len(t.split()) for t in reports.texts])), 1),
                "chunks_per_report": chunks,
                "scores": {
                    size: {rule: multi_label_scores(reports.truth, chosen, mapped) for rule, chosen in by_rule.items()}
                    for size, by_rule in decisions.items()
                },
            }
        draws.append(results)
        print(
            f"{collection.name} draw {draw}: trained in {trained:.0f} s ({results['recipe']}), "
            f"scored in {time.perf_counter() - started - trained:.0f} s",
            flush=True,
        )
    return {"cases": len(cases), "labels": collection.labels, "draws": draws}


def padding_documents(embedder) -> list[tuple[str, DocumentEmbedding]]:
    """The padding paragraphs with their embeddings (through the embedding cache: embedded once, ever)."""
    return list(zip(PADDING, embedder.embed_documents(list(PADDING), ["en"] * len(PADDING)), strict=True))


def seed_check(codebook: Codebook, embedder, seed: list[Case], args) -> dict:
    """Every dimension on held-out halves of the bundled corpus: cases as they are, and padded (k=1)."""
    cases = [c for c in seed if c.labels]
    documents = embedder.embed_documents([c.text for c in cases], [c.language for c in cases])
    padding = padding_documents(embedder)
    options = TrainOptions(feature_set="dense", n_jobs=1)
    order = np.random.default_rng(0).permutation(len(cases))
    halves = (order[: len(cases) // 2], order[len(cases) // 2 :])
    out: dict = {}
    for fold, (train_rows, test_rows) in enumerate((halves, halves[::-1])):
        started = time.perf_counter()
        model, _ = train(TrainingData(seed=[cases[i] for i in train_rows]), embedder, args.embedder, codebook, options)
        rng = np.random.default_rng(2000 + fold)
        for dimension in codebook.dimensions:
            labelled = [i for i in test_rows if cases[i].labels.get(dimension.id)]
            truth = label_matrix([cases[i] for i in labelled], dimension.id, dimension.label_ids)
            kinds = [("plain k=1", 1, False), ("padded k=1", 1, True)]
            if dimension.multi_label:
                kinds.append(("plain k=4", 4, False))
            for name, k, padded in kinds:
                reports = build_reports(
                    rng,
                    [cases[i] for i in labelled],
                    [documents[i] for i in labelled],
                    truth,
                    k,
                    args.reports,
                    padding if padded else None,
                )
                decisions, chunks = rule_decisions(model, dimension.id, reports, CHUNK_SIZES)
                every = list(range(len(dimension.label_ids)))
                by_size = out.setdefault(dimension.id, {}).setdefault(name, {"chunks_per_report": chunks})
                for size, by_rule in decisions.items():
                    for rule, chosen in by_rule.items():
                        scores = (
                            multi_label_scores(reports.truth, chosen, every)
                            if dimension.multi_label
                            else single_label_scores(reports.truth, chosen)
                        )
                        by_size.setdefault(size, {}).setdefault(rule, []).append(scores)
        print(f"seed check fold {fold}: {time.perf_counter() - started:.0f} s", flush=True)
    return {
        dimension_id: {
            name: {
                "chunks_per_report": by_size["chunks_per_report"],
                "scores": {
                    size: {rule: mean_scores(folds) for rule, folds in by_size[size].items()} for size in CHUNK_SIZES
                },
            }
            for name, by_size in by_setting.items()
        }
        for dimension_id, by_setting in out.items()
    }


def mean_scores(runs: list[dict[str, float]]) -> dict[str, float]:
    return {metric: round(float(np.mean([r[metric] for r in runs])), 4) for metric in runs[0]}


def summarise(collections: dict) -> dict:
    """Per collection, setting, chunk size and rule: the mean over draws."""
    summary: dict = {}
    for name, collection in collections.items():
        summary[name] = {}
        for setting in collection["draws"][0]["settings"]:
            runs = [d["settings"][setting] for d in collection["draws"]]
            summary[name][setting] = {
                "words": round(float(np.mean([r["words"] for r in runs])), 1),
                "chunks_per_report": {
                    size: float(np.mean([r["chunks_per_report"][size] for r in runs])) for size in CHUNK_SIZES
                },
                "scores": {
                    size: {rule: mean_scores([r["scores"][size][rule] for r in runs]) for rule in RULES}
                    for size in CHUNK_SIZES
                },
            }
    return summary


def criterion(summary: dict, names) -> dict[str, float]:
    """Mean of micro- and macro-F1 over ``names`` and every setting, for each ``rule@size``."""
    out = {}
    for size in CHUNK_SIZES:
        for rule in RULES:
            values = [
                (summary[n][s]["scores"][size][rule]["micro_f1"] + summary[n][s]["scores"][size][rule]["macro_f1"]) / 2
                for n in names
                if n in summary
                for s in summary[n]
            ]
            if values:
                out[f"{rule}@{size}"] = round(float(np.mean(values)), 4)
    return out


def pair(scores: dict[str, float]) -> str:
    first = scores["micro_f1"] if "micro_f1" in scores else scores["accuracy"]
    return f"{first:.3f} / {scores['macro_f1']:.3f}"


def by_draw(collections: dict) -> dict:
    """Per collection and draw, the mean of micro- and macro-F1 over the settings, for each ``rule@size``."""
    return {
        name: {
            f"{rule}@{size}": [
                round(
                    float(
                        np.mean(
                            [
                                (r["scores"][size][rule]["micro_f1"] + r["scores"][size][rule]["macro_f1"]) / 2
                                for r in draw["settings"].values()
                            ]
                        )
                    ),
                    4,
                )
                for draw in collection["draws"]
            ]
            for size in CHUNK_SIZES
            for rule in RULES
        }
        for name, collection in collections.items()
    }


def compact(collections: dict) -> dict:
    """The raw draws, each score as ``[micro-F1, macro-F1, labels decided]`` (the summary has the rest)."""
    out = {}
    for name, collection in collections.items():
        draws = []
        for draw in collection["draws"]:
            settings_ = {}
            for setting, result in draw["settings"].items():
                scores = {
                    size: {rule: [s["micro_f1"], s["macro_f1"], s["labels_decided"]] for rule, s in by_rule.items()}
                    for size, by_rule in result["scores"].items()
                }
                settings_[setting] = {**{k: v for k, v in result.items() if k != "scores"}, "scores": scores}
            draws.append({"recipe": draw["recipe"], "settings": settings_})
        out[name] = {**{k: v for k, v in collection.items() if k != "draws"}, "draws": draws}
    return out


def markdown(summary: dict, choice: dict, confirm: dict, seed: dict | None) -> str:
    rule = CHUNK_RULES["multi_label"]
    lines = ["## Rule and chunk size: mean of micro- and macro-F1 over every setting (service_domain)", ""]
    lines += ["| rule@chunk words | chosen on (dsi4eu, ipso) | confirmed on (sdg_benchmark) |", "|---|---|---|"]
    for key in sorted(choice, key=lambda k: -choice[k]):
        lines.append(f"| {key} | {choice[key]:.3f} | {confirm.get(key, float('nan')):.3f} |")
    lines += ["", "## Ordinary cases (plain k=1): micro-F1 / macro-F1 by chunk size", ""]
    lines += ["| collection | document | " + " | ".join(f"{rule}@{size}" for size in CHUNK_SIZES) + " |"]
    lines.append("|---|---|" + "---|" * len(CHUNK_SIZES))
    for name, by_setting in summary.items():
        scores = by_setting["plain k=1"]["scores"]
        cells = " | ".join(pair(scores[size][rule]) for size in CHUNK_SIZES)
        lines.append(f"| {name} | {pair(scores[CHUNK_SIZES[0]]['document'])} | {cells} |")
    size = CHUNK_WORDS
    lines += ["", f"## service_domain per collection and setting, chunks of {size} words", ""]
    lines += [
        "| collection | setting | words | chunks | rule | micro-F1 | macro-F1 | labels decided (mapped / all) | true |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, by_setting in summary.items():
        for setting, result in by_setting.items():
            for candidate in RULES:
                s = result["scores"][size][candidate]
                lines.append(
                    f"| {name} | {setting} | {result['words']:.0f} | {result['chunks_per_report'][size]:.1f} | "
                    f"{candidate} | {s['micro_f1']:.3f} | {s['macro_f1']:.3f} | "
                    f"{s['labels_decided']:.2f} / {s['labels_decided_all']:.2f} | {s['labels_true']:.2f} |"
                )
    if seed:
        lines += ["", "## Seed check: every dimension, held-out halves of the bundled corpus", ""]
        lines += ["Micro-F1 (multi-label) or accuracy (single-label) / macro-F1; chunks per report at each size.", ""]
        columns = [("document", size)] + [("max", s) for s in CHUNK_SIZES] + [("top2", size), ("chunk_mean", size)]
        header = " | ".join("document" if r == "document" else f"{r}@{s}" for r, s in columns)
        lines += [f"| dimension | setting | chunks | {header} |", "|---|---|---|" + "---|" * len(columns)]
        for dimension_id, by_setting in seed.items():
            for setting, result in by_setting.items():
                chunks = "/".join(f"{result['chunks_per_report'][s]:.1f}" for s in CHUNK_SIZES)
                cells = " | ".join(pair(result["scores"][s][r]) for r, s in columns)
                lines.append(f"| {dimension_id} | {setting} | {chunks} | {cells} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--draws", type=int, default=3)
    parser.add_argument("--reports", type=int, default=150, help="Reports per setting and draw (k > 1).")
    parser.add_argument("--ngrams", action="store_true", help="Let training try character n-gram recipes (slow).")
    parser.add_argument("--no-seed-check", action="store_true")
    parser.add_argument("--collections", default=None, help="Comma-separated names (default: all).")
    parser.add_argument("--embedder", default=DEFAULT_EMBEDDER)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--output", default="long_reports")
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        print(f"skipped: {args.data} not found (the shared data lives outside the repository)")
        return 0
    started = time.perf_counter()
    codebook = load_codebook()
    embedder = cached_embedder(args.embedder)
    seed = load_corpus(codebook).labelled
    names = args.collections.split(",") if args.collections else None
    collections = {
        c.name: run_collection(c, codebook, embedder, seed, args) for c in load_collections(args.data, codebook, names)
    }
    summary = summarise(collections)
    choice, confirm = criterion(summary, CHOOSE_ON), criterion(summary, CONFIRM_ON)
    seed_results = None if args.no_seed_check else seed_check(codebook, embedder, seed, args)
    results = {
        "embedder": args.embedder,
        "draws": args.draws,
        "reports": args.reports,
        "ngrams": args.ngrams,
        "padding_words": PADDING_WORDS,
        "chunk_words": CHUNK_WORDS,
        "chunk_rules": CHUNK_RULES,
        "criterion": {"chosen_on": choice, "confirmed_on": confirm, "by_draw": by_draw(collections)},
        "summary": summary,
        "seed_check": seed_results,
        "collections": compact(collections),
        "seconds": round(time.perf_counter() - started),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.output}.json").write_bytes(
        orjson.dumps(results, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY)
    )
    print(markdown(summary, choice, confirm, seed_results))
    print(f"\n{results['seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
