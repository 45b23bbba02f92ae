"""Outbound Discord over REST: the `Sender` port, usable in any process without a gateway.

    sender = DiscordSender.from_settings(settings, redis_client)   # no discord.Client needed

REST goes through discord.py's own `discord.http.HTTPClient`, so its rate-limit
handling applies: per-route buckets from the `X-RateLimit-*` headers, and a
429 retried after the body's `retry_after` (a global one pauses every call).
Sync callers (RQ workers) reach it through `DiscordRest`, which runs the
client on a private event loop in a daemon thread.

`DISCORD_API_URL` (for example a shared rate-limit proxy) replaces the base
every discord.py route is built on, `discord.http.Route.BASE`
(`https://discord.com/api/v10`): a URL without a path gets `/api/v10`
appended; a URL with a path is used as it is (give the version yourself,
`http://proxy:8080/api/v10`). It is applied per client by `RebasedHTTPClient`,
not by changing `Route.BASE` for the whole process. Note that discord.py
takes a 429 without a `Via` header for a Cloudflare ban and does not retry
it: a proxy must pass Discord's headers through.

- `reply` answers in the conversation's thread, or in a DM, or — in a guild
  channel — as a reply (`message_reference`) to the person's latest message,
  which it reads from the conversation (a deleted message makes it a plain
  message). Replies over 2,000 characters are split (`split.split`) and sent
  in order; only the first part is a reply.
- Once: every part carries a `nonce` derived from the conversation, the
  message answered, the text and the part number, with `enforce_nonce`, so
  Discord itself drops a re-send within minutes (a retried turn, or
  discord.py re-sending after a 5xx whose message was in fact posted). A
  reply split in parts that fails midway resumes after the parts already
  sent (`cj:discord:part:…` marks, cleared once all are sent).
- Mentions: the model's text may ping users (`<@id>`) and the person
  replied to, never @everyone, @here or roles.
- Threads the bot speaks in are recorded (`cj:discord:thread:{id}`, 30 days),
  so people can go on talking there without an @mention.
- `direct` (and `post` to `<@user>`) opens the DM with a user
  (POST /users/@me/channels) once, caching its channel (`cj:discord:dm:{user}`,
  30 days); `direct` returns the DM's conversation id, `discord:dm:{channel}:`.
- `working` keeps the typing indicator on (POST /channels/{id}/typing, which
  lasts about 10 s, repeated every 8 s) until the turn ends; it never raises.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import hashlib
import logging
import os
import re
import threading
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import discord
import redis
from discord.http import HTTPClient, Route

from adapters.discord.normalize import DM, conversation_id, parse_conversation_id
from adapters.discord.split import MAX_CHARS, split
from config.errors import ChatjobsError, ConfigError
from config.settings import Settings
from jobs_store import ConversationStore
from jobs_store.keys import PREFIX

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Longest wait for one rate limit before the call fails instead (discord.py's minimum).
MAX_RATELIMIT_WAIT_S = 30.0
#: Longest one REST call may take, waits and discord.py's own retries included.
CALL_TIMEOUT_S = 90.0
#: Discord shows "is typing…" for about 10 s after each POST /typing.
TYPING_EVERY_S = 8.0
#: The typing indicator is never kept on longer than this (a turn is capped below it).
TYPING_AT_MOST_S = 300.0
THREAD_TTL_S = 30 * 86_400
DM_TTL_S = 30 * 86_400
_PART_TTL_S = 86_400
#: Users may be pinged by the model's text; the person replied to is; nobody else.
ALLOWED_MENTIONS: dict[str, Any] = {"parse": ["users"], "replied_user": True}

_CHANNEL = re.compile(r"^(?:<#)?([0-9]{15,20})>?$")
_USER = re.compile(r"^(?:<@!?|@)([0-9]{15,20})>?$")
_SNOWFLAKE = re.compile(r"^[0-9]{15,20}$")


class DiscordSendError(ChatjobsError):
    """Discord refused a message, or could not be reached; the text says which."""


def api_base(url: object | None) -> str:
    """The REST base for `DISCORD_API_URL` (see the module docstring); Route.BASE when unset."""
    if url is None or not str(url).strip():
        return Route.BASE
    base = str(url).strip().rstrip("/")
    if urlsplit(base).path in ("", "/"):
        base += urlsplit(Route.BASE).path
    return base


class RebasedHTTPClient(HTTPClient):
    """discord.py's HTTP client with every route rebased from `Route.BASE` to `api_base`.

    discord.py builds each URL as `Route.BASE + path` when a `Route` is made;
    this rewrites that prefix per request, so two clients in one process can
    use different bases and nothing global changes.
    """

    def __init__(self, *args: Any, api_base: str = Route.BASE, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.api_base = api_base.rstrip("/")

    async def request(self, route: Route, **kwargs: Any) -> Any:
        default = Route.BASE
        if self.api_base != default and route.url.startswith(default):
            route.url = self.api_base + route.url[len(default):]
        return await super().request(route, **kwargs)


def thread_key(thread_id: str) -> str:
    """Set while the bot takes part in a thread."""
    return f"{PREFIX}:discord:thread:{thread_id}"


def dm_key(user_id: str) -> str:
    """The DM channel id of a user."""
    return f"{PREFIX}:discord:dm:{user_id}"


class BotThreads:
    """The threads the bot takes part in (it spoke or was mentioned there)."""

    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    def join(self, thread_id: str) -> None:
        """Record (or refresh, for 30 more days) that the bot is in the thread."""
        if thread_id:
            self._redis.set(thread_key(thread_id), "1", ex=THREAD_TTL_S)

    def takes_part(self, thread_id: str) -> bool:
        """Whether the bot is in the thread."""
        return bool(thread_id) and bool(self._redis.exists(thread_key(thread_id)))


class DiscordRest:
    """discord.py's `HTTPClient` on a private event loop, for code that is not async.

    The loop thread starts (and logs in: GET /users/@me) at the first call.
    Calls may come from any thread; each waits at most `timeout` seconds.
    """

    def __init__(self, token: str, *, api_url: object | None = None,
                 timeout: float = CALL_TIMEOUT_S,
                 max_ratelimit_wait: float = MAX_RATELIMIT_WAIT_S) -> None:
        self._token = token
        self.api_base = api_base(api_url)
        self._timeout = timeout
        self._max_wait = max_ratelimit_wait
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._http: HTTPClient | None = None
        self._pid = 0

    def __repr__(self) -> str:  # never the token
        return f"DiscordRest(api_base={self.api_base!r})"

    def call(self, fn: Callable[[HTTPClient], Awaitable[T]], *,
             timeout: float | None = None) -> T:
        """Run `fn(http)` on the loop and wait for its result (its exception is raised here)."""
        future = self.submit(fn)
        try:
            return future.result(timeout if timeout is not None else self._timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise DiscordSendError(
                f"Discord did not answer within {timeout or self._timeout:.0f} s "
                f"({self.api_base})") from None

    def submit(self, fn: Callable[[HTTPClient], Awaitable[T]]) -> concurrent.futures.Future[T]:
        """Start `fn(http)` on the loop; the future of its result."""
        loop, http = self._started()

        async def run() -> T:
            return await fn(http)

        return asyncio.run_coroutine_threadsafe(run(), loop)

    def close(self, timeout: float = 5.0) -> None:
        """Close the HTTP session and stop the loop (a later call starts them again)."""
        with self._lock:
            loop, http, self._loop, self._http = self._loop, self._http, None, None
        if loop is None or http is None or self._pid != os.getpid():
            return
        try:
            asyncio.run_coroutine_threadsafe(http.close(), loop).result(timeout)
        except Exception:  # closing is best effort
            log.debug("closing the Discord HTTP session failed", exc_info=True)
        loop.call_soon_threadsafe(loop.stop)

    def _started(self) -> tuple[asyncio.AbstractEventLoop, HTTPClient]:
        with self._lock:
            if self._loop is not None and self._http is not None and self._pid == os.getpid():
                return self._loop, self._http
            # First call (or first in a forked child, where the parent's thread is gone).
            loop = asyncio.new_event_loop()
            threading.Thread(target=_run_forever, args=(loop,), daemon=True,
                             name="discord-rest").start()
            http = RebasedHTTPClient(loop, api_base=self.api_base,
                                     max_ratelimit_timeout=self._max_wait)
            try:
                asyncio.run_coroutine_threadsafe(http.static_login(self._token), loop).result(
                    self._timeout)
            except discord.LoginFailure as exc:
                _stop(loop, http)
                raise ConfigError("DISCORD_TOKEN: Discord refused it (401)") from exc
            except (discord.DiscordException, OSError,
                    concurrent.futures.TimeoutError) as exc:
                _stop(loop, http)
                raise DiscordSendError(
                    f"could not reach Discord at {self.api_base} ({exc!r})") from exc
            self._loop, self._http, self._pid = loop, http, os.getpid()
            atexit.register(_close_at_exit, weakref.ref(self))
            return loop, http


def _run_forever(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        loop.close()


def _stop(loop: asyncio.AbstractEventLoop, http: HTTPClient) -> None:
    try:
        asyncio.run_coroutine_threadsafe(http.close(), loop).result(5)
    except Exception:
        log.debug("closing the Discord HTTP session failed", exc_info=True)
    loop.call_soon_threadsafe(loop.stop)


def _close_at_exit(ref: weakref.ref[DiscordRest]) -> None:
    rest = ref()
    if rest is not None:
        rest.close(timeout=1.0)


class DiscordSender:
    """The `Sender` port for Discord: replies, posts and the typing indicator, over REST."""

    platform = "discord"

    def __init__(self, rest: DiscordRest, redis: redis.Redis, *, max_chars: int = MAX_CHARS,
                 typing_every_s: float = TYPING_EVERY_S,
                 typing_at_most_s: float = TYPING_AT_MOST_S) -> None:
        self.rest = rest
        self._redis = redis
        self._conversations = ConversationStore(redis)
        self._max_chars = max_chars
        self._typing_every_s = typing_every_s
        self._typing_at_most_s = typing_at_most_s
        self._typing: dict[str, concurrent.futures.Future[None]] = {}
        self._typing_lock = threading.Lock()
        self.threads = BotThreads(redis)

    @classmethod
    def from_settings(cls, settings: Settings, redis: redis.Redis) -> DiscordSender:
        """A sender for any process: REST at DISCORD_API_URL with DISCORD_TOKEN."""
        if settings.discord_token is None:
            raise ConfigError("DISCORD_TOKEN: required to send to Discord")
        return cls(DiscordRest(settings.discord_token.get_secret_value(),
                               api_url=settings.discord_api_url), redis)

    def close(self) -> None:
        """Stop the typing indicators and close the REST client."""
        with self._typing_lock:
            loops, self._typing = list(self._typing.values()), {}
        for future in loops:
            future.cancel()
        self.rest.close()

    def reply(self, *, conversation_id: str, text: str) -> None:
        """Answer in the conversation (see the module docstring for where and how)."""
        where = parse_conversation_id(conversation_id)
        answering = self._latest_user_message(conversation_id)
        reference = None
        if where.workspace != DM and not where.thread and answering:
            reference = {"message_id": answering, "channel_id": where.channel,
                         "guild_id": where.workspace, "fail_if_not_exists": False}
        if where.thread:
            self.threads.join(where.thread)
        self._send(where.target, text, scope=f"{conversation_id}\n{answering}",
                   reference=reference)

    def post(self, *, channel: str, text: str) -> None:
        """Post in a channel (`123…` or `<#123…>`), or DM a user (`@123…` or `<@123…>`)."""
        target = self._channel_for(channel.strip())
        self._send(target, text, scope=f"post\n{target}", reference=None)

    def direct(self, *, workspace: str, user: str) -> str:
        """The conversation id of the DM with `user` (an id), opened if needed.

        DMs belong to no guild, so `workspace` (a guild id or "") does not
        change it: it is `discord:dm:{DM channel}:`, the id an inbound DM from
        the user normalizes to, so the user's answers come back to it.
        """
        if not _SNOWFLAKE.match(user):
            raise DiscordSendError(f"'{user}' is not a Discord user id (e.g. 123456789012345678)")
        return conversation_id(DM, self._dm_channel(user))

    def channel(self, *, workspace: str, channel: str) -> str:
        """The conversation id of the top level of `channel`; an empty `workspace` is
        looked up (GET /channels/{id} gives the channel's guild)."""
        if not _SNOWFLAKE.match(channel):
            raise DiscordSendError(f"'{channel}' is not a Discord channel id "
                                   "(e.g. 123456789012345678)")
        guild = workspace
        if not guild:
            route = Route("GET", "/channels/{channel_id}", channel_id=channel)
            try:
                data = self.rest.call(lambda http: http.request(route))
            except (discord.DiscordException, OSError) as exc:
                raise DiscordSendError(f"could not look up Discord channel {channel}: "
                                       f"{exc}") from exc
            guild = str(data.get("guild_id") or DM)
        return conversation_id(guild, channel)

    def working(self, *, conversation_id: str, message_id: str, active: bool) -> None:
        """Keep "is typing…" on in the conversation while the turn runs (best effort)."""
        try:
            if active:
                self._start_typing(parse_conversation_id(conversation_id).target, message_id)
            else:
                self._stop_typing(message_id)
        except Exception:  # best effort by contract: never cost the reply
            log.warning("could not %s the typing indicator in %s",
                        "show" if active else "clear", conversation_id, exc_info=True)

    # --- sending -----------------------------------------------------------------------

    def _send(self, channel: str, text: str, *, scope: str,
              reference: dict[str, Any] | None) -> None:
        parts = split(text, self._max_chars) or ["…"]
        digest = hashlib.sha256(f"{scope}\n{channel}\n{text}".encode()).hexdigest()
        marks = [f"{PREFIX}:discord:part:{digest[:32]}:{i}" for i in range(len(parts))]
        for i, (part, mark) in enumerate(zip(parts, marks, strict=True)):
            if len(parts) > 1 and self._redis.exists(mark):
                continue  # sent by an earlier attempt of this reply
            payload: dict[str, Any] = {
                "content": part,
                "allowed_mentions": ALLOWED_MENTIONS,
                # Discord's limit on a nonce is 25 characters.
                "nonce": hashlib.sha256(f"{digest}:{i}".encode()).hexdigest()[:25],
                "enforce_nonce": True,
            }
            if reference is not None and i == 0:
                payload["message_reference"] = reference
            self._post_message(channel, payload)
            if len(parts) > 1:
                self._redis.set(mark, "1", ex=_PART_TTL_S)
        if len(parts) > 1:
            self._redis.delete(*marks)

    def _post_message(self, channel: str, payload: dict[str, Any]) -> None:
        route = Route("POST", "/channels/{channel_id}/messages", channel_id=channel)
        self._request(route, payload, what=f"a message to channel {channel}")

    def _request(self, route: Route, payload: dict[str, Any], *, what: str) -> Any:
        """One REST call; a refusal or failure is a DiscordSendError naming `what`."""
        try:
            return self.rest.call(lambda http: http.request(route, json=payload))
        except discord.HTTPException as exc:
            raise DiscordSendError(f"Discord refused {what}: {exc.status} {exc.text}") from exc
        except discord.RateLimited as exc:
            raise DiscordSendError(
                f"Discord rate limited {what} for {exc.retry_after:.0f} s, longer "
                f"than the {MAX_RATELIMIT_WAIT_S:.0f} s a call waits") from exc
        except discord.DiscordException as exc:
            raise DiscordSendError(f"could not complete {what}: {exc}") from exc
        except OSError as exc:
            raise DiscordSendError(
                f"could not reach Discord at {self.rest.api_base} ({exc!r})") from exc

    def _latest_user_message(self, conversation_id: str) -> str:
        for turn in reversed(self._conversations.turns(conversation_id, last=20)):
            if turn.role == "user" and turn.message_id:
                return turn.message_id
        return ""

    def _channel_for(self, target: str) -> str:
        channel = _CHANNEL.match(target)
        if channel:
            return channel[1]
        user = _USER.match(target)
        if not user:
            raise DiscordSendError(
                f"'{target}' is not a Discord channel or user id (Discord channels are "
                "given by id, e.g. 123456789012345678 or <#123456789012345678>)")
        return self._dm_channel(user[1])

    def _dm_channel(self, user_id: str) -> str:
        """The DM channel with a user: from the cache, else POST /users/@me/channels."""
        cached = self._redis.get(dm_key(user_id))
        if cached:
            return str(cached.decode() if isinstance(cached, bytes) else cached)
        data = self._request(Route("POST", "/users/@me/channels"),
                             {"recipient_id": user_id}, what=f"opening a DM with user {user_id}")
        dm_channel = str(data.get("id") or "") if isinstance(data, dict) else ""
        if not (dm_channel.isascii() and dm_channel.isdigit()):
            raise DiscordSendError(f"Discord opened no DM channel with user {user_id}")
        self._redis.set(dm_key(user_id), dm_channel, ex=DM_TTL_S)
        log.info("opened the Discord DM %s with user %s", dm_channel, user_id)
        return dm_channel

    # --- typing ------------------------------------------------------------------------

    def _start_typing(self, channel: str, message_id: str) -> None:
        every, at_most = self._typing_every_s, self._typing_at_most_s

        async def keep_typing(http: HTTPClient) -> None:
            loop = asyncio.get_running_loop()
            until = loop.time() + at_most
            while loop.time() < until:
                try:
                    await http.request(Route("POST", "/channels/{channel_id}/typing",
                                             channel_id=channel))
                except (discord.DiscordException, OSError) as exc:
                    log.info("no typing indicator in channel %s (%s)", channel, exc)
                    return
                await asyncio.sleep(every)

        future = self.rest.submit(keep_typing)
        with self._typing_lock:
            previous = self._typing.pop(message_id, None)
            self._typing[message_id] = future
        if previous is not None:
            previous.cancel()

    def _stop_typing(self, message_id: str) -> None:
        with self._typing_lock:
            future = self._typing.pop(message_id, None)
        if future is not None:
            future.cancel()
