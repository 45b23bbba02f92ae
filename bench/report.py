"""Every benchmark, each in a subprocess of its own, then bench/REPORT.md: what `bench/run` runs.

    bench/run [--quick] [--matching] [--only NAMES] [--out PATH] [--flush]

Each benchmark script runs at its full default sizes (`--quick`: tiny ones, for the
smoke test and a first look) with `--json PATH`, so one failing does not stop the rest
and its figures come back as JSON. The report holds the machine, one section per
figure with the baseline measured in the same run beside it and the ratio, a table of
the issue's targets (target, measured, met or missed) with, for each one missed, why
and what would reach it from the measurements, and each benchmark's printed output.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import versions  # noqa: E402
from bench.machine import host, load  # noqa: E402

REPORT = ROOT / "bench" / "REPORT.md"
#: A full benchmark that runs longer than this is stopped (its figures are then missing).
FULL_TIMEOUT_S = 40 * 60
QUICK_TIMEOUT_S = 5 * 60
NO_FIGURES = "*No figures: the benchmark failed (its output is at the end).*"


@dataclass(frozen=True)
class Bench:
    """One benchmark script and how `bench/run` calls it."""

    name: str
    title: str
    quick: tuple[str, ...] = ()
    #: It writes `--json PATH` (matching_eval only prints).
    figures: bool = True
    #: Only with `--matching`.
    optional: bool = False


BENCHES = (
    Bench("turn_overhead", "turn overhead",
          quick=("--sizes", "10,1000", "--samples", "5", "--breakdown-samples", "3")),
    Bench("slack_ack", "Slack ack latency",
          quick=("--concurrency", "10", "--rounds", "1", "--cold-rounds", "0", "--workers",
                 "10", "--model-seconds", "0.1", "--processes", "1", "--variants", "none")),
    Bench("throughput", "turns per second and memory",
          quick=("--conversations", "10", "--messages", "2", "--noop", "100", "--tasks", "10",
                 "--events", "20", "--settle", "0.5", "--rounds", "1")),
    Bench("scheduler", "scheduler lateness and executions",
          quick=("--stored", "300", "--due", "100", "--executions", "20", "--singles", "2")),
    Bench("matching_eval", "job matching quality", figures=False, optional=True),
)


@dataclass
class Outcome:
    """How one benchmark's subprocess went."""

    bench: Bench
    #: Exit status; None when it was stopped at the timeout.
    status: int | None
    seconds: float
    output: str
    figures: dict[str, Any] | None

    @property
    def ok(self) -> bool:
        return self.status == 0 and (self.figures is not None or not self.bench.figures)

    def failure(self) -> str:
        """Why there are no figures, for the report."""
        if self.status is None:
            return f"stopped after {self.seconds:.0f} s (the timeout)"
        if self.status != 0:
            return f"exited with status {self.status}"
        return "wrote no figures"


def run_bench(bench: Bench, *, quick: bool, flush: bool, tmp: Path, timeout: float,
              say: Callable[[str], None]) -> Outcome:
    """Run one benchmark script in a subprocess (a session of its own, so what it starts
    is stopped with it at the timeout); its output is echoed with its name."""
    figures_path = tmp / f"{bench.name}.json"
    argv = [sys.executable, str(ROOT / "bench" / f"{bench.name}.py")]
    if quick:
        argv += bench.quick
    if bench.figures:
        argv += ["--json", str(figures_path)] + (["--flush"] if flush else [])
    say(f"== {bench.name}: {' '.join(argv[1:])}")
    started = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines: list[str] = []

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            say(f"   {bench.name} | {line.rstrip()}")

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    status: int | None
    try:
        status = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        _stop_group(proc)
        status = None
    except BaseException:
        _stop_group(proc)
        raise
    reader.join(10)
    figures = None
    if bench.figures and figures_path.exists():
        with contextlib.suppress(ValueError):
            figures = json.loads(figures_path.read_text())
    outcome = Outcome(bench, status, time.perf_counter() - started, "".join(lines), figures)
    say(f"== {bench.name}: {'done' if outcome.ok else outcome.failure()} in "
        f"{outcome.seconds:.0f} s")
    return outcome


def _stop_group(proc: subprocess.Popen[str]) -> None:
    """SIGTERM our child's process group (its session: it and what it started), then
    SIGKILL what is left."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(10)
            return
        except subprocess.TimeoutExpired:
            continue


# --- reading the figures ----------------------------------------------------------------------

def dig(data: Any, *path: Any) -> Any:
    """data[path[0]][path[1]]…, or None where any step is missing."""
    for key in path:
        if isinstance(data, dict):
            data = data.get(key)
        elif isinstance(data, list) and isinstance(key, int) and -len(data) <= key < len(data):
            data = data[key]
        else:
            return None
    return data


def num(value: Any, digits: int = 1, *, unit: str = "") -> str:
    """A figure for a table: thousands separated, "—" when missing."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return f"{value:,.{digits}f}{unit}"


