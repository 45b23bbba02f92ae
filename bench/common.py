"""What the benchmarks share: figures, the Redis they run on, the app and fake model, the
machine's counters, and the command-line runner.

- `Stats`: nearest-rank percentiles of samples in ms; `redis_rtt`: the baseline round trip.
- `bench_settings` / `bench_app`: the app as production builds it, on the bench's Redis,
  its model the local fake OpenAI server, ignoring the developer's shell and `.env`.
- `model_answer`: the fake model's answers for turns (a reply) and task runs
  (`send_message`, then `finish`); `once_task`: a task due once, as `/tasks create` plans it.
- `process_memory`, `process_cpu_s`, `machine_busy`, `deep_backlog`: what a process or the
  machine did, from /proc (Linux; NaN or None elsewhere).
- `run_main`: "REDIS_URL, or a temporary embedded Redis; refuse a database that holds keys
  unless --flush", then print the report and, with `--json PATH`, write its figures.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import os
import re
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import redis

from bench.machine import describe

if TYPE_CHECKING:
    from bot.app import App
    from config.settings import Settings
    from jobs_store.tasks import Task
    from tests.fakes.openai_server import Response

ROOT = Path(__file__).resolve().parents[1]
RTT_SAMPLES = 2_000
#: The no-op RQ job of the baselines (importable by name, so not `__main__.noop`).
NOOP = "bench.common.noop"
#: The console contact task runs talk to (`console:<workspace>:<user>`).
TASK_CONTACT = "console:local:bench"


def noop() -> None:
    """The baseline RQ job: does nothing."""


# --- figures ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Stats:
    """Percentiles of samples, in milliseconds (nearest rank; NaN samples left out)."""

    n: int
    p50: float
    p99: float
    max: float
    min: float
    mean: float

    @classmethod
    def of(cls, samples_ms: Iterable[float]) -> Stats:
        ordered = sorted(s for s in samples_ms if not math.isnan(s))
        if not ordered:
            return cls.empty()
        return cls(len(ordered), percentile(ordered, 0.50), percentile(ordered, 0.99),
                   ordered[-1], ordered[0], statistics.fmean(ordered))

    @classmethod
    def empty(cls) -> Stats:
        return cls(0, math.nan, math.nan, math.nan, math.nan, math.nan)


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest rank: the smallest sample with at least q of them at or below it."""
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def redis_rtt_samples(client: redis.Redis, samples: int = RTT_SAMPLES, *,
                      warmup: int = 50) -> list[float]:
    """Raw round trips (PING) on `client`, in ms, after `warmup` untimed ones."""
    for _ in range(warmup):
        client.ping()
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        client.ping()
        times.append((time.perf_counter() - start) * 1000)
    return times


def redis_rtt(client: redis.Redis, samples: int = RTT_SAMPLES) -> Stats:
    """The baseline: a raw Redis round trip (PING) on the app's client."""
    return Stats.of(redis_rtt_samples(client, samples))


