"""Slash commands and the job form, end to end through the real bolt app over HTTP.

Signed requests go to `POST /slack/events` of `adapters.slack.server`; the app
calls the fake Slack Web API (users.info, views.*, chat.*) and answers through
a `response_url` on the fake; the stores are real, on the session's Redis; the
model is the fake OpenAI server. Nothing of ours is mocked.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis

from adapters.slack.app import SlackDeps, create_app
from adapters.slack.commands import WORKING
from adapters.slack.modals import CALLBACK_ID, TEMPLATE_ACTION, field_blocks
from adapters.slack.server import EVENTS_PATH, serve_http
from bot.app import App, build_app
from bot.templates import all_templates
from config.settings import load_settings
from jobs_store.models import JOB_FIELDS, Job
from tests.adapters.slack.blockkit import check_message, check_view
from tests.fakes.openai_server import FakeOpenAI, reply, slow
from tests.fakes.slack_api import FakeSlackAPI, error
from tests.fakes.slack_requests import (
    block_actions_payload,
    command_body,
    payload_body,
    post,
    signed_headers,
    view_submission_body,
)

ADMIN, OWNER, LISTED, MEMBER = "U_ADMIN", "U_OWNER", "U_LISTED", "U_MEMBER"
#: Generous: the point is that the ack never waits for the work, not a benchmark.
ACK_WITHIN_S = 2.5


@dataclass
class Reply:
    status: int
    text: str
    seconds: float

    @property
    def json(self) -> Any:
        return json.loads(self.text) if self.text else None


@dataclass
class Slack:
    """The app under test, its stores, and what Slack would do."""

    fake: FakeSlackAPI
    app: App
    url: str
    secret: str

    def send(self, body: str, *, secret: str | None = None) -> Reply:
        started = time.monotonic()
        status, _, text = post(self.url, body, signed_headers(body, secret or self.secret))
        return Reply(status, text, time.monotonic() - started)

    def command(self, text: str, *, user: str = ADMIN, command: str = "/jobs",
                response: str = "r1", **fields: Any) -> Reply:
        fields.setdefault("channel_id", "C1")
        answer = self.send(command_body(command, text, user_id=user,
                                        response_url=self.fake.response_url(response),
                                        **fields))
        assert answer.status == 200, answer
        assert answer.seconds < ACK_WITHIN_S
        return answer

    def answer(self, response: str = "r1") -> dict[str, Any]:
        """The one ephemeral answer posted to `response`'s response_url."""
        (posted,) = self.fake.wait_for_responses(1, id=response)
        assert posted["response_type"] == "ephemeral"
        check_message(posted["blocks"], posted["text"])
        return dict(posted)

    def opened_view(self, n: int = 1) -> dict[str, Any]:
        """The view of the `n`-th views.open call, as Slack would show it (with its id)."""
        call = self.fake.wait_for("views.open", n)[n - 1]
        view = dict(call.params["view"])
        check_view(view)
        return {**view, "id": f"V{n}", "hash": f"h{n}"}

    def submit(self, view: dict[str, Any], values: dict[str, str | None], *,
               user: str = ADMIN) -> Reply:
        """Submit `view` with these values by field (Slack keys them by block id)."""
        blocks = field_blocks(view)
        state = {blocks[field]: {"value": value} for field, value in values.items()}
        answer = self.send(view_submission_body(
            CALLBACK_ID, state, view["private_metadata"], user, blocks=view["blocks"],
            view_id=view["id"]))
        assert answer.status == 200, answer
        assert answer.seconds < ACK_WITHIN_S
        return answer

    def job(self, ref: str) -> Job | None:
        return self.app.stores.jobs.find(ref)


