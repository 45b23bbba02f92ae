"""Wiring: settings, Redis and the stores, put together once per process.

Only this module and `bot.cli` import adapters and assemble the parts.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import redis

from bot.commands import Stores
from config.settings import Settings
from jobs_store import BotStore, ContactStore, ConversationStore, JobStore
from jobs_store.connection import connect, redis_url


@dataclass(frozen=True, kw_only=True)
class App:
    """Everything a chatjobs process works with."""

    settings: Settings
    #: The Redis URL other processes can use (the embedded server's unix socket).
    redis_url: str
    redis: redis.Redis
    stores: Stores
    contacts: ContactStore
    conversations: ConversationStore


@contextlib.contextmanager
def open_app(settings: Settings) -> Iterator[App]:
    """Connect to Redis (starting the embedded one if needed) and build the stores."""
    with redis_url(settings) as url:
        client = connect(url)
        try:
            stores = Stores(jobs=JobStore(client), bots=BotStore(client))
            stores.bots.ensure_default()
            yield App(
                settings=settings,
                redis_url=url,
                redis=client,
                stores=stores,
                contacts=ContactStore(client),
                conversations=ConversationStore(
                    client,
                    max_turns=settings.chatjobs_history_turns,
                    ttl_days=settings.chatjobs_history_days,
                ),
            )
        finally:
            client.close()
