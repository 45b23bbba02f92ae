"""The event inbox: Slack's deliveries acked once kept in Redis, handled after the ack.

The real bolt app served over HTTP (`serve_http` with an `EventInbox`), signed
requests, the fake Slack Web API, real Redis and a real RQ worker.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis

from adapters.slack.inbox import FAILED_KEY, GROUP, INBOX_KEY, EventInbox
from adapters.slack.server import serve_http
from tests.adapters.slack.stack import SlackStack, slack_stack
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.slack_requests import dm_message, event_body, post, signed_headers

QUICK_CLAIMS = {"claim_idle_s": 0.2, "claim_every_s": 0.05}


@pytest.fixture
def quick_stack(redis_url: str, redis_client: redis.Redis, fake_slack: FakeSlackAPI,
                slack_secret: str) -> Iterator[SlackStack]:
    """A stack whose inbox takes over stuck events after 0.2 s, and gives up after 3 tries."""
    with slack_stack(redis_url, redis_client, fake_slack, slack_secret,
                     inbox_options=QUICK_CLAIMS | {"max_attempts": 3}) as running:
        yield running


def consumer(stack: SlackStack, **options: Any) -> EventInbox:
    """Another process's consumer on the same inbox (as a second or restarted `serve`)."""
    inbox = EventInbox(stack.core.client, stack.slack, signing_secret=stack.secret, **options)
    inbox.start()
    return inbox


def test_an_event_kept_while_no_process_handles_the_inbox_is_answered_by_the_next(
        quick_stack: SlackStack) -> None:
    assert quick_stack.inbox is not None
    quick_stack.inbox.stop()  # serve's handling stopped; its HTTP side still acks
    assert quick_stack.send(event_body(dm_message("still there?", user="U1"))) == 200
    assert quick_stack.inbox.waiting() == 1
    assert quick_stack.core.conversations.state("slack:T1:D1:").received == 0

    restarted = consumer(quick_stack)
    try:
        quick_stack.received("slack:T1:D1:")
        quick_stack.work()
        assert len(quick_stack.fake.messages("D1")) == 1
        assert restarted.waiting() == 0
    finally:
        restarted.stop()


def test_an_event_a_dead_process_had_taken_is_answered_by_another(
        quick_stack: SlackStack) -> None:
    assert quick_stack.inbox is not None
    quick_stack.inbox.stop()
    assert quick_stack.send(event_body(dm_message("hello?", user="U1"))) == 200
    # A process reads it, then dies before handling it: it stays pending in its name.
    taken = quick_stack.core.client.xreadgroup(GROUP, "gone:1", {INBOX_KEY: ">"})
    assert len(taken[0][1]) == 1

    other = consumer(quick_stack, **QUICK_CLAIMS)
    try:
        quick_stack.received("slack:T1:D1:")
        quick_stack.work()
        assert len(quick_stack.fake.messages("D1")) == 1
    finally:
        other.stop()


def test_redis_down_at_the_ack_gives_slack_a_500_and_its_retry_is_answered(
        quick_stack: SlackStack) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    down = redis.Redis(port=port, socket_connect_timeout=0.5, decode_responses=True)
    inbox = EventInbox(down, quick_stack.slack, signing_secret=quick_stack.secret)
    server = serve_http(quick_stack.slack, "127.0.0.1", 0, inbox=inbox)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    body = event_body(dm_message("are you up?", user="U1"))
    try:
        status, _, text = post(f"http://127.0.0.1:{server.server_port}/slack/events", body,
                               signed_headers(body, quick_stack.secret))
    finally:
        server.shutdown()
        server.server_close()
        down.close()
    assert (status, "send it again" in text) == (500, True)
    assert quick_stack.core.conversations.state("slack:T1:D1:").received == 0

    assert quick_stack.send(body, retry_num=1) == 200  # Slack's retry, Redis is back
    quick_stack.received("slack:T1:D1:")
    quick_stack.work()
    assert len(quick_stack.fake.messages("D1")) == 1


def test_an_event_that_keeps_failing_is_tried_three_times_then_set_aside_and_logged(
        quick_stack: SlackStack, caplog: pytest.LogCaptureFixture) -> None:
    calls: list[str] = []

    def broken(body: dict[str, Any]) -> None:
        calls.append(body["event_id"])
        raise RuntimeError("listener bug")

    quick_stack.slack.event("reaction_added")(broken)
    reaction = {"type": "reaction_added", "user": "U1", "reaction": "tada",
                "item": {"type": "message", "channel": "C1", "ts": "1.2"}, "event_ts": "1.3"}
    with caplog.at_level(logging.ERROR, logger="adapters.slack.inbox"):
        assert quick_stack.send(event_body(reaction, event_id="EvBROKEN")) == 200
        quick_stack.drain()

    assert calls == ["EvBROKEN"] * 3
    [(_, kept)] = quick_stack.core.client.xrange(FAILED_KEY)
    assert "EvBROKEN" in kept["body"]
    assert any("EvBROKEN" in r.getMessage() and "reaction_added" in r.getMessage()
               for r in caplog.records)


def test_each_conversations_messages_are_taken_in_the_order_slack_sent_them(
        stack: SlackStack) -> None:
    assert stack.inbox is not None
    stack.inbox.stop()  # a backlog builds up, as after a restart: the lanes take it at once
    sent: dict[str, list[str]] = {f"D{n}": [] for n in range(1, 5)}
    for i in range(40):
        user = f"U{i % 4 + 1}"
        text = f"message {i}"
        sent["D" + user[1:]].append(text)
        assert stack.send(event_body(dm_message(text, user=user))) == 200
    other = consumer(stack)
    try:
        for channel, texts in sent.items():
            stack.received(f"slack:T1:{channel}:", len(texts))
            turns = stack.core.conversations.turns(f"slack:T1:{channel}:")
            assert [t.text for t in turns if t.role == "user"] == texts
    finally:
        other.stop()


def test_events_wait_while_a_request_is_in_hand(redis_url: str, redis_client: redis.Redis,
                                                 fake_slack: FakeSlackAPI,
                                                 slack_secret: str) -> None:
    with slack_stack(redis_url, redis_client, fake_slack, slack_secret,
                     inbox_options={"defer_s": 30}) as stack:
        slow = socket.create_connection(("127.0.0.1", urlsplit(stack.url).port or 80))
        slow.sendall(b"POST /slack/ev")  # a request still arriving: one in hand
        try:
            assert stack.send(event_body(dm_message("hi", user="U1"))) == 200
            time.sleep(0.3)
            assert stack.core.conversations.state("slack:T1:D1:").received == 0
        finally:
            slow.close()
        stack.received("slack:T1:D1:")  # handled once the server has nothing in hand


def test_a_stopped_process_leaves_no_consumer_name_behind(stack: SlackStack) -> None:
    def names() -> set[str]:
        return {c["name"] for c in stack.core.client.xinfo_consumers(INBOX_KEY, GROUP)}

    assert stack.inbox is not None
    stack.inbox.stop()
    other = consumer(stack)
    assert stack.send(event_body(dm_message("hi", user="U1"))) == 200
    stack.received("slack:T1:D1:")
    assert other.name in names()  # it joined the group with its first event
    other.stop()
    assert other.name not in names()


def test_after_redis_lost_the_inbox_new_events_are_still_answered(stack: SlackStack) -> None:
    assert stack.send(event_body(dm_message("first", user="U1"))) == 200
    stack.received("slack:T1:D1:")
    stack.core.client.flushdb()  # as a Redis restarted without its data
    assert stack.send(event_body(dm_message("after", user="U2"))) == 200
    stack.received("slack:T1:D2:")
