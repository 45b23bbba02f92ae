"""Optimize a job's instructions toward what a good job looks like.

With a real model, one chat completion rewrites the instructions following the
guidance in DESIGN.md ("What a good job looks like"); the answer is cleaned of
code fences and preambles and checked against the instructions limit.

Offline (the offline model, or the real model failing with `ModelError`) the
text is only restructured, deterministically, with no invented content beyond
fixed wording:

- a `Goal:` line comes first: the existing one (moved up, first letter in
  upper case), else the first
  sentence of the description, else "Goal: Help the user <name in lower case>.";
- steps are numbered: existing top-level numbered lines are renumbered 1..n in
  place (everything else stays where it is); without numbered lines, each line
  or sentence becomes a step, except rules ("If …", "Never …", "Always …",
  "Do not …", "Unless …", "Note: …"), which stay un-numbered in their place;
- a line for a user who declines and one for a user who goes off-topic are
  appended unless the text already covers them (any case: decline…, refus…;
  off-topic, off-script).

Restructuring is idempotent: restructuring its own output changes nothing, and
the built-in templates come out unchanged.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Literal

from bot.errors import InvalidInput
from bot.llm.base import LLM, Message, ModelError
from bot.llm.offline import GOAL_LINE, STEP_LINE
from jobs_store.models import LIMITS, Job

log = logging.getLogger(__name__)

MAX_INSTRUCTIONS = LIMITS["instructions"][1]
DECLINE_LINE = "If the user declines, do not insist: offer to continue later or end politely."
OFF_TOPIC_LINE = ("If the user goes off-topic, help briefly if you can, then offer once to get "
                  "back to this.")

_DECLINE = re.compile(r"\b(declin|refus)", re.I)
_OFF_TOPIC = re.compile(r"\boff[- ]?(topic|script)", re.I)
_BULLET = re.compile(r"^\s*[-*•]\s+")
_RULE = re.compile(r"^(if|unless|never|always|do not|don't|note)\b", re.I)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"“(])")
_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.", "approx.", "Mr.", "Ms.", "Mrs.", "Dr.", "St.")

_PREAMBLE = re.compile(
    r"^(?:here(?:'s| is| are)|sure|certainly|of course|okay|ok|below|rewritten|improved|"
    r"updated|revised|optimi[sz]ed)\b.*:\s*\**$", re.I)
_HEADING = re.compile(r"^#{1,6}\s")
_SIGN_OFF = re.compile(r"^(?:let me know|i hope|hope this|feel free|i kept|i have kept|i've)\b",
                       re.I)
_FENCE = re.compile(r"```[^\n]*\n(?P<body>.*?)(?:^```|\Z)", re.S | re.M)

_SYSTEM_PROMPT = """\
You improve the instructions of a "job": a playbook that a chat assistant on \
Slack or Discord follows with one person to reach one goal. Rewrite the \
instructions you are given so the assistant can follow them reliably.

What good instructions look like:
- The first line is "Goal: " followed by one sentence about the outcome for the \
person: what is done or collected when the job succeeds. Not a description of a \
feature.
- Then numbered steps ("1. ", "2. ", …) when the order matters. Each step is one \
concrete action or one question. When a step collects several things, list them \
in it, for example "Ask for: 1) their name, 2) their company".
- Say what to do when the person declines or does not want to answer, goes \
off-script or off-topic, or is not someone the job is meant for (see the \
audience): skip the step, ask once more, hand over to a person (escalate), or \
end politely.
- Keep the team's facts, terms and wording. Invent nothing: no links or URLs, no \
names of people or products, no prices, times or policies that the current \
instructions do not state. When something is missing, leave it out rather than \
guess.
- Keep every mention of the tools complete_job and escalate and when to call them.
- Jobs are guidance, not a script: the assistant follows the steps in order but \
phrases them in its own words and skips what the person already said. Keep steps \
short.
- Plain text, at most 10,000 characters.

Answer with the instructions only: no preamble, no explanation, no headings, no \
Markdown code fences."""


@dataclass(frozen=True)
class Optimized:
    """Rewritten instructions and what produced them."""

    text: str
    #: "model" when the chat model rewrote them, "offline" when restructured here.
    by: Literal["model", "offline"]
    #: Why the offline restructuring was used although a model was configured.
    note: str = ""


def optimize(job: Job, *, llm: LLM, model: str) -> str:
    """The job's instructions rewritten (1–10,000 characters); nothing is saved.

    Raise `InvalidInput` (field `instructions`) when the model's answer is
    empty or too long.
    """
    return rewrite(job, llm=llm, model=model).text


def rewrite(job: Job, *, llm: LLM, model: str) -> Optimized:
    """Like `optimize`, and say whether the model or the offline restructuring did it."""
    if llm.name == "offline":
        return Optimized(text=restructure(job), by="offline")
    try:
        completion = llm.complete(messages=prompt(job), tools=[], model=model)
    except ModelError as exc:
        log.warning("optimize %s: model %s failed, restructuring offline: %s",
                    job.id, model, exc)
        return Optimized(text=restructure(job), by="offline",
                         note=f"The model could not answer ({exc}), so the instructions were "
                              "restructured offline instead.")
    text = clean_answer(completion.text)
    if not text:
        raise InvalidInput("instructions", "the model answered with no instructions. Nothing "
                                           "was saved; try again, or edit the job by hand.")
    if len(text) > MAX_INSTRUCTIONS:
        raise InvalidInput("instructions", f"the model's rewrite has {len(text):,} characters, "
                                           f"over the limit of {MAX_INSTRUCTIONS:,}. Nothing was "
                                           "saved; try again, or edit the job by hand.")
    return Optimized(text=text, by="model")


def prompt(job: Job) -> list[Message]:
    """The chat messages asking the model to rewrite `job`'s instructions."""
    audience = job.audience or "(not stated)"
    if job.rule:
        audience += f" (checked rule: {job.rule})"
    request = "\n".join([
        f"Job name: {job.name}",
        f"Description: {job.description or '(none)'}",
        f"Trigger (what people say when they want this): {job.trigger or '(none)'}",
        f"Audience: {audience}",
        "",
        "Current instructions, between the lines of dashes:",
        "-----",
        job.instructions,
        "-----",
    ])
    return [{"role": "system", "content": _SYSTEM_PROMPT},
            {"role": "user", "content": request}]