def redis_counters(client: redis.Redis) -> tuple[int, float]:
    """(commands Redis ran so far, every client; its CPU seconds so far, user + system)."""
    stats, cpu = client.info("stats"), client.info("cpu")
    return (int(stats["total_commands_processed"]),
            float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"]))


def versions() -> dict[str, str]:
    """The versions beside the figures: rq and slack_bolt."""
    out = {}
    for key, package in (("rq", "rq"), ("bolt", "slack_bolt")):
        try:
            out[key] = version(package)
        except PackageNotFoundError:
            out[key] = "?"
    return out


def machine(url: str) -> dict[str, str]:
    """What the figures were measured on (see `bench.machine.describe`), with the versions."""
    client = redis.Redis.from_url(url, decode_responses=True)
    try:
        return describe(client, url, **versions())
    finally:
        client.close()


# --- the app, its settings and the fake model ---------------------------------------------

def bench_settings(*, data_dir: Path | str, openai_url: str, **overrides: Any) -> Settings:
    """Settings that ignore the developer's shell and `.env`: the fakes, no platform tokens,
    no embeddings (lexical matching only), logging at WARNING, and no per-person turn
    limit (one bench contact starts hundreds of turns a minute; the limit would pause
    them, which is not what these benchmarks measure); `overrides` on top."""
    from config.settings import load_settings

    base: dict[str, Any] = dict(
        _env_file=None, redis_url=None, chatjobs_data_dir=data_dir,
        openai_api_key="bench-key", openai_base_url=openai_url, openai_model="fake-model",
        openai_embedding_model=None, embeddings_base_url=None, slack_bot_token=None,
        slack_signing_secret=None, slack_app_token=None, discord_token=None,
        chatjobs_admins=frozenset(), chatjobs_log_level="WARNING",
        chatjobs_user_turns_per_minute=0)
    return load_settings(**(base | overrides))


@contextlib.contextmanager
def bench_app(url: str, openai_url: str, data_dir: Path) -> Iterator[App]:
    """The app as production builds it (`bot.app.app_on`) on the Redis at `url`; a fresh
    one each time (so a fresh matcher with an empty index cache)."""
    from bot.app import app_on

    with app_on(bench_settings(data_dir=data_dir, openai_url=openai_url), url) as app:
        yield app


def model_answer(reply: str) -> Callable[[dict[str, Any]], Response]:
    """The fake model's `default`: a turn gets `reply` at once; a task run (its request
    offers `send_message`) gets `send_message` on its kickoff and `finish` once a tool
    answered."""
    from tests.fakes.openai_server import Reply, ToolCall

    def answer(body: dict[str, Any]) -> Response:
        tools = {(t.get("function") or {}).get("name") for t in body.get("tools") or []}
        if "send_message" not in tools:
            return Reply(reply)
        messages = body.get("messages") or []
        last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"),
                        default=0)
        if any(m.get("role") == "tool" for m in messages[last_user + 1:]):
            return ToolCall("finish", {"outcome": "said hello"})
        return ToolCall("send_message", {"text": "Hello from the benchmark."})

    return answer


def task_id(i: int) -> str:
    """A given task id. The store's own are 32 random bits, which collide about once in
    100,000 tasks (`TaskStore.create` then keeps the older task and stores nothing)."""
    return f"task_{i:08x}"


def once_task(i: int, at: datetime, now: datetime, *, kind: str,
              contact: str = TASK_CONTACT) -> Task:
    """A `once <at>` task planned as `/tasks create` plans it, telling the agent to say
    hello to `contact` (a console contact: its messages go to a Redis list) and finish."""
    from bot.schedules import plan
    from jobs_store.tasks import Task

    return plan(Task(id=task_id(i), name=f"bench {kind} {i:06d}",
                     description="Say hello to the contact, then finish.", contact=contact,
                     schedule=f"once {at.isoformat()}", created_by="bench", created_at=now,
                     updated_by="bench", updated_at=now), now=now)


# --- the machine and its processes (Linux /proc) -------------------------------------------

def process_memory(pid: int) -> tuple[float, float]:
    """(resident MB now, peak resident MB) of a process: VmRSS and VmHWM of
    /proc/<pid>/status (NaN where there is no /proc)."""
    found = {"VmRSS": math.nan, "VmHWM": math.nan}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in found:
                found[name] = int(value.split()[0]) / 1024  # kB
    except (OSError, ValueError, IndexError):
        pass
    return found["VmRSS"], found["VmHWM"]


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system, every thread) a process used so far, from
    /proc/<pid>/stat (NaN where there is none)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
        fields = text.rsplit(")", 1)[1].split()  # the name may hold spaces
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return math.nan