def over(a: Any, b: Any, digits: int = 1) -> str:
    """a / b, "—" when either is missing or b is 0."""
    if a is None or not b:
        return "—"
    return f"{a / b:,.{digits}f}"


def table(header: Sequence[str], rows: Sequence[Sequence[str]], *,
          left: int = 1) -> list[str]:
    """A Markdown table: the first `left` columns left-aligned, the rest right-aligned."""
    out = ["| " + " | ".join(header) + " |",
           "|" + "|".join([" --- "] * left + [" ---: "] * (len(header) - left)) + "|"]
    out += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return out


@dataclass
class Target:
    """One of the issue's targets, as measured."""

    name: str
    measured: str
    #: True met, False missed, None not measured (failed, or not at the target's size).
    met: bool | None
    #: For a missed target: why, and what would reach it.
    why: str = ""

    @property
    def verdict(self) -> str:
        return {True: "met", False: "**missed**", None: "not measured"}[self.met]


# --- the sections -------------------------------------------------------------------------

def turn_overhead(data: dict[str, Any] | None) -> tuple[list[str], list[Target]]:
    lines = ["## Turn overhead: message in → model request sent", "",
             "`bench/turn_overhead.py`. From `Ingress.accept` to the moment the fake OpenAI "
             "server receives the chat request, one turn at a time on an idle worker (a real "
             "RQ worker on a thread), the fake model answering at once, the whole library "
             "ranked (the default bot has no attached jobs). **Baseline**: a raw Redis round "
             "trip (PING) on the app's own client, measured in the same row.", ""]
    name = "turn overhead p99 ≤ 30 ms at 1,000 jobs"
    if data is None:
        return [*lines, NO_FIGURES], [
            Target(name, "—", None)]
    rows = []
    for size in data.get("sizes", []):
        rtt, turn = size["rtt"], size["turn"]
        rows.append([f"{size['jobs']:,}", f"{num(rtt['p50'], 3)} / {num(rtt['p99'], 3)}",
                     f"{num(turn['p50'])} / {num(turn['p99'])}",
                     f"{over(turn['p50'], rtt['p50'], 0)} / {over(turn['p99'], rtt['p50'], 0)}",
                     num(size["full_turn"]["p50"]), str(turn["n"])])
    lines += table(["jobs", "Redis RTT p50 / p99 ms", "turn p50 / p99 ms",
                    "turn ÷ RTT p50: p50 / p99", "full turn p50 ms", "turns"], rows)
    target = next((s for s in data.get("sizes", []) if s["jobs"] == 1_000), None)
    shown = target or (data["sizes"][-1] if data.get("sizes") else None)
    if shown is not None and shown.get("segments"):
        total = shown["segments"][-1]["stats"]["mean"] or math.nan
        lines += ["", f"Where the turn goes at {shown['jobs']:,} jobs "
                      f"({shown['segments'][0]['stats']['n']} instrumented turns; the means "
                      "add up to the total's):", ""]
        lines += table(["part", "p50 ms", "p99 ms", "mean ms", "share"], [
            [seg["name"], num(seg["stats"]["p50"], 2), num(seg["stats"]["p99"], 2),
             num(seg["stats"]["mean"], 2), f"{over(seg['stats']['mean'], total / 100, 0)}%"]
            for seg in shown["segments"]])
    if target is None:
        sizes = ", ".join(f"{s['jobs']:,}" for s in data.get("sizes", []))
        return lines, [Target(name, f"not at 1,000 jobs (sizes {sizes})", None)]
    p99 = target["turn"]["p99"]
    met = p99 <= 30.0
    result = Target(name, f"{num(p99)} ms (p50 {num(target['turn']['p50'])} ms)", met)
    if not met:
        result.why = _turn_why(target)
    return lines, [result]


#: What would shrink a part of the turn, by the start of its name.
_TURN_REMEDIES = {
    "ingress": "fewer round trips in ingress (dedupe, contact and append in one script or "
               "pipeline)",
    "queue": "a runner already going (under load, runners take the next conversation "
             "without an RQ job each; here every turn comes to an idle worker)",
    "worker: load jobs": "the parsed library cached per library version in the worker",
    "worker: rank": "the BM25 index and the parsed audience rules kept per library version, "
                    "or candidates narrowed before scoring",
    "worker: prompt": "building the prompt and toolbox once per bot version",
    "model client": "less work in the SDK call (building the request, parsing the answer "
                    "into its types); part of this part is the fake model's, whose server "
                    "runs on the same cores",
}


