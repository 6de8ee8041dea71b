"""Peak memory of ``classify`` on 2,000 and 20,000 short cases with the default embedder.

Each size runs in a fresh process (``--child N``) that reports its own peak
resident set size (``ru_maxrss``), with an empty embedding cache, so every case
is read, language-detected, embedded, classified and written. Goal: under
1.5 GB at 20,000 cases and about the same as at 2,000 (streaming).

    python benchmarks/memory.py [--sizes 2000 20000] [--model models/default]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def child(size: int, model_dir: Path) -> None:
    from _texts import texts_of_words, write_jsonl

    from iesi_nlp.bulk import classify_files
    from iesi_nlp.workflow import open_suggester

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        inputs = write_jsonl(work / "short.jsonl", texts_of_words(size, 25, seed=size))
        suggester = open_suggester(model_dir, cache=work / "cache.sqlite")
        started = time.perf_counter()
        report = classify_files([inputs], suggester, work / "out.jsonl")
        seconds = time.perf_counter() - started
        lines = sum(1 for _ in (work / "out.jsonl").open("rb"))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    print(
        orjson.dumps(
            {
                "cases": size,
                "written": lines,
                "peak_rss_mb": round(peak_mb, 1),
                "seconds": round(seconds, 1),
                "docs_per_s": round(size / seconds, 2),
                "report": report.as_dict(),
            }
        ).decode()
    )


def main() -> int:
    parser = argparse.ArgumentParser(description="classify peak memory")
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 20000])
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "default")
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.model)
        return 0
    results = []
    for size in args.sizes:
        done = subprocess.run(
            [sys.executable, __file__, "--child", str(size), "--model", str(args.model)],
            capture_output=True,
            text=True,
            check=True,
        )
        result = orjson.loads(done.stdout.strip().splitlines()[-1])
        results.append(result)
        print(result, flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "memory.json").write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
