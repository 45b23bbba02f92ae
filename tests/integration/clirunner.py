"""Run the real `chatjobs` command line in subprocesses, each test in its own dirs.

Every CLI call gets a clean environment: no REDIS_URL, no OPENAI_* / SLACK_* /
DISCORD_* / CHATJOBS_* variables from the developer's shell, CHATJOBS_DATA_DIR
set to the test's own data dir, and the test's tmp dir as working directory.

`Cli.run` checks after every call that no `redis-server` of this test's data
dirs is still running: each process must stop the embedded server it was the
last user of. At teardown any server or chat left over (a failing test, a
known bug) is ended by its pid, so nothing outlives the test session.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

from jobs_store.embedded import socket_path

CHATJOBS = Path(sys.executable).parent / "chatjobs"
_FOREIGN = re.compile(r"^(OPENAI_|SLACK_|DISCORD_|EMBEDDINGS_|CHATJOBS_|REDIS_URL$)")
TIMEOUT_S = 30


def clean_env(**extra: str) -> dict[str, str]:
    """os.environ without any chatjobs configuration, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not _FOREIGN.match(k)}
    env.update(extra)
    return env


def _markers(data_dir: Path) -> set[str]:
    """What a server's command line holds when it serves `data_dir` (or a dir inside it).

    redis-server rewrites its command line to `redis-server unixsocket:<path>`, so
    the socket path is what identifies it once it runs; dirs end in "/" so that
    `test_x1` does not match `test_x10`.
    """
    resolved = data_dir.resolve()
    return {f"{resolved}/", str(socket_path(resolved)), f"{socket_path(resolved).parent}/"}


class ChatProcess:
    """A running `chatjobs chat`: write lines to it, read its answers."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.output = ""
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._seen = 0
        self.pump = threading.Thread(target=self._pump, daemon=True)
        self.pump.start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def read_until(self, text: str, timeout: float = 15) -> str:
        """Read output until `text` appears; return what was read since the last call."""
        deadline = time.monotonic() + timeout
        while text not in self.output[self._seen:]:
            left = deadline - time.monotonic()
            try:
                line = self._lines.get(timeout=max(left, 0.01))
            except queue.Empty:
                line = ""
            if line is None or left <= 0:
                raise AssertionError(
                    f"chat did not print {text!r} (exit {self.proc.poll()}); got:\n"
                    + self.output[self._seen:]
                )
            self.output += line
        start, self._seen = self._seen, self.output.index(text, self._seen) + len(text)
        return self.output[start:self._seen]

    def finish(self, timeout: float = 15) -> tuple[int, str, str]:
        """Close stdin, wait for the exit; return (status, rest of stdout, stderr)."""
        assert self.proc.stdin is not None and self.proc.stderr is not None
        if not self.proc.stdin.closed:
            self.proc.stdin.close()
        status = self.proc.wait(timeout)
        while (line := self._lines.get(timeout=timeout)) is not None:
            self.output += line
        rest, self._seen = self.output[self._seen:], len(self.output)
        return status, rest, self.proc.stderr.read()


class Cli:
    """The `chatjobs` command line of one test."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.cwd = root
        self.data_dir = root / "data"
        self._watched: set[Path] = {root, self.data_dir}
        self._procs: list[subprocess.Popen[str]] = []
        self._chats: list[ChatProcess] = []

    def env(self, data_dir: Path | None = None, **extra: str) -> dict[str, str]:
        return clean_env(CHATJOBS_DATA_DIR=str(data_dir or self.data_dir), **extra)

    def watch(self, data_dir: Path) -> None:
        """Also check for servers of this data dir (one given through .env etc.)."""
        self._watched.add(data_dir)

    def run(
        self,
        *args: str,
        input: str | None = None,
        data_dir: Path | None = None,
        env: dict[str, str] | None = None,
        expect_no_server: bool = True,
        timeout: float = TIMEOUT_S,
    ) -> subprocess.CompletedProcess[str]:
        """Run `chatjobs *args` to its end; by default check no server outlives it."""
        if data_dir is not None:
            self.watch(data_dir)
        result = subprocess.run(
            [str(CHATJOBS), *args], cwd=self.cwd,
            env=env if env is not None else self.env(data_dir),
            input=input, capture_output=True, text=True, timeout=timeout,
            stdin=None if input is not None else subprocess.DEVNULL,
        )
        if expect_no_server:
            self.assert_no_server(f"after `chatjobs {' '.join(args)[:80]}`")
        return result

    def popen(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [str(CHATJOBS), *args], cwd=self.cwd, env=env if env is not None else self.env(),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self._procs.append(proc)
        return proc

    def chat(self, *args: str, env: dict[str, str] | None = None) -> ChatProcess:
        """Start `chatjobs chat` and wait for its banner."""
        chat = ChatProcess(self.popen("chat", *args, env=env))
        self._chats.append(chat)
        chat.read_until("/quit leaves.")
        return chat

    def servers(self) -> list[psutil.Process]:
        """Live redis-server processes of this test's data dirs."""
        markers = set().union(*(_markers(d) for d in self._watched))
        found = []
        for proc in psutil.process_iter(["name", "cmdline", "status"]):
            try:
                cmdline = " ".join(proc.info["cmdline"] or [])
                if proc.info["status"] == psutil.STATUS_ZOMBIE:
                    continue  # it has exited; its parent just has not reaped it yet
                if "redis-server" not in (proc.info["name"] or "") + cmdline:
                    continue
                if any(marker in cmdline for marker in markers):
                    found.append(proc)
            except psutil.Error:
                continue
        return found

    def assert_no_server(self, when: str = "") -> None:
        left = self.servers()
        assert not left, f"redis-server still running {when}: " + "; ".join(
            " ".join(p.info["cmdline"] or []) for p in left)

    def cleanup(self) -> None:
        for proc in self._procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        for chat in self._chats:
            chat.pump.join(10)  # it ends at EOF; then its pipe may be closed
        for proc in self._procs:
            for pipe in (proc.stdin, proc.stdout, proc.stderr):
                if pipe is not None:
                    pipe.close()
        for server in self.servers():
            with contextlib.suppress(psutil.Error):
                server.send_signal(signal.SIGKILL)
        deadline = time.monotonic() + 10
        while self.servers() and time.monotonic() < deadline:
            time.sleep(0.02)  # killed servers turn zombie, which servers() skips


def one_line(text: str) -> str:
    """Assert `text` is exactly one non-empty line; return it."""
    lines = text.strip().splitlines()
    assert len(lines) == 1, f"expected one line, got {len(lines)}:\n{text}"
    return lines[0]
