"""Discord message data → `IncomingMessage`, and the ids derived from it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.discord.normalize import (
    DiscordConversation,
    conversation_id,
    conversation_of,
    looks_stripped,
    mentions,
    parse_conversation_id,
    person_message,
    replies_to,
    snowflake_time,
    thread_owner,
    to_incoming,
)

BOT = "100000000000000001"
BOT_ROLE = "100000000000000009"
GUILD = "200000000000000001"
CHANNEL = "300000000000000001"
THREAD = "300000000000000777"
USER = "400000000000000001"
# A snowflake made 2024-01-01T00:00:00Z.
MESSAGE = str((1_704_067_200_000 - 1_420_070_400_000) << 22)


def user(id: str = USER, **extra: Any) -> dict[str, Any]:
    return {"id": id, "username": "ana", "global_name": "Ana", "bot": False, "system": False,
            **extra}


def data(content: str | None = "hello", **overrides: Any) -> dict[str, Any]:
    """A guild message as `message_data` makes it."""
    out: dict[str, Any] = {
        "id": MESSAGE, "channel_id": CHANNEL, "guild_id": GUILD, "author": user(),
        "content": content, "timestamp": "2024-01-01T00:00:00+00:00",
        "edited_timestamp": None, "type": 0, "flags": 0, "webhook_id": None,
        "mentions": [], "mention_roles": [], "mention_everyone": False, "attachments": [],
        "embeds": [], "sticker_items": [], "message_reference": None,
        "referenced_message": None,
        "channel": {"id": CHANNEL, "type": 0, "parent_id": None, "owner_id": None},
    }
    out.update(overrides)
    return out


def dm(content: str = "hi", **overrides: Any) -> dict[str, Any]:
    return data(content, guild_id=None, channel_id="500000000000000001",
                channel={"id": "500000000000000001", "type": 1, "parent_id": None,
                         "owner_id": None}, **overrides)


def in_thread(content: str = "and then?", *, owner: str = USER, **overrides: Any) -> dict[str, Any]:
    return data(content, channel_id=THREAD,
                channel={"id": THREAD, "type": 11, "parent_id": CHANNEL, "owner_id": owner},
                **overrides)


def test_a_mention_in_a_guild_channel() -> None:
    message = to_incoming(data(f"<@{BOT}> I need   help", mentions=[user(BOT, bot=True)]),
                          bot_user_id=BOT)

    assert message is not None
    assert message.conversation_id == f"discord:{GUILD}:{CHANNEL}:"
    assert (message.workspace, message.channel, message.thread) == (GUILD, CHANNEL, "")
    assert (message.user, message.user_name, message.message_id) == (USER, "Ana", MESSAGE)
    assert message.text == "I need help"
    assert message.mentions_bot and not message.is_dm
    assert message.ts == datetime(2024, 1, 1, tzinfo=UTC)
    assert message.raw["content"] == f"<@{BOT}> I need   help"
    assert message.contact_id == f"discord:{GUILD}:{USER}"


def test_a_dm_is_in_the_dm_workspace() -> None:
    message = to_incoming(dm("hi there"), bot_user_id=BOT, user_name="Ana B")

    assert message is not None and message.is_dm and not message.mentions_bot
    assert message.conversation_id == "discord:dm:500000000000000001:"
    assert message.user_name == "Ana B"


def test_a_thread_message_belongs_to_the_thread_under_its_parent_channel() -> None:
    message = to_incoming(in_thread(), bot_user_id=BOT)

    assert message is not None
    assert message.conversation_id == f"discord:{GUILD}:{CHANNEL}:{THREAD}"
    assert conversation_of(in_thread()).target == THREAD
    assert thread_owner(in_thread(owner=BOT)) == BOT
    assert thread_owner(data()) is None


@pytest.mark.parametrize(("payload", "why"), [
    (data(author=user(bot=True)), "another bot"),
    (data(author=user(BOT, bot=True)), "the bot itself"),
    (data(author=user(BOT)), "the bot's own id"),
    (data(author=user(system=True)), "Discord's system user"),
    (data(webhook_id="600000000000000001"), "a webhook"),
    (data(type=7, content=""), "a member joined"),
    (data(type=6), "a pin"),
    (data(type=18), "thread created"),
    (data(type=20), "a slash command's echo"),
    (data(edited_timestamp="2024-01-01T00:01:00+00:00"), "an edit"),
    (data(id="not-a-snowflake"), "a malformed id"),
    (data(author="ana"), "a malformed author"),
    (data(content=None), "no content field"),
    (data(guild_id="guild"), "a malformed guild"),
])
def test_what_is_not_a_persons_new_message_is_refused(payload: dict[str, Any], why: str) -> None:
    assert not person_message(payload, bot_user_id=BOT), why
    assert to_incoming(payload, bot_user_id=BOT) is None, why


def test_replies_are_persons_messages_and_replies_to_the_bot_are_recognized() -> None:
    reply = data("thanks", type=19,
                 message_reference={"message_id": "1", "channel_id": CHANNEL, "guild_id": GUILD},
                 referenced_message={"id": "1", "author": user(BOT, bot=True)})
    assert person_message(reply, bot_user_id=BOT) and replies_to(reply, BOT)
    other = dict(reply, referenced_message={"id": "1", "author": user("7")})
    assert not replies_to(other, BOT) and not replies_to(data(), BOT)


def test_mentions_by_list_by_text_or_by_the_bots_role() -> None:
    assert mentions(data(mentions=[user(BOT)]), BOT)
    assert mentions(data(f"hey <@!{BOT}>"), BOT)
    assert mentions(data(f"<@&{BOT_ROLE}> hi", mention_roles=[BOT_ROLE]), BOT, BOT_ROLE)
    assert not mentions(data(f"<@&{BOT_ROLE}> hi", mention_roles=[BOT_ROLE]), BOT)
    assert not mentions(data("<@4000> hi"), BOT)


def test_text_drops_the_bots_mentions_and_names_attachments_and_stickers() -> None:
    payload = data(f"<@&{BOT_ROLE}> <@{BOT}> see <@{USER}> in <#{CHANNEL}>",
                   mention_roles=[BOT_ROLE],
                   attachments=[{"id": "1", "filename": "plan.pdf",
                                 "url": "https://cdn.example/plan.pdf"}],
                   sticker_items=[{"id": "2", "name": "wave"}])
    message = to_incoming(payload, bot_user_id=BOT, bot_role_id=BOT_ROLE)
    assert message is not None
    assert message.text == (f"see <@{USER}> in <#{CHANNEL}>\n"
                            "[attachment: plan.pdf https://cdn.example/plan.pdf]\n[sticker: wave]")


def test_stripped_content_is_recognized() -> None:
    assert looks_stripped(data(""))
    assert not looks_stripped(data("hi"))
    assert not looks_stripped(dm(""))
    assert not looks_stripped(data("", attachments=[{"id": "1", "filename": "a.png"}]))
    assert not looks_stripped(data("", sticker_items=[{"id": "2", "name": "wave"}]))


def test_conversation_ids_round_trip_and_bad_ones_are_refused() -> None:
    assert parse_conversation_id(conversation_id(GUILD, CHANNEL, THREAD)) == \
        DiscordConversation(GUILD, CHANNEL, THREAD)
    assert parse_conversation_id("discord:dm:500:") == DiscordConversation("dm", "500", "")
    for bad in ("slack:T1:C1:", "discord:dm::", "discord:g:c", "discord:g:#general:",
                "discord:g:1:x"):
        with pytest.raises(ValueError, match="not a Discord conversation id"):
            parse_conversation_id(bad)


def test_snowflake_time() -> None:
    assert snowflake_time(MESSAGE) == datetime(2024, 1, 1, tzinfo=UTC)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
_snowflake = st.integers(min_value=1, max_value=2**63).map(str)


_keys = st.sampled_from(list(data()))


@given(st.sampled_from([data(), dm(), in_thread()]), st.dictionaries(_keys, _json, max_size=6),
       st.sets(_keys, max_size=4))
def test_any_payload_normalizes_or_is_refused_without_raising(
        base: dict[str, Any], changed: dict[str, Any], dropped: set[str]) -> None:
    payload = {k: v for k, v in (base | changed).items() if k not in dropped}
    message = to_incoming(payload, bot_user_id=BOT, bot_role_id=BOT_ROLE)
    assert message is None or message.platform == "discord"
    looks_stripped(payload)


@given(_snowflake, _snowflake, _snowflake, st.none() | _snowflake, st.text(max_size=300),
       st.sampled_from([0, 19]), st.sampled_from([0, 5, 11, 12]))
def test_every_persons_message_normalizes_to_a_parsable_conversation(
        id: str, channel: str, author: str, guild: str | None, content: str, kind: int,
        channel_type: int) -> None:
    payload = data(content, id=id, channel_id=channel, guild_id=guild, type=kind,
                   author=user(author),
                   channel={"id": channel, "type": channel_type, "parent_id": CHANNEL,
                            "owner_id": author})
    message = to_incoming(payload, bot_user_id=BOT)
    if author == BOT:
        assert message is None
        return
    assert message is not None and message.message_id == id
    parsed = parse_conversation_id(message.conversation_id)
    assert parsed.target == channel
    assert message.is_dm == (guild is None)
