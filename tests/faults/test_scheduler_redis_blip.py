"""Redis goes away the moment a task run the scheduler lined up comes due: the run is
queued at the scheduler's next tick once Redis is back, not left to the lost-job sweep
(30 s later). A redis-server of the test's own, stopped and started again; the
scheduler's clock is injected."""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis

from tests.faults.conftest import OwnRedis
from tests.helpers import Clock
from tests.integration.agent_helpers import AppFactory
from tests.workers.test_scheduler import START, clocked, create, queued, runs, scheduler


def test_a_run_redis_refused_to_queue_at_its_time_is_queued_at_the_next_tick(
        own_redis: OwnRedis, own_apps: AppFactory) -> None:
    clock = Clock(START.replace(hour=9) - timedelta(seconds=1))
    app = clocked(own_apps, clock)
    task_id = create(app, "Blip")  # daily 09:00
    made = scheduler(app, clock)
    made.tick()  # claimed ahead, due in a second
    own_redis.stop()
    clock.advance(seconds=1)
    with pytest.raises(redis.ConnectionError):
        made.tick()  # due now; Redis is gone as it is queued
    own_redis.start()
    made.tick()  # Redis is back: queued now
    [run] = runs(app, task_id)
    assert queued(app) == [run.id]
