"""The real discord.py client from `create_client`, driven by dpytest's fake gateway, with
real Redis and a real RQ worker (the offline model, or the fake OpenAI server) replying
through DiscordSender over REST to the fake Discord API: the whole reply path.

dpytest stands in for the gateway only: replies never go through it, since workers
have no gateway connection; they are read from the fake REST API. The runner tests
connect the client over a real WebSocket to FakeDiscordGateway instead (discord.py's
DEFAULT_GATEWAY pointed at it): READY, MESSAGE_CREATE, and the 4014 close for a
refused Message Content intent.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import discord
import discord.ext.test as dpytest
import pytest
import redis
import yarl
from discord.ext.test import backend, factories
from discord.gateway import DiscordWebSocket

from adapters.discord import DiscordDeps, DiscordRunner, create_client
from adapters.discord.client import ChatjobsClient
from adapters.discord.events import NO_CONTENT_WARNING
from adapters.discord.normalize import conversation_id
from adapters.discord.sender import DiscordSender
from adapters.discord.split import MAX_CHARS
from bot.app import App, build_app
from config.errors import ConfigError
from config.settings import Settings
from jobs_store import keys
from jobs_store.conversations import Session
from tests.fakes.discord_rest import (
    INTENT_GUILD_MESSAGES,
    INTENT_MESSAGE_CONTENT,
    TOKEN,
    FakeDiscordAPI,
    FakeDiscordGateway,
    http_error,
)
from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.integration.agent_helpers import make_settings, work

T = TypeVar("T")
ADMINISTRATOR = 8


@pytest.fixture
def fake_discord() -> Iterator[FakeDiscordAPI]:
    with FakeDiscordAPI() as fake:
        yield fake
    assert not fake.errors, f"fake Discord API responder raised: {fake.errors!r}"


@dataclass
class Stack:
    """chatjobs as `serve` (the gateway client) and `worker` (the sender) run it."""

    core: App
    deps: DiscordDeps
    client: ChatjobsClient
    fake: FakeDiscordAPI

    def work(self) -> bool:
        """Run the queued turns on a real RQ worker (burst)."""
        return work(self.core)

    def replies(self, conversation: str) -> list[str]:
        return [t.text for t in self.core.conversations.turns(conversation)
                if t.role == "assistant"]

    def drive(self, scenario: Callable[[Gateway], Awaitable[T]]) -> T:
        """Run `scenario` against dpytest's fake gateway around the client."""
        async def run() -> T:
            gateway = await Gateway.start(self.client)
            try:
                return await scenario(gateway)
            finally:
                self.client.ws = None  # type: ignore[assignment]  # dpytest's cannot close
                await self.client.close()
        return asyncio.run(run())


