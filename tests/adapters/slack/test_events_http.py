"""The real bolt app over HTTP (`serve_http`) with signed requests, the fake Slack Web API,
real Redis and a real RQ worker running the offline model: the whole reply path."""

from __future__ import annotations

import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import redis

from adapters.slack.app import create_app
from adapters.slack.events import SlackInbound
from adapters.slack.normalize import conversation_id
from adapters.slack.sender import SlackSender
from config.errors import ConfigError
from jobs_store.conversations import Session
from tests.adapters.slack.stack import WAIT_S, SlackStack, slack_settings, slack_stack
from tests.fakes.slack_api import FakeSlackAPI, error, slow
from tests.fakes.slack_requests import (
    app_mention,
    bot_message,
    channel_join,
    channel_message,
    dm_message,
    event_body,
    message_changed,
    message_deleted,
    post,
    signed_headers,
    thread_reply,
    url_verification_body,
)
from tests.integration.agent_helpers import turn_jobs


def test_a_signed_app_mention_gets_one_reply_in_its_thread(stack: SlackStack) -> None:
    event = app_mention("hello there", user="U1", channel="C1")
    conversation = conversation_id("T1", "C1", event["ts"])
    assert stack.send(event_body(event)) == 200
    stack.received(conversation)
    assert stack.work()

    [reply] = stack.replies(conversation)
    assert stack.fake.posted() == [{"channel": "C1", "thread_ts": event["ts"], "text": reply,
                                    "blocks": None}]
    contact = stack.core.contacts.get("slack:T1:U1")
    assert contact is not None and (contact.display_name, contact.timezone) == \
        ("Ana", "Europe/Lisbon")


def test_the_mention_and_its_message_event_give_one_reply(stack: SlackStack) -> None:
    mention = app_mention("hello", channel="C1")
    same = channel_message(mention["text"], channel="C1", ts=mention["ts"])
    assert stack.send(event_body(mention)) == 200
    assert stack.send(event_body(same)) == 200  # another event id, the same message
    stack.received(conversation_id("T1", "C1", mention["ts"]))
    stack.drain()
    stack.work()
    assert len(stack.fake.posted()) == 1


def test_retries_give_no_second_reply_while_queued_running_or_finished(
        stack: SlackStack) -> None:
    event = app_mention("help me", channel="C1")
    body = event_body(event)  # one event id: every retry re-sends this body
    conversation = conversation_id("T1", "C1", event["ts"])
    assert stack.send(body) == 200
    stack.received(conversation)
    assert stack.send(body, retry_num=1) == 200  # the turn is still queued

    statuses: list[int] = []

    def retry_while_sending() -> None:
        stack.fake.wait_for("chat.postMessage", 1, timeout=WAIT_S)
        statuses.append(stack.send(body, retry_num=2, retry_reason="http_timeout"))

    stack.fake.script("chat.postMessage", slow(0.5))  # the reply is in flight meanwhile
    retrier = threading.Thread(target=retry_while_sending)
    retrier.start()
    stack.work()
    retrier.join(timeout=WAIT_S)
    assert stack.send(body, retry_num=3) == 200  # after it finished
    stack.drain()
    stack.work()

    assert statuses == [200]
    assert len(stack.fake.posted()) == 1
    assert stack.core.conversations.state(conversation).received == 1


def test_a_retry_after_the_reply_failed_gives_still_one_reply(stack: SlackStack) -> None:
    event = dm_message("are you there?", user="U1")
    body = event_body(event)
    conversation = conversation_id("T1", "D1", "")
    stack.fake.script("chat.postMessage", error("fatal_error"))
    assert stack.send(body) == 200
    stack.received(conversation)
    stack.work()  # the reply fails; RQ runs the turn's one retry at once, which replies
    assert stack.send(body, retry_num=1) == 200  # Slack's retry of the event is dropped
    stack.drain()
    stack.work()

    assert turn_jobs(stack.core)["scheduled"] == 0
    assert [m["text"] for m in stack.fake.messages("D1")] == stack.replies(conversation)
    assert len(stack.fake.messages("D1")) == 1
    assert len(stack.fake.posted()) == 2  # the failed attempt and the one reply


def test_a_dm_gets_one_reply_in_the_dm(stack: SlackStack) -> None:
    assert stack.send(event_body(dm_message("hi", user="U1"))) == 200
    stack.received("slack:T1:D1:")
    stack.work()
    [reply] = stack.replies("slack:T1:D1:")
    assert stack.fake.posted() == [{"channel": "D1", "thread_ts": None, "text": reply,
                                    "blocks": None}]


def test_bots_edits_deletions_joins_and_unaddressed_chatter_get_no_reply(
        stack: SlackStack) -> None:
    mentioned = app_mention("original")
    events = [
        bot_message("another bot talking", channel_type="im", channel="D1"),
        bot_message("our own echo", bot_id="BBOT", user="UBOT", channel_type="im",
                    channel="D1"),
        message_changed("<@UBOT> edited", ts=mentioned["ts"], channel_type="im",
                        channel="D1"),
        message_deleted(mentioned["ts"], channel="D1", channel_type="im"),
        channel_join("U1", channel="C1"),
        channel_message("just chatting, no mention", channel="C1"),
        thread_reply("a thread we are not in", thread_ts="1600000000.000009", channel="C1"),
    ]
    for event in events:
        assert stack.send(event_body(event)) == 200
    stack.drain()
    assert not stack.work()
    assert stack.fake.posted() == []
    assert not stack.core.client.keys("cj:seen:*")


