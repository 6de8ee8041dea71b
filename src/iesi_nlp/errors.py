"""The exceptions iesi-nlp raises on purpose.

Every message says what was wrong, where (file, row, page, field) and, where it
helps, what is allowed. Catch :class:`IesiError` to handle any of them.
"""

from __future__ import annotations


class IesiError(Exception):
    """Base class of every error iesi-nlp raises deliberately."""


class CodebookError(IesiError):
    """A codebook file is missing, malformed or inconsistent."""


class LabelError(IesiError):
    """A label or dimension is not in the codebook."""


class InputError(IesiError):
    """An input file or record cannot be used (format, encoding, missing column...)."""


class CorpusError(IesiError):
    """The corpus breaks one of its rules (unique ids, coverage, near-duplicates...)."""


class ModelError(IesiError):
    """A model folder that is missing, damaged, or does not match the codebook or embedder."""


class AnnotationError(IesiError):
    """A decision that cannot be recorded as given (unknown label, no annotator, not allowed to adjudicate...)."""


class RegistryError(ModelError):
    """A model registry that is missing, damaged, or asked for a version it does not hold."""


class ProjectError(IesiError):
    """A folder that is not a project, or a project that cannot be used as asked."""