class Gateway:
    """dpytest's fake Discord around the client: one guild, #TextChannel_0, member ana."""

    def __init__(self, client: ChatjobsClient) -> None:
        config = dpytest.get_config()
        self.client = client
        #: dpytest's state: its parse_* methods take gateway payloads (its stubs say otherwise).
        self.state: Any = backend.get_state()
        self.guild: discord.Guild = config.guilds[0]
        channel = config.channels[0]
        assert isinstance(channel, discord.TextChannel)
        self.channel = channel
        self.ana: discord.Member = config.members[0]
        assert client.user is not None
        self.bot: discord.ClientUser = client.user

    @classmethod
    async def start(cls, client: ChatjobsClient) -> Gateway:
        await client._async_setup_hook()  # what login does first: the client's loop
        # dpytest keeps its members in the member cache, which discord.py only fills
        # with the members intent; chatjobs does not ask for it (messages carry members).
        client._connection._intents.members = True
        client._connection.member_cache_flags = discord.MemberCacheFlags.from_intents(
            client._connection._intents)
        dpytest.configure(client, members=["ana"])
        return cls(client)

    async def say(self, content: str, *, channel: Any = None,
                  member: discord.Member | None = None) -> discord.Message:
        """A person posts (and every handler finishes, ingress included)."""
        return await dpytest.message(content, channel=channel or self.channel,
                                     member=member or self.ana)

    async def deliver(self, data: dict[str, Any]) -> None:
        """The gateway delivers a MESSAGE_CREATE payload (again, if it was before)."""
        self.state.parse_message_create(data)
        await dpytest.run_all_events()

    def payload(self, content: str, *, channel: Any = None, author: Any = None,
                **extra: Any) -> dict[str, Any]:
        channel = channel or self.channel
        make: Any = factories.make_message_dict
        data: dict[str, Any] = make(channel, author or self.ana, content=content,
                                    guild_id=self.guild.id, **extra)
        return data

    async def dm_channel(self, member: discord.Member | None = None) -> discord.DMChannel:
        return await (member or self.ana).create_dm()

    def bot_member(self, name: str = "otherbot") -> discord.Member:
        user = self.state.store_user(factories.make_user_dict(name, 2, None, bot=True))
        member: discord.Member = backend.make_member(user, self.guild)
        return member

    def thread(self, *, owner: int) -> discord.Thread:
        thread_id = factories.make_id()
        self.state.parse_thread_create({
            "id": thread_id, "guild_id": self.guild.id, "parent_id": self.channel.id,
            "owner_id": owner, "name": "help", "type": 11, "member_count": 1,
            "message_count": 0, "thread_metadata": {
                "archived": False, "auto_archive_duration": 1440, "locked": False,
                "archive_timestamp": "2024-01-01T00:00:00+00:00"}})
        thread = self.guild.get_thread(thread_id)
        assert thread is not None
        return thread

    def conversation(self, channel: Any = None, thread: Any = None) -> str:
        return conversation_id(str(self.guild.id), str((channel or self.channel).id),
                               str(thread.id) if thread is not None else "")


def discord_settings(fake: FakeDiscordAPI, openai: FakeOpenAI | None = None,
                     **overrides: Any) -> Settings:
    return make_settings(openai, **({"discord_token": TOKEN, "discord_api_url": fake.url}
                                    | overrides))


def build_stack(redis_url: str, client: redis.Redis, fake: FakeDiscordAPI,
                settings: Settings, closers: list[Callable[[], None]]) -> Stack:
    sender = DiscordSender.from_settings(settings, client)
    rq_client = redis.Redis.from_url(redis_url)
    closers += [sender.close, rq_client.close]
    core = build_app(settings, url=redis_url, client=client, rq_client=rq_client,
                     senders={"discord": sender})
    deps = DiscordDeps(settings=settings, redis=client, ingress=core.ingress,
                       contacts=core.contacts, stores=core.stores)
    return Stack(core=core, deps=deps, client=create_client(settings, deps), fake=fake)


@pytest.fixture
def stacks(redis_url: str, redis_client: redis.Redis,
           fake_discord: FakeDiscordAPI) -> Iterator[Callable[..., Stack]]:
    """A factory: `stacks(openai=None, **settings)` -> a Stack; closed at teardown."""
    closers: list[Callable[[], None]] = []

    def make(openai: FakeOpenAI | None = None, **overrides: Any) -> Stack:
        settings = discord_settings(fake_discord, openai, **overrides)
        return build_stack(redis_url, redis_client, fake_discord, settings, closers)

    yield make
    for close in closers:
        close()


@pytest.fixture
def stack(stacks: Callable[..., Stack]) -> Stack:
    return stacks()


# --- the reply path -------------------------------------------------------------------------


def test_a_mention_in_a_guild_channel_gets_one_reply(stack: Stack) -> None:
    async def scenario(gw: Gateway) -> tuple[discord.Message, str]:
        message = await gw.say(f"<@{gw.bot.id}> I forgot my password")
        return message, gw.conversation()

    message, conversation = stack.drive(scenario)
    assert stack.work()

    [reply] = stack.replies(conversation)
    [sent] = stack.fake.messages(str(message.channel.id))
    assert sent["content"] == reply
    assert sent["message_reference"]["message_id"] == str(message.id)
    assert stack.fake.typing(str(message.channel.id))
    [turn] = [t for t in stack.core.conversations.turns(conversation) if t.role == "user"]
    assert (turn.text, turn.message_id) == ("I forgot my password", str(message.id))
    assert message.guild is not None
    contact = stack.core.contacts.get(f"discord:{message.guild.id}:{message.author.id}")
    assert contact is not None
    assert (contact.display_name, contact.role) == ("ana_0_nick", "member")