@pytest.fixture
def slack(fake_slack: FakeSlackAPI, fake_slack_env: dict[str, str], slack_secret: str,
          fake_openai: FakeOpenAI, fake_openai_env: dict[str, str], redis_url: str,
          redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch,
          tmp_path: Any) -> Iterator[Slack]:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name, value in {**fake_slack_env, **fake_openai_env}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CHATJOBS_ADMINS", f"{LISTED},U_OTHER")
    settings = load_settings(redis_url=redis_url)
    fake_slack.add_user(ADMIN, name="ana", is_admin=True)
    fake_slack.add_user(OWNER, name="olu", is_owner=True)
    fake_slack.add_user(LISTED, name="lee")
    fake_slack.add_user(MEMBER, name="max")
    rq_client = redis.Redis.from_url(redis_url)
    app = build_app(settings, url=redis_url, client=redis_client, rq_client=rq_client)
    deps = SlackDeps.build(settings, redis=redis_client, ingress=app.ingress,
                           contacts=app.contacts, stores=app.stores)
    server = serve_http(create_app(settings, deps), "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield Slack(fake=fake_slack, app=app,
                    url=f"http://127.0.0.1:{server.server_port}{EVENTS_PATH}",
                    secret=slack_secret)
    finally:
        server.shutdown()
        server.server_close()
        rq_client.close()


def _title(answer: dict[str, Any]) -> str:
    return str(answer["blocks"][0]["text"]["text"])


def _job_keys(client: redis.Redis) -> list[str]:
    return sorted(str(key) for key in client.keys("*") if ":job" in str(key))


# --- slash commands ----------------------------------------------------------------------


@pytest.mark.parametrize("user", [ADMIN, OWNER, LISTED])
def test_an_admin_creates_a_job_and_gets_an_ephemeral_answer(slack: Slack, user: str) -> None:
    ack = slack.command('create name="Take a message" trigger="leave a message" '
                        'instructions="1. Ask who it is for.\\n2. Ask for the message."',
                        user=user)
    assert ack.text == ""  # acked at once with nothing; the answer follows
    answer = slack.answer()
    job = slack.job("Take a message")
    assert job is not None and job.created_by == user
    assert _title(answer) == f"*Created 'Take a message' ({job.id}, version 1).*"
    assert answer["text"].startswith("Created 'Take a message'")
    assert job.instructions == "1. Ask who it is for.\n2. Ask for the message."


def test_a_member_stores_nothing_and_is_told_why(slack: Slack,
                                                 redis_client: redis.Redis) -> None:
    slack.command('create name="Take a message" instructions="1. Ask."', user=MEMBER)
    answer = slack.answer()
    assert _title(answer).startswith(":warning: *Only admins can use /jobs create.")
    assert "CHATJOBS_ADMINS" in answer["text"]
    assert slack.job("Take a message") is None
    assert _job_keys(redis_client) == []


def test_the_admin_check_asks_users_info_once_and_then_uses_the_cache(slack: Slack) -> None:
    slack.command("list", response="a")
    slack.answer("a")
    slack.command("list", response="b")
    slack.answer("b")
    assert [c.params["user"] for c in slack.fake.calls("users.info")] == [ADMIN]


def test_help_works_for_anyone_and_is_answered_in_the_ack(slack: Slack) -> None:
    ack = slack.command("help", user="U_STRANGER")
    assert ack.json["response_type"] == "ephemeral"
    check_message(ack.json["blocks"], ack.json["text"])
    assert ack.json["text"].startswith("/jobs: manage the job library")
    ack = slack.command("help create", user=MEMBER)
    assert "name: 1–100 characters" in ack.json["text"]
    ack = slack.command("", user=MEMBER, command="/bots")
    assert ack.json["text"].startswith("/bots")
    assert slack.fake.calls("users.info") == []  # help needs no admin check
    assert slack.fake.responses() == []


def test_tasks_runs_the_shared_grammar_and_reads_mentions_in_the_team(slack: Slack) -> None:
    ack = slack.command("help", command="/tasks", user=MEMBER)
    assert ack.json["text"].startswith("/tasks: schedule instructions")
    check_message(ack.json["blocks"], ack.json["text"])

    slack.command('create name="Check in" description="Ask how it goes" '
                  'schedule="daily 09:00" timezone=Europe/Paris contact=<@U0ANA|ana>',
                  command="/tasks")
    assert slack.answer()["text"].startswith("Created 'Check in'")
    assert slack.app.stores.tasks is not None
    task = slack.app.stores.tasks.get("check in")
    assert task.contact == "slack:T1:U0ANA"
    assert task.created_by == ADMIN