def _turn_why(size: dict[str, Any]) -> str:
    parts = sorted(size["segments"][:-1], key=lambda s: -(s["stats"]["mean"] or 0))[:3]
    total = size["segments"][-1]["stats"]["mean"]
    named = "; ".join(f"{p['name']} {num(p['stats']['mean'], 2)} ms" for p in parts)
    fixes = [next((fix for key, fix in _TURN_REMEDIES.items() if p["name"].startswith(key)),
                  "") for p in parts]
    gc = size.get("full_gc") or {}
    tail = (f" {gc.get('count')} full garbage collections ran during the turns (longest "
            f"{num(gc.get('longest_ms'), 0)} ms), which land in the p99." if gc.get("count")
            else "")
    rtt, turn = size["rtt"], size["turn"]
    instrumented = size["segments"][-1]["stats"]["p99"]
    if rtt["p99"] > 5 * rtt["p50"] and turn["p99"] > 3 * turn["p50"]:
        tail += (f" The tail is the machine's more than the turn's: the p99 is "
                 f"{over(turn['p99'], turn['p50'])}× the p50, and the Redis PING measured in "
                 f"the same row has a p99 {over(rtt['p99'], rtt['p50'])}× its p50 (other "
                 f"processes taking the cores); the instrumented turns' p99 was "
                 f"{num(instrumented)} ms. Rerun on a quiet machine before changing code.")
    return (f"At {size['jobs']:,} jobs the p99 is {num(size['turn']['p99'])} ms, the p50 "
            f"{num(size['turn']['p50'])} ms. The largest parts of the turn (means, of "
            f"{num(total, 2)} ms): {named}.{tail} What would reach it: "
            + "; ".join(f for f in fixes if f) + ".")


def slack_ack(data: dict[str, Any] | None) -> tuple[list[str], list[Target]]:
    lines = ["## Ingress ack latency: Slack HTTP, request in → 200", "",
             "`bench/slack_ack.py`. Bursts of signed `app_mention` requests fired at once from a "
             "client process of its own at the bolt app served as `chatjobs serve` serves it "
             "(each event acked once kept in the event inbox, handled after), while real RQ "
             "workers in another process run the turns and the model takes its time; client "
             "side, connect → the whole 200 read. **Baseline**: the same server class and "
             "handler serving a trivial WSGI app (read the body, answer 200) under the same "
             "load in the same run.", ""]
    name = "ack p99 ≤ 50 ms under 50 concurrent requests"
    if data is None:
        return [*lines, NO_FIGURES], [
            Target(name, "—", None)]
    s = data["settings"]
    lines += [f"Load: {s['rounds']} bursts per row of {s['concurrency']} requests; the model "
              f"answers after {s['model_s']:g} s; {s['workers']} worker threads. Redis PING on "
              f"the server's client: p50 {num(dig(data, 'rtt', 'p50'), 3)} ms.", ""]
    rows = []
    for p in data["phases"]:
        base = p.get("baseline") or {}
        is_base = p["app"] == "baseline"
        label = p["name"] + (f" ({p['users']} users)" if p["users"] == "cold" else "")
        rows.append([label, str(p["processes"]), str(p["concurrency"]),
                     num(p["latency"]["p50"]), num(p["latency"]["p99"]),
                     num(p["latency"]["max"]),
                     "—" if is_base else f"{num(base.get('p50'))} / {num(base.get('p99'))}",
                     "—" if is_base else (f"{over(p['latency']['p50'], base.get('p50'))} / "
                                          f"{over(p['latency']['p99'], base.get('p99'))}"),
                     num(p["server_cpu_ms"], 2), num(p.get("ack_cpu_ms"), 2),
                     num(p["floor_ms"], 0)])
    lines += table(["server", "procs", "conc", "p50 ms", "p99 ms", "max ms",
                    "baseline p50 / p99 ms", "× baseline p50 / p99", "server CPU ms/req",
                    "ack CPU ms/req", "floor ms"], rows)
    r = data.get("replies") or {}
    handled = [p for p in data["phases"] if (p.get("handled") or {}).get("n")]
    lines += ["", "server CPU: every thread of the server process(es), the inbox's handling "
                  "after the ack included; ack CPU: the request's own thread. floor = "
                  "concurrency × ack CPU ÷ processes: with one GIL per process, a burst's "
                  "last ack cannot come sooner. \"no inbox\": bolt verifies the event and "
                  "runs the listener (ingress, the turn queued) before the 200, as before the "
                  "inbox.",
              *([("After the ack, kept → handled by the inbox (listener done, turn queued; "
                  "handling waits while acks are in hand), p50 / p99: " + "; ".join(
                      f"{p['name']}{' (cold users)' if p['users'] == 'cold' else ''}, "
                      f"{_processes(p['processes'])}conc {p['concurrency']}: "
                      f"{num(p['handled']['p50'], 0)} / "
                      f"{num(p['handled']['p99'], 0)} ms" for p in handled) + ".")]
                if handled else []),
              f"Replies: {r.get('acked', 0)} messages acked, {r.get('exactly_once', 0)} got "
              f"exactly one reply, {r.get('missing', 0)} none, {r.get('duplicated', 0)} more "
              "than one."]
    target = _phase(data, "slack", 1, data.get("target_concurrency", 50))
    if target is None:
        return lines, [Target(name, f"not at 50 concurrent (measured at {s['concurrency']})",
                              None)]
    p99 = target["latency"]["p99"]
    met = p99 <= data.get("target_p99_ms", 50.0)
    result = Target(name, f"{num(p99)} ms, 1 process (p50 {num(target['latency']['p50'])} ms)",
                    met)
    if not met:
        result.why = _ack_why(data, target)
    return lines, [result]


