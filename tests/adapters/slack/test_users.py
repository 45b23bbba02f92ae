"""Contacts from users.info, cached in Redis for a day, and the admin check."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import redis
from slack_sdk import WebClient

from adapters.slack.sender import web_client
from adapters.slack.users import SlackUsers
from jobs_store import ContactStore
from tests.fakes.slack_api import FakeSlackAPI, error, rate_limited
from tests.fakes.slack_fixtures import BOT_TOKEN
from tests.integration.agent_helpers import make_settings


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def users(fake: FakeSlackAPI, client: redis.Redis, clock: Clock | None = None) -> SlackUsers:
    return SlackUsers(WebClient(token=BOT_TOKEN, base_url=fake.base_url), client,
                      ContactStore(client), clock=clock or Clock())


def test_a_contact_comes_from_users_info_and_is_stored(
        fake_slack: FakeSlackAPI, redis_client: redis.Redis) -> None:
    fake_slack.add_user("U1", name="ana", display_name="Ana P", tz="Europe/Lisbon",
                        is_admin=True)
    clock = Clock()
    contact = users(fake_slack, redis_client, clock).contact("T1", "U1")
    assert (contact.id, contact.display_name, contact.timezone, contact.role) == \
        ("slack:T1:U1", "Ana P", "Europe/Lisbon", "admin")
    assert contact.first_seen == clock.now
    assert ContactStore(redis_client).get("slack:T1:U1") == contact
    assert [c.params["user"] for c in fake_slack.calls("users.info")] == ["U1"]


def test_roles_and_names_follow_slacks_fields(
        fake_slack: FakeSlackAPI, redis_client: redis.Redis) -> None:
    fake_slack.add_user("U2", name="bo", display_name="", real_name="Bo Real", is_owner=True)
    fake_slack.add_user("U3", name="cy", is_primary_owner=True)
    fake_slack.add_user("U4", name="di")
    people = users(fake_slack, redis_client)
    assert people.contact("T1", "U2").display_name == "Bo Real"
    assert [people.contact("T1", u).role for u in ("U2", "U3", "U4")] == \
        ["owner", "owner", "member"]


def test_a_second_lookup_makes_no_api_call_until_a_day_has_passed(
        fake_slack: FakeSlackAPI, redis_client: redis.Redis) -> None:
    fake_slack.add_user("U1", name="ana", display_name="Ana")
    clock = Clock()
    first_seen = clock.now
    people = users(fake_slack, redis_client, clock)
    people.contact("T1", "U1")
    clock.now += timedelta(hours=23)
    assert people.contact("T1", "U1").display_name == "Ana"
    assert len(fake_slack.calls("users.info")) == 1

    fake_slack.add_user("U1", name="ana", display_name="Ana Renamed", is_admin=True)
    clock.now += timedelta(hours=1, seconds=1)
    refreshed = people.contact("T1", "U1")
    assert len(fake_slack.calls("users.info")) == 2
    assert (refreshed.display_name, refreshed.role) == ("Ana Renamed", "admin")
    assert refreshed.first_seen == first_seen  # still when we first met


def test_a_refresh_keeps_the_meta_an_admin_set(
        fake_slack: FakeSlackAPI, redis_client: redis.Redis) -> None:
    fake_slack.add_user("U1", name="ana")
    clock = Clock()
    people = users(fake_slack, redis_client, clock)
    contacts = ContactStore(redis_client)
    contacts.save(people.contact("T1", "U1").model_copy(update={"meta": {"plan": "trial"}}))
    clock.now += timedelta(days=2)
    assert people.contact("T1", "U1").meta == {"plan": "trial"}
    assert len(fake_slack.calls("users.info")) == 2


def test_when_slack_fails_the_stored_or_a_bare_contact_is_used(
        fake_slack: FakeSlackAPI, redis_client: redis.Redis) -> None:
    clock = Clock()
    people = users(fake_slack, redis_client, clock)
    bare = people.contact("T1", "U_UNKNOWN")  # users.info: user_not_found
    assert (bare.id, bare.display_name, bare.role) == ("slack:T1:U_UNKNOWN", "", "member")
    # Kept, so the first time we saw them is not lost; refreshed once Slack answers.
    assert ContactStore(redis_client).get(bare.id) == bare

    fake_slack.add_user("U1", name="ana", display_name="Ana")
    people.contact("T1", "U1")
    clock.now += timedelta(days=1, seconds=1)
    fake_slack.script("users.info", error("fatal_error"))
    assert people.contact("T1", "U1").display_name == "Ana"


def test_a_rate_limited_users_info_is_not_waited_out_while_slack_waits_for_the_ack(
        fake_slack: FakeSlackAPI, redis_client: redis.Redis) -> None:
    # users.info runs before the ack (Slack allows 3 s): a 429 gives the bare contact at
    # once, and the next message asks again.
    fake_slack.add_user("U1", name="ana", display_name="Ana")
    # The app's own client, which waits out the 429s of other calls.
    settings = make_settings(slack_bot_token=BOT_TOKEN, slack_api_url=fake_slack.base_url)
    people = SlackUsers(web_client(settings), redis_client, ContactStore(redis_client),
                        clock=Clock())
    fake_slack.script("users.info", rate_limited(retry_after=2))

    first = people.contact("T1", "U1")

    assert (first.display_name, first.role) == ("", "member")
    assert len(fake_slack.calls("users.info")) == 1  # not retried
    assert people.contact("T1", "U1").display_name == "Ana"
    assert len(fake_slack.calls("users.info")) == 2


def test_admins_are_owners_admins_and_the_listed_users(
        fake_slack: FakeSlackAPI, redis_client: redis.Redis) -> None:
    fake_slack.add_user("U_OWNER", is_owner=True)
    fake_slack.add_user("U_ADMIN", is_admin=True)
    fake_slack.add_user("U_MEMBER")
    fake_slack.add_user("U_LISTED")
    people = users(fake_slack, redis_client)
    listed = frozenset({"U_LISTED"})
    assert people.is_admin("T1", "U_OWNER", listed)
    assert people.is_admin("T1", "U_ADMIN", listed)
    assert not people.is_admin("T1", "U_MEMBER", listed)
    assert people.is_admin("T1", "U_LISTED", listed)
    assert not people.is_admin("T1", "U_NOBODY", listed)  # users.info fails: not an admin
    assert "U_LISTED" not in {c.params["user"] for c in fake_slack.calls("users.info")}