def machine_busy() -> tuple[float, float] | None:
    """(busy, total) jiffies of all cores, from /proc/stat (None elsewhere); the share
    busy over a stretch is the difference of busy over the difference of total."""
    try:
        fields = [float(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)
    return sum(fields) - idle, sum(fields)


def busy_share(before: tuple[float, float] | None, after: tuple[float, float] | None) -> float:
    """Share of all cores busy between two `machine_busy()` readings, in %."""
    if before is None or after is None or after[1] <= before[1]:
        return math.nan
    return (after[0] - before[0]) / (after[1] - before[1]) * 100


@contextlib.contextmanager
def deep_backlog() -> Iterator[None]:
    """The fakes' listen queue: 128 instead of socketserver's 5, for fakes started inside.

    Slack's and OpenAI's endpoints do not drop connections when 50 arrive at once; with a
    queue of 5 the kernel drops the SYNs beyond it and clients retry after 1 s, 3 s, ...
    Only this process's class attribute, restored afterwards (the servers keep their
    queue once listening).
    """
    from http.server import ThreadingHTTPServer

    before = ThreadingHTTPServer.request_queue_size
    ThreadingHTTPServer.request_queue_size = 128
    try:
        yield
    finally:
        ThreadingHTTPServer.request_queue_size = before


_FOREIGN = re.compile(r"^(OPENAI_|SLACK_|DISCORD_|EMBEDDINGS_|CHATJOBS_|REDIS_URL$)")


def child_env(**extra: str) -> dict[str, str]:
    """This environment without any chatjobs configuration, plus `extra` (for `chatjobs`
    processes the benchmark starts, so the developer's shell does not leak in)."""
    env = {k: v for k, v in os.environ.items() if not _FOREIGN.match(k)}
    env.update(extra)
    return env


# --- the command-line runner ------------------------------------------------------------------

class DatabaseNotEmpty(Exception):
    """REDIS_URL's database holds keys and --flush was not given."""


@contextlib.contextmanager
def bench_redis(*, flush: bool) -> Iterator[str]:
    """The Redis URL to run on: REDIS_URL's (its database must be empty unless `flush`;
    the benchmarks empty it), else an embedded Redis in a temporary directory."""
    from jobs_store.embedded import EmbeddedRedis

    external = os.environ.get("REDIS_URL")
    if external:
        client = redis.Redis.from_url(external)
        with contextlib.closing(client):
            keys = client.dbsize()
            if keys and not flush:
                raise DatabaseNotEmpty(
                    f"REDIS_URL's database holds {keys} keys; the benchmark empties it. "
                    "Point it at an empty database (e.g. redis://localhost:6379/15) or pass "
                    "--flush.")
            if keys:
                client.flushdb()
        yield external
        return
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis(Path(tmp) / "redis") as url:
        yield url


def add_runner_arguments(parser: argparse.ArgumentParser) -> None:
    """--flush and --json PATH, which `run_main` acts on."""
    parser.add_argument("--flush", action="store_true",
                        help="with REDIS_URL: empty its database first (the run empties it)")
    parser.add_argument("--json", type=Path, metavar="PATH",
                        help="also write the figures to PATH as JSON (for bench/run)")


R = TypeVar("R")


def run_main(args: argparse.Namespace, measure: Callable[[str], R],
             format_report: Callable[[R], str],
             figures: Callable[[R], Mapping[str, Any]] | None = None) -> int:
    """`measure(url)` on the bench's Redis; print `format_report`; with `args.json`, write
    `figures(report)` (default: the report itself) and the run's seconds there."""
    started = time.perf_counter()
    # SIGTERM (bench/run's timeout) unwinds like Ctrl-C: the embedded Redis and the
    # processes a benchmark started are stopped on the way out.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        with bench_redis(flush=args.flush) as url:
            report = measure(url)
    except DatabaseNotEmpty as exc:
        print(exc, file=sys.stderr)
        return 2
    seconds = time.perf_counter() - started
    print()
    print(format_report(report))
    print(f"\n(run took {seconds:.0f} s)")
    if args.json:
        data = dict(figures(report) if figures is not None else jsonable(report))
        write_json(args.json, data | {"seconds": seconds})
    return 0


def _exit_on_signal(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def jsonable(value: Any) -> Any:
    """`value` with dataclasses as dicts, tuples and sets as lists, times as ISO text,
    and NaN or infinity as None (JSON has neither)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Path):
        return str(value)
    return value


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Write `data` (made `jsonable`) to `path`, creating its directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(jsonable(data), indent=1, allow_nan=False) + "\n")
