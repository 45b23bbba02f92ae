"""Sustained turns per second beside RQ's no-op job throughput, and the resident memory of
`chatjobs serve`, `worker` and `scheduler`: `python bench/throughput.py`.

    python bench/throughput.py [--conversations 200] [--messages 5] [--workers 2]
                               [--noop 2000] [--jobs 12] [--tasks 1000] [--events 500]
                               [--rounds 3] [--settle 2] [--flush] [--json PATH]

The issue's question: *how many conversation turns per second do worker processes
carry, against what RQ itself carries with the same worker class?* Target: end-to-end
turns per second ≥ 0.5 × RQ's no-op job throughput. Everything runs for real except
the network peers:

- **turns**: `--workers` real `chatjobs worker` processes (RQ `SimpleWorker`s, as
  operators run them) on the bench's Redis (`REDIS_URL`), the model a lean fake
  OpenAI server in a process of its own (`bench/fake_model.py`) answering at once.
  Messages go in through `Ingress.accept` (as every adapter hands them over) from
  `--conversations` console conversations, each its own user, `--messages` each, in a
  closed loop: a conversation's next message goes `THINK_S` after its reply is on its
  console outbox (a person reads, then writes again), so every message is one turn and
  the line of turns never runs dry. Turn runners carry them (each row says how many
  turns shared an RQ job). Driver threads wait on the outboxes with one BLPOP over
  many keys. turns/s = replies / (first message accepted → last reply read). The same
  load **back to back** (the next message at once) is measured too, for context.
- **baseline**: `--noop` jobs of a top-level no-op function, enqueued at once (one
  pipeline) on a queue of their own, worked by `--workers` processes of
  `rq worker --worker-class rq.SimpleWorker` (RQ's own command, logging at WARNING and
  with the maintenance interval `chatjobs worker` uses); jobs/s = jobs / (RQ's first
  `started_at` → last `ended_at`). Measured before the first round of turns and after
  each (the chatjobs processes idle meanwhile): a round's ratio uses the mean of the runs
  around it, and the ratio reported is the median round's (`--rounds`, default 3), so
  one noisy stretch of the machine does not decide it.
- Beside each: CPU per item of the worker processes (/proc), of Redis (INFO cpu) and
  of the benchmark (this process: the drivers and ingress; and the fake model's
  process), Redis commands per item (the client
  side included: ingress and the driver for turns, the enqueue for no-ops), and the
  share of all cores busy.
- **tasks** (for the scheduler's memory): `--tasks` `once` tasks due in the same second,
  stored with `TaskStore.create`; a real `chatjobs scheduler` process queues them and
  the workers carry them out (the fake model: `send_message`, then `finish`).
- **serve** (for its memory): a real `chatjobs serve --port 0` in Slack HTTP mode
  against the local fake Slack Web API gets `--events` signed `app_mention` events, 50
  at a time; the workers answer them with `chat.postMessage`.
- **memory**: VmRSS of each process (/proc/<pid>/status) once started and idle, and
  after all of the above (with VmHWM, the peak).

Figures are printed, never asserted. It uses `REDIS_URL` when set (an empty database,
or pass `--flush`), else an embedded Redis in a temporary directory.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import heapq
import itertools
import math
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis
from rq import Queue, Worker
from rq.job import Job
from rq.registry import FinishedJobRegistry

from adapters.console import outbox
from bench.common import (
    NOOP,
    ROOT,
    Stats,
    add_runner_arguments,
    bench_app,
    busy_share,
    child_env,
    deep_backlog,
    jsonable,
    machine,
    machine_busy,
    once_task,
    process_cpu_s,
    process_memory,
    redis_counters,
    redis_rtt,
    run_main,
)
from bench.fake_model import ModelProcess
from bench.machine import load
from bot.app import App
from bot.models import Contact, IncomingMessage
from bot.task_runs import execution_id
from bot.templates import all_templates
from jobs_store import JobStore
from tests.bot.matching_eval_data import CASES
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.slack_requests import app_mention, event_body, post, signed_headers
from workers.queues import TASKS, TURN_TIMEOUT_S, TURNS
from workers.worker import MAINTENANCE_INTERVAL_S

DEFAULT_CONVERSATIONS = 200
DEFAULT_MESSAGES = 5
DEFAULT_WORKERS = 2
DEFAULT_NOOP = 2_000
DEFAULT_JOBS = 12
DEFAULT_TASKS = 1_000
DEFAULT_EVENTS = 500
#: The issue's target: turns per second at least this share of RQ's no-op jobs per second.
TARGET_RATIO = 0.5
#: Threads feeding the conversations (each waits on its share of the outboxes).
DRIVERS = 4
#: How long a conversation waits after a reply before its next message (s): long enough
#: that its turn's RQ job has ended, so each turn is a job of its own, as when people chat.
THINK_S = 0.1
#: Signed events in flight at once against `chatjobs serve`.
EVENT_CONCURRENCY = 50
#: How long processes sit before their idle memory is read (imports done, first ticks).
DEFAULT_SETTLE_S = 2.0
#: End-to-end rounds, each between two no-op runs: the ratio is the median round's.
DEFAULT_ROUNDS = 3
MODEL_REPLY = "Glad to help: here is the next step."
NOOP_QUEUE = "bench-noop"
WORKSPACE = "bench"
BOT_TOKEN = "xoxb-bench"
SECRET = "bench-signing-secret"
BIN = Path(sys.executable).parent


# --- figures ------------------------------------------------------------------------------

@dataclass
class Load:
    """A measured stretch of work: `items` turns answered or jobs finished."""

    label: str
    items: int
    #: The span the rate is over (s): turns, first accept → last reply; jobs, RQ's
    #: first started_at → last ended_at.
    seconds: float
    #: Per item: CPU ms of the worker processes, of Redis, of this process (the driver
    #: and the fake model), and Redis commands (every client).
    worker_cpu_ms: float
    redis_cpu_ms: float
    bench_cpu_ms: float
    commands: float
    #: Share of all cores busy meanwhile, %.
    busy: float
    #: Per item: turns, accept → reply read; jobs, started_at → ended_at (ms).
    latency: Stats
    #: No-op runs: the `rq worker` processes' resident MB once registered and idle (the
    #: memory baseline: RQ and the same worker class without chatjobs).
    idle_mb: float = math.nan
    #: RQ jobs that carried the items (turns: a job answers what came while it ran).
    rq_jobs: int = 0

    @property
    def per_job(self) -> float:
        return self.items / self.rq_jobs if self.rq_jobs else math.nan

    @property
    def per_s(self) -> float:
        return self.items / self.seconds if self.seconds > 0 else math.nan


@dataclass
class TurnChecks:
    """Did every message get exactly one reply, the model's, from one model call?"""

    conversations: int = 0
    #: Conversations whose replies were exactly their messages, each the model's text.
    exact: int = 0
    missing: int = 0
    extra: int = 0
    other_text: int = 0
    model_calls: int = 0

    def __add__(self, other: TurnChecks) -> TurnChecks:
        return TurnChecks(*(a + b for a, b in zip(dataclasses.astuple(self),
                                                  dataclasses.astuple(other), strict=True)))


