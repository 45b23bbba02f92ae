"""The offline model: walks the active job's numbered steps, one per turn.

Used when there is no `OPENAI_API_KEY` (and as the fallback when the model is
down), so the whole product runs and is testable without a network. It is a
fallback, not a writer: it repeats the team's own step text literally. It is
deterministic: the same messages always give the same answer (no randomness,
no clock).

How it reads the prompt built by `bot.prompt`:

- The first `## Job: <name> [id: <id>]` section of the system message
  (`messages[0]`) is the job to follow; its body runs until the next `## `
  heading. Other sections (persona, `## Task`, …) are ignored.
- Steps are the top-level numbered lines (`1.`, `2)` …; numbering inside a
  line, like "Ask for: 1) name, 2) company", stays part of that step). A step
  also takes the lines under it that are indented, bullets, or start in lower
  case (a wrapped line). Other un-numbered lines ("If the user declines …")
  are notes, not steps. Text before step 1 is the goal; its `Goal:` line when
  there is one. A job without numbered lines uses each of its lines as a step.

Reply formats (others may match on them):

- step:     ``<job name> — step <k> of <n>: <step text>``
- complete: a `complete_job` tool call, id ``offline-1``, arguments
  ``{"job": <name>, "summary": <the goal, else the user's last message; ≤ 200 chars>}``;
  then, once the tool result is in, ``That's everything for <job name>. Anything else I can
  help with?`` (the same text straight away when `complete_job` is not offered).
- no job:   ``I'm not sure which of my jobs fits that. I can help with: A, B, C.``
  (names from "## Other jobs you can help with", at most 5), or, with no jobs
  at all, ``I don't know any jobs yet — an admin can add one with /jobs create, or
  start from /jobs templates.``

Scheduled tasks (a `## Task:` section, and `send_message` among the tools):
a `send_message` call, id ``offline-task-1``, whose text is the task's
instructions (first paragraph, ≤ 2,000 chars); once its result is in, a
`finish` call, id ``offline-task-2``, with outcome ``sent: <text, ≤ 200 chars>``;
then ``Done.``. Replies inside the task's session window are answered as
any other turn.

Which step comes next: the step number of this job's latest step reply in the
history, plus one. With a complete history that is 1 + the number of earlier
step replies for this job; reading the latest number instead of counting keeps
the walk going when the prompt builder trimmed the oldest turns. A "That's
everything for <job>" reply resets the walk, so a job can be done again later
in the same conversation.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from bot.llm.base import Completion, Message, ToolCall
from bot.prompt import JOB_HEADING

log = logging.getLogger(__name__)

COMPLETE_TOOL = "complete_job"
SEND_TOOL = "send_message"
TASK_HEADING = "## Task: "
TASK_SEND_ID, TASK_FINISH_ID = "offline-task-1", "offline-task-2"
TOOL_CALL_ID = "offline-1"
MAX_SUMMARY = 200
MAX_NAMED_JOBS = 5
OTHER_JOBS_HEADING = "## Other jobs you can help with"

#: A top-level numbered line: `1. Ask …`, `2) Ask …` (1–3 digits, then a space).
STEP_LINE = re.compile(r"^(?P<indent>[ \t]*)(?P<number>\d{1,3})[.)][ \t]+(?P<text>\S.*)$")
#: `Goal: …`, any case.
GOAL_LINE = re.compile(r"^\s*goal\s*:\s*(?P<text>.*)$", re.I)
_AUDIENCE_LINE = re.compile(r"^\s*audience\s*:", re.I)
_BULLET = re.compile(r"^\s*[-*•]\s+")
_STEP_REPLY = re.compile(r"step (?P<k>\d+) of (?P<n>\d+): ")

NO_JOBS_TEXT = ("I don't know any jobs yet — an admin can add one with /jobs create, "
                "or start from /jobs templates.")
UNREADABLE_TEXT = "Sorry, I could not read that conversation. Could you say it again?"


def step_prefix(job: str) -> str:
    """The start of every step reply for `job`: ``<job> — step ``."""
    return f"{job} — step "


def step_reply(job: str, number: int, total: int, step: str) -> str:
    """``<job> — step <number> of <total>: <step>``."""
    return f"{step_prefix(job)}{number} of {total}: {step}"


def done_reply(job: str) -> str:
    """What the model says once `job` is complete."""
    return f"That's everything for {job}. Anything else I can help with?"


def no_match_reply(names: Sequence[str]) -> str:
    """What the model says when no job section is in the prompt."""
    if not names:
        return NO_JOBS_TEXT
    return ("I'm not sure which of my jobs fits that. I can help with: "
            + ", ".join(names[:MAX_NAMED_JOBS]) + ".")


@dataclass(frozen=True)
class Playbook:
    """A job's instructions as the offline model reads them."""

    goal: str
    steps: tuple[str, ...]


