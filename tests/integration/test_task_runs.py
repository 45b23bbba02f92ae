"""Task executions end to end: the real app, real RQ workers, the console sender,
the offline model or the fake OpenAI server; the scheduler ticks on an injected clock."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import redis

from bot.app import App, build_scheduler
from tests.fakes.openai_server import FakeOpenAI, reply, tool_call
from tests.helpers import Clock
from tests.integration.agent_helpers import AppFactory, Chat, admin, work
from workers.queues import TASKS, TURNS

BOTH = (TURNS, TASKS)


@pytest.fixture
def apps(redis_url: str, redis_client: redis.Redis) -> Iterator[AppFactory]:
    factory = AppFactory(redis_url, redis_client)
    yield factory
    factory.close()


def task(app: App, name: str = "Check in", **fields: str) -> str:
    """Create a task for console user ana; returns its name."""
    values = {"description": "Ask Ana whether the import worked.",
              "schedule": "daily 09:00", "contact": "console:ana", **fields}
    words = " ".join(f'{k}="{v}"' for k, v in values.items())
    admin(app, f'create name="{name}" {words}', group="tasks")
    return name


def runs(app: App, name: str) -> list:
    assert app.stores.tasks is not None and app.stores.executions is not None
    return app.stores.executions.list(app.stores.tasks.get(name).id, limit=50)


def test_trigger_now_sends_the_message_once_and_records_the_outcome(apps: AppFactory) -> None:
    app = apps.build()
    ana = Chat(app)
    task(app)
    result = admin(app, 'trigger "Check in"', group="tasks")
    assert result.title.startswith("Started 'Check in' now")
    work(app, BOTH)
    assert ana.next_reply() == "Ask Ana whether the import worked."
    assert ana.outbox() == []
    [run] = runs(app, "Check in")
    assert (run.status, run.messages, run.conversation) == ("succeeded", 1, ana.conversation_id)
    assert run.outcome == "sent: Ask Ana whether the import worked."
    shown = admin(app, 'show "Check in"', group="tasks")
    fields = dict(pair for block in shown.blocks if hasattr(block, "pairs")
                  for pair in block.pairs)
    assert fields["status"] == "idle"
    assert fields["last outcome"] == run.outcome
    listing = admin(app, 'executions "Check in"', group="tasks")
    assert any(row[0] == run.id and row[1] == "succeeded" for row in listing.blocks[0].rows)
    # Running the queue again sends nothing more: the execution is done.
    work(app, BOTH)
    assert ana.next_reply(timeout=0.2) is None


def test_trigger_twice_makes_one_execution(apps: AppFactory) -> None:
    app = apps.build()
    ana = Chat(app)
    task(app)
    admin(app, 'trigger "Check in"', group="tasks")
    second = admin(app, 'trigger "Check in"', group="tasks")
    assert "already queued" in second.title and "nothing new was started" in second.title
    work(app, BOTH)
    assert len(runs(app, "Check in")) == 1
    assert ana.next_reply() is not None and ana.next_reply(timeout=0.2) is None


def test_a_reply_inside_the_window_is_a_turn_of_the_task_and_after_it_a_normal_one(
        apps: AppFactory, fake_openai: FakeOpenAI) -> None:
    clock = Clock(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
    app = apps.build(fake_openai, clock=clock)
    ana = Chat(app)
    task(app, session="30m")
    fake_openai.script(tool_call("send_message", {"text": "Did the import work?"}),
                       tool_call("finish", {"outcome": "asked"}))
    admin(app, 'trigger "Check in"', group="tasks")
    work(app, BOTH)
    assert ana.next_reply() == "Did the import work?"
    fake_openai.reset()
    fake_openai.script(reply("Great, glad it worked!"))
    assert ana.ask("yes it did") == "Great, glad it worked!"
    system = fake_openai.chat_requests[-1].json["messages"][0]["content"]
    assert "## Task: Check in" in system and "Ask Ana whether the import worked." in system
    [run] = runs(app, "Check in")
    assert run.iterations == 3  # two calls in the run, one in the reply's turn
    clock.advance(minutes=31)
    fake_openai.script(reply("Hello again."))
    assert ana.ask("another thing") == "Hello again."
    system = fake_openai.chat_requests[-1].json["messages"][0]["content"]
    assert "## Task:" not in system
    assert runs(app, "Check in")[0].iterations == 3


def test_cancel_during_a_run_stops_it_and_nothing_more_is_sent(
        apps: AppFactory, fake_openai: FakeOpenAI) -> None:
    app = apps.build(fake_openai)
    ana = Chat(app)
    task(app)
    fake_openai.script(tool_call("send_message", {"text": "First message"}))
    gate = threading.Event()
    original = fake_openai.default

    def slow_second(body: dict) -> object:
        gate.wait(10)
        return tool_call("send_message", {"text": "Second message"})

    fake_openai.default = slow_second
    admin(app, 'trigger "Check in"', group="tasks")
    cancelled: list[str] = []

    def admin_cancels_while_the_model_thinks() -> None:
        fake_openai.wait_for_requests(2, timeout=10)
        cancelled.append(admin(app, 'cancel "Check in"', group="tasks").title)
        gate.set()

    admin_thread = threading.Thread(target=admin_cancels_while_the_model_thinks)
    admin_thread.start()
    work(app, BOTH)  # the run, on a real worker in this (main) thread
    admin_thread.join(10)
    fake_openai.default = original
    assert cancelled and cancelled[0].startswith("Cancelled the run")
    assert ana.next_reply() == "First message"
    assert ana.next_reply(timeout=0.5) is None
    [run] = runs(app, "Check in")
    assert run.status == "cancelled" and run.messages == 1
    assert app.stores.tasks.get("Check in").next_run is not None
    assert app.conversations.session(ana.conversation_id, now=datetime.now(UTC)) is None


def test_a_once_task_is_queued_at_its_due_time_never_before(apps: AppFactory) -> None:
    clock = Clock(datetime(2026, 11, 23, 8, 59, 58, tzinfo=UTC))
    app = apps.build()
    assert app.stores.tasks is not None
    app.stores.tasks.clock = clock
    ana = Chat(app)
    task(app, schedule="once 2026-11-23 09:00", timezone="UTC")
    scheduler = build_scheduler(app)
    scheduler._clock = clock
    assert scheduler.tick() == 0
    clock.advance(seconds=1, milliseconds=999)
    assert scheduler.tick() == 0
    clock.advance(milliseconds=1)
    assert scheduler.tick() == 1
    assert scheduler.tick() == 0
    work(app, BOTH)
    assert ana.next_reply() == "Ask Ana whether the import worked."
    assert app.stores.tasks.get("Check in").next_run is None