def _processes(n: int) -> str:
    return f"{n} processes, " if n > 1 else ""


def _phase(data: dict[str, Any], app: str, procs: int, conc: int,
           variant: str = "") -> dict[str, Any] | None:
    return next((p for p in data["phases"] if p["app"] == app and p["processes"] == procs
                 and p["concurrency"] == conc and p["variant"] == variant
                 and p["users"] in ("cached", "-")), None)


def _ack_why(data: dict[str, Any], target: dict[str, Any]) -> str:
    conc = target["concurrency"]
    base = _phase(data, "baseline", 1, conc)
    two = _phase(data, "slack", 2, conc)
    paused = _phase(data, "slack", 1, conc, "paused")
    niced = _phase(data, "slack", 1, conc, "niced")
    thawed = _phase(data, "slack", 1, conc, "no_freeze")
    parts = sorted((p for p in data.get("breakdown") or [] if p["indent"] == 0
                    and not p["name"].startswith("total") and p["cpu"]["mean"] is not None),
                   key=lambda p: -(p["cpu"]["mean"] or 0))[:3]
    said = [f"A burst of {conc} costs the server {num(target.get('ack_cpu_ms'), 2)} ms of CPU "
            f"per ack, so with one process (one GIL) its last ack cannot come before "
            f"{num(target['floor_ms'], 0)} ms: the p99 ({num(target['latency']['p99'])} ms) is "
            "that floor plus waiting."]
    if parts:
        said.append("Where the handler thread's CPU goes (means): " + "; ".join(
            f"{p['name']} {num(p['cpu']['mean'], 2)} ms" for p in parts) + ".")
    accept = next((p for p in data.get("breakdown") or []
                   if p["name"].startswith("connect → accepted")), None)
    total = next((p for p in data.get("breakdown") or [] if p["name"].startswith("total")),
                 None)
    if base is not None and base["latency"]["p99"] > data.get("target_p99_ms", 50.0):
        said.append(f"Even the trivial WSGI app on the same server class misses the target "
                    f"under the same bursts (p99 {num(base['latency']['p99'])} ms): on this "
                    f"machine ({data['machine']['cores']} cores, shared with the workers, the "
                    "client and whatever else runs) a thread-per-connection wsgiref server "
                    f"does not take {conc} connections at once within the target.")
    elif base is not None:
        said.append(f"The trivial WSGI app on the same server class under the same bursts "
                    f"has a p99 of {num(base['latency']['p99'])} ms: the server plumbing "
                    "fits within the target; the rest is the app's own work.")
    if accept is not None and total is not None and total["wall"]["mean"]:
        share = over(accept["wall"]["mean"], total["wall"]["mean"] / 100, 0)
        said.append(f"Of an ack's wall time, {share}% is spent before the accept loop takes "
                    "the connection (waiting for the GIL and the cores while earlier requests "
                    "of the burst run).")
    if paused is not None:
        share = ("the co-located workers' share" if paused["latency"]["p99"]
                 < target["latency"]["p99"] else "no lower: the workers' share is within "
                 "the noise between bursts")
        said.append(f"With the worker process paused during its bursts the p99 is "
                    f"{num(paused['latency']['p99'])} ms: {share}.")
    if niced is not None:
        said.append(f"With the worker at nice 10 (`nice -n 10 chatjobs worker`) it is "
                    f"{num(niced['latency']['p99'])} ms.")
    if thawed is not None:
        said.append(f"(Without serve's gc.freeze() the p99 is "
                    f"{num(thawed['latency']['p99'])} ms.)")
    fixes = []
    if two is not None and two["latency"]["p99"] < target["latency"]["p99"]:
        fixes.append(f"more `chatjobs serve` processes behind the balancer, on cores of their "
                     f"own (2 processes here: p99 {num(two['latency']['p99'])} ms)")
    elif two is not None:
        said.append(f"Two serve processes did not help here (p99 "
                    f"{num(two['latency']['p99'])} ms): with {data['machine']['cores']} "
                    "cores shared by everything, the cores are the limit, not one GIL.")
        fixes.append("more `chatjobs serve` processes on cores of their own (not on the "
                     "workers' cores)")
    fixes.append(f"less CPU per ack (now {num(target.get('ack_cpu_ms'), 2)} ms; the "
                 f"parts above), so that {conc} of them fit in the target: at most "
                 f"{num(data.get('target_p99_ms', 50.0) / conc, 2)} ms each on one core")
    return " ".join(said) + " What would reach it: " + "; ".join(fixes) + "."


