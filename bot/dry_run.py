"""Dry runs: what the agent would match and reply, with nothing posted or stored.

Used by `/jobs test <text>` and `chatjobs jobs match`. It ranks the bot's
*draft* attachments (or the whole library when the draft is empty), so admins
can try a change before `/jobs publish`. Tools only say what they would do.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.agent import run_agent
from bot.llm.base import LLM, ModelError
from bot.matcher import Match
from bot.prompt import build_messages
from bot.tools import ToolBox
from bot.turns import Agent, plan_turn
from jobs_store.models import Bot, Contact, Turn

_CONVERSATION = "console:dry-run:test:"


@dataclass(frozen=True)
class DryRun:
    """The matches above the threshold, best first, and the reply."""

    bot: Bot
    matches: list[Match]
    reply: str


def dry_run(agent: Agent, text: str, *, bot: Bot, contact: Contact | None = None,
            with_reply: bool = True) -> DryRun:
    """Match `text` against `bot`'s draft jobs and, if asked, produce the reply.

    `contact` (a stored contact) decides audience rules; without one, jobs with
    a rule are not offered, as for a stranger.
    """
    now = agent.clock()
    user = contact.user if contact else "admin"
    conversation = (f"{contact.platform}:{contact.workspace}:dry-run:" if contact
                    else _CONVERSATION)
    plan = plan_turn(agent, conversation_id=conversation,
                     history=[Turn(role="user", text=text, user=user, ts=now)], text=text,
                     user=user, active_job=None, now=now, bot=bot, draft=True)
    matches = [m for m in plan.matches if m.score >= agent.matcher.threshold]
    if not with_reply:
        return DryRun(bot=bot, matches=matches, reply="")
    toolbox = ToolBox(conversation_id=conversation, user=user, contact=plan.contact, bot=bot,
                      jobs=plan.context.jobs, now=now, stats=agent.stats,
                      conversations=agent.conversations, tasks=agent.tasks, delivery=None,
                      key="dry-run", dry_run=True)
    messages = build_messages(plan.context, history_tokens=agent.limits.history_tokens)

    def reply_with(llm: LLM) -> str:
        return run_agent(llm=llm, model=bot.model or agent.limits.model, messages=list(messages),
                         tools=toolbox.schemas(), run_tool=toolbox.run,
                         max_iterations=agent.limits.max_iterations,
                         max_seconds=agent.limits.max_seconds).text

    try:
        reply = reply_with(agent.llm)
    except ModelError as exc:
        reply = f"(the model did not answer: {exc}; offline, it would say:) " + reply_with(
            agent.offline)
    return DryRun(bot=bot, matches=matches, reply=reply)
