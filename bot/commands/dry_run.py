"""`/jobs test <text>`: what the agent would match and reply; nothing is posted or stored."""

from __future__ import annotations

from bot.commands.grammar import Command
from bot.commands.registry import Caller, Stores, Subcommand
from bot.commands.results import Paragraph, Result, Table
from bot.dry_run import DryRun, dry_run
from bot.errors import CommandError, NotFound


def test(stores: Stores, caller: Caller, command: Command) -> Result:
    if stores.agent is None:
        raise CommandError("/jobs test needs the agent, which this surface does not run.")
    bot = stores.bots.get(command.fields.get("bot"))
    contact = None
    if "user" in command.fields:
        contact = stores.agent.contacts.get(command.fields["user"])
        if contact is None:
            raise NotFound(f"user: no contact '{command.fields['user']}' has talked to the "
                           "agent yet; give platform:workspace:user of someone who has.")
    return render(dry_run(stores.agent, " ".join(command.args), bot=bot, contact=contact))


def render(run: DryRun) -> Result:
    """The matches and the reply as a command result."""
    scope = "draft jobs" if run.bot.draft_jobs else "whole library"
    if run.matches:
        rows = tuple((m.job.name, f"{m.score:.2f}", "; ".join(m.reasons)) for m in run.matches)
        table: list[Table | Paragraph] = [Table(columns=("job", "score", "why"), rows=rows)]
    else:
        table = [Paragraph(text="No job matched.")]
    return Result(title=f"Dry run for {run.bot.name} ({scope}); nothing was posted or stored.",
                  blocks=(*table, Paragraph(text=f"The agent would reply:\n{run.reply}")))


SUBCOMMANDS = [
    Subcommand(
        name="test", usage="test [bot=<bot>] [user=<contact>] <text>", run=test,
        args=(1, 10_000), fields=frozenset({"bot", "user"}),
        summary="Show the jobs a message matches and the reply; nothing is sent or saved.",
        details="Matches the bot's draft jobs (attach and test before you publish), or the "
                "whole library when none are attached. user=platform:workspace:user checks "
                "audience rules for someone who has talked to the agent.",
    ),
]
