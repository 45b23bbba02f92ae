"""Tasks across processes: `chatjobs scheduler` and `chatjobs worker` on one Redis.

The scheduler and the worker are real processes on the session's Redis; the
task's contact is a console user, whose messages land in the console outbox
this test reads.
"""

from __future__ import annotations

import re
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis

from adapters.console import outbox
from bot.app import App
from tests.fakes.openai_server import FakeOpenAI, Reply, Response, tool_call
from tests.integration.agent_helpers import AppFactory, Chat, admin
from tests.integration.clirunner import CHATJOBS, clean_env
from tests.integration.test_workers import wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def apps(redis_url: str, redis_client: redis.Redis) -> Iterator[AppFactory]:
    factory = AppFactory(redis_url, redis_client)
    yield factory
    factory.close()


class Processes:
    """`chatjobs <command>` processes of one test; killed at teardown."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root, self.env = root, env
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, command: str) -> subprocess.Popen[bytes]:
        log = (self.root / f"{command}-{len(self.procs)}.log").open("wb")
        proc = subprocess.Popen([str(CHATJOBS), command], cwd=self.root, env=self.env,
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.procs.append(proc)
        return proc

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.root.glob("*.log")))

    def kill(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)


@pytest.fixture
def processes(tmp_path: Path, redis_url: str) -> Iterator[Processes]:
    running = Processes(tmp_path, clean_env(REDIS_URL=redis_url,
                                            CHATJOBS_DATA_DIR=str(tmp_path / "data")))
    yield running
    running.kill()


def messages_to(app: App, chat: Chat) -> list[str]:
    return list(app.client.lrange(outbox(chat.conversation_id), 0, -1))


def test_a_once_task_posts_at_its_due_time_not_before_and_within_two_seconds(
        apps: AppFactory, processes: Processes) -> None:
    app = apps.build()  # the offline model: it sends the task's instructions
    ana = Chat(app)
    processes.start("worker")
    processes.start("scheduler")
    due = (datetime.now(UTC) + timedelta(seconds=2)).replace(microsecond=500_000)
    admin(app, f'create name="Check in" description="Is the import working now?" '
               f'schedule="once {due.isoformat()}" contact=console:ana', group="tasks")
    wait_until(lambda: bool(messages_to(app, ana)), 15, "the follow-up\n" + processes.logs())
    arrived = datetime.now(UTC)
    assert messages_to(app, ana) == ["Is the import working now?"]
    assert app.stores.executions is not None and app.stores.tasks is not None
    [run] = app.stores.executions.list(app.stores.tasks.get("Check in").id)
    assert run.started is not None and run.started >= due
    assert arrived - due < timedelta(seconds=2), f"arrived {arrived - due} after the due time"


def test_a_worker_killed_mid_execution_fails_it_within_60s_without_a_second_post(
        apps: AppFactory, fake_openai: FakeOpenAI, processes: Processes) -> None:
    release = threading.Event()
    stuck: list[str] = []

    def model(body: dict[str, Any]) -> Response:
        system = body["messages"][0]["content"]
        run = re.search(r"\[execution: (\w+)\]", system)
        last = body["messages"][-1]
        if run is None:
            return Reply("ok")
        if last["role"] == "user":
            return tool_call("send_message", {"text": f"Hello from {run[1]}"})
        if not stuck or stuck[0] == run[1]:
            stuck[:] = [run[1]]
            release.wait(60)  # the first run's worker dies while the model thinks
            return Reply("too late")
        return tool_call("finish", {"outcome": "said hello"})

    fake_openai.default = model
    processes.env.update(OPENAI_API_KEY="test-key", OPENAI_BASE_URL=fake_openai.base_url,
                         OPENAI_MODEL="fake-model")
    app = apps.build(fake_openai)
    ana = Chat(app)
    admin(app, 'create name="Hello" description="Say hello." schedule="cron * * * * *" '
               "contact=console:ana", group="tasks")
    assert app.stores.executions is not None and app.stores.tasks is not None
    task_id = app.stores.tasks.get("Hello").id
    worker = processes.start("worker")
    processes.start("scheduler")
    admin(app, "trigger Hello", group="tasks")
    wait_until(lambda: bool(stuck), 20, "the run to reach the model\n" + processes.logs())
    first = stuck[0]
    worker.kill()
    worker.wait(10)
    killed = time.monotonic()
    # The sweep marks the run failed, then the task idle (two writes): wait for both.
    wait_until(lambda: app.stores.executions.get(first).status == "failed"
               and app.stores.tasks.get(task_id).status == "idle", 60,
               "the dead worker's run to be marked failed and its task idle")
    assert time.monotonic() - killed < 60
    after = app.stores.tasks.get(task_id)
    assert after.next_run is not None and after.next_run <= datetime.now(UTC) + timedelta(
        seconds=61), "the schedule goes on: the next run is at most a minute away"
    # Rather than wait up to a minute for it, bring the next run forward: what matters is
    # that the scheduler starts the task again after its failed run.
    soon = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
    admin(app, f'edit Hello schedule="once {soon}"', group="tasks")
    processes.start("worker")
    wait_until(lambda: any(r.status == "succeeded"
                           for r in app.stores.executions.list(task_id)), 30,
               "the next scheduled run\n" + processes.logs())
    release.set()
    sent = messages_to(app, ana)
    assert sent.count(f"Hello from {first}") == 1
    assert len(sent) == 2, sent
