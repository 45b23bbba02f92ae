"""`/tasks trigger|cancel|executions|cancel-execution`: a task's runs.

Trigger Now queues a run at once (the schedule is untouched); while a run is
queued or running it says so and starts nothing. Cancel stops the task's run
in progress — it sends nothing more — closes its session window and leaves
the task idle with its schedule. Times are shown in the task's time zone.
"""

from __future__ import annotations

from datetime import datetime

from bot import task_runs
from bot.commands.grammar import Command
from bot.commands.registry import Caller, Stores
from bot.commands.results import Fields, Paragraph, Result, Table, count
from bot.commands.times import local_time, quote
from bot.commands.values import whole
from bot.errors import CommandError
from bot.ports import ExecutionQueue
from jobs_store.executions import Execution, ExecutionStore
from jobs_store.tasks import Task, TaskStore

MAX_LISTED = 50


def trigger(stores: Stores, caller: Caller, command: Command) -> Result:
    tasks, executions, queue = _parts(stores)
    task = tasks.get(command.args[0])
    execution, opened = task_runs.trigger(task=task, executions=executions, queue=queue,
                                          actor=caller.user)
    if not opened:
        return Result(title=f"'{task.name}' is already {execution.status} "
                            f"({execution.id}); nothing new was started.",
                      blocks=(Paragraph(text=f"Stop it with /tasks cancel {quote(task.name)}."),))
    return Result(title=f"Started '{task.name}' now ({execution.id}).", blocks=(Paragraph(
        text=f"Its schedule is unchanged. Follow it with /tasks executions {quote(task.name)}."),))


def cancel(stores: Stores, caller: Caller, command: Command) -> Result:
    tasks, executions, _ = _parts(stores)
    task = tasks.get(command.args[0])
    active = executions.active(task.id)
    if active is None:
        return Result(title=f"'{task.name}' has no run in progress; nothing to cancel.")
    cancelled = _cancel(stores, active, caller)
    if cancelled is None:
        return Result(title=f"The run {active.id} of '{task.name}' had just ended.")
    fresh = tasks.get(task.id)
    return Result(title=f"Cancelled the run {active.id} of '{task.name}'.", blocks=(Paragraph(
        text=f"The task is idle and keeps its schedule; next run: "
             f"{_local(fresh.next_run, fresh)}."),))


def cancel_execution(stores: Stores, caller: Caller, command: Command) -> Result:
    _, executions, _ = _parts(stores)
    execution = executions.get(command.args[0])
    if not execution.live:
        return Result(title=f"The run {execution.id} of '{execution.task_name}' has already "
                            f"ended ({execution.status}); nothing to cancel.")
    if _cancel(stores, execution, caller) is None:
        return Result(title=f"The run {execution.id} had just ended.")
    return Result(title=f"Cancelled the run {execution.id} of '{execution.task_name}'.")


def list_executions(stores: Stores, caller: Caller, command: Command) -> Result:
    tasks, executions, _ = _parts(stores)
    task = tasks.get(command.args[0])
    n = whole(command.args[1], field="n", low=1, high=MAX_LISTED) if len(command.args) > 1 else 10
    runs = executions.list(task.id, limit=n)
    if not runs:
        return Result(title=f"'{task.name}' has not run yet.", blocks=(Paragraph(
            text=f"Next run: {_local(task.next_run, task)}. Run it now with /tasks trigger "
                 f"{quote(task.name)}."),))
    rows = tuple((r.id, r.status, _local(r.started or r.due or r.queued_at, task), _took(r),
                  f"{r.iterations:,}", _summary(r)) for r in runs)
    return Result(title=f"{count(len(runs), 'latest run')} of '{task.name}'", blocks=(
        Table(columns=("execution", "status", "started", "took", "iterations", "outcome"),
              rows=rows),))


def describe_active(stores: Stores, task: Task) -> Fields | None:
    """The run in progress, for `/tasks show`."""
    if stores.executions is None:
        return None
    active = stores.executions.active(task.id)
    if active is None:
        return None
    return Fields(pairs=(("running now", f"{active.id} ({active.status}, "
                                         f"{active.iterations:,} iterations)"),))


def _cancel(stores: Stores, execution: Execution, caller: Caller) -> Execution | None:
    tasks, executions, queue = _parts(stores)
    return task_runs.cancel(execution=execution, executions=executions, tasks=tasks,
                            conversations=stores.conversations, queue=queue, actor=caller.user)


def _parts(stores: Stores) -> tuple[TaskStore, ExecutionStore, ExecutionQueue]:
    if stores.tasks is None or stores.executions is None or stores.execution_queue is None:
        raise CommandError("Task runs are not set up in this process.")
    return stores.tasks, stores.executions, stores.execution_queue


def _local(when: datetime | None, task: Task) -> str:
    return local_time(when, task.timezone)


def _took(run: Execution) -> str:
    seconds = run.duration_s()
    if seconds is None:
        return "-"
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def _summary(run: Execution) -> str:
    text = run.outcome or run.error or run.note or "-"
    return text if len(text) <= 120 else text[:119] + "…"