def throughput(data: dict[str, Any] | None) -> tuple[list[str], list[Target]]:
    lines = ["## Sustained turns per second", "",
             "`bench/throughput.py`. Real `chatjobs worker` processes, the fake model (a lean "
             "server in a process of its own) answering at once; messages through "
             "`Ingress.accept` from many console conversations in a closed loop: a "
             "conversation's next message a moment after its reply came (as a person reads, "
             "then writes). Turn runners, RQ jobs that take the waiting conversations one "
             "after another, carry the turns (items per RQ job). Back to back (the next "
             "message at once) is shown for context. **Baseline**: RQ's no-op job throughput "
             "with the same worker class (`rq worker --worker-class rq.SimpleWorker`, as many "
             "processes), same Redis, measured before the first round of turns and after "
             "each; the ratio is the median round's.", ""]
    name = "turns/s ≥ 0.5 × RQ no-op jobs/s (same worker class)"
    if data is None:
        return [*lines, NO_FIGURES], [
            Target(name, "—", None)]
    s = data["settings"]
    think = s.get("think_s")
    pause = f", {num(think * 1000, 0)} ms from a reply to the next message" if think else ""
    lines += [f"Load: {s['conversations']} conversations × {s['messages']} messages{pause}, "
              f"{s['workers']} worker processes, {s['jobs']} jobs in the library; "
              f"{s['noop']:,} no-op jobs per baseline run. Redis PING p50 "
              f"{num(dig(data, 'rtt', 'p50'), 3)} ms.", ""]
    rows = []
    noops, rounds = data.get("noops") or [], data.get("rounds") or []
    ordered = [*noops[:1], *(row for pair in zip(rounds, noops[1:], strict=False)
                             for row in pair), data.get("burst")]
    for row in ordered:
        if row is None:
            continue
        rows.append([row["label"], f"{row['items']:,}", num(row["per_s"]),
                     num(row.get("per_job"), 2) if row.get("rq_jobs") else "1",
                     num(row["worker_cpu_ms"], 2), num(row["redis_cpu_ms"], 2),
                     num(row["bench_cpu_ms"], 2), num(row["commands"], 0),
                     num(row["busy"], 0, unit="%"),
                     f"{num(dig(row, 'latency', 'p50'))} / {num(dig(row, 'latency', 'p99'))}"])
    lines += table(["", "items", "per s", "items per RQ job", "worker CPU ms/item",
                    "Redis CPU ms/item",
                    "bench CPU ms/item (drivers, ingress, model)", "Redis commands/item",
                    "cores busy",
                    "item p50 / p99 ms"], rows)
    turns, noop = data["turns"], data["noop_before"]
    c = data["checks"]
    per_round = ", ".join(num(r, 3) for r in data.get("ratios") or [])
    lines += ["", f"**Ratio**, per round (its turns/s ÷ the mean of the no-op runs before and "
                  f"after it): {per_round}. The median round ({data.get('median_round')}): "
                  f"{num(turns['per_s'])} turns/s ÷ {num(data['noop_per_s'])} no-op "
                  f"jobs/s = **{num(data['ratio'], 3)}**. A turn costs "
                  f"{over(turns['worker_cpu_ms'], noop['worker_cpu_ms'])} no-op jobs' worth of "
                  f"worker CPU and {over(turns['commands'], noop['commands'])}× their Redis "
                  "commands." + _burst(data),
              f"Checks: {c['exact']} of {c['conversations']} conversations got exactly one "
              f"reply per message, the model's; {c['missing']} missing, {c['extra']} extra; "
              f"{c['model_calls']:,} model calls for {data.get('turn_count', 0):,} turns "
              "(every load)."]
    ratio = data.get("ratio")
    if ratio is None:
        return lines, [Target(name, "—", None)]
    met = ratio >= data.get("target_ratio", 0.5)
    result = Target(name, f"{num(ratio, 3)} ({num(turns['per_s'])} turns/s vs "
                          f"{num(data['noop_per_s'])} no-op jobs/s)", met)
    if not met:
        result.why = _throughput_why(data)
    return lines, [result]


def _burst(data: dict[str, Any]) -> str:
    burst = data.get("burst")
    if not burst or not data.get("noop_per_s"):
        return ""
    return (f" Back to back: {num(burst['per_s'])} turns/s, {num(burst.get('per_job'), 2)} "
            f"turns per RQ job, ratio {over(burst['per_s'], data['noop_per_s'], 3)} (context "
            "only: the target is judged on the rounds).")


