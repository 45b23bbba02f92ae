"""The Discord client: `DiscordDeps`, `create_client`, and `DiscordRunner` to run it.

`create_client(settings, deps)` builds a `ChatjobsClient` (a `discord.Client`)
with its message handler and, when `adapters.discord.commands` exists, the app
commands that module's `register_commands(tree, deps)` adds to `client.tree`.
It is not connected: tests drive it with dpytest; `DiscordRunner` runs it.

- Intents: the defaults plus Message Content, a privileged intent that must
  be switched on in the Developer Portal (README, "Run it in your Discord
  server"); without it Discord closes the gateway (4014) and the runner stops
  with a `ConfigError` saying so.
- `setup_hook` (after login, before the gateway) syncs the app commands: to
  the guild `DISCORD_GUILD_ID` when set (they show at once there), else
  globally (Discord may take up to an hour to show new global commands).
- REST, the gateway client's included, goes to `DISCORD_API_URL` when set
  (see `adapters.discord.sender.RebasedHTTPClient`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import discord
from discord import app_commands
from redis import Redis

from adapters.discord.events import BotIdentity, DiscordInbound
from adapters.discord.members import DiscordMembers
from adapters.discord.sender import BotThreads, RebasedHTTPClient, api_base
from bot.commands import Stores
from bot.ingress import Ingress
from config.errors import ChatjobsError, ConfigError
from config.settings import Settings
from jobs_store import ContactStore

log = logging.getLogger(__name__)

#: What the bot's messages may ping, unless a send says otherwise.
ALLOWED_MENTIONS = discord.AllowedMentions(everyone=False, roles=False, users=True,
                                           replied_user=True)
INTENTS_HELP = (
    "DISCORD_TOKEN: Discord refused the Message Content intent. Turn it on in the Developer "
    "Portal (your application → Bot → Privileged Gateway Intents → Message Content Intent), "
    "then start again; see the README, 'Run it in your Discord server'."
)


class DiscordStopped(ChatjobsError):
    """The Discord client stopped on its own (not a configuration problem)."""


@dataclass(frozen=True, kw_only=True)
class DiscordDeps:
    """What the Discord client's handlers (messages, app commands, modals) work with.

    `adapters.discord.commands.register_commands(tree, deps)` is called with
    the client's `app_commands.CommandTree` (`tree.client` is the client).
    """

    settings: Settings
    #: Text-mode client (decode_responses=True) for our own keys.
    redis: Redis
    ingress: Ingress
    contacts: ContactStore
    #: The repositories admin commands work on.
    stores: Stores

    @property
    def admins(self) -> frozenset[str]:
        """User ids listed in CHATJOBS_ADMINS."""
        return self.settings.chatjobs_admins

    @functools.cached_property
    def members(self) -> DiscordMembers:
        """Contacts from members (`adapters.discord.members` also has `is_admin`)."""
        return DiscordMembers(self.contacts)


class ChatjobsClient(discord.Client):
    """The gateway client: messages to ingress, app commands on `tree`."""

    def __init__(self, settings: Settings, deps: DiscordDeps, *,
                 session_open: Callable[[str], bool] | None = None) -> None:
        intents = discord.Intents.default()
        intents.message_content = True
        super().__init__(intents=intents, allowed_mentions=ALLOWED_MENTIONS)
        # Every REST call of the client to DISCORD_API_URL. The state and the
        # command tree keep their own reference to the HTTP client, so it is
        # replaced before the tree is made, on both.
        self.http = RebasedHTTPClient(self.http.loop, api_base=api_base(settings.discord_api_url))
        self._connection.http = self.http
        self.settings = settings
        self.deps = deps
        self.tree: app_commands.CommandTree[ChatjobsClient] = app_commands.CommandTree(self)
        self.inbound = DiscordInbound(ingress=deps.ingress, members=deps.members,
                                      threads=BotThreads(deps.redis), session_open=session_open)

    async def setup_hook(self) -> None:
        """Sync the app commands: to DISCORD_GUILD_ID at once, else globally.

        A failed sync is logged, not raised: messages are still answered.
        """
        guild_id = self.settings.discord_guild_id
        try:
            if guild_id is not None:
                guild = discord.Object(id=guild_id)
                self.tree.copy_global_to(guild=guild)
                synced = await self.tree.sync(guild=guild)
                log.info("synced %d app commands to guild %s", len(synced), guild_id)
            else:
                synced = await self.tree.sync()
                log.info("synced %d app commands globally (Discord may take up to an hour "
                         "to show new ones; DISCORD_GUILD_ID shows them in one server at once)",
                         len(synced))
        except discord.HTTPException as exc:
            where = f"to DISCORD_GUILD_ID {guild_id} (is the bot in that server, invited with " \
                    "the applications.commands scope?)" if guild_id is not None else "globally"
            log.error("could not sync the app commands %s: %s %s; /jobs and /bots may be "
                      "missing or out of date", where, exc.status, exc.text)

    async def on_ready(self) -> None:
        log.info("connected to Discord as %s in %d servers", self.user,
                 len(self.guilds))

    async def on_message(self, message: discord.Message) -> None:
        """Hand the message to ingress (off the loop) when the agent should answer it."""
        if self.user is None:
            return
        role = message.guild.self_role if message.guild is not None else None
        await self.inbound.on_message(
            message, bot=BotIdentity(user_id=str(self.user.id),
                                     role_id=str(role.id) if role is not None else None))


def create_client(settings: Settings, deps: DiscordDeps) -> ChatjobsClient:
    """The configured, unconnected client; raises `ConfigError` without DISCORD_TOKEN.

    `deps` is required: building the stores and ingress (and the embedded
    Redis they may need) is the entry point's work, see `bot.app.open_app`.
    """
    if settings.discord_token is None:
        raise ConfigError("DISCORD_TOKEN: required to run the Discord client")
    client = ChatjobsClient(settings, deps)
    register = _commands_hook()
    if register is not None:
        register(client.tree, deps)
    return client


def _commands_hook() -> Callable[[app_commands.CommandTree[Any], DiscordDeps], None] | None:
    """`adapters.discord.commands.register_commands` when that module exists."""
    try:
        from adapters.discord.commands import register_commands  # type: ignore[import-not-found,unused-ignore]
    except ModuleNotFoundError as exc:
        if exc.name != "adapters.discord.commands":
            raise  # the module exists but something it imports is missing
        log.warning("adapters.discord.commands is missing: no app commands")
        return None
    hook: Callable[[app_commands.CommandTree[Any], DiscordDeps], None] = register_commands
    return hook


class DiscordRunner:
    """Runs a client on its own event loop in a daemon thread, beside other servers.

        runner = DiscordRunner(client, settings, on_stop=server.shutdown)
        runner.start()          # returns once logged in and commands synced
        ...                     # e.g. Slack's serve_forever() on the main thread
        runner.stop()
        runner.raise_error()    # why the client stopped on its own, if it did

    `on_stop` is called from the runner's thread, without blocking it is
    best, when a client that had started stops on its own: a refused intent,
    an unrecoverable gateway close, or a crash.
    """

    def __init__(self, client: discord.Client, settings: Settings, *,
                 on_stop: Callable[[], None] | None = None) -> None:
        if settings.discord_token is None:
            raise ConfigError("DISCORD_TOKEN: required to run the Discord client")
        self._client = client
        self._token = settings.discord_token.get_secret_value()
        self._api = api_base(settings.discord_api_url)
        self._on_stop = on_stop
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._logged_in: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._stopping = False
        #: Why the client stopped on its own (None while running or after `stop`).
        self.error: ChatjobsError | None = None

    def start(self, timeout: float = 60.0) -> None:
        """Start the client; return once it logged in and synced its commands.

        Raises `ConfigError` for a token Discord refuses or a Discord it cannot
        reach (DISCORD_API_URL), and then nothing is left running.
        """
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="discord-gateway", daemon=True)
        self._thread.start()
        try:
            self._logged_in.result(timeout)
        except concurrent.futures.TimeoutError:
            self.stop()
            raise ConfigError(f"DISCORD_API_URL: no answer from Discord at {self._api} "
                              f"within {timeout:.0f} s") from None
        except ChatjobsError:
            self.join(10.0)
            raise

    def wait(self) -> None:
        """Block until the client stops; raise why if it stopped on its own.

        `ConfigError` for a refused intent; `DiscordStopped` for anything else.
        """
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(0.5)  # in slices, so Ctrl-C and SIGTERM get through
        self.raise_error()

    def stop(self, timeout: float = 10.0) -> None:
        """Close the connection and end the thread."""
        self._stopping = True
        loop = self._loop
        if loop is not None and not loop.is_closed() and self._thread is not None \
                and self._thread.is_alive():
            future = asyncio.run_coroutine_threadsafe(self._client.close(), loop)
            try:
                future.result(timeout)
            except Exception:
                log.warning("the Discord client did not close cleanly", exc_info=True)
        self.join(timeout)

    def join(self, timeout: float) -> None:
        """Wait for the runner's thread to end."""
        if self._thread is not None:
            self._thread.join(timeout)

    def raise_error(self) -> None:
        """Raise why the client stopped on its own, if it did."""
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        assert self._loop is not None
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._main())
        finally:
            # As asyncio.run ends: cancel what the client left (e.g. its ready task).
            pending = asyncio.all_tasks(self._loop)
            for task in pending:
                task.cancel()
            self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()
            started = self._logged_in.done() and self._logged_in.exception() is None
            if not self._logged_in.done():
                self._logged_in.set_result(None)
            if started and self.error is not None and self._on_stop is not None:
                self._on_stop()

    async def _main(self) -> None:
        client = self._client
        try:
            async with client:
                try:
                    await client.login(self._token)
                except discord.LoginFailure as exc:
                    raise ConfigError("DISCORD_TOKEN: Discord refused it (401)") from exc
                except (discord.HTTPException, OSError) as exc:
                    raise ConfigError(f"DISCORD_API_URL: could not log in to Discord at "
                                      f"{self._api} ({exc!r})") from exc
                self._logged_in.set_result(None)
                await client.connect(reconnect=True)
        except ConfigError as exc:
            self._fail(exc)
        except discord.PrivilegedIntentsRequired as exc:
            self._fail(ConfigError(INTENTS_HELP), exc)
        except Exception as exc:
            if not self._stopping:
                log.exception("the Discord client stopped")
                self._fail(DiscordStopped(f"Discord: the gateway connection failed ({exc!r})"),
                           exc)

    def _fail(self, error: ChatjobsError, cause: BaseException | None = None) -> None:
        if cause is not None:
            error.__cause__ = cause
        self.error = error
        if not self._logged_in.done():
            self._logged_in.set_exception(error)
        else:
            log.error("%s", error)
