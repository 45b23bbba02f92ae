"""Smoke test of bench/slack_ack.py: it runs end to end and produces figures.

Tiny load (3 concurrent requests, one round, a 50 ms model, 2 worker threads;
two of the variants: the worker paused, and bolt acking without the inbox — the gc.freeze() and GIL
switch variants only set a flag each, and every server costs a process start),
so it is fast; it checks that the figures exist and hang together and that
every acked message got exactly one reply, never how fast anything is
(benchmarks print, tests don't time).
"""

from __future__ import annotations

import argparse
import math
from types import ModuleType

import pytest
import redis

BENCH = "slack_ack"


def test_a_tiny_run_produces_every_figure(
    bench: ModuleType, redis_url: str, redis_client: redis.Redis
) -> None:
    said: list[str] = []
    report = bench.run(redis_url, concurrency=3, rounds=1, cold_rounds=1, workers=2,
                       model_s=0.05, processes=(1, 2), variants=("paused", "no_inbox"),
                       rtt_samples=20, say=said.append)

    rows = {(p.app, p.processes, p.concurrency, p.users, p.variant): p for p in report.phases}
    assert set(rows) == {
        ("baseline", 1, 1, "-", ""), ("baseline", 1, 3, "-", ""),
        ("slack", 1, 1, "cached", ""), ("slack", 1, 3, "cached", ""),
        ("slack", 1, 3, "cold", ""), ("slack", 1, 3, "cached", "paused"),
        ("slack", 1, 3, "cached", "no_inbox"),
        ("baseline", 2, 3, "-", ""), ("slack", 2, 3, "cached", ""),
    }
    for phase in report.phases:
        assert phase.statuses == {200: phase.latency.n}
        assert phase.latency.n == 3
        figures = [phase.latency.p50, phase.latency.p99, phase.latency.max,
                   phase.throughput, phase.server_cpu_ms]
        assert all(math.isfinite(value) and value > 0 for value in figures), phase
        assert sum(phase.per_process) == phase.latency.n
    assert math.isfinite(report.rtt.p50) and report.rtt.n == 20
    assert report.worker_cpu_ms_per_turn > 0 and report.server_objects > 0
    assert set(report.full_gc) == {"slack1"}
    assert all(gc_cost["cpu_ms"] >= 0 for gc_cost in report.full_gc.values())

    # Correctness beside speed: every acked message got exactly one reply, the model's.
    replies = report.replies
    assert replies.acked > 0
    assert replies.exactly_once == replies.model_text == replies.acked
    assert replies.missing == replies.duplicated == replies.unexpected == 0
    assert not report.fake_errors

    # The breakdown's top-level parts follow each other: their means add up to the total's.
    warm = rows[("slack", 1, 3, "cached", "")]
    *parts, total = bench.breakdown(warm)
    top = [p.wall.mean for p in parts if p.indent == 0 and p.wall.n]
    assert total.wall.n == 3 and math.isclose(sum(top), total.wall.mean, rel_tol=1e-6)
    assert bench.redis_trips(warm).mean == 1  # the ack keeps the event: one XADD
    kept = next(p for p in bench.breakdown(warm) if p.name.startswith("XADD"))
    assert kept.wall.n == 3
    # Every event acked from the inbox was handled after its ack, and timed.
    assert warm.handled.n == 3 and warm.handled.min > 0
    assert rows[("slack", 1, 3, "cached", "no_inbox")].handled.n == 0

    text = bench.format_report(report)
    assert "p99 ms" in text and "×base p50/p99" in text
    assert "where the ack goes" in text and "replies: " in text
    assert any("slack" in line for line in said)
    assert redis_client.dbsize() == 0  # the run cleans up after itself


def test_options_are_parsed_and_checked(bench: ModuleType) -> None:
    assert bench._processes("1, 2") == (1, 2)
    assert bench._variants("none") == ()
    assert bench._variants("paused,no_inbox") == ("paused", "no_inbox")
    with pytest.raises(argparse.ArgumentTypeError, match="positive"):
        bench._processes("0")
    with pytest.raises(argparse.ArgumentTypeError, match="unknown"):
        bench._variants("turbo")
