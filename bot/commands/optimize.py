"""`/jobs optimize <job>`: rewrite a job's instructions toward a good job, as a new version.

The rewrite comes from the agent's chat model (`stores.agent.llm`, model name
`stores.agent.limits.model`, as the wiring builds them), or from the offline
restructuring when there is no agent or its model is the offline one; see
`bot.optimize`. The result is saved as the job's
next version, so `/jobs undo <job>` brings the old text back.
"""

from __future__ import annotations

import logging

from bot.commands.grammar import Command
from bot.commands.registry import Caller, Stores, Subcommand
from bot.commands.results import Block, Code, Paragraph, Result
from bot.llm.base import LLM
from bot.llm.offline import OfflineModel
from bot.optimize import Optimized, rewrite

log = logging.getLogger(__name__)

OFFLINE_NOTE = ("Restructured offline, without a model: goal first, numbered steps, and what to "
                "do when the user declines or goes off-topic; your wording is kept.")


def optimize_job(stores: Stores, caller: Caller, command: Command) -> Result:
    """Rewrite the job's instructions and save them as its next version."""
    job = stores.jobs.get(command.args[0])
    llm, model = _model(stores)
    outcome = rewrite(job, llm=llm, model=model)
    how = _how(outcome, model or llm.name)
    if outcome.text == job.instructions:
        return _unchanged(job.name, job.version, how)
    # expected_version: never overwrite an edit saved while the rewrite was running.
    saved = stores.jobs.update(job.id, {"instructions": outcome.text}, actor=caller.user,
                               expected_version=job.version)
    if saved.version == job.version:
        return _unchanged(job.name, job.version, how)
    log.info("optimized job %s (v%d → v%d) by %s via %s", job.id, job.version, saved.version,
             caller.user, outcome.by)
    blocks: list[Block] = [
        Paragraph(text=how),
        Code(text=saved.instructions),
        Paragraph(text=f"Undo with /jobs undo {_quote(saved.name)}"),
    ]
    return Result(title=f"Optimized '{saved.name}' (version {job.version} → {saved.version}).",
                  blocks=tuple(blocks))


def _unchanged(name: str, version: int, how: str) -> Result:
    return Result(title=f"'{name}' is already well structured; nothing changed "
                        f"(version {version}).", blocks=(Paragraph(text=how),))


def _model(stores: Stores) -> tuple[LLM, str]:
    """The agent's model and model name; the offline model when there is no agent."""
    if stores.agent is None:
        return OfflineModel(), ""
    return stores.agent.llm, stores.agent.limits.model


def _how(outcome: Optimized, model: str) -> str:
    if outcome.by == "model":
        return (f"Rewritten by the model ({model}). Check that it kept your team's facts "
                "and invented nothing.")
    return f"{outcome.note} {OFFLINE_NOTE}" if outcome.note else OFFLINE_NOTE


def _quote(name: str) -> str:
    return f'"{name}"' if any(c.isspace() for c in name) else name


SUBCOMMANDS = [
    Subcommand(
        name="optimize", usage="optimize <job>", run=optimize_job, args=(1, 1),
        summary="Rewrite a job's instructions as a good job: goal first, numbered steps, "
                "what to do when the user declines or goes off-topic.",
        details="With a model configured, the model rewrites the instructions and keeps the "
                "team's facts; without one (or when it is down) they are only restructured: "
                "a Goal line first, steps numbered, and a line for users who decline or go "
                "off-topic added when missing. The result is saved as a new version; undo "
                "with /jobs undo <job>.",
    ),
]
