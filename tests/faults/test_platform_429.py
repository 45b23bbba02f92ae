"""The platform answering 429 for a while: backoff, every reply delivered, in order per channel.

Two `chatjobs worker` processes send to the fake Slack Web API
(`SLACK_API_URL`) with the real `SlackSender` (slack_sdk, its
`RateLimitErrorRetryHandler`, the per-channel pace in Redis). People write in a
thread in each of `CHANNELS` channels, in rounds: a round's messages go in
together, the next round once the previous one is answered. From the first
chat.postMessage on, Slack answers every chat.postMessage with 429 and
`Retry-After: 1` for a while.

Every reply must then arrive, once, in order in its channel's thread, and
each sender must have waited out Retry-After before calling again: the number
of 429s per channel is at most what the window holds (order and
completeness are asserted, not timing).

- 2.5 s of 429s: within what one call's retries wait out (slack_sdk sleeps
  Retry-After + up to 1 s, 3 times): everything arrives (passes).
- 15 s of 429s in one channel: the sender keeps honouring Retry-After
  (`RATE_LIMIT_RETRIES`), so the reply arrives late but once, in order.
"""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from rq import Queue, Worker

from bot.app import App
from bot.models import IncomingMessage
from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.fakes.slack_api import FakeSlackAPI, RateLimited, SlackCall, rate_limited
from tests.fakes.slack_fixtures import BOT_TOKEN, SIGNING_SECRET
from tests.faults.conftest import (
    Processes,
    answered_texts,
    echo_reply,
    pending_texts,
    wait_until,
    worker_env,
)
from tests.integration.agent_helpers import AppFactory
from workers.queues import TURNS

pytestmark = pytest.mark.slow

CHANNELS = ("C1", "C2", "C3", "C4")
ROUNDS = 3
RETRY_AFTER_S = 1


def echo(body: dict[str, Any]) -> Reply:
    return Reply(echo_reply(pending_texts(body)))


