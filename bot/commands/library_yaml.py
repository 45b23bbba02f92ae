"""Jobs as code: the YAML that `/jobs export` writes and `/jobs import` reads.

    jobs:
      - name: Take a message
        trigger: leave a message, tell someone I called
        instructions: |-
          Goal: ...
          1. ...

Empty fields are left out. Import takes this document (or a bare list of
jobs) and matches jobs by name, any case.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import yaml

from bot.commands.results import count
from bot.errors import InvalidInput
from jobs_store.models import JOB_FIELDS, Job


class _Dumper(yaml.SafeDumper):
    """Writes multi-line text as literal blocks, so instructions stay readable."""


#: Characters YAML reads as line breaks, which a block scalar would not keep.
_YAML_BREAKS = ("\r", "\x85", "\u2028", "\u2029")


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = None
    if any(ch in value for ch in _YAML_BREAKS):
        style = '"'  # escaped, so they come back exactly
    elif "\n" in value:
        style = "|"
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def dump(jobs: list[Job], *, now: datetime) -> str:
    """The jobs as one YAML document, with a comment saying what it is."""
    body = {"jobs": [{f: getattr(job, f) for f in JOB_FIELDS if getattr(job, f)} for job in jobs]}
    when = f"{now:%Y-%m-%d %H:%M} UTC"
    header = f"# chatjobs job library: {count(len(jobs), 'job')}, exported {when}\n"
    return header + yaml.dump(body, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


def load(text: str) -> list[dict[str, str]]:
    """Read an export; raise `InvalidInput` naming the job and field at fault."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", exc)
        raise InvalidInput("import", f"not valid YAML{where}: {problem}") from None
    items: Any = document.get("jobs") if isinstance(document, dict) else document
    if not isinstance(items, list) or not items:
        raise InvalidInput("import", "expected a 'jobs:' list with at least one job "
                                     "(see /jobs export for the format)")
    jobs = []
    for position, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise InvalidInput(f"job {position}", "each job must be a mapping of field: value")
        job: dict[str, str] = {}
        for field, value in item.items():
            if field not in JOB_FIELDS:
                raise InvalidInput(f"job {position}: {field}",
                                   f"is not a job field; use {', '.join(JOB_FIELDS)}")
            if value is None:
                continue
            if isinstance(value, bool):
                raise InvalidInput(f"job {position}: {field}",
                                   "must be text; YAML reads yes/no/true/false unquoted as "
                                   "a yes-or-no value, so put it in quotes")
            if not isinstance(value, str | int | float):
                raise InvalidInput(f"job {position}: {field}", "must be text")
            job[str(field)] = str(value)
        jobs.append(job)
    return jobs
