"""Smoke test of bench/scheduler.py: it runs end to end and produces figures.

Tiny sizes (50 tasks stored, 20 due at once, 3 due one at a time, 10
executions), so it is fast; it checks that the figures exist and are not
negative and that every due run was queued exactly once, never how fast
anything is (benchmarks print, tests don't time).
"""

from __future__ import annotations

import argparse
import math
from types import ModuleType

import pytest
import redis

BENCH = "scheduler"


def test_a_tiny_run_produces_every_figure(
    bench: ModuleType, redis_url: str, redis_client: redis.Redis
) -> None:
    said: list[str] = []
    report = bench.run(redis_url, stored=50, due=20, executions=10, singles=3,
                       rtt_samples=20, say=said.append)

    assert report.rtt.n == 20 and report.rtt.p50 > 0
    # The tasks not due were stored as TaskStore.create stores them.
    assert report.bulk_check == ""
    for row, due, stored in ((report.single, 3, 30), (report.bulk, 20, 50)):
        assert (row.due, row.stored) == (due, stored)
        # Every due run queued exactly once: none missing, none twice, none extra.
        assert row.lateness.n == row.queued_once == due, row
        assert row.missing == row.duplicated == row.unexpected == row.not_rearmed == 0, row
        # Never before the due time.
        assert row.negative == 0 and row.lateness.min >= 0, row
        figures = [row.lateness.p50, row.lateness.p99, row.lateness.max, row.spread_s]
        assert all(math.isfinite(value) and value >= 0 for value in figures), row
        assert row.lateness.p50 <= row.lateness.p99 <= row.lateness.max
        assert row.setup
    # (a) splits into waking and working; (b) adds a sweep over its queued runs.
    assert report.single.wake.n == report.single.tick.n == 3
    assert report.single.wake.min >= 0 and report.single.tick.min >= 0
    assert report.bulk.commands_per_run > 0
    assert report.bulk.sweep_s > 0 and report.bulk.sweep_requeued == 0

    for burst in (report.executions, report.noop):
        assert burst.jobs == 10 and burst.job.n == 10
        figures = [burst.per_s, burst.span_s, burst.wall_s, burst.job.p50, burst.job.p99]
        assert all(math.isfinite(value) and value > 0 for value in figures), burst
        assert burst.statuses["finished"] == 10
    # Each execution spoke once, through the model, and succeeded.
    assert report.executions.statuses["execution succeeded"] == 10
    assert "execution sent≠1" not in report.executions.statuses
    assert report.model_calls == 2 and report.outbox == 10

    text = bench.format_report(report)
    assert "due → enqueued lateness" in text and "task executions per second" in text
    assert "ratio: " in text and "!!!" not in text
    assert any("executions" in line for line in said)
    assert redis_client.dbsize() == 0  # the run cleans up after itself


def test_sizes_are_checked(bench: ModuleType, redis_url: str) -> None:
    assert bench._count("100_000") == 100_000
    with pytest.raises(argparse.ArgumentTypeError, match="positive"):
        bench._count("0")
    with pytest.raises(ValueError, match="must hold"):
        bench.run(redis_url, stored=10, due=10, singles=3)
