"""Redis restarted under `serve`'s Slack event inbox: Slack's delivery during the outage
gets a 500, its retry after it is kept and answered, and the inbox reconnects by itself.

The real bolt app over HTTP with its `EventInbox`, a redis-server of the test's own
(stopped and started again on the same socket and data dir), the fake Slack Web API and
a real RQ worker.
"""

from __future__ import annotations

import pytest
import redis

from tests.adapters.slack.stack import slack_stack
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.slack_requests import dm_message, event_body
from tests.faults.conftest import OwnRedis

pytestmark = pytest.mark.slow


def test_the_inbox_keeps_working_across_a_redis_restart(
        own_redis: OwnRedis, fake_slack: FakeSlackAPI, slack_secret: str) -> None:
    fake_slack.add_user("U1", name="ana")
    fake_slack.add_user("U2", name="bo")
    client = redis.Redis.from_url(own_redis.url, decode_responses=True)
    try:
        with slack_stack(own_redis.url, client, fake_slack, slack_secret) as stack:
            assert stack.send(event_body(dm_message("before", user="U1"))) == 200
            stack.received("slack:T1:D1:")

            own_redis.stop()
            during = event_body(dm_message("while Redis is down", user="U2"))
            assert stack.send(during) == 500  # not kept: Slack will send it again
            own_redis.start()

            assert stack.send(during, retry_num=1) == 200
            stack.received("slack:T1:D2:")  # the inbox's reader came back by itself
            stack.work()
            assert [len(fake_slack.messages(c)) for c in ("D1", "D2")] == [1, 1]
    finally:
        client.close()
