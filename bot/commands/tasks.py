"""`/tasks`: schedule instructions the agent carries out on its own.

Fields are `key=value` tokens: name, description (the instructions), schedule,
timezone, contact or channel, bot, session, max_iterations, max_time, grace,
and `meta.KEY=VALUE`. Schedules are parsed by `bot.schedules`; times shown are
in the task's time zone, with UTC beside them where it matters.

Targets: `contact=<@U123>` (Slack, in the workspace the command comes from),
`contact=<@123456789012345678>` (Discord), or explicitly
`slack:<team>:<user>` / `discord:<user>`; `channel=` takes the same forms
with channel ids (`<#C123>`, `slack:<team>:<channel>`, `discord:<channel>`).
A task has at most one target: setting one on edit replaces the other, and
an empty value (`contact=`) removes it. A new task's time zone defaults to its
contact's, when the platform told us (Slack does; Discord does not), else UTC.
"""

from __future__ import annotations

import re
from typing import Any

from bot.commands import executions as runs
from bot.commands.grammar import Command
from bot.commands.registry import Caller, Group, Stores, Subcommand
from bot.commands.results import Fields, Paragraph, Result, Table, count
from bot.commands.times import both_times, local_time, quote
from bot.commands.values import version, whole
from bot.errors import CommandError, InvalidInput
from bot.schedules import FORMS, parse_duration, parse_schedule, plan, read_schedule, zone_of
from jobs_store import ContactStore, TaskStore
from jobs_store.models import validated
from jobs_store.tasks import (
    DURATIONS,
    MAX_ITERATIONS,
    MAX_META_FIELDS,
    TASK_FIELDS,
    Task,
    format_duration,
)

MAX_PREVIEW = 50
_FIELDS = frozenset({*TASK_FIELDS, "meta.*"})
_STATUSES = ("idle", "running", "paused")
_DURATION_FIELDS = tuple(DURATIONS)

_MENTION = re.compile(r"^<(?P<kind>[@#])!?(?P<id>[A-Za-z0-9]+)(?:\|[^>]*)?>$")
_SLACK_EXPLICIT = re.compile(r"^slack:(?P<team>[A-Za-z0-9]+):(?P<id>[A-Za-z0-9]+)$", re.I)
_DISCORD_EXPLICIT = re.compile(r"^discord:(?P<id>\d{15,25})$", re.I)
_CONSOLE_EXPLICIT = re.compile(r"^console:(?P<id>[^\s:]{1,100})$", re.I)
_SNOWFLAKE = re.compile(r"^\d{15,25}$")
_SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")
_SLACK_CHANNEL = re.compile(r"^[CGD][A-Z0-9]{2,}$")

_TARGET_HELP = {
    "contact": "a mention (<@U0123ABCD> in Slack, <@123456789012345678> in Discord) or an id: "
               "slack:<team>:<user>, discord:<user>, or console:<name> for someone at "
               "chatjobs chat",
    "channel": "a channel mention (<#C0123ABCD> in Slack, <#123456789012345678> in Discord) or "
               "an id: slack:<team>:<channel> or discord:<channel>",
}
_HOW_TO_FIND_CHANNEL_ID = (
    "In Slack the id is at the bottom of the channel's details (e.g. C0123ABCD); in Discord, "
    "turn on Developer Mode and right-click the channel → Copy Channel ID."
)

