"""`/jobs`: manage the job library and what each bot uses."""

from __future__ import annotations

import sys
from pathlib import Path

from bot.commands import dry_run, library_yaml, monitoring, optimize
from bot.commands.grammar import Command
from bot.commands.registry import Caller, Group, Stores, Subcommand
from bot.commands.results import Code, Fields, Paragraph, Result, Table, count
from bot.commands.values import version
from bot.errors import CommandError, InvalidInput
from bot.templates import all_templates, template
from jobs_store import DEFAULT_BOT_ID
from jobs_store.models import JOB_FIELDS, RULE_HELP, Bot, Job, now_utc

_FIELDS = frozenset(JOB_FIELDS)
_FIELD_HELP = "\n".join(
    f"  {field}: {_limit}" for field, _limit in (
        ("name", "1–100 characters, unique (any case)"),
        ("description", "what the job is for, up to 500 characters"),
        ("trigger", "what users say when they want this, up to 500 characters"),
        ("instructions", "the numbered steps, 1–10,000 characters"),
        ("audience", "who it is for, in words, up to 500 characters"),
        ("rule", f"who it is for, checked by the matcher: {RULE_HELP}"),
    )
)
_LINE_BREAKS = "Write \\n for a line break when your client sends one line only."


# --- reading ------------------------------------------------------------------


def list_jobs(stores: Stores, caller: Caller, command: Command) -> Result:
    jobs = stores.jobs.list()
    if not jobs:
        return Result(title="The job library is empty.", blocks=(Paragraph(
            text="Start from a template: /jobs templates, then /jobs create template=<key>."),))
    live = _live_on(stores.bots.list())
    rows = tuple((job.name, job.id, f"v{job.version}", f"{job.updated_at:%Y-%m-%d}",
                  ", ".join(live.get(job.id, [])) or "-") for job in jobs)
    return Result(title=count(len(jobs), "job"), blocks=(
        Table(columns=("name", "id", "version", "updated", "live on"), rows=rows),))


def show(stores: Stores, caller: Caller, command: Command) -> Result:
    job = stores.jobs.get(command.args[0])
    bots = stores.bots.list()
    draft = [b.name for b in bots if job.id in b.draft_jobs]
    live = [b.name for b in bots if job.id in b.live_jobs]
    return Result(title=f"{job.name} (version {job.version})", blocks=(
        _job_fields(job),
        Fields(pairs=(
            ("id", job.id),
            ("updated", f"{job.updated_at:%Y-%m-%d %H:%M} UTC by {job.updated_by}"),
            ("created", f"{job.created_at:%Y-%m-%d %H:%M} UTC by {job.created_by}"),
            ("attached", ", ".join(draft) or "-"),
            ("live on", ", ".join(live) or "-"),
        )),
    ))


def history(stores: Stores, caller: Caller, command: Command) -> Result:
    versions = stores.jobs.history(command.args[0])
    rows = []
    for job, older in zip(versions, [*versions[1:], None], strict=True):
        rows.append((f"v{job.version}", f"{job.updated_at:%Y-%m-%d %H:%M}", job.updated_by,
                     _change(job, older)))
    return Result(title=f"History of {versions[0].name}", blocks=(
        Table(columns=("version", "when (UTC)", "by", "change"), rows=tuple(rows)),
        Paragraph(text=f"Go back one version: /jobs undo {_quote(versions[0].name)}"),
    ))


def templates(stores: Stores, caller: Caller, command: Command) -> Result:
    rows = tuple((key, fields["name"], fields.get("audience", ""))
                 for key, fields in all_templates().items())
    return Result(title=count(len(rows), "template"), blocks=(
        Table(columns=("key", "name", "audience"), rows=rows),
        Paragraph(text="Start a job from one: /jobs create template=take-message — add "
                       "field=value to change any of its fields."),
    ))


def diff(stores: Stores, caller: Caller, command: Command) -> Result:
    bot = stores.bots.get(command.fields.get("bot"))
    names = {job.id: job.name for job in stores.jobs.get_many({*bot.draft_jobs, *bot.live_jobs})}
    added = [names.get(j, j) for j in bot.draft_jobs if j not in bot.live_jobs]
    removed = [names.get(j, j) for j in bot.live_jobs if j not in bot.draft_jobs]
    kept = [names.get(j, j) for j in bot.draft_jobs if j in bot.live_jobs]
    title = (f"{bot.name}: the draft is live" if not added and not removed
             else f"{bot.name}: draft differs from live")
    blocks: list[Fields | Paragraph] = [Fields(pairs=(
        ("goes live on publish", ", ".join(added) or "-"),
        ("removed on publish", ", ".join(removed) or "-"),
        ("unchanged", ", ".join(kept) or "-"),
    ))]
    if not bot.live_jobs:
        blocks.append(Paragraph(text=f"{bot.name} has no live jobs, so it considers the whole "
                                     "library."))
    return Result(title=title, blocks=tuple(blocks))


