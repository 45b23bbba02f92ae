"""Drive discord.py's app commands, modals and buttons with interaction payloads.

`FakeInteractionAPI` is the Discord REST peer of an interaction: login,
command sync, the interaction callback (`POST /interactions/{id}/{token}/callback`),
follow-ups (`POST /webhooks/{application_id}/{token}`) and attachment
downloads (a CDN path), recording what the client sends (JSON, or multipart
with files). discord.py sends interaction answers through its webhook adapter,
which builds URLs from `discord.http.Route.BASE` and sends no bot token, so
tests point `Route.BASE` at this fake (besides DISCORD_API_URL for the client's
own HTTP client).

`Interactions` builds INTERACTION_CREATE payloads as Discord sends them
(slash command, autocomplete, modal submit, button press) and hands them to
the client the way its gateway does (`ConnectionState.parse_interaction_create`),
so everything after that is discord.py's own dispatch: the command tree,
option parsing, autocomplete, the view store for modals and buttons. Then it
waits for the tasks discord.py started for the interaction.

The `discord_app` fixture (`discord_app_fixture`) is the client under test;
a test module imports it to use it.
"""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import itertools
import json
import re
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import discord
import pytest
import pytest_asyncio
import redis

from adapters.discord.client import DiscordDeps, create_client
from bot.app import App, build_app
from config.settings import load_settings

API_PREFIX = "/api/v10"
TOKEN = "test-discord-token"
BOT_ID = "100000000000000001"
APPLICATION_ID = "100000000000000002"
GUILD_ID = "200000000000000001"
CHANNEL_ID = "200000000000000002"
#: Permission bits.
MANAGE_GUILD = 1 << 5
ADMINISTRATOR = 1 << 3
SEND_MESSAGES = 1 << 11
EPHEMERAL = 64

# Interaction callback types.
CHANNEL_MESSAGE, DEFERRED_MESSAGE, AUTOCOMPLETE_RESULT, MODAL = 4, 5, 8, 9


@dataclass(frozen=True)
class Call:
    """One request: what discord.py sent, decoded (`json` is `payload_json` for multipart)."""

    method: str
    path: str
    json: Any
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)


@dataclass(frozen=True)
class Answer:
    """One answer to an interaction: the callback, or a follow-up message."""

    kind: str  # "callback" | "followup"
    type: int  # callback type; CHANNEL_MESSAGE for a follow-up
    data: dict[str, Any]
    files: dict[str, tuple[str, bytes]]
    message_id: str

    @property
    def ephemeral(self) -> bool:
        return bool(int(self.data.get("flags") or 0) & EPHEMERAL)

    @property
    def embeds(self) -> list[dict[str, Any]]:
        return list(self.data.get("embeds") or [])

    @property
    def text(self) -> str:
        """Every title, description, field and footer of the embeds, in order."""
        out = []
        for embed in self.embeds:
            out += [embed.get("title") or "", embed.get("description") or ""]
            for f in embed.get("fields") or []:
                out += [f["name"], f["value"]]
            out.append((embed.get("footer") or {}).get("text") or "")
        return "\n".join(part for part in out if part)

    @property
    def title(self) -> str:
        return str(self.embeds[0].get("title") or "") if self.embeds else ""

    def file_text(self, name: str) -> str:
        for filename, data in self.files.values():
            if filename == name:
                return data.decode("utf-8")
        raise KeyError(f"no file {name}; files: {[n for n, _ in self.files.values()]}")

    def buttons(self) -> list[dict[str, Any]]:
        return [c for row in self.data.get("components") or []
                for c in row.get("components") or [] if c.get("type") == 2]


