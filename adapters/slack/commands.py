"""Slack slash commands (`/jobs`, `/bots`, `/tasks`) and the job form (a modal).

`register_commands(app, deps)` adds the listeners to the bolt App:

- `/jobs …` and `/bots …` run the shared grammar (`bot.commands.run_command`)
  as the Slack user, an admin when `deps.users.is_admin(team, user,
  CHATJOBS_ADMINS)` says so, and answer ephemerally (Block Kit from
  `adapters.slack.blocks`) through the command's `response_url`.
- `/jobs create` and `/jobs edit <job>` without fields open the job form
  (`adapters.slack.modals`); picking a template redraws it prefilled;
  submitting it saves through the same handlers as the commands, showing a
  refusal under the field it concerns, and confirms ephemerally.
- `/tasks …` runs the shared grammar the same way (`bot.commands.tasks`); a
  mention there (`contact=<@U123>`) is read in the command's team.

Why every command is acked at once and worked on in our own thread pools:
Slack drops a command not acked within 3 s ("operation_timeout"). The admin
check may call users.info (a cache miss), and `/jobs optimize` and
`/jobs test` call the model, so the listener acks first, with nothing (the
answer follows through `response_url`) or "Working on it…" for model
commands, and hands the work to a pool. These are pools of our own, not
bolt's lazy listeners: bolt runs the listener that acks a command, form or
button on its `listener_executor` (5 threads by default), the same pool lazy
listeners run on, so five slow model calls there would delay every other
command's ack past 3 s (and the handling of message events). Here the model
commands have a pool of their own, the other commands another, and bolt's
threads only run the ack (microseconds).
This also holds with `process_before_response=True`, where the listener runs
on the request thread. Help (`/jobs help …`, `/tasks help …`) needs no I/O and
is answered in the ack itself.

A form submission is different: Slack takes field errors only in the ack
(`response_action="errors"`), so it is validated before acking, by saving
(Redis, milliseconds) after the admin check (users.info, cached since the
command that opened the form).
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from adapters.slack.blocks import fallback_text, to_blocks
from adapters.slack.modals import (
    CALLBACK_ID,
    TEMPLATE_ACTION,
    ModalMeta,
    field_blocks,
    job_modal,
    parse_submission,
)
from bot.commands import GROUPS, Caller, Result, run_command
from bot.commands import jobs as job_commands
from bot.commands.grammar import Command, parse
from bot.errors import ChatjobsError, InvalidInput, NotFound
from bot.templates import all_templates

if TYPE_CHECKING:
    from adapters.slack.app import SlackDeps

log = logging.getLogger(__name__)

#: Slash commands this module answers. The app manifest must list a command
#: for Slack to send it; `/bots` costs nothing to register if it does not.
COMMANDS = ("/jobs", "/bots", "/tasks")
#: Subcommands that call the model: acked with WORKING, run in the model pool.
MODEL_SUBCOMMANDS = frozenset({"optimize", "test"})
WORKING = "Working on it… (the model can take a minute)"


class SlackCommands:
    """The listeners, with the pools they hand work to."""

    def __init__(self, deps: SlackDeps, *, workers: int = 8, model_workers: int = 4) -> None:
        self._deps = deps
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="slack-cmd")
        self._model_pool = ThreadPoolExecutor(max_workers=model_workers,
                                              thread_name_prefix="slack-model")

    def shutdown(self, *, wait: bool = True) -> None:
        """Stop taking work; with `wait`, finish what was handed over."""
        self._pool.shutdown(wait=wait)
        self._model_pool.shutdown(wait=wait)

    # --- slash commands -----------------------------------------------------------

    def on_command(self, ack: Ack, body: dict[str, Any], respond: Respond,
                   client: WebClient) -> None:
        """Ack at once; answer through `response_url` from a pool thread."""
        command = str(body.get("command", ""))
        text = str(body.get("text", ""))
        group = command.lstrip("/")
        if group in GROUPS and _asks_help(group, text):
            # Help changes nothing and needs no admin check: answer in the ack.
            self._ack_with(ack, run_command(group, text, stores=self._deps.stores,
                                            caller=Caller(user=_user(body), is_admin=False)))
            return
        slow = _subcommand(text) in MODEL_SUBCOMMANDS
        if slow:
            ack(text=WORKING, response_type="ephemeral")
        else:
            ack()
        pool = self._model_pool if slow else self._pool
        pool.submit(self._guarded, respond, command,
                    lambda: self._run(body, group, text, respond, client))

    def _run(self, body: dict[str, Any], group: str, text: str, respond: Respond,
             client: WebClient) -> None:
        caller = self._caller(str(body.get("team_id", "")), _user(body))
        form = _form_request(group, text)
        if form is not None and caller.is_admin:
            self._open_form(body, form or None, respond, client)
            return
        result = run_command(group, text, caller=caller, stores=self._deps.stores)
        _answer(respond, result)

    def _open_form(self, body: dict[str, Any], job_ref: str | None, respond: Respond,
                   client: WebClient) -> None:
        job = None
        if job_ref is not None:
            try:
                job = self._deps.stores.jobs.get(job_ref)
            except ChatjobsError as exc:
                _answer(respond, Result.refused(str(exc)))
                return
        view = job_modal(job=job, templates=all_templates(), version=job.version if job else None,
                         channel=str(body.get("channel_id", "")),
                         response_url=body.get("response_url") or None)
        try:
            client.views_open(trigger_id=str(body.get("trigger_id", "")), view=view)
        except SlackApiError as exc:
            log.warning("views.open failed for /jobs %s: %s", "edit" if job else "create",
                        exc.response.get("error"))
            what = f'edit "{job.name}"' if job else "create"
            _answer(respond, Result.refused(
                f"Could not open the job form (Slack said: {exc.response.get('error')}). Try "
                f"again, or give the fields on the command: /jobs {what} name=… — see "
                f"/jobs help {'edit' if job else 'create'}."))

    # --- the job form -------------------------------------------------------------

    def on_submit(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        """Save the form; refusals go back inline, under the field they concern."""
        view: Mapping[str, Any] = body.get("view") or {}
        meta = ModalMeta.load(view.get("private_metadata"))
        user = str((body.get("user") or {}).get("id", ""))
        team = str((body.get("team") or {}).get("id") or (body.get("user") or {}).get("team_id")
                   or "")
        blocks = field_blocks(view)
        general = blocks.get("name") or next(iter(blocks.values()), "name")
        caller = self._caller(team, user)
        if not caller.is_admin:
            ack(response_action="errors", errors={general: (
                "Only admins can save jobs: workspace admins and owners, and the user ids in "
                "CHATJOBS_ADMINS. Nothing was saved.")})
            return
        fields = parse_submission(view)
        try:
            result = self._save(caller, meta, fields)
        except InvalidInput as exc:
            block = blocks.get(exc.field)
            ack(response_action="errors",
                errors={block: exc.reason} if block else {general: str(exc)})
            return
        except NotFound as exc:
            reason = ("This job was deleted after the form opened. Nothing was saved; "
                      "create it again with /jobs create." if meta.job_id else str(exc))
            ack(response_action="errors", errors={general: reason})
            return
        except ChatjobsError as exc:  # stale version, name taken
            ack(response_action="errors", errors={general: str(exc)})
            return
        ack()
        log.info("job form (%s) by %s: %s", meta.job_id or "create", user, result.title)
        self._pool.submit(self._guarded, None, "job form",
                          lambda: _confirm(client, meta, user, result))

    def _save(self, caller: Caller, meta: ModalMeta, fields: dict[str, str]) -> Result:
        stores = self._deps.stores
        if meta.job_id is None:
            return job_commands.create(stores, caller,
                                       Command(group="jobs", name="create", fields=fields))
        if meta.version is not None:
            fields = {**fields, "version": str(meta.version)}
        return job_commands.edit(stores, caller, Command(group="jobs", name="edit",
                                                         args=(meta.job_id,), fields=fields))

    def on_template(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        """A template was picked in the form: redraw it with the template's fields."""
        ack()
        self._pool.submit(self._guarded, None, "template picker",
                          lambda: _apply_template(client, body))

    # --- helpers ------------------------------------------------------------------

    def _caller(self, team: str, user: str) -> Caller:
        admins = self._deps.admins
        try:
            is_admin = self._deps.users.is_admin(team, user, admins)
        except Exception:  # Slack or Redis down: fall back to CHATJOBS_ADMINS, fail closed
            log.warning("admin check failed for %s:%s; using CHATJOBS_ADMINS only", team, user,
                        exc_info=True)
            is_admin = user in admins
        return Caller(user=user, is_admin=is_admin, workspace=team)

    def _ack_with(self, ack: Ack, result: Result) -> None:
        ack(text=fallback_text(result), blocks=to_blocks(result), response_type="ephemeral")

    @staticmethod
    def _guarded(respond: Respond | None, what: str, work: Callable[[], None]) -> None:
        """Run `work` on a pool thread; an unexpected failure is logged and, when the
        user is waiting on `respond`, told."""
        try:
            work()
        except Exception as exc:
            log.exception("%s failed", what)
            if respond is not None:
                try:
                    _answer(respond, Result.refused(
                        f"Something went wrong running {what} ({type(exc).__name__}). The "
                        "operator can find the details in the logs."))
                except Exception:
                    log.exception("could not tell the user that %s failed", what)


