"""Slack ingress ack latency, request in → HTTP 200, under load: `python bench/slack_ack.py`.

    python bench/slack_ack.py [--concurrency 50] [--rounds 4] [--cold-rounds 2]
                              [--workers 50] [--model-seconds 2] [--processes 1,2]
                              [--variants paused,niced,no_freeze,no_inbox,switch] [--flush]
                              [--json PATH]

The issue's question: *does Slack get its 200 in milliseconds while the model
is slow and 50 requests arrive at once?* Target: ack p99 ≤ 50 ms under 50
concurrent requests on a 2-core machine.

Every piece runs for real, in its own process, as in production HTTP mode:

- **server**: the bolt app (`bot.app.build_app` + `SlackDeps.build` +
  `create_app`, with `auth.test` answered by the fake Slack Web API) served by
  `adapters.slack.server.serve_http` with its `EventInbox` on 127.0.0.1, a
  thread of a process of its own: each event is acked once kept in the inbox,
  and handled (bolt's listener, ingress, the turn queued) after. With 2
  processes both bind the same port with SO_REUSEPORT (the kernel spreads
  connections between them): the "several serve processes behind a
  load balancer" layout, without a balancer hop;
- **baseline**: the same server class and request handler
  (`PooledWSGIServer`, `_QuietHandler`) serving a trivial WSGI app that
  reads the body and answers 200 at once, under the same load, in the same run;
  and a raw Redis round trip (PING) from the server process;
- **workers**: real RQ workers (`workers.worker.BackgroundWorker`, one per
  thread) in a process of their own, running the turns while the acks are
  measured; the model (`tests/fakes/openai_server.py`) answers every chat
  request after `--model-seconds`; replies go to the fake Slack Web API
  (`tests/fakes/slack_api.py`, in this process) as `chat.postMessage`;
- **client**: one asyncio process of its own (so it never takes the server's
  GIL) holding `--concurrency` connections: each round fires that many signed
  `app_mention` requests at once (distinct ts and channel each, so turns never
  coalesce and the per-channel send pace never waits), a new TCP connection per
  request (wsgiref closes after one), and times connect → the whole 200 read.

Times are `time.monotonic()` (CLOCK_MONOTONIC: one clock for every process on
the machine), so the server's own stamps split each request into parts.
Afterwards every acked message must get exactly one reply (bounded wait).

Figures are printed, never asserted. It uses `REDIS_URL` when set (an empty
database, or pass `--flush`), else an embedded Redis in a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import gc
import itertools
import json
import math
import os
import queue
import random
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402

from bench.common import (  # noqa: E402
    Stats,
    add_runner_arguments,
    bench_settings,
    deep_backlog,
    jsonable,
    machine,
    machine_busy,
    redis_rtt_samples,
    run_main,
)
from bench.machine import load  # noqa: E402

SCRIPT = Path(__file__).resolve()
BOT_TOKEN = "xoxb-bench"
SECRET = "bench-signing-secret"
EVENTS_PATH = "/slack/events"
MODEL_REPLY = "Happy to help: let's finish your profile together."
TARGET_P99_MS = 50.0
TARGET_CONCURRENCY = 50
REQUEST_TIMEOUT_S = 15.0

DEFAULT_CONCURRENCY = 50
DEFAULT_ROUNDS = 4
DEFAULT_COLD_ROUNDS = 2
DEFAULT_WORKERS = 50
DEFAULT_MODEL_S = 2.0
DEFAULT_PROCESSES = (1, 2)


# --- figures ---------------------------------------------------------------------------------

@dataclass
class Phase:
    """One measured load on one setup (app × processes)."""

    name: str
    app: str  # "baseline" | "slack"
    processes: int
    concurrency: int
    users: str  # "cached" | "cold" | "-"
    #: "" for the code as it stands, else what was changed for this phase (see VARIANTS).
    variant: str
    latency: Stats
    statuses: dict[int, int]
    elapsed_s: float
    #: CPU of the server process(es), all threads, per request (ms).
    server_cpu_ms: float
    client_cpu_ms: float
    #: Share of all cores busy during the load (/proc/stat), in %.
    machine_busy: float
    #: Per request: client stamps joined with the server's (see `parts`).
    rows: list[dict[str, float]] = field(default_factory=list)
    #: Per event handled from the inbox after its ack: ms from kept to handled.
    handled: Stats = field(default_factory=Stats.empty)
    per_process: list[int] = field(default_factory=list)
    gc_longest_ms: float = 0.0
    gc_count: int = 0
    #: Full (generation 2) collections in the server process(es) during the load.
    gc_full: int = 0
    gc_full_longest_ms: float = 0.0
    #: The CPU time of the longest full collection (wall can be longer: descheduled).
    gc_full_cpu_ms: float = 0.0

    @property
    def ack_cpu_ms(self) -> float:
        """The handler threads' own CPU per request (ms): the ack's, without the work the
        inbox does after it."""
        cpu = [(r["c_done"] - r["c_thread"]) * 1000 for r in self.rows
               if "c_done" in r and "c_thread" in r]
        return sum(cpu) / len(cpu) if cpu else math.nan

    @property
    def floor_ms(self) -> float:
        """A burst's ack CPU per process: with one GIL each, its last ack can't come sooner."""
        return self.concurrency * self.ack_cpu_ms / self.processes

    @property
    def throughput(self) -> float:
        return self.latency.n / self.elapsed_s if self.elapsed_s > 0 else math.nan


@dataclass
class Replies:
    """Did every acked message get exactly one reply?"""

    acked: int = 0
    exactly_once: int = 0
    missing: int = 0
    duplicated: int = 0
    unexpected: int = 0
    model_text: int = 0
    waited_s: float = 0.0


@dataclass
class Report:
    machine: dict[str, str]
    settings: dict[str, Any]
    phases: list[Phase] = field(default_factory=list)
    rtt: Stats = field(default_factory=Stats.empty)
    replies: Replies = field(default_factory=Replies)
    fake_errors: list[str] = field(default_factory=list)
    #: The worker process's CPU per turn (ms), every turn of the run.
    worker_cpu_ms_per_turn: float = math.nan
    #: Objects the slack server process holds once built (what a full collection walks).
    server_objects: int = 0
    #: Connections the kernel dropped for a full listen queue during the run (machine-wide).
    listen_overflows: int | None = None
    #: A full collection's cost in the slack server after the load ("slack1", frozen at
    #: start-up as serve does), and without gc.freeze() ("no_freeze"): cpu_ms, wall_ms,
    #: objects.
    full_gc: dict[str, dict[str, float]] = field(default_factory=dict)


# --- child processes: a JSON line in, a JSON line out ------------------------------------------

class Child:
    """A role of this script in a subprocess; `call` sends a command and waits for its answer."""

    def __init__(self, role: str, cfg: dict[str, Any], log_dir: Path) -> None:
        self.role = role
        self.log_path = log_dir / f"{role}-{next(_child_ids)}.log"
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, str(SCRIPT), "--role", role, "--config", json.dumps(cfg)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, text=True,
            cwd=str(ROOT))
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True, name=f"{role}-pump").start()
        self.info: dict[str, Any] = {}

    def ready(self, timeout: float = 60.0) -> Child:
        """Wait until it is built and serving; its `info` (port, pid, ...)."""
        self.info = self._answer(timeout)
        return self

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _answer(self, timeout: float) -> Any:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise RuntimeError(f"{self.role} process gave no answer in {timeout:.0f} s"
                               f"{self._tail()}") from None
        if line is None:
            raise RuntimeError(f"{self.role} process exited ({self.proc.wait()}){self._tail()}")
        message = json.loads(line)
        if not message.get("ok"):
            raise RuntimeError(f"{self.role} process failed: {message.get('error')}")
        return message.get("result")

    def _tail(self) -> str:
        self._log.flush()
        text = self.log_path.read_text(errors="replace")[-3000:]
        return f"; its stderr ends:\n{text}" if text.strip() else ""

    def call(self, cmd: str, timeout: float = 120.0, **args: Any) -> Any:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"cmd": cmd, "args": args}) + "\n")
        self.proc.stdin.flush()
        return self._answer(timeout)

    def stop(self, timeout: float = 30.0) -> None:
        """Ask it to stop; terminate it (our own child, by its handle) if it does not."""
        if self.proc.poll() is None:
            with contextlib.suppress(Exception):
                self.call("stop", timeout=timeout)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.terminate()
                self.proc.wait(timeout=5)
        self._log.close()


_child_ids = itertools.count(1)


def child_main(role: str, cfg: dict[str, Any]) -> int:
    """The child's loop: build the role, say ready, answer commands until stop or EOF."""
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # stray prints go to stderr, never into the protocol

    def send(**message: Any) -> None:
        out.write(json.dumps(message) + "\n")

    roles: dict[str, type[ServerRole | WorkerRole | ClientRole]] = {
        "server": ServerRole, "worker": WorkerRole, "client": ClientRole}
    try:
        handler = roles[role](cfg)
    except Exception:
        send(ok=False, error=traceback.format_exc())
        return 1
    send(ok=True, result=handler.info)
    for line in sys.stdin:
        message = json.loads(line)
        try:
            if message["cmd"] == "stop":
                handler.stop()
                send(ok=True, result=None)
                return 0
            result = getattr(handler, "cmd_" + message["cmd"])(**message.get("args", {}))
            send(ok=True, result=result)
        except Exception:
            send(ok=False, error=traceback.format_exc())
    handler.stop()  # the parent went away
    return 0


