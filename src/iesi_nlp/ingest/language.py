"""Language identification of case texts with Lingua (offline, bundled models).

Lingua covers every official EU language except Maltese, plus the languages
migrants' organisations often publish in (Arabic, Turkish, Russian, Ukrainian...).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from lingua import IsoCode639_1, Language, LanguageDetector, LanguageDetectorBuilder

#: ISO 639-1 codes the detector chooses among: the EU's languages Lingua knows, and
#: frequent languages of migrant communities so their texts are not forced into an EU one.
DETECTED_LANGUAGES = [
    "bg",
    "cs",
    "da",
    "de",
    "el",
    "en",
    "es",
    "et",
    "fi",
    "fr",
    "ga",
    "hr",
    "hu",
    "it",
    "lt",
    "lv",
    "nl",
    "pl",
    "pt",
    "ro",
    "sk",
    "sl",
    "sv",
    "ca",
    "eu",
    "ar",
    "tr",
    "ru",
    "uk",
    "sq",
    "sr",
    "bs",
]

#: Only the start of a long text is read: language rarely changes after that and
#: detection cost grows with length.
DETECTION_CHARS = 3000


@dataclass(frozen=True)
class DetectedLanguage:
    code: str
    confidence: float


@lru_cache(maxsize=1)
def _detector() -> LanguageDetector:
    languages = [Language.from_iso_code_639_1(getattr(IsoCode639_1, c.upper())) for c in DETECTED_LANGUAGES]
    return LanguageDetectorBuilder.from_languages(*languages).with_preloaded_language_models().build()


def detect_language(text: str) -> DetectedLanguage | None:
    """The most likely language of ``text``, or ``None`` when it has no words to judge by."""
    sample = text[:DETECTION_CHARS]
    if not any(ch.isalpha() for ch in sample):
        return None
    values = _detector().compute_language_confidence_values(sample)
    if not values:
        return None
    best = values[0]
    return DetectedLanguage(best.language.iso_code_639_1.name.lower(), float(best.value))


@dataclass(frozen=True)
class DetectionAccuracy:
    """How often detection agrees with a known language, overall and per language."""

    total: int
    correct: int
    per_language: dict[str, tuple[int, int]]
    confusions: dict[tuple[str, str], int]

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0


def measure_detection(texts_and_languages: list[tuple[str, str]]) -> DetectionAccuracy:
    """Detect the language of texts whose language is known and count agreements."""
    per_language: dict[str, list[int]] = {}
    confusions: dict[tuple[str, str], int] = {}
    correct = 0
    for text, expected in texts_and_languages:
        detected = detect_language(text)
        got = detected.code if detected else "none"
        hits = per_language.setdefault(expected, [0, 0])
        hits[1] += 1
        if got == expected:
            hits[0] += 1
            correct += 1
        else:
            confusions[(expected, got)] = confusions.get((expected, got), 0) + 1
    return DetectionAccuracy(
        total=len(texts_and_languages),
        correct=correct,
        per_language={lang: (c, n) for lang, (c, n) in sorted(per_language.items())},
        confusions=dict(sorted(confusions.items(), key=lambda item: -item[1])),
    )
