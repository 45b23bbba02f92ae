"""The job form: a Slack modal for `/jobs create` and `/jobs edit <job>` without fields.

`job_modal(...)` builds the view; `parse_submission(view)` reads the fields
back; `field_blocks(view)` maps each field to its block id, so a store refusal
(`InvalidInput.field`) is shown under the offending input. The listeners that
open, update and submit the form live in `adapters.slack.commands`.

Slack quirks this module works around:

- `plain_text_input` holds at most 3,000 characters, while instructions may
  have 10,000. The form caps instructions at 3,000; when an existing job's
  instructions are longer, the input is left out (they stay unchanged) and a
  note says how to change them.
- `views.update` keeps what the user typed in any input whose `block_id` is
  unchanged and ignores the new `initial_value`. Choosing a template must
  replace the inputs, so each redraw gets block ids with a new suffix
  (`name`, `name-1`, `name-2`, …), counted in `private_metadata`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from jobs_store.models import JOB_FIELDS, LIMITS, RULE_HELP, Job

CALLBACK_ID = "chatjobs_job_modal"
#: action_id of the template picker (a block_actions event redraws the form).
TEMPLATE_ACTION = "chatjobs_job_template"
TEMPLATE_BLOCK = "template"
#: action_id of every text input; the block id names the field.
VALUE_ACTION = "value"
#: Slack's cap on a plain_text_input (its `max_length` may not exceed this).
INPUT_MAX = 3000
#: Slack's caps on a static_select: options, option text, option value.
_OPTIONS_MAX, _OPTION_TEXT_MAX, _OPTION_VALUE_MAX = 100, 75, 150

_LABELS = {
    "name": "Name",
    "description": "Description",
    "trigger": "Trigger: what users say",
    "instructions": "Instructions",
    "audience": "Audience",
    "rule": "Audience rule",
}
_PLACEHOLDERS = {
    "name": "Take a message",
    "description": "Takes a message for someone who is away and passes it on.",
    "trigger": "leave a message, tell Ana I called, can you pass something on",
    "instructions": "Goal: …\n1. Ask who the message is for.\n2. …",
    "audience": "Everyone",
    "rule": "first_seen_within=7d platform=slack",
}
_MULTILINE = frozenset({"description", "trigger", "instructions", "audience"})
_REQUIRED = frozenset(f for f in JOB_FIELDS if LIMITS[f][0] > 0)


def _hint(field: str) -> str:
    low, high = LIMITS[field]
    shown = min(high, INPUT_MAX)
    limit = f"{low:,}–{shown:,} characters" if low else f"Up to {shown:,} characters"
    if field == "name":
        return f"{limit}, one line; unique in the library (any case)."
    if field == "description":
        return f"What the job is for. {limit}."
    if field == "trigger":
        return f"What users say when they want this; the matcher compares messages to it. {limit}."
    if field == "instructions":
        return (f"Goal first, then numbered steps (one action or question each), and what to do "
                f"when the user declines or goes off-topic. {limit} here; longer instructions "
                f"(up to {high:,}) can be set with /jobs edit <job> instructions=\"…\" or "
                "/jobs import.")
    if field == "audience":
        return f"Who the job is for, in words, e.g. trial users in their first 7 days. {limit}."
    if field == "rule":
        return f"Optional; checked by the matcher. Syntax: {RULE_HELP}. {limit}."
    raise ValueError(f"no hint for {field}")


@dataclass(frozen=True, kw_only=True)
class ModalMeta:
    """What the form carries in `private_metadata` (at most 3,000 characters)."""

    #: None when creating.
    job_id: str | None = None
    #: The version the edit is based on: saving refuses if it changed meanwhile.
    version: int | None = None
    #: Where the command was typed; the confirmation goes there.
    channel: str = ""
    #: The slash command's response_url (valid 30 minutes), the surest way back.
    response_url: str | None = None
    #: How many times the form was redrawn (block id suffix; see the module doc).
    rev: int = 0

    def dump(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def load(cls, raw: str | None) -> ModalMeta:
        """Read `private_metadata`; a missing or foreign value is an empty create."""
        try:
            data = json.loads(raw or "{}")
        except ValueError:
            return cls()
        if not isinstance(data, dict):
            return cls()
        version = data.get("version")
        return cls(
            job_id=str(data["job_id"]) if data.get("job_id") else None,
            version=version if isinstance(version, int) else None,
            channel=str(data.get("channel") or ""),
            response_url=str(data["response_url"]) if data.get("response_url") else None,
            rev=data["rev"] if isinstance(data.get("rev"), int) else 0,
        )


def job_modal(
    *,
    job: Job | None,
    templates: Mapping[str, Mapping[str, str]],
    version: int | None,
    channel: str = "",
    response_url: str | None = None,
    prefill: Mapping[str, str] | None = None,
    template_key: str | None = None,
    rev: int = 0,
) -> dict[str, Any]:
    """The modal view for creating (`job=None`) or editing `job`.

    `templates` feed the picker (shown only when creating); `prefill` fills
    the inputs (a chosen template), otherwise the job's own values do.
    `version` defaults to the job's.
    """
    meta = ModalMeta(
        job_id=job.id if job else None,
        version=(version if version is not None else job.version) if job else None,
        channel=channel, response_url=response_url, rev=rev,
    )
    values: Mapping[str, str] = prefill or (
        {f: str(getattr(job, f)) for f in JOB_FIELDS} if job else {})
    blocks: list[dict[str, Any]] = []
    if job is None and templates:
        blocks.append(_template_picker(templates, template_key))
    else:
        blocks.append(_context(f"Editing version {meta.version} of *{_plain(job.name)}*. "
                               "Saving makes the next version; /jobs undo goes back."
                               if job else "Fill in the job's fields."))
    for field in JOB_FIELDS:
        value = values.get(field, "")
        if len(value) > INPUT_MAX:
            # Too long for a Slack input: leave it out so saving keeps it.
            name = job.name if job else values.get("name", "<job>")
            blocks.append(_context(
                f"*{_LABELS[field]}*: {len(value):,} characters, more than a Slack form holds "
                f"({INPUT_MAX:,}), so they are not shown here and stay as they are. Change "
                f"them with /jobs edit \"{_plain(name)}\" {field}=\"…\" or /jobs import."))
            continue
        blocks.append(_input(field, value, rev))
    return {
        "type": "modal",
        "callback_id": CALLBACK_ID,
        "title": {"type": "plain_text", "text": "Edit job" if job else "New job"},
        "submit": {"type": "plain_text", "text": "Save"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": meta.dump(),
        "blocks": blocks,
    }


def parse_submission(view: Mapping[str, Any]) -> dict[str, str]:
    """The job fields of a submitted form: field → text (empty inputs as "")."""
    fields: dict[str, str] = {}
    for block_id, actions in _state_values(view).items():
        field = field_of(block_id)
        if field is None or not isinstance(actions, Mapping):
            continue
        action = actions.get(VALUE_ACTION)
        value = action.get("value") if isinstance(action, Mapping) else None
        fields[field] = value if isinstance(value, str) else ""
    return fields


def _state_values(view: Mapping[str, Any]) -> Mapping[str, Any]:
    """The view's `state.values`, or nothing when it is not shaped as Slack sends it."""
    state = view.get("state")
    values = state.get("values") if isinstance(state, Mapping) else None
    return values if isinstance(values, Mapping) else {}


