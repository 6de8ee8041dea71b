"""How the user's own cases outweigh the seed corpus: the rule, dimension by dimension.

A model learns from the seed corpus (written for this project, in many languages)
and from the user's own labelled and reviewed cases. The two differ: a user's
collection has its own vocabulary, its own label frequencies and its own number
of labels per case. Trained together unweighted, the few own cases are drowned
by the seed; trained alone, they are too few for a while. No single weight is
right for every collection and dimension, so the rule decides per dimension, on
the user's own cases:

* **Fewer than** :attr:`AdaptationOptions.min_own_cases` own cases on a dimension:
  the **cold-start recipe** (:data:`COLD_START`): the seed, with the own cases
  counted :attr:`AdaptationOptions.cold_start_own_weight` times, blended half and
  half with the codebook prior (label definitions compared with the case). On
  real collections the codebook alone beat the seed-trained classifier, and the
  even blend beat both (BENCHMARKS.md, "Learning a user's collection").
* **From then on**: every recipe of :attr:`AdaptationOptions.candidates` (own cases
  weighted ×1 … own cases alone, with or without character n-grams fitted on the
  user's collection) is cross-validated on the own cases only: the seed always
  trains, the own cases are split into folds, and each fold's own cases are
  predicted by a model that never saw them. The recipe with the best mean log-loss
  on those predictions (a smooth score, steadier than F1 on a few dozen cases) is
  kept, and the decision thresholds of a multi-label dimension are tuned on the
  same out-of-fold predictions, so the number of labels suggested per case follows
  the user's own coding, not the seed's.

The rule and the candidates were chosen with ``benchmarks/adaptation.py`` on real
collections (never on the seed corpus's own cross-validation, which cannot see the
shift); the model card records, per dimension, the recipe kept and the score of
every candidate.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from iesi_nlp.features import FEATURE_SETS


@dataclass(frozen=True)
class Recipe:
    """How one dimension is trained.

    ``own_weight``: what one own case weighs against one seed case; ``None`` trains on
    the own cases alone. ``feature_set``: ``dense`` or ``dense+tfidf``. ``supervised_weight``:
    the share of the classifier in the blend with the codebook prior (1: the classifier alone).
    """

    own_weight: float | None = 1.0
    feature_set: str = "dense"
    supervised_weight: float = 1.0

    def __post_init__(self) -> None:
        if self.own_weight is not None and self.own_weight <= 0:
            raise ValueError(f"own_weight must be positive or None, got {self.own_weight}")
        if self.feature_set not in FEATURE_SETS:
            raise ValueError(f"feature_set must be one of {FEATURE_SETS}, got {self.feature_set!r}")
        if not 0 <= self.supervised_weight <= 1:
            raise ValueError(f"supervised_weight must be in [0, 1], got {self.supervised_weight}")

    @property
    def name(self) -> str:
        own = "own cases alone" if self.own_weight is None else f"seed + own ×{self.own_weight:g}"
        blend = "" if self.supervised_weight >= 1 else f", {1 - self.supervised_weight:.0%} codebook"
        return f"{own}, {self.feature_set}{blend}"

    def as_dict(self) -> dict:
        return {
            "own_weight": self.own_weight,
            "feature_set": self.feature_set,
            "supervised_weight": self.supervised_weight,
        }


#: Weight of the classifier against the codebook prior before a dimension has own cases enough.
COLD_START_SUPERVISED_WEIGHT = 0.5

#: The recipe below ``min_own_cases`` own cases (the seed's feature set is chosen on the seed).
COLD_START = Recipe(own_weight=1.0, feature_set="dense", supervised_weight=COLD_START_SUPERVISED_WEIGHT)

#: Recipes cross-validated on the own cases once there are enough of them.
CANDIDATES: tuple[Recipe, ...] = tuple(
    Recipe(own_weight=weight, feature_set=feature_set)
    for feature_set in FEATURE_SETS
    for weight in (1.0, 3.0, 10.0, None)
)


@dataclass(frozen=True)
class AdaptationOptions:
    """The rule's settings (see the module docstring)."""

    #: From this many own cases labelled on a dimension on, recipes are chosen by cross-validation on them.
    min_own_cases: int = 10
    #: Weight of an own case against a seed case below ``min_own_cases`` own cases.
    cold_start_own_weight: float = 3.0
    candidates: tuple[Recipe, ...] = field(default=CANDIDATES)
    #: Folds of the cross-validation on the own cases.
    folds: int = 5

    def __post_init__(self) -> None:
        if self.min_own_cases < 2:
            raise ValueError(f"min_own_cases must be at least 2, got {self.min_own_cases}")
        if not self.candidates:
            raise ValueError("need at least one candidate recipe")
        if self.folds < 2:
            raise ValueError(f"folds must be at least 2, got {self.folds}")

    @property
    def cold_start(self) -> Recipe:
        return Recipe(
            own_weight=self.cold_start_own_weight,
            feature_set=COLD_START.feature_set,
            supervised_weight=COLD_START.supervised_weight,
        )
