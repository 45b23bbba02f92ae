"""The agent's tools, called by the (fake) model in real turns.

The fake OpenAI server scripts the tool calls; the tools run against the real
stores; what the person sees comes out of the console outbox, what the team
sees in the escalation channel comes through the `Sender` port.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import redis

from adapters.console import outbox
from bot.models import Contact
from jobs_store.tasks import TaskStore
from tests.fakes.openai_server import FakeOpenAI, reply, tool_call, tool_calls
from tests.integration.agent_helpers import (
    AppFactory,
    Chat,
    RecordingSender,
    admin,
    stats_rows,
    turn_jobs,
    work,
)

NOW = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)  # a Tuesday; New York is on EST (-05:00)
NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture
def apps(redis_url: str, redis_client: redis.Redis) -> Iterator[AppFactory]:
    factory = AppFactory(redis_url, redis_client)
    yield factory
    factory.close()


def tool_results(fake: FakeOpenAI) -> list[str]:
    """What the tools answered the model, in order (from the requests that followed)."""
    last = fake.chat_requests[-1].json["messages"]
    return [m["content"] for m in last if m["role"] == "tool"]


def ana(app: object) -> Chat:
    contact = Contact(platform="console", workspace="local", user="ana", display_name="Ana",
                      timezone="America/New_York")
    return Chat(app, "ana", contact=contact)  # type: ignore[arg-type]


# --- escalate -------------------------------------------------------------------------------


def test_escalate_posts_once_to_the_bots_escalation_channel(
    apps: AppFactory, fake_openai: FakeOpenAI
) -> None:
    app = apps.build(fake_openai)
    admin(app, "edit escalation_channel=#support", group="bots")
    chat = Chat(app)
    fake_openai.script(
        tool_call("escalate", {"reason": "Wants a refund for order 1234; card charged twice"}),
        reply("I've asked a teammate to follow up."),
    )

    answer = chat.ask("I was charged twice, I want my money back")

    assert answer == "I've asked a teammate to follow up."
    # ConsoleSender shows posts in the "posts" outbox, which every console window reads.
    assert app.client.lrange(outbox("posts"), 0, -1) == [
        "[posted to #support] Escalation from Ana in console:local:dm-ana::\n"
        "Wants a refund for order 1234; card charged twice"]
    assert tool_results(fake_openai) == [
        "escalated to #support; tell the person a teammate will follow up"]
    assert chat.outbox() == [], "one reply only"


def test_escalate_reaches_the_platform_sender_once(
    apps: AppFactory, fake_openai: FakeOpenAI
) -> None:
    sender = RecordingSender()
    app = apps.build(fake_openai, senders={"console": sender})
    admin(app, "edit escalation_channel=C0SUPPORT", group="bots")
    chat = Chat(app)
    fake_openai.script(tool_call("escalate", {"reason": "Needs a human"}), reply("On it."))

    chat.say("I need to talk to a person")
    work(app)

    assert sender.posts == [("C0SUPPORT", "Escalation from Ana in console:local:dm-ana::\n"
                                         "Needs a human")]
    assert sender.replies == [("console:local:dm-ana:", "On it.")]


def test_escalate_without_an_escalation_channel_says_so_and_posts_nothing(
    apps: AppFactory, fake_openai: FakeOpenAI
) -> None:
    sender = RecordingSender()
    app = apps.build(fake_openai, senders={"console": sender})
    chat = Chat(app)
    fake_openai.script(tool_call("escalate", {"reason": "Needs a human"}),
                       reply("I can't hand this over right now, sorry."))

    chat.say("I need to talk to a person")
    work(app)

    [result] = tool_results(fake_openai)
    assert result.startswith("no escalation channel is set"), result
    assert sender.posts == []
    assert sender.replies == [("console:local:dm-ana:",
                               "I can't hand this over right now, sorry.")]


# --- schedule_follow_up ---------------------------------------------------------------------


def test_a_follow_up_in_3_days_is_stored_as_a_task_for_the_contact(
    apps: AppFactory, fake_openai: FakeOpenAI
) -> None:
    app = apps.build(fake_openai, clock=lambda: NOW)
    chat = ana(app)
    fake_openai.script(
        tool_call("schedule_follow_up", {"when": "3d",
                                         "instructions": "Ask whether the import worked."}),
        reply("I'll check in on Friday."),
    )

    assert chat.ask("The import is running, can you check with me later?") == (
        "I'll check in on Friday.")

    [task] = TaskStore(app.client).list()
    assert task.contact == "console:local:ana"
    assert task.description == "Ask whether the import worked."
    assert task.next_run == NOW + timedelta(days=3)
    assert task.timezone == "America/New_York"
    assert task.schedule == "once 2025-03-07T04:00:00-05:00"
    assert task.bot == app.stores.bots.get().id
    [result] = tool_results(fake_openai)
    assert result.startswith("scheduled for 2025-03-07 04:00 EST"), result


def test_a_follow_up_at_an_iso_time_is_in_the_contacts_time_zone(
    apps: AppFactory, fake_openai: FakeOpenAI
) -> None:
    app = apps.build(fake_openai, clock=lambda: NOW)
    chat = ana(app)
    fake_openai.script(
        tool_call("schedule_follow_up", {"when": "2025-03-10T09:00",
                                         "instructions": "Remind her of the demo."}),
        reply("Reminder set for Monday 9:00."),
    )

    chat.ask("Remind me Monday at 9")

    [task] = TaskStore(app.client).list()
    assert task.next_run == datetime(2025, 3, 10, 9, 0, tzinfo=NEW_YORK)  # EDT by then
    assert task.contact == "console:local:ana"
    [result] = tool_results(fake_openai)
    assert result.startswith("scheduled for 2025-03-10 09:00 EDT"), result


@pytest.mark.parametrize(("when", "says"), [
    ("2025-03-01T09:00", "'when' is in the past"),
    ("2025-03-04T03:59", "'when' is in the past"),  # 08:59 UTC: a minute ago in New York
    ("0d", "'when' is in the past"),
    ("next blue moon", "'when' must be an ISO date-time or a delay like 3d"),
    ("3 weeks", "'when' must be an ISO date-time or a delay like 3d"),
    ("2027-01-01T09:00", "'when' is more than a year ahead"),
])
def test_a_follow_up_at_a_past_or_unreadable_time_is_refused_and_not_stored(
    apps: AppFactory, fake_openai: FakeOpenAI, when: str, says: str
) -> None:
    app = apps.build(fake_openai, clock=lambda: NOW)
    chat = ana(app)
    fake_openai.script(
        tool_call("schedule_follow_up", {"when": when, "instructions": "Check in."}),
        reply("Sorry, when should I follow up?"),
    )

    assert chat.ask("Follow up with me") == "Sorry, when should I follow up?"

    [result] = tool_results(fake_openai)
    assert result.startswith("error: "), result
    assert says in result
    assert TaskStore(app.client).list() == []


# --- complete_job ---------------------------------------------------------------------------


def test_complete_job_with_an_unknown_job_is_an_error_and_records_nothing(
    apps: AppFactory, fake_openai: FakeOpenAI
) -> None:
    app = apps.build(fake_openai)
    admin(app, "create template=reset-password")
    chat = Chat(app)
    fake_openai.script(
        tool_call("complete_job", {"job": "Bake a cake", "summary": "Cake baked"}),
        reply("Let's reset your password."),
    )

    assert chat.ask("I forgot my password") == "Let's reset your password."

    [result] = tool_results(fake_openai)
    assert result == ("error: no job named 'Bake a cake' in this conversation "
                      "(jobs: Reset a password)")
    row = stats_rows(app)["Reset a password"]
    assert row["completed"] == "0"
    assert app.agent.stats.recent_completions(app.stores.jobs.get("Reset a password").id) == []
    # The job the person is on stays in progress.
    assert chat.state().active_job == app.stores.jobs.get("Reset a password").id


# --- bad calls ------------------------------------------------------------------------------


def test_malformed_tool_arguments_do_not_crash_the_turn(
    apps: AppFactory, fake_openai: FakeOpenAI
) -> None:
    app = apps.build(fake_openai)
    admin(app, "create template=reset-password")
    chat = Chat(app)
    fake_openai.script(tool_call("complete_job", "not json"), reply("Let's try that again."))

    assert chat.ask("I forgot my password") == "Let's try that again."

    [result] = tool_results(fake_openai)
    assert result.startswith("error: arguments must be a JSON object"), result
    assert stats_rows(app)["Reset a password"]["completed"] == "0"
    assert chat.state().received == chat.state().answered == 1
    assert turn_jobs(app)["failed"] == 0


def test_unknown_tools_and_missing_arguments_are_errors_for_the_model(
    apps: AppFactory, fake_openai: FakeOpenAI
) -> None:
    sender = RecordingSender()
    app = apps.build(fake_openai, senders={"console": sender}, clock=lambda: NOW)
    admin(app, "edit escalation_channel=#support", group="bots")
    chat = ana(app)
    fake_openai.script(
        tool_calls([("delete_everything", {}), ("escalate", {}),
                    ("schedule_follow_up", {"when": "3d"}),
                    ("complete_job", ["a", "list"])]),  # valid JSON, not an object
        reply("Sorry, something went wrong on my side."),
    )

    chat.say("hello")
    work(app)

    assert tool_results(fake_openai) == [
        "error: there is no tool named 'delete_everything'",
        "error: missing argument 'reason'",
        "error: missing argument 'instructions'",
        "error: arguments must be a JSON object, got '[\"a\", \"list\"]'",
    ]
    assert sender.posts == []
    assert TaskStore(app.client).list() == []
    assert sender.replies == [("console:local:dm-ana:", "Sorry, something went wrong on my side.")]
