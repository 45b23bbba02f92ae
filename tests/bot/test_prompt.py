"""The prompt of a turn: bounded whatever the library size, newest history, the person and time.

The library tests go through the real pipeline (JobStore → matcher →
`plan_turn` → `build_messages` → the request the fake OpenAI server receives);
the history budget is checked on `build_messages` directly.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import redis

from bot.models import Bot, Contact, Turn
from bot.prompt import JOB_HEADING, MAX_INJECTED, MAX_LISTED, TurnContext, build_messages
from bot.prompt import estimate_tokens as tokens
from tests.fakes.openai_server import FakeOpenAI
from tests.integration.agent_helpers import AppFactory, Chat, admin

OTHER_JOBS = "## Other jobs you can help with"
INSTRUCTIONS = """\
Goal: the person's invoice question is answered.
1. Ask for the invoice number.
2. Look at the lines they ask about.
3. Explain each charge in one sentence.
4. Offer a corrected invoice if something is wrong."""


@pytest.fixture
def apps(redis_url: str, redis_client: redis.Redis) -> Iterator[AppFactory]:
    factory = AppFactory(redis_url, redis_client)
    yield factory
    factory.close()


def invoice_jobs(start: int, stop: int) -> list[dict[str, str]]:
    """Jobs that all fit an invoice question equally, all the same size."""
    return [{"name": f"Invoice task {i:04d}",
             "trigger": f"invoice question, billing help, variant{i:04d}",
             "description": "Answers a question about an invoice.",
             "instructions": INSTRUCTIONS} for i in range(start, stop)]


def listed(system: str) -> list[str]:
    """The jobs named under "Other jobs you can help with"."""
    if OTHER_JOBS not in system:
        return []
    section = system.split(OTHER_JOBS, 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("- ")]


def system_of(fake: FakeOpenAI, index: int = -1) -> str:
    return fake.chat_requests[index].json["messages"][0]["content"]


def test_the_prompt_stays_the_same_size_from_20_to_2000_jobs(
    apps: AppFactory, fake_openai: FakeOpenAI
) -> None:
    app = apps.build(fake_openai)
    question = "I have a question about my invoice"
    app.stores.jobs.import_many(invoice_jobs(0, 20), actor="test")
    Chat(app, "ana").ask(question)
    app.stores.jobs.import_many(invoice_jobs(20, 2000), actor="test")
    assert len(app.stores.jobs.list()) == 2000
    Chat(app, "ben").ask(question)

    small, large = system_of(fake_openai, 0), system_of(fake_openai, 1)
    for system in (small, large):
        assert len(JOB_HEADING.findall(system)) == MAX_INJECTED == 3
        assert system.count(INSTRUCTIONS) == 3
        assert len(listed(system)) == MAX_LISTED == 15
    # Every job is the same size, so the prompt is too: it does not grow with the library.
    assert len(large) == len(small)
    request_sizes = [len(str(r.json)) for r in fake_openai.chat_requests]
    assert request_sizes[1] <= request_sizes[0] * 1.01


def test_a_small_library_is_named_in_full(apps: AppFactory, fake_openai: FakeOpenAI) -> None:
    app = apps.build(fake_openai)
    for key in ("take-message", "reset-password", "generate-report"):
        admin(app, f"create template={key}")

    Chat(app).ask("I forgot my password")

    system = system_of(fake_openai)
    assert [m["name"] for m in JOB_HEADING.finditer(system)] == ["Reset a password"]
    assert [line.split(":")[0] for line in listed(system)] == [
        "- Generate a report", "- Take a message"]


def test_history_is_trimmed_to_the_token_budget_keeping_the_newest_turns() -> None:
    turns = [Turn(role="user" if n % 2 == 0 else "assistant", text=f"turn {n:02d} " + "x" * 400)
             for n in range(30)]
    context = TurnContext(bot=Bot(id="bot_default", name="chatjobs"), contact=None,
                          now=datetime(2025, 3, 4, 9, 0, tzinfo=UTC), jobs=(), candidates=(),
                          history=turns)

    messages = build_messages(context, history_tokens=1000)

    history = messages[1:]
    assert sum(tokens(m["content"]) for m in history) <= 1000
    assert len(history) == 1000 // tokens(turns[0].text)  # as many as fit, 9 here
    assert [m["content"] for m in history] == [t.text for t in turns[-len(history):]]
    assert [m["role"] for m in history] == [t.role for t in turns[-len(history):]]
    assert history[-1]["content"].startswith("turn 29")


def test_the_newest_message_is_kept_even_when_it_alone_is_over_budget() -> None:
    turns = [Turn(role="user", text="hello"), Turn(role="assistant", text="Hi!"),
             Turn(role="user", text="a very long paste " * 500)]
    context = TurnContext(bot=Bot(id="bot_default", name="chatjobs"), contact=None,
                          now=datetime(2025, 3, 4, 9, 0, tzinfo=UTC), jobs=(), candidates=(),
                          history=turns)

    messages = build_messages(context, history_tokens=100)

    assert [m["content"] for m in messages[1:]] == [turns[-1].text]


def test_the_prompt_has_the_persona_the_persons_facts_and_their_local_time(
    apps: AppFactory, fake_openai: FakeOpenAI
) -> None:
    now = datetime(2025, 3, 5, 1, 30, tzinfo=UTC)  # still Tuesday evening in São Paulo
    app = apps.build(fake_openai, clock=lambda: now)
    admin(app, 'edit persona="You are Pip, the Acme help desk."', group="bots")
    contact = Contact(platform="console", workspace="local", user="ana",
                      display_name="Ana Souza", role="admin", timezone="America/Sao_Paulo",
                      first_seen=now - timedelta(days=13), meta={"plan": "trial",
                                                                 "company": "Acme"})

    Chat(app, "ana", contact=contact).ask("hello")

    system = system_of(fake_openai)
    assert system.startswith("You are Pip, the Acme help desk.")
    assert "Current time: Tuesday 2025-03-04 22:30 (America/Sao_Paulo)" in system
    assert ("You are talking with: name Ana Souza, role admin, first seen 2025-02-20, "
            "timezone America/Sao_Paulo, company Acme, plan trial.") in system


def test_without_a_known_time_zone_the_time_is_utc(
    apps: AppFactory, fake_openai: FakeOpenAI
) -> None:
    now = datetime(2025, 3, 5, 1, 30, tzinfo=UTC)
    app = apps.build(fake_openai, clock=lambda: now)
    contact = Contact(platform="console", workspace="local", user="ben", timezone="Mars/Olympus")

    Chat(app, "ben", contact=contact).ask("hello")

    system = system_of(fake_openai)
    assert "Current time: Wednesday 2025-03-05 01:30 (UTC)" in system
    assert re.search(r"You are talking with: name ben, role member, first seen [\d-]+, "
                     r"timezone Mars/Olympus\.", system), system
