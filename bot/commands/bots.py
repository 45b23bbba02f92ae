"""`/bots`: the agents that answer, their persona, model and channels."""

from __future__ import annotations

import re

from bot.commands.grammar import Command
from bot.commands.registry import Caller, Group, Stores, Subcommand
from bot.commands.results import Fields, Paragraph, Result, Table, count
from bot.commands.values import version
from bot.errors import InvalidInput
from jobs_store.models import BOT_FIELDS

_FIELDS = frozenset(BOT_FIELDS) | {"version"}
_FIELD_HELP = (
    "Fields:\n"
    "  name: 1–80 characters, unique (any case)\n"
    "  persona: the agent training — who it is and how it speaks, up to 4,000 characters\n"
    "  model: the model to use (empty: OPENAI_MODEL)\n"
    "  channels: channels it answers in, comma-separated (empty: every channel no other bot "
    "claims)\n"
    "  escalation_channel: where escalate() posts hand-offs"
)


def list_bots(stores: Stores, caller: Caller, command: Command) -> Result:
    stores.bots.ensure_default()
    rows = tuple(
        (bot.name, bot.id, bot.model or "(default)", str(len(bot.live_jobs)),
         ", ".join(bot.channels) or "(default)")
        for bot in stores.bots.list()
    )
    return Result(title=count(len(rows), "bot"), blocks=(
        Table(columns=("name", "id", "model", "live jobs", "channels"), rows=rows),))


def show(stores: Stores, caller: Caller, command: Command) -> Result:
    bot = stores.bots.get(command.args[0] if command.args else None)
    names = {j.id: j.name for j in stores.jobs.get_many({*bot.draft_jobs, *bot.live_jobs})}
    live = ", ".join(names.get(j, j) for j in bot.live_jobs) or "none: considers the whole library"
    return Result(title=f"{bot.name} (version {bot.version})", blocks=(Fields(pairs=(
        ("id", bot.id),
        ("persona", bot.persona or "-"),
        ("model", bot.model or "(default)"),
        ("channels", ", ".join(bot.channels) or "(every channel no other bot claims)"),
        ("escalation_channel", bot.escalation_channel or "-"),
        ("draft jobs", ", ".join(names.get(j, j) for j in bot.draft_jobs) or "-"),
        ("live jobs", live),
        ("updated", f"{bot.updated_at:%Y-%m-%d %H:%M} UTC by {bot.updated_by}"),
    )),))


def create(stores: Stores, caller: Caller, command: Command) -> Result:
    if "name" not in command.fields:
        raise InvalidInput("name", "is required, e.g. /bots create name=Support persona=\"…\"")
    bot = stores.bots.create(_values(command.fields), actor=caller.user)
    return Result(title=f"Created bot {bot.name} ({bot.id}).", blocks=(
        Paragraph(text=f"Attach jobs with /jobs attach <job> bot={bot.name}, then "
                       f"/jobs publish bot={bot.name}."),))


def edit(stores: Stores, caller: Caller, command: Command) -> Result:
    ref = command.args[0] if command.args else None
    expected = version(command.fields.get("version"))
    changes = _values({k: v for k, v in command.fields.items() if k != "version"})
    before = stores.bots.get(ref)
    bot = stores.bots.update(before.id, changes, actor=caller.user,
                             expected_version=expected)
    if bot.version == before.version:
        return Result(title=f"Nothing changed: bot {bot.name} stays at version {bot.version}.")
    changed = [f for f in BOT_FIELDS if getattr(bot, f) != getattr(before, f)]
    return Result(title=f"Saved bot {bot.name} (version {bot.version}; changed: "
                        f"{', '.join(changed)}).")


def _values(fields: dict[str, str]) -> dict[str, object]:
    values: dict[str, object] = dict(fields)
    if "channels" in fields:
        values["channels"] = tuple(c for c in re.split(r"[,\s]+", fields["channels"]) if c)
    return values


GROUP = Group("bots", "the agents that answer: persona, model, channels", [
    Subcommand(name="list", usage="list", summary="List the bots.", run=list_bots),
    Subcommand(name="show", usage="show [<bot>]", run=show, args=(0, 1),
               summary="Show a bot (the default bot if none named)."),
    Subcommand(name="create", usage="create name=<name> field=value …", run=create,
               fields=frozenset(BOT_FIELDS), summary="Create a bot.", details=_FIELD_HELP),
    Subcommand(name="edit", usage="edit [<bot>] [version=<n>] field=value …", run=edit,
               args=(0, 1), fields=_FIELDS,
               summary="Change a bot (the default bot if none named).", details=_FIELD_HELP),
])
