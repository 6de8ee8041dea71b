"""Model versions: every training writes a new folder, one of them serves, and the history says why.

A *registry* is a folder of model versions::

    models/default/
      v0001-0b9a8d53/    a model folder (model.json, classifiers.skops, ...), never changed once written
      v0002-4f1c2e90/
      serving.json       which version serves, since when, who chose it and why (replaced atomically)
      history.jsonl      append-only: every version trained and every change of the serving version

Why: a model trained on a team's reviews is the product of hours of work. Overwriting it
with the next training (a quickstart on the bundled corpus, a retraining that went wrong)
would lose it; with versions, ``iesi-nlp models serve v0002`` takes it back in a second.

A version's name is its number and the start of its model id's digest. A version is
written in a staging folder and renamed into place, so a reader never sees half of one;
a lock file serialises the short step that numbers it, so two trainings at once get two
numbers. The serving pointer is written to a temporary file and ``os.replace``-d, so a
reader sees the old pointer or the new one, never a mix.

Anywhere a model is expected (``--model DIR``), a model folder (with ``model.json``) is
that model, a registry is its serving version, and a project folder is its registry's
serving version (:func:`resolve_model_dir`). A registry inside a project also writes
every history entry to the project's ``events.jsonl``.

A folder that holds a model of the format before versions (``models/default/model.json``
directly) becomes a registry the first time a version is added to it: the old model
moves into ``v0001-...`` unchanged, and its metrics history comes along.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from iesi_nlp.coding.card import ModelCard, read_card
from iesi_nlp.errors import ModelError, RegistryError

SERVING_FILE = "serving.json"
HISTORY_FILE = "history.jsonl"
LOCK_FILE = ".lock"
#: A project's event log (see :mod:`iesi_nlp.project`); registry events are copied there.
EVENTS_FILE = "events.jsonl"
PROJECT_FILE = "project.json"
#: Inside a project folder: its model registry and its decision store (the one place these names are defined).
PROJECT_MODELS = "models"
PROJECT_STORE = "decisions.sqlite"

_VERSION_NAME = re.compile(r"^v(\d{4,})-([0-9a-f]{8})$")


@dataclass(frozen=True)
class Version:
    """One saved model version: ``id`` is its folder name, e.g. ``v0003-0b9a8d53``."""

    id: str
    number: int
    path: Path

    @property
    def card(self) -> ModelCard:
        return read_card(self.path)


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def current_user() -> str:
    """Who is running this (for the history); ``unknown`` when the system cannot say."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


# -- reading ----------------------------------------------------------------------


def is_model_folder(path: str | Path) -> bool:
    return (Path(path) / "model.json").is_file()


def is_registry(path: str | Path) -> bool:
    """True for a folder holding a serving pointer or at least one version (and no model of its own)."""
    path = Path(path)
    if not path.is_dir() or is_model_folder(path):
        return False
    return (path / SERVING_FILE).is_file() or any(_VERSION_NAME.match(p.name) for p in path.iterdir() if p.is_dir())


def versions(registry: str | Path) -> list[Version]:
    """The registry's versions, oldest first (unfinished staging folders are not versions)."""
    registry = Path(registry)
    if not registry.is_dir():
        return []
    found = []
    for child in registry.iterdir():
        match = _VERSION_NAME.match(child.name)
        if match and child.is_dir() and is_model_folder(child):
            found.append(Version(child.name, int(match.group(1)), child))
    return sorted(found, key=lambda v: v.number)


def find_version(registry: str | Path, wanted: str) -> Version:
    """A version by its id (``v0003-0b9a8d53``), its number (``3``, ``v3``, ``v0003``) or model id."""
    registry = Path(registry)
    known = versions(registry)
    text = wanted.strip()
    number = text.lower().removeprefix("v")
    for version in known:
        if text == version.id or (number.isdigit() and int(number) == version.number):
            return version
    for version in known:
        if version.card.model_id == text:
            return version
    listed = ", ".join(v.id for v in known) or "none"
    raise RegistryError(f"{registry}: no model version {wanted!r}; versions: {listed}")


def serving_pointer(registry: str | Path) -> dict[str, Any] | None:
    """The content of ``serving.json`` (version, since, by, reason), or None if nothing serves yet."""
    path = Path(registry) / SERVING_FILE
    if not path.is_file():
        return None
    try:
        pointer = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise RegistryError(
            f"{path}: damaged serving pointer ({exc}); choose a version with `iesi-nlp models serve`"
        ) from None
    if not isinstance(pointer, dict) or "version" not in pointer:
        raise RegistryError(f"{path}: serving pointer without a version; choose one with `iesi-nlp models serve`")
    return pointer


