"""Shared pieces of the agent-turn tests: the real app on the session's Redis, a burst worker.

- `AppFactory` builds `bot.app.build_app` apps on the session's Redis (the
  openai SDK pointed at a `FakeOpenAI`, or the offline model) and closes
  their RQ connections at the end of the test.
- `work(app)` runs a real `rq.SimpleWorker` in burst mode in this process,
  with the app's runtime installed (in a copied context, so it does not leak
  into other tests) and pytest's signal handlers restored afterwards.
- `Chat` is one console user: messages go in through `Ingress.accept` like
  the console adapter sends them, replies come out of the console outbox
  through `wait_for_reply`.
- `RecordingSender` is a test double of the platform behind the `Sender` port.
"""

from __future__ import annotations

import contextvars
import dataclasses
import itertools
import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import redis
from rq import Queue, SimpleWorker
from rq.registry import FailedJobRegistry, FinishedJobRegistry, ScheduledJobRegistry

from adapters.console import WORKSPACE, ConsoleSender, outbox, wait_for_reply
from bot.app import App, build_app
from bot.commands import Caller, Result, run_command
from bot.models import Contact, IncomingMessage
from bot.ports import Sender
from config.settings import Settings, load_settings
from jobs_store.conversations import ConversationState
from tests.fakes.openai_server import FakeOpenAI
from workers import runtime
from workers.queues import TURNS

ADMIN = Caller(user="U_ADMIN", is_admin=True)
_ids = itertools.count(1)


def make_settings(fake: FakeOpenAI | None = None, **overrides: Any) -> Settings:
    """Settings that ignore the developer's shell and `.env`: the fake server, else offline."""
    values: dict[str, Any] = {
        "_env_file": None,
        "redis_url": None,
        "openai_api_key": None,
        "openai_base_url": None,
        "openai_model": "fake-model",
        "openai_embedding_model": None,
        "embeddings_base_url": None,
        "chatjobs_model_retries": 2,
        "chatjobs_model_timeout": 10.0,
    }
    if fake is not None:
        values.update(openai_api_key="test-key", openai_base_url=fake.base_url)
    values.update(overrides)
    return load_settings(**values)


class AppFactory:
    """Builds apps on the session's Redis and closes what they opened."""

    def __init__(self, redis_url: str, client: redis.Redis) -> None:
        self.redis_url = redis_url
        self.client = client
        self._opened: list[redis.Redis] = []

    def build(self, fake: FakeOpenAI | None = None, *,
              senders: Mapping[str, Sender] | None = None,
              clock: Callable[[], datetime] | None = None, **overrides: Any) -> App:
        """An app as `chatjobs worker` builds it; `clock` is the turns' clock."""
        rq_client = redis.Redis.from_url(self.redis_url)
        self._opened.append(rq_client)
        app = build_app(make_settings(fake, **overrides), url=self.redis_url,
                        client=self.client, rq_client=rq_client,
                        senders=senders if senders is not None
                        else {"console": ConsoleSender(self.client)})
        if clock is not None:
            app = dataclasses.replace(app, agent=dataclasses.replace(app.agent, clock=clock))
        return app

    def close(self) -> None:
        for client in self._opened:
            client.close()


class BurstWorker(SimpleWorker):
    """RQ's SimpleWorker without the pub/sub thread for remote commands (`rq` shell
    commands to stop a worker); nothing here sends them, and stopping that thread
    takes up to a second per burst."""

    def subscribe(self) -> None:
        self.pubsub_thread = None


def work(app: App, queues: tuple[str, ...] = (TURNS,)) -> bool:
    """Run the queues (default `turns`) to empty on a real RQ worker in this process;
    True if a job ran."""
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}

    def run() -> bool:
        runtime.install(runtime.Runtime(agent=app.agent, redis=app.client))
        worker = BurstWorker([Queue(name, connection=app.rq_client) for name in queues],
                             connection=app.rq_client)
        return worker.work(burst=True, logging_level="WARNING")

    try:
        return contextvars.copy_context().run(run)
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)


