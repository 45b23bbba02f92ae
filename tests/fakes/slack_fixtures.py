"""Fixtures for the fake Slack peers: the Web API, Socket Mode, and the signing secret.

Registered as a pytest plugin ("tests.fakes.slack_fixtures" in tests/conftest.py's
`pytest_plugins`), so every test can ask for them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.slack_socket import FakeSocketMode

BOT_TOKEN = "xoxb-test"
APP_TOKEN = "xapp-test"
SIGNING_SECRET = "test-signing-secret"


@pytest.fixture
def slack_secret() -> str:
    """The signing secret the app under test and `slack_requests.sign` share."""
    return SIGNING_SECRET


@pytest.fixture
def fake_slack() -> Iterator[FakeSlackAPI]:
    """A started fake Slack Web API (bot UBOT/BBOT in team T1 "Acme"), stopped after the test.

    Teardown fails if a scripted callable raised.
    """
    with FakeSlackAPI() as fake:
        yield fake
    assert not fake.errors, f"fake Slack API responder raised: {fake.errors!r}"


@pytest.fixture
def fake_slack_socket(fake_slack: FakeSlackAPI) -> Iterator[FakeSocketMode]:
    """A started fake Socket Mode server attached to `fake_slack` (apps.connections.open
    returns its URL), stopped after the test, before `fake_slack`.

    Teardown fails if a client broke the WebSocket protocol.
    """
    with FakeSocketMode(fake_slack) as fake:
        yield fake
    assert not fake.errors, f"Socket Mode protocol errors: {fake.errors!r}"


@pytest.fixture
def fake_slack_env(fake_slack: FakeSlackAPI, slack_secret: str) -> dict[str, str]:
    """Settings that point the app at `fake_slack` in HTTP mode (e.g. for monkeypatch.setenv);
    add SLACK_APP_TOKEN=APP_TOKEN (with `fake_slack_socket`) for Socket Mode."""
    return {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": slack_secret,
        "SLACK_API_URL": fake_slack.base_url,
    }


@pytest.fixture
def socket_mode_handler(fake_slack_socket: FakeSocketMode) -> Iterator[Callable[..., Any]]:
    """A factory: `socket_mode_handler(app, **kwargs)` -> a connected bolt SocketModeHandler
    (builtin client, app token APP_TOKEN, the app's own WebClient unless `web_client=`),
    greeted by the fake. Every handler is closed at teardown, before the fakes stop.
    """
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    handlers: list[Any] = []

    def connect(app: Any, **kwargs: Any) -> Any:
        handler = SocketModeHandler(app, kwargs.pop("app_token", APP_TOKEN), **kwargs)
        handlers.append(handler)
        before = len(fake_slack_socket.connections())
        handler.connect()
        fake_slack_socket.wait_for_connection(before + 1)
        return handler

    yield connect
    for handler in handlers:
        handler.close()
