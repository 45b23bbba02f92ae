"""Redis restarted mid-load: no message or task lost, every process reconnects on its own.

Each test has a redis-server of its own (AOF on, see `OwnRedis`), two
`chatjobs worker` processes and a `chatjobs scheduler` on it, and the fake
OpenAI model answering after 50 ms with the texts of the messages it answers
(so replies can be matched to messages). A feeder thread streams console
messages through `Ingress.accept` into 20 conversations. Redis is stopped
(SIGTERM: it writes its AOF), kept down for `OUTAGE_S`, and started again on
the same socket and data dir; meanwhile the feeder retries each message it
could not hand over, with the same message id, as a platform retries an event
it got no 200 for. A `once` task comes due during the outage.

- With the workers idle when Redis stops, everything reconnects and nothing
  is lost (this passes).
- With both workers in the middle of a turn when Redis stops (the model holds
  its answers until Redis is down, so this is certain), the workers start over
  once Redis is back and their turns are recovered as stale.
- A Redis failure at the wrong moment: a message stored but its turn never
  queued is queued by the platform's retry; a reply whose send failed because
  Redis went away has its sent-mark cleared once Redis is back, so the turn's
  retry sends it.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from rq import Worker

from adapters.console import ConsoleSender, dm_conversation_id, outbox
from bot.app import App
from bot.ingress import Ingress
from bot.turns import answer_pending
from tests.fakes.openai_server import FakeOpenAI, Reply, Response, tool_call
from tests.faults.conftest import (
    OwnRedis,
    Processes,
    answered_texts,
    echo_reply,
    pending_texts,
    wait_until,
    worker_env,
)
from tests.integration.agent_helpers import AppFactory, Chat, admin, work
from workers.queues import RQTurnQueue

pytestmark = pytest.mark.slow

CONVERSATIONS = 20
ROUNDS = 5
#: How long Redis stays down.
OUTAGE_S = 3.0
#: Between two messages of the stream.
PACE_S = 0.025


class Model:
    """Turns: echo what is answered, after 50 ms (and after `gate` opens).
    Task runs: send one message, then finish."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.gate.set()
        self.in_flight = 0
        self._lock = threading.Lock()

    def __call__(self, body: dict[str, Any]) -> Response:
        run = re.search(r"\[execution: (\w+)\]", body["messages"][0]["content"])
        if run is not None:
            if body["messages"][-1]["role"] == "user":
                return tool_call("send_message", {"text": f"task ran: {run[1]}"})
            return tool_call("finish", {"outcome": "sent"})
        with self._lock:
            self.in_flight += 1
        try:
            time.sleep(0.05)
            self.gate.wait(30)
        finally:
            with self._lock:
                self.in_flight -= 1
        return Reply(echo_reply(pending_texts(body)))


class Feeder(threading.Thread):
    """Streams messages (`rounds` rounds over the chats), retrying each until ingress
    takes it, as a platform redelivers an event that got no answer."""

    def __init__(self, chats: list[Chat], *, rounds: range, prefix: str = "") -> None:
        super().__init__(name="feeder", daemon=True)
        self.chats, self.rounds, self.prefix = chats, rounds, prefix
        self.sent: dict[str, list[str]] = {chat.conversation_id: [] for chat in chats}
        self.handed = 0
        #: Messages that needed more than one try.
        self.retried: list[str] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for round_ in self.rounds:
                for n, chat in enumerate(self.chats):
                    self.deliver(chat, f"{self.prefix}c{n:02d}-m{round_}")
                    time.sleep(PACE_S)
        except BaseException as exc:  # reported by the test
            self.error = exc

    def deliver(self, chat: Chat, text: str) -> None:
        deadline = time.monotonic() + 30
        tries = 0
        while True:
            tries += 1
            try:
                chat.say(text, message_id=text)  # False: a retry of one already taken
                break
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        if tries > 1:
            self.retried.append(text)
        self.sent[chat.conversation_id].append(text)
        self.handed += 1

    def finish(self) -> None:
        self.join(60)
        assert not self.is_alive(), "the feeder did not finish"
        assert self.error is None, repr(self.error)


