"""The part every fake HTTP peer shares: a server on 127.0.0.1 in a thread.

It binds port 0 (a free port), serves from a daemon thread, and `stop()`
returns at once: handler threads are daemons and can watch `_stopping` to
give up a scripted wait.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


@dataclass(frozen=True)
class Slow:
    """Wait `seconds` (None: until the server stops), then answer `then` (None: the default)."""

    seconds: float | None
    then: Any = None


def slow(seconds: float | None, then: Any = None) -> Slow:
    """Answer `then` after `seconds`."""
    return Slow(seconds, then)


def hang() -> Slow:
    """Never answer (until `stop()`); for client timeouts."""
    return Slow(None)


class Stopped(Exception):
    """The server stopped while a handler was waiting."""


class LocalServer:
    """Base of the fakes; subclasses set `handler` (which sees the fake as `self.fake`)."""

    handler: type[BaseHTTPRequestHandler]

    def __init__(self) -> None:
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> Self:
        """Listen and serve in the background."""
        handler = type("Handler", (self.handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True  # stop() never waits for a handler
        self._stopping.clear()
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True,
                         name=type(self).__name__).start()
        return self

    def stop(self) -> None:
        """Stop at once; a waiting handler wakes up and closes its connection unanswered."""
        server, self._server = self._server, None
        if server is not None:
            self._stopping.set()
            server.shutdown()
            server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def settle(self, item: Any, *args: Any) -> Any:
        """Wait through `Slow`s (waking up at `stop()`), and call callables with `args`."""
        while True:
            if isinstance(item, Slow):
                if self._stopping.wait(item.seconds):
                    raise Stopped
                item = item.then
            elif args and callable(item):
                item = item(*args)
            else:
                return item

    @property
    def url(self) -> str:
        """The server's root, e.g. http://127.0.0.1:5000 (no trailing slash)."""
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"
