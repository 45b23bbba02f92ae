"""Optimize: the offline restructuring, the model rewrite, and `/jobs optimize`.

The command runs through the real `/jobs` dispatcher (permission and shape
checks included) on a real Redis. Until `optimize` is registered in the
`/jobs` group, the tests build that group with it added. The model comes from
`stores.agent`, a real `Agent` around a small test double of the `LLM` port.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.commands import Caller, Result, Stores
from bot.commands import jobs as jobs_commands
from bot.commands.optimize import OFFLINE_NOTE, SUBCOMMANDS
from bot.commands.registry import Group
from bot.commands.results import Code, Paragraph
from bot.errors import InvalidInput
from bot.llm.base import LLM, Completion, Message, ModelError
from bot.llm.offline import OfflineModel
from bot.matcher import JobMatcher
from bot.optimize import (
    DECLINE_LINE,
    OFF_TOPIC_LINE,
    clean_answer,
    optimize,
    restructure_text,
    rewrite,
)
from bot.templates import all_templates
from bot.turns import Agent, TurnLimits
from jobs_store import ContactStore, ConversationStore
from jobs_store.executions import ExecutionStore
from jobs_store.models import Job
from jobs_store.stats import StatsStore
from jobs_store.tasks import TaskStore

DbState = Callable[[], dict[str, Any]]

MESSY = """\
be friendly and use their first name
ask who the message is for
- ask for their name and company. Then ask how to reach them.
If it is urgent, say so in the message.
read it back"""
MESSY_OPTIMIZED = """\
Goal: Help the user take a message.
1. Be friendly and use their first name
2. Ask who the message is for
3. Ask for their name and company.
4. Then ask how to reach them.
If it is urgent, say so in the message.
5. Read it back
""" + DECLINE_LINE + "\n" + OFF_TOPIC_LINE

JOBS = Group("jobs", jobs_commands.GROUP.summary, {
    **jobs_commands.GROUP.subcommands, **{sub.name: sub for sub in SUBCOMMANDS}}.values())


class FakeModel:
    """A chat model that gives canned answers and records what it was asked."""

    def __init__(self, *answers: str | Exception, name: str = "openai",
                 during: Callable[[], None] | None = None) -> None:
        self.name = name
        self.answers = list(answers)
        self.calls: list[dict[str, Any]] = []
        self.during = during

    def complete(self, *, messages: list[Message], tools: list[dict[str, Any]],
                 model: str, timeout: float | None = None) -> Completion:
        self.calls.append({"messages": messages, "tools": tools, "model": model})
        if self.during:
            self.during()
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return Completion(text=answer)


def _job(instructions: str, name: str = "Take a message", **fields: str) -> Job:
    return Job(id="job_1", name=name, instructions=instructions, **fields)


WithModel = Callable[[LLM], Stores]


@pytest.fixture
def with_model(stores: Stores, redis_client: redis.Redis) -> WithModel:
    """`stores` with an agent built the way the wiring builds it, around a given model."""
    return lambda llm: _with_agent(stores, redis_client, llm)


def _with_agent(stores: Stores, client: redis.Redis, llm: LLM, model: str = "gpt-test") -> Stores:
    agent = Agent(jobs=stores.jobs, bots=stores.bots, contacts=ContactStore(client),
                  conversations=ConversationStore(client), stats=StatsStore(client),
                  tasks=TaskStore(client), executions=ExecutionStore(client),
                  matcher=JobMatcher(), llm=llm,
                  offline=OfflineModel(), delivery=None, limits=TurnLimits(model=model))
    return replace(stores, agent=agent)


def _run(stores: Stores, command: str, caller: Caller) -> Result:
    return JOBS.run(stores, caller, command)


def _paragraphs(result: Result) -> str:
    return "\n".join(b.text for b in result.blocks if isinstance(b, Paragraph))


def _code(result: Result) -> str:
    codes = [b.text for b in result.blocks if isinstance(b, Code)]
    assert len(codes) == 1
    return codes[0]


# --- offline restructuring ----------------------------------------------------


def test_messy_text_gets_a_goal_numbered_steps_and_decline_and_off_topic_lines() -> None:
    optimized = optimize(_job(MESSY), llm=OfflineModel(), model="")

    assert optimized == MESSY_OPTIMIZED


def test_restructuring_is_idempotent() -> None:
    once = optimize(_job(MESSY), llm=OfflineModel(), model="")

    assert optimize(_job(once), llm=OfflineModel(), model="") == once


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(list("ab .1)2\n\t-If:Goaldecline")), min_size=1),
       description=st.text(max_size=40))
def test_restructuring_its_own_output_changes_nothing(text: str, description: str) -> None:
    once = restructure_text(text, name="Job", description=description)

    assert 1 <= len(once) <= 10_000
    assert restructure_text(once, name="Job", description=description) == once
    assert once.startswith("Goal: ")


@pytest.mark.parametrize("key", list(all_templates()))
def test_templates_come_out_unchanged(key: str) -> None:
    fields = all_templates()[key]
    job = Job(id="job_t", **fields)

    assert optimize(job, llm=OfflineModel(), model="") == job.instructions


def test_existing_numbered_steps_are_only_renumbered_in_place() -> None:
    text = ("Goal: Route the message.\nTreat these steps as guidance.\n3. Ask who it is for.\n"
            "   1) a sub-item stays\n7) Ask for the message.\nIf they refuse, stop.\n"
            "9. Call complete_job.\nIf they go off-script, help briefly.")

    optimized = optimize(_job(text), llm=OfflineModel(), model="")

    assert optimized == (
        "Goal: Route the message.\nTreat these steps as guidance.\n1. Ask who it is for.\n"
        "   1) a sub-item stays\n2. Ask for the message.\nIf they refuse, stop.\n"
        "3. Call complete_job.\nIf they go off-script, help briefly.")


def test_a_goal_line_anywhere_moves_to_the_top() -> None:
    optimized = optimize(_job("1. Ask a question.\ngoal: the question is answered\n"
                              "If they decline or go OFF-TOPIC, end politely."),
                         llm=OfflineModel(), model="")

    assert optimized == ("Goal: The question is answered\n1. Ask a question.\n"
                         "If they decline or go OFF-TOPIC, end politely.")


def test_without_a_goal_line_the_goal_comes_from_the_description() -> None:
    job = _job("1. Ask for the order number.", description="Finds an order. Then more text.")

    optimized = optimize(job, llm=OfflineModel(), model="")

    assert optimized.splitlines()[0] == "Goal: Finds an order."


def test_without_goal_or_description_the_goal_comes_from_the_name() -> None:
    optimized = optimize(_job("Ask for the order number", name="Track An Order"),
                         llm=OfflineModel(), model="")

    assert optimized.splitlines()[:2] == ["Goal: Help the user track an order.",
                                          "1. Ask for the order number"]


def test_restructured_text_over_the_limit_is_refused() -> None:
    job = _job("1. " + "x" * 9_990)

    with pytest.raises(InvalidInput) as raised:
        optimize(job, llm=OfflineModel(), model="")

    assert raised.value.field == "instructions"
    assert "10,000" in str(raised.value)


# --- with a model -------------------------------------------------------------


def test_the_model_gets_one_call_with_the_jobs_fields_and_no_tools() -> None:
    llm = FakeModel("Goal: Route it.\n1. Ask who it is for.")
    job = _job("ask who", trigger="leave a message", audience="Visitors",
               rule="platform=slack")

    result = rewrite(job, llm=llm, model="gpt-test")

    assert (result.text, result.by, result.note) == (
        "Goal: Route it.\n1. Ask who it is for.", "model", "")
    assert len(llm.calls) == 1
    call = llm.calls[0]
    assert call["tools"] == [] and call["model"] == "gpt-test"
    system, user = call["messages"]
    assert system["role"] == "system"
    assert "Goal: " in system["content"] and "Invent nothing" in system["content"]
    assert "declines" in system["content"] and "code fences" in system["content"]
    for text in ("Take a message", "leave a message", "Visitors", "platform=slack", "ask who"):
        assert text in user["content"]


@pytest.mark.parametrize(("answer", "expected"), [
    ("```\nGoal: A.\n1. B.\n```", "Goal: A.\n1. B."),
    ("Here are the rewritten instructions:\n\n```text\nGoal: A.\n1. B.\n```\nHope this helps!",
     "Goal: A.\n1. B."),
    ("Sure! Here is the improved version:\nGoal: A.\n1. B.", "Goal: A.\n1. B."),
    ("## Instructions\nGoal: A.\n1. B.\n\nLet me know if you want changes.", "Goal: A.\n1. B."),
    ("```markdown\nGoal: A.\n1. B.", "Goal: A.\n1. B."),
    ("  Goal: A.\n1. B.  \n", "Goal: A.\n1. B."),
    ("Goal: A.\n1. Let me know your name.", "Goal: A.\n1. Let me know your name."),
])
def test_answers_are_cleaned_of_fences_and_preambles(answer: str, expected: str) -> None:
    assert clean_answer(answer) == expected


def test_an_empty_answer_is_refused() -> None:
    with pytest.raises(InvalidInput) as raised:
        optimize(_job("1. x"), llm=FakeModel("```\n```"), model="m")

    assert raised.value.field == "instructions"


def test_a_model_error_falls_back_to_the_offline_restructuring_with_a_note() -> None:
    result = rewrite(_job(MESSY), llm=FakeModel(ModelError("the model timed out")), model="m")

    assert result.text == MESSY_OPTIMIZED
    assert result.by == "offline"
    assert "the model timed out" in result.note


# --- /jobs optimize -----------------------------------------------------------


def test_command_saves_a_new_version_and_undo_restores_the_old_text(
    stores: Stores, admin: Caller
) -> None:
    job = stores.jobs.create({"name": "Take a message", "instructions": MESSY}, actor="U_SEED")

    result = _run(stores, 'optimize "take a message"', admin)

    assert result.ok, result.title
    assert result.title == "Optimized 'Take a message' (version 1 → 2)."
    assert _code(result) == MESSY_OPTIMIZED
    assert OFFLINE_NOTE in _paragraphs(result)
    assert 'Undo with /jobs undo "Take a message"' in _paragraphs(result)
    saved = stores.jobs.get(job.id)
    assert (saved.version, saved.instructions, saved.updated_by) == (2, MESSY_OPTIMIZED,
                                                                     admin.user)

    undone = _run(stores, 'undo "Take a message"', admin)

    assert undone.ok, undone.title
    assert stores.jobs.get(job.id).instructions == MESSY


def test_command_on_a_well_structured_job_changes_nothing(
    stores: Stores, admin: Caller, db_state: DbState
) -> None:
    stores.jobs.create({"name": "Tidy", "instructions": MESSY_OPTIMIZED}, actor="U_SEED")
    before = db_state()

    result = _run(stores, "optimize tidy", admin)

    assert result.ok
    assert result.title == "'Tidy' is already well structured; nothing changed (version 1)."
    assert db_state() == before


def test_command_is_refused_for_non_admins(
    stores: Stores, member: Caller, db_state: DbState
) -> None:
    stores.jobs.create({"name": "Messy", "instructions": MESSY}, actor="U_SEED")
    before = db_state()

    result = _run(stores, "optimize Messy", member)

    assert not result.ok
    assert result.title.startswith("Only admins can use /jobs optimize.")
    assert db_state() == before


def test_command_needs_exactly_one_job(stores: Stores, admin: Caller) -> None:
    assert _run(stores, "optimize", admin).title.startswith("Usage: /jobs optimize <job>")
    unknown = _run(stores, "optimize nope", admin)
    assert not unknown.ok and "nope" in unknown.title


def test_command_with_a_model_saves_its_cleaned_answer(
    stores: Stores, with_model: WithModel, admin: Caller
) -> None:
    stores.jobs.create({"name": "Messy", "instructions": MESSY, "trigger": "leave a message"},
                       actor="U_SEED")
    llm = FakeModel("Here are the improved instructions:\n```\nGoal: Route the message.\n"
                    "1. Ask who it is for.\nIf the user declines, end politely.\n```")

    result = _run(with_model(llm), "optimize Messy", admin)

    assert result.ok, result.title
    assert result.title == "Optimized 'Messy' (version 1 → 2)."
    expected = ("Goal: Route the message.\n1. Ask who it is for.\n"
                "If the user declines, end politely.")
    assert _code(result) == expected
    assert "Rewritten by the model (gpt-test)" in _paragraphs(result)
    assert stores.jobs.get("Messy").instructions == expected
    assert "leave a message" in llm.calls[0]["messages"][1]["content"]


def test_command_refuses_an_over_long_answer_and_saves_nothing(
    stores: Stores, with_model: WithModel, admin: Caller, db_state: DbState
) -> None:
    stores.jobs.create({"name": "Messy", "instructions": MESSY}, actor="U_SEED")
    before = db_state()

    result = _run(with_model(FakeModel("Goal: x\n" + "1. Ask.\n" * 2_000)),
                  "optimize Messy", admin)

    assert not result.ok
    assert result.title.startswith("instructions: the model's rewrite has 16,007 characters")
    assert "Nothing was saved" in result.title
    assert db_state() == before


def test_command_falls_back_offline_when_the_model_is_down(
    stores: Stores, with_model: WithModel, admin: Caller
) -> None:
    stores.jobs.create({"name": "Messy", "instructions": MESSY}, actor="U_SEED")
    llm = FakeModel(ModelError("The model is not answering (HTTP 503)."))

    result = _run(with_model(llm), "optimize Messy", admin)

    assert result.ok, result.title
    assert "HTTP 503" in _paragraphs(result) and OFFLINE_NOTE in _paragraphs(result)
    assert stores.jobs.get("Messy").version == 2


def test_command_with_the_offline_model_does_not_call_it(
    stores: Stores, with_model: WithModel, admin: Caller
) -> None:
    stores.jobs.create({"name": "Messy", "instructions": MESSY}, actor="U_SEED")
    llm = FakeModel(name="offline")

    result = _run(with_model(llm), "optimize Messy", admin)

    assert result.ok and llm.calls == []
    assert _code(result) == MESSY_OPTIMIZED.replace("take a message", "messy")


def test_an_edit_saved_while_the_model_was_writing_is_not_overwritten(
    stores: Stores, with_model: WithModel, admin: Caller
) -> None:
    job = stores.jobs.create({"name": "Messy", "instructions": MESSY}, actor="U_SEED")

    def someone_edits() -> None:
        stores.jobs.update(job.id, {"instructions": "1. Their edit."}, actor="U_OTHER")

    llm = FakeModel("Goal: A.\n1. B.", during=someone_edits)

    result = _run(with_model(llm), "optimize Messy", admin)

    assert not result.ok
    assert "U_OTHER" in result.title and "Nothing was saved" in result.title
    assert stores.jobs.get(job.id).instructions == "1. Their edit."
