"""The RQ job that runs a conversation's turns."""

from __future__ import annotations

import logging

from rq import get_current_job

from bot.turns import answer_pending
from workers import runtime
from workers.queues import finish_if_idle, release

log = logging.getLogger(__name__)


def run_turn(conversation_id: str) -> None:
    """Answer the conversation until no message is pending.

    Idempotent: a retry answers only what is still pending, and replies are
    sent once per key (see `bot.delivery`).
    """
    rt = runtime.current()
    try:
        while True:
            if answer_pending(conversation_id, rt.agent) in ("failed", "limited"):
                release(rt.redis, conversation_id)  # the next message tries again
                return
            if finish_if_idle(rt.redis, conversation_id):
                return
    except Exception:
        job = get_current_job()
        if job is None or not job.retries_left:
            release(rt.redis, conversation_id)
        raise


def wake() -> None:
    """Does nothing; queued to wake an idle worker that should stop."""
