"""The console: a terminal as a chat platform, for trying chatjobs locally.

It is a real adapter: each line becomes an `IncomingMessage` (platform
`console`, one DM conversation per user name) handed to ingress; the agent's
reply comes back through `ConsoleSender`, which any worker process can use:
it pushes to a Redis list the console waits on. Lines starting with `/` are
admin commands in the same grammar as Slack and Discord (`/jobs …`,
`/bots …`). The person at the terminal is the operator, so they are an admin.
"""

from __future__ import annotations

import getpass
import logging
import secrets
import time
from collections.abc import Callable
from typing import TextIO

import redis

from bot.commands import Result
from bot.commands.render import to_text
from bot.models import IncomingMessage
from jobs_store.keys import PREFIX

log = logging.getLogger(__name__)

WORKSPACE = "local"
#: Replies wait this long for the console to read them.
_OUTBOX_TTL_S = 3600


def dm_channel(user: str) -> str:
    """The console channel of a user's conversation: one DM per user name."""
    return f"dm-{user}"


def dm_conversation_id(*, user: str, workspace: str = WORKSPACE) -> str:
    """The id of a user's console conversation, as their typed lines get it."""
    return f"console:{workspace or WORKSPACE}:{dm_channel(user)}:"


def outbox(conversation_id: str) -> str:
    """The Redis list a console conversation's replies go to."""
    return f"{PREFIX}:console:outbox:{conversation_id}"


class ConsoleSender:
    """Delivers replies and posts to the console (the `Sender` port)."""

    platform = "console"

    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    def reply(self, *, conversation_id: str, text: str) -> None:
        self._push(outbox(conversation_id), text)

    def post(self, *, channel: str, text: str) -> None:
        # The console has no channels: posts show in every console conversation's
        # window as a note, so the operator sees escalations too.
        self._push(outbox("posts"), f"[posted to {channel}] {text}")

    def direct(self, *, workspace: str, user: str) -> str:
        """The user's console conversation: the one the person at the terminal types into.

        The console has one workspace; an empty `workspace` means it.
        """
        return dm_conversation_id(user=user, workspace=workspace)

    def channel(self, *, workspace: str, channel: str) -> str:
        """A console "channel": a conversation of its own; its messages go to the posts
        every console window shows."""
        return f"console:{workspace or WORKSPACE}:{channel}:"

    def working(self, *, conversation_id: str, message_id: str, active: bool) -> None:
        """The console shows nothing while the agent works: the prompt waits."""

    def _push(self, key: str, text: str) -> None:
        with self._redis.pipeline(transaction=True) as pipe:
            pipe.rpush(key, text)
            pipe.expire(key, _OUTBOX_TTL_S)
            pipe.execute()


def unread(client: redis.Redis, conversation_id: str) -> list[str]:
    """Take every message waiting for a console conversation (e.g. a task's, sent
    while the person was not typing), oldest first."""
    with client.pipeline(transaction=True) as pipe:
        pipe.lrange(outbox(conversation_id), 0, -1)
        pipe.delete(outbox(conversation_id))
        waiting, _ = pipe.execute()
    return [str(text) for text in waiting]


def wait_for_reply(client: redis.Redis, conversation_id: str, *, timeout: float) -> str | None:
    """The next reply to a console conversation, with any posts made meanwhile before it.

    None when nothing came within `timeout` seconds. It waits in one-second
    slices, well inside the client's socket timeout, however slow the model.
    """
    deadline = time.monotonic() + timeout
    notes: list[str] = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return "\n".join(notes) or None
        found = client.blpop([outbox(conversation_id), outbox("posts")],
                             timeout=min(1.0, max(left, 0.01)))
        if found is None:
            continue
        key, text = str(found[0]), str(found[1])
        if key == outbox(conversation_id):
            return "\n".join([*notes, text])
        notes.append(text)


_HELP = """\
Type a message to talk to the agent. Commands:
  /jobs …   manage the job library (/jobs help)
  /bots …   manage bots (/bots help)
  /tasks …  schedule tasks (/tasks help)
  /help     this help
  /quit     leave (Ctrl-D works too)"""


class ConsoleAdapter:
    """Reads lines, hands messages and commands to the core, prints answers."""

    def __init__(
        self,
        *,
        respond: Callable[[IncomingMessage], str],
        run_command: Callable[[str, str], Result],
        stdin: TextIO,
        stdout: TextIO,
        user: str | None = None,
        news: Callable[[str], list[str]] | None = None,
    ) -> None:
        self.user = user or getpass.getuser()
        #: Messages that came to a conversation on their own (a task's), unread.
        self._news = news or (lambda conversation_id: [])
        self._respond = respond
        self._run_command = run_command
        self._in = stdin
        self._out = stdout
        self._session = secrets.token_hex(3)
        self._count = 0

    def normalize(self, line: str) -> IncomingMessage:
        """One typed line as an `IncomingMessage`."""
        self._count += 1
        return IncomingMessage(
            platform="console",
            workspace=WORKSPACE,
            channel=dm_channel(self.user),
            user=self.user,
            user_name=self.user,
            text=line,
            message_id=f"{self._session}-{self._count}",
            mentions_bot=True,
            is_dm=True,
            raw={"line": line},
        )

    def run(self, banner: str) -> None:
        """The read-answer loop, until /quit or end of input."""
        self._say(banner)
        interactive = self._in.isatty()
        conversation_id = dm_conversation_id(user=self.user)
        while True:
            for text in self._news(conversation_id):
                self._say(text)
            if interactive:
                self._out.write("you> ")
                self._out.flush()
            line = self._in.readline()
            if not line:
                break
            line = line.strip()
            if not line:  # Enter on its own: look for news
                continue
            if line in ("/quit", "/exit"):
                break
            self._say(self.handle(line))
        self._say("Bye.")

    def handle(self, line: str) -> str:
        """The answer to one line: a command result or the agent's reply."""
        if line.startswith("/"):
            group, _, rest = line[1:].partition(" ")
            if group in ("help", "?"):
                return _HELP
            return to_text(self._run_command(group, rest))
        return self._respond(self.normalize(line))

    def _say(self, text: str) -> None:
        self._out.write(text.rstrip("\n") + "\n")
        self._out.flush()