def export(stores: Stores, caller: Caller, command: Command) -> Result:
    jobs = [stores.jobs.get(ref) for ref in command.args] if command.args else stores.jobs.list()
    return Result(blocks=(Code(text=library_yaml.dump(jobs, now=now_utc()), language="yaml"),))


# --- writing ------------------------------------------------------------------


def create(stores: Stores, caller: Caller, command: Command) -> Result:
    fields: dict[str, str] = {}
    if "template" in command.fields:
        fields.update(template(command.fields["template"]))
    fields.update({k: v for k, v in command.fields.items() if k != "template"})
    if not fields:
        raise CommandError(
            "Give the job's fields, e.g. /jobs create name=\"Take a message\" "
            'trigger="leave a message" instructions="1. Ask who the message is for …", '
            "or start from a template: /jobs create template=take-message. See /jobs help create."
        )
    job = stores.jobs.create(fields, actor=caller.user)
    return Result(title=f"Created '{job.name}' ({job.id}, version 1).", blocks=(
        _job_fields(job),
        Paragraph(text=_attach_hint(stores, job)),
    ))


def edit(stores: Stores, caller: Caller, command: Command) -> Result:
    changes = {k: v for k, v in command.fields.items() if k != "version"}
    current = stores.jobs.get(command.args[0])
    job = stores.jobs.update(current.id, changes, actor=caller.user,
                             expected_version=version(command.fields.get("version")))
    if job.version == current.version:
        return Result(title=f"Nothing changed: '{job.name}' stays at version {job.version}.")
    changed = [f for f in JOB_FIELDS if getattr(job, f) != getattr(current, f)]
    return Result(title=f"Saved '{job.name}' as version {job.version} "
                        f"(changed: {', '.join(changed)}).",
                  blocks=(Paragraph(text=f"Undo with /jobs undo {_quote(job.name)}"),))


def undo(stores: Stores, caller: Caller, command: Command) -> Result:
    job = stores.jobs.undo(command.args[0], actor=caller.user)
    return Result(title=f"Restored version {job.restored_from} of '{job.name}' as version "
                        f"{job.version}.", blocks=(_job_fields(job),))


def delete(stores: Stores, caller: Caller, command: Command) -> Result:
    bots = stores.bots.list()
    job = stores.jobs.delete(command.args[0], actor=caller.user)
    if stores.stats is not None:
        stores.stats.forget_job(job.id)
    detached = [b.name for b in bots if job.id in (*b.draft_jobs, *b.live_jobs)]
    note = f" It was detached from: {', '.join(detached)}." if detached else ""
    return Result(title=f"Deleted '{job.name}' and its {count(job.version, 'version')}.{note}")


def attach(stores: Stores, caller: Caller, command: Command) -> Result:
    job = stores.jobs.get(command.args[0])
    bot = stores.bots.attach(command.fields.get("bot"), job, actor=caller.user)
    return Result(title=f"Attached '{job.name}' to {bot.name}'s draft "
                        f"({len(bot.draft_jobs)} of 10).",
                  blocks=(Paragraph(text=f"Make it live with /jobs publish{_bot_arg(bot)}; "
                                         f"compare first with /jobs diff{_bot_arg(bot)}."),))


def detach(stores: Stores, caller: Caller, command: Command) -> Result:
    job = stores.jobs.get(command.args[0])
    bot = stores.bots.detach(command.fields.get("bot"), job, actor=caller.user)
    return Result(title=f"Detached '{job.name}' from {bot.name}'s draft.",
                  blocks=(Paragraph(text=f"It stays live until /jobs publish{_bot_arg(bot)}."),))


def publish(stores: Stores, caller: Caller, command: Command) -> Result:
    before = stores.bots.get(command.fields.get("bot"))
    if before.draft_jobs == before.live_jobs:
        return Result(title=f"Nothing to publish: {before.name}'s draft is already live.")
    bot = stores.bots.publish(before.id, actor=caller.user)
    names = [job.name for job in stores.jobs.get_many(bot.live_jobs)]
    scope = ", ".join(names) if names else "none, so it considers the whole library"
    return Result(title=f"Published {bot.name}: live jobs are now {scope}.")


def import_jobs(stores: Stores, caller: Caller, command: Command) -> Result:
    text = command.rest
    path = _local_path(text) if caller.local_files else None
    if path is not None:
        text = _read_local(path)
    if not text.strip():
        raise CommandError("Give the YAML to import after /jobs import "
                           "(the format /jobs export writes).")
    items = library_yaml.load(text)
    created, updated, unchanged = stores.jobs.import_many(items, actor=caller.user)
    return Result(title=f"Imported {count(len(items), 'job')}: {created} created, "
                        f"{updated} updated, {unchanged} unchanged.")


# --- helpers ------------------------------------------------------------------


