"""The console: a terminal as a chat platform, for trying chatjobs locally.

It is a real adapter: each line becomes an `IncomingMessage` (platform
`console`, one DM conversation per user name), replies are rendered as
plain text, and lines starting with `/` are admin commands in the same
grammar as Slack and Discord (`/jobs …`, `/bots …`). The person at the
terminal is the operator, so they are an admin.
"""

from __future__ import annotations

import getpass
import logging
import secrets
from collections.abc import Callable
from typing import TextIO

from bot.commands import Result
from bot.commands.render import to_text
from bot.models import IncomingMessage

log = logging.getLogger(__name__)

WORKSPACE = "local"
_HELP = """\
Type a message to talk to the agent. Commands:
  /jobs …   manage the job library (/jobs help)
  /bots …   manage bots (/bots help)
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
    ) -> None:
        self.user = user or getpass.getuser()
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
            channel=f"dm-{self.user}",
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
        while True:
            if interactive:
                self._out.write("you> ")
                self._out.flush()
            line = self._in.readline()
            if not line:
                break
            line = line.strip()
            if not line:
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
