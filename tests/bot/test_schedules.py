"""Schedules: every form, the refusals, daylight-saving changes, durations.

The clock is injected (`now=`, `after=`); the expected UTC instants are
written out by hand. 2025's changes: Europe/Berlin springs forward on 30 March
(02:00 CET → 03:00 CEST, 01:00 UTC) and falls back on 26 October (03:00 CEST →
02:00 CET, 01:00 UTC); America/New_York on 9 March (02:00 EST → 03:00 EDT,
07:00 UTC) and 2 November (02:00 EDT → 01:00 EST, 06:00 UTC).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.schedules import parse_duration, parse_schedule, plan, read_schedule
from jobs_store.errors import InvalidInput
from jobs_store.tasks import Task, format_duration

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def runs(text: str, zone: ZoneInfo, after: datetime, n: int = 3) -> list[datetime]:
    return parse_schedule(text, now=NOW, zone=zone).next_runs(after, n)


# --- forms --------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "canonical"), [
    ("once 2025-06-01 09:00", "once 2025-06-01T09:00:00+02:00"),
    ("ONCE 2025-06-01T09:00", "once 2025-06-01T09:00:00+02:00"),
    ("once 2025-06-01T09:00+00:00", "once 2025-06-01T11:00:00+02:00"),
    ("hourly", "hourly :00"),
    ("hourly :5", "hourly :05"),
    ("hourly 45", "hourly :45"),
    ("daily 9:00", "daily 09:00"),
    ("Daily   23:59", "daily 23:59"),
    ("weekly Monday 09:00", "weekly mon 09:00"),
    ("weekly sun 7:30", "weekly sun 07:30"),
    ("monthly 1 08:00", "monthly 1 08:00"),
    ("monthly 31 08:00", "monthly 31 08:00"),
    ("monthly LAST 18:00", "monthly last 18:00"),
    ("cron  0 9   * * 1-5", "cron 0 9 * * 1-5"),
])
def test_every_form_is_stored_canonical(text: str, canonical: str) -> None:
    assert parse_schedule(text, now=NOW, zone=PARIS).text == canonical


def test_once_previews_its_one_run() -> None:
    schedule = parse_schedule("once 2025-06-01 09:00", now=NOW, zone=PARIS)
    assert schedule.next_runs(NOW, 5) == [utc(2025, 6, 1, 7, 0)]
    assert schedule.next_runs(utc(2025, 6, 1, 7, 0), 5) == []


@pytest.mark.parametrize(("text", "expected"), [
    ("hourly :15", [utc(2025, 3, 4, 9, 15), utc(2025, 3, 4, 10, 15), utc(2025, 3, 4, 11, 15)]),
    ("daily 09:00", [utc(2025, 3, 4, 9, 0), utc(2025, 3, 5, 9, 0), utc(2025, 3, 6, 9, 0)]),
    ("weekly mon 09:00", [utc(2025, 3, 10, 9), utc(2025, 3, 17, 9), utc(2025, 3, 24, 9)]),
    ("monthly 1 09:00", [utc(2025, 4, 1, 9), utc(2025, 5, 1, 9), utc(2025, 6, 1, 9)]),
    ("cron 30 8 * * 1-5", [utc(2025, 3, 5, 8, 30), utc(2025, 3, 6, 8, 30),
                           utc(2025, 3, 7, 8, 30)]),
])
def test_every_form_previews_in_utc(text: str, expected: list[datetime]) -> None:
    after = utc(2025, 3, 4, 9, 0) - timedelta(seconds=1) if "daily" in text else NOW
    assert runs(text, ZoneInfo("UTC"), after) == expected


def test_runs_are_strictly_after_and_in_the_zone() -> None:
    # 09:00 Paris is 08:00 UTC in winter; exactly at a run, the next one is the next day.
    assert runs("daily 09:00", PARIS, utc(2025, 3, 4, 8, 0), 2) == [
        utc(2025, 3, 5, 8, 0), utc(2025, 3, 6, 8, 0)]


@pytest.mark.parametrize(("text", "expected"), [
    # 31 in a 30-day month and in February: the month's last day.
    ("monthly 31 09:00", [utc(2025, 3, 31, 7), utc(2025, 4, 30, 7), utc(2025, 5, 31, 7),
                          utc(2025, 6, 30, 7)]),
    ("monthly 30 09:00", [utc(2025, 3, 30, 7), utc(2025, 4, 30, 7), utc(2025, 5, 30, 7),
                          utc(2025, 6, 30, 7)]),
    ("monthly last 09:00", [utc(2025, 3, 31, 7), utc(2025, 4, 30, 7), utc(2025, 5, 31, 7),
                            utc(2025, 6, 30, 7)]),
])
def test_monthly_days_past_a_months_end_run_on_its_last_day(
    text: str, expected: list[datetime]
) -> None:
    assert runs(text, BERLIN, NOW, 4) == expected


def test_monthly_29_in_february_of_a_common_and_a_leap_year() -> None:
    after = utc(2027, 1, 30)
    assert runs("monthly 29 12:00", ZoneInfo("UTC"), after, 2) == [
        utc(2027, 2, 28, 12), utc(2027, 3, 29, 12)]
    assert runs("monthly 29 12:00", ZoneInfo("UTC"), utc(2028, 1, 30), 1) == [
        utc(2028, 2, 29, 12)]


# --- daylight-saving changes ----------------------------------------------------------


def test_daily_0900_is_0900_local_on_both_sides_of_berlins_changes() -> None:
    assert runs("daily 09:00", BERLIN, utc(2025, 3, 29)) == [
        utc(2025, 3, 29, 8), utc(2025, 3, 30, 7), utc(2025, 3, 31, 7)]
    assert runs("daily 09:00", BERLIN, utc(2025, 10, 25)) == [
        utc(2025, 10, 25, 7), utc(2025, 10, 26, 8), utc(2025, 10, 27, 8)]


def test_daily_in_berlins_skipped_hour_runs_once_when_the_clocks_jump() -> None:
    assert runs("daily 02:30", BERLIN, utc(2025, 3, 29)) == [
        utc(2025, 3, 29, 1, 30), utc(2025, 3, 30, 1, 0), utc(2025, 3, 31, 0, 30)]


def test_daily_in_berlins_repeated_hour_runs_once_at_its_first_occurrence() -> None:
    assert runs("daily 02:30", BERLIN, utc(2025, 10, 25)) == [
        utc(2025, 10, 25, 0, 30), utc(2025, 10, 26, 0, 30), utc(2025, 10, 27, 1, 30)]
    # Asked during the second pass of 02:30, it is not run again.
    assert runs("daily 02:30", BERLIN, utc(2025, 10, 26, 1, 0), 1) == [utc(2025, 10, 27, 1, 30)]


def test_weekly_across_berlins_changes() -> None:
    assert runs("weekly sun 02:30", BERLIN, utc(2025, 3, 22)) == [
        utc(2025, 3, 23, 1, 30), utc(2025, 3, 30, 1, 0), utc(2025, 4, 6, 0, 30)]
    assert runs("weekly sun 02:30", BERLIN, utc(2025, 10, 19)) == [
        utc(2025, 10, 19, 0, 30), utc(2025, 10, 26, 0, 30), utc(2025, 11, 2, 1, 30)]


def test_monthly_across_berlins_changes() -> None:
    assert runs("monthly 30 02:30", BERLIN, utc(2025, 2, 1)) == [
        utc(2025, 2, 28, 1, 30), utc(2025, 3, 30, 1, 0), utc(2025, 4, 30, 0, 30)]
    assert runs("monthly 26 02:30", BERLIN, utc(2025, 9, 1)) == [
        utc(2025, 9, 26, 0, 30), utc(2025, 10, 26, 0, 30), utc(2025, 11, 26, 1, 30)]


def test_cron_with_a_fixed_hour_follows_the_wall_clock_in_berlin() -> None:
    # Two skipped times of one day run once, when the clocks jump.
    assert runs("cron 0,30 2 * * *", BERLIN, utc(2025, 3, 29, 12), 3) == [
        utc(2025, 3, 30, 1, 0), utc(2025, 3, 31, 0, 0), utc(2025, 3, 31, 0, 30)]
    assert runs("cron 30 2 * * *", BERLIN, utc(2025, 10, 25, 12), 2) == [
        utc(2025, 10, 26, 0, 30), utc(2025, 10, 27, 1, 30)]


def test_every_hour_schedules_follow_real_time_in_berlin() -> None:
    assert runs("cron */30 * * * *", BERLIN, utc(2025, 3, 29, 23, 50), 4) == [
        utc(2025, 3, 30, 0, 0), utc(2025, 3, 30, 0, 30), utc(2025, 3, 30, 1, 0),
        utc(2025, 3, 30, 1, 30)]
    # 02:00 and 02:30 happen twice: both passes run.
    assert runs("cron */30 * * * *", BERLIN, utc(2025, 10, 25, 23, 50), 5) == [
        utc(2025, 10, 26, 0, 0), utc(2025, 10, 26, 0, 30), utc(2025, 10, 26, 1, 0),
        utc(2025, 10, 26, 1, 30), utc(2025, 10, 26, 2, 0)]
    assert runs("hourly :30", BERLIN, utc(2025, 3, 29, 23, 50), 3) == [
        utc(2025, 3, 30, 0, 30), utc(2025, 3, 30, 1, 30), utc(2025, 3, 30, 2, 30)]


def test_daily_across_new_yorks_changes() -> None:
    assert runs("daily 09:00", NEW_YORK, utc(2025, 3, 8)) == [
        utc(2025, 3, 8, 14), utc(2025, 3, 9, 13), utc(2025, 3, 10, 13)]
    assert runs("daily 02:30", NEW_YORK, utc(2025, 3, 8)) == [
        utc(2025, 3, 8, 7, 30), utc(2025, 3, 9, 7, 0), utc(2025, 3, 10, 6, 30)]
    assert runs("daily 01:30", NEW_YORK, utc(2025, 11, 1)) == [
        utc(2025, 11, 1, 5, 30), utc(2025, 11, 2, 5, 30), utc(2025, 11, 3, 6, 30)]


def test_weekly_and_monthly_across_new_yorks_changes() -> None:
    assert runs("weekly sun 02:15", NEW_YORK, utc(2025, 3, 3)) == [
        utc(2025, 3, 9, 7, 0), utc(2025, 3, 16, 6, 15), utc(2025, 3, 23, 6, 15)]
    assert runs("monthly 2 01:30", NEW_YORK, utc(2025, 10, 1)) == [
        utc(2025, 10, 2, 5, 30), utc(2025, 11, 2, 5, 30), utc(2025, 12, 2, 6, 30)]


def test_cron_across_new_yorks_changes() -> None:
    assert runs("cron 30 2 * * 0", NEW_YORK, utc(2025, 3, 3), 2) == [
        utc(2025, 3, 9, 7, 0), utc(2025, 3, 16, 6, 30)]
    assert runs("cron 0 * * * *", NEW_YORK, utc(2025, 11, 2, 4, 30), 4) == [
        utc(2025, 11, 2, 5), utc(2025, 11, 2, 6), utc(2025, 11, 2, 7), utc(2025, 11, 2, 8)]
    assert runs("cron 0 * * * *", NEW_YORK, utc(2025, 3, 9, 5, 30), 3) == [
        utc(2025, 3, 9, 6), utc(2025, 3, 9, 7), utc(2025, 3, 9, 8)]


# --- refusals ---------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "says"), [
    ("", "is required"),
    ("fortnightly 09:00", "'fortnightly' is not a schedule"),
    ("once tomorrow", "once takes a date and time, not 'tomorrow'"),
    ("once 2025-03-01 09:00", "2025-03-01 09:00 (Europe/Paris) is in the past"),
    ("hourly :75", "hourly takes the minute past the hour"),
    ("daily 25:00", "25:00 is not a time of day"),
    ("daily 9am", "daily needs a time HH:MM"),
    ("weekly funday 09:00", "weekly needs a day"),
    ("weekly mon", "weekly needs a time HH:MM"),
    ("monthly 32 09:00", "monthly needs a day of the month, 1–31 or last"),
    ("cron 0 9 * *", "cron takes 5 fields"),
    ("cron 61 9 * * *", "'61 9 * * *' is not a valid cron expression"),
    ("cron 0 0 30 2 *", "'cron 0 0 30 2 *' never runs"),
    ("x" * 201, "at most 200 characters"),
])
def test_refusals_name_the_field_and_give_an_example(text: str, says: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_schedule(text, now=NOW, zone=PARIS)
    assert caught.value.field == "schedule"
    assert says in caught.value.reason
    if text and len(text) < 200:
        assert "e.g." in caught.value.reason


@given(st.one_of(
    st.text(max_size=80),
    st.tuples(st.sampled_from(["once", "hourly", "daily", "weekly", "monthly", "cron"]),
              st.text(max_size=40)).map(" ".join),
    st.tuples(st.just("cron"), st.lists(st.text("0123456789*/,-LW#?HJANmonFRI", min_size=1,
                                                max_size=6), min_size=5, max_size=5)
              ).map(lambda p: p[0] + " " + " ".join(p[1])),
))
@settings(max_examples=400, deadline=None)
def test_parse_schedule_raises_only_invalid_input(text: str) -> None:
    try:
        schedule = parse_schedule(text, now=NOW, zone=BERLIN)
    except InvalidInput as exc:
        assert exc.field == "schedule"
        return
    schedule.next_runs(NOW, 3)  # and what it accepts can be previewed
    assert read_schedule(schedule.text, zone=BERLIN).text == schedule.text


# --- durations and planning --------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("90s", timedelta(seconds=90)), ("15m", timedelta(minutes=15)), ("1h", timedelta(hours=1)),
    ("7d", timedelta(days=7)), (" 2H ", timedelta(hours=2)), ("0s", timedelta(0)),
])
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text, field="session") == expected


@pytest.mark.parametrize("text", ["", "1.5h", "1h30m", "h", "-1h", "10 minutes", "1w"])
def test_a_bad_duration_names_the_field(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_duration(text, field="max_time")
    assert caught.value.field == "max_time"
    assert "e.g. 90s, 15m, 1h or 7d" in caught.value.reason


def test_durations_format_in_their_largest_exact_unit() -> None:
    assert [format_duration(timedelta(seconds=s)) for s in (0, 90, 900, 5400, 3600, 604800)] == [
        "0s", "90s", "15m", "90m", "1h", "7d"]


def test_plan_sets_the_next_run_and_none_for_a_passed_once_or_a_paused_task() -> None:
    task = Task(name="t", description="d", schedule="daily 9:00", timezone="Europe/Paris")
    planned = plan(task, now=NOW)
    assert (planned.schedule, planned.next_run) == ("daily 09:00", utc(2025, 3, 5, 8))
    once = task.model_copy(update={"schedule": "once 2025-03-01T09:00:00+01:00"})
    assert plan(once, now=NOW).next_run is None
    assert plan(task.model_copy(update={"paused": True}), now=NOW).next_run is None
