"""The embedded Redis server: persistence, sharing between processes, clean stops.

These tests start their own servers in their own data dirs (not the session's)
and other chatjobs processes with `sys.executable`. A server counts as stopped
when its process is gone or is a zombie (exited, but its parent, possibly this
test process or the container's init, has not collected it yet).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest
import redis

from config.settings import load_settings
from jobs_store import BotStore, JobStore
from jobs_store.connection import connect, redis_url
from jobs_store.embedded import EmbeddedRedis, _signals_deferred, socket_path
from jobs_store.errors import StoreUnavailable

ROOT = Path(__file__).resolve().parents[2]

# Another chatjobs process: joins (or starts) the server, prints the server's
# pid, and keeps using it until it reads a line on stdin.
USER = """
import sys
from pathlib import Path
from jobs_store.embedded import EmbeddedRedis

embedded = EmbeddedRedis(Path(sys.argv[1]))
with embedded:
    print(embedded.pidfile.read_text().strip(), flush=True)
    sys.stdin.readline()
print("closed", flush=True)
"""


class User:
    """A process using the embedded server of a data dir."""

    def __init__(self, data_dir: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", USER, str(data_dir)], cwd=ROOT, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )

    def server_pid(self) -> int:
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line:
            _, err = self.proc.communicate(timeout=30)
            pytest.fail(f"the other process could not use the server:\n{err}")
        return int(line)

    def exit(self) -> None:
        out, err = self.proc.communicate("\n", timeout=30)
        assert self.proc.returncode == 0, err
        assert "closed" in out
        # Nothing logged: in particular no "did not stop; killing it", which
        # would mean the server was SIGKILLed instead of saving and exiting.
        assert err == ""

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=30)


@pytest.fixture
def users() -> Iterator[Callable[[Path], User]]:
    """Start other processes; any still running at the end are killed."""
    started: list[User] = []

    def start(data_dir: Path) -> User:
        started.append(User(data_dir))
        return started[-1]

    yield start
    for user in started:
        if user.proc.poll() is None:
            user.kill()


@pytest.fixture(autouse=True)
def no_server_left(tmp_path: Path) -> Iterator[None]:
    """Whatever a test does, it leaves no server of its own running."""
    yield
    for pid in servers_of(tmp_path):
        os.kill(pid, signal.SIGKILL)


def servers_of(directory: Path) -> list[int]:
    """Pids of running (not zombie) redis-servers whose data dir is under `directory`."""
    found = []
    for proc in psutil.process_iter(["name", "cmdline", "status"]):
        info = proc.info
        if info["name"] != "redis-server" or info["status"] == psutil.STATUS_ZOMBIE:
            continue
        if any(str(directory.resolve()) in arg for arg in info["cmdline"] or ()):
            found.append(proc.pid)
    return found


def stopped(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_stopped(pid: int) -> None:
    """Wait for a process this test killed to be gone (a wait, not a timing check)."""
    deadline = time.monotonic() + 15
    while not stopped(pid):
        assert time.monotonic() < deadline, f"process {pid} outlived SIGKILL"
        time.sleep(0.02)


def pid_of(embedded: EmbeddedRedis) -> int:
    return int(embedded.pidfile.read_text())


def answers(url: str) -> bool:
    client = redis.Redis.from_url(url)
    try:
        return bool(client.ping())
    finally:
        client.close()


def fill(url: str) -> tuple[list[object], list[object]]:
    """Create jobs with history and a bot with them live; return what was stored."""
    client = redis.Redis.from_url(url, decode_responses=True)
    try:
        jobs, bots = JobStore(client), BotStore(client)
        message = jobs.create({"name": "Take a message", "instructions": "1. Ask a name."},
                              actor="ana")
        lead = jobs.create({"name": "Qualify a lead", "instructions": "1. Ask the budget.",
                            "rule": "platform=slack"}, actor="ana")
        jobs.update(message.id, {"instructions": "1. Ask a name.\n2. Ask why."}, actor="bob")
        jobs.update("take a message", {"name": "Take a phone message"}, actor="cara")
        bots.attach(None, lead, actor="ana")
        bots.publish(None, actor="ana")
        return read(url)
    finally:
        client.close()


def read(url: str) -> tuple[list[object], list[object]]:
    client = redis.Redis.from_url(url, decode_responses=True)
    try:
        jobs = JobStore(client)
        return (
            [*jobs.list(), *BotStore(client).list()],
            [version for job in jobs.list() for version in jobs.history(job.id)],
        )
    finally:
        client.close()


# --- persistence and clean stops ---------------------------------------------


def test_jobs_and_their_history_survive_a_restart(data_dir: Path) -> None:
    embedded = EmbeddedRedis(data_dir)
    with embedded as url:
        first_pid = pid_of(embedded)
        stored = fill(url)

    assert not servers_of(data_dir)
    with EmbeddedRedis(data_dir) as url:
        assert read(url) == stored
        assert pid_of(embedded) != first_pid  # really a new server, reading the files

    _, history = stored
    assert [v.version for v in history if v.name.startswith("Take a")] == [3, 2, 1]


def test_no_server_is_left_after_the_context_exits(data_dir: Path) -> None:
    embedded = EmbeddedRedis(data_dir)
    with embedded as url:
        pid = pid_of(embedded)
        assert answers(url)
        assert servers_of(data_dir) == [pid]

    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert servers_of(data_dir) == []
    assert not embedded.socket.exists()


def test_settings_without_redis_url_run_the_embedded_server_in_the_data_dir(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    settings = load_settings(redis_url=None, chatjobs_data_dir=data_dir)

    with redis_url(settings) as url:
        assert url.startswith("unix://")
        client = connect(url)
        stored = fill(url)
        client.close()
        pid = int((data_dir / "redis.pid").read_text())
    assert stopped(pid)
    assert servers_of(data_dir) == []

    with redis_url(load_settings(redis_url=None, chatjobs_data_dir=data_dir)) as url:
        assert read(url) == stored


def test_a_redis_url_is_used_as_given_without_starting_a_server(data_dir: Path) -> None:
    settings = load_settings(redis_url="redis://redis.internal:6379/2", chatjobs_data_dir=data_dir)

    with redis_url(settings) as url:
        assert url == "redis://redis.internal:6379/2"
        assert not data_dir.exists()


def test_a_data_dir_too_deep_for_a_unix_socket_still_works(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 120)
    embedded = EmbeddedRedis(deep)
    assert len(str(embedded.socket)) <= 100
    assert socket_path(deep.resolve()) == embedded.socket

    with embedded as url:
        client = redis.Redis.from_url(url, decode_responses=True)
        JobStore(client).create({"name": "Take a message", "instructions": "1."}, actor="ana")
        client.close()
    assert not embedded.socket.exists()
    with EmbeddedRedis(deep) as url:
        client = redis.Redis.from_url(url, decode_responses=True)
        assert [j.name for j in JobStore(client).list()] == ["Take a message"]
        client.close()


def test_an_unreachable_redis_is_reported_without_its_password() -> None:
    with pytest.raises(StoreUnavailable) as refused:
        connect("unix://:s3cret@/nonexistent/chatjobs/redis.sock")

    assert "cannot reach Redis" in str(refused.value)
    assert "s3cret" not in str(refused.value)


# --- sharing between processes ------------------------------------------------


def test_another_process_joins_and_the_last_user_stops_the_server(
    data_dir: Path, users: Callable[[Path], User]
) -> None:
    embedded = EmbeddedRedis(data_dir)
    with embedded as url:
        pid = pid_of(embedded)
        other = users(data_dir)
        assert other.server_pid() == pid
        assert servers_of(data_dir) == [pid]

    # We left first; the other process still uses the server.
    assert servers_of(data_dir) == [pid]
    assert answers(url)

    other.exit()
    assert stopped(pid)
    assert servers_of(data_dir) == []
    assert not embedded.socket.exists()


def test_processes_starting_at_once_share_one_server(
    data_dir: Path, users: Callable[[Path], User]
) -> None:
    started = [users(data_dir) for _ in range(3)]

    pids = {user.server_pid() for user in started}

    assert len(pids) == 1
    assert servers_of(data_dir) == list(pids)
    for user in started:
        user.exit()
    assert stopped(pids.pop())
    assert servers_of(data_dir) == []


@pytest.mark.parametrize("killed_started_it", [False, True], ids=["we-started", "it-started"])
def test_a_killed_user_does_not_keep_the_server_alive(
    data_dir: Path, users: Callable[[Path], User], killed_started_it: bool
) -> None:
    other = users(data_dir)
    if killed_started_it:
        pid = other.server_pid()
    embedded = EmbeddedRedis(data_dir)
    with embedded as url:
        if not killed_started_it:
            pid = other.server_pid()
        assert pid_of(embedded) == pid

        other.kill()

        assert answers(url)  # the server outlives the killed process ...
        client = redis.Redis.from_url(url, decode_responses=True)
        JobStore(client).create({"name": "Take a message", "instructions": "1."}, actor="ana")
        client.close()

    assert stopped(pid)  # ... and the last live user still stops it
    assert servers_of(data_dir) == []


def test_a_server_killed_with_its_user_leaves_a_stale_socket_that_is_replaced(
    data_dir: Path, users: Callable[[Path], User]
) -> None:
    other = users(data_dir)
    old_pid = other.server_pid()
    os.kill(old_pid, signal.SIGKILL)
    other.kill()
    wait_stopped(old_pid)
    embedded = EmbeddedRedis(data_dir)
    assert embedded.socket.exists()  # the crash left its socket file behind

    with embedded as url:
        assert answers(url)
        new_pid = pid_of(embedded)
        assert new_pid != old_pid
        client = redis.Redis.from_url(url, decode_responses=True)
        job = JobStore(client).create({"name": "Take a message", "instructions": "1."},
                                      actor="ana")
        assert JobStore(client).get("take a message") == job
        client.close()

    with pytest.raises(ProcessLookupError):
        os.kill(new_pid, 0)
    assert servers_of(data_dir) == []


class Interrupted(Exception):
    pass


def test_a_signal_while_the_server_process_is_being_created_is_handled_after() -> None:
    # SIGTERM inside `Popen` (after the fork, before it returns) must not raise there, or
    # the server would run on without the handle that stops it: it waits for the block.
    def interrupt(signum: int, frame: object) -> None:
        raise Interrupted(signum)

    previous = signal.signal(signal.SIGTERM, interrupt)
    steps: list[str] = []
    try:
        with pytest.raises(Interrupted), _signals_deferred():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)  # a raising handler would have run by now
            steps.append("the block ran to its end")
        assert steps == ["the block ran to its end"]
        assert signal.getsignal(signal.SIGTERM) is interrupt  # as it was
    finally:
        signal.signal(signal.SIGTERM, previous)
