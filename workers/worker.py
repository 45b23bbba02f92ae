"""Running RQ workers: `chatjobs worker`, and one inside `chatjobs chat`.

Workers are `SimpleWorker`s: they run jobs in their own process instead of
forking one per job, which is about three times the throughput here and
keeps native libraries (numpy, PyStemmer) happy.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

import redis
from rq import Queue, SimpleWorker
from rq.timeouts import TimerDeathPenalty

from workers import runtime
from workers.queues import TASKS, TURNS

log = logging.getLogger(__name__)

QUEUES = (TURNS, TASKS)
#: How often a worker looks for jobs whose worker died (RQ's default is 10 min).
MAINTENANCE_INTERVAL_S = 30


def run_worker(*, connection: redis.Redis, rt: runtime.Runtime,
               queues: Sequence[str] = QUEUES, burst: bool = False) -> bool:
    """Work on the queues in this (main) thread until stopped; True if any job ran."""
    runtime.install(rt)
    worker = SimpleWorker(list(queues), connection=connection,
                          maintenance_interval=MAINTENANCE_INTERVAL_S)
    return worker.work(burst=burst, logging_level=logging.getLevelName(log.getEffectiveLevel()))


class _ThreadWorker(SimpleWorker):
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
                                     maintenance_interval=MAINTENANCE_INTERVAL_S)
        self._rt = rt
        self._thread = threading.Thread(target=self._run, name="chatjobs-worker", daemon=True)

    def start(self) -> None:
        """Start working in the background."""
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the job in hand, then stop."""
        self._worker._stop_requested = True
        self._queues[0].enqueue("workers.turns.wake")  # end the wait for a job
        self._thread.join(timeout)

    def _run(self) -> None:
        runtime.install(self._rt)
        self._worker.work(logging_level="WARNING")