def clean_answer(text: str) -> str:
    """The instructions in a model's answer: without code fences, preamble or sign-off."""
    text = (text or "").replace("\r\n", "\n").strip()
    fence = _FENCE.search(text)
    if fence:
        text = fence["body"]
    lines = [line.rstrip() for line in text.strip().split("\n")]
    while lines and (_PREAMBLE.match(lines[0]) or _HEADING.match(lines[0]) or not lines[0]):
        lines.pop(0)
    # A sign-off is only dropped when a blank line sets it apart from the instructions.
    while len(lines) >= 2 and _SIGN_OFF.match(lines[-1]) and not lines[-2]:
        del lines[-2:]
    return "\n".join(lines).strip()


# --- offline restructuring ----------------------------------------------------


def restructure(job: Job) -> str:
    """The job's instructions restructured offline (see the module doc)."""
    return restructure_text(job.instructions, name=job.name, description=job.description)


def restructure_text(instructions: str, *, name: str, description: str = "") -> str:
    """Goal first, numbered steps, decline and off-topic lines; deterministic, idempotent."""
    lines = [line.rstrip() for line in
             instructions.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    goal = ""
    for index, line in enumerate(lines):
        match = GOAL_LINE.match(line)
        if match and match["text"].strip():
            goal = f"Goal: {_capitalized(match['text'].strip())}"
            del lines[index]
            break
    goal = goal or _derived_goal(name, description)
    if any(STEP_LINE.match(line) for line in lines):
        body = _renumbered(lines)
    else:
        body = _numbered_items(lines)
    out = [goal, *_tidy(body)]
    text = "\n".join(out)
    if not _DECLINE.search(text):
        out.append(DECLINE_LINE)
    if not _OFF_TOPIC.search(text):
        out.append(OFF_TOPIC_LINE)
    result = "\n".join(out).strip()
    if len(result) > MAX_INSTRUCTIONS:
        raise InvalidInput("instructions", f"restructured they would have {len(result):,} "
                                           f"characters, over the limit of "
                                           f"{MAX_INSTRUCTIONS:,}. Nothing was saved; shorten "
                                           "them first.")
    return result


def _derived_goal(name: str, description: str) -> str:
    text = " ".join(description.split())
    if text:
        first = _sentences(text)[0]
        return f"Goal: {_capitalized(first)}" + ("" if first[-1] in ".!?" else ".")
    return f"Goal: Help the user {' '.join(name.split()).lower()}."


def _renumbered(lines: list[str]) -> list[str]:
    """Top-level numbered lines renumbered 1..n; every other line as it was."""
    matches = [STEP_LINE.match(line) for line in lines]
    indent = min(_width(m["indent"]) for m in matches if m)
    out: list[str] = []
    number = 0
    for line, match in zip(lines, matches, strict=True):
        if match and _width(match["indent"]) == indent:
            number += 1
            out.append(f"{match['indent']}{number}. {match['text'].strip()}")
        else:
            out.append(line)
    return out


def _numbered_items(lines: list[str]) -> list[str]:
    """Un-numbered text as numbered steps, one per line or sentence; rules stay un-numbered."""
    out: list[str] = []
    number = 0
    for line in lines:
        text = _BULLET.sub("", line).strip()
        if not text:
            continue
        for sentence in _sentences(text):
            if _RULE.match(sentence):
                out.append(_capitalized(sentence))
            else:
                number += 1
                out.append(f"{number}. {_capitalized(sentence)}")
    return out


def _sentences(text: str) -> list[str]:
    pieces: list[str] = []
    for piece in _SENTENCE_END.split(text.strip()):
        if pieces and pieces[-1].endswith(_ABBREVIATIONS):
            pieces[-1] += " " + piece
        else:
            pieces.append(piece)
    return [piece.strip() for piece in pieces if piece.strip()] or [text.strip()]


def _tidy(lines: list[str]) -> list[str]:
    """No blank lines at the ends, and at most one in a row."""
    out: list[str] = []
    for line in lines:
        if not line.strip():
            if out and out[-1]:
                out.append("")
            continue
        out.append(line)
    while out and not out[-1]:
        out.pop()
    return out


def _capitalized(text: str) -> str:
    return text[:1].upper() + text[1:] if text[:1].islower() else text


def _width(indent: str) -> int:
    return len(indent.expandtabs(4))