_FIELD_HELP = "\n".join(f"  {field}: {text}" for field, text in (
    ("name", "1–100 characters, unique (any case)"),
    ("description", "the instructions the agent carries out, 1–10,000 characters"),
    ("schedule", FORMS),
    ("timezone", "an IANA zone such as Europe/Paris (default: the contact's, else UTC)"),
    ("contact", _TARGET_HELP["contact"]),
    ("channel", _TARGET_HELP["channel"]),
    ("bot", "the bot that runs it (default: the default bot)"),
    ("session", "how long the agent keeps answering the contact after a run, 1m–7d "
                "(default 1h)"),
    ("max_iterations", "model calls per run, 10–100,000 (default 1,000)"),
    ("max_time", "time per run, 15m–24h (default 15m)"),
    ("grace", "how late a run missed during downtime may still start, 0s–7d (default 1h)"),
    ("meta.KEY", f"your own fields, e.g. meta.plan=trial (at most {MAX_META_FIELDS}; an empty "
                 "value removes one)"),
))
_EXAMPLES = (
    "Examples:\n"
    '  every Monday 09:00 Paris time: schedule="weekly mon 09:00" timezone=Europe/Paris\n'
    '  once: schedule="once 2026-11-28 09:00"\n'
    '  weekdays at 08:30: schedule="cron 30 8 * * 1-5"\n'
    '  the last day of each month: schedule="monthly last 17:00"\n'
    "Durations: 90s, 15m, 1h, 7d. Around daylight-saving changes a time skipped in spring "
    "runs when the clocks jump, and a time repeated in autumn runs once."
)


# --- reading ------------------------------------------------------------------


def list_tasks(stores: Stores, caller: Caller, command: Command) -> Result:
    tasks = sorted(_tasks(stores).list(), key=lambda t: t.name.lower())
    if "bot" in command.fields:
        bot = stores.bots.get(command.fields["bot"])
        tasks = [t for t in tasks if (t.bot or stores.bots.get().id) == bot.id]
    if "status" in command.fields:
        wanted = command.fields["status"].strip().lower()
        if wanted not in _STATUSES:
            raise InvalidInput("status", f"is one of {', '.join(_STATUSES)}, not '{wanted}'")
        tasks = [t for t in tasks if _status(t) == wanted]
    if not tasks:
        filtered = " matching" if command.fields else ""
        return Result(title=f"No{filtered} tasks.", blocks=(Paragraph(
            text='Schedule one: /tasks create name="Weekly digest" description="Post the '
                 'week\'s digest" schedule="weekly mon 09:00" timezone=Europe/Paris '
                 "channel=<#C0123ABCD>"),))
    rows = tuple((t.name, t.id, t.schedule, t.timezone, local_time(t.next_run, t.timezone),
                  _status(t)) for t in tasks)
    return Result(title=count(len(tasks), "task"), blocks=(
        Table(columns=("name", "id", "schedule", "timezone", "next run", "status"), rows=rows),))


def show(stores: Stores, caller: Caller, command: Command) -> Result:
    task = _tasks(stores).get(command.args[0])
    return Result(title=f"{task.name} (version {task.version})", blocks=(
        Fields(pairs=(
            ("description", task.description),
            ("status", _status(task)),
            ("schedule", task.schedule),
            ("timezone", task.timezone),
            ("next run", both_times(task.next_run, task.timezone)),
            ("last run", both_times(task.last_run, task.timezone)),
            ("last outcome", task.last_outcome or "-"),
            ("target", _target_text(task)),
            ("bot", _bot_name(stores, task.bot)),
        )),
        Fields(pairs=(
            ("id", task.id),
            ("session", format_duration(task.session)),
            ("max_iterations", f"{task.max_iterations:,}"),
            ("max_time", format_duration(task.max_time)),
            ("grace", format_duration(task.grace)),
            *((f"meta.{k}", v) for k, v in sorted(task.meta.items())),
            ("updated", f"{task.updated_at:%Y-%m-%d %H:%M} UTC by {task.updated_by or '-'}"),
            ("created", f"{task.created_at:%Y-%m-%d %H:%M} UTC by {task.created_by or '-'}"),
        )),
        *filter(None, (runs.describe_active(stores, task),)),
    ))


