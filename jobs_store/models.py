"""The records the stores persist: jobs, bots, contacts and conversation turns.

They live beside the stores (which may import nothing from `bot`); `bot.models`
re-exports them with the rest of the domain model. Field limits are stated
once here, in `LIMITS`, and reused by help texts, modals and validation.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from jobs_store.errors import InvalidInput

Platform = Literal["slack", "discord", "console"]
Role = Literal["owner", "admin", "member"]
PLATFORMS: tuple[str, ...] = ("slack", "discord", "console")
ROLES: tuple[str, ...] = ("owner", "admin", "member")

#: (minimum, maximum) characters for every text field an admin can set.
LIMITS: dict[str, tuple[int, int]] = {
    "name": (1, 100),
    "description": (0, 500),
    "trigger": (0, 500),
    "instructions": (1, 10_000),
    "audience": (0, 500),
    "rule": (0, 500),
    "bot_name": (1, 80),
    "persona": (0, 4_000),
    "model": (0, 100),
    "channel": (1, 100),
    "escalation_channel": (0, 100),
}
MAX_ATTACHED_JOBS = 10
MAX_BOT_CHANNELS = 50


def _text(limit: str) -> Any:
    low, high = LIMITS[limit]
    return Field(default="" if low == 0 else ..., min_length=low, max_length=high)


def now_utc() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


# --- audience rules ---------------------------------------------------------

_CONDITION = re.compile(r"^(?P<key>[a-z_][a-z0-9_]*(?:\.[A-Za-z0-9_-]+)?)=(?P<value>\S+)$")
RULE_HELP = (
    "conditions separated by spaces, all of which must hold: "
    "first_seen_within=7d, platform=slack,discord, role=admin,owner, meta.KEY=VALUE"
)


class AudienceRule(BaseModel):
    """Who a job is for, in a form the matcher can check for each contact.

    Text form: `first_seen_within=7d platform=slack role=admin,owner meta.plan=trial`.
    Every condition must hold; commas inside one condition mean "any of".
    """

    model_config = ConfigDict(frozen=True)

    first_seen_within_days: int | None = None
    platforms: frozenset[str] = frozenset()
    roles: frozenset[str] = frozenset()
    meta: dict[str, frozenset[str]] = Field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> AudienceRule:
        """Parse the text form; raise `InvalidInput` naming the bad condition."""
        days: int | None = None
        platforms: set[str] = set()
        roles: set[str] = set()
        meta: dict[str, frozenset[str]] = {}
        seen: set[str] = set()
        for token in text.split():
            match = _CONDITION.match(token)
            if not match:
                raise InvalidInput("rule", f"'{token}' is not a condition; use {RULE_HELP}")
            key, value = match["key"], match["value"]
            if key in seen:
                raise InvalidInput("rule", f"{key} is given twice; list its values with commas")
            seen.add(key)
            values = {v for v in value.split(",") if v}
            if key == "first_seen_within":
                found = re.fullmatch(r"(\d{1,4})d", value)
                if not found or not 1 <= int(found[1]) <= 3650:
                    raise InvalidInput(
                        "rule", f"first_seen_within takes days from 1d to 3650d, not '{value}'"
                    )
                days = int(found[1])
            elif key == "platform":
                _check_choices("platform", values, PLATFORMS)
                platforms |= values
            elif key == "role":
                _check_choices("role", values, ROLES)
                roles |= values
            elif key.startswith("meta."):
                if not values:  # `meta.plan=,` would store a rule that never parses back
                    raise InvalidInput("rule", f"{key} needs a value, e.g. {key}=trial")
                meta[key[5:]] = frozenset(values)
            else:
                raise InvalidInput("rule", f"unknown condition '{key}'; use {RULE_HELP}")
        return cls(
            first_seen_within_days=days,
            platforms=frozenset(platforms),
            roles=frozenset(roles),
            meta=meta,
        )

    def __str__(self) -> str:
        parts = []
        if self.first_seen_within_days is not None:
            parts.append(f"first_seen_within={self.first_seen_within_days}d")
        if self.platforms:
            parts.append("platform=" + ",".join(sorted(self.platforms)))
        if self.roles:
            parts.append("role=" + ",".join(sorted(self.roles)))
        parts += [f"meta.{k}=" + ",".join(sorted(v)) for k, v in sorted(self.meta.items())]
        return " ".join(parts)

    def admits(self, contact: Contact, *, now: datetime) -> bool:
        """Whether `contact` is in this audience at `now`."""
        if self.first_seen_within_days is not None and (
            now - contact.first_seen > timedelta(days=self.first_seen_within_days)
        ):
            return False
        if self.platforms and contact.platform not in self.platforms:
            return False
        if self.roles and contact.role not in self.roles:
            return False
        return all(contact.meta.get(key) in allowed for key, allowed in self.meta.items())


def _check_choices(key: str, values: set[str], allowed: tuple[str, ...]) -> None:
    unknown = values - set(allowed)
    if unknown or not values:
        raise InvalidInput(
            "rule", f"{key} takes {', '.join(allowed)}; not '{','.join(sorted(unknown))}'"
        )


# --- records ----------------------------------------------------------------


def _single_line(value: str) -> str:
    if any(not ch.isprintable() for ch in value):
        raise ValueError("must be one line of text, without line breaks or tabs")
    return value


class Job(BaseModel):
    """A playbook for one user goal. Every save is a new, numbered version."""

    model_config = ConfigDict(frozen=True, str_strip_whitespace=True)

    id: str
    name: str = _text("name")
    description: str = _text("description")
    trigger: str = _text("trigger")
    instructions: str = _text("instructions")
    audience: str = _text("audience")
    rule: str = _text("rule")
    version: int = 1
    restored_from: int | None = None
    created_by: str = ""
    created_at: datetime = Field(default_factory=now_utc)
    updated_by: str = ""
    updated_at: datetime = Field(default_factory=now_utc)

    @field_validator("name")
    @classmethod
    def _one_line(cls, value: str) -> str:
        return _single_line(value)

    @field_validator("rule")
    @classmethod
    def _canonical_rule(cls, value: str) -> str:
        return str(AudienceRule.parse(value))

    @property
    def audience_rule(self) -> AudienceRule | None:
        """The parsed audience rule, or None when the job is for everyone."""
        return AudienceRule.parse(self.rule) if self.rule else None


#: The job fields an admin sets; the rest are kept by the store.
JOB_FIELDS: tuple[str, ...] = ("name", "description", "trigger", "instructions", "audience", "rule")


class Bot(BaseModel):
    """An agent persona with the jobs attached to it (draft and live)."""

    model_config = ConfigDict(frozen=True, str_strip_whitespace=True)

    id: str
    name: str = Field(min_length=LIMITS["bot_name"][0], max_length=LIMITS["bot_name"][1])
    persona: str = _text("persona")
    model: str = _text("model")
    channels: tuple[Annotated[str, Field(min_length=1, max_length=100)], ...] = Field(
        default=(), max_length=MAX_BOT_CHANNELS
    )
    escalation_channel: str = _text("escalation_channel")
    draft_jobs: tuple[str, ...] = Field(default=(), max_length=MAX_ATTACHED_JOBS)
    live_jobs: tuple[str, ...] = Field(default=(), max_length=MAX_ATTACHED_JOBS)
    version: int = 1
    updated_by: str = ""
    updated_at: datetime = Field(default_factory=now_utc)

    @field_validator("name")
    @classmethod
    def _one_line(cls, value: str) -> str:
        return _single_line(value)


#: The bot fields an admin sets with `/bots create|edit`.
BOT_FIELDS: tuple[str, ...] = ("name", "persona", "model", "channels", "escalation_channel")


class Contact(BaseModel):
    """Someone the agent talks to, as their platform knows them."""

    model_config = ConfigDict(frozen=True)

    platform: Platform
    workspace: str
    user: str
    display_name: str = ""
    first_seen: datetime = Field(default_factory=now_utc)
    timezone: str | None = None
    role: Role = "member"
    meta: dict[str, str] = Field(default_factory=dict)

    @property
    def id(self) -> str:
        """`platform:workspace:user`."""
        return f"{self.platform}:{self.workspace}:{self.user}"


class Turn(BaseModel):
    """One message in a conversation, from the user or the agent."""

    model_config = ConfigDict(frozen=True)

    role: Literal["user", "assistant"]
    text: str
    user: str = ""
    ts: datetime = Field(default_factory=now_utc)
    message_id: str = ""
    #: User messages are numbered 1, 2, … per conversation, in arrival order.
    seq: int = 0


M = TypeVar("M", bound=BaseModel)


def validated(model: type[M], data: dict[str, Any]) -> M:
    """Build `model` from `data`; turn the first failure into `InvalidInput`.

    The message names the field and the limit it breaks, e.g.
    `name: at most 100 characters (you gave 101)`.
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"] if not isinstance(part, int))
        raise InvalidInput(_field_name(model, field), _reason(error)) from None


def _field_name(model: type[BaseModel], field: str) -> str:
    return "name" if model is Bot and field == "name" else field


def _reason(error: Any) -> str:
    ctx = error.get("ctx") or {}
    given = error.get("input")
    size = len(given) if isinstance(given, str | tuple | list) else None
    kind = error["type"]
    if kind == "string_too_long":
        return f"at most {ctx['max_length']:,} characters (you gave {size:,})"
    if kind == "string_too_short":
        return "is required" if ctx.get("min_length") == 1 else f"at least {ctx['min_length']}"
    if kind == "too_long":
        return f"at most {ctx['max_length']} items (you gave {size})"
    if kind == "missing":
        return "is required"
    if isinstance(ctx.get("error"), InvalidInput):
        return str(ctx["error"].reason)
    if isinstance(ctx.get("error"), ValueError):
        return str(ctx["error"])
    return str(error["msg"])
