"""DiscordSender over REST (discord.py's HTTPClient) against the fake Discord API and real
Redis: where replies go, splitting, nonces, 429s, DMs, the typing indicator,
DISCORD_API_URL, and a worker process with no gateway connection delivering a reply."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from discord.http import Route

from adapters.discord.normalize import conversation_id, to_incoming
from adapters.discord.sender import (
    ALLOWED_MENTIONS,
    DiscordRest,
    DiscordSender,
    DiscordSendError,
    api_base,
    dm_key,
    thread_key,
)
from adapters.discord.split import MAX_CHARS
from bot.app import build_app
from bot.models import IncomingMessage, Turn
from config.errors import ConfigError
from config.settings import Settings
from jobs_store import ConversationStore
from tests.adapters.discord.test_normalize import data as message_data
from tests.adapters.discord.test_normalize import user as author
from tests.fakes.discord_rest import (
    BOT_ID,
    TOKEN,
    FakeDiscordAPI,
    http_error,
    rate_limited,
    slow,
)
from tests.integration.agent_helpers import make_settings
from tests.integration.clirunner import CHATJOBS, clean_env

GUILD = "200000000000000001"
CHANNEL = "300000000000000001"
THREAD = "300000000000000777"
USER = "400000000000000001"
DM_CHANNEL = "500000000000000001"
MESSAGES = "POST /channels/{channel_id}/messages"
TYPING = "POST /channels/{channel_id}/typing"
WAIT_S = 10.0


@pytest.fixture
def fake_discord() -> Iterator[FakeDiscordAPI]:
    with FakeDiscordAPI() as fake:
        yield fake
    assert not fake.errors, f"fake Discord API responder raised: {fake.errors!r}"


def discord_settings(fake: FakeDiscordAPI, **overrides: Any) -> Settings:
    return make_settings(**({"discord_token": TOKEN, "discord_api_url": fake.url} | overrides))


@pytest.fixture
def sender(fake_discord: FakeDiscordAPI, redis_client: redis.Redis) -> Iterator[DiscordSender]:
    made = DiscordSender.from_settings(discord_settings(fake_discord), redis_client)
    yield made
    made.close()


def said(client: redis.Redis, conversation: str, message_id: str, text: str = "hi") -> None:
    """The person's message, as ingress keeps it."""
    ConversationStore(client).append_user(
        conversation, Turn(role="user", text=text, user=USER, message_id=message_id))


def test_a_reply_in_a_guild_channel_replies_to_the_persons_latest_message(
        fake_discord: FakeDiscordAPI, sender: DiscordSender, redis_client: redis.Redis) -> None:
    conversation = conversation_id(GUILD, CHANNEL)
    said(redis_client, conversation, "600000000000000001")
    said(redis_client, conversation, "600000000000000002")
    sender.reply(conversation_id=conversation, text="Hello <@400000000000000001>!")

    [message] = fake_discord.messages(CHANNEL)
    assert message["content"] == "Hello <@400000000000000001>!"
    assert message["message_reference"] == {
        "message_id": "600000000000000002", "channel_id": CHANNEL, "guild_id": GUILD,
        "fail_if_not_exists": False}
    assert message["allowed_mentions"] == ALLOWED_MENTIONS
    [call] = fake_discord.calls(MESSAGES)
    assert call.json["enforce_nonce"] is True and len(call.json["nonce"]) == 25
    assert call.headers["authorization"] == f"Bot {TOKEN}"


def test_a_reply_in_a_thread_goes_to_the_thread_and_joins_it(
        fake_discord: FakeDiscordAPI, sender: DiscordSender, redis_client: redis.Redis) -> None:
    conversation = conversation_id(GUILD, CHANNEL, THREAD)
    said(redis_client, conversation, "600000000000000001")
    sender.reply(conversation_id=conversation, text="in the thread")

    [message] = fake_discord.messages()
    assert message["channel_id"] == THREAD and "message_reference" not in message
    assert redis_client.ttl(thread_key(THREAD)) > 29 * 86_400
    assert sender.threads.takes_part(THREAD)