def next_runs(stores: Stores, caller: Caller, command: Command) -> Result:
    store = _tasks(stores)
    task = store.get(command.args[0])
    n = whole(command.args[1], field="n", low=1, high=MAX_PREVIEW) if len(command.args) > 1 else 5
    zone = zone_of(task.timezone)
    runs = read_schedule(task.schedule, zone=zone).next_runs(store.clock(), n)
    if not runs:
        return Result(title=f"'{task.name}' has no runs left ({task.schedule}).")
    rows = tuple((str(i), local_time(run, task.timezone), f"{run:%Y-%m-%d %H:%M} UTC")
                 for i, run in enumerate(runs, start=1))
    blocks: list[Table | Paragraph] = [Table(columns=("#", f"local ({task.timezone})", "UTC"),
                                             rows=rows)]
    if task.paused:
        blocks.append(Paragraph(text=f"'{task.name}' is paused: it runs on this schedule after "
                                     f"/tasks resume {quote(task.name)}."))
    return Result(title=f"Next {count(len(runs), 'run')} of '{task.name}' ({task.schedule})",
                  blocks=tuple(blocks))


# --- writing ------------------------------------------------------------------


def create(stores: Stores, caller: Caller, command: Command) -> Result:
    store = _tasks(stores)
    fields = command.fields
    missing = [f for f in ("name", "description", "schedule") if not fields.get(f, "").strip()]
    if missing:
        raise CommandError(
            f"{missing[0]}: is required. E.g. /tasks create name=\"Weekly digest\" "
            'description="Post the week\'s digest" schedule="weekly mon 09:00" '
            "timezone=Europe/Paris channel=<#C0123ABCD> — see /tasks help create."
        )
    data = _changes(stores, caller, fields, current=None)
    if "timezone" not in data:
        data["timezone"] = _contact_zone(stores.contacts, data.get("contact")) or "UTC"
    now = store.clock()
    zone = zone_of(data["timezone"])
    schedule = parse_schedule(fields["schedule"], now=now, zone=zone)
    task = validated(Task, {**data, "schedule": schedule.text, "created_by": caller.user,
                            "created_at": now, "updated_by": caller.user, "updated_at": now})
    task = store.create(plan(task, now=now), rename_if_taken=False)
    return Result(title=f"Created '{task.name}' ({task.id}).", blocks=(
        Fields(pairs=(("schedule", task.schedule), ("timezone", task.timezone),
                      ("next run", both_times(task.next_run, task.timezone)),
                      ("target", _target_text(task)))),
        Paragraph(text=f"Preview its runs: /tasks next {quote(task.name)}"),
    ))


def edit(stores: Stores, caller: Caller, command: Command) -> Result:
    store = _tasks(stores)
    fields = {k: v for k, v in command.fields.items() if k != "version"}
    if not fields:
        raise CommandError("Nothing to change: give at least one field=value — "
                           "see /tasks help edit.")
    current = store.get(command.args[0])
    changes = _changes(stores, caller, fields, current=current)
    if "schedule" in fields:  # a new schedule is checked against now (a once in the past)
        zone = zone_of(changes.get("timezone", current.timezone))
        changes["schedule"] = parse_schedule(fields["schedule"], now=store.clock(),
                                             zone=zone).text
    task = store.update(current.id, changes, actor=caller.user,
                        expected_version=version(command.fields.get("version")))
    if task.version == current.version:
        return Result(title=f"Nothing changed: '{task.name}' stays at version {task.version}.")
    changed = [f for f in (*TASK_FIELDS, "meta") if getattr(task, f) != getattr(current, f)]
    return Result(title=f"Saved '{task.name}' as version {task.version} "
                        f"(changed: {', '.join(changed)}).",
                  blocks=(Fields(pairs=(("next run", both_times(task.next_run, task.timezone)),)),))


def delete(stores: Stores, caller: Caller, command: Command) -> Result:
    task = _tasks(stores).delete(command.args[0], actor=caller.user)
    return Result(title=f"Deleted the task '{task.name}'.")


def pause(stores: Stores, caller: Caller, command: Command) -> Result:
    store = _tasks(stores)
    before = store.get(command.args[0])
    if before.paused:
        return Result(title=f"'{before.name}' is already paused.")
    task = store.pause(before.id, actor=caller.user)
    return Result(title=f"Paused '{task.name}': it will not run until "
                        f"/tasks resume {quote(task.name)}.")


