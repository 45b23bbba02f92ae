"""Turns on RQ workers: order across worker processes, and no reply sent twice.

The process tests start real `chatjobs worker` processes on the session's Redis
(REDIS_URL) with the model pointed at the fake OpenAI server, feed them through
ingress in this process, and read the replies from the console outbox. The
crash-safety tests run the turn job on an in-process RQ worker and replay it
the ways RQ does: again after it finished, and as its `Retry` after a failure.
"""

from __future__ import annotations

import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from rq import Queue, Worker
from rq.registry import ScheduledJobRegistry

from jobs_store import keys
from jobs_store.keys import turn_flag
from jobs_store.tasks import TaskStore
from tests.fakes.openai_server import FakeOpenAI, Reply, reply, tool_call
from tests.integration.agent_helpers import (
    AppFactory,
    Chat,
    RecordingSender,
    admin,
    turn_jobs,
    work,
)
from tests.integration.clirunner import CHATJOBS, clean_env
from workers.queues import TURNS, RQTurnQueue


@pytest.fixture
def apps(redis_url: str, redis_client: redis.Redis) -> Iterator[AppFactory]:
    factory = AppFactory(redis_url, redis_client)
    yield factory
    factory.close()


def echo(body: dict[str, Any]) -> Reply:
    """The fake model answers the newest user message of the prompt."""
    last = [m["content"] for m in body["messages"] if m["role"] == "user"][-1]
    return Reply(f"reply to: {last}")


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `condition` until it holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


class WorkerProcesses:
    """`chatjobs worker` processes of one test; killed at teardown if still running."""

    def __init__(self, root: Path, redis_url: str, fake: FakeOpenAI) -> None:
        self.root = root
        self.env = clean_env(REDIS_URL=redis_url, OPENAI_API_KEY="test-key",
                             OPENAI_BASE_URL=fake.base_url, OPENAI_MODEL="fake-model",
                             CHATJOBS_DATA_DIR=str(root / "data"))
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, n: int, connection: redis.Redis) -> None:
        for _ in range(n):
            log = (self.root / f"worker-{len(self.procs)}.log").open("wb")
            self.procs.append(subprocess.Popen(
                [str(CHATJOBS), "worker"], cwd=self.root, env=self.env,
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT))
            log.close()
        wait_until(lambda: len(Worker.all(connection=connection)) >= n, 30,
                   f"{n} workers to register")

    def logs(self) -> str:
        return "\n".join(path.read_text(errors="replace")
                         for path in sorted(self.root.glob("worker-*.log")))

    def stop(self) -> list[int | None]:
        """SIGTERM every worker; their exit statuses (None: did not exit in time)."""
        for proc in self.procs:
            proc.send_signal(signal.SIGTERM)
        statuses = []
        for proc in self.procs:
            try:
                statuses.append(proc.wait(15))
            except subprocess.TimeoutExpired:
                statuses.append(None)
        return statuses

    def kill(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)


@pytest.fixture
def workers(tmp_path: Path, redis_url: str, redis_client: redis.Redis,
            fake_openai: FakeOpenAI) -> Iterator[WorkerProcesses]:
    processes = WorkerProcesses(tmp_path, redis_url, fake_openai)
    yield processes
    processes.kill()


# --- worker processes -----------------------------------------------------------------------


@pytest.mark.slow
def test_two_worker_processes_answer_a_burst_in_order_once_each(
    apps: AppFactory, fake_openai: FakeOpenAI, workers: WorkerProcesses
) -> None:
    lock = threading.Lock()
    in_flight, most = [0], [0]

    def model(body: dict[str, Any]) -> Reply:
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
        time.sleep(0.02)  # the model's latency, so overlapping turns would show
        with lock:
            in_flight[0] -= 1
        return echo(body)

    fake_openai.default = model
    app = apps.build(fake_openai)
    workers.start(2, app.rq_client)
    chat = Chat(app)

    started = time.monotonic()
    for n in range(1, 21):
        assert chat.say(f"message {n:02d}")
    accepting = time.monotonic() - started
    wait_until(lambda: chat.state().answered == 20, 30, "all 20 messages to be answered")
    wait_until(lambda: not app.client.exists(turn_flag(chat.conversation_id)), 10,
               "the turn to finish")

    replies = chat.outbox()
    answered = [int(m[1]) for m in (re.fullmatch(r"reply to: message (\d+)", r) for r in replies)
                if m]
    assert len(answered) == len(replies), replies
    assert answered == sorted(set(answered)), f"out of order or twice: {answered}"
    assert answered[-1] == 20
    assert len(replies) == len(fake_openai.chat_requests), "one reply per turn"
    state = chat.state()
    assert (state.received, state.answered) == (20, 20)
    assert most[0] == 1, "two turns of one conversation ran at once"
    assert accepting < 2.0, f"ingress took {accepting:.2f}s for 20 messages"
    assert turn_jobs(app)["failed"] == 0

    assert workers.stop() == [0, 0], workers.logs()
    assert "Traceback" not in workers.logs()
    assert Worker.all(connection=app.rq_client) == []


