"""Fixtures for the fake network peers (OpenAI-compatible server, …).

Registered as a pytest plugin by tests/conftest.py, so every test can ask for them.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.openai_server import FakeOpenAI


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    """A started fake OpenAI server, stopped after the test.

    Teardown fails if the test's own `default` responder or `embed` function raised.
    """
    with FakeOpenAI() as fake:
        yield fake
    assert not fake.errors, f"fake OpenAI responder/embedder raised: {fake.errors!r}"


@pytest.fixture
def fake_openai_env(fake_openai: FakeOpenAI) -> dict[str, str]:
    """Settings that point the app at `fake_openai` (e.g. for `monkeypatch.setenv`)."""
    return {
        "OPENAI_API_KEY": "test-key",
        "OPENAI_BASE_URL": fake_openai.base_url,
        "OPENAI_MODEL": "fake-model",
    }
