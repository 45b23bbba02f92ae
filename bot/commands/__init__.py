"""Admin commands: one grammar and one set of handlers for every platform.

`run_command("jobs", text, caller=…, stores=…)` parses, checks permission and
limits, runs the handler and returns a platform-neutral `Result`.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.commands import bots, jobs, tasks
from bot.commands.registry import Caller, Group, Stores
from bot.commands.results import Result

GROUPS: dict[str, Group] = {group.name: group for group in (jobs.GROUP, bots.GROUP, tasks.GROUP)}


def run_command(
    group: str, command: str | Sequence[str], *, caller: Caller, stores: Stores
) -> Result:
    """Run `/{group} {command}` for `caller`; refusals come back with `ok=False`."""
    found = GROUPS.get(group.lstrip("/"))
    if found is None:
        return Result.refused(f"Unknown command /{group.lstrip('/')}; use one of: "
                              + ", ".join(f"/{name}" for name in GROUPS) + ".")
    return found.run(stores, caller, command)


__all__ = ["GROUPS", "Caller", "Result", "Stores", "run_command"]