def test_a_dm_gets_one_reply_in_the_dm(stack: Stack) -> None:
    async def scenario(gw: Gateway) -> discord.Message:
        return await gw.say("hello, can you help?", channel=await gw.dm_channel())

    message = stack.drive(scenario)
    stack.work()

    conversation = conversation_id("dm", str(message.channel.id))
    [reply] = stack.replies(conversation)
    [sent] = stack.fake.messages()
    assert (sent["channel_id"], sent["content"]) == (str(message.channel.id), reply)
    assert "message_reference" not in sent
    assert stack.core.contacts.get(f"discord:dm:{message.author.id}") is not None


def test_bots_get_no_reply_the_bot_itself_included(stack: Stack) -> None:
    async def scenario(gw: Gateway) -> None:
        other = gw.bot_member()
        await gw.say(f"<@{gw.bot.id}> beep boop", member=other)
        await gw.say("talking to myself", channel=await gw.dm_channel(other), member=other)
        await gw.deliver(gw.payload(f"<@{gw.bot.id}> my own echo", author=gw.bot))

    stack.drive(scenario)
    assert not stack.work()
    assert stack.fake.messages() == []
    assert not stack.core.client.keys("cj:seen:*")


def test_the_same_message_delivered_twice_gets_one_reply(stack: Stack) -> None:
    async def scenario(gw: Gateway) -> str:
        data = gw.payload(f"<@{gw.bot.id}> help me", mentions=[gw.bot])
        await gw.deliver(data)
        await gw.deliver(data)  # a resumed gateway session replays it
        return gw.conversation()

    conversation = stack.drive(scenario)
    stack.work()
    assert len(stack.fake.messages()) == 1
    assert stack.core.conversations.state(conversation).received == 1


def test_a_reply_longer_than_2000_characters_arrives_as_several_messages_in_order(
        stacks: Callable[..., Stack], fake_openai: FakeOpenAI) -> None:
    paragraphs = [f"Step {i}: " + "do the next useful thing carefully. " * 15 for i in range(10)]
    long_reply = "\n\n".join(p.strip() for p in paragraphs)  # ~5,500 characters
    fake_openai.script(Reply(long_reply))
    stack = stacks(fake_openai)

    async def scenario(gw: Gateway) -> discord.Message:
        return await gw.say(f"<@{gw.bot.id}> walk me through it")

    message = stack.drive(scenario)
    stack.work()

    sent = stack.fake.messages(str(message.channel.id))
    assert len(sent) == 4
    assert all(len(m["content"]) <= MAX_CHARS for m in sent)
    assert "\n\n".join(m["content"] for m in sent) == long_reply
    assert [m.get("message_reference", {}).get("message_id") for m in sent] == \
        [str(message.id), None, None, None]