class Deployment:
    """Two workers and a scheduler on the test's Redis, 20 console users, the model."""

    def __init__(self, tmp_path: Path, own_redis: OwnRedis, apps: AppFactory,
                 fake: FakeOpenAI, processes: Processes) -> None:
        self.redis, self.processes, self.fake = own_redis, processes, fake
        self.model = Model()
        fake.default = self.model
        self.app = apps.build(fake)
        processes.env = worker_env(own_redis.url, tmp_path, OPENAI_API_KEY="test-key",
                                   OPENAI_BASE_URL=fake.base_url, OPENAI_MODEL="fake-model")
        self.workers = [processes.start("worker"), processes.start("worker")]
        self.scheduler = processes.start("scheduler")
        wait_until(lambda: len(Worker.all(connection=self.app.rq_client)) == 2, 30,
                   "2 workers to register")
        self.chats = [Chat(self.app, user=f"u{n:02d}") for n in range(CONVERSATIONS)]
        self.task_id = ""
        self.due = datetime.now(UTC)

    def schedule_task(self, in_s: float) -> None:
        """A `once` task due in `in_s` seconds, writing to console user `taskee`."""
        self.due = datetime.now(UTC) + timedelta(seconds=in_s)
        admin(self.app, f'create name="Mid-outage" description="Say it ran." '
                        f'schedule="once {self.due.isoformat()}" grace=2m '
                        "contact=console:taskee", group="tasks")
        assert self.app.stores.tasks is not None
        self.task_id = self.app.stores.tasks.get("Mid-outage").id

    def outage(self, then: Callable[[], None] = lambda: None) -> tuple[datetime, float]:
        """Stop Redis (SIGTERM), call `then`, wait `OUTAGE_S`, start Redis again.

        Returns the wall and monotonic times just before the start: nothing the
        processes write to Redis can be older.
        """
        assert self.redis.stop() == 0, "redis-server did not exit cleanly on SIGTERM"
        then()
        time.sleep(OUTAGE_S)
        assert datetime.now(UTC) > self.due, "the task must come due during the outage"
        back = datetime.now(UTC), time.monotonic()
        self.redis.start()
        return back

    def wait_reconnected(self, back: datetime) -> None:
        """Both workers beat again (written to Redis) after it came back."""
        def beating() -> bool:
            beats = self.heartbeats()
            return len(beats) == 2 and all(b is not None and b > back for b in beats.values())
        wait_until(beating, 30, "both workers to beat again after the restart",
                   details=self.processes.logs)

    def check_same_processes(self) -> None:
        """No process exited; the workers registered are the ones started."""
        assert [p.poll() for p in [*self.workers, self.scheduler]] == [None] * 3, (
            "a process exited\n" + self.processes.logs()[-3000:])
        assert set(self.heartbeats()) == {w.pid for w in self.workers}, "not the same workers"

    def jobs_done(self) -> int:
        """Jobs the workers finished, by RQ's count."""
        return sum(w.successful_job_count for w in Worker.all(connection=self.app.rq_client))

    def heartbeats(self) -> dict[int | None, datetime | None]:
        return {w.pid: w.last_heartbeat for w in Worker.all(connection=self.app.rq_client)}

    def wait_all_answered(self, feeders: list[Feeder], timeout: float) -> None:
        def done() -> bool:
            return all(chat.state().answered == chat.state().received ==
                       sum(len(f.sent[chat.conversation_id]) for f in feeders)
                       for chat in self.chats)
        wait_until(done, timeout, "every message to be answered", details=self.processes.logs)

    def check_answers(self, feeders: list[Feeder]) -> None:
        """Each conversation's replies answer exactly its messages, once, in order."""
        for chat in self.chats:
            sent = [t for f in feeders for t in f.sent[chat.conversation_id]]
            assert answered_texts(chat.outbox()) == sent, (
                f"{chat.conversation_id}: answers {chat.outbox()} for {sent}")

    def check_task_ran_once_after(self, back: datetime) -> None:
        """The `once` task due during the outage ran once, after it, and wrote once."""
        executions = self.app.stores.executions
        assert executions is not None
        taskee = outbox(dm_conversation_id(user="taskee"))
        wait_until(lambda: self.app.client.llen(taskee) >= 1, 20,
                   "the task's message", details=self.processes.logs)
        [run] = executions.list(self.task_id)
        wait_until(lambda: executions.get(run.id).status == "succeeded", 10,
                   "the task run to succeed")
        time.sleep(1.5)  # the scheduler ticks every second: a second run would show
        assert self.app.client.lrange(taskee, 0, -1) == [f"task ran: {run.id}"]
        assert len(executions.list(self.task_id)) == 1
        run = executions.get(run.id)
        assert run.started is not None and run.started >= back > self.due


@pytest.fixture
def deployment(tmp_path: Path, own_redis: OwnRedis, own_apps: AppFactory,
               fake_openai: FakeOpenAI, processes: Processes) -> Deployment:
    return Deployment(tmp_path, own_redis, own_apps, fake_openai, processes)