def settings_of(cfg: dict[str, Any]) -> Any:
    """The child's settings: the fakes, the bench Redis, the bench's Slack app."""
    return bench_settings(data_dir=cfg["data_dir"], openai_url=cfg["openai_url"],
                          slack_bot_token=BOT_TOKEN, slack_signing_secret=SECRET,
                          slack_api_url=cfg["slack_url"])


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# --- server role: the app under test, with timing stamps patched in from the outside ---------

_local = threading.local()


class Probe:
    """Stamps every request's way through the server, without touching the source.

    Patches (class attributes, in the server process only): the server's
    `get_request` (accepted) and `process_request_thread` (handler thread
    start/end, thread CPU), the WSGI app's `__call__`, and for the slack app
    `SignatureVerifier.is_valid`, `Redis.xadd` and `EventInbox.take` on the
    handler threads, plus a count of Redis round trips (commands sent at once,
    and pipelines); and `EventInbox._handle` on the lanes: how long after it
    was kept each event was handled. Each wrapper costs about a microsecond.
    """

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self._accepted: dict[Any, float] = {}
        self._active = 0
        self._lock = threading.Lock()
        #: (generation, wall ms, CPU ms) of every collection in this process.
        self.gc_pauses: list[tuple[int, float, float]] = []
        self._gc_started: list[tuple[float, float]] = []
        #: Events kept in the app's inbox and not handled yet (0 without one).
        self.inbox_waiting: Callable[[], int] = lambda: 0
        #: Per event handled from the inbox: ms from kept (XADD) to handled.
        self.handled: list[float] = []
        self._handling = 0
        gc.callbacks.append(self._gc)

    def _gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_started.append((time.perf_counter(), time.thread_time()))
        elif self._gc_started:
            wall, cpu = self._gc_started.pop()
            self.gc_pauses.append((info["generation"], (time.perf_counter() - wall) * 1000,
                                   (time.thread_time() - cpu) * 1000))

    def reset(self) -> None:
        with self._lock:
            self.records = []
            self.handled = []
        self.gc_pauses = []

    def time_handling(self, inbox_class: Any) -> None:
        """Record, per event, how long after it was kept (its stream id's ms: Redis's
        clock, the same machine's) the lanes had handled it."""
        probe, handle = self, inbox_class._handle

        def timed(inbox: Any, entry_id: str, *args: Any) -> None:
            with probe._lock:
                probe._handling += 1
            try:
                handle(inbox, entry_id, *args)
            finally:
                kept_ms = int(entry_id.split("-")[0])
                with probe._lock:
                    probe.handled.append(time.time() * 1000 - kept_ms)
                    probe._handling -= 1

        inbox_class._handle = timed

    def idle(self, timeout: float = 3.0) -> None:
        """Wait until no handler thread is running (the last ones are still closing)
        and the inbox is empty and done handling."""
        deadline = time.monotonic() + timeout
        while ((self._active or self._handling or self.inbox_waiting())
               and time.monotonic() < deadline):
            time.sleep(0.005)

    def install_server(self, server_class: Any) -> None:
        probe = self
        get_request = server_class.get_request
        process_request_thread = server_class.process_request_thread

        def timed_get_request(server: Any) -> Any:
            conn, address = get_request(server)
            probe._accepted[address] = time.monotonic()
            return conn, address

        def timed_thread(server: Any, request: Any, address: Any) -> None:
            record = {"accepted": probe._accepted.pop(address, math.nan), "redis": 0}
            _stamp(record, "thread")
            with probe._lock:
                probe._active += 1
            _local.record = record
            try:
                process_request_thread(server, request, address)
            finally:
                _local.record = None
                _stamp(record, "done")
                with probe._lock:
                    probe.records.append(record)
                    probe._active -= 1

        server_class.get_request = timed_get_request
        server_class.process_request_thread = timed_thread

    @staticmethod
    def wsgi(app: Callable[..., Any]) -> Callable[..., Any]:
        """Wrap a WSGI callable (function or unbound `__call__`): request id, app start/end."""
        def timed(*args: Any) -> Any:
            environ = args[-2]
            record = getattr(_local, "record", None)
            if record is None:
                return app(*args)
            record["id"] = environ.get("HTTP_X_BENCH_ID", "")
            _stamp(record, "app")
            try:
                return app(*args)
            finally:
                _stamp(record, "app_end")
        return timed

    @staticmethod
    def span(cls: type, name: str, key: str) -> None:
        """Add the wall and thread-CPU time of `cls.name` to the request's `key` and
        `key_cpu` (ms)."""
        original = getattr(cls, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            record = getattr(_local, "record", None)
            if record is None:
                return original(*args, **kwargs)
            start, cpu = time.monotonic(), time.thread_time()
            try:
                return original(*args, **kwargs)
            finally:
                record[key] = record.get(key, 0.0) + (time.monotonic() - start) * 1000
                record[key + "_cpu"] = (record.get(key + "_cpu", 0.0)
                                        + (time.thread_time() - cpu) * 1000)

        setattr(cls, name, timed)

    @staticmethod
    def count_redis() -> None:
        from redis.client import Pipeline, Redis

        def counted(cls: type, name: str) -> None:
            original = getattr(cls, name)

            def wrapper(*args: Any, **kwargs: Any) -> Any:
                record = getattr(_local, "record", None)
                if record is not None:
                    record["redis"] += 1
                return original(*args, **kwargs)

            setattr(cls, name, wrapper)

        counted(Redis, "execute_command")  # Pipeline overrides it: buffered ones not counted
        counted(Pipeline, "immediate_execute_command")  # WATCHed reads
        counted(Pipeline, "execute")


def _stamp(record: dict[str, Any], key: str) -> None:
    """`key`: now (monotonic, s); `c_key`: the thread's CPU time so far (s)."""
    record[key] = time.monotonic()
    record["c_" + key] = time.thread_time()


def trivial_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    """The baseline: read the body, answer 200 at once (as bolt's ack, an empty text body)."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length:
        environ["wsgi.input"].read(length)
    start_response("200 OK", [("Content-Type", "text/plain;charset=utf-8"),
                              ("Content-Length", "0")])
    return [b""]


class ServerRole:
    """`cfg["app"]`: "slack" (the real app via serve_http) or "baseline" (trivial_app)."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        from wsgiref.simple_server import make_server

        from adapters.slack import server as slack_server

        self.probe = Probe()
        server_class = slack_server.PooledWSGIServer
        if cfg["reuse_port"]:
            server_class.allow_reuse_port = True  # this process only
        self.probe.install_server(server_class)
        self.client = redis.Redis.from_url(cfg["redis_url"], decode_responses=True)
        self._closers: list[Callable[[], None]] = [self.client.close]
        if cfg["app"] == "slack":
            self._build_slack(cfg)
            self.server = slack_server.serve_http(self.slack, "127.0.0.1", cfg["port"],
                                                  inbox=self.inbox)
            if self.inbox is not None:
                self.inbox.start()
                self._closers.insert(0, self.inbox.stop)
        else:
            self.server = make_server("127.0.0.1", cfg["port"], Probe.wsgi(trivial_app),
                                      server_class=server_class,
                                      handler_class=slack_server._QuietHandler)
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                        daemon=True, name="serve")
        self._thread.start()
        if cfg.get("switch"):
            # A thread waiting for the GIL (the accept loop, a new handler thread's
            # start-up) asks for it after this long; the default is 5 ms.
            sys.setswitchinterval(0.0005)
        objects = len(gc.get_objects())
        if not cfg.get("no_freeze"):
            # As `chatjobs serve` does once started: everything built so far goes to
            # the permanent generation, so full collections stop walking the imported
            # modules and the app (the "no_freeze" variant leaves it out).
            gc.freeze()
        self._cpu0 = _cpu_s()
        self.info = {"port": self.server.server_port, "pid": os.getpid(),
                     "objects": objects, "frozen": gc.get_freeze_count()}

    def _build_slack(self, cfg: dict[str, Any]) -> None:
        from slack_sdk.signature import SignatureVerifier

        from adapters.slack import inbox as inbox_module
        from adapters.slack.app import SlackDeps, create_app
        from adapters.slack.inbox import EventInbox
        from adapters.slack.server import SlackWSGI
        from bot.app import build_app

        settings = settings_of(cfg)
        rq_client = redis.Redis.from_url(cfg["redis_url"])
        self._closers.append(rq_client.close)
        core = build_app(settings, url=cfg["redis_url"], client=self.client, rq_client=rq_client)
        deps = SlackDeps.build(settings, redis=self.client, ingress=core.ingress,
                               contacts=core.contacts, stores=core.stores)
        self.slack = create_app(settings, deps)
        # Each setup (row) has an inbox of its own, shared by its processes only: the
        # serve processes of one deployment share one; here the other rows' would
        # otherwise handle its events, on their CPU.
        inbox_module.INBOX_KEY = f"{inbox_module.INBOX_KEY}:{cfg['setup']}"
        # The "no_inbox" variant: bolt verifies and runs the listener before the 200.
        self.inbox = None if cfg.get("no_inbox") else EventInbox(
            self.client, self.slack, signing_secret=SECRET)
        if self.inbox is not None:
            self.probe.inbox_waiting = self.inbox.waiting
        SlackWSGI.__call__ = Probe.wsgi(SlackWSGI.__call__)  # type: ignore[method-assign]
        Probe.span(SignatureVerifier, "is_valid", "verify")
        Probe.span(EventInbox, "take", "inbox")
        Probe.span(redis.Redis, "xadd", "xadd")
        self.probe.time_handling(EventInbox)
        Probe.count_redis()

    def cmd_rtt(self, n: int) -> list[float]:
        """Redis PING round trips on the app's client (ms), the server otherwise idle."""
        return redis_rtt_samples(self.client, n)

    def cmd_full_gc(self, repeats: int = 3) -> dict[str, float]:
        """What a full collection costs here now (best of `repeats`): CPU and wall ms, and
        the objects it walks (frozen ones are skipped)."""
        cpu, wall = [], []
        for _ in range(repeats):
            start, start_cpu = time.perf_counter(), time.thread_time()
            gc.collect()
            wall.append((time.perf_counter() - start) * 1000)
            cpu.append((time.thread_time() - start_cpu) * 1000)
        return {"cpu_ms": min(cpu), "wall_ms": min(wall), "objects": len(gc.get_objects())}

    def cmd_begin(self) -> None:
        self.probe.idle()
        self.probe.reset()
        self._cpu0 = _cpu_s()

    def cmd_end(self) -> dict[str, Any]:
        self.probe.idle()
        pauses = self.probe.gc_pauses
        full = [(wall, cpu) for generation, wall, cpu in pauses if generation == 2]
        return {"records": self.probe.records, "handled": self.probe.handled,
                "cpu_ms": (_cpu_s() - self._cpu0) * 1000,
                "gc_count": len(pauses),
                "gc_longest_ms": max((wall for _, wall, _ in pauses), default=0.0),
                "gc_full": len(full),
                "gc_full_longest_ms": max((wall for wall, _ in full), default=0.0),
                "gc_full_cpu_ms": max((cpu for _, cpu in full), default=0.0)}

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        for close in self._closers:
            close()


