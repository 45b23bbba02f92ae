"""The model through the openai SDK, against OpenAI or any compatible server.

The SDK retries 429s, 5xx and timeouts with backoff (`max_retries`); what
still fails becomes `ModelError`.

Requests go through the client's `post` to `/chat/completions`, which is
what `chat.completions.create` ends in, with the same options: the same
retries, auth and errors, and the same request on the wire. Our messages and
tool schemas are plain JSON values already, so `create`'s walk of every one
of them against its typed parameters (for aliases, dates and files we never
send) is left out: in a turn it cost about a third of the call's CPU, and the
call is the turn's largest share. For the same reason the answer is read as
bytes and validated by `_Answer`, which holds only the fields a turn reads,
instead of building the SDK's whole `ChatCompletion` type by type in Python.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from bot.llm.base import Completion, Message, ModelError, ToolCall

if TYPE_CHECKING:  # the caller built the client, so openai is loaded by then
    import openai

log = logging.getLogger(__name__)


class OpenAIChat:
    """Chat completions with tools."""

    name = "openai"

    def __init__(self, client: openai.OpenAI) -> None:
        self._client = client

    def complete(self, *, messages: list[Message], tools: list[dict[str, Any]],
                 model: str, timeout: float | None = None) -> Completion:
        import openai  # loaded already (the client is openai's): a dict lookup
        request: dict[str, Any] = {"model": model, "messages": messages}
        if tools:
            request["tools"] = tools
        client = self._client
        options: openai.RequestOptions = {"security": {"bearer_auth": True}}  # as `create`'s
        if timeout is not None:
            # The turn's time left bounds every try; retries only fit if there is time.
            # Each try also stays within CHATJOBS_MODEL_TIMEOUT (the client's own timeout).
            tries = client.max_retries + 1
            per_try = timeout / tries
            own = client.timeout
            if isinstance(own, int | float):
                per_try = min(per_try, float(own))
            options["timeout"] = max(per_try, 0.1)
        try:
            raw = client.post("/chat/completions", body=request, options=options,
                              cast_to=bytes)
        except openai.OpenAIError as exc:
            log.warning("model request failed after retries: %s", exc.__class__.__name__)
            raise ModelError(f"the model did not answer ({exc.__class__.__name__})") from exc
        try:
            answer = _Answer.model_validate_json(raw)
        except ValidationError as exc:
            log.warning("the model's answer is not a chat completion (%d errors)",
                        exc.error_count())
            raise ModelError("the model sent an answer that is not a chat completion") from exc
        if not answer.choices:
            raise ModelError("the model sent an empty answer")
        message = answer.choices[0].message
        calls = tuple(
            ToolCall(id=call.id, name=call.function.name,
                     arguments=_arguments(call.function.arguments))
            for call in (message.tool_calls or []) if call.type == "function"
        )
        return Completion(text=message.content or "", tool_calls=calls)


# What a turn reads of a chat completion; other fields are ignored.

class _Function(BaseModel):
    name: str
    arguments: str = ""


class _ToolCall(BaseModel):
    id: str
    type: str = "function"
    function: _Function


class _Message(BaseModel):
    content: str | None = None
    tool_calls: list[_ToolCall] | None = None


class _Choice(BaseModel):
    message: _Message


class _Answer(BaseModel):
    choices: list[_Choice] = []


def _arguments(raw: str) -> dict[str, Any] | str:
    try:
        value = json.loads(raw or "{}")
    except json.JSONDecodeError:
        return raw
    return value if isinstance(value, dict) else raw
