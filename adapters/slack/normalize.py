"""Slack events → `IncomingMessage`, and the ids derived from them.

- message id = `{channel}:{ts}`: the same for every delivery of one message
  (Slack's retries, and the `app_mention` + `message.channels` pair an
  @mention in a channel produces), so ingress keeps exactly one.
- conversation = `slack:{team}:{channel}:{thread}`, where thread is
  the `thread_ts` of a message in a thread; for a top-level @mention in a
  channel the reply opens a thread under the message, so thread = its `ts`;
  top-level DMs (and other top-level messages) are not threaded: thread "".

Anything that is not a person's message (bots, edits, deletions, joins and
other subtypes, malformed payloads) normalizes to None.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple

from bot.models import IncomingMessage

#: Message subtypes that are still a person writing to us: a thread reply also
#: sent to the channel, and a message with files (its text is what they wrote).
USER_SUBTYPES = frozenset({"thread_broadcast", "file_share"})

_TS = re.compile(r"^\d{1,10}\.\d{1,9}$")  # seconds: 10 digits reach the year 2286
_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


class SlackConversation(NamedTuple):
    """The parts of a Slack conversation id."""

    team: str
    channel: str
    thread: str


def message_id(channel: str, ts: str) -> str:
    """A message's id, stable across deliveries: `{channel}:{ts}`."""
    return f"{channel}:{ts}"


def conversation_id(team: str, channel: str, thread: str = "") -> str:
    """`slack:{team}:{channel}:{thread}`."""
    return f"slack:{team}:{channel}:{thread}"


def parse_conversation_id(value: str) -> SlackConversation:
    """The team, channel and thread of `slack:T:C:thread`; ValueError if it is not one."""
    parts = value.split(":")
    if len(parts) != 4 or parts[0] != "slack" or not parts[1] or not parts[2]:
        raise ValueError(f"not a Slack conversation id: {value!r}")
    return SlackConversation(parts[1], parts[2], parts[3])


def split_message_id(value: str) -> tuple[str, str]:
    """The channel and ts of a message id; ValueError if it is not one."""
    channel, sep, ts = value.rpartition(":")
    if not sep or not channel or not _TS.match(ts):
        raise ValueError(f"not a Slack message id: {value!r}")
    return channel, ts


def is_dm(event: Mapping[str, Any]) -> bool:
    """A one-to-one DM with the bot (`channel_type` im; DM channel ids start with D)."""
    channel_type = event.get("channel_type")
    if channel_type is not None:
        return channel_type == "im"
    return str(event.get("channel", "")).startswith("D")


def mentions(event: Mapping[str, Any], bot_user_id: str | None) -> bool:
    """Whether the message's text @mentions the bot."""
    text = event.get("text")
    return bool(bot_user_id) and isinstance(text, str) and f"<@{bot_user_id}>" in text


def person_message(event: Mapping[str, Any], *, bot_user_id: str | None) -> bool:
    """A message a person wrote (not a bot, edit, deletion, join or other subtype)."""
    if not isinstance(event, Mapping) or event.get("type") not in ("message", "app_mention"):
        return False
    subtype = event.get("subtype")
    if subtype is not None and not (isinstance(subtype, str) and subtype in USER_SUBTYPES):
        return False
    if event.get("bot_id") or event.get("bot_profile"):
        return False
    user, channel, ts = event.get("user"), event.get("channel"), event.get("ts")
    if not all(isinstance(v, str) and _ID.match(v) for v in (user, channel)):
        return False
    if not isinstance(ts, str) or not _TS.match(ts):
        return False
    thread_ts = event.get("thread_ts")
    if thread_ts is not None and not (isinstance(thread_ts, str) and _TS.match(thread_ts)):
        return False
    return user != bot_user_id and isinstance(event.get("text", ""), str)


def thread_of(event: Mapping[str, Any], *, bot_user_id: str | None) -> str:
    """The conversation thread of a person's message (see the module docstring)."""
    thread_ts = event.get("thread_ts")
    if thread_ts:
        return str(thread_ts)
    if is_dm(event):
        return ""
    if event.get("type") == "app_mention" or mentions(event, bot_user_id):
        return str(event["ts"])
    return ""


def to_incoming(event: Mapping[str, Any], *, team: str, bot_user_id: str | None,
                user_name: str = "") -> IncomingMessage | None:
    """The event as an `IncomingMessage`, or None when it is not a person's message."""
    if not team or not person_message(event, bot_user_id=bot_user_id):
        return None
    channel, ts = str(event["channel"]), str(event["ts"])
    return IncomingMessage(
        platform="slack",
        workspace=team,
        channel=channel,
        thread=thread_of(event, bot_user_id=bot_user_id),
        user=str(event["user"]),
        user_name=user_name,
        text=plain_text(str(event.get("text") or ""), bot_user_id=bot_user_id),
        message_id=message_id(channel, ts),
        ts=datetime.fromtimestamp(float(ts), UTC),
        mentions_bot=event.get("type") == "app_mention" or mentions(event, bot_user_id),
        is_dm=is_dm(event),
        raw=dict(event),
    )


def plain_text(text: str, *, bot_user_id: str | None) -> str:
    """What the person wrote: the bot's own @mention removed, Slack's &amp; &lt; &gt; undone.

    Other mentions, channel links and URLs stay in Slack's `<…>` form.
    """
    if bot_user_id:
        text = re.sub(rf"<@{re.escape(bot_user_id)}(\|[^>]*)?>", "", text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return re.sub(r"[ \t]{2,}", " ", text).strip()


def team_of(body: Mapping[str, Any], event: Mapping[str, Any]) -> str:
    """The workspace the app is installed in (the envelope's `team_id`)."""
    team = body.get("team_id") or event.get("team") or ""
    return str(team) if _ID.match(str(team)) else ""

