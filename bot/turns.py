"""One agent turn: answer a conversation's pending messages.

match jobs → build the prompt → agent loop (model + tools) → reply once →
record the reply, what was answered, the jobs referenced, and unmatched
questions (gaps).

When the model cannot answer (after the SDK's retries) the person gets a short
apology with what the offline model would say; their messages stay pending
and are answered with their next message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from redis.client import Pipeline

from bot.agent import run_agent
from bot.delivery import Delivery
from bot.llm.base import LLM, ModelError
from bot.matcher import JobMatcher, Match
from bot.prompt import MAX_INJECTED, MAX_LISTED, TurnContext, build_messages
from bot.sessions import open_session, task_section
from bot.tools import ToolBox
from jobs_store import DEFAULT_BOT_ID, BotStore, ContactStore, ConversationStore, JobStore
from jobs_store.executions import ExecutionStore
from jobs_store.models import Bot, Contact, Job, Turn, now_utc
from jobs_store.rates import RateCounter
from jobs_store.stats import StatsStore
from jobs_store.tasks import Task, TaskStore

log = logging.getLogger(__name__)

Outcome = Literal["answered", "nothing", "failed", "limited"]
RATE_NOTICE = ("You're writing faster than I can answer well, so I'm pausing for a minute. "
               "I've kept everything you wrote and will answer it with your next message "
               "after that.")
APOLOGY = ("Sorry, I can't reach my language model right now. I've kept your message and "
           "will answer it properly with your next one.")


@dataclass(frozen=True, kw_only=True)
class TurnLimits:
    """Per-turn limits (settings)."""

    model: str
    max_iterations: int = 8
    max_seconds: float = 60.0
    history_tokens: int = 3000
    #: Turns one person may start a minute (0: no limit).
    turns_per_minute: int = 0


@dataclass(frozen=True, kw_only=True)
class Agent:
    """What a turn needs; built once per process by the wiring."""

    jobs: JobStore
    bots: BotStore
    contacts: ContactStore
    conversations: ConversationStore
    stats: StatsStore
    tasks: TaskStore
    executions: ExecutionStore
    matcher: JobMatcher
    llm: LLM
    offline: LLM
    delivery: Delivery | None
    limits: TurnLimits
    clock: Callable[[], datetime] = now_utc
    #: Counts turns per person for `limits.turns_per_minute`.
    rates: RateCounter | None = None


@dataclass(frozen=True)
class Plan:
    """What a turn would do: the jobs, the prompt, and the reply (dry runs show it)."""

    bot: Bot
    contact: Contact | None
    matches: list[Match]
    context: TurnContext


def answer_pending(conversation_id: str, agent: Agent) -> Outcome:
    """Answer every message of the conversation not answered yet."""
    state, history = agent.conversations.state_and_turns(conversation_id)
    if state.received <= state.answered:
        return "nothing"
    pending = [t for t in history if t.role == "user" and t.seq > state.answered]
    # Messages that came while the last turn ran sit before its reply: the model must
    # see them after it, as what is still to answer.
    history = [t for t in history if t not in pending] + pending
    if not pending:  # trimmed away by the history cap; nothing left to answer
        agent.conversations.mark_answered(conversation_id, state.received)
        return "nothing"
    # What this turn read (counters and history together) is what it answers.
    upto = max(t.seq for t in pending)
    now = agent.clock()
    if _over_rate(agent, conversation_id, user=pending[-1].user, now=now,
                  answered=state.answered):
        return "limited"
    session = open_session(conversations=agent.conversations, tasks=agent.tasks,
                           executions=agent.executions, conversation_id=conversation_id,
                           window=state.window, now=now)
    plan = plan_turn(agent, conversation_id=conversation_id, history=history,
                     text="\n".join(t.text for t in pending), user=pending[-1].user,
                     active_job=state.active_job, now=now,
                     bot=bot_for_task(agent, session.task) if session else None)
    max_iterations = agent.limits.max_iterations
    if session is not None:  # a turn of the execution that opened the window
        plan = replace(plan, context=replace(plan.context, extra=task_section(
            session.task, execution=session.execution, target="",
            previous_outcome=session.execution.outcome or session.task.last_outcome,
            replying=True)))
        max_iterations = min(max_iterations, session.iterations_left)
    toolbox = _toolbox(agent, plan, conversation_id, user=pending[-1].user,
                       key=f"{conversation_id}:{upto}", now=now)
    messages = build_messages(plan.context, history_tokens=agent.limits.history_tokens)
    working = {"conversation_id": conversation_id, "message_id": pending[-1].message_id}
    if agent.delivery is not None:
        agent.delivery.working(**working, active=True)
    try:
        result = run_agent(llm=agent.llm, model=plan.bot.model or agent.limits.model,
                           messages=messages, tools=toolbox.schemas(), run_tool=toolbox.run,
                           max_iterations=max_iterations,
                           max_seconds=agent.limits.max_seconds)
    except ModelError as exc:
        log.warning("turn failed in %s: %s", conversation_id, exc)
        _send(agent, conversation_id, _apology(agent, plan),
              key=f"apology:{conversation_id}:{upto}", answered=state.answered)
        return "failed"
    finally:
        if agent.delivery is not None:
            agent.delivery.working(**working, active=False)
    if session is not None:
        agent.executions.note_progress(session.execution.id, iterations=result.iterations)
    text = result.text.strip() or ("Done." if result.tool_calls else "Sorry, I have no answer.")
    jobs = plan.context.jobs
    # The conversation follows the best job until it is completed (`complete_job`).
    follow = jobs[0].id if jobs and jobs[0] not in toolbox.completed else None
    _send(agent, conversation_id, text, key=f"reply:{conversation_id}:{upto}", answered=upto,
          active_job=follow,
          record=lambda pipe: _record(agent, plan, conversation_id, user=pending[-1].user,
                                      text="\n".join(t.text for t in pending), now=now,
                                      pipe=pipe))
    log.info("answered %s (%d iterations, %s)", conversation_id, result.iterations, result.stopped)
    return "answered"


def plan_turn(
    agent: Agent, *, conversation_id: str, history: Sequence[Turn], text: str, user: str,
    active_job: str | None, now: datetime, bot: Bot | None = None, draft: bool = False,
) -> Plan:
    """Choose the bot and jobs for `text` and assemble the prompt context."""
    platform, workspace, channel, *_ = conversation_id.split(":")
    if bot is None:
        bots = agent.bots.list()
        bot = choose_bot(bots, channel) or next(
            (b for b in bots if b.id == DEFAULT_BOT_ID), None) or agent.bots.get()
    attached = bot.draft_jobs if draft else bot.live_jobs
    if attached:
        library, key = agent.jobs.get_many(attached), None
    else:
        revision, library = agent.jobs.snapshot()
        key = ("library", revision)
    contact = agent.contacts.get(f"{platform}:{workspace}:{user}")
    matches = agent.matcher.rank(library, text, contact=contact, now=now, key=key,
                                 limit=MAX_INJECTED + MAX_LISTED, in_progress=active_job)
    injected = [m.job for m in matches[:MAX_INJECTED]]
    others = [m.job for m in matches[MAX_INJECTED:]]
    if len(library) <= MAX_LISTED:  # a small library: name all of it
        named = {job.id for job in (*injected, *others)}  # ids: cheaper than comparing jobs
        others += [job for job in library if job.id not in named]
    context = TurnContext(bot=bot, contact=contact, now=now, jobs=injected,
                          candidates=others[:MAX_LISTED], history=history)
    return Plan(bot=bot, contact=contact, matches=matches, context=context)


def choose_bot(bots: Sequence[Bot], channel: str) -> Bot | None:
    """The bot that claims `channel`, if any (else the default bot answers)."""
    return next((bot for bot in bots if channel in bot.channels), None)


def bot_for_task(agent: Agent, task: Task) -> Bot:
    """The bot that runs `task`: its own, else (also when deleted) the default bot."""
    found = next((b for b in agent.bots.list() if b.id == task.bot), None) if task.bot else None
    return found or agent.bots.get()


def _toolbox(agent: Agent, plan: Plan, conversation_id: str, *, user: str, key: str,
             now: datetime) -> ToolBox:
    return ToolBox(conversation_id=conversation_id, user=user, contact=plan.contact,
                   bot=plan.bot, jobs=plan.context.jobs, now=now, stats=agent.stats,
                   conversations=agent.conversations, tasks=agent.tasks,
                   delivery=agent.delivery, key=key)


def _over_rate(agent: Agent, conversation_id: str, *, user: str, now: datetime,
               answered: int) -> bool:
    """Count this turn for `user`; True (with one notice a minute) when over the limit."""
    limit = agent.limits.turns_per_minute
    if not limit or agent.rates is None:
        return False
    platform, workspace, *_ = conversation_id.split(":")
    minute = int(now.timestamp() // 60)
    count = agent.rates.hit(platform, f"{workspace}:{user}", minute=minute)
    if count <= limit:
        return False
    if count == limit + 1:
        log.warning("%s user %s started over %d turns this minute; pausing their turns",
                    platform, user, limit)
        _send(agent, conversation_id, RATE_NOTICE,
              key=f"rate:{platform}:{workspace}:{user}:{minute}", answered=answered)
    return True


def _apology(agent: Agent, plan: Plan) -> str:
    try:
        hint = agent.offline.complete(messages=build_messages(plan.context), tools=[],
                                      model="offline").text
    except ModelError:
        hint = ""
    return f"{APOLOGY}\n\nMeanwhile: {hint}" if hint else APOLOGY


def _send(agent: Agent, conversation_id: str, text: str, *, key: str, answered: int,
          active_job: str | None = None, record: Callable[[Pipeline], None] | None = None,
          ) -> None:
    """Reply once, then keep the reply, what it answered and (`record`) its stats in one
    transaction."""
    if agent.delivery is not None:
        agent.delivery.reply(conversation_id=conversation_id, text=text, key=key)
    agent.conversations.append_reply(conversation_id, Turn(role="assistant", text=text),
                                     answered=answered, active_job=active_job, also=record)


def _record(agent: Agent, plan: Plan, conversation_id: str, *,
            user: str, text: str, now: datetime, pipe: Pipeline) -> None:
    jobs: Sequence[Job] = plan.context.jobs
    if jobs:
        agent.stats.record_referenced(job_ids=[j.id for j in jobs],
                                      conversation_id=conversation_id, user=user, at=now,
                                      pipe=pipe)
    else:
        agent.stats.record_gap(text=text, conversation_id=conversation_id, user=user, at=now,
                               pipe=pipe)