class FakeInteractionAPI:
    """The REST side of interactions; thread-safe; a context manager."""

    def __init__(self) -> None:
        self._calls: list[Call] = []
        self._files: dict[str, tuple[bytes, float]] = {}
        self._lock = threading.Condition()
        self._ids = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self.errors: list[Exception] = []

    def __enter__(self) -> FakeInteractionAPI:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def base_url(self) -> str:
        return self.url + API_PREFIX

    def snowflake(self) -> str:
        ms = int(time.time() * 1000) - 1_420_070_400_000
        return str((ms << 22) | next(self._ids))

    def add_file(self, name: str, data: bytes, *, delay: float = 0.0) -> str:
        """Serve `data` as an attachment; returns its URL. `delay`: seconds before answering."""
        with self._lock:
            self._files[name] = (data, delay)
        return f"{self.url}/attachments/{name}"

    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    def answers(self, interaction: dict[str, Any]) -> list[Answer]:
        """The callback and follow-ups sent for `interaction`, in order."""
        token = interaction["token"]
        webhook = f"/webhooks/{APPLICATION_ID}/{token}"
        found = []
        for call in self.calls():
            if call.path.endswith(f"/{token}/callback"):
                body = call.json or {}
                found.append(Answer("callback", int(body.get("type", 0)),
                                    dict(body.get("data") or {}), call.files,
                                    str(body.get("_message_id", ""))))
            elif call.method == "POST" and call.path.endswith(webhook):
                found.append(Answer("followup", CHANNEL_MESSAGE, dict(call.json or {}), call.files,
                                    str((call.json or {}).get("_message_id", ""))))
        return found

    def synced(self) -> list[dict[str, Any]]:
        """The commands of the last global sync."""
        puts = [c for c in self.calls() if c.method == "PUT"
                and c.path.endswith(f"/applications/{APPLICATION_ID}/commands")]
        return list(puts[-1].json) if puts else []

    # -- on handler threads -------------------------------------------------------------

    def _handle(self, method: str, path: str, call: Call) -> tuple[int, Any]:
        if method == "GET" and path.startswith("/attachments/"):
            with self._lock:
                data, delay = self._files.get(path.rsplit("/", 1)[1], (b"", -1.0))
            if delay < 0:
                return 404, {"message": "404: Not Found", "code": 0}
            time.sleep(delay)
            return 200, data
        if not path.startswith(API_PREFIX):
            return 404, {"message": "404: Not Found", "code": 0}
        route = path[len(API_PREFIX):]
        if method == "GET" and route == "/users/@me":
            return 200, _bot_user()
        if method == "GET" and route == "/oauth2/applications/@me":
            return 200, {"id": APPLICATION_ID, "name": "chatjobs", "icon": None,
                         "description": "", "bot_public": True, "bot_require_code_grant": False,
                         "verify_key": "00" * 32, "flags": 0,
                         "owner": {**_bot_user(), "id": "100000000000000003", "bot": False}}
        if method == "PUT" and re.fullmatch(r"/applications/\d+(/guilds/\d+)?/commands", route):
            commands = call.json or []
            return 200, [{**c, "id": self.snowflake(), "application_id": APPLICATION_ID,
                          "version": "1"} for c in commands]
        if method == "POST" and re.fullmatch(r"/interactions/\d+/[^/]+/callback", route):
            body = call.json or {}
            message_id = self.snowflake()
            body["_message_id"] = message_id
            interaction_id = route.split("/")[2]
            flags = int((body.get("data") or {}).get("flags") or 0)
            answer = {"interaction": {
                "id": interaction_id, "type": 2,
                "response_message_loading": body.get("type") == DEFERRED_MESSAGE,
                "response_message_ephemeral": bool(flags & EPHEMERAL)}}
            if body.get("type") in (CHANNEL_MESSAGE, DEFERRED_MESSAGE):
                answer["interaction"]["response_message_id"] = message_id
            return 200, answer
        if method == "POST" and re.fullmatch(rf"/webhooks/{APPLICATION_ID}/[^/]+", route):
            body = call.json or {}
            message_id = self.snowflake()
            body["_message_id"] = message_id
            return 200, _message(message_id, body)
        return 404, {"message": f"404: no fake for {method} {route}", "code": 0}

    def _record(self, call: Call) -> None:
        with self._lock:
            self._calls.append(call)
            self._lock.notify_all()