def read_playbook(body: str) -> Playbook:
    """The goal and the numbered steps of a job's body (see the module doc)."""
    lines = body.splitlines()
    numbered = [(i, match) for i, line in enumerate(lines) if (match := STEP_LINE.match(line))]
    if not numbered:
        steps = tuple(text for line in lines if (text := _plain(line))
                      and not GOAL_LINE.match(line) and not _AUDIENCE_LINE.match(line))
        return Playbook(goal=_goal(lines, first_line=False), steps=steps)
    indent = min(_width(match["indent"]) for _, match in numbered)
    top = [(i, match) for i, match in numbered if _width(match["indent"]) == indent]
    starts = [i for i, _ in top]
    steps_list: list[str] = []
    for position, (start, match) in enumerate(top):
        end = starts[position + 1] if position + 1 < len(starts) else len(lines)
        parts = [match["text"].strip()]
        for line in lines[start + 1:end]:
            if not line.strip():
                continue
            if not _continues(line, indent):
                break
            parts.append(line.strip())
        steps_list.append("\n".join(parts))
    return Playbook(goal=_goal(lines[:starts[0]], first_line=True), steps=tuple(steps_list))


class OfflineModel:
    """A deterministic stand-in for the chat model; implements `bot.llm.base.LLM`."""

    name = "offline"

    def complete(self, *, messages: list[Message], tools: list[dict[str, Any]],
                 model: str, timeout: float | None = None) -> Completion:
        """The next step of the active job, its completion, or what it can help with.

        Never raises: whatever the input, the answer is a sensible text.
        """
        try:
            return _answer(messages if isinstance(messages, list) else [], tools)
        except Exception:  # a fallback model must never take the turn down with it
            log.exception("offline model could not read the conversation")
            return Completion(text=UNREADABLE_TEXT)


# --- the answer ---------------------------------------------------------------


def _answer(messages: list[Any], tools: Any) -> Completion:
    chats = [m for m in messages if isinstance(m, dict)]
    system = ""
    if chats and chats[0].get("role") == "system":
        system = _text(chats[0].get("content"))
    if SEND_TOOL in _tool_names(tools) and TASK_HEADING in system:
        return _carry_out_task(system, chats)
    job = _job_section(system)
    if job is None:
        return Completion(text=no_match_reply(_other_jobs(system)))
    name, body = job
    history = chats[1:] if chats and chats[0].get("role") == "system" else chats
    if history and history[-1].get("role") == "tool" and _answers_our_call(history):
        return Completion(text=done_reply(name))
    playbook = read_playbook(body)
    given = _steps_given(history, name)
    total = len(playbook.steps)
    if given < total:
        return Completion(text=step_reply(name, given + 1, total, playbook.steps[given]))
    if COMPLETE_TOOL not in _tool_names(tools):
        return Completion(text=done_reply(name))
    summary = _clip(playbook.goal or _last_user_text(history) or f"Completed {name}.")
    return Completion(tool_calls=(ToolCall(id=TOOL_CALL_ID, name=COMPLETE_TOOL,
                                           arguments={"job": name, "summary": summary}),))


def _carry_out_task(system: str, chats: list[dict[str, Any]]) -> Completion:
    """Send the task's instructions as the message, then finish."""
    last = chats[-1] if chats else {}
    if last.get("role") == "tool":
        if last.get("tool_call_id") == TASK_SEND_ID:
            text = _task_instructions(system)
            return Completion(tool_calls=(ToolCall(id=TASK_FINISH_ID, name="finish", arguments={
                "outcome": _clip(f"sent: {text}")}),))
        return Completion(text="Done.")
    return Completion(tool_calls=(ToolCall(id=TASK_SEND_ID, name=SEND_TOOL, arguments={
        "text": _task_instructions(system)[:2000]}),))


