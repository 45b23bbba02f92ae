"""Smoke test of bench/turn_overhead.py: it runs end to end and produces figures.

Tiny sizes and few samples, so it is fast; it checks that figures exist and
hang together, never how fast anything is (benchmarks print, tests don't time).
"""

from __future__ import annotations

import argparse
import math
from types import ModuleType

import pytest
import redis

BENCH = "turn_overhead"


def test_the_generated_library_is_valid_varied_and_repeatable(bench: ModuleType) -> None:
    items = bench.library(40)
    assert len({item["name"].lower() for item in items}) == 40
    assert bench.library(40) == items
    texts = bench.queries(items, count=200)
    assert len(texts) == 200 and all(text.strip() for text in texts)


def test_a_tiny_run_produces_every_figure(
    bench: ModuleType, redis_url: str, redis_client: redis.Redis
) -> None:
    said: list[str] = []
    report = bench.run(redis_url, sizes=(5,), samples=3, breakdown_samples=2,
                       profile=True, say=said.append)

    [size] = report.sizes
    assert size.jobs == 5 and size.turn.n == size.full_turn.n == 3
    figures = [size.rtt.p50, size.rtt.p99, size.turn.p50, size.turn.p99, size.matcher.p50,
               size.matcher.p99, size.full_turn.p50, size.cold_index_s]
    assert all(math.isfinite(value) and value > 0 for value in figures)
    assert size.library_bytes > 0 and size.vocabulary > 0
    # The breakdown's parts follow each other in time: their means add up to the total's.
    *parts, total = size.segments
    assert total.name == bench.TOTAL and total.stats.n == 2
    assert math.isclose(sum(p.stats.mean for p in parts), total.stats.mean, rel_tol=1e-6)
    assert [s.name for s in size.list_steps][-1] == "JobStore.list(), same store again"
    assert "answer_pending" in report.profile
    assert redis_client.dbsize() == 0  # the run cleans up after itself

    text = bench.format_report(report)
    assert "turn p50/p99 ms" in text and "cold index s" in text
    assert "where the turn goes at 5 jobs" in text
    assert any("5 jobs" in line for line in said)


def test_sizes_are_parsed_and_checked(bench: ModuleType) -> None:
    assert bench._sizes("10,1_000, 10000") == (10, 1_000, 10_000)
    with pytest.raises(argparse.ArgumentTypeError, match="positive"):
        bench._sizes("0")