def register_commands(app: App, deps: SlackDeps) -> None:
    """Register the slash commands, the job form and its template picker on `app`."""
    commands = SlackCommands(deps)
    # The pools' idle threads end with the app (tests build many apps).
    weakref.finalize(app, commands.shutdown, wait=False)
    for name in COMMANDS:
        app.command(name)(commands.on_command)
    app.view_submission(CALLBACK_ID)(commands.on_submit)
    app.action(TEMPLATE_ACTION)(commands.on_template)


# --- module helpers -------------------------------------------------------------------


def _user(body: Mapping[str, Any]) -> str:
    return str(body.get("user_id", ""))


def _subcommand(text: str) -> str:
    words = text.split(maxsplit=1)
    return words[0].lower() if words else ""


def _asks_help(group: str, text: str) -> bool:
    try:
        command = parse(group, text)
    except ChatjobsError:
        return False
    return command.name == "help" or command.args == ("help",)


def _form_request(group: str, text: str) -> str | None:
    """What the form is asked for: "" for `/jobs create`, the job reference for
    `/jobs edit <job>` (both without fields); None when the command is not a form request."""
    if group != "jobs":
        return None
    try:
        command = parse(group, text)
    except ChatjobsError:
        return None
    if command.fields:
        return None
    if command.name == "create" and not command.args:
        return ""
    if command.name == "edit" and len(command.args) == 1 and command.args != ("help",):
        return command.args[0]
    return None


