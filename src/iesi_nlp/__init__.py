"""iesi-nlp: suggest IESI codes for case descriptions of ICT-enabled social innovation."""

from iesi_nlp.codebook import Codebook, Dimension, DimensionKind, Label, load_codebook
from iesi_nlp.errors import CodebookError, CorpusError, IesiError, InputError, LabelError
from iesi_nlp.records import Case, read_cases, write_cases

__version__ = "0.1.0"

__all__ = [
    "Case",
    "Codebook",
    "CodebookError",
    "CorpusError",
    "Dimension",
    "DimensionKind",
    "IesiError",
    "InputError",
    "Label",
    "LabelError",
    "__version__",
    "load_codebook",
    "read_cases",
    "write_cases",
]
