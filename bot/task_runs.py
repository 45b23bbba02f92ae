"""Task executions: carry out a task's instructions, trigger and cancel runs.

An execution runs the agent loop with the task's instructions, the bot's
persona, the contact's facts, the task's meta fields and the previous run's
outcome in the prompt, and the tools `send_message(text)` and
`finish(outcome)` beside the turn tools. It ends:

- `succeeded` when the model finishes (with `finish`, or by answering; an
  answer that was not sent with `send_message` becomes the outcome);
- `limit_reached` at the task's iteration limit (its session's turns count);
- `timed_out` at the task's time limit;
- `cancelled` when an admin cancels it: the run checks before every model
  call and every message, so nothing more is sent after a cancel;
- `failed` when the model or the platform fails (after their retries).

Every message is sent once (a key per execution and message number), and
opens the session window on its conversation (`bot.sessions`).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from bot.agent import run_agent
from bot.errors import ChatjobsError
from bot.llm.base import LLM, Completion, Message, ModelError, ToolCall
from bot.ports import ExecutionQueue
from bot.prompt import build_messages
from bot.sessions import task_section
from bot.tools import TURN_TOOLS, ToolBox, function_schema
from bot.turns import Agent, bot_for_task, plan_turn
from jobs_store.conversations import ConversationStore, Session
from jobs_store.executions import Execution, ExecutionStatus, ExecutionStore
from jobs_store.models import Turn
from jobs_store.records import new_id
from jobs_store.tasks import Task, TaskStore

log = logging.getLogger(__name__)

TASK_TOOLS = [
    function_schema("send_message", "Send a message to the task's contact (as a direct "
                                    "message) or to its channel.",
                    text="The message, in Markdown."),
    function_schema("finish", "End this run of the task.",
                    outcome="One line: what happened. The next run of the task sees it."),
]
KICKOFF = "(Scheduled run: carry out the task now.)"
#: Where a task without a contact or channel is planned: no platform, no contact.
_NOWHERE = "console:tasks:none:"
#: Extra seconds RQ allows a run beyond the task's own time limit.
QUEUE_SLACK_S = 60


_ENDINGS: dict[str, ExecutionStatus] = {"answered": "succeeded",
                                        "iteration_limit": "limit_reached",
                                        "time_limit": "timed_out"}


class Cancelled(ChatjobsError):
    """The execution was cancelled while it ran."""


def execution_id(task_id: str, due: datetime) -> str:
    """The id of the run of `task_id` due at `due`: the same for every scheduler."""
    digest = hashlib.sha256(f"{task_id}:{int(due.timestamp() * 1000)}".encode()).hexdigest()
    return f"exec_{digest[:12]}"


def queue_timeout(task: Task) -> float:
    """How long the queue lets a run of `task` take."""
    return task.max_time.total_seconds() + QUEUE_SLACK_S


# --- trigger and cancel (the /tasks commands) ----------------------------------


def trigger(*, task: Task, executions: ExecutionStore, queue: ExecutionQueue,
            actor: str) -> tuple[Execution, bool]:
    """Queue a run of `task` now; with False, the run already in progress instead."""
    execution, opened = executions.open(Execution(
        id=new_id("exec"), task=task.id, task_name=task.name, trigger="manual",
        queued_at=executions.clock(), note=f"triggered by {actor}"))
    if opened:
        queue.enqueue({execution.id: queue_timeout(task)})
    return execution, opened


def cancel(*, execution: Execution, executions: ExecutionStore, tasks: TaskStore,
           conversations: ConversationStore | None, queue: ExecutionQueue | None,
           actor: str) -> Execution | None:
    """Cancel a queued or running execution; None when it had already ended.

    Its session window closes and its task returns to idle; the schedule is kept.
    """
    cancelled = executions.finish(execution.id, "cancelled", note=f"cancelled by {actor}")
    if cancelled is None:
        return None
    if queue is not None:
        queue.discard(execution.id)
    if cancelled.conversation and conversations is not None:
        conversations.close_session(cancelled.conversation, execution=execution.id)
    tasks.record_run(execution.task, status="idle")
    log.info("execution %s of task %s cancelled by %s", execution.id, execution.task, actor)
    return cancelled


# --- carrying out a run -----------------------------------------------------------


def carry_out(execution_id: str, agent: Agent) -> Execution | None:
    """Run a queued execution to its end; None when it is not queued (any more).

    Idempotent: a second call for the same execution does nothing.
    """
    executions = agent.executions
    started = executions.start(execution_id)
    if started is None:
        log.info("execution %s is not queued; nothing to do", execution_id)
        return None
    task = agent.tasks.find(started.task)
    if task is None:
        return executions.finish(execution_id, "failed", error="the task was deleted")
    agent.tasks.record_run(task.id, status="running", last_run=started.started)
    run = _Run(agent=agent, task=task, execution=started)
    status: ExecutionStatus = "failed"
    outcome = error = ""
    try:
        status, outcome = run.go()
    except Cancelled:
        status = "cancelled"
    except ModelError as exc:
        error = f"the model failed: {exc}"
    except ChatjobsError as exc:
        error = str(exc)
    except Exception as exc:
        log.exception("execution %s failed", execution_id)
        error = f"unexpected error: {type(exc).__name__}"
    finished = executions.finish(execution_id, status, outcome=outcome, error=error)
    agent.tasks.record_run(task.id, status="idle",
                           outcome=(finished.outcome or finished.error) if finished else None)
    log.info("execution %s of %s ended: %s", execution_id, task.name,
             finished.status if finished else "cancelled")
    return finished


@dataclass(kw_only=True)
class _Run:
    """One execution in progress: its tools and what they did."""

    agent: Agent
    task: Task
    execution: Execution
    conversation: str = ""
    outcome: str | None = None
    sent: int = 0
    _calls: int = 0
    _toolbox: ToolBox | None = field(default=None, repr=False)

    def go(self) -> tuple[ExecutionStatus, str]:
        agent, task = self.agent, self.task
        now = agent.clock()
        self.conversation = self._target()
        plan = plan_turn(agent, conversation_id=self.conversation or _NOWHERE,
                         history=[], text=task.description, user=self._user(),
                         active_job=None, now=now, bot=bot_for_task(agent, task))
        context = replace(plan.context, history=[], extra=task_section(
            task, execution=self.execution, previous_outcome=task.last_outcome,
            target=self._describe_target(), replying=False))
        messages: list[Message] = [*build_messages(context),
                                   {"role": "user", "content": KICKOFF}]
        self._toolbox = ToolBox(
            conversation_id=self.conversation, user=self._user(), contact=plan.contact,
            bot=plan.bot, jobs=plan.context.jobs, now=now, stats=agent.stats,
            conversations=agent.conversations, tasks=agent.tasks, delivery=agent.delivery,
            key=f"{self.execution.id}")
        result = run_agent(
            llm=_Metered(self), model=plan.bot.model or agent.limits.model, messages=messages,
            tools=[*TASK_TOOLS, *TURN_TOOLS], run_tool=self._run_tool,
            max_iterations=max(task.max_iterations - self.execution.iterations, 1),
            max_seconds=task.max_time.total_seconds())
        if self.outcome is not None:
            return "succeeded", self.outcome
        return _ENDINGS[result.stopped], result.text.strip()

    # --- tools ---------------------------------------------------------------------

    def _run_tool(self, call: ToolCall) -> str:
        self._calls += 1
        args = call.arguments if isinstance(call.arguments, dict) else {}
        if call.name == "send_message":
            return self._send_message(str(args.get("text", "")))
        if call.name == "finish":
            self.outcome = str(args.get("outcome", "")).strip()[:2000] or "finished"
            return "finished: the run ends now; say nothing more"
        assert self._toolbox is not None
        return self._toolbox.run(call)

    def _send_message(self, text: str) -> str:
        if not text.strip():
            return "error: give the text of the message"
        if not self.conversation or self.agent.delivery is None:
            return ("error: this task has no contact or channel to write to; call finish "
                    "with what you would have said")
        self.check_cancelled()
        self.sent += 1
        self.agent.delivery.reply(conversation_id=self.conversation, text=text,
                                  key=f"{self.execution.id}:message:{self.sent}")
        self._record_sent(text)
        return "sent"

    def _record_sent(self, text: str) -> None:
        agent, now = self.agent, self.agent.clock()
        state = agent.conversations.state(self.conversation)
        # The message joins the conversation's history without answering anything
        # the person wrote meanwhile.
        agent.conversations.append_reply(self.conversation, Turn(role="assistant", text=text),
                                         answered=state.answered)
        agent.conversations.open_session(self.conversation, Session(
            task=self.task.id, execution=self.execution.id, until=now + self.task.session))
        agent.executions.note_progress(self.execution.id, messages=1,
                                       conversation=self.conversation)

    # --- where and who ---------------------------------------------------------------

    def _target(self) -> str:
        delivery, task = self.agent.delivery, self.task
        if delivery is None or not (task.contact or task.channel):
            return ""
        platform, *rest = (task.contact or task.channel or "").split(":")
        workspace, ident = (rest[0], rest[1]) if len(rest) == 2 else ("", rest[0])
        if task.contact:
            return delivery.direct(platform=platform, workspace=workspace, user=ident)
        return delivery.channel(platform=platform, workspace=workspace, channel=ident)

    def _user(self) -> str:
        return (self.task.contact or "").rsplit(":", 1)[-1]

    def _describe_target(self) -> str:
        if self.task.contact:
            return f"the contact {self.task.contact}, by direct message"
        if self.task.channel:
            return f"the channel {self.task.channel}"
        return "no one (the task has no contact or channel)"

    def check_cancelled(self) -> None:
        """Raise `Cancelled` unless the execution is still running."""
        current = self.agent.executions.find(self.execution.id)
        if current is None or current.status != "running":
            raise Cancelled(f"execution {self.execution.id} is {current and current.status}")


class _Metered:
    """The model, counted against the task's limit, and stopped by a cancel or `finish`."""

    def __init__(self, run: _Run) -> None:
        self._run = run
        self.name = run.agent.llm.name

    def complete(self, *, messages: list[Message], tools: list[dict[str, Any]],
                 model: str, timeout: float | None = None) -> Completion:
        run = self._run
        if run.outcome is not None:  # `finish` was called: no more model calls
            return Completion(text=run.outcome)
        run.check_cancelled()
        run.agent.executions.note_progress(run.execution.id, iterations=1)
        llm: LLM = run.agent.llm
        return llm.complete(messages=messages, tools=tools, model=model, timeout=timeout)
