"""Fixtures for the end-to-end tests: the `chatjobs` CLI of one test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.clirunner import Cli


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Cli]:
    """The CLI of this test, in a fresh working dir and data dir.

    Leftover chats and servers of this test are ended by pid at teardown.
    """
    runner = Cli(tmp_path)
    yield runner
    runner.cleanup()
