"""The RQ job that carries out a task's execution, and the queue it comes from.

Executions run on the RQ queue `tasks` under their own id as the RQ job id.
While one runs, a thread beats every `BEAT_S` seconds; the scheduler marks an
execution whose beats stopped for `STALE_AFTER_S` as failed (a SIGKILLed
worker), so nobody waits on RQ's own detection of abandoned jobs.

Executions are not retried: a run whose worker died is failed, the task's
next run happens on schedule, and nothing is sent twice (`bot.task_runs`).

Cancelling is cooperative: the run reads its status before every model call
and every message. RQ's stop command would not help here: it kills a forked
work horse, and our SimpleWorkers run jobs in their own process.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Mapping, Sequence

import redis
from rq import Queue
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job

from bot.task_runs import carry_out
from workers import runtime
from workers.queues import TASKS
from workers.runtime import BEAT_S

log = logging.getLogger(__name__)


class RQExecutionQueue:
    """Queues executions on the RQ queue `tasks` (the `ExecutionQueue` port)."""

    def __init__(self, connection: redis.Redis) -> None:
        # RQ pickles jobs: it needs a connection without decode_responses.
        self._redis = connection
        self._queue = Queue(TASKS, connection=connection)

    def enqueue(self, runs: Mapping[str, float]) -> None:
        with self._redis.pipeline(transaction=False) as pipe:
            self._queue.enqueue_many([Queue.prepare_data(
                "workers.executions.run_execution", (execution_id,), job_id=execution_id,
                timeout=int(timeout_s), description=f"task execution {execution_id}")
                for execution_id, timeout_s in runs.items()], pipeline=pipe)
            pipe.execute()

    def lost(self, execution_ids: Sequence[str]) -> list[str]:
        with self._redis.pipeline(transaction=False) as pipe:
            for execution_id in execution_ids:
                pipe.exists(Job.key_for(execution_id))
            found = pipe.execute()
        return [i for i, exists in zip(execution_ids, found, strict=True) if not exists]

    def discard(self, execution_id: str) -> None:
        # Already gone, running or done: the run itself checks its status.
        with contextlib.suppress(NoSuchJobError, InvalidJobOperation):
            Job.fetch(execution_id, connection=self._redis).cancel()


def run_execution(execution_id: str) -> None:
    """Carry out one execution (idempotent: only a queued one runs)."""
    rt = runtime.current()
    executions = rt.agent.executions
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(BEAT_S):
            try:
                executions.beat(execution_id)
            except redis.RedisError:
                log.warning("could not record a beat of execution %s", execution_id)

    beating = threading.Thread(target=beat, name=f"beat-{execution_id}", daemon=True)
    beating.start()
    try:
        carry_out(execution_id, rt.agent)
    finally:
        stop.set()
        beating.join(timeout=1)
