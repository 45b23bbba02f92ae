"""The agent's tools in a conversation turn.

- `complete_job(job, summary)`: this user reached the job's goal (stats).
- `escalate(reason)`: hand over to a person in the bot's escalation channel.
- `schedule_follow_up(when, instructions)`: a one-time task for this contact.

In a dry run (`/jobs test`) every tool only says what it would do.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.delivery import Delivery
from bot.llm.base import ToolCall
from bot.timezones import zone_or_utc
from jobs_store.conversations import ConversationStore
from jobs_store.models import Bot, Contact, Job
from jobs_store.stats import StatsStore
from jobs_store.tasks import Task, TaskStore


def function_schema(name: str, description: str, **params: str) -> dict[str, Any]:
    """A tool definition whose parameters are all required strings."""
    return {"type": "function", "function": {
        "name": name, "description": description,
        "parameters": {"type": "object",
                       "properties": {p: {"type": "string", "description": d}
                                      for p, d in params.items()},
                       "required": list(params)}}}


TURN_TOOLS = [
    function_schema("complete_job", "Record that the person reached the goal of a job.",
              job="The job's name, as in its heading.",
              summary="One line: what was done or collected."),
    function_schema("escalate", "Hand the conversation to a person on the team.",
              reason="Why a person is needed, with what they need to know."),
    function_schema("schedule_follow_up", "Plan a message to this person later.",
              when="When: an ISO date-time (2026-12-01T09:00) in the person's time zone, "
                   "or a delay such as 3d, 12h or 90m.",
              instructions="What to do then, e.g. 'Ask whether the import worked.'"),
]
_DELAY = re.compile(r"^\s*(\d{1,4})\s*([mhd])\s*$")
_MAX_AHEAD = timedelta(days=365)


@dataclass(kw_only=True)
class ToolBox:
    """Runs tool calls for one turn and remembers what they did."""

    conversation_id: str
    #: The platform user id of the person being answered.
    user: str
    contact: Contact | None
    bot: Bot
    jobs: Sequence[Job]
    now: datetime
    stats: StatsStore
    conversations: ConversationStore
    tasks: TaskStore
    delivery: Delivery | None
    #: Makes the keys of posts unique to this turn, e.g. `conversation:seq`.
    key: str
    dry_run: bool = False
    completed: list[Job] = field(default_factory=list)
    _calls: int = 0

    def schemas(self) -> list[dict[str, Any]]:
        """The tool definitions for the model."""
        return TURN_TOOLS

    def run(self, call: ToolCall) -> str:
        """Run one call; the answer goes back to the model as the tool's result."""
        self._calls += 1
        args = call.arguments if isinstance(call.arguments, dict) else {}
        if isinstance(call.arguments, str):
            return f"error: arguments must be a JSON object, got {call.arguments[:80]!r}"
        handler = {"complete_job": self._complete_job, "escalate": self._escalate,
                   "schedule_follow_up": self._schedule_follow_up}.get(call.name)
        if handler is None:
            return f"error: there is no tool named {call.name!r}"
        try:
            return handler({k: str(v) for k, v in args.items()})
        except KeyError as exc:
            return f"error: missing argument {exc.args[0]!r}"

    def _complete_job(self, args: dict[str, str]) -> str:
        wanted = args["job"].strip().lower()
        job = next((j for j in self.jobs if wanted in (j.name.lower(), j.id)), None)
        if job is None:
            names = ", ".join(j.name for j in self.jobs) or "none"
            return f"error: no job named {args['job']!r} in this conversation (jobs: {names})"
        if self.dry_run:
            return f"(dry run) would record that the user completed {job.name}"
        self.stats.record_completed(job_id=job.id, user=self.user,
                                    conversation_id=self.conversation_id,
                                    summary=args.get("summary", "")[:500], at=self.now)
        self.conversations.set_active_job(self.conversation_id, None)
        self.completed.append(job)
        return f"recorded: {job.name} completed"

    def _escalate(self, args: dict[str, str]) -> str:
        channel = self.bot.escalation_channel
        if not channel:
            return ("no escalation channel is set: tell the person you cannot hand this over "
                    "right now and that an admin can set one up")
        if self.dry_run:
            return f"(dry run) would post to {channel}"
        if self.delivery is None:
            return "error: escalation is not available here"
        who = self.contact.display_name or self.contact.user if self.contact else "someone"
        text = (f"Escalation from {who} in {self.conversation_id}:\n{args['reason'][:2000]}")
        platform = self.conversation_id.split(":", 1)[0]
        self.delivery.post(platform=platform, channel=channel, text=text,
                           key=f"escalate:{self.key}:{self._calls}")
        return f"escalated to {channel}; tell the person a teammate will follow up"

    def _schedule_follow_up(self, args: dict[str, str]) -> str:
        zone = zone_or_utc(self.contact.timezone if self.contact else None)
        try:
            due = _when(args["when"], now=self.now, zone=zone)
        except ValueError as exc:
            return f"error: {exc}"
        if self.contact is None:
            return "error: there is no contact to follow up with in this conversation"
        # The id comes from the turn and the call, so a retried turn (its reply
        # failed, or its worker died) stores the same follow-up once.
        digest = hashlib.sha256(f"{self.key}:{self._calls}".encode()).hexdigest()[:8]
        task = Task(id=f"task_{digest}",
                    name=f"Follow up with {self.contact.display_name or self.contact.user}"[:100],
                    description=args["instructions"][:10_000] or "Follow up.",
                    bot=self.bot.id, contact=self.contact.id,
                    schedule=f"once {due.isoformat()}", timezone=zone.key,
                    next_run=due, created_by=f"agent:{self.conversation_id}")
        if self.dry_run:
            return f"(dry run) would schedule a follow-up at {due:%Y-%m-%d %H:%M %Z}"
        self.tasks.create(task)
        return f"scheduled for {due:%Y-%m-%d %H:%M %Z} ({task.id})"


def _when(text: str, *, now: datetime, zone: ZoneInfo) -> datetime:
    delay = _DELAY.match(text)
    if delay:
        amount, unit = int(delay[1]), delay[2]
        due = now + {"m": timedelta(minutes=amount), "h": timedelta(hours=amount),
                     "d": timedelta(days=amount)}[unit]
    else:
        try:
            due = datetime.fromisoformat(text.strip())
        except ValueError:
            raise ValueError(f"'when' must be an ISO date-time or a delay like 3d; "
                             f"not {text!r}") from None
        if due.tzinfo is None:
            due = due.replace(tzinfo=zone)
    if due <= now:
        raise ValueError("'when' is in the past")
    if due - now > _MAX_AHEAD:
        raise ValueError("'when' is more than a year ahead")
    return due.astimezone(zone)


def describe(call: ToolCall) -> str:
    """A call as one line, for logs and dry runs."""
    args = call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments)
    return f"{call.name}({args[:200]})"
