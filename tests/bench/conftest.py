"""The `bench` fixture: the benchmark script a smoke-test module names in `BENCH`."""

from __future__ import annotations

from types import ModuleType

import pytest

from tests.bench import load_bench


@pytest.fixture(scope="module")
def bench(request: pytest.FixtureRequest) -> ModuleType:
    """bench/<BENCH>.py as a module, `BENCH` being the test module's constant."""
    return load_bench(request.module.BENCH)
