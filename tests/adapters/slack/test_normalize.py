"""Slack events → IncomingMessage: ids, threads, what is ignored; hypothesis for junk."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.slack.normalize import (
    conversation_id,
    message_id,
    parse_conversation_id,
    plain_text,
    split_message_id,
    team_of,
    to_incoming,
)
from tests.fakes.slack_requests import (
    BOT_USER_ID,
    app_mention,
    bot_message,
    channel_join,
    channel_message,
    dm_message,
    event_callback,
    message_changed,
    message_deleted,
    thread_reply,
)


def incoming(event: dict[str, Any]) -> Any:
    return to_incoming(event, team="T1", bot_user_id=BOT_USER_ID)


def test_a_top_level_mention_in_a_channel_opens_a_thread_under_the_message() -> None:
    event = app_mention("can you help?", user="U1", channel="C1")
    message = incoming(event)
    assert message is not None
    assert message.platform == "slack"
    assert (message.workspace, message.channel, message.user) == ("T1", "C1", "U1")
    assert message.thread == event["ts"]
    assert message.conversation_id == f"slack:T1:C1:{event['ts']}"
    assert message.message_id == f"C1:{event['ts']}"
    assert message.mentions_bot is True and message.is_dm is False
    assert message.text == "can you help?"
    assert message.ts == datetime.fromtimestamp(float(event["ts"]), UTC)
    assert message.raw == event


def test_the_mention_and_its_message_event_are_one_message_in_one_conversation() -> None:
    mention = app_mention("hello")
    same = channel_message(mention["text"], ts=mention["ts"])
    one, two = incoming(mention), incoming(same)
    assert one is not None and two is not None
    assert (one.message_id, one.conversation_id) == (two.message_id, two.conversation_id)


def test_a_message_in_a_thread_belongs_to_the_thread() -> None:
    parent = "1600000000.000001"
    for event in (app_mention("in thread", thread_ts=parent),
                  thread_reply("no mention", thread_ts=parent)):
        message = incoming(event)
        assert message is not None
        assert message.thread == parent
        assert message.message_id == f"C1:{event['ts']}"


def test_dms_are_not_threaded_unless_the_dm_message_is_in_a_thread() -> None:
    top = incoming(dm_message("hi", user="U7"))
    assert top is not None
    assert top.is_dm and top.channel == "D7" and top.thread == ""
    assert top.conversation_id == "slack:T1:D7:"
    threaded = incoming(dm_message("more", user="U7", thread_ts="1600000000.000002"))
    assert threaded is not None and threaded.thread == "1600000000.000002"


def test_a_top_level_channel_message_without_a_mention_is_not_threaded() -> None:
    message = incoming(channel_message("just chatting"))
    assert message is not None and message.thread == "" and not message.mentions_bot


@pytest.mark.parametrize("event", [
    bot_message("from another bot"),
    bot_message("classic bot", user=None, subtype="bot_message"),
    bot_message("ourselves", bot_id="BBOT", user=BOT_USER_ID),
    channel_message("we posted this", user=BOT_USER_ID),
    message_changed("edited", ts="1600000000.000003"),
    message_deleted("1600000000.000004"),
    channel_join("U9"),
    channel_message("topic", subtype="channel_topic"),
    {"type": "member_joined_channel", "user": "U1", "channel": "C1"},
], ids=["bot", "classic-bot", "own-bot", "own-user", "edit", "delete", "join", "topic",
        "not-a-message"])
def test_anything_but_a_persons_message_is_ignored(event: dict[str, Any]) -> None:
    assert incoming(event) is None


@pytest.mark.parametrize("subtype", ["thread_broadcast", "file_share"])
def test_a_person_sharing_a_file_or_broadcasting_a_reply_still_counts(subtype: str) -> None:
    message = incoming(dm_message("see attached", subtype=subtype))
    assert message is not None and message.text == "see attached"


def test_text_loses_the_bots_mention_and_slacks_escapes_but_keeps_other_mentions() -> None:
    text = f"<@{BOT_USER_ID}> is 1 &lt; 2 &amp;&amp; 3 &gt; 2? ask <@U2> in <#C9|ops>"
    assert plain_text(text, bot_user_id=BOT_USER_ID) == \
        "is 1 < 2 && 3 > 2? ask <@U2> in <#C9|ops>"


def test_the_team_is_the_installation_team_of_the_envelope() -> None:
    event = app_mention("hi", team="T_OTHER")  # a user from a shared channel's other org
    assert team_of(event_callback(event, team_id="T1"), event) == "T1"
    assert team_of({}, event) == "T_OTHER"
    assert team_of({}, {}) == ""
    assert incoming_with_team(event, "") is None


def incoming_with_team(event: dict[str, Any], team: str) -> Any:
    return to_incoming(event, team=team, bot_user_id=BOT_USER_ID)


def test_ids_round_trip() -> None:
    assert parse_conversation_id(conversation_id("T1", "C1", "1.2")) == ("T1", "C1", "1.2")
    assert parse_conversation_id("slack:T1:D1:") == ("T1", "D1", "")
    assert split_message_id(message_id("C1", "1600000000.000100")) == \
        ("C1", "1600000000.000100")
    for bad in ("discord:G:C:", "slack:T1:C1", "slack::C1:", "slack:T1::x"):
        with pytest.raises(ValueError):
            parse_conversation_id(bad)
    for bad in ("C1", "C1:", ":1.2", "C1:abc"):
        with pytest.raises(ValueError):
            split_message_id(bad)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=10,
)
_fields = st.fixed_dictionaries({}, optional={
    "type": st.sampled_from(["message", "app_mention", "reaction_added"]) | st.text(max_size=5),
    "subtype": st.sampled_from(["bot_message", "file_share", "message_changed"]) | _json,
    "user": st.sampled_from(["U1", BOT_USER_ID, ""]) | _json,
    "channel": st.sampled_from(["C1", "D1", "G1"]) | _json,
    "channel_type": st.sampled_from(["im", "channel", "mpim"]) | _json,
    "ts": st.sampled_from(["1600000000.000100", "1.5", "x"]) | _json,
    "thread_ts": st.sampled_from(["1600000000.000001", ""]) | _json,
    "text": st.text(max_size=30) | _json,
    "bot_id": st.sampled_from(["B2", ""]) | _json,
})


@given(_fields)
def test_any_payload_normalizes_to_a_message_or_none_without_raising(
        event: dict[str, Any]) -> None:
    message = incoming(event)
    if message is not None:
        assert message.message_id == f"{event['channel']}:{event['ts']}"
        assert parse_conversation_id(message.conversation_id) == (
            "T1", event["channel"], message.thread)
        assert message.user not in ("", BOT_USER_ID)


@given(st.text(max_size=200))
def test_any_text_of_a_dm_is_taken_as_written(text: str) -> None:
    message = incoming(dm_message(text))
    assert message is not None
    assert message.conversation_id == "slack:T1:D1:"