def test_tasks_are_for_admins_only(slack: Slack) -> None:
    slack.command('create name=x description=y schedule="daily 09:00"', command="/tasks",
                  user=MEMBER)
    assert "Only admins can use /tasks create." in slack.answer()["text"]
    assert slack.app.stores.tasks is not None and slack.app.stores.tasks.list() == []


def test_bots_runs_the_shared_grammar(slack: Slack) -> None:
    slack.command("list", command="/bots")
    assert "default" in slack.answer()["text"].lower()


def test_an_unknown_subcommand_is_refused_with_a_hint(slack: Slack) -> None:
    slack.command("lsit")
    assert "Did you mean '/jobs list'?" in slack.answer()["text"]


def test_an_unsigned_or_badly_signed_command_is_rejected(slack: Slack) -> None:
    body = command_body("/jobs", 'create name=x instructions=y', user_id=ADMIN,
                        response_url=slack.fake.response_url("r1"))
    assert slack.send(body, secret="wrong-secret").status == 401
    assert slack.job("x") is None
    assert slack.fake.calls("users.info") == [] and slack.fake.responses() == []


def test_optimize_is_acked_before_the_slow_model_answers(slack: Slack,
                                                         fake_openai: FakeOpenAI) -> None:
    slack.command('create name="Take a message" instructions="ask who. ask what."',
                  response="c")
    slack.answer("c")
    fake_openai.script(slow(1.5, reply("Goal: Pass a message on.\n1. Ask who it is for.\n"
                                       "2. Ask for the message.\nIf the user declines, end "
                                       "politely.\nIf they go off-topic, help briefly.")))
    ack = slack.command('optimize "Take a message"', response="o")
    assert ack.seconds < 1.5  # the HTTP 200 came back while the model was still thinking
    assert ack.json == {"text": WORKING, "response_type": "ephemeral"}
    assert slack.fake.responses("o") == []
    answer = slack.answer("o")
    assert answer["text"].startswith("Optimized 'Take a message' (version 1 → 2).")
    job = slack.job("Take a message")
    assert job is not None and job.instructions.startswith("Goal: Pass a message on.")


def test_commands_are_acked_while_slow_model_commands_run(slack: Slack,
                                                          fake_openai: FakeOpenAI) -> None:
    """Five model calls at once hold neither bolt's threads nor the other commands."""
    slack.command('create name=Job instructions="do it"', response="c")
    slack.answer("c")
    fake_openai.script(*[slow(2.0, reply("Goal: x.\n1. Do it.")) for _ in range(5)])
    for i in range(5):
        slack.command("test hello there", response=f"t{i}")
    slack.command("list", response="l")
    assert "Job" in slack.answer("l")["text"]  # answered while the model calls still run
    assert slack.fake.responses("t0") == []
    for i in range(5):
        assert slack.fake.wait_for_responses(1, id=f"t{i}", timeout=10)


# --- the job form -------------------------------------------------------------------------


def test_create_without_fields_opens_the_form_and_submitting_it_stores_the_job(
        slack: Slack) -> None:
    trigger_id = "trigger.12345"
    assert slack.command("create", trigger_id=trigger_id).text == ""
    call = slack.fake.wait_for("views.open")[0]
    assert call.params["trigger_id"] == trigger_id
    view = slack.opened_view()
    assert view["callback_id"] == CALLBACK_ID and view["title"]["text"] == "New job"
    meta = json.loads(view["private_metadata"])
    assert meta["channel"] == "C1" and meta["response_url"] == slack.fake.response_url("r1")

    ack = slack.submit(view, {"name": "Book a meeting", "instructions": "1. Ask when.",
                              "trigger": "book a call", "description": None,
                              "audience": None, "rule": "platform=slack"})
    assert ack.text == ""  # closes the form
    job = slack.job("Book a meeting")
    assert job is not None and job.created_by == ADMIN
    assert (job.trigger, job.rule, job.description) == ("book a call", "platform=slack", "")
    answer = slack.answer()  # the confirmation, through the command's response_url
    assert answer["text"].startswith("Created 'Book a meeting'")


