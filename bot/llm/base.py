"""The model port: what the agent loop needs from a chat model.

Messages and tool schemas are in the OpenAI chat-completions format (plain
dicts), which every OpenAI-compatible server and our offline model read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from config.errors import ChatjobsError

Message = dict[str, Any]


@dataclass(frozen=True)
class ToolCall:
    """The model asks us to run a tool."""

    id: str
    name: str
    #: Decoded JSON arguments; the raw text when the model sent invalid JSON.
    arguments: dict[str, Any] | str


@dataclass(frozen=True)
class Completion:
    """One model answer: text, tool calls, or both."""

    text: str = ""
    tool_calls: tuple[ToolCall, ...] = field(default=())


class ModelError(ChatjobsError):
    """The model could not answer, after the retries."""


class LLM(Protocol):
    """A chat model."""

    #: "openai" or "offline", for the logs and the console banner.
    name: str

    def complete(self, *, messages: list[Message], tools: list[dict[str, Any]],
                 model: str, timeout: float | None = None) -> Completion:
        """One chat completion; raise `ModelError` when the model cannot answer.

        `timeout` bounds the whole request, retries included, in seconds.
        """
        ...