def test_a_dm_reply_is_a_plain_message_in_the_dm(
        fake_discord: FakeDiscordAPI, sender: DiscordSender, redis_client: redis.Redis) -> None:
    said(redis_client, conversation_id("dm", DM_CHANNEL), "600000000000000001")
    sender.reply(conversation_id=conversation_id("dm", DM_CHANNEL), text="hi")

    [message] = fake_discord.messages()
    assert message["channel_id"] == DM_CHANNEL and "message_reference" not in message
    assert not redis_client.keys("cj:discord:thread:*")


def test_a_long_reply_arrives_as_several_messages_in_order_none_over_the_limit(
        fake_discord: FakeDiscordAPI, sender: DiscordSender, redis_client: redis.Redis) -> None:
    paragraphs = [f"Paragraph {i}. " + "Some useful words in a sentence. " * 12
                  for i in range(16)]
    text = "\n\n".join(p.strip() for p in paragraphs)
    conversation = conversation_id(GUILD, CHANNEL)
    said(redis_client, conversation, "600000000000000001")
    sender.reply(conversation_id=conversation, text=text)

    messages = fake_discord.messages(CHANNEL)
    assert len(messages) == 4 and all(len(m["content"]) <= MAX_CHARS for m in messages)
    assert "\n\n".join(m["content"] for m in messages) == text
    assert [("message_reference" in m) for m in messages] == [True, False, False, False]
    assert len({m["nonce"] for m in messages}) == 4
    assert not redis_client.keys("cj:discord:part:*")


def test_a_split_reply_that_failed_midway_resumes_after_the_parts_sent(
        fake_discord: FakeDiscordAPI, sender: DiscordSender, redis_client: redis.Redis) -> None:
    text = "\n\n".join(f"Part {i}. " + "x " * 900 for i in range(3))
    # The first part goes through (the default answer), the second is refused.
    fake_discord.script(MESSAGES, lambda call: None, http_error(403, "Missing Access", 50001))

    with pytest.raises(DiscordSendError, match="403 Missing Access"):
        sender.post(channel=CHANNEL, text=text)
    assert [m["content"][:6] for m in fake_discord.messages()] == ["Part 0"]
    sender.post(channel=CHANNEL, text=text)  # the retry sends parts 2 and 3 only

    assert [m["content"][:6] for m in fake_discord.messages()] == ["Part 0", "Part 1", "Part 2"]
    assert not redis_client.keys("cj:discord:part:*")


def test_the_same_reply_sent_again_is_dropped_by_discord_for_its_nonce(
        fake_discord: FakeDiscordAPI, sender: DiscordSender, redis_client: redis.Redis) -> None:
    conversation = conversation_id(GUILD, CHANNEL)
    said(redis_client, conversation, "600000000000000001")
    sender.reply(conversation_id=conversation, text="once")
    sender.reply(conversation_id=conversation, text="once")
    said(redis_client, conversation, "600000000000000002")
    sender.reply(conversation_id=conversation, text="once")  # answers another message

    assert len(fake_discord.calls(MESSAGES)) == 3
    assert [m["message_reference"]["message_id"] for m in fake_discord.messages()] == \
        ["600000000000000001", "600000000000000002"]


def test_a_429_is_retried_after_retry_after(
        fake_discord: FakeDiscordAPI, sender: DiscordSender) -> None:
    fake_discord.script(MESSAGES, rate_limited(0.4), rate_limited(0.2, is_global=True))
    sender.post(channel=f"<#{CHANNEL}>", text="after the limits")

    calls = fake_discord.calls(MESSAGES)
    assert len(calls) == 3
    assert calls[1].time - calls[0].time >= 0.4
    assert calls[2].time - calls[1].time >= 0.2
    assert [m["content"] for m in fake_discord.messages(CHANNEL)] == ["after the limits"]