@pytest.mark.slow
def test_two_worker_processes_share_many_conversations_with_few_rq_jobs(
    apps: AppFactory, fake_openai: FakeOpenAI, workers: WorkerProcesses
) -> None:
    lock = threading.Lock()
    in_flight: dict[str, int] = {}
    most, overlapped = [0], []

    def model(body: dict[str, Any]) -> Reply:
        user = body["messages"][-1]["content"].split()[0]
        with lock:
            in_flight[user] = in_flight.get(user, 0) + 1
            overlapped.extend([user] if in_flight[user] > 1 else [])
            most[0] = max(most[0], sum(in_flight.values()))
        time.sleep(0.05)  # the model's latency, so turns running at once would show
        with lock:
            in_flight[user] -= 1
        return echo(body)

    fake_openai.default = model
    app = apps.build(fake_openai)
    workers.start(2, app.rq_client)
    chats = [Chat(app, f"user{i}") for i in range(6)]

    for n in range(1, 4):
        for chat in chats:
            assert chat.say(f"{chat.user} message {n}")
    wait_until(lambda: all(c.state().answered == 3 for c in chats), 30,
               "every message to be answered")

    for chat in chats:
        answered = [int(r.rsplit(" ", 1)[1]) for r in chat.outbox()]
        assert answered == sorted(set(answered)) and answered[-1] == 3, (chat.user, answered)
    assert overlapped == [], "two turns of one conversation ran at once"
    assert most[0] == 2, "both workers answered at the same time"
    turns = len(fake_openai.chat_requests)
    jobs = turn_jobs(app)
    assert jobs["failed"] == 0
    assert jobs["finished"] < turns / 2, f"{jobs['finished']} RQ jobs for {turns} turns"
    assert workers.stop() == [0, 0], workers.logs()


@pytest.mark.slow
def test_a_worker_asked_to_stop_leaves_the_rest_of_the_line_to_the_next_worker(
    apps: AppFactory, fake_openai: FakeOpenAI, workers: WorkerProcesses
) -> None:
    def slow_echo(body: dict[str, Any]) -> Reply:
        time.sleep(0.3)
        return echo(body)

    fake_openai.default = slow_echo
    app = apps.build(fake_openai)
    workers.start(1, app.rq_client)
    chats = [Chat(app, f"user{i}") for i in range(5)]
    for chat in chats:
        chat.say(f"hello from {chat.user}")
    fake_openai.wait_for_requests(1, timeout=10)  # its runner is in the first turn

    assert workers.stop() == [0], workers.logs()
    answered = sum(chat.state().answered for chat in chats)
    assert 1 <= answered < 5, "the stopping worker went on through the line"
    assert turn_jobs(app)["queued"] == 1, "a runner waits for the next worker"

    workers.start(1, app.rq_client)
    wait_until(lambda: all(c.state().answered == 1 for c in chats), 20,
               "the next worker to answer the rest")
    assert [c.outbox() for c in chats] == [[f"reply to: hello from {c.user}"] for c in chats]


