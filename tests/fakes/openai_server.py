"""A local OpenAI-compatible server for tests: the real openai SDK talks to it over HTTP.

    with FakeOpenAI() as fake:
        fake.script(tool_call("complete_job", {"job_id": "j1"}), reply("Done!"))
        client = openai.OpenAI(api_key="test-key", base_url=fake.base_url)

Chat answers come from the script (consumed in order), then from `default`;
embeddings from their own script, then from `embed` (a bag-of-words hashing
embedding unless one is given). Every request is recorded in `requests`.
Streaming is not supported (`stream: true` gets a 400). Standard library only,
plus numpy for the vectors.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import numpy as np

from tests.fakes.local_server import LocalServer, Slow, Stopped
from tests.fakes.local_server import hang as hang  # re-exported for the tests
from tests.fakes.local_server import slow as slow  # re-exported for the tests

CHAT_PATH = "/v1/chat/completions"
EMBEDDINGS_PATH = "/v1/embeddings"


# -- what the server answers (scripted, or returned by `default`) ---------------------------

@dataclass(frozen=True)
class Reply:
    """An assistant message with text."""
    text: str
    finish_reason: str = "stop"


@dataclass(frozen=True)
class ToolCall:
    """One function call; scripted alone, an assistant message with just this call.

    `arguments` is JSON-encoded; a str is sent as is (e.g. to test malformed JSON).
    """
    name: str
    arguments: dict[str, Any] | str
    id: str | None = None  # None: "call_<n>"


@dataclass(frozen=True)
class ToolCalls:
    """An assistant message with tool calls (and optional text); finish_reason "tool_calls"."""
    calls: tuple[ToolCall, ...]
    text: str | None = None


@dataclass(frozen=True)
class Error:
    """An HTTP error in OpenAI's error shape; `retry_after` sets the Retry-After header."""
    status: int
    message: str = "fake error"
    retry_after: float | None = None


#: A script item or `default`'s result; a str means `reply(str)`, a dict is sent as the body.
Response = Reply | ToolCall | ToolCalls | Error | Slow | str | dict[str, Any]
reply, tool_call, error = Reply, ToolCall, Error


def tool_calls(calls: Sequence[ToolCall | tuple[str, dict[str, Any]]], *,
               text: str | None = None) -> ToolCalls:
    """Several calls in one message; each a `tool_call(...)` or a (name, arguments) pair."""
    return ToolCalls(tuple(c if isinstance(c, ToolCall) else ToolCall(*c) for c in calls), text)