def _job_fields(job: Job) -> Fields:
    return Fields(pairs=tuple((f, getattr(job, f)) for f in JOB_FIELDS if getattr(job, f)))


def _change(job: Job, older: Job | None) -> str:
    if older is None:
        return "created"
    if job.restored_from:
        return f"restored v{job.restored_from}"
    changed = [f for f in JOB_FIELDS if getattr(job, f) != getattr(older, f)]
    return "edited " + ", ".join(changed) if changed else "saved unchanged"


def _live_on(bots: list[Bot]) -> dict[str, list[str]]:
    live: dict[str, list[str]] = {}
    for bot in bots:
        for job_id in bot.live_jobs:
            live.setdefault(job_id, []).append(bot.name)
    return live


def _attach_hint(stores: Stores, job: Job) -> str:
    bot = stores.bots.get()
    if not bot.live_jobs:
        return (f"{bot.name} has no attached jobs, so it already considers this one. To limit "
                f"it to chosen jobs: /jobs attach {_quote(job.name)}, then /jobs publish.")
    return f"To use it: /jobs attach {_quote(job.name)}, then /jobs publish."


def _bot_arg(bot: Bot) -> str:
    return "" if bot.id == DEFAULT_BOT_ID else f" bot={_quote(bot.name)}"


def _quote(name: str) -> str:
    return f'"{name}"' if any(c.isspace() for c in name) else name


def _local_path(text: str) -> str | None:
    """`text` as a file path (quoted or not) or `-`, when it is one."""
    if not text or "\n" in text:
        return None
    candidate = text.strip()
    if candidate[:1] in "\"'" and candidate[-1:] == candidate[:1] and len(candidate) > 1:
        candidate = candidate[1:-1]
    return candidate if candidate == "-" or Path(candidate).is_file() else None


def _read_local(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput("import", f"cannot read {path}: {exc}") from None


_JOB = "<job>"
GROUP = Group("jobs", "manage the job library and the jobs each bot uses", [
    Subcommand(name="list", usage="list", summary="List every job.", run=list_jobs),
    Subcommand(name="show", usage=f"show {_JOB}", summary="Show a job's fields.", run=show,
               args=(1, 1)),
    Subcommand(
        name="create", usage="create [template=<key>] field=value …",
        summary="Create a job.", run=create, fields=_FIELDS | {"template"},
        details="Fields:\n" + _FIELD_HELP + "\n\nname and instructions are required unless you "
                "start from a template (see /jobs templates); fields you give replace the "
                f"template's. {_LINE_BREAKS}",
    ),
    Subcommand(
        name="edit", usage=f"edit {_JOB} [version=<n>] field=value …",
        summary="Change a job's fields; the previous version is kept.", run=edit,
        args=(1, 1), fields=_FIELDS | {"version"},
        details="Fields:\n" + _FIELD_HELP + "\n\nWith version=<n>, the edit is refused if "
                "someone saved a newer version since you looked. " + _LINE_BREAKS,
    ),
    Subcommand(name="delete", usage=f"delete {_JOB}", run=delete, args=(1, 1),
               summary="Delete a job and its history, and detach it from every bot."),
    Subcommand(name="history", usage=f"history {_JOB}", run=history, args=(1, 1),
               summary="List a job's versions, newest first."),
    Subcommand(name="undo", usage=f"undo {_JOB}", run=undo, args=(1, 1),
               summary="Go back one version (saved as a new version); repeat to go further."),
    *dry_run.SUBCOMMANDS,
    *optimize.SUBCOMMANDS,
    *monitoring.SUBCOMMANDS,
    Subcommand(name="templates", usage="templates", run=templates,
               summary="List the built-in templates."),
    Subcommand(name="attach", usage=f"attach {_JOB} [bot=<bot>]", run=attach, args=(1, 1),
               fields=frozenset({"bot"}),
               summary="Add a job to a bot's draft (at most 10); the default bot if none given."),
    Subcommand(name="detach", usage=f"detach {_JOB} [bot=<bot>]", run=detach, args=(1, 1),
               fields=frozenset({"bot"}), summary="Remove a job from a bot's draft."),
    Subcommand(name="publish", usage="publish [bot=<bot>]", run=publish,
               fields=frozenset({"bot"}), summary="Make a bot's draft jobs live."),
    Subcommand(name="diff", usage="diff [bot=<bot>]", run=diff, fields=frozenset({"bot"}),
               summary="Compare a bot's draft jobs with its live ones."),
    Subcommand(name="export", usage="export [<job> …]", run=export, args=(0, 10_000),
               summary="Write jobs as YAML (all of them if none named)."),
    Subcommand(
        name="import", usage="import <yaml>", run=import_jobs, args=(0, 1),
        summary="Create or update jobs from YAML, matched by name; all or nothing.",
        details="Takes the format /jobs export writes. On the command line and in the "
                "console you may give a file path instead (or - for standard input). Every "
                "job is checked before anything is saved.",
    ),
])