def test_a_runner_out_of_time_hands_the_line_to_a_new_runner(
    apps: AppFactory, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("workers.turns.RUNNER_BUDGET_S", 0.0)  # spent after one turn
    fake_openai.default = echo
    app = apps.build(fake_openai)
    chats = [Chat(app, name) for name in ("ana", "ben", "carol")]
    for chat in chats:
        chat.say(f"hi from {chat.user}")

    work(app)

    assert [c.outbox() for c in chats] == [[f"reply to: hi from {c.user}"] for c in chats]
    assert turn_jobs(app) == {"queued": 0, "finished": 3, "failed": 0, "scheduled": 0}


# --- a turn run twice -------------------------------------------------------------------


def rerun_turn(chat: Chat) -> None:
    """Queue the conversation's turn again, as the workers' maintenance does when the
    beats of a turn that did finish were lost."""
    RQTurnQueue(chat.app.rq_client).schedule(chat.conversation_id)
    work(chat.app)


def test_a_turn_run_again_after_it_finished_sends_nothing(
    apps: AppFactory, fake_openai: FakeOpenAI
) -> None:
    fake_openai.default = echo
    chat = Chat(apps.build(fake_openai))
    assert chat.ask("hello") == "reply to: hello"

    rerun_turn(chat)

    assert chat.outbox() == []
    assert len(fake_openai.chat_requests) == 1
    assert turn_jobs(chat.app) == {"queued": 0, "finished": 2, "failed": 0, "scheduled": 0}


def test_a_turn_replayed_after_a_crash_between_sending_and_recording_sends_nothing(
    apps: AppFactory, fake_openai: FakeOpenAI
) -> None:
    fake_openai.default = echo
    chat = Chat(apps.build(fake_openai))
    assert chat.ask("hello") == "reply to: hello"
    # The worker died right after sending: the reply is not in the history, the
    # message not marked answered (what `append_reply` would have written).
    client = chat.app.client
    client.rpop(keys.conversation_turns(chat.conversation_id))
    client.hset(keys.conversation_state(chat.conversation_id), "answered", 0)

    rerun_turn(chat)

    assert chat.outbox() == [], "the reply was sent twice"
    assert len(fake_openai.chat_requests) == 2
    state = chat.state()
    assert (state.received, state.answered) == (1, 1)


# --- a reply that fails once, and the retry ------------------------------------------------


def work_retries(chat: Chat) -> None:
    """Run the turn and its RQ retries to the end.

    A retry RQ parks in its scheduled registry (a `Retry` with an interval) is
    moved to the queue the way RQ's scheduler does when it is due.
    """
    queue = Queue(TURNS, connection=chat.app.rq_client)
    scheduled = ScheduledJobRegistry(queue=queue)
    work(chat.app)
    while scheduled.count:
        for job_id in scheduled.get_job_ids():
            scheduled.requeue(job_id)
        work(chat.app)


def test_a_turn_whose_reply_failed_is_retried_by_a_worker_without_a_scheduler(
    apps: AppFactory, fake_openai: FakeOpenAI
) -> None:
    # `chatjobs worker` runs RQ workers without RQ's scheduler: a retry parked for
    # later in RQ's scheduled registry would never run, and the message never be answered.
    fake_openai.default = echo
    sender = RecordingSender(fail_replies=1)
    chat = Chat(apps.build(fake_openai, senders={"console": sender}))
    chat.say("hello")

    work(chat.app)
    work(chat.app)  # anything queued meanwhile

    assert sender.replies == [(chat.conversation_id, "reply to: hello")]
    assert chat.state().answered == 1
    assert turn_jobs(chat.app)["scheduled"] == 0


def test_a_reply_that_failed_to_send_is_sent_exactly_once_by_the_retry(
    apps: AppFactory, fake_openai: FakeOpenAI
) -> None:
    fake_openai.default = echo
    sender = RecordingSender(fail_replies=1)
    chat = Chat(apps.build(fake_openai, senders={"console": sender}))
    chat.say("hello", message_id="M1")

    work_retries(chat)

    assert sender.attempts == 2, "the first send failed, the retry sent"
    assert sender.replies == [(chat.conversation_id, "reply to: hello")]
    assert chat.state().answered == 1
    assert turn_jobs(chat.app)["failed"] == 0
    # The working state was shown and cleared on each attempt: nothing left "typing".
    assert sender.working_states == [("M1", True), ("M1", False)] * 2
    rerun_turn(chat)
    assert len(sender.replies) == 1
    # The conversation is free again: the next message gets its own turn and answer.
    chat.say("still there?")
    work(chat.app)
    assert sender.replies[-1] == (chat.conversation_id, "reply to: still there?")


def test_an_escalation_in_a_retried_turn_is_posted_once(
    apps: AppFactory, fake_openai: FakeOpenAI
) -> None:
    sender = RecordingSender(fail_replies=1)
    app = apps.build(fake_openai, senders={"console": sender})
    admin(app, "edit escalation_channel=#support", group="bots")
    chat = Chat(app)
    attempt = [tool_call("escalate", {"reason": "wants a human"}), reply("A teammate will call.")]
    fake_openai.script(*attempt, *attempt)  # the retry asks the model again

    chat.say("I want a human")
    work_retries(chat)

    assert sender.posts == [("#support", "Escalation from Ana in console:local:dm-ana::\n"
                                         "wants a human")]
    assert sender.replies == [(chat.conversation_id, "A teammate will call.")]


def test_a_follow_up_in_a_retried_turn_is_scheduled_once(
    apps: AppFactory, fake_openai: FakeOpenAI
) -> None:
    sender = RecordingSender(fail_replies=1)
    app = apps.build(fake_openai, senders={"console": sender})
    chat = Chat(app)
    attempt = [tool_call("schedule_follow_up", {"when": "3d", "instructions": "Check in."}),
               reply("I'll check in on Friday.")]
    fake_openai.script(*attempt, *attempt)  # the retry asks the model again

    chat.say("check on me later")
    work_retries(chat)

    assert sender.replies == [(chat.conversation_id, "I'll check in on Friday.")]
    assert len(TaskStore(app.client).list()) == 1