def _bot_user() -> dict[str, Any]:
    return {"id": BOT_ID, "username": "chatjobs", "global_name": None, "discriminator": "0",
            "avatar": None, "bot": True, "flags": 0}


def _message(message_id: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"id": message_id, "channel_id": CHANNEL_ID, "type": 0,
            "content": body.get("content") or "", "author": _bot_user(),
            "attachments": [], "embeds": body.get("embeds") or [], "mentions": [],
            "mention_roles": [], "pinned": False, "mention_everyone": False, "tts": False,
            "timestamp": "2025-01-01T00:00:00+00:00", "edited_timestamp": None,
            "flags": int(body.get("flags") or 0), "components": body.get("components") or [],
            "webhook_id": APPLICATION_ID}


def _decode(headers: dict[str, str], raw: bytes) -> tuple[Any, dict[str, tuple[str, bytes]]]:
    kind = headers.get("content-type", "")
    if kind.startswith("multipart/"):
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            f"Content-Type: {kind}\r\n\r\n".encode() + raw)
        body: Any = None
        files: dict[str, tuple[str, bytes]] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            data = cast(bytes, part.get_payload(decode=True) or b"")
            if name == "payload_json":
                body = json.loads(data)
            else:
                files[str(name)] = (str(part.get_filename()), data)
        return body, files
    if not raw:
        return None, {}
    return json.loads(raw), {}


class _Handler(BaseHTTPRequestHandler):
    fake: FakeInteractionAPI
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        path = urlsplit(self.path).path
        try:
            body, files = _decode(headers, raw)
            call = Call(self.command, path, body, files)
            self.fake._record(call)
            status, answer = self.fake._handle(self.command, path, call)
        except Exception as exc:
            self.fake.errors.append(exc)
            status, answer = 500, {"message": repr(exc), "code": 0}
        data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream" if isinstance(answer, bytes)
                         else "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve


# --- payloads ---------------------------------------------------------------------------------


def user_payload(user_id: str, name: str = "someone") -> dict[str, Any]:
    return {"id": user_id, "username": name, "global_name": None, "discriminator": "0",
            "avatar": None, "public_flags": 0}


_OPTION_TYPES = {str: 3, int: 4, bool: 5}


@dataclass(frozen=True)
class File:
    """An attachment option: served by the fake at `url`."""

    filename: str
    url: str
    size: int


@dataclass(frozen=True)
class UserOption:
    """A user option: Discord resolves it to the user (and, in a server, the member)."""

    id: str
    name: str = "ana"


@dataclass(frozen=True)
class ChannelOption:
    """A channel option: Discord resolves it to a partial channel (type 0: text, 11: thread)."""

    id: str
    name: str = "general"
    type: int = 0


