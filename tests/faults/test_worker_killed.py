"""A worker SIGKILLed mid-turn: the turn is answered once, by another worker, in bounded time.

Two `chatjobs worker` processes on the session's Redis; the fake model holds
its answer to one message ("hold") until the test releases it. The worker
holding that turn (found through RQ: the worker whose current job is a turn
runner, and its pid) is SIGKILLed while it waits on the model; the person then writes
again. The surviving worker must answer both messages, once each, in order.

How long may that take? A running turn beats every 3 s
(`workers.turns.BEAT_S`); a turn without a beat for 12 s is queued again by
the next worker maintenance, which idle workers run every 15 s
(`WORKER_TTL_S`, `MAINTENANCE_INTERVAL_S`). The bound is 45 s (set
FAULTS_RECOVERY_BOUND_S to change it; the test prints the time it took).
Before turns beat, RQ's own detection took 405 s here.
"""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from rq import Worker
from rq.registry import StartedJobRegistry

from jobs_store.keys import TURN_FLAG_TTL_S, turn_flag
from tests.fakes.openai_server import FakeOpenAI, Reply, Response
from tests.faults.conftest import (
    Processes,
    answered_texts,
    echo_reply,
    pending_texts,
    wait_until,
    worker_env,
)
from tests.integration.agent_helpers import AppFactory, Chat
from workers.queues import TURNS, running_turns
from workers.worker import MAINTENANCE_INTERVAL_S

pytestmark = pytest.mark.slow

RECOVERY_BOUND_S = float(os.environ.get("FAULTS_RECOVERY_BOUND_S",
                                        MAINTENANCE_INTERVAL_S + 15))


def test_a_turn_whose_worker_is_killed_is_answered_once_by_the_other_worker(
        tmp_path: Path, redis_url: str, apps: AppFactory, fake_openai: FakeOpenAI,
        processes: Processes) -> None:
    release = threading.Event()
    held: list[float] = []
    lock = threading.Lock()

    def model(body: dict[str, Any]) -> Response:
        texts = pending_texts(body)
        with lock:
            first_hold = "hold" in texts and not held
            if first_hold:
                held.append(time.monotonic())
        if first_hold:
            release.wait(RECOVERY_BOUND_S + 30)  # the worker asking dies meanwhile
        return Reply(echo_reply(texts))

    fake_openai.default = model
    app = apps.build(fake_openai)
    processes.env = worker_env(redis_url, tmp_path, OPENAI_API_KEY="test-key",
                               OPENAI_BASE_URL=fake_openai.base_url, OPENAI_MODEL="fake-model")
    procs = {p.pid: p for p in (processes.start("worker"), processes.start("worker"))}
    wait_until(lambda: len(Worker.all(connection=app.rq_client)) == 2, 30,
               "2 workers to register", details=processes.logs)
    chat = Chat(app)

    try:
        assert chat.say("hold")
        wait_until(lambda: held, 20, "the turn to reach the model", details=processes.logs)

        def holder() -> Any:
            return next((w for w in Worker.all(connection=app.rq_client)
                         if w.get_current_job_id() is not None), None)

        worker = wait_until(holder, 10, "RQ to show the worker holding the turn")
        job = worker.get_current_job()
        assert job is not None and job.func_name == "workers.turns.run_turns"
        assert app.client.zscore(running_turns(), chat.conversation_id) is not None
        assert worker.pid in procs, f"worker pid {worker.pid} is not one of ours: {procs}"
        victim = procs[worker.pid]
        victim.kill()
        victim.wait(10)
        killed_at, killed = datetime.now(UTC), time.monotonic()
        started = StartedJobRegistry(TURNS, connection=app.rq_client)
        entries: Any = app.rq_client.zrange(started.key, 0, -1, withscores=True)
        expiries = [float(score) for _, score in entries]
        abandoned_in = [round(s - killed_at.timestamp(), 1) for s in expiries]
        flag_ttl = app.client.ttl(turn_flag(chat.conversation_id))

        assert chat.say("are you there?")  # the person writes again meanwhile

        def answered() -> bool:
            return chat.state().answered == 2

        try:
            wait_until(answered, RECOVERY_BOUND_S, "both messages to be answered", every=0.2)
        except AssertionError:
            raise AssertionError(
                f"no answer {RECOVERY_BOUND_S:.0f}s after the worker was killed; RQ's "
                f"started registry expires the turn in {abandoned_in} s, the turn flag in "
                f"{flag_ttl} s (of {TURN_FLAG_TTL_S})\n{processes.logs()[-4000:]}") from None
        recovered_s = time.monotonic() - killed
        replies = chat.outbox()
        texts = answered_texts(replies)
        assert texts == ["hold", "are you there?"], f"answered twice or out of order: {replies}"
        [survivor] = [w for w in Worker.all(connection=app.rq_client) if w.pid != victim.pid]
        assert survivor.successful_job_count >= 1, "the other worker did not answer"
        assert survivor.pid is not None and procs[survivor.pid].poll() is None
        print(f"\nworker killed: the turn was answered {recovered_s:.1f}s later "
              f"(RQ's registry said {abandoned_in} s)")
    finally:
        release.set()