def _throughput_why(data: dict[str, Any]) -> str:
    turns, target = data["turns"], data.get("target_ratio", 0.5)
    noop = {key: (data["noop_before"][key] + data["noop_after"][key]) / 2
            for key in ("worker_cpu_ms", "commands")}
    workers = data["settings"]["workers"]
    # Per worker, the wall time one item takes (the workers run side by side).
    turn_ms, noop_ms = workers * 1000 / turns["per_s"], workers * 1000 / data["noop_per_s"]
    on_cpu = turns["worker_cpu_ms"] / turn_ms * 100
    used = (turns["worker_cpu_ms"] + turns["redis_cpu_ms"] + turns["bench_cpu_ms"]) \
        * turns["per_s"] / 1000
    return (
        f"Each worker spends {num(turn_ms, 1)} ms of wall time per turn against "
        f"{num(noop_ms, 1)} ms per no-op job ({over(turn_ms, noop_ms)}×). A turn takes "
        f"{num(turns['worker_cpu_ms'], 2)} ms of worker CPU against "
        f"{num(noop['worker_cpu_ms'], 2)} for a no-op job "
        f"({over(turns['worker_cpu_ms'], noop['worker_cpu_ms'])}×) and "
        f"{num(turns['commands'], 0)} Redis commands against {num(noop['commands'], 0)} "
        f"(every client's); the workers were on a CPU {num(on_cpu, 0)}% of their turns' "
        "wall time, the rest waiting for Redis, the model's HTTP answer and a core (the "
        f"workers, Redis and the benchmark used {num(used, 2)} cores; the machine was "
        f"{num(turns['busy'], 0)}% busy). {num(turns.get('per_job'), 0)} turns shared each "
        "RQ job, so RQ's bookkeeping is a small part: the rest is the turn's own work "
        "(reading the conversation, bot, library and contact, the matcher, the prompt, a "
        "request to the model through the openai SDK, the reply and the state updates). "
        f"What would reach it: a turn costing at most {num(1 / target, 0)} no-op jobs, "
        f"i.e. at most {num(noop_ms / target, 1)} ms of worker wall time (now "
        f"{num(turn_ms, 1)}) and about {num(noop['worker_cpu_ms'] / target, 1)} ms of "
        f"worker CPU (now {num(turns['worker_cpu_ms'], 1)}). The model request is the "
        "largest part (the openai SDK builds and parses each request in Python: the "
        "turn-overhead breakdown above shows its share), then our Redis round trips and "
        "the matcher.")


def scheduler(data: dict[str, Any] | None,
              tasks: dict[str, Any] | None) -> tuple[list[str], list[Target]]:
    lines = ["## Scheduler: due → enqueued lateness, and task executions per second", "",
             "`bench/scheduler.py`. The real scheduler loop on a thread with the real clock; "
             "lateness = RQ's `enqueued_at` − the task's due time. (a) one task due at a time; "
             "(b) many due in the same second among the stored ones. Executions: task runs "
             "carried out by one `SimpleWorker` (the fake model: `send_message`, `finish`). "
             "**Baselines**: a Redis PING for lateness; RQ no-op jobs on the same worker for "
             "executions.", ""]
    never = "scheduler lateness never negative"
    bulk_name = "scheduler lateness p99 ≤ 2 s, 10,000 due at once among 100,000"
    if data is None:
        return [*lines, NO_FIGURES], [
            Target(never, "—", None), Target(bulk_name, "—", None)]
    rtt = dig(data, "rtt", "p50")
    lines.append(f"Redis PING: p50 {num(rtt, 3)} ms, p99 {num(dig(data, 'rtt', 'p99'), 3)} ms.")
    lines.append("")
    rows = []
    for key in ("single", "bulk"):
        row = data[key]
        late = row["lateness"]
        rows.append([row["label"], f"{row['due']:,}", f"{row['stored']:,}", num(late["p50"]),
                     num(late["p99"]), num(late["max"]), num(late["min"], 2),
                     over(late["p50"], rtt, 0),
                     f"{row['queued_once']:,} / {row['missing']} / {row['duplicated']}"])
    lines += table(["case", "runs", "stored", "p50 ms", "p99 ms", "max ms", "min ms",
                    "p50 ÷ RTT", "queued once / missing / twice"], rows)
    bulk = data["bulk"]
    spread = bulk.get("spread_s") or math.nan
    per_run = spread * 1000 / max(bulk["due"] - 1, 1)
    ex, nop = data["executions"], data["noop"]
    lines += ["", f"(b): first → last enqueued {num(spread, 2)} s, {num(per_run, 2)} ms per run "
                  f"({over(per_run, rtt, 0)} RTTs), {num(bulk.get('commands_per_run'))} Redis "
                  f"commands per run; a sweep over the {bulk['due']:,} queued runs took "
                  f"{num(bulk.get('sweep_s'), 2)} s.", ""]
    lines += table(["jobs (one SimpleWorker)", "n", "per s", "job p50 / p99 ms"], [
        [row["label"], f"{row['jobs']:,}", num(row["per_s"]),
         f"{num(row['job']['p50'], 2)} / {num(row['job']['p99'], 2)}"] for row in (ex, nop)])
    lines += ["", f"**Ratio**: a task execution costs {over(nop['per_s'], ex['per_s'])} no-op "
                  "jobs."]
    if tasks is not None:
        t = tasks
        lines += ["", f"Cross-check (`bench/throughput.py`): {t['tasks']:,} tasks due in the "
                      f"same second, queued by a real `chatjobs scheduler` process: lateness "
                      f"p50 {num(dig(t, 'lateness', 'p50'), 0)} / p99 "
                      f"{num(dig(t, 'lateness', 'p99'), 0)} ms, min "
                      f"{num(dig(t, 'lateness', 'min'), 1)} ms; carried out by the worker "
                      f"processes at {num(t.get('per_s'))} per s."]
    negatives = data["single"]["negative"] + data["bulk"]["negative"]
    low = min((v for v in (dig(data, "single", "lateness", "min"),
                           dig(data, "bulk", "lateness", "min"),
                           dig(tasks, "lateness", "min")) if v is not None), default=None)
    targets = [Target(never, f"{negatives} negative; smallest {num(low, 2)} ms",
                      negatives == 0 and (low is None or low >= 0))]
    if bulk["due"] != 10_000 or bulk["stored"] != 100_000:
        targets.append(Target(bulk_name, f"not at that size ({bulk['due']:,} due among "
                                         f"{bulk['stored']:,})", None))
        return lines, targets
    p99 = bulk["lateness"]["p99"]
    met = p99 <= 2_000
    result = Target(bulk_name, f"{num(p99 / 1000, 2)} s (p50 "
                               f"{num(bulk['lateness']['p50'] / 1000, 2)} s)", met)
    if not met:
        result.why = (
            f"The {bulk['due']:,} runs that fall due together reach the queue over "
            f"{num(spread, 2)} s: {num(per_run, 2)} ms per run ({over(per_run, rtt, 0)} Redis "
            f"round trips' worth; {num(bulk.get('commands_per_run'))} Redis commands each: "
            "read the task, open the execution, re-arm the task, enqueue). So lateness grows "
            "linearly with how many fall due at once: the p50 "
            f"({num(bulk['lateness']['p50'] / 1000, 2)} s) is about half the wall, the p99 "
            "almost all of it. What would reach it: at most "
            f"{num(2000 / bulk['due'], 2)} ms per run (now {num(per_run, 2)}): fewer Redis "
            "commands and less Python per run (each run still builds and pipelines its own "
            "RQ job and its own claim), or several scheduler processes claiming batches of "
            "the due runs side by side (each run still starts once).")
    targets.append(result)
    return lines, targets


