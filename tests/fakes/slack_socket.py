"""A local Slack Socket Mode server for tests: slack_sdk's builtin SocketModeClient (the one
bolt's `SocketModeHandler` uses) connects to it over a real WebSocket.

    with FakeSlackAPI() as api, FakeSocketMode(api) as sm:       # attaches itself to `api`
        handler = SocketModeHandler(app, "xapp-test")             # app.client -> api.base_url
        handler.connect()                                         # apps.connections.open, then ws
        sm.wait_for_connection()
        envelope_id = sm.send_event(app_mention("hi"))
        sm.wait_for_ack(envelope_id)
        handler.close()                                           # before the fakes stop

A minimal RFC 6455 server on the standard library: the opening handshake
(Sec-WebSocket-Accept), masked client frames in, unmasked server frames out, text,
ping/pong, close, and fragmented messages. It greets each connection with Slack's `hello`,
answers the client's pings, and pings the client every `ping_interval` seconds, as Slack
does (this also lets the builtin client's `close()` return in milliseconds instead of waiting
out its 3 s socket read timeout). Envelopes go to the newest open connection.

The URL apps.connections.open hands out carries a ticket from this server
(`ws://127.0.0.1:<port>/link/?ticket=...&app_id=A1`); a ticket from another instance is
refused with 401, so a client leaked by an earlier test never lands on a later test's server
that reuses the port. A bare `url` (no ticket) is accepted.

At `stop()` open connections get a close frame (1001). The builtin client answers a close
frame by reconnecting (apps.connections.open again) if its auto-reconnect is on, so close the
client (`handler.close()`) before stopping the fakes; the fixtures do it in that order.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import itertools
import json
import secrets
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.slack_requests import event_callback

if TYPE_CHECKING:
    from tests.fakes.slack_api import FakeSlackAPI

_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


class _Closed(Exception):
    """The peer closed the TCP connection (or the server is stopping)."""


@dataclass
class Connection:
    """One client WebSocket connection as the server sees it."""
    id: int
    path: str
    headers: dict[str, str] = field(repr=False)
    sock: socket.socket = field(repr=False)
    opened: float = field(repr=False)
    closed: float | None = field(default=None, repr=False)
    close_code: int | None = None  # from the client's close frame, if it sent one
    send_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    pending: bytes = field(default=b"", repr=False)  # read past the handshake's head

    @property
    def is_open(self) -> bool:
        return self.closed is None


class FakeSocketMode:
    """The fake Socket Mode server. Thread-safe; `start()`/`stop()` or a context manager.

    `api`: a FakeSlackAPI to attach to (apps.connections.open then returns this server's URL);
    `hello`: send Slack's hello message on connect; `ping_interval`: seconds between server
    pings (None: never).
    """

    def __init__(self, api: FakeSlackAPI | None = None, *, app_id: str = "A1",
                 hello: bool = True, ping_interval: float | None = 0.1) -> None:
        self.api, self.app_id = api, app_id
        self.hello, self.ping_interval = hello, ping_interval
        #: Protocol violations seen from clients (unmasked frames, bad opcodes ...).
        self.errors: list[str] = []
        self._key = secrets.token_hex(4)
        self._tickets = itertools.count(1)
        self._ids = itertools.count(1)
        self._connections: list[Connection] = []
        self._received: list[tuple[int, Any]] = []  # (connection id, text message decoded)
        self._pongs: list[bytes] = []
        self._refused = 0
        self._lock = threading.Condition()
        self._stopping = threading.Event()
        self._listener: socket.socket | None = None
        self._port: int | None = None
        self._threads: list[threading.Thread] = []

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeSocketMode:
        listener = socket.create_server(("127.0.0.1", 0))
        listener.settimeout(0.05)  # accept() polls the stop flag
        self._listener, self._port = listener, listener.getsockname()[1]
        self._stopping.clear()
        self._spawn(self._accept_loop, "fake-socket-mode-accept")
        if self.ping_interval is not None:
            self._spawn(self._ping_loop, "fake-socket-mode-ping")
        if self.api is not None:
            self.api.attach(self)
        return self

    def stop(self) -> None:
        """Close every connection (close frame 1001, then the socket) and stop listening."""
        listener, self._listener = self._listener, None
        if listener is None:
            return
        self._stopping.set()
        if self.api is not None and self.api.socket is self:
            self.api.attach(None)
        listener.close()
        for conn in self.connections(open_only=True):
            self._close(conn, 1001, "server stopping")
        for thread in self._threads:
            thread.join(timeout=1.0)
        self._threads.clear()

    def __enter__(self) -> FakeSocketMode:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """ws://127.0.0.1:<port>/ (no ticket; accepted as is)."""
        if self._port is None:
            raise RuntimeError("FakeSocketMode is not started")
        return f"ws://127.0.0.1:{self._port}/"

    def connection_url(self) -> str:
        """A fresh URL with a ticket, as apps.connections.open answers."""
        return f"{self.url}link/?ticket={self._key}-{next(self._tickets)}&app_id={self.app_id}"

    # -- inspection --------------------------------------------------------------------------

    def connections(self, *, open_only: bool = False) -> list[Connection]:
        """Accepted connections (handshake done), oldest first."""
        with self._lock:
            return [c for c in self._connections if c.is_open or not open_only]

    @property
    def refused(self) -> int:
        """Handshakes refused (bad request or a foreign ticket)."""
        with self._lock:
            return self._refused

    def wait_for_connection(self, n: int = 1, timeout: float = 5.0) -> Connection:
        """Block until `n` connections were accepted in all (and greeted); the newest one."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self._connections) >= n, timeout):
                raise TimeoutError(f"{len(self._connections)} of {n} connections after "
                                   f"{timeout}s")
            return self._connections[-1]

    def wait_for_disconnect(self, conn: Connection | None = None,
                            timeout: float = 5.0) -> None:
        """Block until `conn` (None: every connection) is closed."""
        def done() -> bool:
            targets = [conn] if conn is not None else self._connections
            return all(not c.is_open for c in targets)
        with self._lock:
            if not self._lock.wait_for(done, timeout):
                raise TimeoutError(f"connection still open after {timeout}s")

    def received(self) -> list[Any]:
        """Every text message clients sent (JSON decoded; text if not JSON), in order."""
        with self._lock:
            return [m for _, m in self._received]

    def acks(self) -> list[dict[str, Any]]:
        """The clients' envelope acks: {"envelope_id": ..., "payload"?: ...}, in order."""
        return [m for m in self.received() if isinstance(m, dict) and "envelope_id" in m]

    def ack(self, envelope_id: str) -> dict[str, Any] | None:
        """The first ack of `envelope_id`, or None."""
        return next((a for a in self.acks() if a["envelope_id"] == envelope_id), None)

    def wait_for_ack(self, envelope_id: str, timeout: float = 5.0) -> dict[str, Any]:
        """Block until `envelope_id` is acked; the ack. TimeoutError if not in `timeout`."""
        def found() -> dict[str, Any] | None:
            return next((m for _, m in self._received if isinstance(m, dict)
                         and m.get("envelope_id") == envelope_id), None)
        with self._lock:
            if not self._lock.wait_for(lambda: found() is not None, timeout):
                raise TimeoutError(f"no ack of {envelope_id} after {timeout}s")
            ack = found()
            assert ack is not None
            return ack

    def pongs(self) -> list[bytes]:
        """Payloads of the pongs clients sent (to our pings)."""
        with self._lock:
            return list(self._pongs)

    def reset(self) -> None:
        """Forget received messages, pongs and errors (connections stay)."""
        with self._lock:
            self._received.clear()
            self._pongs.clear()
            self.errors.clear()

    # -- sending -----------------------------------------------------------------------------

    def send(self, message: dict[str, Any] | str, *, timeout: float = 5.0) -> Connection:
        """Send a text message to the newest open connection (waiting up to `timeout` for one)."""
        with self._lock:
            if not self._lock.wait_for(lambda: any(c.is_open for c in self._connections),
                                       timeout):
                raise TimeoutError(f"no open Socket Mode connection after {timeout}s")
            conn = next(c for c in reversed(self._connections) if c.is_open)
        text = message if isinstance(message, str) else json.dumps(message)
        self._send_frame(conn, OP_TEXT, text.encode())
        return conn

    def send_envelope(self, type: str, payload: dict[str, Any], *,
                      envelope_id: str | None = None, accepts_response_payload: bool = False,
                      timeout: float = 5.0, **extra: Any) -> str:
        """Send an envelope {"envelope_id", "type", "accepts_response_payload", "payload",
        **extra}; its envelope_id (a fresh one unless given)."""
        envelope_id = envelope_id or f"env-{secrets.token_hex(8)}"
        self.send({"envelope_id": envelope_id, "type": type,
                   "accepts_response_payload": accepts_response_payload, "payload": payload,
                   **extra}, timeout=timeout)
        return envelope_id

    def send_event(self, payload: dict[str, Any] | str, *, envelope_id: str | None = None,
                   retry_attempt: int = 0, retry_reason: str = "",
                   timeout: float = 5.0) -> str:
        """Send an `events_api` envelope; its envelope_id.

        `payload` is an event_callback body (dict, or its JSON string); a bare event dict
        (e.g. `app_mention("hi")`) is wrapped with `slack_requests.event_callback` first.
        A Slack redelivery has the same event_id, a new envelope_id and retry_attempt >= 1.
        """
        body = json.loads(payload) if isinstance(payload, str) else payload
        if body.get("type") != "event_callback":
            body = event_callback(body)
        return self.send_envelope("events_api", body, envelope_id=envelope_id,
                                  retry_attempt=retry_attempt, retry_reason=retry_reason,
                                  timeout=timeout)

    def send_command(self, payload: dict[str, Any], *, envelope_id: str | None = None,
                     timeout: float = 5.0) -> str:
        """Send a `slash_commands` envelope (payload: `slack_requests.command_payload(...)`);
        bolt's ack(...) body comes back as the ack's `payload`."""
        return self.send_envelope("slash_commands", payload, envelope_id=envelope_id,
                                  accepts_response_payload=True, timeout=timeout)

    def send_interactive(self, payload: dict[str, Any], *, envelope_id: str | None = None,
                         timeout: float = 5.0) -> str:
        """Send an `interactive` envelope (view_submission, block_actions ... payload)."""
        accepts = payload.get("type") in ("view_submission", "block_suggestion")
        return self.send_envelope("interactive", payload, envelope_id=envelope_id,
                                  accepts_response_payload=accepts, timeout=timeout)

    def send_disconnect(self, reason: str = "refresh_requested", *,
                        timeout: float = 5.0) -> Connection:
        """Slack's `disconnect` message: the builtin client opens a new connection (a new
        apps.connections.open) and then drops this one."""
        return self.send({"type": "disconnect", "reason": reason,
                          "debug_info": {"host": "fake-socket-mode"}}, timeout=timeout)

    def ping(self, payload: bytes = b"") -> None:
        """Ping every open connection now (clients answer with a pong: `pongs()`)."""
        for conn in self.connections(open_only=True):
            self._send_frame(conn, OP_PING, payload)

    def close_connections(self, code: int = 1000, reason: str = "") -> None:
        """Send a close frame to every open connection and close it."""
        for conn in self.connections(open_only=True):
            self._close(conn, code, reason)

    # -- server threads ----------------------------------------------------------------------

    def _spawn(self, target: Any, name: str, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True, name=name)
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        listener = self._listener
        while listener is not None and not self._stopping.is_set():
            try:
                sock, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # closed by stop()
            sock.settimeout(None)
            self._spawn(self._serve, "fake-socket-mode-conn", sock)

    def _ping_loop(self) -> None:
        assert self.ping_interval is not None
        while not self._stopping.wait(self.ping_interval):
            for conn in self.connections(open_only=True):
                self._send_frame(conn, OP_PING, f"fake:{time.time()}".encode())

    def _serve(self, sock: socket.socket) -> None:
        conn: Connection | None = None
        try:
            conn = self._handshake(sock)
            if conn is None:
                return
            if self.hello:
                self._send_frame(conn, OP_TEXT, json.dumps(self._hello()).encode())
            with self._lock:
                self._connections.append(conn)
                self._lock.notify_all()
            self._read_loop(conn)
        except (_Closed, OSError):
            pass
        finally:
            if conn is not None:
                self._mark_closed(conn)
            with contextlib.suppress(OSError):
                sock.close()

    def _hello(self) -> dict[str, Any]:
        with self._lock:
            open_now = sum(c.is_open for c in self._connections) + 1
        return {"type": "hello", "num_connections": open_now,
                "debug_info": {"host": "fake-socket-mode", "build_number": 1,
                               "approximate_connection_time": 18060},
                "connection_info": {"app_id": self.app_id}}

    def _handshake(self, sock: socket.socket) -> Connection | None:
        sock.settimeout(5.0)  # a client that never finishes its request is dropped
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk or len(data) > 65536:
                raise _Closed
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        request_line, header_lines = lines[0], lines[1:]
        headers = {}
        for line in header_lines:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        method, _, target = request_line.partition(" ")
        path = target.rpartition(" ")[0] or target
        key = headers.get("sec-websocket-key", "")
        ticket = (parse_qs(urlsplit(path).query).get("ticket") or [""])[0]
        ok = (method == "GET" and "websocket" in headers.get("upgrade", "").lower()
              and "upgrade" in headers.get("connection", "").lower()
              and headers.get("sec-websocket-version") == "13" and key)
        if not ok or (ticket and not ticket.startswith(f"{self._key}-")):
            status = "400 Bad Request" if not ok else "401 Unauthorized"
            with self._lock:
                self._refused += 1
            sock.sendall(f"HTTP/1.1 {status}\r\nContent-Length: 0\r\n"
                         "Connection: close\r\n\r\n".encode())
            return None
        accept = base64.b64encode(hashlib.sha1((key + _GUID).encode()).digest()).decode()
        sock.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                      f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n").encode())
        sock.settimeout(None)  # reads block; stop() shuts the socket down to wake them
        return Connection(next(self._ids), path, headers, sock, time.monotonic(), pending=rest)

    def _read_loop(self, conn: Connection) -> None:
        buffer = bytearray(conn.pending)

        def read(n: int) -> bytes:
            while len(buffer) < n:
                chunk = conn.sock.recv(65536)
                if not chunk:
                    raise _Closed
                buffer.extend(chunk)
            out = bytes(buffer[:n])
            del buffer[:n]
            return out

        message_op, fragments = None, b""
        while not self._stopping.is_set():
            b1, b2 = read(2)
            fin, opcode, masked, length = b1 & 0x80, b1 & 0x0F, b2 & 0x80, b2 & 0x7F
            if length == 126:
                (length,) = struct.unpack("!H", read(2))
            elif length == 127:
                (length,) = struct.unpack("!Q", read(8))
            mask = read(4) if masked else b""
            data = read(length)
            if not masked:
                self._protocol_error(conn, "unmasked client frame")
                return
            data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
            if opcode == OP_PING:
                self._send_frame(conn, OP_PONG, data)
            elif opcode == OP_PONG:
                with self._lock:
                    self._pongs.append(data)
            elif opcode == OP_CLOSE:
                code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else 1005
                conn.close_code = code
                self._close(conn, code if code != 1005 else 1000, "")
                return
            elif opcode in (OP_TEXT, OP_BINARY, OP_CONT):
                if opcode != OP_CONT:
                    message_op, fragments = opcode, b""
                fragments += data
                if fin:
                    if message_op == OP_TEXT:
                        self._on_text(conn, fragments.decode("utf-8", errors="replace"))
                    else:
                        self._protocol_error(conn, "binary message (Slack sends JSON text)")
                    message_op, fragments = None, b""
            else:
                self._protocol_error(conn, f"unknown opcode {opcode:#x}")
                return

    def _on_text(self, conn: Connection, text: str) -> None:
        try:
            message: Any = json.loads(text)
        except ValueError:
            message = text
        with self._lock:
            self._received.append((conn.id, message))
            self._lock.notify_all()

    def _protocol_error(self, conn: Connection, what: str) -> None:
        with self._lock:
            self.errors.append(f"connection {conn.id}: {what}")
        self._close(conn, 1002, what)

    def _send_frame(self, conn: Connection, opcode: int, payload: bytes) -> None:
        n = len(payload)
        if n <= 125:
            header = struct.pack("!BB", 0x80 | opcode, n)
        elif n <= 0xFFFF:
            header = struct.pack("!BBH", 0x80 | opcode, 126, n)
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 127, n)
        with conn.send_lock:
            if conn.is_open:
                try:
                    conn.sock.sendall(header + payload)
                except OSError:
                    self._mark_closed(conn)

    def _close(self, conn: Connection, code: int, reason: str) -> None:
        self._send_frame(conn, OP_CLOSE, struct.pack("!H", code) + reason.encode()[:120])
        self._mark_closed(conn)
        with contextlib.suppress(OSError):
            conn.sock.shutdown(socket.SHUT_RDWR)  # wakes the connection's blocking recv

    def _mark_closed(self, conn: Connection) -> None:
        with self._lock:
            if conn.closed is None:
                conn.closed = time.monotonic()
                self._lock.notify_all()
