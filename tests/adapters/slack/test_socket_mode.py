"""The same app over Socket Mode: `start_socket_mode` against the fake WebSocket server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from slack_bolt.adapter.socket_mode import SocketModeHandler

from adapters.slack.normalize import conversation_id
from adapters.slack.server import start_socket_mode
from config.errors import ConfigError
from tests.adapters.slack.stack import SlackStack, slack_settings, slack_stack
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.slack_fixtures import APP_TOKEN
from tests.fakes.slack_requests import app_mention, channel_message, event_callback
from tests.fakes.slack_socket import FakeSocketMode


@pytest.fixture
def socket_stack(redis_url: str, redis_client: redis.Redis, fake_slack: FakeSlackAPI,
                 fake_slack_socket: FakeSocketMode,
                 slack_secret: str) -> Iterator[tuple[SlackStack, SocketModeHandler]]:
    with slack_stack(redis_url, redis_client, fake_slack, slack_secret, http=False,
                     slack_app_token=APP_TOKEN) as stack:
        handler = start_socket_mode(stack.slack, stack.core.settings)
        try:
            fake_slack_socket.wait_for_connection()
            yield stack, handler
        finally:
            handler.close()  # before the fakes stop


def test_an_app_mention_over_the_socket_gets_one_reply_in_its_thread(
        socket_stack: tuple[SlackStack, SocketModeHandler],
        fake_slack_socket: FakeSocketMode) -> None:
    stack, _ = socket_stack
    event = app_mention("hello over the socket", channel="C1")
    payload = event_callback(event)
    conversation = conversation_id("T1", "C1", event["ts"])

    fake_slack_socket.wait_for_ack(fake_slack_socket.send_event(payload))
    stack.received(conversation)
    retry = fake_slack_socket.send_event(payload, retry_attempt=1, retry_reason="timeout")
    fake_slack_socket.wait_for_ack(retry)
    twin = event_callback(channel_message(event["text"], channel="C1", ts=event["ts"]))
    fake_slack_socket.wait_for_ack(fake_slack_socket.send_event(twin))
    stack.drain()
    stack.work()

    [reply] = stack.replies(conversation)
    assert stack.fake.posted() == [{"channel": "C1", "thread_ts": event["ts"], "text": reply,
                                    "blocks": None}]
    assert [c.token for c in stack.fake.calls("apps.connections.open")] == [APP_TOKEN]


def test_socket_mode_needs_the_app_token(socket_stack: tuple[SlackStack, SocketModeHandler],
                                         fake_slack: FakeSlackAPI) -> None:
    stack, _ = socket_stack
    with pytest.raises(ConfigError, match="SLACK_APP_TOKEN"):
        start_socket_mode(stack.slack, slack_settings(fake_slack, stack.secret))
