"""Runtime settings, read from the environment and a `.env` file.

Every variable of the deployment contract lives here, so start-up fails early
with one line naming the variable that is wrong instead of a traceback later.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AnyHttpUrl, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from config.errors import ConfigError


class Settings(BaseSettings):
    """All configuration of a chatjobs process (see `.env.example`)."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True
    )

    # Redis: unset means the embedded server, persisted under the data dir.
    redis_url: str | None = None
    chatjobs_data_dir: Path = Path(".chatjobs")

    # Model
    openai_api_key: SecretStr | None = None
    openai_base_url: AnyHttpUrl | None = None
    openai_model: str = "gpt-4o-mini"
    openai_embedding_model: str | None = None
    embeddings_base_url: AnyHttpUrl | None = None
    # A YAML file of word groups added to the built-in ones (bot/vocabulary.yaml).
    chatjobs_vocabulary: Path | None = None

    # Slack
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: AnyHttpUrl = AnyHttpUrl("https://slack.com/api/")

    # Discord
    discord_token: SecretStr | None = None
    discord_guild_id: int | None = Field(default=None, gt=0)
    discord_api_url: AnyHttpUrl | None = None

    # One agent turn: model calls (each tool round is one) and wall-clock limit.
    chatjobs_turn_max_iterations: int = Field(default=8, ge=1, le=50)
    # (At most 240 s: a turn runs as an RQ job killed after 300 s.)
    chatjobs_turn_max_seconds: float = Field(default=60.0, gt=0, le=240)
    # Retries (with backoff, by the openai SDK) and timeout of one model request.
    chatjobs_model_retries: int = Field(default=2, ge=0, le=10)
    chatjobs_model_timeout: float = Field(default=30.0, gt=0, le=600)
    # Turns one person may start a minute before the agent pauses for them (0: no limit).
    chatjobs_user_turns_per_minute: int = Field(default=20, ge=0, le=10_000)

    # Who may change jobs and bots besides platform admins.
    chatjobs_admins: Annotated[frozenset[str], NoDecode] = frozenset()

    # Conversations keep this many turns and expire after this many days idle.
    chatjobs_history_turns: int = Field(default=50, ge=2, le=1000)
    chatjobs_history_days: int = Field(default=30, ge=1, le=3650)

    chatjobs_log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "WARNING"
    # `json`: one JSON object per log line, for log collectors.
    chatjobs_log_format: Literal["text", "json"] = "text"

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value or None

    @field_validator("chatjobs_data_dir")
    @classmethod
    def _a_directory(cls, value: Path) -> Path:
        if value.exists() and not value.is_dir():
            raise ValueError(f"{value} exists and is not a directory")
        return value

    @field_validator("chatjobs_vocabulary")
    @classmethod
    def _a_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"{value} is not a file")
        return value

    @field_validator("chatjobs_admins", mode="before")
    @classmethod
    def _split_admins(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("chatjobs_log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("chatjobs_log_format", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @property
    def embeddings_url(self) -> AnyHttpUrl | None:
        """Where embeddings are requested: its own URL, else the model's."""
        return self.embeddings_base_url or self.openai_base_url


def load_settings(**overrides: object) -> Settings:
    """Read the settings; raise `ConfigError` with one line per bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            variable = str(error["loc"][0]).upper() if error["loc"] else "settings"
            problems.append(f"{variable}: {error['msg']}")
        raise ConfigError("; ".join(problems)) from None
