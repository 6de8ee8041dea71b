"""External check: the model trained on the project's corpus, on real human-labelled texts.

Reads ../shared/data at run time (never copied into the repository) and maps each
source's labels onto ``service_domain`` as ../shared/spec/codebook-v1.md says.
Nothing is trained on these texts. For every text with exactly one mapped
domain, the prediction is the highest-scoring label among the source's mapped
labels; accuracy and macro-F1 are reported per source.

The texts go through ``classify_files``, the same path as ``iesi-nlp classify``
(ingestion, language detection, embedding cache), so a rerun is fast.

    python benchmarks/external_check.py [--model models/default] [--limit N]

Skips cleanly (exit 0) when ../shared/data is absent.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import orjson
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import cross_val_predict

from iesi_nlp.bulk import classify_files
from iesi_nlp.ingest import IngestOptions, iter_ingest
from iesi_nlp.records import Case
from iesi_nlp.suggest import Suggester
from iesi_nlp.workflow import open_suggester

sys.path.insert(0, str(Path(__file__).resolve().parent))
from shared_collections import DEFAULT_DATA, SOURCES, Source, gold_labels

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def check_source(source: Source, data: Path, suggester: Suggester, limit: int | None, work: Path) -> dict:
    path = data / source.file
    table = pd.read_csv(path, dtype={source.id_column: str, source.label_column: str})
    gold = gold_labels(source, table)
    ids = sorted(gold)[:limit] if limit else sorted(gold)
    subset = table[table[source.id_column].astype(str).isin(set(ids))]
    # Only the evaluated rows are classified; the subset goes to a scratch file outside the repository.
    scratch = work / f"{source.name}.input.csv"
    subset[[source.id_column, source.text_column]].to_csv(scratch, index=False)
    output = work / f"{source.name}.suggestions.jsonl"
    options = IngestOptions(
        columns={"id": source.id_column, "text": source.text_column},
        dedupe_texts=False,
        detect_language=False,
        read_labels=False,
    )
    started = time.perf_counter()
    report = classify_files(
        [scratch],
        suggester,
        output,
        ingest_options=options,
        progress=sys.stderr.isatty(),
        restart=True,  # the scratch output of an earlier run belongs to another model
    )
    allowed = sorted(set(source.mapping.values()))
    truth, predicted = [], []
    for line in output.read_bytes().splitlines():
        row = orjson.loads(line)
        if row["id"] not in gold:
            continue
        scores = row["scores"]["service_domain"]
        truth.append(gold[row["id"]])
        predicted.append(max(allowed, key=lambda label: scores[label]))
    ceiling = within_source_ceiling(scratch, options, suggester.model, suggester.embedder, gold)
    return {
        "source": source.name,
        "texts_with_one_mapped_domain": len(gold),
        "evaluated": len(truth),
        "rejected_by_ingest": report.rejected,
        "labels": allowed,
        "accuracy": round(float(accuracy_score(truth, predicted)), 4),
        "macro_f1": round(float(f1_score(truth, predicted, labels=allowed, average="macro", zero_division=0.0)), 4),
        "per_label_f1": {
            label: round(float(f), 4)
            for label, f in zip(
                allowed, f1_score(truth, predicted, labels=allowed, average=None, zero_division=0.0), strict=True
            )
        },
        "within_source_ceiling_macro_f1": ceiling,
        "seconds": round(time.perf_counter() - started, 1),
    }


def within_source_ceiling(scratch: Path, options: IngestOptions, model, embedder, gold: dict[str, str]) -> float:
    """A diagnostic, not the check: 5-fold CV of a logistic regression trained on this source itself.

    Same embeddings, in-domain labels: how far this embedder can separate the source's
    domains at all. The check itself never trains on the source.
    """
    _, items = iter_ingest([scratch], model.codebook, options)
    cases = [item for item in items if isinstance(item, Case) and item.id in gold]
    vectors = embedder.encode([case.text for case in cases])
    truth = [gold[case.id] for case in cases]
    predicted = cross_val_predict(
        LogisticRegression(C=10.0, class_weight="balanced", max_iter=2000), vectors, truth, cv=5
    )
    return round(float(f1_score(truth, predicted, average="macro")), 4)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "default")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=None, help="At most this many texts per source.")
    parser.add_argument("--work", type=Path, default=Path("/tmp/iesi-nlp-external-check"))
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        print(f"skipped: {args.data} not found (the external data lives outside the repository)")
        return 0
    suggester = open_suggester(args.model, evidence=False)
    args.work.mkdir(parents=True, exist_ok=True)
    results = []
    for source in SOURCES:
        if not (args.data / source.file).is_file():
            print(f"skipped {source.name}: {args.data / source.file} not found")
            continue
        result = check_source(source, args.data, suggester, args.limit, args.work)
        results.append(result)
        print(
            f"{result['source']:<18} n={result['evaluated']:>4}  accuracy {result['accuracy']:.3f}  "
            f"macro-F1 {result['macro_f1']:.3f}  (in-source ceiling {result['within_source_ceiling_macro_f1']:.3f}; "
            f"{', '.join(result['labels'])})",
            flush=True,
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    summary = {"model": suggester.model.id, "limit": args.limit, "sources": results}
    (RESULTS / "external_check.json").write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