def resume(stores: Stores, caller: Caller, command: Command) -> Result:
    store = _tasks(stores)
    before = store.get(command.args[0])
    if not before.paused:
        return Result(title=f"'{before.name}' is not paused; next run: "
                            f"{both_times(before.next_run, before.timezone)}.")
    task = store.resume(before.id, actor=caller.user)
    return Result(title=f"Resumed '{task.name}'; next run: "
                        f"{both_times(task.next_run, task.timezone)}.")


# --- field values ---------------------------------------------------------------


def _changes(stores: Stores, caller: Caller, fields: dict[str, str],
             current: Task | None) -> dict[str, Any]:
    """The typed values of the given fields (schedule is handled by the caller)."""
    data: dict[str, Any] = {}
    for key, value in fields.items():
        if key in ("name", "description"):
            data[key] = value
        elif key == "timezone":
            data[key] = zone_of(value.strip()).key
        elif key in ("contact", "channel"):
            data[key] = _target(key, value, caller)
        elif key == "bot":
            data[key] = stores.bots.get(value.strip()).id if value.strip() else None
        elif key in _DURATION_FIELDS:
            data[key] = parse_duration(value, field=key)
        elif key == "max_iterations":
            data[key] = whole(value, field=key, low=MAX_ITERATIONS[0], high=MAX_ITERATIONS[1])
    if data.get("contact") and "channel" not in fields:
        data["channel"] = None  # a task has one target: the new one replaces the other
    if data.get("channel") and "contact" not in fields:
        data["contact"] = None
    meta = {k[5:]: v for k, v in fields.items() if k.startswith("meta.")}
    if meta:
        merged = dict(current.meta) if current else {}
        for key, value in meta.items():
            if value:
                merged[key] = value
            else:
                merged.pop(key, None)
        data["meta"] = merged
    return data


def _target(field: str, value: str, caller: Caller) -> str | None:
    text = value.strip()
    if not text:
        return None
    wanted = "@" if field == "contact" else "#"
    if text.startswith("#") or text.startswith("@"):
        what = "the channel's id" if field == "channel" else "a mention or the person's id"
        extra = f" {_HOW_TO_FIND_CHANNEL_ID}" if field == "channel" else ""
        raise InvalidInput(field, f"'{text}' is a name; give {what}: {_TARGET_HELP[field]}."
                                  f"{extra}")
    explicit = _SLACK_EXPLICIT.match(text)
    if explicit:
        return f"slack:{explicit['team'].upper()}:{explicit['id'].upper()}"
    explicit = _DISCORD_EXPLICIT.match(text)
    if explicit:
        return f"discord:{explicit['id']}"
    explicit = _CONSOLE_EXPLICIT.match(text)
    if explicit and field == "contact":  # someone at `chatjobs chat` on this machine
        return f"console:{caller.workspace or 'local'}:{explicit['id']}"
    mention = _MENTION.match(text)
    if mention and mention["kind"] == wanted:
        ident = mention["id"]
        if _SNOWFLAKE.match(ident):
            return f"discord:{ident}"
        slack_id = _SLACK_USER if field == "contact" else _SLACK_CHANNEL
        if slack_id.match(ident):
            if not caller.workspace:
                raise InvalidInput(field, f"give the Slack team with the id here: "
                                          f"slack:<team>:{ident}")
            return f"slack:{caller.workspace}:{ident}"
    if mention:
        other = "channel" if field == "contact" else "contact"
        raise InvalidInput(field, f"'{text}' is a {other} mention; use {other}={text} or give "
                                  f"{_TARGET_HELP[field]}.")
    raise InvalidInput(field, f"'{text}' is not {_TARGET_HELP[field]}.")


