"""Subcommand specs and the dispatcher that checks and runs them.

Each subcommand declares its usage, help, how many positional arguments and
which fields it takes, and whether it needs an admin. The dispatcher refuses
anything that does not fit before a handler runs, so a refusal changes
nothing and says why.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.commands.grammar import Command, parse
from bot.commands.results import Paragraph, Result, Table
from bot.errors import ChatjobsError, CommandError, PermissionDenied
from bot.ports import ExecutionQueue
from jobs_store import BotStore, ContactStore, ConversationStore, JobStore, TaskStore
from jobs_store.executions import ExecutionStore
from jobs_store.stats import StatsStore

if TYPE_CHECKING:
    from bot.turns import Agent

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class Caller:
    """Who runs a command, and what the calling surface allows."""

    user: str
    is_admin: bool
    #: True on the CLI and console, where `import` may read a local file.
    local_files: bool = False
    #: The Slack team the command came from (turns `<@U123>` into `slack:<team>:U123`).
    workspace: str = ""


@dataclass(frozen=True, kw_only=True)
class Stores:
    """The repositories commands work on, and the agent for those that need it."""

    jobs: JobStore
    bots: BotStore
    stats: StatsStore | None = None
    #: For commands that run the matcher or the model (test, optimize).
    agent: Agent | None = None
    #: For `/tasks` (built with `bot.schedules.plan` as its planner).
    tasks: TaskStore | None = None
    #: For `/tasks`: a contact's time zone is a new task's default.
    contacts: ContactStore | None = None
    #: For `/tasks trigger|cancel|executions`: the runs, and where they are queued.
    executions: ExecutionStore | None = None
    execution_queue: ExecutionQueue | None = None
    #: For `/tasks cancel`: closing the cancelled run's session window.
    conversations: ConversationStore | None = None


Handler = Callable[[Stores, Caller, Command], Result]


@dataclass(frozen=True, kw_only=True)
class Subcommand:
    """One subcommand of a group, e.g. `/jobs edit`."""

    name: str
    usage: str
    summary: str
    run: Handler
    details: str = ""
    args: tuple[int, int] = (0, 0)
    fields: frozenset[str] = frozenset()
    admin: bool = True


class Group:
    """A command group such as `/jobs`, with its help built in."""

    def __init__(self, name: str, summary: str, subcommands: Iterable[Subcommand]) -> None:
        self.name = name
        self.summary = summary
        self.subcommands: dict[str, Subcommand] = {}
        for sub in subcommands:
            if sub.name in self.subcommands or sub.name == "help":
                raise ValueError(f"/{name} {sub.name} is registered twice")
            self.subcommands[sub.name] = sub

    def help(self, topic: str | None = None) -> Result:
        """The group's help, or one subcommand's."""
        if topic:
            sub = self._lookup(topic)
            text = [f"Usage: /{self.name} {sub.usage}", sub.summary]
            if sub.details:
                text.append(sub.details)
            return Result(title=f"/{self.name} {sub.name}",
                          blocks=(Paragraph(text="\n\n".join(text)),))
        rows = tuple((f"/{self.name} {s.usage}", s.summary) for s in self.subcommands.values())
        return Result(
            title=f"/{self.name}: {self.summary}",
            blocks=(
                Table(columns=("command", "what it does"), rows=rows),
                Paragraph(text=f"More on one command: /{self.name} help <command>. Quote "
                               'values that contain spaces: name="Take a message".'),
            ),
        )

    def _lookup(self, name: str) -> Subcommand:
        sub = self.subcommands.get(name)
        if sub is None:
            close = difflib.get_close_matches(name, list(self.subcommands), n=1)
            hint = f" Did you mean '/{self.name} {close[0]}'?" if close else ""
            raise CommandError(f"Unknown command '/{self.name} {name}'.{hint} "
                               f"See /{self.name} help.")
        return sub

    def run(self, stores: Stores, caller: Caller, command: str | Sequence[str]) -> Result:
        """Parse, check and run a command; every refusal comes back as a Result."""
        try:
            parsed = parse(self.name, command)
            if parsed.name == "help":
                return self.help(parsed.args[0] if parsed.args else None)
            sub = self._lookup(parsed.name)
            if parsed.args == ("help",):
                return self.help(sub.name)
            if sub.admin and not caller.is_admin:
                raise PermissionDenied(
                    f"Only admins can use /{self.name} {sub.name}. Admins are Slack workspace "
                    "admins and owners, Discord members with Manage Server, and the user ids "
                    "in CHATJOBS_ADMINS. Nothing was changed."
                )
            _check_shape(self.name, sub, parsed)
            result = sub.run(stores, caller, parsed)
        except ChatjobsError as exc:
            return Result.refused(str(exc))
        log.info("/%s %s by %s: %s", self.name, parsed.name, caller.user,
                 "done" if result.ok else "refused")
        return result


def _check_shape(group: str, sub: Subcommand, command: Command) -> None:
    low, high = sub.args
    count = len(command.args)
    if count < low or count > high:
        extra = ""
        if count > high and any(" " in a or "=" not in a for a in command.args[high:]):
            extra = ' (quote names that contain spaces, e.g. "Take a message")'
        raise CommandError(f"Usage: /{group} {sub.usage}{extra} — see /{group} help {sub.name}")
    # `meta.*` in a subcommand's fields admits every `meta.KEY`.
    unknown = sorted(f for f in set(command.fields) - sub.fields
                     if "." not in f or f"{f.split('.', 1)[0]}.*" not in sub.fields)
    if unknown:
        allowed = ", ".join(sorted(sub.fields)) or "none"
        raise CommandError(
            f"{unknown[0]}: /{group} {sub.name} does not take this field (it takes: {allowed})."
        )