def test_idle_workers_and_the_scheduler_reconnect_after_a_redis_restart_losing_nothing(
        deployment: Deployment) -> None:
    d = deployment
    before = Feeder(d.chats, rounds=range(2))
    before.start()
    before.finish()
    d.wait_all_answered([before], 20)
    d.schedule_task(in_s=1.0)
    during = Feeder(d.chats, rounds=range(2, ROUNDS))
    done_before = d.jobs_done()

    # The feeder's first message meets the outage: the "platform" retries it.
    back_at, back = d.outage(then=during.start)
    during.finish()
    assert during.retried, "no message met the outage"

    d.wait_reconnected(back_at)
    reconnected_s = time.monotonic() - back
    d.wait_all_answered([before, during], 30)
    answered_s = time.monotonic() - back
    d.check_answers([before, during])
    d.check_task_ran_once_after(back_at)
    d.check_same_processes()
    assert d.jobs_done() > done_before, "the workers did no work after the restart"
    print(f"\nidle workers: beat again {reconnected_s:.1f}s after Redis was back; every "
          f"message answered {answered_s:.1f}s after; {len(during.retried)} messages retried")


def test_workers_mid_turn_survive_a_redis_restart_and_lose_nothing(
        deployment: Deployment) -> None:
    d = deployment
    stream = Feeder(d.chats, rounds=range(ROUNDS))
    stream.start()
    wait_until(lambda: stream.handed >= 2 * CONVERSATIONS, 20, "the stream to get going")
    d.schedule_task(in_s=1.0)
    # Both workers are in a turn, waiting on the model, when Redis stops; then
    # their turns go on against a Redis that is down.
    d.model.gate.clear()
    wait_until(lambda: d.model.in_flight == 2, 10, "both workers to be mid-turn")
    back_at, back = d.outage(then=d.model.gate.set)
    stream.finish()
    assert stream.retried, "no message met the outage"

    # Nothing restarts the workers: they must come back by themselves.
    time.sleep(0.5)
    d.check_same_processes()
    d.wait_reconnected(back_at)
    reconnected_s = time.monotonic() - back
    d.wait_all_answered([stream], 40)
    answered_s = time.monotonic() - back
    d.check_answers([stream])
    d.check_task_ran_once_after(back_at)
    d.check_same_processes()
    print(f"\nworkers mid-turn: beat again {reconnected_s:.1f}s after Redis was back; every "
          f"message answered {answered_s:.1f}s after; {len(stream.retried)} retried")


# --- the wrong moment, in this process -------------------------------------------------------


class StopsRedisFirst:
    """Wraps a component: Redis goes down just before its `method` runs, the first time."""

    def __init__(self, inner: Any, server: OwnRedis, method: str) -> None:
        self._inner, self._server, self._method = inner, server, method
        self._armed = True

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name != self._method:
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            if self._armed:
                self._armed = False
                assert self._server.stop() == 0
            return attr(*args, **kwargs)
        return call


def test_a_message_stored_just_before_redis_stopped_is_answered_after_the_platform_retries(
        own_redis: OwnRedis, own_apps: AppFactory, fake_openai: FakeOpenAI) -> None:
    fake_openai.default = Model()
    app = own_apps.build(fake_openai)
    # Redis stops after the message is appended, before its turn is queued.
    flaky = Ingress(client=app.client, conversations=app.conversations, contacts=app.contacts,
                    queue=StopsRedisFirst(RQTurnQueue(app.rq_client), own_redis, "schedule"))
    chat = Chat(app)
    message = chat.message("hello", message_id="M1")
    with pytest.raises(redis.ConnectionError):
        flaky.accept(message, contact=chat.contact)  # the platform gets no 200
    own_redis.start()

    retried = app.ingress.accept(message, contact=chat.contact)  # it delivers again

    assert not retried, "the retry is recognized as the same message"
    assert chat.state().received == 1
    work(app)  # a worker takes whatever is queued
    assert chat.outbox() == ["answered: hello"], "no turn was queued for the message"


def test_a_reply_whose_send_met_a_redis_outage_is_sent_by_the_retried_turn(
        own_redis: OwnRedis, own_apps: AppFactory, fake_openai: FakeOpenAI) -> None:
    fake_openai.default = Model()
    sender = StopsRedisFirst(ConsoleSender(own_apps.client), own_redis, "reply")
    app: App = own_apps.build(fake_openai, senders={"console": sender})
    chat = Chat(app)
    assert chat.say("hello")
    # Redis stops as the reply is sent (so the send fails) and is back a second later.
    restart = threading.Timer(1.0, own_redis.start)
    restart.start()
    with pytest.raises(redis.ConnectionError):
        answer_pending(chat.conversation_id, app.agent)  # the turn dies sending
    restart.join()

    # RQ's retry of the turn (or the next worker to take it) runs it again.
    assert answer_pending(chat.conversation_id, app.agent) == "answered"

    assert chat.state().answered == 1
    assert chat.outbox() == ["answered: hello"], "the reply was never sent"