def serving_version(registry: str | Path) -> Version | None:
    """The version that serves, or None when the registry has none."""
    registry = Path(registry)
    pointer = serving_pointer(registry)
    if pointer is None:
        return None
    path = registry / pointer["version"]
    if not is_model_folder(path):
        raise RegistryError(
            f"{registry / SERVING_FILE}: serves {pointer['version']!r}, which is not a model folder in {registry}; "
            "choose another with `iesi-nlp models serve VERSION`"
        )
    return Version(path.name, int(_VERSION_NAME.match(path.name).group(1)), path)


def resolve_model_dir(path: str | Path) -> Path:
    """The model folder ``path`` stands for: itself, its serving version, or its project's serving version."""
    path = Path(path)
    if is_model_folder(path):
        return path
    if (path / PROJECT_FILE).is_file():
        path = path / PROJECT_MODELS
    if is_registry(path):
        version = serving_version(path)
        if version is None:
            raise RegistryError(f"{path}: no version serves; choose one with `iesi-nlp models serve VERSION {path}`")
        return version.path
    raise ModelError(f"{path}: not a model folder (no model.json); train one with `iesi-nlp train`")


def read_history(registry: str | Path) -> list[dict[str, Any]]:
    """Every history entry, oldest first (a line cut by a crash is skipped; the others still count)."""
    registry = Path(registry)
    path = registry / HISTORY_FILE
    legacy = registry.with_name(registry.name + ".history.jsonl")
    entries = []
    for source in (path,) if path.is_file() else (legacy,):
        if not source.is_file():
            continue
        for line in source.read_bytes().splitlines():
            try:
                entry = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            entries.append(entry if "event" in entry else {"event": "trained", **entry})
    return entries


def trained_history(registry: str | Path) -> list[dict[str, Any]]:
    """One entry per model trained (model id, created, training cases, macro-F1 per dimension), oldest first."""
    return [entry for entry in read_history(registry) if entry.get("event") == "trained"]


# -- writing ------------------------------------------------------------------------