def _answer(respond: Respond, result: Result) -> None:
    respond(text=fallback_text(result), blocks=to_blocks(result), response_type="ephemeral")


def _apply_template(client: WebClient, body: Mapping[str, Any]) -> None:
    view: Mapping[str, Any] = body.get("view") or {}
    actions = body.get("actions") or [{}]
    key = str((actions[0].get("selected_option") or {}).get("value", ""))
    templates = all_templates()
    if key not in templates or not view.get("id"):
        return
    meta = ModalMeta.load(view.get("private_metadata"))
    redrawn = job_modal(job=None, templates=templates, version=None, channel=meta.channel,
                        response_url=meta.response_url, prefill=templates[key],
                        template_key=key, rev=meta.rev + 1)
    try:
        client.views_update(view_id=str(view["id"]), hash=view.get("hash"), view=redrawn)
    except SlackApiError as exc:
        # hash_conflict: the form changed meanwhile (another pick); the newer one stands.
        log.info("views.update for template %s: %s", key, exc.response.get("error"))


def _confirm(client: WebClient, meta: ModalMeta, user: str, result: Result) -> None:
    """Tell the user the form was saved, ephemerally.

    Through the command's response_url first (it works in any channel, even one
    the bot is not in, but expires after 30 minutes), else chat.postEphemeral
    in the command's channel, else a DM.
    """
    text, blocks = fallback_text(result), to_blocks(result)
    if meta.response_url:
        try:
            sent = Respond(response_url=meta.response_url)(
                text=text, blocks=blocks, response_type="ephemeral")
            if sent.status_code == 200:
                return
            log.info("response_url answered %s; confirming another way", sent.status_code)
        except (OSError, SlackClientError) as exc:
            log.info("response_url failed (%s); confirming another way", exc)
    if meta.channel:
        try:
            client.chat_postEphemeral(channel=meta.channel, user=user, text=text, blocks=blocks)
            return
        except SlackApiError as exc:
            log.info("chat.postEphemeral in %s failed (%s); sending a DM", meta.channel,
                     exc.response.get("error"))
    client.chat_postMessage(channel=user, text=text, blocks=blocks)