class Interactions:
    """Builds interaction payloads and feeds them to `client` as its gateway would."""

    def __init__(self, client: discord.Client, fake: FakeInteractionAPI) -> None:
        self.client = client
        self.fake = fake
        self._ids = itertools.count(1)

    def _base(self, kind: int, *, user: str, permissions: int | None,
              dm: bool) -> dict[str, Any]:
        n = next(self._ids)
        payload: dict[str, Any] = {
            "id": self.fake.snowflake(), "application_id": APPLICATION_ID, "type": kind,
            "token": f"token-{n}-{time.monotonic_ns()}", "version": 1, "locale": "en-US",
            "app_permissions": str(SEND_MESSAGES), "attachment_size_limit": 10_485_760,
            "entitlements": [],
        }
        if dm:
            payload.update(
                context=1, user=user_payload(user),
                authorizing_integration_owners={"0": GUILD_ID},
                channel_id="300000000000000001",
                channel={"id": "300000000000000001", "type": 1, "flags": 0,
                         "recipients": [user_payload(user)]})
        else:
            payload.update(
                context=0, guild_id=GUILD_ID, guild_locale="en-US",
                guild={"id": GUILD_ID, "locale": "en-US", "features": []},
                authorizing_integration_owners={"0": GUILD_ID},
                channel_id=CHANNEL_ID,
                channel={"id": CHANNEL_ID, "type": 0, "guild_id": GUILD_ID, "name": "general",
                         "position": 0, "permission_overwrites": [], "nsfw": False,
                         "parent_id": None, "flags": 0},
                member={"user": user_payload(user), "roles": [], "nick": None,
                        "joined_at": "2024-01-01T00:00:00+00:00", "deaf": False, "mute": False,
                        "flags": 0, "pending": False,
                        "permissions": str(permissions if permissions is not None else 0)})
        return payload

    def command(self, group: str, sub: str | None = None, *, user: str,
                permissions: int | None = 0, dm: bool = False, focused: str | None = None,
                **options: Any) -> dict[str, Any]:
        """`/{group} {sub} option:value …` (str, int, bool, `File`, `UserOption` or
        `ChannelOption` values; None leaves one out); with `focused`, the autocomplete for
        that option."""
        payload = self._base(4 if focused else 2, user=user, permissions=permissions, dm=dm)
        resolved: dict[str, Any] = {}
        values = []
        for name, value in options.items():
            if value is None:
                continue
            if isinstance(value, File):
                attachment_id = self.fake.snowflake()
                resolved.setdefault("attachments", {})[attachment_id] = {
                    "id": attachment_id, "filename": value.filename, "size": value.size,
                    "url": value.url, "proxy_url": value.url, "content_type": "text/plain"}
                option: dict[str, Any] = {"type": 11, "name": name, "value": attachment_id}
            elif isinstance(value, UserOption):
                resolved.setdefault("users", {})[value.id] = user_payload(value.id, value.name)
                if not dm:
                    resolved.setdefault("members", {})[value.id] = {
                        "roles": [], "nick": None, "joined_at": "2024-01-01T00:00:00+00:00",
                        "flags": 0, "pending": False, "permissions": "0"}
                option = {"type": 6, "name": name, "value": value.id}
            elif isinstance(value, ChannelOption):
                resolved.setdefault("channels", {})[value.id] = {
                    "id": value.id, "name": value.name, "type": value.type,
                    "permissions": str(SEND_MESSAGES), "guild_id": GUILD_ID,
                    **({"parent_id": CHANNEL_ID, "owner_id": BOT_ID, "member_count": 1,
                        "message_count": 0, "thread_metadata": {
                        "archived": False, "auto_archive_duration": 1440,
                        "archive_timestamp": "2025-01-01T00:00:00+00:00", "locked": False}}
                       if value.type in (10, 11, 12) else {})}
                option = {"type": 7, "name": name, "value": value.id}
            else:
                option = {"type": _OPTION_TYPES[type(value)], "name": name, "value": value}
            if name == focused:
                option["focused"] = True
            values.append(option)
        data: dict[str, Any] = {"id": self.fake.snowflake(), "name": group, "type": 1}
        if sub is None:
            data["options"] = values
        else:
            data["options"] = [{"type": 1, "name": sub, "options": values}]
        if resolved:
            data["resolved"] = resolved
        payload["data"] = data
        return payload

    def modal_submit(self, modal: dict[str, Any], values: dict[str, str], *, user: str,
                     permissions: int | None = 0, dm: bool = False) -> dict[str, Any]:
        """Submit the modal (the `data` of a MODAL callback) with `values` by input custom_id;
        inputs not given are submitted with the value they were opened with."""
        payload = self._base(5, user=user, permissions=permissions, dm=dm)
        components = []
        for n, component in enumerate(modal["components"], start=1):
            inner = component.get("component")
            if component["type"] != 18 or inner is None or inner.get("type") != 4:
                continue
            custom_id = inner["custom_id"]
            value = values.get(custom_id, inner.get("value") or "")
            components.append({"type": 18, "id": n, "component": {
                "type": 4, "id": 100 + n, "custom_id": custom_id, "value": value}})
        payload["data"] = {"custom_id": modal["custom_id"], "components": components}
        return payload

    def button(self, answer: Answer, *, user: str, permissions: int | None = 0,
               index: int = 0) -> dict[str, Any]:
        """Press the `index`-th button of the message `answer` created."""
        payload = self._base(3, user=user, permissions=permissions, dm=False)
        button = answer.buttons()[index]
        payload["data"] = {"custom_id": button["custom_id"], "component_type": 2}
        payload["message"] = _message(answer.message_id, {
            "flags": EPHEMERAL, "embeds": answer.embeds,
            "components": answer.data.get("components") or []})
        return payload

    async def send(self, payload: dict[str, Any], *, timeout: float = 10.0) -> list[Answer]:
        """Dispatch `payload` as the gateway would; wait for discord.py's tasks; the answers."""
        self.client._connection.parse_interaction_create(payload)  # type: ignore[arg-type]
        await self.settle(timeout)
        assert not self.fake.errors, self.fake.errors
        return self.fake.answers(payload)

    @staticmethod
    async def settle(timeout: float = 10.0) -> None:
        """Wait until the tasks discord.py started for interactions are done."""
        deadline = time.monotonic() + timeout
        while True:
            current = asyncio.current_task()
            pending = [t for t in asyncio.all_tasks() if t is not current and not t.done()
                       and t.get_name().startswith(("CommandTree-invoker",
                                                    "discord-ui-modal-dispatch",
                                                    "discord-ui-view-dispatch"))]
            if not pending:
                return
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"interaction tasks still running: {pending}")
            await asyncio.wait(pending, timeout=left)


