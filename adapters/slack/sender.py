"""Outbound Slack: the `Sender` port, usable in any process from settings and Redis.

    sender = SlackSender.from_settings(settings, redis_client)   # no bolt App needed

- `reply` posts in the conversation's thread (top-level DMs: in the DM),
  Markdown converted to mrkdwn and split into messages of at most
  `mrkdwn.MAX_CHARS`, sent in order.
- Pace: about one message per second per channel, shared by every process
  through Redis (`cj:slack:pace:{channel}` holds the next free send time, taken
  atomically in Lua on Redis's clock); a sender sleeps until its slot. Slack's
  own 429s are retried per Retry-After by slack_sdk's `RateLimitErrorRetryHandler`.
- A reply split in parts that fails midway resumes after the parts already
  sent when it is retried (`cj:slack:part:…` marks, cleared once all are sent).
- Threads the bot takes part in are recorded (`cj:slack:thread:…`, 30 days),
  so people can go on talking in them without an @mention.
- `direct` opens the DM with a user (conversations.open) and returns its
  conversation id, the one an inbound top-level DM from that user gets
  (`slack:{team}:{D…}:`); the DM channel is cached (`cj:slack:dm:{team}:{user}`,
  30 days: a user's DM channel with the app does not change).
- `working` shows the assistant thread status ("is thinking…") where Slack
  allows it, else an :eyes: reaction on the message; it never raises, and a
  429 on it is not retried (reactions are rate-limited per workspace: waiting
  them out would hold the reply).
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable

import redis
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
)

from adapters.slack import mrkdwn
from adapters.slack.normalize import (
    conversation_id,
    parse_conversation_id,
    split_message_id,
)
from config.errors import ChatjobsError, ConfigError
from config.settings import Settings
from jobs_store.keys import PREFIX

log = logging.getLogger(__name__)

#: Seconds between two messages to one channel (Slack allows about one per second).
CHANNEL_GAP_S = 1.0
#: How many times one call is retried after a 429, each after Slack's Retry-After: a
#: rate limit that lasts a while delays the reply rather than dropping it.
RATE_LIMIT_RETRIES = 20
THREAD_TTL_S = 30 * 86_400
DM_TTL_S = 30 * 86_400
_PART_TTL_S = 86_400
_WORKING_TTL_S = 3_600
STATUS_TEXT = "is thinking…"
REACTION = "eyes"
#: assistant.threads.setStatus errors meaning "not for this app": stop trying it.
_NO_STATUS = frozenset({
    "unknown_method", "not_allowed", "not_allowed_token_type", "missing_scope",
    "method_deprecated", "feature_not_enabled", "invalid_auth", "no_permission",
})

#: A Slack team or user id (one: a comma would make conversations.open a group DM).
_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")

# Take the channel's next send slot on Redis's clock: returns milliseconds to wait.
_TAKE_SLOT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local gap = tonumber(ARGV[1])
local free = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = math.max(now, free)
redis.call('SET', KEYS[1], string.format('%d', slot + gap), 'PX', slot + gap - now + 1000)
return slot - now
"""


class SlackSendError(ChatjobsError):
    """Slack refused a message or a DM, or could not be reached; the text says which."""


def web_client(settings: Settings) -> WebClient:
    """The Web API client for `SLACK_API_URL` with the bot token, retrying 429s."""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    base_url = str(settings.slack_api_url)
    return WebClient(
        token=token,
        base_url=base_url if base_url.endswith("/") else base_url + "/",
        retry_handlers=[ConnectionErrorRetryHandler(),
                        RateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES)],
    )


def without_rate_limit_waits(client: WebClient) -> WebClient:
    """`client`'s token and API, but a 429 fails at once instead of being waited out.

    For calls that have a fallback and sit on a path that must stay fast: the
    working state before the model is asked, users.info while Slack waits for its
    ack (3 s). Reactions and users.info are rate-limited per workspace, and the
    retrying client would sleep Retry-After, up to `RATE_LIMIT_RETRIES` times.
    """
    return WebClient(token=client.token, base_url=client.base_url, timeout=client.timeout,
                     headers=client.headers, retry_handlers=[ConnectionErrorRetryHandler()])