# --- worker role: real RQ workers running the turns ---------------------------------------------

class WorkerRole:
    def __init__(self, cfg: dict[str, Any]) -> None:
        from bot.app import build_app
        from workers.runtime import Runtime
        from workers.worker import BackgroundWorker

        settings = settings_of(cfg)
        self.client = redis.Redis.from_url(cfg["redis_url"], decode_responses=True)
        self.rq_client = redis.Redis.from_url(cfg["redis_url"])
        core = build_app(settings, url=cfg["redis_url"], client=self.client,
                         rq_client=self.rq_client)
        runtime = Runtime(agent=core.agent, redis=core.client)
        self.workers = [BackgroundWorker(connection=core.rq_client, rt=runtime)
                        for _ in range(cfg["workers"])]
        for worker in self.workers:
            worker.start()
        self.info = {"pid": os.getpid(), "workers": len(self.workers)}

    def cmd_cpu(self) -> float:
        """CPU seconds this process used so far (every thread)."""
        return _cpu_s()

    def stop(self) -> None:
        from rq import Queue

        from workers.queues import TURNS

        # Each stop() enqueues one wake-up, which any idle worker may take: stop them all
        # at once, then add one more wake-up each so none is left waiting on its BLPOP.
        stoppers = [threading.Thread(target=w.stop, kwargs={"timeout": 15.0})
                    for w in self.workers]
        for thread in stoppers:
            thread.start()
        time.sleep(0.05)
        wake = Queue(TURNS, connection=self.rq_client)
        for _ in self.workers:
            wake.enqueue("workers.turns.wake")
        for thread in stoppers:
            thread.join(20.0)
        self.client.close()
        self.rq_client.close()