# --- the client under test ------------------------------------------------------------------

#: A member with Manage Server, one without, and one listed in CHATJOBS_ADMINS.
ADMIN, MEMBER, LISTED = "300000000000000010", "300000000000000011", "300000000000000012"


@dataclass
class DiscordApp:
    """The client under test, its stores, and what Discord would see."""

    client: discord.Client
    app: App
    fake: FakeInteractionAPI
    send: Interactions


@pytest_asyncio.fixture(name="discord_app")
async def discord_app_fixture(redis_url: str, redis_client: redis.Redis, tmp_path: Path,
                              monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[DiscordApp]:
    """The real client (`create_client`, which registers the app commands), logged in
    against `FakeInteractionAPI`, on the session's Redis; without an OpenAI key the
    agent uses the offline model. Test modules import this to use `discord_app`."""
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_EMBEDDING_MODEL",
                 "DISCORD_GUILD_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CHATJOBS_ADMINS", f"{LISTED},300000000000000099")
    with FakeInteractionAPI() as fake:
        # Interaction answers go through discord.py's webhook adapter, which
        # takes its URLs from Route.BASE (see the module docstring).
        monkeypatch.setattr(discord.http.Route, "BASE", fake.base_url)
        settings = load_settings(redis_url=redis_url, discord_token=TOKEN,
                                 discord_api_url=fake.url)
        rq_client = redis.Redis.from_url(redis_url)
        app = build_app(settings, url=redis_url, client=redis_client, rq_client=rq_client)
        deps = DiscordDeps(settings=settings, redis=redis_client, ingress=app.ingress,
                           contacts=app.contacts, stores=app.stores)
        client = create_client(settings, deps)
        await client.login(TOKEN)
        try:
            yield DiscordApp(client=client, app=app, fake=fake, send=Interactions(client, fake))
        finally:
            await client.close()
            rq_client.close()
        assert not fake.errors, fake.errors
