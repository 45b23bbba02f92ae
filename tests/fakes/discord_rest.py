"""A local Discord REST API (and gateway) for tests: discord.py's own HTTPClient talks to it.

    with FakeDiscordAPI() as fake:
        fake.script("POST /channels/{channel_id}/messages", rate_limited(0.2))
        ...  # DISCORD_API_URL=fake.url (discord.py's /api/v10 is appended)
        assert [m["content"] for m in fake.messages("123")] == ["hi"]

Routes, under `/api/v10` (`base_url`):

| route | answer |
| --- | --- |
| `GET /users/@me` | the bot user |
| `GET /oauth2/applications/@me` | the application, `flags` = `application_flags` (`login` asks) |
| `GET /gateway/bot` | a gateway URL (nothing listens there) |
| `POST /channels/{channel_id}/messages` | the created message (stored), checked as Discord does |
| `POST /channels/{channel_id}/typing` | 204 |
| `GET /channels/{channel_id}` | a text channel of the guild `guild_id` |
| `POST /users/@me/channels` | the DM channel with `recipient_id` (id = "9" + the user id's tail) |
| `PUT /applications/{application_id}/commands` | the commands, given ids (global sync) |
| `PUT /applications/{application_id}/guilds/{guild_id}/commands` | the same, for one guild |

A message is refused with 400 like Discord refuses it: empty (code 50006), or
`content` over 2,000 characters (code 50035). With `enforce_nonce`, a second
message with the same `nonce` answers the first message and creates nothing.
Every call is recorded (`calls()`); a call without `Authorization: Bot <token>`
gets 401. A route's scripted answers (`script`) are used one per call before its
standing answer (`always`) or the default: `rate_limited(…)` (429 with the body
and headers Discord sends, `Via` included: discord.py takes a 429 without it for
a Cloudflare ban and does not retry), `http_error(…)`, `slow(…)`, a dict (200
with that body) or a callable of the `DiscordCall`.

`FakeDiscordGateway` (below) is the WebSocket side, for tests that run the client itself.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from tests.fakes.local_server import LocalServer, Slow, Stopped
from tests.fakes.local_server import hang as hang  # re-exported for the tests
from tests.fakes.local_server import slow as slow  # re-exported for the tests

API_PREFIX = "/api/v10"
TOKEN = "test-discord-token"
BOT_ID = "100000000000000001"
APPLICATION_ID = "100000000000000002"
GUILD_ID = "200000000000000001"
MAX_CONTENT = 2_000
_EPOCH_MS = 1_420_070_400_000
#: Application flags (Discord's): the Message Content intent is on, for verified apps
#: (approved) and for apps in fewer than 100 servers (switched on in the Developer Portal).
GATEWAY_MESSAGE_CONTENT = 1 << 19
GATEWAY_MESSAGE_CONTENT_LIMITED = 1 << 18

ROUTES = (
    "GET /users/@me",
    "GET /oauth2/applications/@me",
    "GET /gateway/bot",
    "POST /channels/{channel_id}/messages",
    "POST /channels/{channel_id}/typing",
    "GET /channels/{channel_id}",
    "POST /users/@me/channels",
    "PUT /applications/{application_id}/commands",
    "PUT /applications/{application_id}/guilds/{guild_id}/commands",
)


def _route_pattern(route: str) -> re.Pattern[str]:
    method, path = route.split(" ", 1)
    regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path))
    return re.compile(rf"^{method} {regex}$")


_PATTERNS = [(route, _route_pattern(route)) for route in ROUTES]


# -- scripted answers ------------------------------------------------------------------------

@dataclass(frozen=True)
class RateLimited:
    """HTTP 429 as Discord sends it: body {message, retry_after, global, code?} and the
    Retry-After (whole seconds, rounded up), X-RateLimit-* and Via headers."""
    retry_after: float = 0.1
    is_global: bool = False
    bucket: str = "fakebucket"
    #: False: no Via header, as a 429 from Cloudflare (discord.py does not retry it).
    via: bool = True


@dataclass(frozen=True)
class HttpError:
    """An HTTP error status with Discord's error body {message, code}."""
    status: int = 500
    message: str = "500: Internal Server Error"
    code: int = 0


