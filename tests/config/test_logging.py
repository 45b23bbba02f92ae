"""CHATJOBS_LOG_FORMAT: readable lines, or one JSON object per line for log collectors."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from config.errors import ConfigError
from config.logging import JsonFormatter, configure_logging
from config.settings import load_settings


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


@pytest.fixture
def logged() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger whose records go, as JSON, to the returned buffer."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("tests.config.json")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)
    logger.propagate = True


@pytest.fixture
def root_restored() -> Iterator[None]:
    """configure_logging replaces the root handlers: put pytest's back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
    for handler in handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)


def test_a_record_with_args_and_an_exception_is_one_parseable_json_line(
    logged: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = logged
    before = datetime.now(UTC)
    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError:
        logger.exception("turn %d of %s failed", 3, "slack:T1:C1",
                         extra={"conversation": "slack:T1:C1", "job": "job_7"})
    (line,) = stream.getvalue().splitlines()
    record = json.loads(line)
    assert record["level"] == "ERROR"
    assert record["logger"] == "tests.config.json"
    assert record["message"] == "turn 3 of slack:T1:C1 failed"
    assert record["exception"].startswith("Traceback (most recent call last):")
    assert "ZeroDivisionError: division by zero" in record["exception"]
    assert record["conversation"] == "slack:T1:C1" and record["job"] == "job_7"
    assert record["time"].endswith("Z")
    when = datetime.fromisoformat(record["time"])
    assert when.utcoffset() == timedelta(0)
    assert before - timedelta(seconds=1) <= when <= datetime.now(UTC) + timedelta(seconds=1)
    assert set(record) == {"time", "level", "logger", "message", "exception", "conversation",
                           "job"}


def test_line_breaks_odd_values_and_clashing_extras_stay_on_one_line(
    logged: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = logged
    logger.warning("two\nlines: %r", {"a": 1}, extra={"level": "mine", "when": datetime(2025, 1, 1),
                                                      "ids": ("a", "b")})
    logger.info("plain")
    first, second = json_lines(stream.getvalue())
    assert first["message"] == "two\nlines: {'a': 1}"
    assert first["level"] == "WARNING" and first["extra_level"] == "mine"
    assert first["when"] == "2025-01-01 00:00:00" and first["ids"] == ["a", "b"]
    assert "exception" not in first
    assert second == {"time": second["time"], "level": "INFO", "logger": "tests.config.json",
                      "message": "plain"}


def test_configure_logging_json_writes_json_to_stderr(
    root_restored: None, capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(load_settings(_env_file=None, chatjobs_log_format="json",
                                    chatjobs_log_level="INFO"))
    logging.getLogger("bot.turns").info("answered %s", "c1", extra={"platform": "slack"})
    logging.getLogger("bot.turns").debug("not at INFO")
    (record,) = json_lines(capsys.readouterr().err)
    assert record["message"] == "answered c1" and record["platform"] == "slack"


def test_text_is_the_default_format(
    root_restored: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CHATJOBS_LOG_FORMAT", raising=False)
    settings = load_settings(_env_file=None)
    assert settings.chatjobs_log_format == "text"
    configure_logging(settings)
    logging.getLogger("bot.turns").warning("answered %s", "c1")
    line = capsys.readouterr().err.strip()
    assert line.endswith(" WARNING bot.turns: answered c1") and not line.startswith("{")


def test_the_format_is_read_from_the_environment_in_any_case(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CHATJOBS_LOG_FORMAT", "JSON")
    assert load_settings(_env_file=None).chatjobs_log_format == "json"


@pytest.mark.parametrize("value", ["xml", "yaml", "", "jsonl"])
def test_a_bad_log_format_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, value: str,
) -> None:
    monkeypatch.setenv("CHATJOBS_LOG_FORMAT", value)
    with pytest.raises(ConfigError) as refused:
        load_settings(_env_file=None)
    assert str(refused.value).startswith("CHATJOBS_LOG_FORMAT: ")
    assert "'text' or 'json'" in str(refused.value)
