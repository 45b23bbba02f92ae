"""Running RQ workers: `chatjobs worker`, and one inside `chatjobs chat`.

Workers are `SimpleWorker`s: they run jobs in their own process instead of
forking one per job, which is about three times the throughput here and
keeps native libraries (numpy, PyStemmer) happy.

Their maintenance, every `MAINTENANCE_INTERVAL_S` (an idle worker wakes for
it, `WORKER_TTL_S`), also queues again the turns whose worker died
(`workers.turns.recover_stale_turns`). A worker that loses Redis in the middle
of a job starts over once Redis is back instead of exiting.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import threading
import time
from collections.abc import Sequence
from types import FrameType

import redis
from rq import Queue, SimpleWorker
from rq.timeouts import TimerDeathPenalty

from workers import runtime
from workers.queues import TASKS, TURNS, RQTurnQueue
from workers.turns import recover_stale_turns

log = logging.getLogger(__name__)

QUEUES = (TURNS, TASKS)
#: How often a worker looks for jobs whose worker died (RQ's default is 10 min).
MAINTENANCE_INTERVAL_S = 15
#: An idle worker waits this long minus 15 s for a job, then looks around (RQ's
#: default, 420, would put 405 s between the maintenance of idle workers).
WORKER_TTL_S = 30
#: How long a worker that lost Redis waits between tries to reach it again.
RECONNECT_S = 1.0


class ChatjobsWorker(SimpleWorker):
    """A SimpleWorker whose maintenance also recovers turns whose worker died, and
    whose warm shutdown also stops a turn runner after its turn."""

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        """Warm shutdown: the job in hand ends, and a turn runner after its turn."""
        runtime.current().stopping.set()
        super().request_stop(signum, frame)

    def run_maintenance_tasks(self) -> None:
        super().run_maintenance_tasks()
        try:
            recover_stale_turns(runtime.current().redis, RQTurnQueue(self.connection))
        except redis.RedisError as exc:
            log.warning("could not look for stale turns: %s", exc)


def run_worker(*, connection: redis.Redis, rt: runtime.Runtime,
               queues: Sequence[str] = QUEUES, burst: bool = False) -> bool:
    """Work on the queues in this (main) thread until stopped; True if any job ran.

    If Redis goes away in the middle of a job, RQ's worker gives up; this
    waits for Redis and starts a new one (the job's turn is recovered as stale).
    """
    runtime.install(rt)
    # What start-up built (imports, clients, the agent) lives until exit: keep it out
    # of the garbage collector's full passes, which would otherwise walk it all again
    # and again while turns run.
    gc.freeze()
    level = logging.getLevelName(log.getEffectiveLevel())
    while True:
        worker = ChatjobsWorker(list(queues), connection=connection, worker_ttl=WORKER_TTL_S,
                                maintenance_interval=MAINTENANCE_INTERVAL_S)
        try:
            return worker.work(burst=burst, logging_level=level)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            log.warning("worker lost Redis (%s); starting again once it is back", exc)
            _wait_for(connection)
            with contextlib.suppress(redis.RedisError):
                worker.register_death()  # the new worker takes its place


def _wait_for(connection: redis.Redis) -> None:
    while True:
        try:
            connection.ping()
            return
        except redis.RedisError:
            time.sleep(RECONNECT_S)


class _ThreadWorker(ChatjobsWorker):
    """A SimpleWorker for a background thread: no signal handlers, timer timeouts."""

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self) -> None:
        """Signals belong to the main thread (the console)."""


class BackgroundWorker:
    """A worker on a thread of this process, for the console chat."""

    def __init__(self, *, connection: redis.Redis, rt: runtime.Runtime,
                 queues: Sequence[str] = QUEUES) -> None:
        self._queues = [Queue(name, connection=connection) for name in queues]
        self._worker = _ThreadWorker(self._queues, connection=connection,
                                     worker_ttl=WORKER_TTL_S,
                                     maintenance_interval=MAINTENANCE_INTERVAL_S)
        self._rt = rt
        self._thread = threading.Thread(target=self._run, name="chatjobs-worker", daemon=True)

    def start(self) -> None:
        """Start working in the background."""
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the job in hand, then stop."""
        self._worker._stop_requested = True
        self._rt.stopping.set()
        self._queues[0].enqueue("workers.turns.wake")  # end the wait for a job
        self._thread.join(timeout)

    def _run(self) -> None:
        runtime.install(self._rt)
        self._worker.work(logging_level="WARNING")