def test_exhausted_rate_limit_headers_pause_the_next_call(
        redis_client: redis.Redis) -> None:
    with FakeDiscordAPI(ratelimit_headers=True) as fake:
        sender = DiscordSender.from_settings(discord_settings(fake), redis_client)
        try:
            for i in range(6):  # the bucket allows 5 a second
                sender.post(channel=CHANNEL, text=f"message {i}")
        finally:
            sender.close()
        calls = fake.calls(MESSAGES)
    assert len(calls) == 6
    assert calls[5].time - calls[0].time >= 0.9  # discord.py waited for the reset


def test_a_429_without_via_is_not_retried(
        fake_discord: FakeDiscordAPI, sender: DiscordSender) -> None:
    # discord.py takes it for a Cloudflare ban: a rate-limit proxy must keep Discord's headers.
    fake_discord.script(MESSAGES, rate_limited(0.1, via=False))
    with pytest.raises(DiscordSendError, match="429"):
        sender.post(channel=CHANNEL, text="hi")
    assert len(fake_discord.calls(MESSAGES)) == 1


def test_a_rate_limit_longer_than_the_longest_wait_fails_the_send(
        fake_discord: FakeDiscordAPI, sender: DiscordSender) -> None:
    fake_discord.script(MESSAGES, rate_limited(120.0))
    with pytest.raises(DiscordSendError, match="rate limited"):
        sender.post(channel=CHANNEL, text="hi")


def test_posting_to_a_user_opens_a_dm_once(
        fake_discord: FakeDiscordAPI, sender: DiscordSender, redis_client: redis.Redis) -> None:
    sender.post(channel=f"<@{USER}>", text="a follow-up")
    sender.post(channel=f"@{USER}", text="another")

    [opened] = fake_discord.calls("POST /users/@me/channels")
    assert opened.json == {"recipient_id": USER}
    dm = "9" + USER[1:]
    assert [m["content"] for m in fake_discord.messages(dm)] == ["a follow-up", "another"]
    assert redis_client.get(dm_key(USER)) == dm


OPEN_DM = "POST /users/@me/channels"


def inbound_dm(channel: str, user: str = USER) -> IncomingMessage:
    """What a DM from `user` in `channel` normalizes to."""
    data = message_data("thanks!", guild_id=None, channel_id=channel, author=author(user),
                        channel={"id": channel, "type": 1, "parent_id": None, "owner_id": None})
    message = to_incoming(data, bot_user_id=BOT_ID)
    assert message is not None and message.is_dm
    return message


@pytest.mark.parametrize("workspace", ["", GUILD])
def test_direct_is_the_conversation_the_users_own_dms_arrive_in(
        fake_discord: FakeDiscordAPI, sender: DiscordSender, workspace: str) -> None:
    conversation = sender.direct(workspace=workspace, user=USER)

    [opened] = fake_discord.calls(OPEN_DM)
    assert opened.json == {"recipient_id": USER}
    dm = "9" + USER[1:]  # the fake's DM channel for the user
    assert conversation == inbound_dm(dm).conversation_id == f"discord:dm:{dm}:"


def test_direct_opens_the_dm_once_shared_with_posts_to_the_user(
        fake_discord: FakeDiscordAPI, sender: DiscordSender, redis_client: redis.Redis) -> None:
    first = sender.direct(workspace=GUILD, user=USER)
    assert sender.direct(workspace="", user=USER) == first
    sender.post(channel=f"<@{USER}>", text="a follow-up")  # the same cached DM

    assert len(fake_discord.calls(OPEN_DM)) == 1
    assert redis_client.get(dm_key(USER)) == "9" + USER[1:]
    assert redis_client.ttl(dm_key(USER)) > 29 * 86_400


def test_a_reply_to_the_direct_conversation_arrives_in_the_dm(
        fake_discord: FakeDiscordAPI, sender: DiscordSender) -> None:
    conversation = sender.direct(workspace=GUILD, user=USER)
    sender.reply(conversation_id=conversation, text="How is the setup going?")

    [message] = fake_discord.messages()
    assert message["channel_id"] == "9" + USER[1:]
    assert message["content"] == "How is the setup going?"
    assert "message_reference" not in message