def test_an_over_limit_field_comes_back_under_that_field_and_nothing_is_stored(
        slack: Slack, redis_client: redis.Redis) -> None:
    slack.command("create")
    view = slack.opened_view()
    ack = slack.submit(view, {"name": "x" * 101, "instructions": "1. Ask."})
    assert ack.json == {"response_action": "errors",
                        "errors": {"name": "at most 100 characters (you gave 101)"}}
    ack = slack.submit(view, {"name": "Fine", "instructions": "1. Ask.",
                              "rule": "plan=trial"})
    assert list(ack.json["errors"]) == ["rule"]
    assert ack.json["errors"]["rule"].startswith("unknown condition 'plan'")
    assert _job_keys(redis_client) == []
    assert slack.fake.responses() == []


def test_a_taken_name_is_shown_on_the_name_field(slack: Slack) -> None:
    slack.command('create name="Book a meeting" instructions="1. Ask."', response="c")
    slack.answer("c")
    slack.command("create")
    ack = slack.submit(slack.opened_view(), {"name": "book a MEETING", "instructions": "x"})
    assert ack.json["response_action"] == "errors"
    assert "already exists" in ack.json["errors"]["name"]


def test_a_member_cannot_open_the_form_nor_save_one(slack: Slack,
                                                    redis_client: redis.Redis) -> None:
    slack.command("create", user=MEMBER)
    assert _title(slack.answer()).startswith(":warning: *Only admins can use /jobs create.")
    assert slack.fake.calls("views.open") == []
    # A form submitted by a member (say an admin's form, forwarded) saves nothing either.
    slack.command("create", response="a")
    ack = slack.submit(slack.opened_view(), {"name": "Sneaky", "instructions": "1. x"},
                       user=MEMBER)
    assert ack.json["response_action"] == "errors"
    assert "Only admins can save jobs" in ack.json["errors"]["name"]
    assert _job_keys(redis_client) == []


def test_edit_without_fields_opens_the_form_prefilled_with_the_version(slack: Slack) -> None:
    slack.command('create name="Take a message" trigger="leave a message" '
                  'instructions="1. Ask who."', response="c")
    slack.answer("c")
    slack.command('edit "take a message"', trigger_id="trigger.edit", response="e")
    assert slack.fake.wait_for("views.open")[0].params["trigger_id"] == "trigger.edit"
    view = slack.opened_view()
    job = slack.job("Take a message")
    assert job is not None
    assert json.loads(view["private_metadata"])["version"] == 1
    assert json.loads(view["private_metadata"])["job_id"] == job.id
    inputs = {b["block_id"]: b["element"] for b in view["blocks"] if b["type"] == "input"}
    assert inputs["name"]["initial_value"] == "Take a message"
    assert inputs["trigger"]["initial_value"] == "leave a message"
    values = {f: getattr(job, f) or None for f in JOB_FIELDS}
    slack.submit(view, {**values, "trigger": "leave a message, pass something on"})
    saved = slack.job("Take a message")
    assert saved is not None and saved.version == 2
    assert saved.trigger == "leave a message, pass something on"
    assert slack.answer("e")["text"].startswith("Saved 'Take a message' as version 2 "
                                                "(changed: trigger).")


