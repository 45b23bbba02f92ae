"""Discord messages → `IncomingMessage`, and the ids derived from them.

Two steps, so the decisions are plain functions of JSON-able data:

1. `message_data(message)` (on the gateway loop) turns a `discord.Message`
   into the dict Discord's API would give for it (snowflakes as strings),
   plus one key of ours, `channel`: `{"id", "type", "parent_id", "owner_id"}`
   of the channel it was posted in, since the gateway's message payload does
   not say whether that is a thread. This dict is what `raw` keeps.
2. `to_incoming(data, bot_user_id=…)` and the predicates below work on that dict.

Ids:

- message id = the message's snowflake: Discord's ids are unique across
  channels, and the same in every delivery of one message (a gateway resume
  replays events), so ingress keeps exactly one;
- conversation = `discord:{workspace}:{channel}:{thread}`: workspace is the
  guild id, or "dm" for direct messages; in a thread, channel is the thread's
  parent channel and thread the thread's own channel id; elsewhere thread is
  empty, so a guild channel is one conversation (the bot answers a mention
  there as a reply to the message, not by opening a thread).

Anything that is not a person's new message (bots, the bot itself, webhooks,
system messages such as joins, pins or thread creations, edits, malformed
payloads) normalizes to None.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple

import discord

from bot.models import IncomingMessage

#: Message types a person writes: DEFAULT and REPLY. Everything else
#: (joins, pins, boosts, thread created, slash-command echoes, …) is a system message.
PERSON_TYPES = frozenset({0, 19})
#: Channel types of threads: announcement, public and private threads (forum posts too).
THREAD_TYPES = frozenset({10, 11, 12})
#: The workspace of direct messages.
DM = "dm"

_SNOWFLAKE = re.compile(r"^[0-9]{1,20}$")
_DISCORD_EPOCH_MS = 1_420_070_400_000


class DiscordConversation(NamedTuple):
    """The parts of a Discord conversation id."""

    workspace: str
    channel: str
    thread: str

    @property
    def target(self) -> str:
        """The channel to post in: the thread when there is one."""
        return self.thread or self.channel


def conversation_id(workspace: str, channel: str, thread: str = "") -> str:
    """`discord:{workspace}:{channel}:{thread}`."""
    return f"discord:{workspace}:{channel}:{thread}"


def parse_conversation_id(value: str) -> DiscordConversation:
    """The workspace, channel and thread of `discord:W:C:T`; ValueError if it is not one."""
    parts = value.split(":")
    if (len(parts) != 4 or parts[0] != "discord" or not parts[1]
            or not _SNOWFLAKE.match(parts[2]) or (parts[3] and not _SNOWFLAKE.match(parts[3]))):
        raise ValueError(f"not a Discord conversation id: {value!r}")
    return DiscordConversation(parts[1], parts[2], parts[3])


def snowflake_time(snowflake: str) -> datetime:
    """When a snowflake id was made (a message id is made when it is posted)."""
    return datetime.fromtimestamp(((int(snowflake) >> 22) + _DISCORD_EPOCH_MS) / 1000, UTC)


# --- discord.py objects → data ---------------------------------------------------------


def message_data(message: discord.Message) -> dict[str, Any]:
    """The message as JSON-able data in Discord's shape, plus `channel` (see the docstring)."""
    channel = message.channel
    reference = message.reference
    referenced = reference.resolved if reference is not None else None
    if referenced is None and reference is not None:
        referenced = reference.cached_message
    return {
        "id": str(message.id),
        "channel_id": str(channel.id),
        "guild_id": _optional_id(message.guild.id if message.guild is not None
                                 # a guild not cached yet: the channel still knows it
                                 else getattr(channel, "guild_id", None)),
        "author": _user_data(message.author),
        "content": message.content,
        "timestamp": message.created_at.isoformat(),
        "edited_timestamp": message.edited_at.isoformat() if message.edited_at else None,
        "type": message.type.value,
        "flags": message.flags.value,
        "webhook_id": str(message.webhook_id) if message.webhook_id else None,
        "mentions": [_user_data(user) for user in message.mentions],
        "mention_roles": [str(role) for role in message.raw_role_mentions],
        "mention_everyone": message.mention_everyone,
        "attachments": [
            {"id": str(a.id), "filename": a.filename, "url": a.url,
             "content_type": a.content_type, "size": a.size}
            for a in message.attachments
        ],
        "embeds": [embed.to_dict() for embed in message.embeds],
        "sticker_items": [{"id": str(s.id), "name": s.name} for s in message.stickers],
        "message_reference": None if reference is None else {
            "message_id": str(reference.message_id) if reference.message_id else None,
            "channel_id": str(reference.channel_id),
            "guild_id": str(reference.guild_id) if reference.guild_id else None,
        },
        "referenced_message": (
            {"id": str(referenced.id), "author": _user_data(referenced.author)}
            if isinstance(referenced, discord.Message) else None
        ),
        "channel": {
            "id": str(channel.id),
            "type": _channel_type(channel),
            "parent_id": _optional_id(getattr(channel, "parent_id", None)),
            "owner_id": _optional_id(getattr(channel, "owner_id", None)),
        },
    }


def _user_data(user: discord.abc.User) -> dict[str, Any]:
    return {"id": str(user.id), "username": user.name, "global_name": user.global_name,
            "bot": user.bot, "system": user.system}


def _channel_type(channel: object) -> int | None:
    kind = getattr(channel, "type", None)
    return kind.value if isinstance(kind, discord.ChannelType) else None


def _optional_id(value: object) -> str | None:
    return str(value) if isinstance(value, int) else None