# --- client role: the load, from a process of its own -------------------------------------------

class ClientRole:
    """Fires rounds of signed requests with asyncio; one new connection per request."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        self.secret = cfg["secret"]
        self.info = {"pid": os.getpid()}

    def _request(self, port: int, spec: dict[str, str], app: str) -> bytes:
        from tests.fakes.slack_requests import app_mention, event_body, signed_headers

        body = event_body(app_mention(spec["text"], user=spec["user"], channel=spec["channel"],
                                      ts=spec["ts"]))
        headers = signed_headers(body, self.secret,
                                 retry_num=int(spec["retry"]) if spec.get("retry") else None)
        headers |= {"Host": f"127.0.0.1:{port}", "Content-Length": str(len(body.encode())),
                    "X-Bench-Id": spec["id"], "Connection": "close"}
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        return f"POST {EVENTS_PATH} HTTP/1.1\r\n{head}\r\n".encode() + body.encode()

    def cmd_run(self, port: int, rounds: list[list[dict[str, str]]], app: str) -> dict[str, Any]:
        # Built and signed before any timing starts (bolt accepts 5 minutes of clock skew).
        prepared = [[(spec["id"], self._request(port, spec, app)) for spec in batch]
                    for batch in rounds]
        cpu = _cpu_s()
        results = asyncio.run(self._rounds(port, prepared))
        return {"results": results, "cpu_ms": (_cpu_s() - cpu) * 1000}

    async def _rounds(self, port: int, prepared: list[list[tuple[str, bytes]]]) -> list[Any]:
        results: list[Any] = []
        for batch in prepared:
            results += await asyncio.gather(*(self._one(port, rid, data) for rid, data in batch))
        return results

    async def _one(self, port: int, rid: str, data: bytes) -> list[Any]:
        start = time.monotonic()
        try:
            status = await asyncio.wait_for(self._exchange(port, data), REQUEST_TIMEOUT_S)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
            status = 0
        return [rid, start, time.monotonic(), status]

    @staticmethod
    async def _exchange(port: int, data: bytes) -> int:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(data)
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            length = next((int(line.split(":", 1)[1]) for line in lines[1:]
                           if line.lower().startswith("content-length:")), None)
            if length is None:
                await reader.read()
            elif length:
                await reader.readexactly(length)
            return status
        finally:
            writer.close()

    def stop(self) -> None:
        pass


# --- the run (parent) ---------------------------------------------------------------------------

#: Changes measured beside the code as it stands (1 process, users cached), by name.
VARIANTS = {
    "paused": "worker paused",          # SIGSTOP on the worker process during its bursts
    "niced": "worker at nice 10",       # the worker process reniced to 10 during its bursts
    "no_freeze": "no gc.freeze()",      # serve's gc.freeze() after start-up left out
    "no_inbox": "no inbox: bolt acks",  # bolt verifies, runs the listener, then the 200
    "switch": "GIL switch 0.5 ms",      # sys.setswitchinterval(0.0005) (default 5 ms)
}


@dataclass
class Config:
    """One row of the table: an app on its server process(es), measured burst by burst."""

    name: str
    app: str
    servers: list[Child]
    users: str
    variant: str = ""
    bursts: int = 0
    results: list[list[Any]] = field(default_factory=list)
    #: (server index, its `end` answer) of every burst.
    ends: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    client_cpu_ms: float = 0.0
    busy: list[float] = field(default_factory=lambda: [0.0, 0.0])
    elapsed_s: float = 0.0
    concurrency: int = 0

    def phase(self) -> Phase:
        results = self.results
        n = len(results)
        records = {r.get("id"): r for _, end in self.ends for r in end["records"]}
        rows = []
        for rid, start, finish, status in results:
            row = dict(records.get(rid, {}))
            row.update(start=start, finish=finish, status=status)
            rows.append(row)
        ends = [end for _, end in self.ends]
        return Phase(
            name=self.name + (f", {VARIANTS[self.variant]}" if self.variant else ""),
            app=self.app, processes=len(self.servers), concurrency=self.concurrency,
            users=self.users, variant=self.variant,
            latency=Stats.of((finish - start) * 1000 for _, start, finish, _ in results),
            statuses=dict(Counter(status for *_, status in results)),
            elapsed_s=self.elapsed_s, server_cpu_ms=sum(e["cpu_ms"] for e in ends) / n,
            client_cpu_ms=self.client_cpu_ms / n,
            machine_busy=self.busy[0] / self.busy[1] * 100 if self.busy[1] else math.nan,
            rows=rows, handled=Stats.of(ms for e in ends for ms in e["handled"]),
            per_process=[sum(len(e["records"]) for i, e in self.ends if i == index)
                         for index in range(len(self.servers))],
            gc_count=sum(e["gc_count"] for e in ends),
            gc_longest_ms=max(e["gc_longest_ms"] for e in ends),
            gc_full=sum(e["gc_full"] for e in ends),
            gc_full_longest_ms=max(e["gc_full_longest_ms"] for e in ends),
            gc_full_cpu_ms=max(e["gc_full_cpu_ms"] for e in ends))


class Bench:
    """The fakes, the worker and client processes, and the bookkeeping of expected replies."""

    def __init__(self, url: str, tmp: Path, openai_url: str, slack: Any, *, concurrency: int,
                 workers: int, model_s: float, say: Callable[[str], None]) -> None:
        self.cfg = {"redis_url": url, "data_dir": str(tmp / "data"), "openai_url": openai_url,
                    "slack_url": slack.base_url, "secret": SECRET, "workers": workers}
        self.tmp, self.slack, self.say = tmp, slack, say
        self.concurrency, self.workers, self.model_s = concurrency, workers, model_s
        #: (channel, ts) of every message acked with a 200: each must get one reply.
        self.expected: dict[tuple[str, str], str] = {}
        self._seq = itertools.count(1)
        self._epoch = int(time.time())
        self.warm_users = [f"UW{i:04d}" for i in range(concurrency)]
        for user in self.warm_users:
            slack.add_user(user, name=f"bench-{user.lower()}")
        self.children: list[Child] = []
        # Both start at once (imports take seconds); then wait for both.
        self.worker = self._spawn("worker")
        self.client = self._spawn("client")
        self.worker.ready(timeout=120.0)
        self.client.ready()

    def _spawn(self, role: str, **extra: Any) -> Child:
        child = Child(role, self.cfg | extra, self.tmp)
        self.children.append(child)
        return child

    def close(self) -> None:
        for child in reversed(self.children):
            child.stop()
        self.children.clear()

    def start_servers(self, wanted: dict[str, tuple[str, int, dict[str, Any]]]
                      ) -> dict[str, list[Child]]:
        """{key: (app, processes, options)} → {key: its server processes}, all started at
        once (their imports take seconds); the processes of one key share its port
        (SO_REUSEPORT), so its later ones start once the first is bound."""
        firsts = {key: self._spawn("server", app=app, port=0, reuse_port=procs > 1, setup=key,
                                   **options)
                  for key, (app, procs, options) in wanted.items()}
        for child in firsts.values():
            child.ready()
        rest = {key: [self._spawn("server", app=app, port=firsts[key].info["port"],
                                  reuse_port=True, setup=key, **options)
                      for _ in range(procs - 1)]
                for key, (app, procs, options) in wanted.items()}
        return {key: [firsts[key], *(child.ready() for child in rest[key])] for key in wanted}

    def specs(self, n: int, *, users: Sequence[str] | None = None) -> list[dict[str, str]]:
        """n new messages: distinct ts and channel each; `users` cycled (None: a new user
        each, whom the fake Slack knows but the app has never seen)."""
        out = []
        for i in range(n):
            seq = next(self._seq)
            if users is None:
                user = f"UC{seq:06d}"
                self.slack.add_user(user, name=f"cold-{seq}")
            else:
                user = users[i % len(users)]
            out.append({"id": f"r{seq}", "user": user, "channel": f"CB{seq:06d}",
                        "ts": f"{self._epoch}.{seq:06d}",
                        "text": f"can you help me finish setting up my profile? ({seq})"})
        return out

    def resend(self, specs: list[dict[str, str]]) -> list[dict[str, str]]:
        """The same messages again as Slack retries them: acked, dropped by ingress's dedupe."""
        return [spec | {"id": f"r{next(self._seq)}", "retry": "1"} for spec in specs]

    def measure(self, config: Config, specs: list[dict[str, str]], *, per_round: int) -> None:
        """Send `specs` to the config's servers in rounds of `per_round` at once; add the
        figures to `config` (the worker paused meanwhile for the "paused" variant)."""
        rounds = [specs[i:i + per_round] for i in range(0, len(specs), per_round)]
        servers = config.servers
        for server in servers:
            server.call("begin")
        lowered = {"paused": self.worker_paused, "niced": self.worker_niced}.get(config.variant)
        with lowered() if lowered else contextlib.nullcontext():
            busy0 = machine_busy()
            answer = self.client.call("run", port=servers[0].info["port"], rounds=rounds,
                                      app=config.app,
                                      timeout=60.0 + len(rounds) * REQUEST_TIMEOUT_S)
            busy1 = machine_busy()
        config.ends += [(i, server.call("end")) for i, server in enumerate(servers)]
        results = answer["results"]
        if config.app == "slack":
            by_id = {spec["id"]: spec for spec in specs}
            for rid, _, _, status in results:
                if status == 200:
                    spec = by_id[rid]
                    self.expected[(spec["channel"], spec["ts"])] = rid
        config.results += results
        config.client_cpu_ms += answer["cpu_ms"]
        config.elapsed_s += max(r[2] for r in results) - min(r[1] for r in results)
        config.concurrency = per_round
        config.bursts += 1
        if busy0 and busy1:
            config.busy[0] += busy1[0] - busy0[0]
            config.busy[1] += busy1[1] - busy0[1]

    def posted(self) -> int:
        return len(self.slack.calls("chat.postMessage"))

    def drain(self) -> float:
        """Wait (bounded) until as many replies were posted as messages acked; seconds waited.

        The bound allows twice the model-bound time of what is pending.
        """
        pending = max(len(self.expected) - self.posted(), 0)
        limit = 15.0 + 2.0 * math.ceil(pending / max(self.workers, 1)) * self.model_s
        start = time.monotonic()
        while self.posted() < len(self.expected) and time.monotonic() - start < limit:
            time.sleep(0.05)
        return time.monotonic() - start

    @contextlib.contextmanager
    def worker_paused(self) -> Iterator[None]:
        """SIGSTOP our worker process (by its handle) for a while, then SIGCONT."""
        self.worker.proc.send_signal(signal.SIGSTOP)
        try:
            yield
        finally:
            self.worker.proc.send_signal(signal.SIGCONT)

    @contextlib.contextmanager
    def worker_niced(self) -> Iterator[None]:
        """Our worker process at nice 10 for a while (as `nice -n 10 chatjobs worker`), then
        back (raising a priority again needs root: without it the row is not run)."""
        pid = self.worker.proc.pid
        before = os.getpriority(os.PRIO_PROCESS, pid)
        os.setpriority(os.PRIO_PROCESS, pid, 10)
        try:
            yield
        finally:
            os.setpriority(os.PRIO_PROCESS, pid, before)

    def replies(self) -> Replies:
        posted = self.slack.posted()
        per_message = Counter((p["channel"], p["thread_ts"]) for p in posted)
        with_text = Counter((p["channel"], p["thread_ts"]) for p in posted
                            if p["text"] == MODEL_REPLY)
        out = Replies(acked=len(self.expected))
        for key in self.expected:
            count = per_message.get(key, 0)
            out.exactly_once += count == 1
            out.missing += count == 0
            out.duplicated += count > 1
            out.model_text += with_text.get(key, 0) == 1
        out.unexpected = sum(n for key, n in per_message.items() if key not in self.expected)
        return out


