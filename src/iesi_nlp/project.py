"""A project: one folder for a user's own collection of cases, its reviews and its models.

::

    PROJECT/
      project.json      format, name, codebook (bundled or a path), seed ("bundled" | a corpus folder or
                        labelled file | "none"), embedder, created
      decisions.sqlite  the annotation store: the collection's cases and the append-only review decisions
      models/           the model registry: v0001-…/, v0002-…/, serving.json, history.jsonl
      exports/          what `iesi-nlp export --project` and `classify --project` write by default
      uploads/          files added from the review screen, and pasted texts (as one-line JSONL files)
      rejects/          per file added: the records not added (rejected or duplicate), each with its reason
      events.jsonl      append-only: files added (path, sha256, new / duplicate / rejected counts),
                        models trained, serving version changed and why, exports written

Why one folder: a team's collection, its decisions and the models trained on them belong
together; moving or backing up the folder keeps them together, and the event log says how
the collection and the models came to be what they are.

Adding files goes through ingestion (the same readers, checks and rejects as ``iesi-nlp
ingest``). A case whose id or text is already in the project, or earlier in the same
files, is not added twice: it is counted as a duplicate and written to the rejects file
with the case it duplicates, so every record read is either added, a duplicate or
rejected, each with its reason. Labels that come with the files (label columns) are the
cases' imported labels; review decisions on the screen replace them dimension by dimension.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pandas as pd

from iesi_nlp.annotation.labels import training_data
from iesi_nlp.annotation.sqlite import SqliteDecisionStore
from iesi_nlp.codebook import Codebook, load_codebook
from iesi_nlp.coding.training import TrainingData, TrainOptions
from iesi_nlp.embedding import DEFAULT_EMBEDDER
from iesi_nlp.errors import ProjectError
from iesi_nlp.ingest import IngestOptions, Reject, check_inputs, expand_inputs, expand_patterns, iter_ingest
from iesi_nlp.records import CASE_FIELDS, Case, write_cases
from iesi_nlp.registry import (
    EVENTS_FILE,
    PROJECT_FILE,
    PROJECT_MODELS,
    PROJECT_STORE,
    Version,
    file_lock,
    serving_version,
)
from iesi_nlp.workflow import BUNDLED_SEED, NO_SEED, train_on_store

PROJECT_FORMAT = 1
#: Where ``iesi-nlp review --cases FILE`` puts the project when no ``--project`` is given.
DEFAULT_PROJECT_DIR = Path("iesi-project")
#: The demo: ``iesi-nlp review`` with neither ``--cases`` nor ``--project`` (the bundled pool).
DEMO_PROJECT_DIR = Path("iesi-demo")
BUNDLED_CODEBOOK = "bundled"


@dataclass
class AddReport:
    """What adding one file or folder did: every record read is new, a duplicate or rejected."""

    path: str
    sha256: str
    records_read: int = 0
    new: int = 0
    #: Of the new cases, how many came with labels (label columns).
    labelled: int = 0
    duplicates: int = 0
    rejected: int = 0
    files_rejected: int = 0
    rejects_file: Path | None = None
    new_ids: list[str] = field(default_factory=list)
    #: One line per duplicate and reject: where, and why it was not added.
    reasons: list[str] = field(default_factory=list)

    @property
    def balanced(self) -> bool:
        return self.records_read == self.new + self.duplicates + self.rejected

    def summary(self) -> str:
        text = (
            f"{self.path}: {self.records_read} records read = {self.new} new + {self.duplicates} duplicates "
            f"+ {self.rejected} rejected"
        )
        if self.files_rejected:
            text += f"; {self.files_rejected} file(s) unreadable"
        if self.rejects_file:
            text += f" (reasons in {self.rejects_file})"
        return text


@dataclass(frozen=True)
class ProjectConfig:
    """The content of ``project.json``."""

    name: str
    codebook: str = BUNDLED_CODEBOOK
    seed: str = BUNDLED_SEED
    embedder: str = DEFAULT_EMBEDDER
    created: str = ""
    format: int = PROJECT_FORMAT

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "name": self.name,
            "codebook": self.codebook,
            "seed": self.seed,
            "embedder": self.embedder,
            "created": self.created,
        }


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _stamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "file"


def path_sha256(path: Path) -> str:
    """SHA-256 of a file, or of a folder's files (relative paths and contents, in sorted order)."""
    digest = hashlib.sha256()
    if path.is_dir():
        for child in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(str(child.relative_to(path)).encode() + b"\0" + path_sha256(child).encode() + b"\n")
        return digest.hexdigest()
    with path.open("rb") as handle:
        for block in iter(functools.partial(handle.read, 1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def text_key(text: str) -> str:
    """What makes two texts the same case: their exact text (after ingestion's repairs and trimming)."""
    return hashlib.sha256(text.strip().encode("utf-8")).hexdigest()


class Project:
    """A project folder (see the module docstring). Open one with :meth:`open` or :meth:`create`."""

    def __init__(self, root: Path, config: ProjectConfig) -> None:
        self.root = root
        self.config = config
        self.codebook: Codebook = load_codebook(None if config.codebook == BUNDLED_CODEBOOK else config.codebook)
        self._store: SqliteDecisionStore | None = None
        self._seed: list[Case] | None = None

    # -- opening -------------------------------------------------------------------

    @staticmethod
    def is_project(root: str | Path) -> bool:
        return (Path(root) / PROJECT_FILE).is_file()

    @classmethod
    def open(cls, root: str | Path) -> Project:
        root = Path(root)
        path = root / PROJECT_FILE
        if not path.is_file():
            raise ProjectError(
                f"{root}: not an iesi-nlp project (no {PROJECT_FILE}); create one with "
                f"`iesi-nlp review --cases FILE --project {root}` or `iesi-nlp add FILE --project {root}`"
            )
        try:
            data = orjson.loads(path.read_bytes())
        except orjson.JSONDecodeError as exc:
            raise ProjectError(f"{path}: damaged project file ({exc})") from None
        if data.get("format") != PROJECT_FORMAT:
            raise ProjectError(f"{path}: project format {data.get('format')!r}; this version reads {PROJECT_FORMAT}")
        known = {k: data[k] for k in ("name", "codebook", "seed", "embedder", "created", "format") if k in data}
        return cls(root, ProjectConfig(**known))

    @classmethod
    def create(
        cls,
        root: str | Path,
        *,
        codebook: str | Path | None = None,
        seed: str | Path | None = None,
        embedder: str = DEFAULT_EMBEDDER,
    ) -> Project:
        """Make a new project in ``root`` (missing or empty). ``seed``: ``bundled`` (default), ``none`` or a path."""
        root = Path(root)
        if cls.is_project(root):
            raise ProjectError(f"{root}: already a project; open it with `iesi-nlp review --project {root}`")
        if root.exists() and (not root.is_dir() or any(root.iterdir())):
            raise ProjectError(f"{root}: exists and is not an empty folder; choose another --project folder")
        seed_spec = BUNDLED_SEED if seed is None else str(seed)
        if seed_spec not in (BUNDLED_SEED, NO_SEED):
            if not Path(seed_spec).exists():
                raise ProjectError(f"--seed {seed_spec}: not found (give a corpus folder, labelled files or 'none')")
            seed_spec = str(Path(seed_spec).resolve())
        codebook_spec = BUNDLED_CODEBOOK if codebook is None else str(Path(codebook).resolve())
        load_codebook(None if codebook is None else codebook_spec)  # a bad codebook fails before anything is made
        config = ProjectConfig(
            name=_safe_name(root.resolve().name),
            codebook=codebook_spec,
            seed=seed_spec,
            embedder=embedder,
            created=_now(),
        )
        for folder in (PROJECT_MODELS, "exports", "uploads", "rejects"):
            (root / folder).mkdir(parents=True, exist_ok=True)
        (root / PROJECT_FILE).write_bytes(orjson.dumps(config.as_dict(), option=orjson.OPT_INDENT_2) + b"\n")
        project = cls(root, config)
        project.store  # noqa: B018 -- creates decisions.sqlite now, so the folder is complete
        project.log({"event": "project_created", **config.as_dict()})
        return project

    # -- parts ---------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def store(self) -> SqliteDecisionStore:
        if self._store is None:
            self._store = SqliteDecisionStore(self.root / PROJECT_STORE, self.codebook)
        return self._store

    @property
    def models_dir(self) -> Path:
        return self.root / PROJECT_MODELS

    @property
    def exports_dir(self) -> Path:
        return self.root / "exports"

    @property
    def uploads_dir(self) -> Path:
        return self.root / "uploads"

    @property
    def rejects_dir(self) -> Path:
        return self.root / "rejects"

    @property
    def events_path(self) -> Path:
        return self.root / EVENTS_FILE

    def seed_cases(self) -> list[Case]:
        """The project's seed corpus (loaded once per :class:`Project` object)."""
        if self._seed is None:
            from iesi_nlp.workflow import load_seed

            self._seed = load_seed(self.config.seed, self.codebook)
        return self._seed

    def serving(self) -> Version | None:
        return serving_version(self.models_dir)

    def cases(self) -> list[Case]:
        return self.store.cases()

    def training_data(self) -> TrainingData:
        """Seed, own (imported labels merged with settled reviews) and unlabelled cases (see ``annotation.training_data``)."""
        return training_data(self.seed_cases(), (), self.store)

    # -- events --------------------------------------------------------------------

    def log(self, event: dict[str, Any]) -> None:
        """Append one event to ``events.jsonl`` (one line, written at once)."""
        line = orjson.dumps({"at": _now(), **event}, default=str) + b"\n"
        with self.events_path.open("ab") as handle:
            handle.write(line)

    def events(self) -> list[dict[str, Any]]:
        if not self.events_path.is_file():
            return []
        events = []
        for line in self.events_path.read_bytes().splitlines():
            try:
                events.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                continue
        return events

    # -- adding cases ----------------------------------------------------------------

    def add_files(
        self, paths: Sequence[str | Path], options: IngestOptions | None = None, *, added_by: str
    ) -> list[AddReport]:
        """Add the cases of files and folders (anything ``ingest`` reads); one report per path given.

        Nothing is silently dropped: each record is added, a duplicate (same id or same text
        as a case in the project or earlier in these files) or rejected, and duplicates and
        rejects go to ``rejects/`` with their reasons. Raises :class:`InputError` for a path
        that does not exist, before anything is added.
        """
        options = options or IngestOptions()
        check_inputs(paths)
        paths = expand_patterns(paths)  # a glob adds each file it matches, on its own line of the report
        # Texts are deduplicated here, against the project and across the files, rather than by
        # the ingestor: a repeated text is then a "duplicate" (with the case it repeats), not a reject.
        options = dataclasses.replace(options, dedupe_texts=False)
        reports = []
        with file_lock(self.root / ".add.lock"):
            stored = self.store.cases()
            ids = {case.id: "the project" for case in stored}
            texts = {text_key(case.text): case.id for case in stored}
            for path in paths:
                reports.append(self._add_one(Path(path), options, added_by, ids, texts))
        return reports

    def _add_one(
        self, path: Path, options: IngestOptions, added_by: str, ids: dict[str, str], texts: dict[str, str]
    ) -> AddReport:
        report = AddReport(path=str(path.resolve()), sha256=path_sha256(path))
        ingestor, _ = iter_ingest([], self.codebook, options)
        new: list[Case] = []
        not_added: list[bytes] = []
        for file in expand_inputs([path]):
            for item in ingestor.ingest_file(file):
                if isinstance(item, Reject):
                    # A skipped page is noted too, though its document's other pages are in.
                    not_added.append(item.to_json_line())
                    if item.kind != "page":
                        report.reasons.append(item.reason)
                    continue
                duplicate_of = self._duplicate_reason(item, ids, texts)
                if duplicate_of:
                    report.duplicates += 1
                    report.reasons.append(duplicate_of)
                    not_added.append(
                        orjson.dumps(
                            {
                                "kind": "duplicate",
                                "file": str(file),
                                "location": (item.origin or "").removeprefix(str(file)).strip(),
                                "reason": duplicate_of,
                                "record": item.model_dump(mode="json"),
                            }
                        )
                        + b"\n"
                    )
                    continue
                ids[item.id] = item.origin or str(file)
                texts[text_key(item.text)] = item.id
                new.append(item)
        report.records_read = ingestor.report.records_read
        report.rejected = ingestor.report.records_rejected
        report.files_rejected = ingestor.report.files_rejected
        if not_added:
            report.rejects_file = self.rejects_dir / f"{_stamp()}-{_safe_name(path.name)}.rejects.jsonl"
            self.rejects_dir.mkdir(parents=True, exist_ok=True)
            report.rejects_file.write_bytes(b"".join(not_added))
        if new:
            self.store.add_cases(new, added_by=added_by)
        report.new = len(new)
        report.labelled = sum(1 for case in new if case.is_labelled)
        report.new_ids = [case.id for case in new]
        self.log(
            {
                "event": "file_added",
                "path": report.path,
                "sha256": report.sha256,
                "records_read": report.records_read,
                "new": report.new,
                "duplicates": report.duplicates,
                "rejected": report.rejected,
                "files_rejected": report.files_rejected,
                "labelled": report.labelled,
                "rejects": str(report.rejects_file.relative_to(self.root)) if report.rejects_file else None,
                "by": added_by,
            }
        )
        return report

    @staticmethod
    def _duplicate_reason(case: Case, ids: dict[str, str], texts: dict[str, str]) -> str | None:
        where = case.origin or case.id
        labels = f"; its labels ({', '.join(sorted(case.labels))}) were not added" if case.is_labelled else ""
        if case.id in ids:
            first = ids[case.id]
            seen = "already in the project" if first == "the project" else f"first seen at {first}"
            return f"{where}: duplicate: case id {case.id!r} is {seen}{labels}"
        other = texts.get(text_key(case.text))
        if other is not None:
            return f"{where}: duplicate: same text as case {other!r}, already in the project{labels}"
        return None

    def add_text(
        self,
        text: str,
        *,
        added_by: str,
        title: str = "",
        url: str | None = None,
        country: str | None = None,
        source: str = "pasted",
    ) -> AddReport:
        """Add one pasted text, checked exactly like a row of a file (it is saved as one in ``uploads/``)."""
        row = {"text": text, "title": title, "source": source, "url": url, "country": country}
        path = self.uploads_dir / f"{_stamp()}-pasted.jsonl"
        self.uploads_dir.mkdir(parents=True, exist_ok=True)
        path.write_bytes(orjson.dumps({k: v for k, v in row.items() if v}) + b"\n")
        return self.add_files([path], added_by=added_by)[0]

    def save_upload(self, name: str, content: bytes) -> Path:
        """Keep a file uploaded from the screen in ``uploads/`` (never overwriting an earlier one)."""
        self.uploads_dir.mkdir(parents=True, exist_ok=True)
        path = self.uploads_dir / f"{_stamp()}-{_safe_name(Path(name).name)}"
        path.write_bytes(content)
        return path

    # -- models and exports --------------------------------------------------------------

    def train(
        self,
        *,
        options: TrainOptions | None = None,
        progress=None,
        by: str | None = None,
        reason: str = "trained",
        cache: Path | None = None,
    ):
        """Train a new serving version on the seed, the labelled and reviewed cases, and the others unlabelled."""
        return train_on_store(
            self.store,
            self.seed_cases(),
            self.codebook,
            registry=self.models_dir,
            name=self.name,
            embedder_spec=self.config.embedder,
            options=options,
            progress=progress,
            by=by,
            reason=reason,
            cache=cache,
        )

    def export(self, output: Path | None = None, *, include_unlabelled: bool = False) -> tuple[Path, int, int]:
        """Write the collection's labelled cases (imported labels with settled reviews winning) as JSONL or CSV.

        Returns the file, the number of cases written and how many of them carry review labels.
        """
        data = training_data((), (), self.store)
        cases = [*data.own, *(data.unlabelled if include_unlabelled else [])]
        if output is None:
            output = self.exports_dir / f"cases-{_stamp()[:15]}.jsonl"
        write_case_table(cases, output, self.codebook)
        reviewed = sum("review:" in (case.label_provenance or "") for case in cases)
        self.log({"event": "exported", "path": str(Path(output).resolve()), "cases": len(cases), "reviewed": reviewed})
        return Path(output), len(cases), reviewed

    def export_decisions(self, output: Path | None = None) -> tuple[Path, int]:
        """Write every review decision, with the suggestion shown and the model that made it, as JSONL.

        One line per decision (:meth:`~iesi_nlp.annotation.store.Decision.to_record`), oldest first.
        """
        if output is None:
            output = self.exports_dir / f"decisions-{_stamp()[:15]}.jsonl"
        output = Path(output)
        output.parent.mkdir(parents=True, exist_ok=True)
        decisions = self.store.decisions()
        with output.open("wb") as handle:
            for decision in decisions:
                handle.write(orjson.dumps(decision.to_record()) + b"\n")
        self.log({"event": "decisions_exported", "path": str(output.resolve()), "decisions": len(decisions)})
        return output, len(decisions)


def write_case_table(cases: Sequence[Case], output: str | Path, codebook: Codebook) -> None:
    """Cases as JSONL, or as CSV (one column per dimension, labels joined by ``|``) when ``output`` ends in .csv."""
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    if output.suffix.lower() == ".csv":
        rows = []
        for case in cases:
            row = case.model_dump(mode="json", exclude={"labels"})
            row.update({dim: "|".join(case.labels.get(dim, [])) for dim in codebook.dimension_ids})
            rows.append(row)
        columns = [f for f in CASE_FIELDS if f != "labels"] + list(codebook.dimension_ids)
        pd.DataFrame(rows, columns=columns).to_csv(output, index=False)
    else:
        write_cases(cases, output)


def open_or_create(
    root: str | Path,
    *,
    codebook: str | Path | None = None,
    seed: str | Path | None = None,
    embedder: str | None = None,
) -> tuple[Project, bool]:
    """The project in ``root``, made first if there is none. Returns it and whether it was created.

    An existing project keeps the settings it was made with: asking for another seed,
    codebook or embedder is an error rather than silently ignored.
    """
    root = Path(root)
    if not Project.is_project(root):
        return Project.create(root, codebook=codebook, seed=seed, embedder=embedder or DEFAULT_EMBEDDER), True
    project = Project.open(root)
    asked = {
        "seed": None
        if seed is None
        else (str(seed) if str(seed) in (BUNDLED_SEED, NO_SEED) else str(Path(seed).resolve())),
        "codebook": None if codebook is None else str(Path(codebook).resolve()),
        "embedder": embedder,
    }
    for key, value in asked.items():
        if value is not None and value != getattr(project.config, key):
            raise ProjectError(
                f"{root}: the project was made with {key} {getattr(project.config, key)!r}, not {value!r}; "
                f"leave --{key} out to use it, or make another project"
            )
    return project, False