def hashing_embed(texts: list[str], dims: int = 256) -> np.ndarray:
    """Bag-of-words hashing: same text, same vector; shared words, similar vectors."""
    out = np.zeros((len(texts), dims), dtype=np.float32)
    for row, text in enumerate(texts):
        for word in re.findall(r"\w+", text.lower()) or [""]:
            digest = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest())
            out[row, digest % dims] += 1.0 if digest >> 63 else -1.0  # signed: clashes cancel out
        out[row] /= np.linalg.norm(out[row]) or 1.0
    return out


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server saw it; `time` is `time.monotonic()` at arrival."""
    method: str
    path: str
    headers: dict[str, str] = field(repr=False)  # lower-cased names; holds the API key
    json: Any  # the decoded body (None for GET)
    time: float

    @property
    def api_key(self) -> str | None:
        """The bearer token sent, if any."""
        scheme, _, token = self.headers.get("authorization", "").partition(" ")
        return token if scheme.lower() == "bearer" and token else None


class FakeOpenAI(LocalServer):
    """The fake server. Thread-safe; `start()`/`stop()` it or use it as a context manager.

    `embed(texts) -> rows` makes the vectors; `default(request_json) -> Response` answers
    chat requests once the script is used up; `models` is what `GET /v1/models` lists
    (None: the server has no model list, and answers it with a 404, as some do).
    With `api_key` set, a request with another bearer token (or none) gets OpenAI's 401
    (`invalid_api_key`, the key shown masked as OpenAI does); it is still recorded.
    """

    def __init__(self, *, embed: Callable[[list[str]], Any] = hashing_embed,
                 default: Callable[[dict[str, Any]], Response] = lambda _body: Reply("ok"),
                 models: Sequence[str] | None = ("fake-model", "fake-embedding"),
                 api_key: str | None = None) -> None:
        super().__init__()
        self.handler = _Handler
        self.embed, self.default = embed, default
        self.models = None if models is None else tuple(models)
        self.api_key = api_key
        #: Exceptions raised by `default` or `embed` (answered with a 500 the SDK won't retry).
        self.errors: list[Exception] = []
        self._chat_script: deque[Response] = deque()
        self._embed_script: deque[Response | None] = deque()
        self._requests: list[RecordedRequest] = []
        self._ids = 0
        self._lock = threading.Condition()
        #: Client connections kept alive, waiting for their next request.
        self._connections: set[socket.socket] = set()

    def stop(self) -> None:
        """Stop at once, and close the connections clients keep alive: no idle handler
        outlives it, and no request is answered after it."""
        super().stop()
        with self._lock:
            connections, self._connections = self._connections, set()
        for connection in connections:
            _hang_up(connection)

    @property
    def base_url(self) -> str:
        """The OpenAI base URL: http://127.0.0.1:<port>/v1."""
        return f"{self.url}/v1"

    def script(self, *responses: Response) -> None:
        """Queue chat answers, used in order before `default`."""
        with self._lock:
            self._chat_script.extend(responses)

    def script_embeddings(self, *responses: Response | None) -> None:
        """Queue embedding answers: `error(...)`, `slow(...)`, or None for the usual vectors."""
        with self._lock:
            self._embed_script.extend(responses)

    @property
    def pending(self) -> int:
        """Scripted chat answers not used yet."""
        with self._lock:
            return len(self._chat_script)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == CHAT_PATH]

    @property
    def embedding_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == EMBEDDINGS_PATH]

    def reset(self) -> None:
        """Forget requests, errors and both scripts (keeps `default` and `embed`)."""
        with self._lock:
            self._requests.clear()
            self._chat_script.clear()
            self._embed_script.clear()
            self.errors.clear()

    def wait_for_requests(self, n: int, timeout: float = 5.0, *,
                          path: str | None = None) -> list[RecordedRequest]:
        """Block until `n` requests (to `path`, e.g. CHAT_PATH) arrived; TimeoutError if not."""
        def seen() -> list[RecordedRequest]:
            return [r for r in self._requests if path in (None, r.path)]
        with self._lock:
            if not self._lock.wait_for(lambda: len(seen()) >= n, timeout):
                raise TimeoutError(f"{len(seen())} of {n} requests after {timeout}s")
            return seen()

    # -- on handler threads ------------------------------------------------------------------

    def _handle(self, record: RecordedRequest) -> tuple[int, dict[str, Any], dict[str, str]]:
        """Record a request; (status, JSON body, extra headers) to answer it."""
        with self._lock:
            self._requests.append(record)
            self._lock.notify_all()
        path, body = record.path, record.json
        if self.api_key is not None and record.api_key != self.api_key:
            return _invalid_key(record.api_key)
        if record.method == "GET" and path.rstrip("/") == "/v1/models" and self.models is not None:
            return 200, {"object": "list", "data": [
                {"id": m, "object": "model", "created": 0, "owned_by": "fake"}
                for m in self.models]}, {}
        if record.method != "POST" or path not in (CHAT_PATH, EMBEDDINGS_PATH):
            return _error(404, f"unknown path {record.method} {path}", code="not_found")
        if not isinstance(body, dict):
            return _error(400, "the body must be a JSON object")
        if body.get("stream"):
            return _error(400, "the fake server does not stream")
        item = self.settle(self._pop(self._chat_script if path == CHAT_PATH
                                      else self._embed_script))
        if item is None and path == CHAT_PATH:
            item = self.settle(self.default(body))
        if isinstance(item, Error):
            headers = {} if item.retry_after is None else {"Retry-After": f"{item.retry_after:g}"}
            code = "rate_limit_exceeded" if item.status == 429 else None
            status, payload, _ = _error(item.status, item.message, code=code)
            return status, payload, headers
        if isinstance(item, dict):
            return 200, item, {}
        if path == EMBEDDINGS_PATH:
            return self._embeddings(body)
        return 200, self._completion(body, item), {}

    def _pop(self, queue: deque[Any]) -> Any:
        with self._lock:
            return queue.popleft() if queue else None

    def _next_id(self, prefix: str) -> str:
        with self._lock:
            self._ids += 1
            return f"{prefix}{self._ids}"

    def _completion(self, body: dict[str, Any], item: Response | None) -> dict[str, Any]:
        return chat_completion(item, self._next_id, model=body.get("model", "fake-model"),
                               prompt_tokens=_words(body.get("messages")))

    def _embeddings(self, body: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        texts = body.get("input")
        texts = [texts] if isinstance(texts, str) else texts
        if not (isinstance(texts, list) and texts and all(isinstance(t, str) for t in texts)):
            return _error(400, "input must be a string or a non-empty list of strings")
        vectors = np.asarray(self.embed(texts), dtype="<f4")
        if vectors.ndim != 2 or len(vectors) != len(texts):
            raise ValueError(f"embed gave shape {vectors.shape} for {len(texts)} texts")
        # The SDK asks for base64 (little-endian float32) unless told a format.
        b64 = body.get("encoding_format") == "base64"
        data = [{"object": "embedding", "index": i,
                 "embedding": base64.b64encode(v.tobytes()).decode() if b64 else v.tolist()}
                for i, v in enumerate(vectors)]
        usage = {"prompt_tokens": _words(texts), "total_tokens": _words(texts)}
        return 200, {"object": "list", "data": data,
                     "model": body.get("model", "fake-embedding"), "usage": usage}, {}


def chat_completion(item: Response | None, next_id: Callable[[str], str], *,
                    model: str = "fake-model",
                    prompt_tokens: int | None = None) -> dict[str, Any]:
    """The chat completion body answering with `item` (a reply's text or tool calls);
    `next_id(prefix)` numbers the ids. With `prompt_tokens`, a `usage` (rough tokens)."""
    item = Reply(item) if isinstance(item, str) else item
    item = ToolCalls((item,)) if isinstance(item, ToolCall) else item
    message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
    if isinstance(item, Reply):
        message["content"], finish = item.text, item.finish_reason
    elif isinstance(item, ToolCalls):
        message["content"], finish = item.text, "tool_calls"
        message["tool_calls"] = [{
            "id": call.id or next_id("call_"), "type": "function",
            "function": {"name": call.name, "arguments": call.arguments
                         if isinstance(call.arguments, str) else json.dumps(call.arguments)},
        } for call in item.calls]
    else:
        raise TypeError(f"not a chat response: {item!r}")
    answer = {"id": next_id("chatcmpl-"), "object": "chat.completion",
              "created": int(time.time()), "model": model,
              "choices": [{"index": 0, "message": message, "finish_reason": finish,
                           "logprobs": None}]}
    if prompt_tokens is not None:
        completion = _words(message)
        answer["usage"] = {"prompt_tokens": prompt_tokens, "completion_tokens": completion,
                           "total_tokens": prompt_tokens + completion}
    return answer


def _error(status: int, message: str, *, code: str | None = None,
           ) -> tuple[int, dict[str, Any], dict[str, str]]:
    kind = ("requests" if status == 429 else "server_error" if status >= 500
            else "invalid_request_error")
    return status, {"error": {"message": message, "type": kind, "param": None,
                              "code": code}}, {}


def _invalid_key(given: str | None) -> tuple[int, dict[str, Any], dict[str, str]]:
    """OpenAI's 401 for a wrong key: it shows the key's first and last characters only."""
    if not given:
        return _error(401, "You didn't provide an API key.", code=None)
    shown = f"{given[:3]}{'*' * max(len(given) - 7, 0)}{given[-4:]}" if len(given) > 8 else "***"
    return _error(401, f"Incorrect API key provided: {shown}.", code="invalid_api_key")


def _words(value: Any) -> int:
    """Rough "tokens": about four characters each, as OpenAI's rule of thumb has it
    (cheap: benchmarks send thousands of long prompts)."""
    return -(-len(json.dumps(value)) // 4) if value else 0


def _hang_up(connection: socket.socket) -> None:
    with contextlib.suppress(OSError):
        connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive, as OpenAI speaks it: the SDK's pool reuses a connection.

    The fake tracks the connections waiting for a request, so `stop()` can close them.
    """

    protocol_version = "HTTP/1.1"
    #: The headers and the body are two writes: send each at once (Nagle's algorithm
    #: would hold the body until the client's delayed ACK, ~40 ms).
    disable_nagle_algorithm = True
    fake: FakeOpenAI

    def setup(self) -> None:
        super().setup()
        self._idle(True)

    def finish(self) -> None:
        self._idle(False)
        super().finish()

    def _idle(self, idle: bool) -> None:
        """Track the connection while it waits for a request; one that starts waiting
        after `stop()` began is closed here (`stop()` may not have seen it)."""
        with self.fake._lock:
            if idle:
                self.fake._connections.add(self.connection)
            else:
                self.fake._connections.discard(self.connection)
            stopping = self.fake._stopping.is_set()
        if idle and stopping:
            _hang_up(self.connection)

    def do_GET(self) -> None:
        self._idle(False)  # `stop()` lets a request in hand finish, as before
        try:
            self._answer()
        finally:
            if not self.close_connection:
                self._idle(True)

    def _answer(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")  # recorded as text, answered with a 400
        record = RecordedRequest(self.command, self.path,
                                 {k.lower(): v for k, v in self.headers.items()},
                                 body, time.monotonic())
        try:
            status, payload, headers = self.fake._handle(record)
        except Stopped:
            self.close_connection = True  # unanswered, as a server going down
            return
        except Exception as exc:  # a bug in `default`/`embed`: surface it, don't retry
            with self.fake._lock:
                self.fake.errors.append(exc)
            status, payload, _ = _error(500, f"fake server: {exc!r}")
            headers = {"x-should-retry": "false"}
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True  # the client gave up (its timeout)

    do_POST = do_DELETE = do_PUT = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet, and never anything that could hold the key