def run(url: str, *, concurrency: int = DEFAULT_CONCURRENCY, rounds: int = DEFAULT_ROUNDS,
        cold_rounds: int = DEFAULT_COLD_ROUNDS, workers: int = DEFAULT_WORKERS,
        model_s: float = DEFAULT_MODEL_S, processes: Sequence[int] = DEFAULT_PROCESSES,
        variants: Sequence[str] = tuple(VARIANTS), rtt_samples: int = 500, seed: int = 7,
        say: Callable[[str], None] = print) -> Report:
    """Every row on the Redis at `url` (its database is flushed before and after)."""
    from tests.fakes.openai_server import FakeOpenAI, reply, slow
    from tests.fakes.slack_api import FakeSlackAPI

    flush(url)
    interval = max(0.2, concurrency * model_s / max(workers, 1))
    report = Report(machine=machine(url), settings={
        "concurrency": concurrency, "rounds": rounds, "cold_rounds": cold_rounds,
        "workers": workers, "model_s": model_s, "processes": tuple(processes),
        "variants": tuple(variants), "interval_s": interval})
    overflows = _listen_overflows()
    with (tempfile.TemporaryDirectory() as tmp, deep_backlog(),
          FakeOpenAI(default=lambda _body: slow(model_s, reply(MODEL_REPLY))) as model,
          FakeSlackAPI(bot_token=BOT_TOKEN) as slack):
        bench = Bench(url, Path(tmp), model.base_url, slack, concurrency=concurrency,
                      workers=workers, model_s=model_s, say=say)
        try:
            worker_cpu = bench.worker.call("cpu")
            _rows(bench, report, rounds=rounds, cold_rounds=cold_rounds, processes=processes,
                  variants=variants, rtt_samples=rtt_samples, interval=interval,
                  rng=random.Random(seed), say=say)
            waited = bench.drain()
            worker_cpu = bench.worker.call("cpu") - worker_cpu
            report.replies = bench.replies()
            report.replies.waited_s = waited
            if report.replies.acked:
                report.worker_cpu_ms_per_turn = worker_cpu * 1000 / report.replies.acked
        finally:
            bench.close()
        report.fake_errors = [repr(e) for e in [*model.errors, *slack.errors]]
    flush(url)
    report.machine["load"] += f" at start, {load()} at the end"
    after = _listen_overflows()
    if overflows is not None and after is not None:
        report.listen_overflows = after - overflows
    return report


