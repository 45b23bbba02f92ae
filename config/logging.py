"""Logging set-up; only entry points call `configure_logging`.

`CHATJOBS_LOG_FORMAT=text` (the default) writes one readable line per record;
`json` writes one JSON object per line, for log collectors:

    {"time": "2025-03-04T09:00:00.123Z", "level": "WARNING", "logger": "bot.turns",
     "message": "turn 3 of slack:T1:C1: model failed", "conversation": "slack:T1:C1"}

`time` is ISO-8601 in UTC; `message` has the %-args applied; `exception`
(and `stack`) hold the traceback text when the record has one; every field
passed with `extra=` is added as it is (values JSON cannot hold as their
`str()`), under `extra_<name>` if it would replace one of the fields above.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from config.settings import Settings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

#: What every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (see the module docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
                            .isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            # Cached on the record, as logging.Formatter does, for other handlers.
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            payload["exception"] = record.exc_text
        if record.stack_info:
            payload["stack"] = self.formatStack(record.stack_info)
        for key, value in vars(record).items():
            if key in _STANDARD or key.startswith("_"):
                continue
            payload[f"extra_{key}" if key in payload else key] = value
        # json.dumps escapes line breaks: a record stays on one line whatever it holds.
        return json.dumps(payload, default=str)


def configure_logging(settings: Settings) -> None:
    """Log to stderr at CHATJOBS_LOG_LEVEL, one line per record (CHATJOBS_LOG_FORMAT)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if settings.chatjobs_log_format == "json"
                         else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=settings.chatjobs_log_level, handlers=[handler], force=True)
    # bm25s sets its own logger to DEBUG on import; keep it at our level.
    logging.getLogger("bm25s").setLevel(settings.chatjobs_log_level)