def test_a_thread_the_bot_is_in_is_answered_without_a_mention(stack: SlackStack) -> None:
    mention = app_mention("start", channel="C1")
    thread = conversation_id("T1", "C1", mention["ts"])
    assert stack.send(event_body(mention)) == 200
    stack.received(thread)
    stack.work()
    follow_up = thread_reply("and then?", thread_ts=mention["ts"], channel="C1")
    assert stack.send(event_body(follow_up)) == 200
    stack.received(thread, 2)
    stack.work()
    assert [(p["channel"], p["thread_ts"]) for p in stack.fake.posted()] == \
        [("C1", mention["ts"])] * 2


@pytest.mark.parametrize("how", ["unsigned", "six minutes old", "wrong secret"])
def test_unverified_requests_get_401_and_change_nothing(stack: SlackStack, how: str) -> None:
    body = event_body(dm_message("let me in", user="U1"))
    if how == "unsigned":
        status, _, _ = post(stack.url, body, {"Content-Type": "application/json"})
    elif how == "six minutes old":
        status = stack.send(body, timestamp=int(time.time()) - 360)
    else:
        status, _, _ = post(stack.url, body, signed_headers(body, "not-the-secret"))
    assert status == 401
    stack.drain()
    assert not stack.work()
    assert not stack.core.client.keys("cj:seen:*")
    assert stack.fake.posted() == []


def test_the_request_url_check_is_answered(stack: SlackStack) -> None:
    status, _, text = post(stack.url, url_verification_body("abc"),
                           signed_headers(url_verification_body("abc"), stack.secret))
    assert (status, text) == (200, '{"challenge": "abc"}')


def test_health_and_unknown_paths(stack: SlackStack) -> None:
    base = stack.url.removesuffix("/slack/events")
    with urllib.request.urlopen(f"{base}/healthz", timeout=WAIT_S) as response:
        assert (response.status, response.read()) == (200, b"ok")
    assert post(f"{base}/elsewhere", "{}", {"Content-Type": "application/json"})[0] == 404


def test_fifty_concurrent_events_are_all_acked_and_taken(stack: SlackStack) -> None:
    bodies = [event_body(dm_message(f"message {i}", user=f"U{100 + i}")) for i in range(50)]
    latencies: list[float] = []

    def send(body: str) -> int:
        start = time.perf_counter()
        status = stack.send(body)
        latencies.append(time.perf_counter() - start)
        return status

    with ThreadPoolExecutor(max_workers=50) as pool:
        assert list(pool.map(send, bodies)) == [200] * 50
    for i in range(50):
        stack.received(f"slack:T1:D{100 + i}:")
    latencies.sort()
    print(f"ack latency over 50 concurrent: p50 {latencies[24] * 1000:.1f} ms, "
          f"p99 {latencies[48] * 1000:.1f} ms, max {latencies[-1] * 1000:.1f} ms")


def test_a_channel_message_inside_a_session_window_is_taken(stack: SlackStack) -> None:
    inbound = SlackInbound(ingress=stack.core.ingress, users=stack.deps.users,
                           threads=stack.deps.sender.threads)
    assert not inbound.handle(channel_message("before", channel="C1"), team="T1",
                              bot_user_id="UBOT")
    now = datetime.now(UTC)
    stack.core.conversations.open_session(
        "slack:T1:C1:", Session(task="task_1", execution="exec_1", until=now + timedelta(hours=1)))
    assert inbound.handle(channel_message("thanks, done", channel="C1"), team="T1",
                          bot_user_id="UBOT")
    assert not inbound.handle(channel_message("elsewhere", channel="C2"), team="T1",
                              bot_user_id="UBOT")
    stack.core.conversations.open_session(
        "slack:T1:C1:", Session(task="task_1", execution="exec_1", until=now))
    assert not inbound.handle(channel_message("after it closed", channel="C1"), team="T1",
                              bot_user_id="UBOT")


def test_the_app_needs_a_token_and_a_signing_secret(
        redis_url: str, redis_client: redis.Redis, fake_slack: FakeSlackAPI) -> None:
    settings = slack_settings(fake_slack, "secret", slack_signing_secret=None)
    with slack_stack(redis_url, redis_client, fake_slack, "s", http=False) as running, \
            pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET"):
        create_app(settings, running.deps)
    with pytest.raises(ConfigError, match="SLACK_BOT_TOKEN"):
        SlackSender.from_settings(slack_settings(fake_slack, "s", slack_bot_token=None),
                                  redis_client)


def test_a_token_slack_refuses_or_an_unreachable_slack_is_a_config_error(
        redis_url: str, redis_client: redis.Redis, fake_slack: FakeSlackAPI) -> None:
    with slack_stack(redis_url, redis_client, fake_slack, "s", http=False) as running:
        fake_slack.script("auth.test", error("invalid_auth"))
        with pytest.raises(ConfigError, match=r"SLACK_BOT_TOKEN.*invalid_auth"):
            create_app(running.core.settings, running.deps)
        fake_slack.stop()
        with pytest.raises(ConfigError, match="SLACK_API_URL"):
            create_app(running.core.settings, running.deps)