def _listen_overflows() -> int | None:
    """The kernel's count of connections dropped for a full listen queue (machine-wide)."""
    try:
        lines = [line.split() for line in Path("/proc/net/netstat").read_text().splitlines()
                 if line.startswith("TcpExt:")]
        return int(dict(zip(lines[0], lines[1], strict=True))["ListenOverflows"])
    except (OSError, KeyError, IndexError, ValueError):
        return None


def _rows(bench: Bench, report: Report, *, rounds: int, cold_rounds: int,
          processes: Sequence[int], variants: Sequence[str], rtt_samples: int,
          interval: float, rng: random.Random, say: Callable[[str], None]) -> None:
    """Start every server, warm each up, measure one at a time at conc 1, then the bursts.

    The bursts of all rows are interleaved (rounds, each row once per round in a shuffled
    order) and start `interval` apart, the time the workers take to answer a burst: so
    every row meets the same steady state of turns running, and the same noise from
    whatever else the machine does.
    """
    c, warm = bench.concurrency, bench.warm_users
    if "niced" in variants and os.geteuid() != 0:
        say("not measuring the worker at nice 10: giving it its priority back needs root")
        variants = [v for v in variants if v != "niced"]
    wanted: dict[str, tuple[str, int, dict[str, Any]]] = {}
    for procs in processes:
        wanted[f"baseline{procs}"] = ("baseline", procs, {})
        wanted[f"slack{procs}"] = ("slack", procs, {})
    if 1 in processes:
        for variant in ("no_freeze", "no_inbox", "switch"):
            if variant in variants:
                wanted[variant] = ("slack", 1, {variant: True})
    say(f"starting {sum(p for _, p, _ in wanted.values())} server processes…")
    servers = bench.start_servers(wanted)
    report.server_objects = servers[next(k for k in wanted if k.startswith("slack"))][0].info[
        "objects"]

    say("warming up (Redis pools, users cached once each, first turns)…")
    first: list[dict[str, str]] = []
    for key, (app, _, _) in wanted.items():
        # The first slack warm-up sends new messages (users.info once per user, real
        # turns); later ones resend them as Slack retries, which ingress drops.
        if app == "slack":
            specs = bench.resend(first) if first else bench.specs(c, users=warm)
            first = first or specs
        else:
            specs = bench.specs(c, users=warm)
        bench.measure(Config("warm-up", app, servers[key], "-"), specs, per_round=c)
    bench.drain()

    def config(key: str, name: str, users: str, variant: str = "") -> Config:
        app = wanted[key][0]
        return Config(name, app, servers[key], users, variant=variant)

    if 1 in processes:
        say("one request at a time…")
        rtt = servers["slack1"][0].call("rtt", n=rtt_samples)
        report.rtt = Stats.of(rtt)
        for key, name, users in (("baseline1", "trivial WSGI (baseline)", "-"),
                                 ("slack1", "slack ack", "cached")):
            single = config(key, name, users)
            bench.measure(single, bench.specs(c, users=warm), per_round=1)
            report.phases.append(single.phase())
            bench.drain()

    rows: list[tuple[Config, int]] = []
    for procs in sorted(processes):
        rows.append((config(f"baseline{procs}", "trivial WSGI (baseline)", "-"), rounds))
        rows.append((config(f"slack{procs}", "slack ack", "cached"), rounds))
        if procs == 1 and cold_rounds:
            rows.append((config("slack1", "slack ack, users.info each", "cold"), cold_rounds))
        if procs == 1:
            for variant in variants:
                key = "slack1" if variant in ("paused", "niced") else variant
                rows.append((config(key, "slack ack", "cached", variant), rounds))
    total = sum(n for _, n in rows)
    say(f"{total} bursts of {c}, {interval:.1f} s apart, rows interleaved…")
    next_start = time.monotonic()
    for r in range(max(n for _, n in rows)):
        order = [row for row, n in rows if n > r]
        rng.shuffle(order)
        for row in order:
            time.sleep(max(0.0, next_start - time.monotonic()))
            next_start = time.monotonic() + interval
            specs = bench.specs(c) if row.users == "cold" else bench.specs(c, users=warm)
            bench.measure(row, specs, per_round=c)
        say(f"  round {r + 1}: {len(order)} bursts")
    for key in ("slack1", "no_freeze"):
        if key in servers:
            report.full_gc[key] = servers[key][0].call("full_gc")
    for row, _ in rows:
        phase = row.phase()
        report.phases.append(phase)
        say(f"  {phase.name} ({phase.processes}p, {phase.users}): p50 {phase.latency.p50:.1f}"
            f" ms, p99 {phase.latency.p99:.1f} ms ({phase.latency.n} requests,"
            f" statuses {phase.statuses})")


