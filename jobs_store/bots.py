"""Bots: persona, model, channels served, and the jobs attached to each.

Attach and detach edit a bot's draft list; `publish` makes the draft live.
A bot with no live jobs considers the whole library.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import redis
from redis.client import Pipeline

from jobs_store import keys
from jobs_store.errors import AlreadyExists, InvalidInput, StaleVersion
from jobs_store.models import BOT_FIELDS, MAX_ATTACHED_JOBS, Bot, Job, now_utc, validated
from jobs_store.records import DEFAULT_WORKSPACE, load, new_id, not_found, resolve_id

DEFAULT_BOT_ID = "default"
DEFAULT_PERSONA = (
    "You are a friendly, concise assistant for this team. Follow the job that fits the "
    "user's goal, one step at a time, and say so plainly when you cannot help."
)


_Bots = list[Bot]  # `list` is a method name below, so spell the type out here


class BotStore:
    """Repository of one workspace's bots."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        workspace: str = DEFAULT_WORKSPACE,
        clock: Callable[[], datetime] = now_utc,
    ) -> None:
        self._redis = client
        self._ws = workspace
        self._clock = clock
        self._bots: tuple[str, _Bots] | None = None

    def ensure_default(self) -> Bot:
        """The default bot, stored on first use (see `_new_default`)."""

        def write(pipe: Pipeline) -> Bot:
            existing = load(pipe, self._key(DEFAULT_BOT_ID), Bot)
            if existing is not None:
                return existing
            bot = self._new_default(pipe)
            pipe.multi()
            self._write(pipe, bot)
            return bot

        return self._transaction(write, self._key(DEFAULT_BOT_ID))

    def list(self) -> _Bots:
        """Every bot, the default first, then by name.

        Every write bumps the bots' revision; while it is unchanged, the bots
        parsed last time are reused (one GET; a turn reads them every time).
        """
        revision = str(self._redis.get(keys.bot_revision(self._ws)) or "0")
        if self._bots is None or self._bots[0] != revision:
            ids = self._redis.hvals(self._names_key)
            raws = self._redis.mget([self._key(str(i)) for i in ids]) if ids else []
            bots = sorted((Bot.model_validate_json(raw) for raw in raws if raw),
                          key=lambda b: (b.id != DEFAULT_BOT_ID, b.name.lower()))
            # A write between the GET and the MGET leaves newer bots under the older
            # revision: the next call sees the new revision and reads again.
            self._bots = (revision, bots)
        return list(self._bots[1])

    def get(self, ref: str | None = None) -> Bot:
        """The bot with this id or name (any case); the default bot when `ref` is None."""
        bot_id = DEFAULT_BOT_ID if ref is None else resolve_id(
            self._redis, self._names_key, ref, self._key)
        bot = load(self._redis, self._key(bot_id), Bot) if bot_id else None
        if bot is None and ref in (None, DEFAULT_BOT_ID):
            # Not stored yet: read only, so a refused command stores nothing.
            return self._new_default(self._redis)
        if bot is None:
            assert ref is not None
            raise not_found("bot", ref, (b.name for b in self.list()), "/bots list")
        return bot

    def create(self, fields: Mapping[str, Any], *, actor: str) -> Bot:
        """Store a new bot; its name must be free (any case)."""
        _only_bot_fields(fields)
        bot = validated(Bot, {**fields, "id": new_id("bot"), "updated_by": actor,
                              "updated_at": self._clock()})

        def write(pipe: Pipeline) -> Bot:
            self._check_name_free(pipe, bot)
            pipe.multi()
            self._write(pipe, bot)
            return bot

        return self._transaction(write)

    def update(
        self, ref: str | None, changes: Mapping[str, Any], *, actor: str,
        expected_version: int | None = None,
    ) -> Bot:
        """Change persona, model, channels, escalation channel or name.

        When nothing would change, nothing is saved and the bot is returned as is.
        """
        _only_bot_fields(changes)
        if not changes:
            raise InvalidInput("", "Nothing to change: give at least one field=value.")
        return self._modify(ref, lambda bot: dict(changes), actor, expected_version)

    def attach(self, ref: str | None, job: Job, *, actor: str) -> Bot:
        """Add `job` to the bot's draft."""

        def change(bot: Bot) -> dict[str, Any]:
            if job.id in bot.draft_jobs:
                raise AlreadyExists(f"'{job.name}' is already attached to {bot.name}'s draft.")
            if len(bot.draft_jobs) >= MAX_ATTACHED_JOBS:
                raise InvalidInput(
                    "jobs", f"{bot.name} already has {MAX_ATTACHED_JOBS} jobs attached, the "
                    "most a bot can have; detach one first.")
            return {"draft_jobs": (*bot.draft_jobs, job.id)}

        return self._modify(ref, change, actor)

    def detach(self, ref: str | None, job: Job, *, actor: str) -> Bot:
        """Remove `job` from the bot's draft."""

        def change(bot: Bot) -> dict[str, Any]:
            if job.id not in bot.draft_jobs:
                raise InvalidInput("job", f"'{job.name}' is not attached to {bot.name}'s draft.")
            return {"draft_jobs": tuple(j for j in bot.draft_jobs if j != job.id)}

        return self._modify(ref, change, actor)

    def publish(self, ref: str | None, *, actor: str) -> Bot:
        """Make the bot's draft attachments live."""
        return self._modify(ref, lambda bot: {"live_jobs": bot.draft_jobs}, actor)

    # --- internals ----------------------------------------------------------

    @property
    def _names_key(self) -> str:
        return keys.bot_names(self._ws)

    def _key(self, bot_id: str) -> str:
        return keys.bot(self._ws, bot_id)

    def _transaction(self, write: Callable[[Pipeline], Any], *watched: str) -> Any:
        return self._redis.transaction(write, self._names_key, *watched,
                                       value_from_callable=True)

    def _modify(
        self, ref: str | None, change: Callable[[Bot], dict[str, Any]], actor: str,
        expected_version: int | None = None,
    ) -> Bot:
        bot_id = self.get(ref).id

        def write(pipe: Pipeline) -> Bot:
            current = load(pipe, self._key(bot_id), Bot)
            if current is None and bot_id == DEFAULT_BOT_ID:
                current = self._new_default(pipe)  # stored with the change, if one is made
            if current is None:
                raise InvalidInput("bot", f"the bot '{ref}' was just deleted.")
            if expected_version is not None and current.version != expected_version:
                raise StaleVersion(
                    f"{current.name} was changed by {current.updated_by or 'someone'} at "
                    f"{current.updated_at:%Y-%m-%d %H:%M} UTC (now version {current.version}); "
                    "nothing was saved.")
            data = {**current.model_dump(), **change(current), "version": current.version + 1,
                    "updated_by": actor, "updated_at": self._clock()}
            bot = validated(Bot, data)
            if all(getattr(bot, f) == getattr(current, f)
                   for f in (*BOT_FIELDS, "draft_jobs", "live_jobs")):
                return current
            self._check_name_free(pipe, bot)
            pipe.multi()
            if bot.name.lower() != current.name.lower():
                pipe.hdel(self._names_key, current.name.lower())
            self._write(pipe, bot)
            return bot

        return self._transaction(write, self._key(bot_id))

    def _new_default(self, reader: redis.Redis | Pipeline) -> Bot:
        """The default bot as it is before it is stored: called `chatjobs`, or
        `chatjobs default` if a bot of that name was made first."""
        name = next(n for n in ("chatjobs", "chatjobs default", DEFAULT_BOT_ID)
                    if not reader.hexists(self._names_key, n))
        return Bot(id=DEFAULT_BOT_ID, name=name, persona=DEFAULT_PERSONA,
                   updated_by="chatjobs", updated_at=self._clock())

    def _check_name_free(self, pipe: Pipeline, bot: Bot) -> None:
        owner = pipe.hget(self._names_key, bot.name.lower())
        if owner and owner != bot.id:
            raise AlreadyExists(f"name: a bot named '{bot.name}' already exists.")

    def _write(self, pipe: Pipeline, bot: Bot) -> None:
        pipe.hset(self._names_key, bot.name.lower(), bot.id)
        pipe.set(self._key(bot.id), bot.model_dump_json())
        pipe.incr(keys.bot_revision(self._ws))


def _only_bot_fields(fields: Mapping[str, Any]) -> None:
    for field in fields:
        if field not in BOT_FIELDS:
            raise InvalidInput(field, f"is not a bot field; use {', '.join(BOT_FIELDS)}")