def memory(data: dict[str, Any] | None) -> list[str]:
    lines = ["## Resident memory", "",
             "`bench/throughput.py`. VmRSS of each real process: idle = started, connected, "
             f"settled {num(dig(data, 'settings', 'settle_s'), 1)} s; after = after the "
             "turns, the tasks due at once and the Slack events "
             "(peak = VmHWM). **Baseline**: an idle `rq worker --worker-class rq.SimpleWorker` "
             "process of the same run (RQ and the same worker class, without chatjobs).", ""]
    if data is None:
        return [*lines, NO_FIGURES]
    s = data["settings"]
    turns = data.get("turn_count", 0)
    saw = {"worker": f"{turns:,} turns, {s['tasks']:,} task runs,"
                     f" {s['events']:,} Slack replies (shared)",
           "scheduler": f"{s['tasks']:,} tasks due at once",
           "serve": f"{s['events']:,} signed Slack events"}
    base = data.get("rq_idle_mb")
    rows = []
    for mem in data.get("memory", []):
        kind = mem["process"].split("-")[0]
        command = {"worker": "chatjobs worker", "scheduler": "chatjobs scheduler",
                   "serve": "chatjobs serve"}.get(kind, kind)
        rows.append([f"`{command}` ({mem['process']})", saw.get(kind, ""), num(mem["idle_mb"]),
                     num(mem["after_mb"]), num(mem["peak_mb"]), over(mem["idle_mb"], base)])
    rows.append(["`rq worker` (baseline)", "none (idle)", num(base), "—", "—", "1.0"])
    return lines + table(["process", "the load it saw", "idle MB", "after MB", "peak MB",
                          "idle ÷ rq worker"], rows, left=2)


def machine_section(outcomes: Sequence[Outcome], *, started: str, load_start: str,
                    load_end: str, quick: bool, seconds: float) -> list[str]:
    info = host() | versions()
    redis_version = next((dig(o.figures, "machine", "redis") for o in outcomes
                          if dig(o.figures, "machine", "redis")), "?")
    where = "REDIS_URL" if os.environ.get("REDIS_URL") else "an embedded Redis per benchmark"
    lines = ["# Benchmark report", "",
             f"Written by `bench/run{' --quick' if quick else ''}` on {started} in "
             f"{seconds / 60:.1f} min."]
    if quick:
        lines += ["", "**Quick run: tiny sizes. The figures only show that every benchmark "
                      "runs; do not compare them.**"]
    lines += ["", "Figures vary with the machine and whatever else runs on it: compare the "
                  "ratios to the baselines measured in the same run, not milliseconds across "
                  "machines. See `bench/README.md` for what each benchmark does.", "",
              "## Machine", ""]
    rows = [["cores", info["cores"]], ["CPU", info["cpu"]], ["Python", info["python"]],
            ["Redis", f"{redis_version} ({where})"], ["rq", info["rq"]],
            ["slack_bolt", info["bolt"]],
            ["load average (1 min)", f"{load_start} at the start, {load_end} at the end"]]
    for o in outcomes:
        rows.append([f"load during {o.bench.name}", dig(o.figures, "machine", "load") or "—"])
    return lines + table(["", ""], rows, left=2)


