"""`/jobs optimize <job>`: rewrite a job's instructions toward a good job, as a new version.

The rewrite comes from the chat model in `stores.llm` (model name
`stores.model`), or from the offline restructuring when there is no model or
it is the offline one; see `bot.optimize`. The result is saved as the job's
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
    # `llm` and `model` are read with getattr so this works with a `Stores` that
    # does not carry a model: then the offline restructuring does the work.
    llm: LLM = getattr(stores, "llm", None) or OfflineModel()
    model = str(getattr(stores, "model", "") or "")
    outcome = rewrite(job, llm=llm, model=model)
    how = _how(outcome, model or llm.name)
    if outcome.text == job.instructions:
        return Result(title=f"'{job.name}' is already well structured; nothing changed "
                            f"(version {job.version}).", blocks=(Paragraph(text=how),))
    # expected_version: never overwrite an edit saved while the rewrite was running.
    saved = stores.jobs.update(job.id, {"instructions": outcome.text}, actor=caller.user,
                               expected_version=job.version)
    if saved.version == job.version:
        return Result(title=f"'{job.name}' is already well structured; nothing changed "
                            f"(version {job.version}).", blocks=(Paragraph(text=how),))
    log.info("optimized job %s (v%d → v%d) by %s via %s", job.id, job.version, saved.version,
             caller.user, outcome.by)
    blocks: list[Block] = [
        Paragraph(text=how),
        Code(text=saved.instructions),
        Paragraph(text=f"Undo with /jobs undo {_quote(saved.name)}"),
    ]
    return Result(title=f"Optimized '{saved.name}' (version {job.version} → {saved.version}).",
                  blocks=tuple(blocks))


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
