"""A plain reply naming the jobs that fit a message.

Used by the console until the agent turn (model, prompt, tools) answers there.
"""

from __future__ import annotations

from bot.matcher import JobMatcher
from bot.models import IncomingMessage
from jobs_store import BotStore, JobStore
from jobs_store.models import Contact, now_utc


def suggest(
    message: IncomingMessage, *, jobs: JobStore, bots: BotStore, matcher: JobMatcher,
    contact: Contact | None,
) -> str:
    """Name the best-matching live jobs of the default bot (or the whole library)."""
    bot = bots.get()
    library = jobs.get_many(bot.live_jobs) if bot.live_jobs else jobs.list()
    if not library:
        return ("I don't know any jobs yet. Add one with /jobs create, or start from a "
                "template: /jobs templates.")
    matches = matcher.rank(library, message.text, contact=contact, now=now_utc(), limit=3)
    if not matches:
        names = ", ".join(job.name for job in library[:5])
        return f"I'm not sure which job fits that. I can help with: {names}."
    best, *others = matches
    reply = f"That sounds like '{best.job.name}' (score {best.score:.2f})."
    if others:
        reply += " Also close: " + ", ".join(f"'{m.job.name}'" for m in others) + "."
    return reply