class RateLimitWindow:
    """chat.postMessage answers 429 for `seconds` from the first call; records the 429s."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.opened: float | None = None
        self.limited: list[SlackCall] = []
        self._lock = threading.Lock()

    def __call__(self, call: SlackCall) -> RateLimited | None:
        with self._lock:
            if self.opened is None:
                self.opened = call.time
            if call.time - self.opened < self.seconds:
                self.limited.append(call)
                return rate_limited(RETRY_AFTER_S)
        return None  # the default: posted


class SlackThreads:
    """One thread per channel, people writing in it; messages through ingress."""

    def __init__(self, app: App, channels: tuple[str, ...]) -> None:
        self.app = app
        self.channels = channels
        self.sent: dict[str, list[str]] = {channel: [] for channel in channels}
        self._n = 0

    @staticmethod
    def thread(channel: str) -> str:
        return f"1700000000.{CHANNELS.index(channel) + 1:06d}"

    def conversation_id(self, channel: str) -> str:
        return f"slack:T1:{channel}:{self.thread(channel)}"

    def say(self, channel: str, text: str) -> None:
        self._n += 1
        ts = f"1700000100.{self._n:06d}"
        message = IncomingMessage(platform="slack", workspace="T1", channel=channel,
                                  thread=self.thread(channel), user="U1", user_name="ana",
                                  text=text, message_id=f"{channel}:{ts}", mentions_bot=True)
        assert self.app.ingress.accept(message)
        self.sent[channel].append(text)

    def status(self) -> dict[str, str]:
        """Per channel: answered/received."""
        out = {}
        for channel in self.channels:
            state = self.app.conversations.state(self.conversation_id(channel))
            out[channel] = f"{state.answered}/{state.received} answered"
        return out

    def all_answered(self) -> bool:
        return all(self.app.conversations.state(self.conversation_id(c)).answered
                   == len(self.sent[c]) for c in self.channels)


def delivered(fake: FakeSlackAPI, channel: str) -> list[str]:
    """The messages Slack took in the channel, oldest first."""
    return [m["text"] for m in fake.messages(channel) if m.get("bot_id")]


def run_rounds(window_s: float, tmp_path: Path, redis_url: str, apps: AppFactory,
               fake_openai: FakeOpenAI, fake_slack: FakeSlackAPI, processes: Processes, *,
               channels: tuple[str, ...] = CHANNELS, rounds: int,
               answer_within: float) -> tuple[SlackThreads, RateLimitWindow]:
    fake_openai.default = echo
    window = RateLimitWindow(window_s)
    fake_slack.always("chat.postMessage", window)
    app = apps.build(fake_openai)
    processes.env = worker_env(redis_url, tmp_path, OPENAI_API_KEY="test-key",
                               OPENAI_BASE_URL=fake_openai.base_url, OPENAI_MODEL="fake-model",
                               SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET,
                               SLACK_API_URL=fake_slack.base_url)
    processes.start("worker")
    processes.start("worker")
    wait_until(lambda: len(Worker.all(connection=app.rq_client)) == 2, 30,
               "2 workers to register", details=processes.logs)
    threads = SlackThreads(app, channels)
    for round_ in range(rounds):
        for channel in channels:
            threads.say(channel, f"{channel}-m{round_}")
        try:
            wait_until(threads.all_answered, answer_within, "the round", every=0.1)
        except AssertionError:
            raise AssertionError(
                f"round {round_} not answered {answer_within:.0f}s after it was sent "
                f"(429s for {window_s:g}s from the first post): {threads.status()}, "
                f"turns queued {Queue(TURNS, connection=app.rq_client).count}; delivered "
                f"{ {c: delivered(fake_slack, c) for c in channels} }") from None
    return threads, window


def check_delivery(threads: SlackThreads, window: RateLimitWindow,
                   fake_slack: FakeSlackAPI) -> None:
    for channel in threads.channels:
        texts = delivered(fake_slack, channel)
        assert answered_texts(texts) == threads.sent[channel], (
            f"{channel}: delivered {texts} for {threads.sent[channel]}")
        posts = [c for c in fake_slack.calls("chat.postMessage")
                 if c.get("channel") == channel]
        assert {c.get("thread_ts") for c in posts} == {threads.thread(channel)}
    # Each channel's sends are one after another (one conversation per channel), so
    # waiting out Retry-After allows at most window/Retry-After + 1 429s per channel.
    per_channel = Counter(str(c.get("channel")) for c in window.limited)
    most = int(window.seconds / RETRY_AFTER_S) + 1
    assert all(n <= most for n in per_channel.values()), (
        f"more 429s than the window holds (at most {most} per channel): {per_channel}")


def test_replies_rate_limited_for_a_while_are_all_delivered_in_order_once(
        tmp_path: Path, redis_url: str, apps: AppFactory, fake_openai: FakeOpenAI,
        fake_slack: FakeSlackAPI, processes: Processes) -> None:
    # 2.5 s: within what one call's retries wait (slack_sdk: 3 x Retry-After + jitter).
    threads, window = run_rounds(2.5, tmp_path, redis_url, apps, fake_openai, fake_slack,
                                 processes, rounds=ROUNDS, answer_within=30)
    check_delivery(threads, window, fake_slack)
    assert window.limited, "the window never met a message"
    assert [p.poll() for p in processes.procs] == [None, None], processes.logs()
    print(f"\n429 for {window.seconds:g}s: {len(window.limited)} rate-limited calls, "
          f"{len(fake_slack.calls('chat.postMessage'))} chat.postMessage in all, "
          f"{sum(len(delivered(fake_slack, c)) for c in CHANNELS)} replies delivered")


def test_replies_rate_limited_longer_than_the_retries_are_still_delivered(
        tmp_path: Path, redis_url: str, apps: AppFactory, fake_openai: FakeOpenAI,
        fake_slack: FakeSlackAPI, processes: Processes) -> None:
    # 15 s of 429s with Retry-After 1: a call gives up after 4 tries, by ~6.1 s at the
    # latest (3 sleeps of Retry-After + up to 1 s of jitter); the turn's one retry, taken
    # at once by the idle worker (one channel: no other turn ahead of it in the queue),
    # gives up by ~12.3 s. Slack takes messages again at 15 s.
    window_s = 15.0
    threads, window = run_rounds(window_s, tmp_path, redis_url, apps, fake_openai,
                                 fake_slack, processes, channels=("C1",), rounds=1,
                                 answer_within=window_s + 5)
    check_delivery(threads, window, fake_slack)
