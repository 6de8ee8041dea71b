"""Annotation: the cases under review, the decisions annotators make on them, and what those decisions mean.

* :mod:`~iesi_nlp.annotation.store`: :class:`Decision`, :class:`Action` and the :class:`DecisionStore` protocol;
* :mod:`~iesi_nlp.annotation.sqlite`: the SQLite store (append-only decisions, screen claims);
* :mod:`~iesi_nlp.annotation.labels`: label policy (agreement, adjudication) and the training set grown by review;
* :mod:`~iesi_nlp.annotation.agreement`: Krippendorff's alpha and override rates.
"""
