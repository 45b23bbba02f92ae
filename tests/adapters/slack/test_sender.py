"""SlackSender against the fake Web API and real Redis: threads, mrkdwn, splitting,
429s, per-channel pacing shared across senders, the working state."""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Callable

import pytest
import redis
from slack_sdk import WebClient

from adapters.slack.mrkdwn import MAX_CHARS, to_mrkdwn
from adapters.slack.normalize import to_incoming
from adapters.slack.sender import (
    REACTION,
    STATUS_TEXT,
    SlackSender,
    SlackSendError,
    dm_key,
    thread_key,
    web_client,
)
from tests.fakes.slack_api import FakeSlackAPI, error, rate_limited
from tests.fakes.slack_fixtures import BOT_TOKEN
from tests.fakes.slack_requests import dm_message
from tests.integration.agent_helpers import make_settings

THREAD = "1600000000.000100"


def sender(fake: FakeSlackAPI, client: redis.Redis, *, gap_s: float = 0.0,
           sleep: Callable[[float], None] = time.sleep) -> SlackSender:
    settings = make_settings(slack_bot_token=BOT_TOKEN, slack_api_url=fake.base_url)
    return SlackSender(web_client(settings), client, gap_s=gap_s, sleep=sleep)


def test_a_reply_goes_to_the_conversations_thread_as_mrkdwn_and_joins_the_thread(
        fake_slack: FakeSlackAPI, redis_client: redis.Redis) -> None:
    sender(fake_slack, redis_client).reply(conversation_id=f"slack:T1:C1:{THREAD}",
                                           text="**Done** & [see](https://x.test)")
    assert fake_slack.posted() == [{"channel": "C1", "thread_ts": THREAD, "blocks": None,
                                    "text": "*Done* &amp; <https://x.test|see>"}]
    assert redis_client.ttl(thread_key("T1", "C1", THREAD)) > 29 * 86_400


def test_a_top_level_dm_reply_stays_top_level(
        fake_slack: FakeSlackAPI, redis_client: redis.Redis) -> None:
    sender(fake_slack, redis_client).reply(conversation_id="slack:T1:D1:", text="hi")
    assert fake_slack.posted() == [{"channel": "D1", "thread_ts": None, "text": "hi",
                                    "blocks": None}]
    assert not redis_client.keys("cj:slack:thread:*")


def test_post_is_top_level_in_the_channel(
        fake_slack: FakeSlackAPI, redis_client: redis.Redis) -> None:
    sender(fake_slack, redis_client).post(channel="C_ESC", text="Escalation: *help*")
    assert fake_slack.posted() == [{"channel": "C_ESC", "thread_ts": None,
                                    "text": "Escalation: _help_", "blocks": None}]


def long_reply() -> str:
    return "\n\n".join(f"Part {i}. " + "All good here. " * 150 for i in range(3))


def test_a_long_reply_is_sent_as_several_messages_in_order_in_the_thread(
        fake_slack: FakeSlackAPI, redis_client: redis.Redis) -> None:
    text = long_reply()
    assert len(text) > MAX_CHARS
    sender(fake_slack, redis_client).reply(conversation_id=f"slack:T1:C1:{THREAD}", text=text)
    posted = fake_slack.posted()
    assert [p["text"][:6] for p in posted] == ["Part 0", "Part 1", "Part 2"]
    assert all(len(p["text"]) <= MAX_CHARS and p["thread_ts"] == THREAD for p in posted)
    assert "\n\n".join(p["text"] for p in posted) == to_mrkdwn(text).strip()


def test_a_split_reply_that_failed_midway_resumes_after_the_parts_sent(
        fake_slack: FakeSlackAPI, redis_client: redis.Redis) -> None:
    slack = sender(fake_slack, redis_client)
    fake_slack.script("chat.postMessage", {"ok": True, "ts": "1.1"}, error("fatal_error"))
    with pytest.raises(SlackSendError, match="fatal_error"):
        slack.reply(conversation_id="slack:T1:D1:", text=long_reply())
    slack.reply(conversation_id="slack:T1:D1:", text=long_reply())  # the turn's retry
    assert [p["text"][:6] for p in fake_slack.posted()] == \
        ["Part 0", "Part 1", "Part 1", "Part 2"]  # the failed attempt, then the rest
    assert not redis_client.keys("cj:slack:part:*")

    fake_slack.reset()
    slack.reply(conversation_id="slack:T1:D1:", text=long_reply())  # the same words again
    assert len(fake_slack.posted()) == 3


def test_a_429_is_retried_after_retry_after(
        fake_slack: FakeSlackAPI, redis_client: redis.Redis) -> None:
    fake_slack.script("chat.postMessage", rate_limited(retry_after=0))
    sender(fake_slack, redis_client).reply(conversation_id="slack:T1:D1:", text="hello")
    assert [p["text"] for p in fake_slack.posted()] == ["hello", "hello"]
    assert [m["text"] for m in fake_slack.messages("D1")] == ["hello"]