Response = RateLimited | HttpError | Slow | dict[str, Any] | Callable[["DiscordCall"], Any]


def rate_limited(retry_after: float = 0.1, *, is_global: bool = False,
                 via: bool = True) -> RateLimited:
    return RateLimited(retry_after, is_global, via=via)


def http_error(status: int = 500, message: str | None = None, code: int = 0) -> HttpError:
    return HttpError(status, message or f"{status}: error", code)


# -- records ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class DiscordCall:
    """One REST call as the server saw it: `route` is its template (one of ROUTES),
    `params` its path parameters, `json` the decoded body (None without one)."""
    route: str
    method: str
    path: str
    params: dict[str, str]
    json: Any
    headers: dict[str, str] = field(repr=False)
    time: float = field(repr=False)


class FakeDiscordAPI(LocalServer):
    """The fake REST API. Thread-safe; `start()`/`stop()` it or use it as a context manager.

    `ratelimit_headers`: when True, successful answers carry X-RateLimit-* headers
    (limit 5, the bucket's remaining count, reset after 1 s), as Discord's do.
    `application_flags`: the application's `flags` (e.g. `GATEWAY_MESSAGE_CONTENT_LIMITED`:
    the Message Content intent switched on in the Developer Portal; 0: every intent off).
    """

    def __init__(self, *, token: str = TOKEN, bot_id: str = BOT_ID,
                 bot_name: str = "chatjobs", application_id: str = APPLICATION_ID,
                 ratelimit_headers: bool = False, guild_id: str = GUILD_ID,
                 application_flags: int = 0) -> None:
        super().__init__()
        self.handler = _Handler
        self.application_flags = application_flags
        #: The guild every channel looked up by id belongs to.
        self.guild_id = guild_id
        self.token, self.bot_id, self.bot_name = token, bot_id, bot_name
        self.application_id = application_id
        self.ratelimit_headers = ratelimit_headers
        #: Exceptions raised by scripted callables (answered with a 500); fixtures assert none.
        self.errors: list[Exception] = []
        self._calls: list[DiscordCall] = []
        self._messages: list[dict[str, Any]] = []
        self._nonces: dict[str, dict[str, Any]] = {}
        self._commands: dict[str, list[dict[str, Any]]] = {}
        self._scripts: dict[str, deque[Response]] = {}
        self._always: dict[str, Response] = {}
        self._counter = itertools.count(1)
        self._lock = threading.Condition()

    # -- lifecycle ---------------------------------------------------------------------------


    @property
    def base_url(self) -> str:
        """The versioned API base: http://127.0.0.1:<port>/api/v10."""
        return self.url + API_PREFIX

    # -- scripting ---------------------------------------------------------------------------

    def script(self, route: str, *responses: Response) -> None:
        """Queue answers for `route` (a template from ROUTES), one per call, in order."""
        self._check_route(route)
        with self._lock:
            self._scripts.setdefault(route, deque()).extend(responses)

    def always(self, route: str, response: Response | None) -> None:
        """A standing answer for `route` once its script is used up (None: back to default)."""
        self._check_route(route)
        with self._lock:
            if response is None:
                self._always.pop(route, None)
            else:
                self._always[route] = response

    def pending(self, route: str | None = None) -> int:
        with self._lock:
            return sum(len(q) for r, q in self._scripts.items() if route in (None, r))

    @staticmethod
    def _check_route(route: str) -> None:
        if route not in ROUTES:
            raise ValueError(f"unknown route {route!r}; one of {ROUTES}")

    # -- assertions --------------------------------------------------------------------------

    def calls(self, route: str | None = None) -> list[DiscordCall]:
        """Every call (to `route`), in arrival order; failed and refused ones included."""
        with self._lock:
            return [c for c in self._calls if route in (None, c.route)]

    def messages(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Messages created (in `channel`), oldest first."""
        with self._lock:
            return [dict(m) for m in self._messages if channel in (None, m["channel_id"])]

    def typing(self, channel: str | None = None) -> list[str]:
        """The channels typing was shown in, one entry per call."""
        return [c.params["channel_id"] for c in self.calls("POST /channels/{channel_id}/typing")
                if channel in (None, c.params["channel_id"])]

    def commands(self, guild: str | None = None) -> list[dict[str, Any]] | None:
        """The commands last synced globally (or to `guild`); None if never synced."""
        with self._lock:
            synced = self._commands.get(guild or "global")
            return None if synced is None else list(synced)

    def wait_for(self, route: str | None = None, n: int = 1,
                 timeout: float = 5.0) -> list[DiscordCall]:
        """Block until `n` calls (to `route`) arrived; TimeoutError if not."""
        def seen() -> list[DiscordCall]:
            return [c for c in self._calls if route in (None, c.route)]
        with self._lock:
            if not self._lock.wait_for(lambda: len(seen()) >= n, timeout):
                raise TimeoutError(f"{len(seen())} of {n} {route or 'any'} calls after {timeout}s")
            return seen()

    def wait_for_messages(self, n: int = 1, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Block until `n` messages were created; TimeoutError if not."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self._messages) >= n, timeout):
                raise TimeoutError(f"{len(self._messages)} of {n} messages after {timeout}s")
            return [dict(m) for m in self._messages]

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()
            self._messages.clear()
            self._nonces.clear()
            self._scripts.clear()
            self._always.clear()
            self.errors.clear()

    def snowflake(self) -> str:
        """A new id, made now, as Discord makes them."""
        ms = int(time.time() * 1000) - _EPOCH_MS
        return str((ms << 22) | (next(self._counter) & 0x3FFFFF))

    # -- on handler threads ------------------------------------------------------------------

    def _handle(self, method: str, path: str, body: Any,
                headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        found = self._match(method, path)
        if found is None:
            return 404, {"message": "404: Not Found", "code": 0}, {}
        route, params = found
        call = DiscordCall(route, method, path, params, body, headers, time.monotonic())
        with self._lock:
            self._calls.append(call)
            self._lock.notify_all()
        if headers.get("authorization") != f"Bot {self.token}":
            return 401, {"message": "401: Unauthorized", "code": 0}, {}
        with self._lock:
            queue = self._scripts.get(route)
            item: Any = queue.popleft() if queue else self._always.get(route)
        item = self.settle(item, call)
        if item is None:
            status, answer = self._default(call)
            return status, answer, self._ratelimit_headers(route, params)
        if isinstance(item, RateLimited):
            return 429, _limited_body(item), _limited_headers(item)
        if isinstance(item, HttpError):
            return item.status, {"message": item.message, "code": item.code}, {}
        if isinstance(item, dict):
            return 200, item, {}
        raise TypeError(f"not a Discord response: {item!r}")

    def _match(self, method: str, path: str) -> tuple[str, dict[str, str]] | None:
        if not path.startswith(API_PREFIX + "/"):
            return None
        line = f"{method} {path[len(API_PREFIX):]}"
        for route, pattern in _PATTERNS:
            match = pattern.match(line)
            if match:
                return route, match.groupdict()
        return None

    def _ratelimit_headers(self, route: str, params: dict[str, str]) -> dict[str, str]:
        if not self.ratelimit_headers:
            return {}
        with self._lock:
            recent = [c for c in self._calls if c.route == route and c.params == params
                      and c.time > time.monotonic() - 1.0]
        return {"X-RateLimit-Limit": "5", "X-RateLimit-Remaining": str(max(0, 5 - len(recent))),
                "X-RateLimit-Reset-After": "1.000", "X-RateLimit-Bucket": f"b-{route}"}

    def _bot_user(self) -> dict[str, Any]:
        return {"id": self.bot_id, "username": self.bot_name, "global_name": None,
                "discriminator": "0", "avatar": None, "bot": True, "flags": 0}

    def _default(self, call: DiscordCall) -> tuple[int, Any]:
        route, body = call.route, call.json if isinstance(call.json, dict) else {}
        if route == "GET /users/@me":
            return 200, self._bot_user()
        if route == "GET /oauth2/applications/@me":
            return 200, {"id": self.application_id, "name": self.bot_name, "icon": None,
                         "description": "", "rpc_origins": None, "bot_public": True,
                         "bot_require_code_grant": False, "verify_key": "00" * 32,
                         "flags": self.application_flags,
                         "owner": {**self._bot_user(), "id": "100000000000000003",
                                               "username": "owner", "bot": False},
                         "bot": self._bot_user()}
        if route == "GET /gateway/bot":
            return 200, {"url": "ws://127.0.0.1:9", "shards": 1,
                         "session_start_limit": {"total": 1000, "remaining": 1000,
                                                 "reset_after": 0, "max_concurrency": 1}}
        if route == "POST /channels/{channel_id}/messages":
            return self._create_message(call.params["channel_id"], body)
        if route == "POST /channels/{channel_id}/typing":
            return 204, None
        if route == "GET /channels/{channel_id}":
            return 200, {"id": call.params["channel_id"], "type": 0, "name": "general",
                         "guild_id": self.guild_id, "position": 0, "permission_overwrites": []}
        if route == "POST /users/@me/channels":
            recipient = str(body.get("recipient_id", ""))
            if not recipient.isdigit():
                return 400, {"message": "Invalid Form Body", "code": 50035}
            return 200, {"id": "9" + recipient[1:], "type": 1, "last_message_id": None,
                         "recipients": [{"id": recipient, "username": f"user{recipient[-4:]}",
                                         "discriminator": "0", "avatar": None}]}
        if route.startswith("PUT /applications/"):
            commands = [dict(c, id=self.snowflake(), application_id=self.application_id,
                             version="1") for c in (call.json or [])]
            with self._lock:
                self._commands[call.params.get("guild_id", "global")] = commands
            return 200, commands
        return 404, {"message": "404: Not Found", "code": 0}

    def _create_message(self, channel: str, body: dict[str, Any]) -> tuple[int, Any]:
        content = body.get("content") or ""
        if not isinstance(content, str) or not (content or body.get("embeds")):
            return 400, {"message": "Cannot send an empty message", "code": 50006}
        if len(content) > MAX_CONTENT:
            return 400, {"message": "Invalid Form Body", "code": 50035, "errors": {
                "content": {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH",
                                         "message": "Must be 2000 or fewer in length."}]}}}
        nonce = body.get("nonce")
        with self._lock:
            if nonce is not None and body.get("enforce_nonce") and str(nonce) in self._nonces:
                return 200, dict(self._nonces[str(nonce)])
            reference = body.get("message_reference")
            message: dict[str, Any] = {
                "id": self.snowflake(), "channel_id": channel, "author": self._bot_user(),
                "content": content, "timestamp": datetime.now(UTC).isoformat(),
                "edited_timestamp": None, "tts": False, "mention_everyone": False,
                "mentions": [], "mention_roles": [], "attachments": [],
                "embeds": body.get("embeds") or [], "pinned": False,
                "type": 19 if reference else 0, "flags": 0,
            }
            for key in ("nonce", "message_reference", "allowed_mentions", "components"):
                if body.get(key) is not None:
                    message[key] = body[key]
            self._messages.append(message)
            if nonce is not None:
                self._nonces[str(nonce)] = message
            self._lock.notify_all()
        return 200, dict(message)


def _limited_body(item: RateLimited) -> dict[str, Any]:
    body: dict[str, Any] = {"message": "You are being rate limited.",
                            "retry_after": item.retry_after, "global": item.is_global}
    if item.is_global:
        body["code"] = 0
    return body


def _limited_headers(item: RateLimited) -> dict[str, str]:
    headers = {"Retry-After": str(max(1, math.ceil(item.retry_after))),
               "X-RateLimit-Scope": "global" if item.is_global else "user"}
    if item.is_global:
        headers["X-RateLimit-Global"] = "true"
    else:
        headers.update({"X-RateLimit-Limit": "5", "X-RateLimit-Remaining": "0",
                        "X-RateLimit-Reset-After": f"{item.retry_after:.3f}",
                        "X-RateLimit-Bucket": item.bucket})
    if item.via:
        headers["Via"] = "1.1 google"
    return headers


class _Handler(BaseHTTPRequestHandler):
    fake: FakeDiscordAPI
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            status, answer, extra = self.fake._handle(self.command, urlsplit(self.path).path,
                                                      body, headers)
        except Stopped:
            self.close_connection = True
            return
        except Exception as exc:  # a scripted callable failed
            self.fake.errors.append(exc)
            status, answer, extra = 500, {"message": repr(exc), "code": 0}, {}
        data = b"" if answer is None else json.dumps(answer).encode()
        try:
            self.send_response(status)
            if answer is not None:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            if data:
                self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up on the call
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve


# -- the gateway -----------------------------------------------------------------------------

#: Gateway intent bits (Discord's): guilds, guild messages, direct messages, message content.
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_MESSAGE_CONTENT = 1 << 15


class FakeDiscordGateway:
    """A local Discord gateway (WebSocket, JSON text frames) for discord.py's real client.

    discord.py connects to `DiscordWebSocket.DEFAULT_GATEWAY` (it does not ask
    GET /gateway/bot): point that at `url` in the test. The gateway answers HELLO,
    heartbeats, and IDENTIFY with READY (the bot user of `rest`) and one
    GUILD_CREATE (`guild_id`, one text channel `channel_id`, owned by `owner_id`);
    with `refuse_intents`, IDENTIFY asking for Message Content is closed with 4014,
    as Discord does when the intent is not switched on. `dispatch(event, data)`
    sends an event to every session.
    """

    def __init__(self, rest: FakeDiscordAPI, *, guild_id: str = GUILD_ID,
                 channel_id: str = "300000000000000001", owner_id: str = "400000000000000009",
                 refuse_intents: bool = False) -> None:
        self.rest = rest
        self.guild_id, self.channel_id, self.owner_id = guild_id, channel_id, owner_id
        self.refuse_intents = refuse_intents
        #: The IDENTIFY payloads received ("d"), token included: never print them.
        self.identified: list[dict[str, Any]] = []
        self._sessions: list[tuple[Any, itertools.count[int]]] = []
        self._lock = threading.Condition()
        self._loop: Any = None
        self._runner: Any = None
        self._port = 0

    def start(self) -> FakeDiscordGateway:
        import asyncio

        from aiohttp import web

        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        async def serve() -> None:
            app = web.Application()
            app.router.add_get("/", self._session)
            self._runner = web.AppRunner(app)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            self._port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            ready.set()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(serve())
            self._loop.run_forever()

        threading.Thread(target=run, daemon=True, name="fake-discord-gateway").start()
        if not ready.wait(10):
            raise RuntimeError("the fake gateway did not start")
        return self

    def stop(self) -> None:
        import asyncio

        if self._loop is None:
            return
        loop, self._loop = self._loop, None

        async def shutdown() -> None:
            for ws, _ in list(self._sessions):
                await ws.close()
            await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)

    def __enter__(self) -> FakeDiscordGateway:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self._port}/"

    def wait_for_identify(self, timeout: float = 10.0) -> dict[str, Any]:
        with self._lock:
            if not self._lock.wait_for(lambda: self.identified, timeout):
                raise TimeoutError(f"no IDENTIFY after {timeout}s")
            return self.identified[-1]

    def wait_for_ready(self, timeout: float = 10.0) -> None:
        """Block until a session was sent READY and the guild."""
        with self._lock:
            if not self._lock.wait_for(lambda: self._sessions, timeout):
                raise TimeoutError(f"no session got READY after {timeout}s")

    def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send a dispatch event to every session (and wait until it is written)."""
        import asyncio

        async def send() -> None:
            for ws, seq in list(self._sessions):
                await ws.send_str(json.dumps({"op": 0, "t": event, "s": next(seq), "d": data}))

        asyncio.run_coroutine_threadsafe(send(), self._loop).result(10)

    def guild_payload(self) -> dict[str, Any]:
        bot = self.rest._bot_user()
        return {
            "id": self.guild_id, "name": "Acme", "owner_id": self.owner_id, "icon": None,
            "unavailable": False, "large": False, "member_count": 2, "features": [],
            "roles": [{"id": self.guild_id, "name": "@everyone", "permissions": "1024",
                       "position": 0, "color": 0, "hoist": False, "managed": False,
                       "mentionable": False, "flags": 0}],
            "channels": [{"id": self.channel_id, "type": 0, "name": "general",
                          "position": 0, "permission_overwrites": [], "nsfw": False,
                          "parent_id": None, "topic": None}],
            "members": [{"user": bot, "roles": [], "joined_at": "2024-01-01T00:00:00+00:00",
                         "deaf": False, "mute": False, "flags": 0}],
            "threads": [], "emojis": [], "stickers": [], "voice_states": [], "presences": [],
            "stage_instances": [], "guild_scheduled_events": [], "soundboard_sounds": [],
            "joined_at": "2024-01-01T00:00:00+00:00", "verification_level": 0,
            "default_message_notifications": 0, "explicit_content_filter": 0, "mfa_level": 0,
            "premium_tier": 0, "system_channel_flags": 0, "preferred_locale": "en-US",
            "nsfw_level": 0, "premium_progress_bar_enabled": False,
        }

    async def _session(self, request: Any) -> Any:
        from aiohttp import WSMsgType, web

        ws = web.WebSocketResponse()
        await ws.prepare(request)
        seq = itertools.count(1)
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 41250}}))
        async for frame in ws:
            if frame.type != WSMsgType.TEXT:
                continue
            payload = json.loads(frame.data)
            if payload.get("op") == 1:
                await ws.send_str(json.dumps({"op": 11}))
            elif payload.get("op") == 2:
                await self._identify(ws, seq, payload["d"])
        with self._lock:
            self._sessions = [s for s in self._sessions if s[0] is not ws]
        return ws

    async def _identify(self, ws: Any, seq: itertools.count[int], identify: dict[str, Any]) -> None:
        with self._lock:
            self.identified.append(identify)
            self._lock.notify_all()
        if identify.get("token") != self.rest.token:
            await ws.close(code=4004, message=b"Authentication failed.")
            return
        if self.refuse_intents and int(identify.get("intents", 0)) & INTENT_MESSAGE_CONTENT:
            await ws.close(code=4014, message=b"Disallowed intent(s).")
            return
        ready = {"v": 10, "user": self.rest._bot_user(), "guilds": [
                     {"id": self.guild_id, "unavailable": True}],
                 "session_id": "fake-session", "resume_gateway_url": self.url,
                 "application": {"id": self.rest.application_id, "flags": 0},
                 "shard": [0, 1]}
        await ws.send_str(json.dumps({"op": 0, "t": "READY", "s": next(seq), "d": ready}))
        await ws.send_str(json.dumps({"op": 0, "t": "GUILD_CREATE", "s": next(seq),
                                      "d": self.guild_payload()}))
        with self._lock:
            self._sessions.append((ws, seq))
            self._lock.notify_all()
