"""A lean fake model in a process of its own, for the throughput benchmark.

    python bench/fake_model.py REPLY

The model a deployment calls runs on other machines. The tests' fake OpenAI
server (`tests/fakes/openai_server.py`) records and checks every request, on
`http.server` threads in the benchmark's own process: about 1 ms of CPU a
request under load, taken from the cores the turns are measured on. This one
answers `POST …/chat/completions` as `bench.common.model_answer(REPLY)` does,
over HTTP/1.1 keep-alive on asyncio, in a fraction of that, and only counts
the requests (its CPU still counts as the benchmark's).

It prints its base URL on the first line, then answers one line on stdin at a
time: `count` → the chat requests so far; `errors` → what it could not answer,
as JSON. End of input stops it.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import model_answer
from tests.fakes.openai_server import chat_completion

CHAT_PATH = b"/v1/chat/completions"


@dataclass
class Tally:
    """What every connection saw."""

    requests: int = 0
    errors: list[str] = field(default_factory=list)


class LeanModel(asyncio.Protocol):
    """One client connection: requests in, answers out, in order."""

    def __init__(self, answer: Callable[[dict[str, Any]], Any], tally: Tally) -> None:
        self._answer, self._tally = answer, tally
        self._buffer = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while (end := self._buffer.find(b"\r\n\r\n")) >= 0:
            head = self._buffer[:end]
            length = _content_length(head)
            if len(self._buffer) < end + 4 + length:
                return  # the rest of the body is on its way
            body = self._buffer[end + 4:end + 4 + length]
            self._buffer = self._buffer[end + 4 + length:]
            assert self._transport is not None
            self._transport.write(self._respond(head, body))

    def _respond(self, head: bytes, body: bytes) -> bytes:
        request_line = head.split(b"\r\n", 1)[0].split(b" ")
        if request_line[:2] != [b"POST", CHAT_PATH]:
            self._tally.errors.append(f"unexpected request {head[:80]!r}")
            return _http(404, b'{"error": {"message": "not found"}}')
        self._tally.requests += 1
        try:
            answer = chat_completion(self._answer(json.loads(body)), self._next_id)
        except Exception as exc:
            self._tally.errors.append(repr(exc))
            return _http(500, b'{"error": {"message": "fake model failed"}}')
        return _http(200, json.dumps(answer).encode())

    def _next_id(self, prefix: str) -> str:
        return f"{prefix}{self._tally.requests}"


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


def _http(status: int, body: bytes) -> bytes:
    reason = {200: b"OK", 404: b"Not Found", 500: b"Internal Server Error"}[status]
    return (b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
            % (status, reason, len(body))) + body


class ModelProcess:
    """This module run as a child process, and the questions it answers."""

    def __init__(self, reply: str) -> None:
        self._popen = subprocess.Popen([sys.executable, __file__, reply],
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                       text=True)
        self.base_url = self._read()

    @property
    def pid(self) -> int:
        return self._popen.pid

    def chat_requests(self) -> int:
        return int(self._ask("count"))

    def errors(self) -> list[str]:
        return list(json.loads(self._ask("errors")))

    def stop(self) -> None:
        if self._popen.poll() is None:
            assert self._popen.stdin is not None
            self._popen.stdin.close()
            self._popen.wait(10)

    def __enter__(self) -> ModelProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _ask(self, question: str) -> str:
        assert self._popen.stdin is not None
        self._popen.stdin.write(question + "\n")
        self._popen.stdin.flush()
        return self._read()

    def _read(self) -> str:
        assert self._popen.stdout is not None
        line = self._popen.stdout.readline()
        if not line:
            raise RuntimeError(f"the fake model exited ({self._popen.wait()})")
        return line.strip()


def main() -> int:
    answer, tally = model_answer(sys.argv[1]), Tally()
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(
        loop.create_server(lambda: LeanModel(answer, tally), "127.0.0.1", 0))
    port = server.sockets[0].getsockname()[1]
    threading.Thread(target=loop.run_forever, daemon=True).start()
    print(f"http://127.0.0.1:{port}/v1", flush=True)
    # The tally is read from this thread while the loop's thread counts: a count is at
    # most the request in hand behind.
    for line in sys.stdin:
        if line.strip() == "count":
            print(tally.requests, flush=True)
        elif line.strip() == "errors":
            print(json.dumps(tally.errors), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