def test_a_refused_message_raises_with_slacks_reason(
        fake_slack: FakeSlackAPI, redis_client: redis.Redis) -> None:
    fake_slack.add_channel("C_OUT", is_member=False)
    with pytest.raises(SlackSendError, match="not_in_channel"):
        sender(fake_slack, redis_client).post(channel="C_OUT", text="hi")


def test_sends_to_one_channel_are_paced_across_senders_and_other_channels_wait_not(
        fake_slack: FakeSlackAPI, redis_client: redis.Redis) -> None:
    waits: dict[str, list[float]] = {"a": [], "b": [], "c": []}

    def sleeper(name: str) -> Callable[[float], None]:
        def sleep(seconds: float) -> None:
            waits[name].append(seconds)
            time.sleep(seconds)
        return sleep

    # Three processes' senders: separate Web API clients, one Redis.
    a, b, c = (sender(fake_slack, redis_client, gap_s=1.0, sleep=sleeper(n)) for n in "abc")
    sends = [(a, "C1", "one"), (b, "C1", "two"), (a, "C1", "three")]
    threads = [threading.Thread(target=s.post, kwargs={"channel": ch, "text": t})
               for s, ch, t in sends]
    for thread in threads:
        thread.start()
    fake_slack.wait_for("chat.postMessage", 1)
    c.post(channel="C2", text="elsewhere")
    for thread in threads:
        thread.join(timeout=10)

    times = sorted(call.time for call in fake_slack.calls("chat.postMessage")
                   if call.params["channel"] == "C1")
    assert len(times) == 3
    assert all(later - earlier >= 0.9 for earlier, later in itertools.pairwise(times))
    assert waits["c"] == []  # C2 had a free slot: no wait at all
    assert len(waits["a"]) + len(waits["b"]) == 2


def test_working_shows_the_thread_status_and_clears_it(
        fake_slack: FakeSlackAPI, redis_client: redis.Redis) -> None:
    slack = sender(fake_slack, redis_client)
    conversation, message = f"slack:T1:C1:{THREAD}", f"C1:{THREAD}"
    slack.working(conversation_id=conversation, message_id=message, active=True)
    slack.working(conversation_id=conversation, message_id=message, active=False)
    assert [(c.params["channel_id"], c.params["thread_ts"], c.params["status"])
            for c in fake_slack.calls("assistant.threads.setStatus")] == \
        [("C1", THREAD, STATUS_TEXT), ("C1", THREAD, "")]
    assert not fake_slack.calls("reactions.add")


def test_a_top_level_dm_gets_an_eyes_reaction_removed_afterwards(
        fake_slack: FakeSlackAPI, redis_client: redis.Redis) -> None:
    slack = sender(fake_slack, redis_client)
    slack.working(conversation_id="slack:T1:D1:", message_id="D1:1600000000.000200",
                  active=True)
    slack.working(conversation_id="slack:T1:D1:", message_id="D1:1600000000.000200",
                  active=False)
    assert [(c.method, c.params["channel"], c.params["timestamp"], c.params["name"])
            for c in fake_slack.calls() if c.method.startswith("reactions.")] == [
        ("reactions.add", "D1", "1600000000.000200", REACTION),
        ("reactions.remove", "D1", "1600000000.000200", REACTION)]
    assert not fake_slack.calls("assistant.threads.setStatus")


@pytest.mark.parametrize("refusal", ["unknown_method", "not_allowed_token_type"])
def test_without_thread_status_it_falls_back_to_reactions_and_stops_asking(
        redis_client: redis.Redis, refusal: str) -> None:
    with FakeSlackAPI(assistant_error=refusal) as fake:
        slack = sender(fake, redis_client)
        for ts in ("1600000000.000300", "1600000000.000400"):
            for active in (True, False):
                slack.working(conversation_id=f"slack:T1:C1:{ts}", message_id=f"C1:{ts}",
                              active=active)
        assert len(fake.calls("assistant.threads.setStatus")) == 1  # remembered
        assert [c.method for c in fake.calls() if c.method.startswith("reactions.")] == \
            ["reactions.add", "reactions.remove"] * 2
        assert not fake.errors


def test_working_never_raises(fake_slack: FakeSlackAPI, redis_client: redis.Redis) -> None:
    slack = sender(fake_slack, redis_client)
    fake_slack.always("reactions.add", error("channel_not_found"))
    slack.working(conversation_id="slack:T1:D1:", message_id="D1:1600000000.000500",
                  active=True)
    slack.working(conversation_id="not-slack", message_id="junk", active=True)
    fake_slack.stop()
    slack.working(conversation_id=f"slack:T1:C1:{THREAD}", message_id=f"C1:{THREAD}",
                  active=True)


def test_a_worker_builds_the_sender_from_settings_and_redis_alone(
        fake_slack: FakeSlackAPI, redis_client: redis.Redis) -> None:
    settings = make_settings(slack_bot_token=BOT_TOKEN,
                             slack_api_url=fake_slack.base_url.rstrip("/"))
    SlackSender.from_settings(settings, redis_client).post(channel="C1", text="from a worker")
    assert fake_slack.posted()[0]["text"] == "from a worker"
    call = fake_slack.calls("chat.postMessage")[0]
    assert call.token == BOT_TOKEN


