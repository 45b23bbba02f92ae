"""The Slack and Discord normalizers with arbitrary JSON: never an exception, and either
None or a valid `IncomingMessage` whose ids read back.

Two kinds of input for each platform:

- any JSON-like dict (`st.recursive` of dicts, lists, text, numbers, None,
  booleans), with the keys the normalizer looks at drawn often;
- a person's valid message (channel, DM, mention, thread) with one field
  removed or replaced by a value of another type, or nested fields (the
  author, the channel) broken the same way.

For a message that normalizes: its text is a str, its platform and workspace
are right, its message id and conversation id parse back to the parts it was
made of, its time is aware, and the predicates agree (it is a person's
message). The predicates (`is_dm`, `mentions`, `thread_parent`, …) never
raise on any dict either.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from adapters.discord import normalize as discord_normalize
from adapters.slack import normalize as slack_normalize
from bot.models import IncomingMessage

_fuzz = settings(max_examples=250, deadline=None)

_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
    st.text(max_size=20),
    st.sampled_from(["", "0", "1.5", "U1", "C1", "D1", "im", "channel", "message",
                     "app_mention", "1600000000.000100", "<@UBOT>", "100000000000000001"]),
)


def _json(keys: list[str]) -> st.SearchStrategy[Any]:
    key = st.one_of(st.sampled_from(keys), st.text(max_size=10))
    return st.recursive(
        _scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(key, inner, max_size=6),
        max_leaves=25,
    )


def _wrong(keys: list[str]) -> st.SearchStrategy[Any]:
    """A value of any type but text (or text that is not what the field holds)."""
    return st.one_of(_json(keys), st.just(""), st.text(max_size=5), st.integers(-2, 2),
                     st.just({}), st.just([]), st.lists(st.text(max_size=3), max_size=2))


@st.composite
def _broken(draw: st.DrawFn, valid: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    """`valid` with one field (perhaps nested) removed or of the wrong type."""
    event = copy.deepcopy(valid)
    target = event
    nested = [k for k, v in event.items() if isinstance(v, dict) and v]
    if nested and draw(st.booleans()):
        target = event[draw(st.sampled_from(sorted(nested)))]
    key = draw(st.sampled_from(sorted(target)))
    if draw(st.booleans()):
        del target[key]
    else:
        target[key] = draw(_wrong(keys))
    return event


# --- Slack -----------------------------------------------------------------------------------

SLACK_BOT = "UBOT"
_SLACK_KEYS = ["type", "subtype", "user", "channel", "channel_type", "ts", "thread_ts",
               "text", "bot_id", "bot_profile", "team", "team_id", "event_ts", "blocks",
               "files", "edited", "message", "previous_message", "hidden"]


def _slack_valid() -> st.SearchStrategy[dict[str, Any]]:
    text = st.one_of(st.text(max_size=60), st.sampled_from([
        "<@UBOT> hi", "hi <@UBOT|bot>", "&lt;b&gt; &amp;", "<@U2> and <#C1|general>", ""]))
    # Any ts the normalizer's pattern takes: up to 10 digits, a dot, up to 9 digits.
    ts = st.tuples(st.one_of(st.integers(1_000_000_000, 2_000_000_000),
                             st.integers(0, 10**10 - 1)),
                   st.integers(0, 999_999)).map(lambda p: f"{p[0]}.{p[1]:06d}")
    return st.fixed_dictionaries(
        {"type": st.sampled_from(["message", "app_mention"]),
         "user": st.sampled_from(["U1", "U2", "W0123ABCD"]),
         "channel": st.sampled_from(["C1", "D1", "G1", "C0123ABCD"]),
         "ts": ts, "text": text, "event_ts": ts},
        optional={"channel_type": st.sampled_from(["im", "channel", "group", "mpim"]),
                  "thread_ts": ts, "subtype": st.sampled_from(["thread_broadcast", "file_share"]),
                  "team": st.just("T1"),
                  "blocks": st.just([{"type": "rich_text", "elements": []}])},
    )


def _slack_events() -> st.SearchStrategy[Any]:
    anything = st.dictionaries(st.sampled_from(_SLACK_KEYS), _json(_SLACK_KEYS), max_size=10)
    broken = _slack_valid().flatmap(lambda valid: _broken(valid, _SLACK_KEYS))
    return st.one_of(anything, _slack_valid(), broken, broken, _json(_SLACK_KEYS))



def _check_slack(message: IncomingMessage | None, event: Any, team: str,
                 bot: str | None) -> None:
    if message is None:
        return
    assert isinstance(message, IncomingMessage) and isinstance(message.text, str)
    assert slack_normalize.person_message(event, bot_user_id=bot)
    assert message.platform == "slack" and message.workspace == team
    assert message.channel == event["channel"] and message.user == event["user"]
    assert message.user != bot
    assert message.raw == event
    assert slack_normalize.split_message_id(message.message_id) == (event["channel"],
                                                                     event["ts"])
    parts = slack_normalize.parse_conversation_id(message.conversation_id)
    assert parts == (team, message.channel, message.thread)
    assert message.thread in ("", event["ts"], event.get("thread_ts"))
    assert message.ts.tzinfo is not None
    assert isinstance(message.mentions_bot, bool) and isinstance(message.is_dm, bool)


#: Teams as `team_of` gives them (the envelope's team id when it is an id, else "").
_teams = st.one_of(st.sampled_from(["T1", "T0123ABCD", "", "E1"]),
                   st.from_regex(r"[A-Za-z0-9_-]{1,40}", fullmatch=True))
_slack_bots = st.one_of(st.none(), st.sampled_from([SLACK_BOT, "", "U1"]),
                        st.text(max_size=8))


@_fuzz
@given(event=_slack_events(), team=_teams, bot=_slack_bots, name=st.text(max_size=20))
def test_any_slack_event_is_a_message_or_none(event: Any, team: str, bot: str | None,
                                              name: str) -> None:
    message = slack_normalize.to_incoming(event, team=team, bot_user_id=bot, user_name=name)
    _check_slack(message, event, team, bot)


@_fuzz
@given(event=_slack_events(), bot=_slack_bots,
       body=st.dictionaries(st.sampled_from(["team_id", "api_app_id", "event"]),
                            _json(_SLACK_KEYS), max_size=3))
def test_the_slack_predicates_answer_any_event(event: Any, bot: str | None,
                                               body: dict[str, Any]) -> None:
    person = slack_normalize.person_message(event, bot_user_id=bot)
    assert isinstance(person, bool)
    if not isinstance(event, dict):
        assert person is False
        return
    assert isinstance(slack_normalize.is_dm(event), bool)
    assert isinstance(slack_normalize.mentions(event, bot), bool)
    team = slack_normalize.team_of(body, event)
    assert isinstance(team, str) and ":" not in team
    if person:
        assert isinstance(slack_normalize.thread_of(event, bot_user_id=bot), str)


@_fuzz
@given(valid=_slack_valid(), team=st.sampled_from(["T1", "T0123ABCD"]))
def test_a_valid_slack_message_normalizes(valid: dict[str, Any], team: str) -> None:
    message = slack_normalize.to_incoming(valid, team=team, bot_user_id=SLACK_BOT)
    assert message is not None
    _check_slack(message, valid, team, SLACK_BOT)
    assert message.mentions_bot is (valid["type"] == "app_mention" or "<@UBOT>" in valid["text"])


@_fuzz
@given(text=st.text(max_size=300), bot=_slack_bots)
def test_slack_plain_text_is_text(text: str, bot: str | None) -> None:
    assert isinstance(slack_normalize.plain_text(text, bot_user_id=bot), str)


@pytest.mark.parametrize("ts", ["253402300800.000000", "999999999999.999999"])
def test_a_slack_ts_past_the_year_9999_is_not_a_person_message(ts: str) -> None:
    event = {"type": "message", "user": "U1", "channel": "D1", "channel_type": "im",
             "ts": ts, "text": "hi"}
    message = slack_normalize.to_incoming(event, team="T1", bot_user_id=SLACK_BOT)
    _check_slack(message, event, "T1", SLACK_BOT)  # None, or a message that reads back


# --- Discord ---------------------------------------------------------------------------------

DISCORD_BOT = "100000000000000001"
DISCORD_ROLE = "100000000000000009"
_DISCORD_KEYS = ["id", "channel_id", "guild_id", "author", "content", "timestamp",
                 "edited_timestamp", "type", "flags", "webhook_id", "mentions",
                 "mention_roles", "mention_everyone", "attachments", "embeds", "sticker_items",
                 "message_reference", "referenced_message", "channel", "username",
                 "global_name", "bot", "system", "parent_id", "owner_id", "filename", "url",
                 "name"]
_snowflakes = st.one_of(st.integers(1, 2**64).map(str),
                        st.sampled_from([DISCORD_BOT, "0", "99999999999999999999"]))


def _discord_valid() -> st.SearchStrategy[dict[str, Any]]:
    author = st.fixed_dictionaries({
        "id": _snowflakes, "username": st.text(max_size=10),
        "global_name": st.one_of(st.none(), st.text(max_size=10)),
        "bot": st.just(False), "system": st.just(False)})
    filename = st.from_regex(r"[A-Za-z0-9_.-][A-Za-z0-9 _.-]{0,10}", fullmatch=True)
    attachment = st.fixed_dictionaries({"id": _snowflakes, "filename": filename,
                                        "url": st.text(max_size=20)})
    sticker = st.fixed_dictionaries({"id": _snowflakes, "name": st.text(max_size=10)})
    channel_kind = st.sampled_from([(0, None), (1, None), (11, "300000000000000001"),
                                    (10, "300000000000000002"), (12, "300000000000000003")])

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        channel_id = draw(_snowflakes)
        kind, parent = draw(channel_kind)
        guild = None if kind == 1 else draw(_snowflakes)
        return {
            "id": draw(_snowflakes), "channel_id": channel_id, "guild_id": guild,
            "author": draw(author),
            "content": draw(st.one_of(st.text(max_size=60), st.sampled_from([
                f"<@{DISCORD_BOT}> hi", f"<@!{DISCORD_BOT}>", f"<@&{DISCORD_ROLE}> help",
                "<#300000000000000001>", ""]))),
            "timestamp": "2024-01-01T00:00:00+00:00", "edited_timestamp": None,
            "type": draw(st.sampled_from([0, 19])), "flags": 0, "webhook_id": None,
            "mentions": draw(st.lists(author, max_size=2)),
            "mention_roles": draw(st.lists(st.sampled_from([DISCORD_ROLE, "5"]), max_size=2)),
            "mention_everyone": False,
            "attachments": draw(st.lists(attachment, max_size=2)), "embeds": [],
            "sticker_items": draw(st.lists(sticker, max_size=1)),
            "message_reference": None,
            "referenced_message": draw(st.one_of(st.none(), st.fixed_dictionaries(
                {"id": _snowflakes, "author": author}))),
            "channel": {"id": channel_id, "type": kind, "parent_id": parent,
                        "owner_id": draw(st.one_of(st.none(), _snowflakes))},
        }

    return build()


def _discord_data() -> st.SearchStrategy[Any]:
    anything = st.dictionaries(st.sampled_from(_DISCORD_KEYS), _json(_DISCORD_KEYS),
                               max_size=12)
    broken = _discord_valid().flatmap(lambda valid: _broken(valid, _DISCORD_KEYS))
    return st.one_of(anything, _discord_valid(), broken, broken, _json(_DISCORD_KEYS))


_roles = st.one_of(st.none(), st.just(DISCORD_ROLE), st.text(max_size=5))


def _check_discord(message: IncomingMessage | None, data: Any, bot: str) -> None:
    if message is None:
        return
    assert isinstance(message, IncomingMessage) and isinstance(message.text, str)
    assert discord_normalize.person_message(data, bot_user_id=bot)
    assert message.platform == "discord" and isinstance(message.user_name, str)
    assert message.message_id == data["id"] and message.user == data["author"]["id"] != bot
    parts = discord_normalize.parse_conversation_id(message.conversation_id)
    assert parts == (message.workspace, message.channel, message.thread)
    assert (message.workspace == "dm") is (not data.get("guild_id")) is message.is_dm
    assert data["channel_id"] in (message.channel, message.thread)
    assert isinstance(message.ts, datetime) and message.ts.tzinfo is not None
    assert message.raw == data


@_fuzz
@given(data=_discord_data(), role=_roles, name=st.text(max_size=10))
def test_any_discord_payload_is_a_message_or_none(data: Any, role: str | None,
                                                  name: str) -> None:
    message = discord_normalize.to_incoming(data, bot_user_id=DISCORD_BOT, bot_role_id=role,
                                            user_name=name)
    _check_discord(message, data, DISCORD_BOT)


@_fuzz
@given(data=_discord_data(), role=_roles)
def test_the_discord_predicates_answer_any_payload(data: Any, role: str | None) -> None:
    person = discord_normalize.person_message(data, bot_user_id=DISCORD_BOT)
    assert isinstance(person, bool)
    if not isinstance(data, dict):
        assert person is False
        return
    assert isinstance(discord_normalize.is_dm(data), bool)
    assert discord_normalize.thread_parent(data) is None or isinstance(
        discord_normalize.thread_parent(data), str)
    assert discord_normalize.thread_owner(data) is None or isinstance(
        discord_normalize.thread_owner(data), str)
    assert isinstance(discord_normalize.mentions(data, DISCORD_BOT, role), bool)
    assert isinstance(discord_normalize.replies_to(data, DISCORD_BOT), bool)
    assert isinstance(discord_normalize.looks_stripped(data), bool)
    text = discord_normalize.plain_text(data, bot_user_id=DISCORD_BOT, bot_role_id=role)
    assert isinstance(text, str)


@_fuzz
@given(data=_discord_valid())
def test_a_valid_discord_message_normalizes(data: dict[str, Any]) -> None:
    assume(data["author"]["id"] != DISCORD_BOT)
    message = discord_normalize.to_incoming(data, bot_user_id=DISCORD_BOT,
                                            bot_role_id=DISCORD_ROLE)
    assert message is not None
    _check_discord(message, data, DISCORD_BOT)
    for attachment in data["attachments"]:
        assert f"[attachment: {attachment['filename']}" in message.text


_ids = st.one_of(
    st.text(max_size=80),
    st.lists(st.one_of(st.sampled_from(["slack", "discord", "T1", "C1", "dm", "",
                                        "100000000000000001", "1600000000.000100"]),
                       st.text(max_size=8)), max_size=5).map(":".join),
)


@_fuzz
@given(value=_ids)
def test_any_id_parses_back_to_itself_or_is_refused(value: str) -> None:
    for parse, join in ((discord_normalize.parse_conversation_id,
                         discord_normalize.conversation_id),
                        (slack_normalize.parse_conversation_id, slack_normalize.conversation_id),
                        (slack_normalize.split_message_id, slack_normalize.message_id)):
        try:
            parts = parse(value)
        except ValueError:
            continue
        assert join(*parts) == value