@contextlib.contextmanager
def file_lock(lock_file: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``lock_file`` (a registry's numbering, pointer and history change under it)."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("a") as handle:
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock (one writer at a time is then the user's job)
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _append(registry: Path, entry: dict[str, Any]) -> None:
    """Append ``entry`` to the history (and to the project's event log when the registry is in one)."""
    line = orjson.dumps(entry) + b"\n"
    with (registry / HISTORY_FILE).open("ab") as handle:
        handle.write(line)
    project = registry.parent
    if (project / PROJECT_FILE).is_file():
        with (project / EVENTS_FILE).open("ab") as handle:
            handle.write(orjson.dumps({**entry, "registry": registry.name}) + b"\n")


def _write_pointer(registry: Path, pointer: dict[str, Any]) -> None:
    target = registry / SERVING_FILE
    temporary = registry / f".{SERVING_FILE}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
    with temporary.open("wb") as handle:
        handle.write(orjson.dumps(pointer, option=orjson.OPT_INDENT_2))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, target)


def _adopt_legacy_model(registry: Path) -> None:
    """Turn a folder holding one model (the format before versions) into a registry with that model as v0001."""
    if not is_model_folder(registry):
        return
    card = read_card(registry)
    digest = card.model_id.rsplit("@", 1)[-1][:8]
    holding = registry.with_name(f".{registry.name}.adopting-{uuid.uuid4().hex[:8]}")
    registry.rename(holding)
    registry.mkdir()
    version_id = f"v0001-{digest}"
    holding.rename(registry / version_id)
    legacy_history = registry.with_name(registry.name + ".history.jsonl")
    entries = []
    if legacy_history.is_file():
        for line in legacy_history.read_bytes().splitlines():
            with contextlib.suppress(orjson.JSONDecodeError):
                entries.append(orjson.loads(line))
    if not any(e.get("model_id") == card.model_id for e in entries):
        entries.append(_trained_entry(card, version_id, by="earlier iesi-nlp", reason="model saved before versions"))
    for entry in entries:
        entry = {"event": "trained", **entry}
        if entry.get("model_id") == card.model_id:
            entry["version"] = version_id
        _append(registry, entry)
    pointer = {
        "version": version_id,
        "model_id": card.model_id,
        "since": now(),
        "by": current_user(),
        "reason": "the model saved before versions keeps serving",
    }
    _write_pointer(registry, pointer)
    _append(registry, {"event": "serving", "at": pointer["since"], "previous": None, **_without(pointer, "since")})
    if legacy_history.is_file():
        legacy_history.rename(registry / "history.before-versions.jsonl")


def _legacy_lock(registry: Path) -> Path:
    """The lock of a folder that still holds one model (it cannot hold its own lock file while it moves)."""
    return registry.with_name(f".{registry.name}.lock")


def _without(mapping: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in mapping.items() if k not in keys}


def _trained_entry(card: ModelCard, version_id: str, *, by: str, reason: str) -> dict[str, Any]:
    training = card.training_set
    return {
        "event": "trained",
        "at": now(),
        "version": version_id,
        "model_id": card.model_id,
        "created": card.created,
        "training_cases": training.size,
        "seed_cases": training.seed,
        "own_cases": training.own,
        "unlabelled_cases": training.unlabelled,
        "macro_f1": card.macro_f1(),
        "by": by,
        "reason": reason,
    }


def add_version(
    registry: str | Path,
    write: Callable[[Path], None],
    *,
    serve: bool = True,
    by: str | None = None,
    reason: str = "trained",
) -> Version:
    """Write a new version with ``write(folder)`` (it must leave a model folder there) and number it.

    Nothing appears in the registry unless ``write`` finishes: it writes into a staging
    folder that is removed if it fails. With ``serve``, the new version becomes the
    serving one. ``by`` (default: the user running this) and ``reason`` go into the history.
    """
    registry = Path(registry)
    by = by or current_user()
    registry.parent.mkdir(parents=True, exist_ok=True)
    if registry.exists() and is_model_folder(registry):
        with file_lock(_legacy_lock(registry)):
            _adopt_legacy_model(registry)
    registry.mkdir(parents=True, exist_ok=True)
    staging = registry / f".staging-{uuid.uuid4().hex}"
    staging.mkdir()
    try:
        write(staging)
        card = read_card(staging)
        digest = card.model_id.rsplit("@", 1)[-1][:8]
        with file_lock(registry / LOCK_FILE):
            number = max((v.number for v in versions(registry)), default=0) + 1
            version_id = f"v{number:04d}-{digest}"
            staging.rename(registry / version_id)
            version = Version(version_id, number, registry / version_id)
            _append(registry, _trained_entry(card, version_id, by=by, reason=reason))
            if serve:
                _serve_locked(registry, version, by=by, reason=reason)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return version


def import_version(
    registry: str | Path, model_dir: str | Path, *, serve: bool = True, by: str | None = None, reason: str
) -> Version:
    """Copy an existing model folder into ``registry`` as a new version (the source is left as it is)."""
    source = resolve_model_dir(model_dir)

    def copy(folder: Path) -> None:
        shutil.copytree(source, folder, dirs_exist_ok=True)

    return add_version(registry, copy, serve=serve, by=by, reason=reason)


def serve(registry: str | Path, wanted: str, *, by: str | None = None, reason: str = "chosen by hand") -> Version:
    """Make version ``wanted`` (id, number or model id) the serving one, and record who and why."""
    registry = Path(registry)
    if is_model_folder(registry):
        with file_lock(_legacy_lock(registry)):
            _adopt_legacy_model(registry)
    if not is_registry(registry):
        raise RegistryError(f"{registry}: not a model registry (no versions); train one with `iesi-nlp train`")
    version = find_version(registry, wanted)
    with file_lock(registry / LOCK_FILE):
        _serve_locked(registry, version, by=by or current_user(), reason=reason)
    return version


def _serve_locked(registry: Path, version: Version, *, by: str, reason: str) -> None:
    previous = serving_pointer(registry)
    pointer = {
        "version": version.id,
        "model_id": read_card(version.path).model_id,
        "since": now(),
        "by": by,
        "reason": reason,
    }
    _write_pointer(registry, pointer)
    _append(
        registry,
        {
            "event": "serving",
            "at": pointer["since"],
            "version": version.id,
            "model_id": pointer["model_id"],
            "previous": previous["version"] if previous else None,
            "by": by,
            "reason": reason,
        },
    )


def version_summaries(registry: str | Path) -> list[dict[str, Any]]:
    """Per version, oldest first: id, model id, created, training cases (seed / own / unlabelled), serving, macro-F1."""
    registry = Path(registry)
    pointer = serving_pointer(registry) if is_registry(registry) else None
    rows = []
    for version in versions(registry):
        card = version.card
        training = card.training_set
        rows.append(
            {
                "version": version.id,
                "model_id": card.model_id,
                "created": card.created,
                "seed_cases": training.seed,
                "own_cases": training.own,
                "unlabelled_cases": training.unlabelled,
                "training_cases": training.size,
                "serving": bool(pointer and pointer["version"] == version.id),
                "macro_f1": card.macro_f1(),
            }
        )
    return rows