def targets_section(targets: Sequence[Target]) -> list[str]:
    lines = ["## Targets", ""]
    lines += table(["target", "measured", "met?"],
                   [[t.name, t.measured, t.verdict] for t in targets], left=3)
    missed = [t for t in targets if t.met is False]
    if missed:
        lines += ["", "### Why missed, and what would reach it"]
        for t in missed:
            lines += ["", f"**{t.name}.** {t.why}"]
    unmeasured = [t for t in targets if t.met is None]
    if unmeasured:
        lines += ["", "Not measured: " + "; ".join(f"{t.name} ({t.measured})"
                                                  for t in unmeasured) + "."]
    return lines


def outputs_section(outcomes: Sequence[Outcome]) -> list[str]:
    lines = ["## What each benchmark printed", ""]
    for o in outcomes:
        state = f"{o.seconds:.0f} s" + ("" if o.ok else f", **{o.failure()}**")
        text = o.output.rstrip() or "(nothing)"
        lines += [f"<details><summary>{o.bench.name} ({state})</summary>", "", "```text",
                  text.replace("```", "'''"), "```", "", "</details>", ""]
    return lines


def compose(outcomes: Sequence[Outcome], *, started: str, load_start: str, load_end: str,
            quick: bool, seconds: float) -> str:
    """The whole REPORT.md."""
    by_name = {o.bench.name: o.figures if o.ok else None for o in outcomes}
    ran = {o.bench.name for o in outcomes}
    sections: list[list[str]] = []
    targets: list[Target] = []
    for key, build in (("turn_overhead", turn_overhead), ("slack_ack", slack_ack),
                       ("throughput", throughput)):
        if key in ran:
            lines, found = build(by_name.get(key))
            sections.append(lines)
            targets += found
    if "scheduler" in ran:
        lines, found = scheduler(by_name.get("scheduler"),
                                 dig(by_name.get("throughput"), "tasks"))
        sections.append(lines)
        targets += found
    if "throughput" in ran:
        sections.append(memory(by_name.get("throughput")))
    failed = [o for o in outcomes if not o.ok]
    head = machine_section(outcomes, started=started, load_start=load_start,
                           load_end=load_end, quick=quick, seconds=seconds)
    if failed:
        head += ["", "**Failed:** " + "; ".join(f"`{o.bench.name}` {o.failure()}"
                                                for o in failed)
                 + " (its output is at the end)."]
    body = [*head, ""]
    body += [*targets_section(targets), ""]
    for lines in sections:
        body += [*lines, ""]
    body += outputs_section(outcomes)
    return "\n".join(body).rstrip() + "\n"


# --- command line ---------------------------------------------------------------------------

def _exit_on_signal(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bench/run",
        description="Run every benchmark (each in a subprocess of its own) and write "
                    "bench/REPORT.md: the machine, each figure beside its baseline, the "
                    "targets.")
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes: checks that everything runs (about a minute)")
    parser.add_argument("--matching", action="store_true",
                        help="also run bench/matching_eval.py (matching quality; its output "
                             "goes in the report)")
    parser.add_argument("--only", type=lambda text: tuple(t.strip() for t in text.split(",")),
                        help="only these benchmarks, comma-separated (e.g. slack_ack,scheduler)")
    parser.add_argument("--out", type=Path, default=REPORT,
                        help=f"where to write the report (default {REPORT.relative_to(ROOT)})")
    parser.add_argument("--flush", action="store_true",
                        help="with REDIS_URL: let each benchmark empty a database that holds "
                             "keys")
    args = parser.parse_args(argv)
    known = {b.name for b in BENCHES}
    if args.only and set(args.only) - known:
        parser.error(f"--only: unknown {sorted(set(args.only) - known)}; known: {sorted(known)}")
    chosen = [b for b in BENCHES if (b.name in args.only if args.only
                                     else not b.optional or args.matching)]
    # SIGTERM unwinds like Ctrl-C: the running benchmark is stopped with what it started.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load_start = load()
    began = time.perf_counter()
    timeout = QUICK_TIMEOUT_S if args.quick else FULL_TIMEOUT_S
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="chatjobs-bench-") as tmp:
        for bench in chosen:
            outcomes.append(run_bench(bench, quick=args.quick, flush=args.flush, tmp=Path(tmp),
                                      timeout=timeout, say=lambda line: print(line, flush=True)))
    text = compose(outcomes, started=started, load_start=load_start, load_end=load(),
                   quick=args.quick, seconds=time.perf_counter() - began)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    failed = [o.bench.name for o in outcomes if not o.ok]
    print(f"\nreport written to {args.out}"
          + (f" ({len(failed)} failed: {', '.join(failed)})" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
