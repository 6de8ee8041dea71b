"""Coding: from case vectors to suggested codes, and how models are trained, scored, described and saved.

* :mod:`~iesi_nlp.coding.suggestion`: the typed :class:`Suggestion` every layer passes on;
* :mod:`~iesi_nlp.coding.heads`: per-dimension heads (codebook prior, blended with a classifier) and ``decide``;
* :mod:`~iesi_nlp.coding.classifiers`: the calibrated scikit-learn classifier of one dimension;
* :mod:`~iesi_nlp.coding.evidence`: the sentences that support a suggested label;
* :mod:`~iesi_nlp.coding.model`: :class:`CodingModel`, every dimension's head, ``suggest``;
* :mod:`~iesi_nlp.coding.adaptation`: the rule that decides how much the user's own cases count;
* :mod:`~iesi_nlp.coding.training`, :mod:`~iesi_nlp.coding.evaluation`, :mod:`~iesi_nlp.coding.metrics`;
* :mod:`~iesi_nlp.coding.card` (the typed model card) and :mod:`~iesi_nlp.coding.artifacts` (saving, loading).
"""