# --- decisions on data ------------------------------------------------------------------


def person_message(data: Mapping[str, Any], *, bot_user_id: str) -> bool:
    """A new message a person wrote (not a bot, webhook, system message or edit)."""
    if not isinstance(data, Mapping):
        return False
    author = data.get("author")
    if not isinstance(author, Mapping) or author.get("bot") or author.get("system"):
        return False
    if data.get("webhook_id") or data.get("edited_timestamp"):
        return False
    if not _is_one_of(data.get("type"), PERSON_TYPES) or not isinstance(data.get("content"), str):
        return False
    ids = (data.get("id"), data.get("channel_id"), author.get("id"))
    if not all(isinstance(v, str) and _SNOWFLAKE.match(v) for v in ids):
        return False
    guild = data.get("guild_id")
    if guild is not None and not (isinstance(guild, str) and _SNOWFLAKE.match(guild)):
        return False
    return author.get("id") != bot_user_id


def _is_one_of(value: object, kinds: frozenset[int]) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value in kinds


def is_dm(data: Mapping[str, Any]) -> bool:
    """A direct message: no guild."""
    return not data.get("guild_id")


def thread_parent(data: Mapping[str, Any]) -> str | None:
    """The parent channel of a message posted in a thread, else None."""
    channel = data.get("channel")
    if not isinstance(channel, Mapping) or not _is_one_of(channel.get("type"), THREAD_TYPES):
        return None
    parent = channel.get("parent_id")
    return parent if isinstance(parent, str) and _SNOWFLAKE.match(parent) else None


def thread_owner(data: Mapping[str, Any]) -> str | None:
    """Who started the thread the message is in (None outside threads)."""
    channel = data.get("channel")
    if thread_parent(data) is None or not isinstance(channel, Mapping):
        return None
    owner = channel.get("owner_id")
    return owner if isinstance(owner, str) else None


def mentions(data: Mapping[str, Any], bot_user_id: str, bot_role_id: str | None = None) -> bool:
    """Whether the message @mentions the bot (its user, or its integration role)."""
    listed = data.get("mentions")
    if isinstance(listed, list) and any(
            isinstance(u, Mapping) and u.get("id") == bot_user_id for u in listed):
        return True
    content = data.get("content")
    if isinstance(content, str) and re.search(rf"<@!?{re.escape(bot_user_id)}>", content):
        return True
    roles = data.get("mention_roles")
    return bool(bot_role_id) and isinstance(roles, list) and bot_role_id in roles


def replies_to(data: Mapping[str, Any], bot_user_id: str) -> bool:
    """Whether the message is a reply to one of the bot's messages."""
    referenced = data.get("referenced_message")
    if not isinstance(referenced, Mapping):
        return False
    author = referenced.get("author")
    return isinstance(author, Mapping) and author.get("id") == bot_user_id


def conversation_of(data: Mapping[str, Any]) -> DiscordConversation:
    """The conversation of a person's message (see the module docstring)."""
    channel = str(data["channel_id"])
    if is_dm(data):
        return DiscordConversation(DM, channel, "")
    parent = thread_parent(data)
    if parent is not None:
        return DiscordConversation(str(data["guild_id"]), parent, channel)
    return DiscordConversation(str(data["guild_id"]), channel, "")


def to_incoming(data: Mapping[str, Any], *, bot_user_id: str, bot_role_id: str | None = None,
                user_name: str = "") -> IncomingMessage | None:
    """The message as an `IncomingMessage`, or None when it is not a person's message."""
    if not person_message(data, bot_user_id=bot_user_id):
        return None
    workspace, channel, thread = conversation_of(data)
    author = data["author"]
    name = user_name or author.get("global_name") or author.get("username") or ""
    return IncomingMessage(
        platform="discord",
        workspace=workspace,
        channel=channel,
        thread=thread,
        user=str(author["id"]),
        user_name=str(name),
        text=plain_text(data, bot_user_id=bot_user_id, bot_role_id=bot_role_id),
        message_id=str(data["id"]),
        ts=snowflake_time(str(data["id"])),
        mentions_bot=mentions(data, bot_user_id, bot_role_id),
        is_dm=is_dm(data),
        raw=dict(data),
    )


def plain_text(data: Mapping[str, Any], *, bot_user_id: str,
               bot_role_id: str | None = None) -> str:
    """What the person wrote: the bot's own @mention removed, attachments and stickers named.

    Other mentions (`<@123>`, `<#123>`, `<@&123>`) stay in Discord's form, so
    the model can use them in its reply.
    """
    text = str(data.get("content") or "")
    text = re.sub(rf"<@!?{re.escape(bot_user_id)}>", "", text)
    if bot_role_id:
        text = text.replace(f"<@&{bot_role_id}>", "")
    text = re.sub(r"[ \t]{2,}", " ", text).strip()
    extras = []
    for attachment in _list(data.get("attachments")):
        if isinstance(attachment, Mapping):
            extras.append(f"[attachment: {attachment.get('filename', 'file')} "
                          f"{attachment.get('url', '')}]".replace(" ]", "]"))
    for sticker in _list(data.get("sticker_items")):
        if isinstance(sticker, Mapping):
            extras.append(f"[sticker: {sticker.get('name', '')}]")
    return "\n".join([text, *extras]).strip() if extras else text


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def looks_stripped(data: Mapping[str, Any]) -> bool:
    """A guild message with nothing in it: what Discord sends without the Message Content
    intent (attachments, embeds or stickers alone are a real empty text)."""
    return (not is_dm(data) and not data.get("content") and not data.get("attachments")
            and not data.get("embeds") and not data.get("sticker_items"))