def turn_jobs(app: App) -> dict[str, int]:
    """How many turn jobs RQ holds, where."""
    queue = Queue(TURNS, connection=app.rq_client)
    return {
        "queued": queue.count,
        "finished": FinishedJobRegistry(queue=queue).count,
        "failed": FailedJobRegistry(queue=queue).count,
        "scheduled": ScheduledJobRegistry(queue=queue).count,
    }


def admin(app: App, command: str, group: str = "jobs") -> Result:
    """Run an admin command on the app's stores; it must succeed."""
    result = run_command(group, command, caller=ADMIN, stores=app.stores)
    assert result.ok, result.title
    return result


def stats_rows(app: App) -> dict[str, dict[str, str]]:
    """`/jobs stats` as {job name: {column: value}}."""
    result = admin(app, "stats")
    table = next(block for block in result.blocks if hasattr(block, "rows"))
    return {row[0]: dict(zip(table.columns, row, strict=True)) for row in table.rows}


class Chat:
    """One console user talking to the agent through ingress."""

    def __init__(self, app: App, user: str = "ana", *, contact: Contact | None = None,
                 save_contact: bool = True) -> None:
        self.app = app
        self.user = user
        self.contact = contact if contact is not None else Contact(
            platform="console", workspace=WORKSPACE, user=user, display_name=user.title(),
            role="owner")
        self._save_contact = save_contact

    def message(self, text: str, *, message_id: str | None = None) -> IncomingMessage:
        """The message the console adapter would make of a typed line."""
        return IncomingMessage(
            platform="console", workspace=WORKSPACE, channel=f"dm-{self.user}", user=self.user,
            user_name=self.user, text=text, message_id=message_id or f"m{next(_ids)}",
            mentions_bot=True, is_dm=True, raw={"line": text})

    @property
    def conversation_id(self) -> str:
        return self.message("").conversation_id

    def say(self, text: str, *, message_id: str | None = None) -> bool:
        """Hand a message to ingress (no reply yet: a worker must run)."""
        return self.app.ingress.accept(self.message(text, message_id=message_id),
                                       contact=self.contact if self._save_contact else None)

    def ask(self, text: str) -> str:
        """Say `text`, run the worker, and return the reply (with posts made before it)."""
        assert self.say(text)
        work(self.app)
        reply = self.next_reply()
        assert reply is not None, f"no reply to {text!r}"
        return reply

    def next_reply(self, timeout: float = 2.0) -> str | None:
        """The next reply from the outbox, as the console reads it."""
        return wait_for_reply(self.app.client, self.conversation_id, timeout=timeout)

    def outbox(self) -> list[str]:
        """Every reply not read yet, oldest first."""
        return list(self.app.client.lrange(outbox(self.conversation_id), 0, -1))

    def state(self) -> ConversationState:
        return self.app.conversations.state(self.conversation_id)


@dataclass
class RecordingSender:
    """The platform behind the `Sender` port: records what it was asked to send.

    `fail_replies` makes that many first replies raise, as a platform outage would.
    """

    platform: str = "console"
    fail_replies: int = 0
    replies: list[tuple[str, str]] = field(default_factory=list)
    posts: list[tuple[str, str]] = field(default_factory=list)
    #: (message id, active) each time the working state was shown or cleared.
    working_states: list[tuple[str, bool]] = field(default_factory=list)
    #: (workspace, user) each time a DM was asked for.
    directs: list[tuple[str, str]] = field(default_factory=list)
    attempts: int = 0

    def reply(self, *, conversation_id: str, text: str) -> None:
        self.attempts += 1
        if self.fail_replies > 0:
            self.fail_replies -= 1
            raise ConnectionError("the platform is down")
        self.replies.append((conversation_id, text))

    def post(self, *, channel: str, text: str) -> None:
        self.posts.append((channel, text))

    def direct(self, *, workspace: str, user: str) -> str:
        """Records the ask; the id is shaped like the console's DM with the user."""
        self.directs.append((workspace, user))
        return f"{self.platform}:{workspace}:dm-{user}:"

    def channel(self, *, workspace: str, channel: str) -> str:
        return f"{self.platform}:{workspace}:{channel}:"

    def working(self, *, conversation_id: str, message_id: str, active: bool) -> None:
        self.working_states.append((message_id, active))
