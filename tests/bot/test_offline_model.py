"""The offline model: walks the active job's steps one turn at a time, then completes it.

Prompts are built by the real prompt builder (`bot.prompt.build_messages`), so
the model is tested against the format it must read. A conversation is
simulated by appending the model's own replies as assistant messages, the way
the agent loop and the conversation history will.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.llm.base import LLM, Completion, Message
from bot.llm.offline import NO_JOBS_TEXT, UNREADABLE_TEXT, OfflineModel, read_playbook
from bot.prompt import TurnContext, build_messages
from bot.templates import template
from jobs_store.models import Bot, Job, Turn

NOW = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)
TAKE_MESSAGE = """\
Goal: Collect the caller's name, company and reason, then route to sales.
1. Ask who the message is for.
2) Ask for: 1) their name, 2) their company,
   3) the best way to reach them.
If the person goes off-topic, help briefly.
3. Read the message back and ask them to confirm."""
COMPLETE_JOB = {"type": "function", "function": {
    "name": "complete_job", "description": "Record that a job is done.",
    "parameters": {"type": "object", "properties": {"job": {"type": "string"},
                                                      "summary": {"type": "string"}}}}}
ESCALATE = {"type": "function", "function": {"name": "escalate", "parameters": {}}}


def _job(name: str, instructions: str, **fields: str) -> Job:
    return Job(id=f"job_{name.lower().replace(' ', '_')}", name=name,
               instructions=instructions, **fields)


def _messages(jobs: Sequence[Job] = (), candidates: Sequence[Job] = (),
              history: Sequence[Turn] = (), extra: str = "") -> list[Message]:
    context = TurnContext(bot=Bot(id="bot_default", name="Helper"), contact=None, now=NOW,
                          jobs=jobs, candidates=candidates, history=history, extra=extra)
    return build_messages(context)


def _user(text: str) -> Message:
    return {"role": "user", "content": text}


def _assistant(completion: Completion) -> Message:
    """The assistant message the agent loop appends for a completion."""
    message: Message = {"role": "assistant", "content": completion.text}
    if completion.tool_calls:
        message["tool_calls"] = [
            {"id": call.id, "type": "function",
             "function": {"name": call.name, "arguments": json.dumps(call.arguments)}}
            for call in completion.tool_calls]
    return message


def _converse(model: LLM, messages: list[Message], user_texts: Sequence[str],
              tools: list[dict[str, Any]]) -> list[str]:
    """Run one model turn per user text; return the text replies."""
    replies = []
    for text in user_texts:
        messages.append(_user(text))
        completion = model.complete(messages=messages, tools=tools, model="")
        messages.append(_assistant(completion))
        replies.append(completion.text)
    return replies


# --- walking the steps --------------------------------------------------------


def test_walks_the_numbered_steps_one_per_turn() -> None:
    model = OfflineModel()
    messages = _messages(jobs=[_job("Take a message", TAKE_MESSAGE)])

    replies = _converse(model, messages, ["I want to leave a message", "For Ana", "Bob, Acme"],
                        tools=[COMPLETE_JOB])

    assert replies == [
        "Take a message — step 1 of 3: Ask who the message is for.",
        "Take a message — step 2 of 3: Ask for: 1) their name, 2) their company,\n"
        "3) the best way to reach them.",
        "Take a message — step 3 of 3: Read the message back and ask them to confirm.",
    ]


def test_after_the_last_step_completes_with_a_tool_call_then_says_so() -> None:
    model = OfflineModel()
    messages = _messages(jobs=[_job("Take a message", TAKE_MESSAGE)])
    _converse(model, messages, ["hi", "Ana", "Bob"], tools=[ESCALATE, COMPLETE_JOB])
    messages.append(_user("Yes, that's right"))

    completion = model.complete(messages=messages, tools=[ESCALATE, COMPLETE_JOB], model="m")

    assert completion.text == ""
    assert len(completion.tool_calls) == 1
    call = completion.tool_calls[0]
    assert (call.id, call.name) == ("offline-1", "complete_job")
    assert call.arguments == {
        "job": "Take a message",
        "summary": "Collect the caller's name, company and reason, then route to sales."}

    messages.append(_assistant(completion))
    messages.append({"role": "tool", "tool_call_id": call.id, "content": "Recorded."})
    final = model.complete(messages=messages, tools=[ESCALATE, COMPLETE_JOB], model="m")

    assert final.text == "That's everything for Take a message. Anything else I can help with?"
    assert final.tool_calls == ()


def test_without_the_complete_job_tool_it_just_says_it_is_done() -> None:
    model = OfflineModel()
    messages = _messages(jobs=[_job("Take a message", TAKE_MESSAGE)])

    replies = _converse(model, messages, ["a", "b", "c", "d"], tools=[ESCALATE])

    assert replies[-1] == "That's everything for Take a message. Anything else I can help with?"


def test_summary_is_the_users_last_message_when_there_is_no_goal_and_is_capped() -> None:
    model = OfflineModel()
    messages = _messages(jobs=[_job("Short", "1. Ask for the order number.")])
    _converse(model, messages, ["hi"], tools=[COMPLETE_JOB])
    messages.append(_user("It is   " + "x" * 300))

    call = model.complete(messages=messages, tools=[COMPLETE_JOB], model="").tool_calls[0]

    assert isinstance(call.arguments, dict)
    summary = call.arguments["summary"]
    assert summary.startswith("It is xxx")
    assert len(summary) == 200 and summary.endswith("…")


def test_only_this_jobs_step_replies_count() -> None:
    model = OfflineModel()
    messages = _messages(jobs=[_job("Take a message", TAKE_MESSAGE)])
    messages += [
        _user("hi"),
        {"role": "assistant", "content": "Book a meeting — step 2 of 4: Ask for times."},
        {"role": "assistant", "content": "Take a message was mentioned — step 9 of 9: no"},
        {"role": "user", "content": "Take a message — step 3 of 3: pretend"},
    ]

    completion = model.complete(messages=messages, tools=[COMPLETE_JOB], model="")

    assert completion.text.startswith("Take a message — step 1 of 3: ")


def test_the_walk_continues_when_old_turns_were_trimmed_from_the_history() -> None:
    history = [Turn(role="user", text="filler " * 4000),
               Turn(role="assistant", text="Take a message — step 1 of 3: Ask who …"),
               Turn(role="user", text="x " * 3000),
               Turn(role="assistant", text="Take a message — step 2 of 3: Ask for …"),
               Turn(role="user", text="Bob from Acme")]
    messages = _messages(jobs=[_job("Take a message", TAKE_MESSAGE)], history=history)
    assert len(messages) < 1 + len(history)  # the prompt builder dropped the oldest turns

    completion = OfflineModel().complete(messages=messages, tools=[], model="")

    assert completion.text.startswith("Take a message — step 3 of 3: Read the message back")


def test_a_completed_job_starts_again_from_step_one() -> None:
    model = OfflineModel()
    messages = _messages(jobs=[_job("Short", "1. Ask for the order number.")])
    _converse(model, messages, ["hi", "123"], tools=[])  # step 1, then done
    assert messages[-1]["content"].startswith("That's everything for Short.")

    replies = _converse(model, messages, ["another one"], tools=[])

    assert replies == ["Short — step 1 of 1: Ask for the order number."]


def test_follows_the_first_job_section_and_ignores_other_sections() -> None:
    first = _job("Reset a password", "Goal: Sign in again.\n1. Ask what happened.\n2. Help.")
    second = _job("Take a message", TAKE_MESSAGE)
    messages = _messages(jobs=[first, second],
                         extra="## Task\nCheck in with @ana.\n1. Not a job step.")

    completion = OfflineModel().complete(messages=messages, tools=[], model="")

    assert completion.text == "Reset a password — step 1 of 2: Ask what happened."


def test_without_a_goal_line_the_text_before_step_one_is_the_goal_not_the_audience() -> None:
    job = _job("Short", "Find the order.\n1. Ask for the order number.", audience="Buyers")
    messages = _messages(jobs=[job])
    _converse(OfflineModel(), messages, ["hi"], tools=[COMPLETE_JOB])
    messages.append(_user("42"))

    call = OfflineModel().complete(messages=messages, tools=[COMPLETE_JOB], model="").tool_calls[0]

    assert "Audience: Buyers" in messages[0]["content"]
    assert call.arguments == {"job": "Short", "summary": "Find the order."}


def test_a_template_walks_its_numbered_steps_not_its_notes() -> None:
    fields = template("take-message")
    playbook = read_playbook(fields["instructions"])

    assert playbook.goal.startswith("Collect the person's name, company")
    assert len(playbook.steps) == 6
    assert playbook.steps[4].startswith("Tell them who will receive it")
    assert "If the person declines" not in playbook.steps[4]
    assert playbook.steps[5].startswith("Call escalate with the recipient")


def test_instructions_without_numbers_use_each_line_as_a_step() -> None:
    job = _job("Loose", "Goal: Be useful.\n- Ask their name\nAsk their email")
    messages = _messages(jobs=[job])

    replies = _converse(OfflineModel(), messages, ["a", "b"], tools=[])

    assert replies == ["Loose — step 1 of 2: Ask their name",
                       "Loose — step 2 of 2: Ask their email"]


# --- no job -------------------------------------------------------------------


def test_no_job_names_the_other_jobs_at_most_five() -> None:
    names = ["Book a meeting", "Invite team members", "Reset a password", "Take a message",
             "Troubleshoot a problem", "Qualify a lead"]
    candidates = [_job(n, "1. x", trigger=f"when: {n.lower()}") for n in names]
    messages = [*_messages(candidates=candidates), _user("what's the weather?")]

    completion = OfflineModel().complete(messages=messages, tools=[COMPLETE_JOB], model="")

    assert completion.text == ("I'm not sure which of my jobs fits that. I can help with: "
                               "Book a meeting, Invite team members, Reset a password, "
                               "Take a message, Troubleshoot a problem.")
    assert completion.tool_calls == ()


def test_empty_library_says_how_to_add_a_job() -> None:
    messages = [*_messages(), _user("hello")]

    completion = OfflineModel().complete(messages=messages, tools=[], model="")

    assert completion.text == NO_JOBS_TEXT
    assert completion.text == ("I don't know any jobs yet — an admin can add one with "
                               "/jobs create, or start from /jobs templates.")


# --- determinism and odd input ------------------------------------------------


def test_same_messages_give_the_same_answer() -> None:
    messages = [*_messages(jobs=[_job("Take a message", TAKE_MESSAGE)]), _user("hi")]
    answers = {OfflineModel().complete(messages=[dict(m) for m in messages], tools=[],
                                       model="") for _ in range(5)}

    assert len(answers) == 1


@pytest.mark.parametrize("messages", [
    [],
    [{"role": "user", "content": "hi"}],
    [{"role": "system"}],
    [{"role": "system", "content": None}, {"role": "user", "content": None}],
    [{"role": "system", "content": 42}],
    ["not a dict", 3, None],
    [{"role": "system", "content": [{"type": "text", "text": "## Job: X [id: j]\n1. Go."}]}],
    [{"role": "system", "content": "## Job: X [id: j]\n"}, {"role": "tool", "content": "ok"}],
    [{"role": "system", "content": "## Job: X [id: j]\n1. Go."},
     {"role": "assistant", "content": ["X — step 1 of 1: Go."]}, {"content": "no role"}],
])
def test_odd_input_gets_a_text_answer(messages: list[Any]) -> None:
    completion = OfflineModel().complete(messages=messages, tools=[], model="")

    assert completion.text
    assert completion.text != UNREADABLE_TEXT  # answered by the reader, not the safety net


def test_a_text_content_given_as_parts_is_read() -> None:
    system = {"role": "system",
              "content": [{"type": "text", "text": "## Job: X [id: j]\n1. Go there."}]}

    completion = OfflineModel().complete(messages=[system], tools=[], model="")

    assert completion.text == "X — step 1 of 1: Go there."


def test_odd_tools_are_ignored() -> None:
    messages = [{"role": "system", "content": "## Job: X [id: j]\nGoal: Go."}]

    completion = OfflineModel().complete(
        messages=messages, tools=[None, "complete_job", {"function": None}],  # type: ignore[list-item]
        model="")

    assert completion.text == "That's everything for X. Anything else I can help with?"


@settings(max_examples=200, deadline=None)
@given(system=st.text(), history=st.lists(st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "assistant", "tool", "system", "x"]),
     "content": st.one_of(st.none(), st.text(), st.integers())})))
def test_never_raises(system: str, history: list[Message]) -> None:
    messages = [{"role": "system", "content": "## Job: J [id: j]\n" + system}, *history]

    first = OfflineModel().complete(messages=messages, tools=[COMPLETE_JOB], model="")
    second = OfflineModel().complete(messages=messages, tools=[COMPLETE_JOB], model="")

    assert first == second
    assert first.text or first.tool_calls
    assert first.text != UNREADABLE_TEXT


def test_a_bug_in_the_reader_still_gets_an_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.llm.offline as offline

    def broken(*args: Any) -> Completion:
        raise RuntimeError("bug")

    monkeypatch.setattr(offline, "_answer", broken)

    completion = OfflineModel().complete(messages=[_user("hi")], tools=[], model="")

    assert completion.text == UNREADABLE_TEXT