@dataclass
class TaskLoad:
    """Tasks due at once: the `chatjobs scheduler` process queues them, the workers run them."""

    tasks: int
    #: RQ's enqueued_at − the due time, per run (ms).
    lateness: Stats
    #: Runs carried out per second by the workers (first started_at → last ended_at).
    per_s: float
    statuses: dict[str, int] = field(default_factory=dict)


@dataclass
class ServeLoad:
    """Signed events against `chatjobs serve`: acks, and replies posted by the workers."""

    events: int
    statuses: dict[str, int]
    #: Client side (this process's threads; for context only, bench/slack_ack.py measures
    #: acks properly): connect → 200 read.
    ack: Stats
    replies: int


@dataclass
class Memory:
    """Resident memory of one process (MB)."""

    process: str
    pid: int
    idle_mb: float
    after_mb: float = math.nan
    peak_mb: float = math.nan


@dataclass
class Report:
    machine: dict[str, str]
    settings: dict[str, Any]
    rtt: Stats
    #: The end-to-end load, round by round.
    rounds: list[Load]
    #: No-op runs: before the first round and after each (a round's ratio uses the two
    #: around it).
    noops: list[Load]
    #: The same conversations back to back (no pause): context for the rounds.
    burst: Load
    checks: TurnChecks
    #: An idle `rq worker` process's resident MB (the memory baseline).
    rq_idle_mb: float = math.nan
    tasks: TaskLoad | None = None
    serve: ServeLoad | None = None
    memory: list[Memory] = field(default_factory=list)
    fake_errors: list[str] = field(default_factory=list)

    @property
    def ratios(self) -> list[float]:
        """Each round's turns/s ÷ the mean of the no-op runs around it."""
        return [turns.per_s / _mean_per_s(self.noops[i:i + 2])
                for i, turns in enumerate(self.rounds)]

    @property
    def median_round(self) -> int:
        """The round whose ratio is the median (the lower middle one if even)."""
        ratios = self.ratios
        order = sorted(range(len(ratios)), key=ratios.__getitem__)
        return order[(len(order) - 1) // 2]

    @property
    def turns(self) -> Load:
        return self.rounds[self.median_round]

    @property
    def noop_before(self) -> Load:
        return self.noops[self.median_round]

    @property
    def noop_after(self) -> Load:
        return self.noops[self.median_round + 1]

    @property
    def noop_per_s(self) -> float:
        return _mean_per_s([self.noop_before, self.noop_after])

    @property
    def ratio(self) -> float:
        return self.ratios[self.median_round]

    @property
    def turn_count(self) -> int:
        """Turns answered in every load (one model call each)."""
        return sum(load.items for load in self.rounds) + self.burst.items


def _mean_per_s(loads: Sequence[Load]) -> float:
    return statistics.fmean(load.per_s for load in loads)


# --- processes ----------------------------------------------------------------------------

class Proc:
    """A process this benchmark started, its output in a log file."""

    def __init__(self, name: str, argv: Sequence[str], env: dict[str, str],
                 log_dir: Path, cwd: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("w")
        self.popen = subprocess.Popen(list(argv), env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                                      stdout=self._log, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def check(self) -> None:
        """Raise, with the end of its output, if it exited."""
        if self.popen.poll() is not None:
            raise RuntimeError(f"{self.name} exited ({self.popen.returncode}){self.tail()}")

    def tail(self) -> str:
        self._log.flush()
        text = self.log_path.read_text(errors="replace")[-3000:]
        return f"; its output ends:\n{text}" if text.strip() else ""

    def wait_for(self, pattern: str, timeout: float = 90.0) -> re.Match[str]:
        """Wait until its output matches `pattern`."""
        deadline = time.monotonic() + timeout
        while True:
            found = re.search(pattern, self.log_path.read_text(errors="replace"))
            if found:
                return found
            self.check()
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not print {pattern!r} in {timeout:.0f} s"
                                   f"{self.tail()}")
            time.sleep(0.05)

    def cpu_s(self) -> float:
        return process_cpu_s(self.pid)

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM (RQ workers finish the job in hand), then SIGKILL if it lingers; our
        own child, by its handle."""
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)
        self._log.close()


class Procs:
    """Every process of the run, stopped at the end whatever happens."""

    def __init__(self, log_dir: Path, env: dict[str, str], cwd: Path) -> None:
        self.log_dir, self.env, self.cwd = log_dir, env, cwd
        log_dir.mkdir(parents=True, exist_ok=True)
        self.all: list[Proc] = []

    def start(self, name: str, *argv: str) -> Proc:
        proc = Proc(name, argv, self.env, self.log_dir, self.cwd)
        self.all.append(proc)
        return proc

    def stop(self, procs: Sequence[Proc]) -> None:
        for proc in procs:
            if proc.popen.poll() is None:
                proc.popen.terminate()  # all at once, then wait for each
        for proc in procs:
            proc.stop()

    def stop_all(self) -> None:
        self.stop(self.all)


def _executable(name: str) -> str:
    path = BIN / name
    if not path.exists():
        raise RuntimeError(f"{name} is not installed next to {sys.executable}; run the "
                           "benchmark with the project's virtualenv (.venv/bin/python)")
    return str(path)


def wait_workers(rq_client: redis.Redis, queue: str, count: int, procs: Sequence[Proc],
                 timeout: float = 90.0) -> None:
    """Wait until `count` RQ workers listen on `queue` (each registers once started)."""
    deadline = time.monotonic() + timeout
    while sum(queue in w.queue_names() for w in Worker.all(connection=rq_client)) < count:
        for proc in procs:
            proc.check()
        if time.monotonic() > deadline:
            raise RuntimeError(f"{count} workers on {queue} did not start in {timeout:.0f} s")
        time.sleep(0.05)


class Counters:
    """CPU of some processes, of Redis and of the benchmark (this process and `bench`),
    Redis commands, busy cores: read at the start, differences at the end."""

    def __init__(self, client: redis.Redis, procs: Sequence[Proc], *,
                 bench: Sequence[int] = ()) -> None:
        self.client, self.procs, self.bench = client, procs, bench
        self.commands, self.redis_cpu = redis_counters(client)
        self.cpu = [p.cpu_s() for p in procs]
        self.own = self._bench_cpu_s()
        self.busy = machine_busy()

    def load(self, label: str, items: int, seconds: float, latency: Stats, *,
             own_commands: int = 0) -> Load:
        commands, redis_cpu = redis_counters(self.client)
        workers = sum(p.cpu_s() - c for p, c in zip(self.procs, self.cpu, strict=True))
        per = 1000 / max(items, 1)
        return Load(label=label, items=items, seconds=seconds,
                    worker_cpu_ms=workers * per, redis_cpu_ms=(redis_cpu - self.redis_cpu) * per,
                    bench_cpu_ms=(self._bench_cpu_s() - self.own) * per,
                    # Less the INFO that read the counters and the benchmark's own polls.
                    commands=(commands - self.commands - 2 - own_commands) / max(items, 1),
                    busy=busy_share(self.busy, machine_busy()), latency=latency)


    def _bench_cpu_s(self) -> float:
        """This process's CPU, and that of the benchmark's processes (the fake model)."""
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime + sum(process_cpu_s(pid) for pid in self.bench)


def wait_finished(client: redis.Redis, queue: str, count: int, *, timeout: float,
                  procs: Sequence[Proc] = ()) -> int:
    """Wait until `count` jobs of `queue` finished (its finished registry, one ZCARD a
    look); how many looks it took."""
    key = FinishedJobRegistry(name=queue, connection=client).key
    deadline = time.monotonic() + timeout
    looks = 1
    while client.zcard(key) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {client.zcard(key)} of {count} jobs on {queue} finished"
                               f" in {timeout:.0f} s")
        for proc in procs:
            proc.check()
        time.sleep(0.01)
        looks += 1
    return looks


def rq_span(rq_client: redis.Redis, ids: Sequence[str]) -> tuple[float, Stats, list[Job]]:
    """(RQ's first started_at → last ended_at in s, each job's started → ended, the jobs)."""
    jobs = [j for j in Job.fetch_many(list(ids), connection=rq_client) if j is not None]
    timed = [j for j in jobs if j.started_at and j.ended_at]
    if not timed:
        return math.nan, Stats.empty(), jobs
    span = (max(j.ended_at for j in timed) - min(j.started_at for j in timed)).total_seconds()
    return span, Stats.of((j.ended_at - j.started_at).total_seconds() * 1000
                          for j in timed), jobs


# --- the no-op baseline ---------------------------------------------------------------------

def measure_noop(url: str, rq_client: redis.Redis, procs: Procs, *, jobs: int, workers: int,
                 label: str, say: Callable[[str], None], settle: float | None = None) -> Load:
    """`jobs` no-op jobs enqueued at once, worked by `workers` `rq worker` processes; with
    `settle` (s), their resident memory once registered and settled that long too."""
    queue = Queue(NOOP_QUEUE, connection=rq_client)
    queue.empty()
    rq_client.delete(FinishedJobRegistry(name=NOOP_QUEUE, connection=rq_client).key)
    rq_workers = [procs.start(f"rq-{label}-{i}", _executable("rq"), "worker",
                              "--worker-class", "rq.SimpleWorker", "--logging_level", "WARNING",
                              "--maintenance-interval", str(MAINTENANCE_INTERVAL_S),
                              "--path", str(ROOT), "--url", url, NOOP_QUEUE)
                  for i in range(workers)]
    try:
        wait_workers(rq_client, NOOP_QUEUE, workers, rq_workers)
        idle_mb = math.nan
        if settle is not None:
            time.sleep(settle)
            idle_mb = statistics.fmean(process_memory(p.pid)[0] for p in rq_workers)
        warmup = 20 * workers  # each imports the job's module on its first one
        enqueue_noops(queue, warmup)
        wait_finished(rq_client, NOOP_QUEUE, warmup, timeout=60, procs=rq_workers)
        counters = Counters(rq_client, rq_workers)
        ids = enqueue_noops(queue, jobs)
        looks = wait_finished(rq_client, NOOP_QUEUE, warmup + jobs, timeout=60 + jobs * 0.05,
                              procs=rq_workers)
        span, each, _ = rq_span(rq_client, ids)
        result = counters.load(f"no-op jobs, {label}", jobs, span, each, own_commands=looks)
        result.idle_mb = idle_mb
    finally:
        procs.stop(rq_workers)
    say(f"  {result.label}: {result.per_s:,.0f} per s")
    return result


def enqueue_noops(queue: Queue, count: int) -> list[str]:
    """`count` no-op jobs on `queue` in one pipeline (the workers see them all at once)."""
    with queue.connection.pipeline() as pipe:
        jobs = queue.enqueue_many(
            [Queue.prepare_data(NOOP, timeout=TURN_TIMEOUT_S, description="noop")
             for _ in range(count)], pipeline=pipe)
        pipe.execute()
    return [job.id for job in jobs]


# --- turns ------------------------------------------------------------------------------------

@dataclass
class Conversation:
    """One console conversation of the load: when each message went, each reply came."""

    index: int
    tag: str
    sent: list[float] = field(default_factory=list)
    replies: list[tuple[float, str]] = field(default_factory=list)

    @property
    def user(self) -> str:
        return f"u-{self.tag}-{self.index}"

    def message(self, text: str) -> IncomingMessage:
        return IncomingMessage(
            platform="console", workspace=WORKSPACE, channel=f"dm-{self.user}", user=self.user,
            user_name=self.user, text=text, message_id=f"{self.user}-{len(self.sent)}",
            mentions_bot=True, is_dm=True)

    @property
    def id(self) -> str:
        return self.message("").conversation_id


class Later:
    """Runs calls when they are due, in order, on a thread of its own (so the drivers'
    BLPOPs are not cut short to send on time)."""

    def __init__(self) -> None:
        self._due: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._changed = threading.Condition()
        self._stopped = False
        #: The first call that raised: no more calls are made, and the drivers stop.
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="later", daemon=True)
        self._thread.start()

    def at(self, when: float, call: Callable[[], None]) -> None:
        with self._changed:
            heapq.heappush(self._due, (when, next(self._order), call))
            self._changed.notify()

    def stop(self) -> None:
        with self._changed:
            self._stopped = True
            self._changed.notify()
        self._thread.join(5)

    def _run(self) -> None:
        while True:
            with self._changed:
                if self._stopped:
                    return
                if not self._due or self._due[0][0] > time.monotonic():
                    self._changed.wait(self._due[0][0] - time.monotonic() if self._due else None)
                    continue
                call = heapq.heappop(self._due)[2]
            try:
                call()
            except Exception as exc:  # e.g. Redis gone: stop the load instead of hanging
                self.error = exc
                return


def drive(app: App, conversations: Sequence[Conversation], *, messages: int,
          texts: Sequence[str], deadline: float, later: Later | None) -> None:
    """Feed `conversations` in a closed loop: each one's next message when its reply came,
    or with `later`, `THINK_S` after."""
    def send(conv: Conversation) -> None:
        message = conv.message(texts[(conv.index * messages + len(conv.sent)) % len(texts)])
        contact = Contact(platform="console", workspace=WORKSPACE, user=conv.user,
                          display_name=conv.user, role="member")
        conv.sent.append(time.monotonic())
        app.ingress.accept(message, contact=contact)

    waiting = {}
    for conv in conversations:
        send(conv)
        waiting[outbox(conv.id)] = conv
    while waiting and time.monotonic() < deadline and (later is None or later.error is None):
        found = app.client.blpop(list(waiting), timeout=1)
        if found is None:
            continue
        key, text = str(found[0]), str(found[1])
        conv = waiting[key]
        conv.replies.append((time.monotonic(), text))
        if len(conv.sent) >= messages:
            del waiting[key]
        elif later is not None:
            later.at(time.monotonic() + THINK_S, functools.partial(send, conv))
        else:
            send(conv)


def run_conversations(app: App, *, count: int, messages: int, tag: str,
                      timeout: float, think: bool) -> list[Conversation]:
    """`count` conversations of `messages` messages, fed by `DRIVERS` threads; returns them
    once every reply came (or at the timeout)."""
    conversations = [Conversation(i, tag) for i in range(count)]
    texts = [case.text for case in CASES]
    deadline = time.monotonic() + timeout
    later = Later() if think else None
    threads = [threading.Thread(target=drive, args=(app, conversations[k::DRIVERS]),
                                kwargs={"messages": messages, "texts": texts,
                                        "deadline": deadline, "later": later},
                                name=f"driver-{k}", daemon=True)
               for k in range(min(DRIVERS, count))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout + 5)
    if later is not None:
        later.stop()
        if later.error is not None:
            raise RuntimeError(f"sending a message failed: {later.error!r}") from later.error
    return conversations


def measure_turns(app: App, fake: ModelProcess, workers: Sequence[Proc], *, conversations: int,
                  messages: int, think: bool, label: str, tag: str,
                  say: Callable[[str], None]) -> tuple[Load, TurnChecks]:
    """The closed-loop load on the running workers, after a warm-up; `tag` names its
    conversations (new ones each time)."""
    per_worker = max(2, min(10, conversations // max(len(workers), 1)))
    run_conversations(app, count=per_worker * len(workers), messages=2, tag=f"warm-{tag}",
                      timeout=120, think=think)
    time.sleep(0.5)  # the warm-up's last jobs end after their replies
    calls = fake.chat_requests()
    finished = FinishedJobRegistry(name=TURNS, connection=app.rq_client)
    jobs_before = finished.count
    counters = Counters(app.client, workers, bench=[fake.pid])
    done = run_conversations(app, count=conversations, messages=messages, tag=f"load-{tag}",
                             timeout=120 + conversations * messages * 0.5, think=think)
    replies = [at for conv in done for at, _ in conv.replies]
    first = min(t for conv in done for t in conv.sent[:1])
    seconds = (max(replies) - first) if replies else math.nan
    latency = Stats.of((reply - sent) * 1000 for conv in done
                       for sent, (reply, _) in zip(conv.sent, conv.replies, strict=False))
    load = counters.load(label, len(replies), seconds, latency)
    time.sleep(0.5)  # a second reply would be on its outbox by now
    load.rq_jobs = finished.count - jobs_before
    checks = TurnChecks(conversations=len(done),
                        model_calls=fake.chat_requests() - calls)
    with app.client.pipeline(transaction=False) as pipe:
        for conv in done:
            pipe.llen(outbox(conv.id))
        left = pipe.execute()
    for conv, more in zip(done, left, strict=True):
        got = len(conv.replies)
        checks.exact += (got == messages and not more
                         and all(text == MODEL_REPLY for _, text in conv.replies))
        checks.missing += max(messages - got, 0)
        checks.extra += more
        checks.other_text += sum(text != MODEL_REPLY for _, text in conv.replies)
    say(f"  {load.items:,} turns in {load.seconds:.1f} s: {load.per_s:,.1f} per s, "
        f"{load.per_job:.2f} per RQ job")
    return load, checks


# --- tasks, serve, memory -------------------------------------------------------------------

def measure_tasks(app: App, workers: Sequence[Proc], *, count: int,
                  say: Callable[[str], None]) -> TaskLoad:
    """`count` tasks due in the same second; the scheduler process queues them, the
    workers carry them out."""
    tasks, executions = app.stores.tasks, app.stores.executions
    assert tasks is not None and executions is not None
    now = datetime.now(UTC)
    # Far enough ahead to store them all first (a few ms each), on a whole second.
    due_at = (now + timedelta(seconds=0.5 + count * 0.01)).replace(microsecond=0)
    due_at += timedelta(seconds=1)
    ids = []
    for i in range(count):
        task = tasks.create(once_task(i, due_at, now, kind="throughput"))
        assert task.next_run is not None
        ids.append(execution_id(task.id, task.next_run))
    if datetime.now(UTC) >= due_at:
        say("!!! storing the tasks overran their due time: their lateness is off")
    wait_finished(app.rq_client, TASKS, count, procs=workers,
                  timeout=(due_at - datetime.now(UTC)).total_seconds() + 120 + count * 0.2)
    span, _, jobs = rq_span(app.rq_client, ids)
    lateness = Stats.of((j.enqueued_at - due_at).total_seconds() * 1000
                        for j in jobs if j.enqueued_at is not None)
    statuses = Counter(e.status if e else "missing" for e in (executions.find(i) for i in ids))
    result = TaskLoad(tasks=count, lateness=lateness,
                      per_s=len(jobs) / span if span > 0 else math.nan,
                      statuses=dict(statuses))
    say(f"  {count:,} task runs: queued p99 {lateness.p99:,.0f} ms after due, carried out at"
        f" {result.per_s:,.1f} per s")
    return result


def measure_serve(port: int, slack: FakeSlackAPI, *, events: int,
                  say: Callable[[str], None]) -> ServeLoad:
    """`events` signed app_mention events, `EVENT_CONCURRENCY` in flight; then wait
    (bounded) for the workers' replies."""
    users = [f"UB{i:04d}" for i in range(EVENT_CONCURRENCY)]
    for user in users:
        slack.add_user(user, name=f"bench-{user.lower()}")
    epoch = int(time.time())
    url = f"http://127.0.0.1:{port}/slack/events"
    posted_before = len(slack.calls("chat.postMessage"))
    requests = []
    for seq in range(1, events + 1):
        body = event_body(app_mention(f"can you help me set up my profile? ({seq})",
                                      user=users[seq % len(users)], channel=f"CS{seq:06d}",
                                      ts=f"{epoch}.{seq:06d}"))
        requests.append((body, signed_headers(body, SECRET)))

    def one(request: tuple[str, dict[str, str]]) -> tuple[str, float]:
        start = time.monotonic()
        try:
            status = str(post(url, *request, timeout=15)[0])
        except OSError as exc:
            status = type(exc).__name__
        return status, (time.monotonic() - start) * 1000

    with ThreadPoolExecutor(EVENT_CONCURRENCY) as pool:
        results = list(pool.map(one, requests))
    statuses = Counter(status for status, _ in results)
    acked = statuses.get("200", 0)
    deadline = time.monotonic() + 60 + events * 0.2
    while (len(slack.calls("chat.postMessage")) - posted_before < acked
           and time.monotonic() < deadline):
        time.sleep(0.1)
    result = ServeLoad(events=events, statuses=dict(statuses),
                       ack=Stats.of(ms for status, ms in results if status == "200"),
                       replies=len(slack.calls("chat.postMessage")) - posted_before)
    say(f"  {events:,} events: {dict(statuses)}; {result.replies:,} replies posted")
    return result


def load_library(client: redis.Redis, count: int) -> None:
    """`count` jobs: the built-in templates, numbered copies of them beyond 12."""
    templates = list(all_templates().values())
    items = [{**t, "name": t["name"] if i < len(templates) else f"{t['name']} ({i})"}
             for i, t in zip(range(count), itertools.cycle(templates), strict=False)]
    store = JobStore(client)
    for offset in range(0, len(items), 500):
        store.import_many(items[offset:offset + 500], actor="bench")


# --- the run ---------------------------------------------------------------------------------

def run(url: str, *, conversations: int = DEFAULT_CONVERSATIONS,
        messages: int = DEFAULT_MESSAGES, workers: int = DEFAULT_WORKERS,
        noop: int = DEFAULT_NOOP, jobs: int = DEFAULT_JOBS, tasks: int = DEFAULT_TASKS,
        events: int = DEFAULT_EVENTS, settle: float = DEFAULT_SETTLE_S,
        rounds: int = DEFAULT_ROUNDS, say: Callable[[str], None] = print) -> Report:
    """Everything, on the Redis at `url` (its database is emptied before and after)."""
    info = machine(url)
    settings = {"conversations": conversations, "messages": messages, "workers": workers,
                "noop": noop, "jobs": jobs, "tasks": tasks, "events": events,
                "rounds": rounds, "drivers": DRIVERS, "think_s": THINK_S,
                "event_concurrency": EVENT_CONCURRENCY, "settle_s": settle}
    with (tempfile.TemporaryDirectory() as tmp_dir, deep_backlog(),
          ModelProcess(MODEL_REPLY) as model,
          FakeSlackAPI(bot_token=BOT_TOKEN) as slack,
          bench_app(url, model.base_url, Path(tmp_dir) / "data") as app):
        tmp = Path(tmp_dir)
        env = child_env(REDIS_URL=url, CHATJOBS_DATA_DIR=str(tmp / "data"),
                        OPENAI_API_KEY="bench-key", OPENAI_BASE_URL=model.base_url,
                        OPENAI_MODEL="fake-model", SLACK_BOT_TOKEN=BOT_TOKEN,
                        SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=slack.base_url,
                        CHATJOBS_LOG_LEVEL="WARNING", PYTHONPATH=str(ROOT))
        procs = Procs(tmp / "logs", env, tmp)
        try:
            app.client.flushdb()
            app.agent.bots.ensure_default()
            load_library(app.client, jobs)
            rtt = redis_rtt(app.client)
            say(f"no-op baseline: {noop:,} jobs on {workers} rq SimpleWorker processes…")
            noops = [measure_noop(url, app.rq_client, procs, jobs=noop, workers=workers,
                                  label="before", say=say, settle=settle)]
            say(f"starting {workers} chatjobs worker, a scheduler and serve…")
            chatjobs = _executable("chatjobs")
            workers_ = [procs.start(f"worker-{i}", chatjobs, "worker") for i in range(workers)]
            scheduler = procs.start("scheduler", chatjobs, "scheduler")
            serve = procs.start("serve", chatjobs, "serve", "--port", "0")
            port = int(serve.wait_for(r"Slack at http://[\d.]+:(\d+)/slack/events").group(1))
            scheduler.wait_for(r"chatjobs scheduler:")
            wait_workers(app.rq_client, TURNS, workers, workers_)
            time.sleep(settle)
            chatjobs_procs = [*workers_, scheduler, serve]
            memory = [Memory(p.name, p.pid, process_memory(p.pid)[0]) for p in chatjobs_procs]
            turn_rounds: list[Load] = []
            checks = TurnChecks()
            for r in range(1, rounds + 1):
                say(f"turns, round {r} of {rounds}: {conversations} conversations × "
                    f"{messages} messages, {THINK_S * 1000:.0f} ms between a reply and the "
                    "next message…")
                turns, round_checks = measure_turns(
                    app, model, workers_, conversations=conversations, messages=messages,
                    think=True, label=f"turns, round {r}", tag=f"round{r}", say=say)
                turn_rounds.append(turns)
                checks = checks + round_checks
                # The chatjobs processes sit idle meanwhile (blocked on their queues).
                noops.append(measure_noop(url, app.rq_client, procs, jobs=noop,
                                          workers=workers, label=f"after round {r}", say=say))
            say("the same, back to back…")
            burst, burst_checks = measure_turns(
                app, model, workers_, conversations=conversations, messages=messages,
                think=False, label="turns, back to back", tag="burst", say=say)
            checks = checks + burst_checks
            task_load = None
            if tasks:
                say(f"tasks: {tasks:,} due at once…")
                task_load = measure_tasks(app, workers_, count=tasks, say=say)
            serve_load = None
            if events:
                say(f"serve: {events:,} signed Slack events…")
                serve_load = measure_serve(port, slack, events=events, say=say)
            time.sleep(1.0)
            for mem, proc in zip(memory, chatjobs_procs, strict=True):
                proc.check()
                mem.after_mb, mem.peak_mb = process_memory(proc.pid)
            procs.stop(chatjobs_procs)
        finally:
            procs.stop_all()
            with contextlib.suppress(redis.RedisError):
                app.client.flushdb()
        errors = [*model.errors(), *(repr(e) for e in slack.errors)]
    info["load"] += f" at start, {load()} at the end"
    return Report(machine=info, settings=settings, rtt=rtt, rounds=turn_rounds, noops=noops,
                  burst=burst, checks=checks, rq_idle_mb=noops[0].idle_mb, tasks=task_load,
                  serve=serve_load, memory=memory, fake_errors=errors)


# --- printing --------------------------------------------------------------------------------

def format_report(report: Report) -> str:
    """The throughput table, the checks, the tasks and serve loads, and the memory table."""
    m, s = report.machine, report.settings
    lines = [
        f"machine: {m['cores']} cores ({m['cpu']}), Python {m['python']}, Redis {m['redis']},"
        f" rq {m['rq']}; load average {m['load']}",
        f"turns: {s['conversations']} console conversations × {s['messages']} messages through"
        f" Ingress.accept, closed loop ({s['drivers']} driver threads), the next message"
        f" {s['think_s'] * 1000:.0f} ms after a reply (back to back: at once); {s['workers']}"
        f" `chatjobs worker` processes; the fake model answers at once; {s['jobs']} jobs in"
        " the library",
        f"baseline: {s['noop']:,} no-op jobs enqueued at once, {s['workers']} `rq worker"
        " --worker-class rq.SimpleWorker` processes, same Redis; before the first round and"
        " after each",
        f"Redis PING: p50 {report.rtt.p50:.3f} ms, p99 {report.rtt.p99:.3f} ms",
        "",
        f"{'':<22} | {'items':>6} | {'per s':>8} | {'per':>5} | {'span s':>6} |"
        f" {'CPU ms per item:':>16} {'':>5} {'':>5} | {'Redis':>6} | {'busy':>4} |"
        f" {'item p50/p99 ms':>17}",
        f"{'':<22} | {'':>6} | {'':>8} | {'job':>5} | {'':>6} | {'workers':>7} {'Redis':>6}"
        f" {'bench':>6}   | {'cmds':>6} | {'':>4} |",
        "-" * 120,
    ]
    rows = [report.noops[0]]
    for turns, noop in zip(report.rounds, report.noops[1:], strict=True):
        rows += [turns, noop]
    for row in [*rows, report.burst]:
        per_job = f"{row.per_job:>5.2f}" if row.rq_jobs else f"{1:>5.2f}"
        lines.append(
            f"{row.label:<22} | {row.items:>6,} | {row.per_s:>8,.1f} | {per_job} |"
            f" {row.seconds:>6.2f} |"
            f" {row.worker_cpu_ms:>7.2f} {row.redis_cpu_ms:>6.2f} {row.bench_cpu_ms:>6.2f}"
            f"   | {row.commands:>6.1f} | {row.busy:>3.0f}% |"
            f" {row.latency.p50:>8.1f}/{row.latency.p99:<8.1f}")
    ratio = report.ratio
    verdict = "meets" if ratio >= TARGET_RATIO else "misses"
    turns, noop = report.turns, report.noop_before
    median = report.median_round + 1
    lines += [
        "",
        "ratio per round (turns/s ÷ the mean of the no-op runs before and after it): "
        + ", ".join(f"{r:.3f}" for r in report.ratios),
        f"ratio: the median round ({median}): {turns.per_s:,.1f} turns/s ÷"
        f" {report.noop_per_s:,.1f} no-op jobs/s = {ratio:.3f}",
        f"target: turns/s ≥ {TARGET_RATIO} × RQ's no-op jobs/s with the same worker class:"
        f" {verdict} it ({ratio:.3f})",
        f"a turn costs {turns.worker_cpu_ms:.1f} ms of worker CPU (a no-op job"
        f" {noop.worker_cpu_ms:.2f} ms: ×{_ratio(turns.worker_cpu_ms, noop.worker_cpu_ms)}),"
        f" {turns.redis_cpu_ms:.2f} ms of Redis CPU"
        f" (×{_ratio(turns.redis_cpu_ms, noop.redis_cpu_ms)}) and {turns.commands:.0f} Redis"
        f" commands (×{_ratio(turns.commands, noop.commands)})",
        f"back to back: {report.burst.per_s:,.1f} turns/s, {report.burst.per_job:.2f} turns per"
        f" RQ job (ratio {report.burst.per_s / report.noop_per_s:.3f}: context only)",
    ]
    c = report.checks
    lines.append(
        f"checks: {c.exact} of {c.conversations} conversations got exactly one reply per"
        f" message, the model's; {c.missing} replies missing, {c.extra} extra, {c.other_text}"
        f" with other text; {c.model_calls:,} model calls for"
        f" {report.turn_count:,} turns (every load)")
    if c.exact != c.conversations or c.model_calls != report.turn_count:
        lines.append("!!! not every message got exactly one reply from one model call")
    if report.tasks is not None:
        t = report.tasks
        lines.append(
            f"tasks: {t.tasks:,} due in the same second, queued by the `chatjobs scheduler`"
            f" process p50 {t.lateness.p50:,.0f} / p99 {t.lateness.p99:,.0f} / max"
            f" {t.lateness.max:,.0f} ms after due; carried out at {t.per_s:,.1f} per s by the"
            f" workers; executions {t.statuses}")
    if report.serve is not None:
        v = report.serve
        lines.append(
            f"serve: {v.events:,} signed app_mention events to `chatjobs serve`,"
            f" {EVENT_CONCURRENCY} in flight: statuses {v.statuses}; ack p50 {v.ack.p50:.1f} /"
            f" p99 {v.ack.p99:.1f} ms (client threads in this process: context only);"
            f" {v.replies:,} replies posted")
    if report.fake_errors:
        lines.append(f"!!! the fakes failed: {report.fake_errors}")
    lines += [
        "",
        f"resident memory (VmRSS, MB): idle = started and settled {s['settle_s']:g} s; after ="
        " after the"
        " turns, the tasks and the events; peak = VmHWM",
        f"  {'process':<12} {'pid':>8} {'idle':>8} {'after':>8} {'peak':>8}",
    ]
    for mem in report.memory:
        lines.append(f"  {mem.process:<12} {mem.pid:>8} {mem.idle_mb:>8.1f} {mem.after_mb:>8.1f}"
                     f" {mem.peak_mb:>8.1f}")
    lines.append(f"  baseline: an idle `rq worker --worker-class rq.SimpleWorker` process (RQ"
                 f" alone): {report.rq_idle_mb:.1f} MB")
    return "\n".join(lines)


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.1f}" if b and math.isfinite(b) else "—"


def figures(report: Report) -> dict[str, Any]:
    """The report as JSON, with the rates and the ratios; `turns`, `noop_before` and
    `noop_after` are the median round's (for bench/run)."""
    def load(row: Load) -> dict[str, Any]:
        return jsonable(row) | {"per_s": row.per_s, "per_job": row.per_job}

    data = jsonable(report)
    data["rounds"] = [load(row) for row in report.rounds]
    data["noops"] = [load(row) for row in report.noops]
    return jsonable(data | {
        name: load(getattr(report, name))
        for name in ("turns", "burst", "noop_before", "noop_after")} | {
        "noop_per_s": report.noop_per_s, "ratio": report.ratio, "ratios": report.ratios,
        "median_round": report.median_round + 1, "turn_count": report.turn_count,
        "target_ratio": TARGET_RATIO})


def _count(text: str) -> int:
    value = int(text.replace("_", "").replace(",", ""))
    if value < 0:
        raise argparse.ArgumentTypeError("a count, e.g. 200")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=_count, default=DEFAULT_CONVERSATIONS,
                        help=f"console conversations (default {DEFAULT_CONVERSATIONS})")
    parser.add_argument("--messages", type=_count, default=DEFAULT_MESSAGES,
                        help=f"messages per conversation (default {DEFAULT_MESSAGES})")
    parser.add_argument("--workers", type=_count, default=DEFAULT_WORKERS,
                        help=f"worker processes, both kinds (default {DEFAULT_WORKERS})")
    parser.add_argument("--noop", type=_count, default=DEFAULT_NOOP,
                        help=f"no-op jobs per baseline run (default {DEFAULT_NOOP:,})")
    parser.add_argument("--jobs", type=_count, default=DEFAULT_JOBS,
                        help=f"jobs in the library (default {DEFAULT_JOBS}: the built-in"
                             " templates)")
    parser.add_argument("--tasks", type=_count, default=DEFAULT_TASKS,
                        help=f"tasks due at once for the scheduler (default {DEFAULT_TASKS:,};"
                             " 0: none)")
    parser.add_argument("--events", type=_count, default=DEFAULT_EVENTS,
                        help=f"signed Slack events to serve (default {DEFAULT_EVENTS}; 0: none)")
    parser.add_argument("--rounds", type=_count, default=DEFAULT_ROUNDS,
                        help="end-to-end rounds, each between two no-op runs; the ratio is "
                             f"the median round's (default {DEFAULT_ROUNDS})")
    parser.add_argument("--settle", type=float, default=DEFAULT_SETTLE_S,
                        help="seconds the processes sit before their idle memory is read "
                             f"(default {DEFAULT_SETTLE_S:g})")
    add_runner_arguments(parser)
    args = parser.parse_args(argv)
    if min(args.conversations, args.messages, args.workers, args.noop, args.rounds) < 1:
        parser.error("--conversations, --messages, --workers, --noop and --rounds must be at "
                     "least 1")
    return run_main(args, lambda url: run(
        url, conversations=args.conversations, messages=args.messages, workers=args.workers,
        noop=args.noop, jobs=args.jobs, tasks=args.tasks, events=args.events,
        settle=args.settle, rounds=args.rounds),
        format_report, figures)


if __name__ == "__main__":
    sys.exit(main())