def field_blocks(view: Mapping[str, Any]) -> dict[str, str]:
    """Field → the block id of its input in `view` (fields left out are missing).

    Read from the view's blocks, and from its state for a payload without them.
    """
    blocks = view.get("blocks")
    ids = [str(block.get("block_id", "")) for block in (blocks if isinstance(blocks, list) else ())
           if isinstance(block, Mapping) and block.get("type") == "input"]
    ids += [str(key) for key in _state_values(view)]
    found: dict[str, str] = {}
    for block_id in ids:
        field = field_of(block_id)
        if field is not None:
            found.setdefault(field, block_id)
    return found


def field_of(block_id: str) -> str | None:
    """The job field an input's block id stands for (`name-2` → `name`)."""
    field = block_id.split("-", 1)[0]
    return field if field in JOB_FIELDS else None


def block_id(field: str, rev: int) -> str:
    """The block id of `field`'s input in the form's `rev`-th drawing."""
    return field if rev == 0 else f"{field}-{rev}"


# --- blocks -----------------------------------------------------------------------


def _input(field: str, value: str, rev: int) -> dict[str, Any]:
    high = LIMITS[field][1]
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": VALUE_ACTION,
        "max_length": min(high, INPUT_MAX),
        "placeholder": {"type": "plain_text", "text": _PLACEHOLDERS[field]},
    }
    if field in _MULTILINE:
        element["multiline"] = True
    if value:
        element["initial_value"] = value
    return {
        "type": "input",
        "block_id": block_id(field, rev),
        "optional": field not in _REQUIRED,
        "label": {"type": "plain_text", "text": _LABELS[field]},
        "hint": {"type": "plain_text", "text": _hint(field)},
        "element": element,
    }


def _template_picker(templates: Mapping[str, Mapping[str, str]],
                     chosen: str | None) -> dict[str, Any]:
    options = [
        {"text": {"type": "plain_text", "text": _clip(fields.get("name") or key,
                                                      _OPTION_TEXT_MAX)},
         "value": key[:_OPTION_VALUE_MAX]}
        for key, fields in list(templates.items())[:_OPTIONS_MAX]
    ]
    select: dict[str, Any] = {
        "type": "static_select",
        "action_id": TEMPLATE_ACTION,
        "placeholder": {"type": "plain_text", "text": "Choose a template"},
        "options": options,
    }
    picked = [o for o in options if o["value"] == chosen]
    if picked:
        select["initial_option"] = picked[0]
    return {
        "type": "section",
        "block_id": TEMPLATE_BLOCK,
        "text": {"type": "mrkdwn",
                 "text": "*Start from a template* (optional): it fills in the fields below; "
                         "change anything before you save."},
        "accessory": select,
    }


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def _plain(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