def flush(url: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


# --- where the time goes ------------------------------------------------------------------------

Row = dict[str, float]
Part = tuple[str, int, Callable[[Row], float], Callable[[Row], float]]


def _parts() -> list[Part]:
    """(name, indent, wall ms, handler-thread CPU ms) per request; indent 0 parts follow
    each other in time, so their means add up to the total's; indent 1 are within the one
    above. "—" where a part does not apply (the baseline keeps nothing; the accept loop
    and the client are other threads)."""
    nan = math.nan

    def wall(a: str, b: str) -> Callable[[Row], float]:
        return lambda r: (r[b] - r[a]) * 1000 if a in r and b in r else nan

    def cpu(a: str, b: str) -> Callable[[Row], float]:
        return wall("c_" + a, "c_" + b)

    def kept(name: str) -> Callable[[Row], float]:
        return lambda r: r.get(name, 0.0) if "inbox" in r else nan

    never: Callable[[Row], float] = lambda r: nan  # noqa: E731
    return [
        ("connect → accepted (listen queue, accept loop)", 0, wall("start", "accepted"), never),
        ("accepted → a pool thread runs it", 0, wall("accepted", "thread"), never),
        ("wsgiref: read + parse the request head", 0, wall("thread", "app"), cpu("thread", "app")),
        ("WSGI app: read the body, keep it in the inbox (baseline: answer 200)", 0,
         wall("app", "app_end"), cpu("app", "app_end")),
        ("signature check (HMAC)", 1, kept("verify"), kept("verify_cpu")),
        ("XADD to the inbox (one round trip)", 1, kept("xadd"), kept("xadd_cpu")),
        ("response write, close; client reads it", 0, wall("app_end", "finish"),
         cpu("app_end", "done")),
        ("total (client: connect → 200 read)", 0, wall("start", "finish"), cpu("thread", "done")),
    ]


@dataclass(frozen=True)
class PartStats:
    name: str
    indent: int
    wall: Stats
    cpu: Stats


def breakdown(phase: Phase) -> list[PartStats]:
    """Each part's wall-clock and handler-thread CPU over the phase's 200s."""
    rows = [r for r in phase.rows if r.get("status") == 200 and "app" in r]
    return [PartStats(name, indent, Stats.of(w(r) for r in rows), Stats.of(c(r) for r in rows))
            for name, indent, w, c in _parts()]


def redis_trips(phase: Phase) -> Stats:
    return Stats.of(r["redis"] for r in phase.rows if "inbox" in r and "redis" in r)


# --- printing -----------------------------------------------------------------------------------

def _find(report: Report, app: str, procs: int, conc: int, users: str | None = None,
          variant: str = "") -> Phase | None:
    return next((p for p in report.phases if p.app == app and p.processes == procs
                 and p.concurrency == conc and p.variant == variant
                 and (users is None or p.users == users)), None)


def format_report(report: Report) -> str:
    m, s = report.machine, report.settings
    c = s["concurrency"]
    lines = [
        f"machine: {m['cores']} cores ({m['cpu']}), Python {m['python']}, Redis {m['redis']},"
        f" slack_bolt {m['bolt']}; load average {m['load']}",
        f"load: bursts of {c} signed app_mention requests fired at once, a new TCP connection"
        f" each, from one asyncio client process of its own; {s['rounds']} bursts per row"
        f" ({s['cold_rounds']} for the cold row), the rows' bursts interleaved in shuffled"
        f" rounds, one every {s['interval_s']:.1f} s; conc 1 = one request at a time",
        f"turns: the model answers after {s['model_s']:g} s; {s['workers']} RQ worker threads"
        " (BackgroundWorker) in a worker process of their own run them during the load (a"
        " burst's turns take one interval: every burst meets the previous one's replies)",
        "baseline: the same PooledWSGIServer and handler serving a trivial WSGI app (read"
        " body, 200 at once), same load, same run; ×base = figure / the baseline's at the same"
        " concurrency and process count; CPU = server process(es), every thread, ms per request"
        " (the inbox's handling after the ack included); ack = the handler thread's own CPU per"
        " request; floor = conc × ack / procs, the ms a burst needs if each process had a core"
        " to itself (one GIL each: the last ack of a burst can't come sooner); busy = all cores",
        "variants: no inbox = bolt verifies the event and runs the listener (ingress, the turn"
        " queued) before its 200, as before the inbox",
        "",
        f"{'server':<40} {'procs':>5} {'conc':>4} {'users':>6} {'reqs':>4} | {'p50 ms':>7}"
        f" {'p99 ms':>7} {'max ms':>7} | {'req/s':>5} | {'CPU ms':>6} | {'ack':>5} |"
        f" {'floor':>5} | {'×base p50/p99':>13} | {'busy':>4}",
        "-" * 139,
    ]
    for p in report.phases:
        base = _find(report, "baseline", p.processes, p.concurrency)
        ratio = f"{'':>13}"
        if base is not None and p.app != "baseline":
            ratio = (f"{p.latency.p50 / base.latency.p50:>6.1f}/"
                     f"{p.latency.p99 / base.latency.p99:<6.1f}")
        bad = sum(n for status, n in p.statuses.items() if status != 200)
        lines.append(
            f"{p.name:<40} {p.processes:>5} {p.concurrency:>4} {p.users:>6} {p.latency.n:>4} | "
            f"{p.latency.p50:>7.1f} {p.latency.p99:>7.1f} {p.latency.max:>7.1f} | "
            f"{p.throughput:>5.0f} | {p.server_cpu_ms:>6.2f} | {p.ack_cpu_ms:>5.2f} |"
            f" {p.floor_ms:>5.0f} | {ratio} |"
            f" {p.machine_busy:>3.0f}%"
            + (f"  ({bad} not 200: {p.statuses})" if bad else ""))
    lines.append("")
    lines.append(f"Redis PING on the server's client (server idle): p50 {report.rtt.p50:.3f} ms,"
                 f" p99 {report.rtt.p99:.3f} ms ({report.rtt.n} samples)")
    for procs in sorted({p.processes for p in report.phases}):
        slack = _find(report, "slack", procs, c, "cached")
        if slack is not None and c == TARGET_CONCURRENCY:
            verdict = "meets" if slack.latency.p99 <= TARGET_P99_MS else "misses"
            lines.append(f"target: ack p99 ≤ {TARGET_P99_MS:.0f} ms under {c} concurrent requests,"
                         f" {procs} process{'es' if procs > 1 else ''}: {verdict} it"
                         f" ({slack.latency.p99:.1f} ms)")
    handled = [p for p in report.phases if p.handled.n]
    if handled:
        lines.append("after the ack, kept → handled by the inbox (listener done, turn queued;"
                     " it waits while acks are in hand), p50 / p99 ms: " + "; ".join(
                         f"{p.name} {p.processes}p conc {p.concurrency}"
                         f" {p.handled.p50:.0f} / {p.handled.p99:.0f}" for p in handled))
    r = report.replies
    lines.append(
        f"replies: {r.acked} messages acked; {r.exactly_once} got exactly one reply"
        f" ({r.model_text} with the model's text), {r.missing} none, {r.duplicated} more than"
        f" one; {r.unexpected} replies to messages never acked; last wait {r.waited_s:.1f} s")
    lines.append(f"worker process: {report.worker_cpu_ms_per_turn:.1f} ms CPU per turn;"
                 f" slack server process: {report.server_objects:,} objects once built;"
                 f" listen-queue drops (kernel, machine-wide): {report.listen_overflows}")
    for p in report.phases:
        if p.processes > 1:
            lines.append(f"{p.name}, {p.processes} processes: requests per process"
                         f" {p.per_process}")
    lines.append("server GC during the bursts: collections / full ones (longest full: wall,"
                 " its CPU): " + "; ".join(
                     f"{p.name.replace('slack ack, ', '').replace('slack ack', 'slack')}"
                     f" {p.processes}p {p.gc_count}/{p.gc_full}"
                     + (f" ({p.gc_full_longest_ms:.0f}, {p.gc_full_cpu_ms:.0f} ms)"
                        if p.gc_full else "")
                     for p in report.phases if p.concurrency > 1))
    if "slack1" in report.full_gc:
        frozen, plain = report.full_gc["slack1"], report.full_gc.get("no_freeze")
        lines.append(
            f"a full collection in the slack server after the load (best of 3), gc.freeze()"
            f" at start-up as serve does: {frozen['cpu_ms']:.1f} ms CPU over"
            f" {frozen['objects']:,.0f} objects (the frozen ones skipped)"
            + (f"; without gc.freeze(): {plain['cpu_ms']:.1f} ms over {plain['objects']:,.0f}"
               " objects" if plain else ""))
    lines.append("client CPU per request: " + ", ".join(
        f"{p.client_cpu_ms:.2f}" for p in report.phases) + " ms (rows in order)")

    warm = _find(report, "slack", 1, c, "cached")
    if warm is not None:
        columns = {"c1": _find(report, "slack", 1, 1, "cached"), "warm": warm,
                   "cold": _find(report, "slack", 1, c, "cold"),
                   "base": _find(report, "baseline", 1, c)}
        tables = {k: breakdown(p) if p else None for k, p in columns.items()}
        lines += ["", "where the ack goes, 1 process (ms per request). wall: parts at indent 0"
                      " follow each other, their means add up to the total's; cpu: the handler"
                      " thread's own CPU time in the part (the rest of wall is waiting: GIL,"
                      " Redis, other processes)",
                  f"  {'':<48} | {'conc 1':^15} | {f'conc {c}, users cached':^37} |"
                  f" {'cold users':^15} | {'baseline':^15}",
                  f"  {'part':<48} | {'wall':>7} {'cpu':>7} | {'p50':>7} {'p99':>7} {'mean':>7}"
                  f" {'share':>5} {'cpu':>7} | {'wall':>7} {'cpu':>7} | {'wall':>7} {'cpu':>7}"]
        warm_rows = tables["warm"] or []
        total = warm_rows[-1].wall.mean if warm_rows else math.nan
        for i, part in enumerate(warm_rows):
            label = ("  " * part.indent + ("of which: " if part.indent else "") + part.name)[:48]
            share = (f"{part.wall.mean / total * 100:>4.0f}%"
                     if part.indent == 0 and total and not math.isnan(part.wall.mean) else "")

            def pair(key: str, index: int = i) -> str:
                table = tables[key]
                if table is None:
                    return f"{'':>7} {'':>7}"
                return f"{_f(table[index].wall.mean)} {_f(table[index].cpu.mean)}"

            lines.append(f"  {label:<48} | {pair('c1')} | {_f(part.wall.p50)} {_f(part.wall.p99)}"
                         f" {_f(part.wall.mean)} {share:>5} {_f(part.cpu.mean)} | {pair('cold')}"
                         f" | {pair('base')}")
        trips = {k: redis_trips(p) if p else None for k, p in columns.items()}
        lines.append("  Redis round trips per ack (mean): " + ", ".join(
            f"{k} {t.mean:.1f}" for k, t in trips.items() if t is not None and t.n))
    return "\n".join(lines)


def _f(value: float, width: int = 7) -> str:
    return f"{'—':>{width}}" if math.isnan(value) else f"{value:>{width}.2f}"


# --- command line -------------------------------------------------------------------------------

def _processes(text: str) -> tuple[int, ...]:
    values = tuple(int(part) for part in text.split(",") if part.strip())
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("process counts are positive, e.g. 1,2")
    return values


def _variants(text: str) -> tuple[str, ...]:
    values = tuple(part.strip() for part in text.split(",") if part.strip() not in ("", "none"))
    unknown = [v for v in values if v not in VARIANTS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown variants {unknown}; known: {list(VARIANTS)}")
    return values


def figures(report: Report) -> dict[str, Any]:
    """The figures as JSON for bench/run: every row (without its per-request stamps, but
    with its floor, req/s and the baseline's p50/p99 beside it), the breakdown of the
    1-process row at full concurrency, and the rest of the report."""
    c = report.settings["concurrency"]
    phases = []
    for p in report.phases:
        row = {f.name: jsonable(getattr(p, f.name)) for f in dataclasses.fields(p)
               if f.name != "rows"}
        base = _find(report, "baseline", p.processes, p.concurrency)
        row |= {"floor_ms": p.floor_ms, "ack_cpu_ms": p.ack_cpu_ms, "throughput": p.throughput,
                "baseline": jsonable(base.latency) if base is not None else None}
        phases.append(row)
    warm = _find(report, "slack", 1, c, "cached")
    data = {f.name: getattr(report, f.name) for f in dataclasses.fields(report)
            if f.name != "phases"}
    return jsonable(data | {
        "phases": phases, "target_p99_ms": TARGET_P99_MS,
        "target_concurrency": TARGET_CONCURRENCY,
        "breakdown": breakdown(warm) if warm is not None else [],
        "redis_trips": redis_trips(warm) if warm is not None else None})


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY,
                        help=f"requests per round, fired at once (default {DEFAULT_CONCURRENCY})")
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS,
                        help=f"measured rounds per setup (default {DEFAULT_ROUNDS})")
    parser.add_argument("--cold-rounds", type=int, default=DEFAULT_COLD_ROUNDS,
                        help="rounds where every request is from a user not seen before "
                             f"(users.info each; default {DEFAULT_COLD_ROUNDS}, 0: none)")
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS,
                        help=f"RQ worker threads running turns (default {DEFAULT_WORKERS})")
    parser.add_argument("--model-seconds", type=float, default=DEFAULT_MODEL_S,
                        help=f"how long the model takes (default {DEFAULT_MODEL_S:g})")
    parser.add_argument("--processes", type=_processes, default=DEFAULT_PROCESSES,
                        help="server process counts to measure (default 1,2)")
    parser.add_argument("--variants", type=_variants, default=tuple(VARIANTS),
                        help="changes to measure beside the code as it stands, comma-separated"
                             f" (default {','.join(VARIANTS)}; 'none' for none)")
    add_runner_arguments(parser)
    parser.add_argument("--role", choices=("server", "worker", "client"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.role:
        return child_main(args.role, json.loads(args.config))
    options = {"concurrency": args.concurrency, "rounds": args.rounds,
               "cold_rounds": args.cold_rounds, "workers": args.workers,
               "model_s": args.model_seconds, "processes": args.processes,
               "variants": args.variants}
    return run_main(args, lambda url: run(url, **options), format_report, figures)


if __name__ == "__main__":
    sys.exit(main())