def thread_key(team: str, channel: str, thread_ts: str) -> str:
    """Set while the bot takes part in a thread."""
    return f"{PREFIX}:slack:thread:{team}:{channel}:{thread_ts}"


def dm_key(team: str, user: str) -> str:
    """The DM channel id of a user in a team."""
    return f"{PREFIX}:slack:dm:{team}:{user}"


def pace_key(channel: str) -> str:
    """The channel's next free send time (epoch ms, Redis clock)."""
    return f"{PREFIX}:slack:pace:{channel}"


class BotThreads:
    """The threads the bot takes part in (it replied or was mentioned there)."""

    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    def join(self, team: str, channel: str, thread_ts: str) -> None:
        """Record (or refresh, for 30 more days) that the bot is in the thread."""
        if thread_ts:
            self._redis.set(thread_key(team, channel, thread_ts), "1", ex=THREAD_TTL_S)

    def takes_part(self, team: str, channel: str, thread_ts: str) -> bool:
        """Whether the bot is in the thread."""
        return bool(thread_ts) and bool(self._redis.exists(thread_key(team, channel, thread_ts)))


class SlackSender:
    """The `Sender` port for Slack: replies, posts and the working state."""

    platform = "slack"

    def __init__(self, client: WebClient, redis: redis.Redis, *, gap_s: float = CHANNEL_GAP_S,
                 max_chars: int = mrkdwn.MAX_CHARS,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._web = client
        # The working state is best effort: a 429 on it is not waited out.
        self._best_effort = without_rate_limit_waits(client)
        self._redis = redis
        self._gap_ms = int(gap_s * 1000)
        self._max_chars = max_chars
        self._sleep = sleep
        self._take_slot = redis.register_script(_TAKE_SLOT)
        #: False once Slack said assistant thread status is not for this app.
        self._status_ok = True
        self.threads = BotThreads(redis)

    @classmethod
    def from_settings(cls, settings: Settings, redis: redis.Redis) -> SlackSender:
        """A sender for a worker process: the Web API client from the settings."""
        if settings.slack_bot_token is None:
            raise ConfigError("SLACK_BOT_TOKEN: required to send to Slack")
        return cls(web_client(settings), redis)

    def reply(self, *, conversation_id: str, text: str) -> None:
        """Post in the conversation: in its thread, or top level when it has none."""
        team, channel, thread = parse_conversation_id(conversation_id)
        self.threads.join(team, channel, thread)
        self._send(channel, text, thread_ts=thread or None, scope=conversation_id)

    def post(self, *, channel: str, text: str) -> None:
        """Post top level in a channel (an id, or a public channel's name)."""
        self._send(channel, text, thread_ts=None, scope=channel)

    def direct(self, *, workspace: str, user: str) -> str:
        """The conversation id of the DM with `user` in team `workspace`, opened if needed.

        It is the id an inbound top-level DM from the user normalizes to, so a
        reply to it lands in the DM and the user's answers come back to it.
        """
        if not _ID.match(workspace) or not _ID.match(user):
            raise SlackSendError(
                f"a Slack DM needs a team id and one user id (got team {workspace!r}, "
                f"user {user!r})")
        return conversation_id(workspace, self._dm_channel(workspace, user))

    def channel(self, *, workspace: str, channel: str) -> str:
        """The conversation id of the top level of `channel` in team `workspace`."""
        if not _ID.match(workspace) or not _ID.match(channel):
            raise SlackSendError(f"a Slack channel needs a team id and a channel id (got team "
                                 f"{workspace!r}, channel {channel!r})")
        return conversation_id(workspace, channel)

    def working(self, *, conversation_id: str, message_id: str, active: bool) -> None:
        """Show or clear "is thinking…" (thread status) or :eyes: on the message."""
        try:
            self._working(conversation_id, message_id, active)
        except Exception:  # best effort by contract: never cost the reply
            log.warning("could not %s the working state on %s in %s",
                        "show" if active else "clear", message_id, conversation_id,
                        exc_info=True)

    # --- sending -------------------------------------------------------------

    def _dm_channel(self, team: str, user: str) -> str:
        """The DM channel with `user`: from the cache, else conversations.open."""
        key = dm_key(team, user)
        cached = self._redis.get(key)
        if cached:
            return cached.decode() if isinstance(cached, bytes) else str(cached)
        try:
            response = self._web.conversations_open(users=user)
        except SlackApiError as exc:
            raise SlackSendError(
                f"Slack refused to open a DM with user {user}: {exc.response.get('error')}"
            ) from exc
        except (SlackClientError, OSError) as exc:
            raise SlackSendError(
                f"could not reach Slack to open a DM with user {user} ({exc!r})") from exc
        channel = response.get("channel")
        channel_id = channel.get("id") if isinstance(channel, dict) else None
        if not isinstance(channel_id, str) or not channel_id:
            raise SlackSendError(f"Slack opened no DM channel with user {user}")
        self._redis.set(key, channel_id, ex=DM_TTL_S)
        log.info("opened the Slack DM %s with user %s in %s", channel_id, user, team)
        return channel_id

    def _send(self, channel: str, text: str, *, thread_ts: str | None, scope: str) -> None:
        parts = mrkdwn.split(mrkdwn.to_mrkdwn(text), self._max_chars) or ["…"]
        digest = hashlib.sha256(f"{scope}\n{thread_ts}\n{text}".encode()).hexdigest()[:32]
        marks = [f"{PREFIX}:slack:part:{digest}:{i}" for i in range(len(parts))]
        for part, mark in zip(parts, marks, strict=True):
            if len(parts) > 1 and self._redis.exists(mark):
                continue  # sent by an earlier attempt of this reply
            self._pace(channel)
            try:
                self._web.chat_postMessage(channel=channel, text=part, thread_ts=thread_ts,
                                           mrkdwn=True)
            except SlackApiError as exc:
                raise SlackSendError(
                    f"Slack refused a message to {channel}: {exc.response.get('error')}"
                ) from exc
            if len(parts) > 1:
                self._redis.set(mark, "1", ex=_PART_TTL_S)
        if len(parts) > 1:
            self._redis.delete(*marks)

    def _pace(self, channel: str) -> None:
        wait_ms = int(self._take_slot(keys=[pace_key(channel)], args=[self._gap_ms]))
        if wait_ms > 0:
            self._sleep(wait_ms / 1000)

    # --- working state -------------------------------------------------------

    def _working(self, conversation_id: str, message_id: str, active: bool) -> None:
        _, channel, thread = parse_conversation_id(conversation_id)
        message_channel, ts = split_message_id(message_id)
        shown = f"{PREFIX}:slack:working:{message_id}"
        if active:
            if self._status_ok and thread and self._set_status(channel, thread, STATUS_TEXT):
                self._redis.set(shown, "status", ex=_WORKING_TTL_S)
                return
            self._react(self._best_effort.reactions_add, message_channel, ts, "already_reacted")
            self._redis.set(shown, "reaction", ex=_WORKING_TTL_S)
            return
        how = self._redis.get(shown)
        how = how.decode() if isinstance(how, bytes) else how
        self._redis.delete(shown)
        if how == "status":
            self._set_status(channel, thread, "")
        elif how == "reaction":
            self._react(self._best_effort.reactions_remove, message_channel, ts, "no_reaction")

    def _set_status(self, channel: str, thread_ts: str, status: str) -> bool:
        """assistant.threads.setStatus; False (and remembered) when not for this app."""
        try:
            self._best_effort.assistant_threads_setStatus(channel_id=channel,
                                                          thread_ts=thread_ts, status=status)
        except SlackApiError as exc:
            error = str(exc.response.get("error", ""))
            if error in _NO_STATUS or exc.response.status_code == 404:
                log.info("assistant thread status unavailable (%s); using reactions", error)
                self._status_ok = False
            else:
                log.info("no thread status in %s (%s); using a reaction", channel, error)
            return False
        except SlackClientError:
            return False
        return True

    def _react(self, call: Callable[..., object], channel: str, ts: str, harmless: str) -> None:
        try:
            call(channel=channel, timestamp=ts, name=REACTION)
        except SlackApiError as exc:
            if exc.response.get("error") != harmless:
                raise