def test_the_web_client_uses_slack_api_url(fake_slack: FakeSlackAPI) -> None:
    settings = make_settings(slack_bot_token=BOT_TOKEN, slack_api_url=fake_slack.base_url)
    client: WebClient = web_client(settings)
    assert client.base_url == fake_slack.base_url
    assert client.auth_test()["user_id"] == "UBOT"


# --- direct: the DM with a user, for tasks that speak first ---------------------------------


def test_direct_is_the_conversation_the_users_own_dms_arrive_in(
        fake_slack: FakeSlackAPI, redis_client: redis.Redis) -> None:
    fake_slack.add_user("U7", name="ana")
    conversation = sender(fake_slack, redis_client).direct(workspace="T1", user="U7")

    [opened] = fake_slack.calls("conversations.open")
    dm = fake_slack.dm_channel("U7")
    inbound = to_incoming(dm_message("thanks!", user="U7", channel=dm), team="T1",
                          bot_user_id="UBOT")
    assert inbound is not None and inbound.is_dm
    assert conversation == inbound.conversation_id == f"slack:T1:{dm}:"
    assert opened.params["users"] == "U7"


def test_direct_opens_the_dm_once_and_every_sender_shares_it(
        fake_slack: FakeSlackAPI, redis_client: redis.Redis) -> None:
    first = sender(fake_slack, redis_client).direct(workspace="T1", user="U7")
    again = sender(fake_slack, redis_client).direct(workspace="T1", user="U7")  # another process

    assert first == again
    assert len(fake_slack.calls("conversations.open")) == 1
    assert redis_client.get(dm_key("T1", "U7")) == fake_slack.dm_channel("U7")
    assert redis_client.ttl(dm_key("T1", "U7")) > 29 * 86_400


def test_a_reply_to_the_direct_conversation_arrives_in_the_dm(
        fake_slack: FakeSlackAPI, redis_client: redis.Redis) -> None:
    slack = sender(fake_slack, redis_client)
    conversation = slack.direct(workspace="T1", user="U7")
    slack.reply(conversation_id=conversation, text="How is the **setup** going?")

    dm = fake_slack.dm_channel("U7")
    assert fake_slack.posted() == [{"channel": dm, "thread_ts": None, "blocks": None,
                                    "text": "How is the *setup* going?"}]
    assert [m["text"] for m in fake_slack.messages(dm)] == ["How is the *setup* going?"]


def test_a_refused_dm_names_the_user_and_slacks_reason_never_the_token(
        fake_slack: FakeSlackAPI, redis_client: redis.Redis) -> None:
    fake_slack.script("conversations.open", error("user_not_found"))
    slack = sender(fake_slack, redis_client)
    with pytest.raises(SlackSendError, match=r"user U404.*user_not_found") as refused:
        slack.direct(workspace="T1", user="U404")

    assert BOT_TOKEN not in str(refused.value)
    assert not redis_client.exists(dm_key("T1", "U404"))  # not cached: asked again next time
    slack.direct(workspace="T1", user="U404")
    assert len(fake_slack.calls("conversations.open")) == 2


def test_direct_without_a_team_is_refused_before_calling_slack(
        fake_slack: FakeSlackAPI, redis_client: redis.Redis) -> None:
    with pytest.raises(SlackSendError, match="U7"):
        sender(fake_slack, redis_client).direct(workspace="", user="U7")
    assert not fake_slack.calls("conversations.open")


def test_direct_when_slack_cannot_be_reached_names_the_user(redis_client: redis.Redis) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    settings = make_settings(slack_bot_token=BOT_TOKEN,
                             slack_api_url=f"http://127.0.0.1:{port}/api/")
    slack = SlackSender(web_client(settings), redis_client)
    with pytest.raises(SlackSendError, match=r"could not reach Slack.*user U7") as failed:
        slack.direct(workspace="T1", user="U7")
    assert BOT_TOKEN not in str(failed.value)


def test_a_rate_limited_working_state_is_given_up_at_once_and_the_reply_still_goes(
        fake_slack: FakeSlackAPI, redis_client: redis.Redis) -> None:
    # Reactions are rate-limited per workspace (about 50 a minute): waiting out each 429
    # would hold the turn before the model is even asked.
    slack = sender(fake_slack, redis_client)
    fake_slack.always("reactions.add", rate_limited(retry_after=1))
    fake_slack.always("assistant.threads.setStatus", rate_limited(retry_after=1))

    slack.working(conversation_id="slack:T1:D1:", message_id="D1:1600000000.000600",
                  active=True)
    slack.working(conversation_id=f"slack:T1:C1:{THREAD}", message_id=f"C1:{THREAD}",
                  active=True)
    slack.reply(conversation_id="slack:T1:D1:", text="Here you go.")

    assert len(fake_slack.calls("reactions.add")) == 2  # once each, not retried
    assert len(fake_slack.calls("assistant.threads.setStatus")) == 1
    assert [c.params["text"] for c in fake_slack.calls("chat.postMessage")] == ["Here you go."]