def test_a_stale_submission_is_refused_and_the_newer_edit_kept(slack: Slack) -> None:
    slack.command('create name="Take a message" instructions="1. Ask who."', response="c")
    slack.answer("c")
    slack.command('edit "Take a message"', response="e")
    view = slack.opened_view()
    # Meanwhile someone else saves version 2.
    slack.command('edit "Take a message" trigger="pass a message"', user=OWNER,
                  response="o")
    slack.answer("o")
    ack = slack.submit(view, {"name": "Take a message", "instructions": "1. Mine.",
                              "trigger": None, "description": None, "audience": None,
                              "rule": None})
    assert ack.json["response_action"] == "errors"
    message = ack.json["errors"]["name"]
    assert f"was changed by {OWNER}" in message and "Nothing was saved" in message
    job = slack.job("Take a message")
    assert job is not None and job.version == 2
    assert (job.trigger, job.instructions) == ("pass a message", "1. Ask who.")
    assert slack.fake.responses("e") == []


def test_saving_a_job_deleted_meanwhile_is_refused(slack: Slack) -> None:
    slack.command('create name="Take a message" instructions="1. Ask who."', response="c")
    slack.answer("c")
    slack.command('edit "Take a message"', response="e")
    view = slack.opened_view()
    slack.command('delete "Take a message"', response="d")
    slack.answer("d")
    ack = slack.submit(view, {"name": "Take a message", "instructions": "1. Mine."})
    assert ack.json["response_action"] == "errors"
    assert ack.json["errors"]["name"].startswith("This job was deleted after the form opened")
    assert slack.job("Take a message") is None


def test_edit_of_an_unknown_job_is_refused_without_a_form(slack: Slack) -> None:
    slack.command("edit nope")
    assert _title(slack.answer()).startswith(":warning: *No job named 'nope'.")
    assert slack.fake.calls("views.open") == []


def test_a_form_slack_will_not_open_is_explained(slack: Slack) -> None:
    slack.fake.script("views.open", error("expired_trigger_id"))
    slack.command("create")
    answer = slack.answer()
    assert "Could not open the job form (Slack said: expired_trigger_id)" in answer["text"]


def test_picking_a_template_redraws_the_form_prefilled(slack: Slack) -> None:
    slack.command("create")
    view = slack.opened_view()
    payload = block_actions_payload(TEMPLATE_ACTION, user_id=ADMIN, view=view,
                                    block_id="template", action_type="static_select")
    payload["actions"][0]["selected_option"] = {
        "text": {"type": "plain_text", "text": "Take a message"}, "value": "take-message"}
    ack = slack.send(payload_body(payload))
    assert ack.status == 200 and ack.seconds < ACK_WITHIN_S
    (update,) = slack.fake.wait_for("views.update")
    assert update.params["view_id"] == "V1" and update.params["hash"] == "h1"
    redrawn = {**update.params["view"], "id": "V1", "hash": "h2"}
    check_view(redrawn)
    template = all_templates()["take-message"]
    inputs = {b["block_id"]: b["element"] for b in redrawn["blocks"] if b["type"] == "input"}
    assert inputs["name-1"]["initial_value"] == template["name"]
    assert inputs["instructions-1"]["initial_value"] == template["instructions"]
    slack.submit(redrawn, {**{f: template.get(f) for f in JOB_FIELDS}, "name": "My message"})
    job = slack.job("My message")
    assert job is not None and job.instructions == template["instructions"]


def test_the_confirmation_falls_back_to_ephemeral_then_to_a_dm(slack: Slack) -> None:
    slack.command("create")
    view = slack.opened_view()
    meta = json.loads(view["private_metadata"])
    without_url = {**view, "private_metadata": json.dumps({**meta, "response_url": None})}
    slack.submit(without_url, {"name": "One", "instructions": "1. x"})
    (ephemeral,) = slack.fake.wait_for("chat.postEphemeral")
    assert (ephemeral.params["channel"], ephemeral.params["user"]) == ("C1", ADMIN)
    assert ephemeral.params["text"].startswith("Created 'One'")
    check_message(ephemeral.params["blocks"], ephemeral.params["text"])

    slack.fake.script("chat.postEphemeral", error("channel_not_found"))
    slack.submit(without_url, {"name": "Two", "instructions": "1. x"})
    (dm,) = slack.fake.wait_for("chat.postMessage")
    assert dm.params["channel"] == ADMIN and dm.params["text"].startswith("Created 'Two'")
    assert slack.fake.responses() == []

