"""Makes the scripts in benchmarks/ importable from the tests."""

from __future__ import annotations

import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
if str(BENCHMARKS) not in sys.path:
    sys.path.insert(0, str(BENCHMARKS))


def load_benchmark(name: str):
    """Import ``benchmarks/<name>.py`` as a module."""
    import importlib

    return importlib.import_module(name)
