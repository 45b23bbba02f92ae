"""The agent loop: ask the model, run the tools it calls, until it answers.

It stops at the iteration limit or the time limit, whichever comes first,
with the last thing the model said (or a short note). Model failures
(`ModelError`, after the SDK's retries) are the caller's to handle.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from bot.llm.base import LLM, Message, ToolCall
from bot.tools import describe

log = logging.getLogger(__name__)

Stop = Literal["answered", "iteration_limit", "time_limit"]
LIMIT_REPLY = "Sorry, that took me too long to work out. Could you say it another way?"


@dataclass(frozen=True)
class AgentResult:
    """How the loop ended."""

    text: str
    iterations: int
    stopped: Stop
    tool_calls: tuple[ToolCall, ...] = ()


def run_agent(
    *,
    llm: LLM,
    model: str,
    messages: list[Message],
    tools: list[dict[str, Any]],
    run_tool: Callable[[ToolCall], str],
    max_iterations: int,
    max_seconds: float,
    clock: Callable[[], float] = time.monotonic,
) -> AgentResult:
    """Run the loop on `messages` (extended in place with the tool exchange)."""
    deadline = clock() + max_seconds
    last_text = ""
    calls: list[ToolCall] = []
    for iteration in range(1, max_iterations + 1):
        left = deadline - clock()
        if left < 0:
            return AgentResult(last_text or LIMIT_REPLY, iteration - 1, "time_limit", tuple(calls))
        completion = llm.complete(messages=messages, tools=tools, model=model,
                                  timeout=max(left, 0.1))
        last_text = completion.text or last_text
        if not completion.tool_calls:
            return AgentResult(completion.text, iteration, "answered", tuple(calls))
        messages.append({
            "role": "assistant", "content": completion.text or None,
            "tool_calls": [_call_message(call) for call in completion.tool_calls],
        })
        for call in completion.tool_calls:
            result = run_tool(call)
            log.info("tool %s -> %s", describe(call), result[:200])
            calls.append(call)
            messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
    return AgentResult(last_text or LIMIT_REPLY, max_iterations, "iteration_limit", tuple(calls))


def _call_message(call: ToolCall) -> dict[str, Any]:
    arguments = call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments)
    return {"id": call.id, "type": "function",
            "function": {"name": call.name, "arguments": arguments}}
