"""Logging set-up; only entry points call `configure_logging`."""

from __future__ import annotations

import logging
import sys

from config.settings import Settings


def configure_logging(settings: Settings) -> None:
    """Log to stderr at CHATJOBS_LOG_LEVEL, one line per record."""
    logging.basicConfig(
        level=settings.chatjobs_log_level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    # bm25s sets its own logger to DEBUG on import; keep it at our level.
    logging.getLogger("bm25s").setLevel(settings.chatjobs_log_level)
