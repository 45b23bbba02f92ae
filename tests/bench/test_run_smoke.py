"""Smoke test of bench/run: `--quick` runs every benchmark and writes a whole report.

It checks that each benchmark ran and that the report holds every section and the
targets table, never how fast anything is (benchmarks print, tests don't time). The
benchmark throughput.py has no smoke test of its own: this one runs it for real
(worker, scheduler and serve processes) and checks its correctness line.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.bench import load_bench

ROOT = Path(__file__).resolve().parents[2]
BENCH = "report"
SECTIONS = ("# Benchmark report", "## Machine", "## Targets",
            "## Turn overhead: message in → model request sent",
            "## Ingress ack latency: Slack HTTP, request in → 200",
            "## Sustained turns per second",
            "## Scheduler: due → enqueued lateness, and task executions per second",
            "## Resident memory", "## What each benchmark printed")
TARGETS = ("turn overhead p99 ≤ 30 ms at 1,000 jobs",
           "ack p99 ≤ 50 ms under 50 concurrent requests",
           "turns/s ≥ 0.5 × RQ no-op jobs/s (same worker class)",
           "scheduler lateness never negative",
           "scheduler lateness p99 ≤ 2 s, 10,000 due at once among 100,000")


@pytest.mark.slow
def test_quick_run_writes_a_report_with_every_section_and_target(tmp_path: Path) -> None:
    out = tmp_path / "REPORT.md"
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}  # embedded Redis each
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "run"), "--quick",
                             "--out", str(out)], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=300)

    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert f"report written to {out}" in result.stdout
    text = out.read_text()
    for heading in SECTIONS:
        assert heading + "\n" in text, heading
    assert "Failed" not in text and "No figures" not in text
    assert "Quick run" in text
    for target in TARGETS:
        row = next((line for line in text.splitlines() if line.startswith(f"| {target} |")),
                   None)
        assert row is not None, target
        assert re.search(r"\| (met|\*\*missed\*\*|not measured) \|$", row), row
    # Every message got exactly one reply (throughput.py's correctness check)…
    checks = re.search(r"Checks: (\d+) of (\d+) conversations got exactly one reply", text)
    assert checks is not None and checks.group(1) == checks.group(2), text
    # …and each process's memory was read.
    for process in ("worker-0", "worker-1", "scheduler", "serve"):
        assert re.search(rf"\({process}\) \| [^|]+ \| [\d.,]+ \| [\d.,]+ \| [\d.,]+ \|", text), \
            process
    for name in ("turn_overhead", "slack_ack", "throughput", "scheduler"):
        assert f"<details><summary>{name} (" in text


def test_a_failed_benchmark_is_named_and_its_targets_not_measured(bench: ModuleType) -> None:
    by_name = {b.name: b for b in bench.BENCHES}
    outcomes = [bench.Outcome(by_name["slack_ack"], 1, 3.0, "Traceback: boom\n", None),
                bench.Outcome(by_name["scheduler"], None, 9.0, "", None)]
    text = bench.compose(outcomes, started="today", load_start="0.5", load_end="0.7",
                         quick=False, seconds=12.0)

    assert "**Failed:** `slack_ack` exited with status 1; `scheduler` stopped after 9 s" in text
    assert "| ack p99 ≤ 50 ms under 50 concurrent requests | — | not measured |" in text
    assert "| scheduler lateness never negative | — | not measured |" in text
    assert "Traceback: boom" in text  # its output is kept
    # Only the sections of the benchmarks that ran.
    assert "## Sustained turns per second" not in text


def test_figures_are_read_safely(bench: ModuleType) -> None:
    assert bench.dig({"a": [{"b": 2}]}, "a", 0, "b") == 2
    assert bench.dig({"a": [{"b": 2}]}, "a", 3, "b") is None
    assert bench.num(None) == bench.num(float("nan")) == "—"
    assert bench.num(1234.5) == "1,234.5"
    assert bench.over(3.0, 0) == "—" and bench.over(3.0, 2.0) == "1.5"


def test_the_benchmarks_write_their_figures_as_json(tmp_path: Path) -> None:
    common = load_bench("common")
    path = tmp_path / "figures.json"
    stats = common.Stats.of([3.0, 1.0, float("nan"), 2.0])
    common.write_json(path, {"stats": stats, "none": common.Stats.empty(), "pair": (1, 2)})

    assert (stats.n, stats.p50, stats.p99, stats.min, stats.max) == (3, 2.0, 3.0, 1.0, 3.0)
    data = path.read_text()
    assert '"p50": 2.0' in data and '"p99": null' in data and '"pair": [' in data