def test_a_refused_dm_names_the_user_and_is_not_cached(
        fake_discord: FakeDiscordAPI, sender: DiscordSender, redis_client: redis.Redis) -> None:
    fake_discord.script(OPEN_DM, http_error(400, "Cannot send messages to this user", 50007))
    with pytest.raises(DiscordSendError, match=f"DM with user {USER}.*400") as refused:
        sender.direct(workspace=GUILD, user=USER)

    assert TOKEN not in str(refused.value)
    assert not redis_client.exists(dm_key(USER))
    assert sender.direct(workspace=GUILD, user=USER).startswith("discord:dm:")  # asked again
    assert len(fake_discord.calls(OPEN_DM)) == 2


def test_direct_refuses_what_is_not_a_user_id(
        fake_discord: FakeDiscordAPI, sender: DiscordSender) -> None:
    with pytest.raises(DiscordSendError, match="'ana' is not a Discord user id"):
        sender.direct(workspace=GUILD, user="ana")
    assert not fake_discord.calls(OPEN_DM)


def test_a_channel_name_is_refused_with_the_reason(sender: DiscordSender) -> None:
    with pytest.raises(DiscordSendError, match="given by id"):
        sender.post(channel="#general", text="hi")


def test_working_keeps_typing_until_cleared_and_never_raises(
        fake_discord: FakeDiscordAPI, redis_client: redis.Redis) -> None:
    rest = DiscordRest(TOKEN, api_url=fake_discord.url)
    sender = DiscordSender(rest, redis_client, typing_every_s=0.05)
    try:
        conversation = conversation_id(GUILD, CHANNEL, THREAD)
        sender.working(conversation_id=conversation, message_id="1", active=True)
        fake_discord.wait_for(TYPING, 3, timeout=WAIT_S)
        sender.working(conversation_id=conversation, message_id="1", active=False)
        time.sleep(0.2)
        shown = len(fake_discord.typing())
        time.sleep(0.2)
        assert len(fake_discord.typing()) == shown  # stopped
        assert set(fake_discord.typing()) == {THREAD}

        fake_discord.always(TYPING, http_error(403, "Missing Access", 50001))
        sender.working(conversation_id=conversation, message_id="2", active=True)
        sender.working(conversation_id="not a conversation", message_id="3", active=True)
        sender.working(conversation_id=conversation, message_id="2", active=False)
    finally:
        sender.close()


def test_api_url_rebases_discord_py_routes_per_client() -> None:
    assert api_base(None) == Route.BASE == "https://discord.com/api/v10"
    assert api_base("http://proxy:8080") == "http://proxy:8080/api/v10"
    assert api_base("http://proxy:8080/") == "http://proxy:8080/api/v10"
    assert api_base("http://proxy:8080/discord/api/v10/") == "http://proxy:8080/discord/api/v10"


def test_the_versioned_base_works_too_and_route_base_is_left_alone(
        fake_discord: FakeDiscordAPI, redis_client: redis.Redis) -> None:
    settings = discord_settings(fake_discord, discord_api_url=fake_discord.base_url)
    sender = DiscordSender.from_settings(settings, redis_client)
    try:
        sender.post(channel=CHANNEL, text="hi")
    finally:
        sender.close()
    assert len(fake_discord.messages()) == 1
    assert Route.BASE == "https://discord.com/api/v10"


def test_a_refused_token_or_an_unreachable_discord_says_which(
        fake_discord: FakeDiscordAPI, redis_client: redis.Redis) -> None:
    with pytest.raises(ConfigError, match="DISCORD_TOKEN"):
        DiscordSender.from_settings(discord_settings(fake_discord, discord_token=None),
                                    redis_client)
    bad = DiscordSender(DiscordRest("wrong-token", api_url=fake_discord.url), redis_client)
    with pytest.raises(ConfigError, match="DISCORD_TOKEN: Discord refused it"):
        bad.post(channel=CHANNEL, text="hi")
    url = fake_discord.url
    fake_discord.stop()
    gone = DiscordSender(DiscordRest(TOKEN, api_url=url, timeout=5), redis_client)
    with pytest.raises(DiscordSendError, match="could not reach Discord"):
        gone.post(channel=CHANNEL, text="hi")


