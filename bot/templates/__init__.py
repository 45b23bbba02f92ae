"""Built-in job templates, shipped as `templates.yaml` beside this file.

`/jobs templates` lists them; `/jobs create template=<key>` starts a job from
one, and any field given beside `template=` replaces the template's value.
"""

from __future__ import annotations

import difflib
from functools import cache
from importlib import resources
from typing import Any

import yaml

from jobs_store.errors import NotFound
from jobs_store.models import JOB_FIELDS


@cache
def all_templates() -> dict[str, dict[str, str]]:
    """Template key → its job fields, in file order."""
    text = resources.files(__package__).joinpath("templates.yaml").read_text("utf-8")
    entries: list[dict[str, Any]] = yaml.safe_load(text)["templates"]
    return {
        str(entry["key"]): {field: str(entry[field]).strip() for field in JOB_FIELDS
                            if field in entry}
        for entry in entries
    }


def template(key: str) -> dict[str, str]:
    """The job fields of the template `key` (any case); `NotFound` names the choices."""
    templates = all_templates()
    wanted = key.strip().lower()
    if wanted in templates:
        return dict(templates[wanted])
    by_name = {fields["name"].lower(): k for k, fields in templates.items()}
    if wanted in by_name:
        return dict(templates[by_name[wanted]])
    close = difflib.get_close_matches(wanted, list(templates), n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    raise NotFound(
        f"template: no template '{key}'.{hint} Choose one of: {', '.join(templates)}."
    )
