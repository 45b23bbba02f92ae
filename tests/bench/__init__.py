"""Smoke tests of the benchmarks in bench/: each still runs and produces its figures."""

from __future__ import annotations

import importlib
from types import ModuleType


def load_bench(name: str) -> ModuleType:
    """bench/<name>.py as the module `bench.<name>` (bench/ is a namespace package of
    scripts at the repository root): one module object, also for what RQ workers import
    from it by name."""
    return importlib.import_module(f"bench.{name}")