def test_a_call_that_gets_no_answer_times_out(
        fake_discord: FakeDiscordAPI, redis_client: redis.Redis) -> None:
    sender = DiscordSender(DiscordRest(TOKEN, api_url=fake_discord.url, timeout=0.5),
                           redis_client)
    fake_discord.script(MESSAGES, slow(None))
    try:
        with pytest.raises(DiscordSendError, match="did not answer"):
            sender.post(channel=CHANNEL, text="hi")
    finally:
        sender.close()


# --- other processes ----------------------------------------------------------------------

_SEND = """
import sys, redis
from adapters.discord.sender import DiscordSender
from config.settings import load_settings
client = redis.Redis.from_url(sys.argv[1], decode_responses=True)
sender = DiscordSender.from_settings(load_settings(), client)
sender.reply(conversation_id=sys.argv[2], text="from another process")
sender.close()
"""


def test_a_process_with_no_gateway_sends_through_the_api_url(
        fake_discord: FakeDiscordAPI, redis_url: str, redis_client: redis.Redis) -> None:
    conversation = conversation_id(GUILD, CHANNEL)
    said(redis_client, conversation, "600000000000000001")
    env = clean_env(DISCORD_TOKEN=TOKEN, DISCORD_API_URL=fake_discord.url)
    done = subprocess.run([sys.executable, "-c", _SEND, redis_url, conversation], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr

    [message] = fake_discord.messages(CHANNEL)
    assert message["content"] == "from another process"
    assert message["message_reference"]["message_id"] == "600000000000000001"


def _worker_sends_to_discord(settings: Settings, redis_url: str) -> bool:
    """Whether `chatjobs worker` (bot.app's senders) registers the Discord sender yet."""
    rq_client = redis.Redis.from_url(redis_url)
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        app = build_app(settings, url=redis_url, client=client, rq_client=rq_client)
        delivery = app.agent.delivery
        return delivery is not None and "discord" in delivery._senders
    finally:
        rq_client.close()
        client.close()


@pytest.mark.slow
def test_a_chatjobs_worker_process_delivers_a_reply_to_a_channel(
        fake_discord: FakeDiscordAPI, redis_url: str, redis_client: redis.Redis,
        tmp_path: Any) -> None:
    settings = discord_settings(fake_discord, redis_url=redis_url)
    if not _worker_sends_to_discord(settings, redis_url):
        pytest.skip("bot.app._senders does not register DiscordSender yet")
    rq_client = redis.Redis.from_url(redis_url)
    try:
        app = build_app(settings, url=redis_url, client=redis_client, rq_client=rq_client,
                        senders={})
        message = IncomingMessage(platform="discord", workspace=GUILD, channel=CHANNEL,
                                  user=USER, user_name="Ana", text="hello there",
                                  message_id="600000000000000001", mentions_bot=True)
        assert app.ingress.accept(message)
    finally:
        rq_client.close()
    env = clean_env(DISCORD_TOKEN=TOKEN, DISCORD_API_URL=fake_discord.url, REDIS_URL=redis_url,
                    CHATJOBS_DATA_DIR=str(tmp_path / "data"))
    done = subprocess.run([str(CHATJOBS), "worker", "--burst"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr

    [reply] = fake_discord.messages(CHANNEL)
    assert reply["message_reference"]["message_id"] == "600000000000000001"
    assert fake_discord.typing(CHANNEL)  # the typing indicator while the turn ran
    turns = ConversationStore(redis_client).turns(message.conversation_id)
    assert [t.text for t in turns if t.role == "assistant"] == [reply["content"]]