def watch_key(redis_url: str, key: str) -> tuple[Callable[[str], None], Callable[[], list[str]]]:
    """Record, with Redis's MONITOR, the commands on `key` between markers: `mark(name)`
    starts a stretch; `stop()` gives "name: COMMAND" for each command in each stretch."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    seen: list[str] = []
    ready = threading.Event()

    def listen() -> None:
        stretch = ""
        with client.monitor() as monitor:
            ready.set()
            for entry in monitor.listen():
                command = entry["command"]
                if command.startswith("GET watch-mark:"):
                    stretch = command.removeprefix("GET watch-mark:")
                    if stretch == "end":
                        return
                elif key in command.split():
                    seen.append(f"{stretch}: {command.split()[0]}")

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    ready.wait(5)

    def mark(name: str) -> None:
        client.get(f"watch-mark:{name}")

    def stop() -> list[str]:
        mark("end")
        thread.join(10)
        client.close()
        return seen

    mark("start")
    return mark, stop


def test_a_persons_next_messages_leave_their_contact_alone_until_their_name_changes(
        stack: Stack, redis_url: str) -> None:
    async def scenario(gw: Gateway) -> tuple[str, list[str]]:
        contact_id = f"discord:{gw.guild.id}:{gw.ana.id}"
        await gw.say(f"<@{gw.bot.id}> first")
        stored = stack.core.contacts.get(contact_id)
        assert stored is not None and stored.display_name == "ana_0_nick"
        # An admin's note on the person, made after their first message.
        stack.core.contacts.save(stored.model_copy(update={"meta": {"plan": "trial"}}))
        mark, stop = watch_key(redis_url, keys.contact(contact_id))
        await gw.say(f"<@{gw.bot.id}> second")
        await gw.say(f"<@{gw.bot.id}> third")
        mark("renamed")
        gw.ana.nick = "Ana B."
        await gw.say(f"<@{gw.bot.id}> fourth")
        return contact_id, stop()

    contact_id, commands = stack.drive(scenario)

    assert [c for c in commands if c.startswith("start:")] == [], "same name: no reads"
    assert {"renamed: GET", "renamed: SET"} <= set(commands), commands
    contact = stack.core.contacts.get(contact_id)
    assert contact is not None
    assert (contact.display_name, contact.meta) == ("Ana B.", {"plan": "trial"})


# --- what is answered -----------------------------------------------------------------------


def test_edits_system_messages_and_plain_chatter_get_no_reply(stack: Stack) -> None:
    async def scenario(gw: Gateway) -> None:
        message = await gw.say("just chatting, no mention")
        edited = factories.dict_from_message(message)
        edited.update(channel_id=gw.channel.id, guild_id=gw.guild.id,
                      content=f"<@{gw.bot.id}> edited to mention you",
                      edited_timestamp="2024-01-01T00:01:00+00:00",
                      mentions=[{"id": gw.bot.id, "username": gw.bot.name, "bot": True}])
        gw.state.parse_message_update(edited)
        await dpytest.run_all_events()
        await gw.deliver(gw.payload("", type=7))  # ana joined the server
        await gw.deliver(gw.payload("", type=6))  # a message was pinned
        await gw.deliver(gw.payload(f"<@{gw.bot.id}>", type=18))  # thread created

    stack.drive(scenario)
    assert not stack.work()
    assert stack.fake.messages() == []
    assert not stack.core.client.keys("cj:seen:*")


def test_replies_to_the_bot_are_answered_without_a_mention(stack: Stack) -> None:
    async def scenario(gw: Gateway) -> str:
        mine = gw.payload("How can I help?", author=gw.bot)
        await gw.deliver(mine)
        reply = gw.payload("with my invoice", type=19)
        reply["message_reference"] = {"message_id": mine["id"], "channel_id": gw.channel.id,
                                      "guild_id": gw.guild.id}
        reply["referenced_message"] = mine
        await gw.deliver(reply)
        return gw.conversation()

    conversation = stack.drive(scenario)
    stack.work()
    assert len(stack.replies(conversation)) == 1 and len(stack.fake.messages()) == 1


def test_threads_the_bot_takes_part_in_are_answered_without_a_mention(stack: Stack) -> None:
    async def scenario(gw: Gateway) -> tuple[str, str, str]:
        joined = gw.thread(owner=gw.ana.id)
        await gw.deliver(gw.payload(f"<@{gw.bot.id}> start here", channel=joined,
                                    mentions=[gw.bot]))
        await gw.deliver(gw.payload("and then?", channel=joined))
        other = gw.thread(owner=gw.ana.id)
        await gw.deliver(gw.payload("a thread without the bot", channel=other))
        started = gw.thread(owner=gw.bot.id)
        await gw.deliver(gw.payload("in the bot's own thread", channel=started))
        return (gw.conversation(thread=joined), gw.conversation(thread=other),
                gw.conversation(thread=started))

    joined, other, started = stack.drive(scenario)
    stack.work()
    assert stack.core.conversations.state(joined).received == 2
    assert stack.core.conversations.state(other).received == 0
    assert stack.core.conversations.state(started).received == 1
    thread_of = {conversation.rsplit(":", 1)[1] for conversation in (joined, started)}
    assert {m["channel_id"] for m in stack.fake.messages()} == thread_of
    assert all("message_reference" not in m for m in stack.fake.messages())


def test_a_channel_message_inside_a_session_window_is_taken(stack: Stack) -> None:
    async def scenario(gw: Gateway) -> str:
        await gw.say("before the window")
        stack.core.conversations.open_session(gw.conversation(), Session(
            task="task_1", execution="exec_1", until=datetime.now(UTC) + timedelta(hours=1)))
        await gw.say("thanks, that worked")
        stack.core.conversations.close_session(gw.conversation())
        await gw.say("after the window")
        return gw.conversation()

    conversation = stack.drive(scenario)
    assert stack.core.conversations.state(conversation).received == 1
    texts = [t.text for t in stack.core.conversations.turns(conversation)]
    assert texts == ["thanks, that worked"]


def test_roles_come_from_permissions_and_ownership(stack: Stack) -> None:
    async def scenario(gw: Gateway) -> tuple[str, str]:
        admins = backend.make_role("admins", gw.guild, permissions=ADMINISTRATOR)
        await dpytest.add_role(gw.ana, admins)
        await gw.say(f"<@{gw.bot.id}> as an admin")
        owner = await dpytest.member_join(gw.guild, name="olga")
        gw.guild.owner_id = owner.id
        await gw.say(f"<@{gw.bot.id}> as the owner", member=owner)
        return f"discord:{gw.guild.id}:{gw.ana.id}", f"discord:{gw.guild.id}:{owner.id}"

    ana, olga = stack.drive(scenario)
    roles = [stack.core.contacts.get(c) for c in (ana, olga)]
    assert [c.role if c else None for c in roles] == ["admin", "owner"]


def test_the_empty_content_warning_is_logged_once(
        stack: Stack, caplog: pytest.LogCaptureFixture) -> None:
    async def scenario(gw: Gateway) -> None:
        await gw.say("")
        await gw.say("")
        await gw.say("", channel=await gw.dm_channel())  # DMs always have their text

    with caplog.at_level(logging.WARNING, logger="adapters.discord.events"):
        stack.drive(scenario)
    assert [r.getMessage() for r in caplog.records if r.name == "adapters.discord.events"] \
        == [NO_CONTENT_WARNING]
    assert "Message Content" in NO_CONTENT_WARNING


# --- starting up ----------------------------------------------------------------------------


def test_login_syncs_the_app_commands_to_the_guild_at_once(stacks: Callable[..., Stack]) -> None:
    stack = stacks(discord_guild_id=200000000000000001)

    async def login() -> None:
        async with stack.client:
            await stack.client.login(TOKEN)

    asyncio.run(login())
    synced = stack.fake.commands("200000000000000001")
    assert synced is not None
    assert sorted(c["name"] for c in synced) == \
        sorted(c.name for c in stack.client.tree.get_commands())
    assert stack.fake.commands() is None
    assert [c.route for c in stack.fake.calls()][:2] == ["GET /users/@me",
                                                         "GET /oauth2/applications/@me"]


def test_login_syncs_globally_without_a_guild(stack: Stack) -> None:
    async def login() -> None:
        async with stack.client:
            await stack.client.login(TOKEN)

    asyncio.run(login())
    assert stack.fake.commands() is not None


def test_a_refused_command_sync_is_logged_and_login_goes_on(
        stacks: Callable[..., Stack], caplog: pytest.LogCaptureFixture) -> None:
    stack = stacks(discord_guild_id=200000000000000001)
    stack.fake.script("PUT /applications/{application_id}/guilds/{guild_id}/commands",
                      http_error(403, "Missing Access", 50001))

    async def login() -> None:
        async with stack.client:
            await stack.client.login(TOKEN)

    with caplog.at_level(logging.ERROR, logger="adapters.discord.client"):
        asyncio.run(login())
    assert "could not sync the app commands to DISCORD_GUILD_ID 200000000000000001" \
        in caplog.text
    assert "403" in caplog.text


def test_a_refused_token_stops_the_runner_with_a_config_error(
        stacks: Callable[..., Stack]) -> None:
    stack = stacks(discord_token="not-the-token")
    stopped: list[bool] = []
    runner = DiscordRunner(stack.client, stack.core.settings, on_stop=lambda: stopped.append(True))
    with pytest.raises(ConfigError, match="DISCORD_TOKEN: Discord refused it"):
        runner.start(timeout=30)
    runner.join(10)
    assert stack.client.is_closed() and stopped == []


def test_an_unreachable_api_url_stops_the_runner_with_a_config_error(
        stacks: Callable[..., Stack]) -> None:
    stack = stacks(discord_api_url="http://127.0.0.1:9")
    runner = DiscordRunner(stack.client, stack.core.settings)
    with pytest.raises(ConfigError, match="DISCORD_API_URL"):
        runner.start(timeout=30)


def test_the_client_needs_a_token(stack: Stack) -> None:
    settings = stack.core.settings.model_copy(update={"discord_token": None})
    with pytest.raises(ConfigError, match="DISCORD_TOKEN"):
        create_client(settings, stack.deps)


# --- over a real WebSocket -------------------------------------------------------------------


@pytest.fixture
def gateway(fake_discord: FakeDiscordAPI,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., FakeDiscordGateway]]:
    """A factory of started fake gateways that discord.py connects to (stopped at teardown)."""
    started: list[FakeDiscordGateway] = []

    def start(**kwargs: Any) -> FakeDiscordGateway:
        fake = FakeDiscordGateway(fake_discord, **kwargs).start()
        started.append(fake)
        monkeypatch.setattr(DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(fake.url))
        return fake

    yield start
    for fake in started:
        fake.stop()


def gateway_message(fake: FakeDiscordAPI, gw: FakeDiscordGateway, content: str,
                    **extra: Any) -> dict[str, Any]:
    """MESSAGE_CREATE as Discord sends it, from user 400000000000000001 ("ana")."""
    return {"id": fake.snowflake(), "channel_id": gw.channel_id, "guild_id": gw.guild_id,
            "author": {"id": "400000000000000001", "username": "ana", "global_name": "Ana",
                       "discriminator": "0", "avatar": None},
            "member": {"roles": [], "joined_at": "2023-05-01T00:00:00+00:00", "nick": None,
                       "deaf": False, "mute": False, "flags": 0},
            "content": content, "timestamp": "2024-01-01T00:00:00+00:00",
            "edited_timestamp": None, "tts": False, "mention_everyone": False,
            "mentions": [], "mention_roles": [], "attachments": [], "embeds": [],
            "pinned": False, "type": 0, "flags": 0, **extra}


def test_the_runner_serves_gateway_messages_until_stopped(
        stack: Stack, gateway: Callable[..., FakeDiscordGateway]) -> None:
    gw = gateway()
    runner = DiscordRunner(stack.client, stack.core.settings)
    runner.start(timeout=30)
    try:
        identify = gw.wait_for_identify()
        assert identify["intents"] & INTENT_MESSAGE_CONTENT
        assert identify["intents"] & INTENT_GUILD_MESSAGES
        gw.wait_for_ready()
        bot = {"id": stack.fake.bot_id, "username": stack.fake.bot_name, "bot": True,
               "discriminator": "0", "avatar": None}
        message = gateway_message(stack.fake, gw, f"<@{stack.fake.bot_id}> hello",
                                  mentions=[bot])
        gw.dispatch("MESSAGE_CREATE", message)
        gw.dispatch("MESSAGE_CREATE", message)  # replayed
        conversation = conversation_id(gw.guild_id, gw.channel_id)
        deadline = time.monotonic() + 10
        while stack.core.conversations.state(conversation).received < 1:
            assert time.monotonic() < deadline, "the gateway message never reached ingress"
            time.sleep(0.02)
    finally:
        runner.stop()
    assert stack.client.is_closed()
    runner.raise_error()

    stack.work()
    [sent] = stack.fake.messages(gw.channel_id)
    assert sent["message_reference"]["message_id"] == message["id"]
    contact = stack.core.contacts.get(f"discord:{gw.guild_id}:400000000000000001")
    assert contact is not None and contact.display_name == "Ana"
    assert contact.first_seen.isoformat().startswith("2023-05-01")


def test_a_refused_message_content_intent_stops_the_runner_saying_how_to_turn_it_on(
        stack: Stack, gateway: Callable[..., FakeDiscordGateway]) -> None:
    gateway(refuse_intents=True)
    stopped: list[bool] = []
    runner = DiscordRunner(stack.client, stack.core.settings,
                           on_stop=lambda: stopped.append(True))
    runner.start(timeout=30)
    with pytest.raises(ConfigError, match="Message Content Intent"):
        runner.wait()
    assert stopped == [True]