def _contact_zone(contacts: ContactStore | None, contact: str | None) -> str | None:
    if contacts is None or not contact or contact.count(":") != 2:
        return None  # Discord does not tell anyone's time zone
    known = contacts.get(contact)
    if known is None or not known.timezone:
        return None
    try:
        return zone_of(known.timezone).key
    except InvalidInput:
        return None


# --- display ----------------------------------------------------------------------


def _tasks(stores: Stores) -> TaskStore:
    if stores.tasks is None:
        raise CommandError("/tasks is not set up in this process.")
    return stores.tasks


def _status(task: Task) -> str:
    return "paused" if task.paused else task.status


def _target_text(task: Task) -> str:
    if task.contact:
        return f"contact {task.contact}"
    if task.channel:
        return f"channel {task.channel}"
    return "-"


def _bot_name(stores: Stores, bot_id: str | None) -> str:
    if bot_id is None:
        return stores.bots.get().name
    found = [b.name for b in stores.bots.list() if b.id == bot_id]
    return found[0] if found else f"{bot_id} (deleted)"


_TASK = "<task>"
GROUP = Group("tasks", "schedule instructions the agent carries out on its own", [
    Subcommand(name="list", usage="list [bot=<bot>] [status=idle|running|paused]",
               summary="List tasks by name, with their next run in each task's time zone.",
               run=list_tasks, fields=frozenset({"bot", "status"})),
    Subcommand(name="show", usage=f"show {_TASK}", run=show, args=(1, 1),
               summary="Show a task: status, schedule, last and next run, limits."),
    Subcommand(
        name="create", usage="create name=… description=… schedule=… [field=value …]",
        summary="Schedule a task.", run=create, fields=_FIELDS,
        details="Fields:\n" + _FIELD_HELP + "\n\nmeta.KEY=VALUE fields are allowed too. "
                "name, description and schedule are required.\n\n" + _EXAMPLES,
    ),
    Subcommand(
        name="edit", usage=f"edit {_TASK} [version=<n>] field=value …",
        summary="Change a task; its next run is recomputed.", run=edit, args=(1, 1),
        fields=_FIELDS | {"version"},
        details="Fields:\n" + _FIELD_HELP + "\n\nWith version=<n>, the edit is refused if "
                "someone saved a newer version since you looked. Setting contact replaces "
                "channel and the other way round; contact= (empty) removes it.\n\n" + _EXAMPLES,
    ),
    Subcommand(name="delete", usage=f"delete {_TASK}", run=delete, args=(1, 1),
               summary="Delete a task."),
    Subcommand(name="pause", usage=f"pause {_TASK}", run=pause, args=(1, 1),
               summary="Stop running a task on its schedule (it is kept)."),
    Subcommand(name="resume", usage=f"resume {_TASK}", run=resume, args=(1, 1),
               summary="Run a paused task on its schedule again, from now."),
    Subcommand(name="next", usage=f"next {_TASK} [n]", run=next_runs, args=(1, 2),
               summary=f"Preview the next n runs (default 5, at most {MAX_PREVIEW}) in the "
                       "task's time zone and UTC."),
    Subcommand(name="trigger", usage=f"trigger {_TASK}", run=runs.trigger, args=(1, 1),
               summary="Run a task now, once (its schedule is kept). Starts nothing while "
                       "a run is in progress."),
    Subcommand(name="cancel", usage=f"cancel {_TASK}", run=runs.cancel, args=(1, 1),
               summary="Stop the task's run in progress and close its session; the task "
                       "keeps its schedule."),
    Subcommand(name="executions", usage=f"executions {_TASK} [n]", run=runs.list_executions,
               args=(1, 2),
               summary=f"List the task's latest runs (default 10, at most {runs.MAX_LISTED}): "
                       "status, start, duration, iterations, outcome."),
    Subcommand(name="cancel-execution", usage="cancel-execution <execution>",
               run=runs.cancel_execution, args=(1, 1),
               summary="Cancel one run by its id (from /tasks executions)."),
])
