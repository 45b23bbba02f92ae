"""The `stack` fixture: the Slack stack (`tests.adapters.slack.stack`) served over HTTP,
with the user U1 (Ana, Europe/Lisbon) known to the fake Slack."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from tests.adapters.slack.stack import SlackStack, slack_stack
from tests.fakes.slack_api import FakeSlackAPI


@pytest.fixture
def stack(redis_url: str, redis_client: redis.Redis, fake_slack: FakeSlackAPI,
          slack_secret: str) -> Iterator[SlackStack]:
    fake_slack.add_user("U1", name="ana", display_name="Ana", tz="Europe/Lisbon")
    with slack_stack(redis_url, redis_client, fake_slack, slack_secret) as running:
        yield running