def _task_instructions(system: str) -> str:
    body = system.split(TASK_HEADING, 1)[1].split("\nInstructions:\n", 1)[-1]
    paragraph = body.strip().split("\n\n", 1)[0]
    return paragraph.split("\nTask fields:", 1)[0].split("\nOutcome of the previous run:",
                                                         1)[0].strip() or "Hello!"


def _job_section(system: str) -> tuple[str, str] | None:
    match = JOB_HEADING.search(system)
    if match is None:
        return None
    rest = system[match.end():]
    following = re.search(r"^## ", rest, re.M)
    body = rest[:following.start()] if following else rest
    return match["name"].strip(), body.strip("\n")


def _other_jobs(system: str) -> list[str]:
    names: list[str] = []
    lines = system.splitlines()
    try:
        start = [line.strip() for line in lines].index(OTHER_JOBS_HEADING)
    except ValueError:
        return names
    for line in lines[start + 1:]:
        if line.startswith("## "):
            break
        if line.startswith("- "):
            name = line[2:].split(": ", 1)[0].strip()
            if name and name not in names:
                names.append(name)
    return names[:MAX_NAMED_JOBS]


def _steps_given(history: Iterable[dict[str, Any]], job: str) -> int:
    """The step number of `job`'s latest step reply since it was last completed."""
    prefix, done = step_prefix(job), done_reply(job)
    given = 0
    for message in history:
        if message.get("role") != "assistant":
            continue
        text = _text(message.get("content"))
        if text.startswith(done):
            given = 0
        elif text.startswith(prefix):
            match = _STEP_REPLY.match(text, len(prefix) - len("step "))
            if match:
                given = int(match["k"])
    return given


def _answers_our_call(history: list[dict[str, Any]]) -> bool:
    """Whether the last message is the result of a `complete_job` call."""
    result = history[-1]
    if result.get("tool_call_id") == TOOL_CALL_ID:
        return True
    for message in reversed(history[:-1]):
        calls = message.get("tool_calls")
        if message.get("role") == "assistant" and isinstance(calls, list):
            return any(_call_name(call) == COMPLETE_TOOL for call in calls)
    return False


def _call_name(call: Any) -> str:
    if isinstance(call, ToolCall):
        return call.name
    if isinstance(call, dict):
        function = call.get("function")
        if isinstance(function, dict):
            return str(function.get("name", ""))
        return str(call.get("name", ""))
    return ""


def _tool_names(tools: Any) -> set[str]:
    names: set[str] = set()
    for tool in tools if isinstance(tools, list | tuple) else ():
        if isinstance(tool, dict):
            function = tool.get("function")
            name = function.get("name") if isinstance(function, dict) else tool.get("name")
            if isinstance(name, str):
                names.add(name)
    return names


def _last_user_text(history: Sequence[dict[str, Any]]) -> str:
    for message in reversed(history):
        if message.get("role") == "user":
            text = " ".join(_text(message.get("content")).split())
            if text:
                return text
    return ""


# --- reading text -------------------------------------------------------------


def _text(content: Any) -> str:
    """Message content as text: a string, or the text parts of a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [part.get("text") if isinstance(part, dict) else part for part in content]
        return "\n".join(part for part in parts if isinstance(part, str))
    return ""


def _goal(lines: Sequence[str], *, first_line: bool) -> str:
    """The `Goal:` line's text; else, with `first_line`, the first line of the text."""
    for line in lines:
        match = GOAL_LINE.match(line)
        if match and match["text"].strip():
            return match["text"].strip()
    if not first_line:
        return ""
    for line in lines:
        if line.strip() and not _AUDIENCE_LINE.match(line):
            return _plain(line)
    return ""


def _plain(line: str) -> str:
    return _BULLET.sub("", line).strip()


def _width(indent: str) -> int:
    return len(indent.expandtabs(4))


def _continues(line: str, indent: int) -> bool:
    """Whether an un-numbered line under a step belongs to it."""
    stripped = line.lstrip()
    return (_width(line[:len(line) - len(stripped)]) > indent
            or bool(_BULLET.match(line)) or stripped[:1].islower())


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_SUMMARY else text[:MAX_SUMMARY - 1].rstrip() + "…"
