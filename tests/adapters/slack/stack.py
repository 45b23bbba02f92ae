"""chatjobs as `serve` + `worker` run it, on the fake Slack Web API: `slack_stack` builds
the core app, the bolt app, and (with `http`) its server and event inbox; `SlackStack`
drives it. The `stack` fixture (conftest.py) is one with the user U1 known to Slack."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import redis
import slack_bolt
from rq import Queue

from adapters.console import ConsoleSender
from adapters.slack.app import SlackDeps, create_app
from adapters.slack.inbox import EventInbox
from adapters.slack.mrkdwn import to_mrkdwn
from adapters.slack.sender import SlackSender
from adapters.slack.server import serve_http
from bot.app import App, build_app
from config.settings import Settings
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.slack_fixtures import BOT_TOKEN
from tests.fakes.slack_requests import post, signed_headers
from tests.integration.agent_helpers import make_settings, work
from workers.queues import TURNS

WAIT_S = 5.0


@dataclass
class SlackStack:
    """chatjobs as `serve` + `worker` run it, on the fake Slack: helpers to drive it."""

    core: App
    deps: SlackDeps
    slack: slack_bolt.App
    fake: FakeSlackAPI
    secret: str
    url: str = ""
    inbox: EventInbox | None = None

    def send(self, body: str, **headers: Any) -> int:
        """POST a signed (see `signed_headers`) body to /slack/events; the status."""
        status, _, _ = post(self.url, body, signed_headers(body, self.secret, **headers))
        return status

    def received(self, conversation: str, n: int = 1) -> None:
        """Wait (bounded) until ingress took `n` messages of the conversation and a
        turn is queued (ingress appends the message first, then queues the turn)."""
        queue = Queue(TURNS, connection=self.core.rq_client)
        deadline = time.monotonic() + WAIT_S
        while (self.core.conversations.state(conversation).received < n
               or queue.count == 0):
            assert time.monotonic() < deadline, f"ingress never took {n} in {conversation}"
            time.sleep(0.01)

    def work(self) -> bool:
        """Run the queued turns on a real RQ worker (burst)."""
        return work(self.core)

    def drain(self) -> None:
        """Wait (bounded) until every kept event was handled, and every listener bolt
        started has finished (ends the app's listening)."""
        deadline = time.monotonic() + WAIT_S
        while self.inbox is not None and self.inbox.waiting():
            assert time.monotonic() < deadline, "the inbox never emptied"
            time.sleep(0.01)
        self.slack.listener_runner.listener_executor.shutdown(wait=True)

    def replies(self, conversation: str) -> list[str]:
        """The agent's replies recorded in the conversation, as mrkdwn."""
        return [to_mrkdwn(t.text) for t in self.core.conversations.turns(conversation)
                if t.role == "assistant"]


def slack_settings(fake: FakeSlackAPI, secret: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"slack_bot_token": BOT_TOKEN, "slack_signing_secret": secret,
                              "slack_api_url": fake.base_url}
    return make_settings(**(values | overrides))


@contextlib.contextmanager
def slack_stack(redis_url: str, client: redis.Redis, fake: FakeSlackAPI, secret: str, *,
                http: bool = True, inbox_options: dict[str, Any] | None = None,
                **overrides: Any) -> Iterator[SlackStack]:
    """The core app with the Slack sender, the bolt app, and (with `http`) its server and
    event inbox (`inbox_options`: `EventInbox` keyword arguments)."""
    settings = slack_settings(fake, secret, **overrides)
    rq_client = redis.Redis.from_url(redis_url)
    core = build_app(settings, url=redis_url, client=client, rq_client=rq_client,
                     senders={"slack": SlackSender.from_settings(settings, client),
                              "console": ConsoleSender(client)})
    deps = SlackDeps.build(settings, redis=client, ingress=core.ingress,
                           contacts=core.contacts, stores=core.stores)
    stack = SlackStack(core=core, deps=deps, slack=create_app(settings, deps), fake=fake,
                       secret=secret)
    server = None
    thread = None
    if http:
        stack.inbox = EventInbox(client, stack.slack, signing_secret=secret,
                                 **(inbox_options or {}))
        server = serve_http(stack.slack, "127.0.0.1", 0, inbox=stack.inbox)
        stack.inbox.start()
        stack.url = f"http://127.0.0.1:{server.server_port}/slack/events"
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
    try:
        yield stack
    finally:
        if server is not None and thread is not None:
            server.shutdown()
            server.server_close()
            thread.join(timeout=WAIT_S)
        if stack.inbox is not None:
            stack.inbox.stop()
        stack.slack.listener_runner.listener_executor.shutdown(wait=True)
        rq_client.close()
