"""Session windows: the conversation a task's execution spoke in stays with it a while.

After an execution sends a message, its conversation belongs to that
execution until now + the task's session duration. The contact's replies
inside the window are turns of the execution: the task's instructions go in
the prompt and the model calls count against the task's iteration limit. When
the window closes, or the limit is used up, the conversation is an ordinary
one again.

This module holds what both the execution and the turns need: the task's
prompt section and the lookup of an open window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from jobs_store.conversations import ConversationStore, Session
from jobs_store.executions import Execution, ExecutionStore
from jobs_store.tasks import Task, TaskStore


@dataclass(frozen=True)
class OpenSession:
    """The task and execution a conversation's turn belongs to, and the calls left."""

    task: Task
    execution: Execution
    #: Model calls the task's limit still allows.
    iterations_left: int


def open_session(*, conversations: ConversationStore, tasks: TaskStore,
                 executions: ExecutionStore, conversation_id: str, window: Session | None,
                 now: datetime) -> OpenSession | None:
    """The session `window` of the conversation (as read with its state) if it is open
    at `now` and has calls left.

    A window whose task or execution is gone, or whose execution used up the
    task's iterations, is closed here.
    """
    if window is None or window.until <= now:
        return None
    task = tasks.find(window.task)
    execution = executions.find(window.execution)
    left = (task.max_iterations - execution.iterations) if task and execution else 0
    if task is None or execution is None or left <= 0 or execution.status == "cancelled":
        conversations.close_session(conversation_id, execution=window.execution)
        return None
    return OpenSession(task=task, execution=execution, iterations_left=left)


def task_section(task: Task, *, execution: Execution, previous_outcome: str,
                 target: str, replying: bool) -> str:
    """The prompt section of a task: what to do, its fields, the last run's outcome."""
    lines = [f"## Task: {task.name} [execution: {execution.id}]"]
    if replying:
        lines.append("You are in a conversation you started for this scheduled task; the "
                     "person is replying to you. Answer them as the task's instructions say. "
                     "Your reply is sent to them.")
    else:
        lines.append(f"You are carrying out this scheduled task on your own: nobody has "
                     f"written to you. Its target is {target}. Use send_message to write to "
                     "them; it is the only way your words reach anyone. When the task is "
                     "done, call finish with a one-line outcome (the next run sees it).")
    lines += ["Instructions:", task.description.strip()]
    if task.meta:
        lines.append("Task fields: " + ", ".join(f"{k}={v}" for k, v in sorted(task.meta.items())))
    lines.append(f"Outcome of the previous run: {previous_outcome or 'none (first run)'}")
    return "\n".join(lines)
