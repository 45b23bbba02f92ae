"""Schedules and durations with arbitrary text, and the runs of valid schedules in every
IANA zone.

- `parse_schedule` gives a `Schedule` or `InvalidInput` whose field is
  "schedule", never another exception, whatever the text (or a value of the
  wrong type); what it accepts reads back to the same canonical text.
- `parse_duration` gives a timedelta or `InvalidInput` naming the field it
  was asked for.
- For generated daily, weekly, monthly (N and last), hourly and cron
  schedules in zones from `zoneinfo.available_timezones()`, `next_runs(after,
  n)` never raises and gives n strictly increasing aware UTC instants after
  `after`; asking from its first run gives the rest, and asking for fewer
  gives a prefix. Daily, weekly and monthly runs are at HH:MM local time
  (the first pass of a repeated hour), except on a day when that time does
  not exist: then the run is the instant the clocks jump. Hourly runs are at
  :MM local time.

`after` is either anywhere in 1971–2100 or within four days before one of the
zone's clock changes, where the daylight-saving rules do their work.
"""

from __future__ import annotations

import calendar
import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo, available_timezones

from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

from bot.schedules import DAYS, Schedule, parse_duration, parse_schedule, read_schedule
from jobs_store.errors import InvalidInput

ZONES = sorted(available_timezones())
NOW = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)
KINDS = ("once", "hourly", "daily", "weekly", "monthly", "cron")

_fuzz = settings(max_examples=200, deadline=None)

# --- arbitrary text ----------------------------------------------------------------------

_SCHEDULE_CHARS = "0123456789:*/,-LW#? \t\n." + "²١٣" + "monthlydailywkcrnse" + "MTDL"
_schedule_word = st.one_of(
    st.sampled_from([*KINDS, "DAILY", "Weekly", "last", "LAST", "mon", "Sunday", "caturday",
                     "9:00", "09:00", "24:00", "23:60", "9:5", ":15", ":60", "15", "0", "31",
                     "32", "29", "00", "*", "*/0", "*/15", "1-5", "5-1", "L", "LW", "1#5",
                     "?", "@daily", "2026-11-28", "2026-11-28T09:00", "09:00+01:00",
                     "2026-02-30", "9999-12-31", "0001-01-01", "T", "Z", "+14:00"]),
    st.text(st.sampled_from(_SCHEDULE_CHARS), min_size=1, max_size=8),
    st.text(min_size=1, max_size=6),
)
_schedule_text = st.one_of(
    st.text(max_size=250),
    st.lists(_schedule_word, min_size=1, max_size=8).map(" ".join),
    st.tuples(st.sampled_from(KINDS), st.lists(_schedule_word, max_size=6)).map(
        lambda parts: " ".join([parts[0], *parts[1]])),
    st.integers(190, 100_000).map(lambda n: "daily " + "0" * n),
)
_zones = st.sampled_from(ZONES).map(ZoneInfo)
_nows = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1)).map(
    lambda naive: naive.replace(tzinfo=UTC))


@_fuzz
@given(text=_schedule_text, zone=_zones, now=_nows)
def test_any_text_is_a_schedule_or_a_refusal_naming_the_schedule(
    text: str, zone: ZoneInfo, now: datetime
) -> None:
    try:
        schedule = parse_schedule(text, now=now, zone=zone)
    except InvalidInput as exc:
        assert exc.field == "schedule"
        assert exc.reason.strip() and str(exc).startswith("schedule: ")
        return
    assert isinstance(schedule, Schedule)
    assert schedule.kind in KINDS and len(schedule.text) <= 200
    again = read_schedule(schedule.text, zone=zone)
    assert again.text == schedule.text
    if schedule.at is not None:
        assert schedule.at > now
    else:
        assert schedule.next_runs(now, 1)


@settings(max_examples=50, deadline=None)
@given(value=st.one_of(st.none(), st.integers(), st.floats(), st.booleans(), st.binary(),
                       st.lists(st.text(max_size=5), max_size=3),
                       st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2)))
def test_a_schedule_of_the_wrong_type_is_refused(value: object) -> None:
    try:
        parse_schedule(value, now=NOW, zone=ZoneInfo("UTC"))  # type: ignore[arg-type]
    except InvalidInput as exc:
        assert exc.field == "schedule"
    else:
        raise AssertionError(f"{value!r} was taken as a schedule")


_DURATION_FIELDS = ("session", "max_time", "grace", "duration")
_duration_text = st.one_of(
    st.text(max_size=30),
    st.tuples(st.sampled_from(["", " ", "0", "7", "90", "1234567", "12345678", "-1", "1.5",
                               "²", "١٥", "1e3", "99999999999"]),
              st.sampled_from(["", "s", "m", "h", "d", "S", "D", "w", "ms", "min", " m"]),
              st.sampled_from(["", " ", "\n", "x"])).map("".join),
)


@_fuzz
@given(text=_duration_text, field=st.sampled_from(_DURATION_FIELDS))
def test_any_text_is_a_duration_or_a_refusal_naming_the_field(text: str, field: str) -> None:
    try:
        value = parse_duration(text, field=field)
    except InvalidInput as exc:
        assert exc.field == field
        assert str(exc).startswith(f"{field}: ") and exc.reason.strip()
        return
    assert isinstance(value, timedelta) and value >= timedelta(0)


@settings(max_examples=50, deadline=None)
@given(value=st.one_of(st.none(), st.integers(), st.floats(), st.binary(),
                       st.lists(st.integers(), max_size=2)),
       field=st.sampled_from(_DURATION_FIELDS))
def test_a_duration_of_the_wrong_type_is_refused(value: object, field: str) -> None:
    try:
        parse_duration(value, field=field)  # type: ignore[arg-type]
    except InvalidInput as exc:
        assert exc.field == field
    else:
        raise AssertionError(f"{value!r} was taken as a duration")


@_fuzz
@given(number=st.integers(0, 9_999_999), unit=st.sampled_from("smhdSMHD"),
       spaces=st.sampled_from(["", " ", "  ", "\t"]))
def test_every_number_and_unit_is_that_duration(number: int, unit: str, spaces: str) -> None:
    seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit.lower()]
    assert parse_duration(f"{spaces}{number}{spaces}{unit}{spaces}") == timedelta(
        seconds=number * seconds)


# --- the runs of valid schedules -----------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def _changes(zone: ZoneInfo, year: int) -> tuple[date, ...]:
    """The days of `year` on which `zone`'s UTC offset at noon differs from the day before's."""
    days: list[date] = []
    day = date(year, 1, 1)
    previous = datetime.combine(day - timedelta(days=1), time(12), zone).utcoffset()
    while day.year == year:
        offset = datetime.combine(day, time(12), zone).utcoffset()
        if offset != previous:
            days.append(day)
        previous = offset
        day += timedelta(days=1)
    return tuple(days)


#: Zones whose clock changes are odd: 30 minutes (Lord Howe), two hours (Troll), at
#: midnight (Havana, Santiago, Beirut), a skipped day (Apia), negative DST (Dublin),
#: DST switched off and on for Ramadan (Casablanca), and the usual ones.
ODD_ZONES = tuple(ZoneInfo(name) for name in (
    "Australia/Lord_Howe", "Antarctica/Troll", "America/Havana", "America/Santiago",
    "Asia/Beirut", "Pacific/Apia", "Europe/Dublin", "Africa/Casablanca", "Asia/Gaza",
    "America/Sao_Paulo", "Pacific/Chatham", "America/St_Johns", "Asia/Tehran",
    "Europe/Berlin", "America/New_York", "Australia/Sydney", "America/Nuuk",
))


def _change_instant(zone: ZoneInfo, day: date) -> datetime:
    """The instant, between the day before's noon and `day`'s, that `zone`'s offset changes."""
    lo = datetime.combine(day - timedelta(days=1), time(12), zone).astimezone(UTC)
    hi = datetime.combine(day, time(12), zone).astimezone(UTC)
    before = lo.astimezone(zone).utcoffset()
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        if mid.astimezone(zone).utcoffset() == before:
            lo = mid
        else:
            hi = mid
    return hi


@st.composite
def _afters(draw: st.DrawFn, zone: ZoneInfo) -> tuple[datetime, datetime | None]:
    """An instant anywhere in 1971–2100, or up to four days before a clock change; with
    a local date and time skipped or repeated by that change, when there is one."""
    if draw(st.booleans()):
        changes = _changes(zone, draw(st.integers(1971, 2099)))
        if changes:
            day = draw(st.sampled_from(changes))
            change = _change_instant(zone, day)
            hours = draw(st.floats(0, 96, allow_nan=False))
            old = (change - timedelta(seconds=1)).astimezone(zone).utcoffset()
            new = change.astimezone(zone).utcoffset()
            assert old is not None and new is not None
            first = (change + min(old, new)).replace(tzinfo=None)
            span = int(abs(new - old).total_seconds() // 60)
            wall = first + timedelta(minutes=draw(st.integers(0, max(span - 1, 0))))
            return change - timedelta(hours=hours), wall.replace(second=0, microsecond=0)
    naive = draw(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1)))
    return naive.replace(tzinfo=UTC), None


@dataclass(frozen=True)
class Start:
    """Where `next_runs` starts, and a local time for the schedule: often one the clock
    change near the start skips or repeats (`changed`, its local date)."""

    after: datetime
    hour: int
    minute: int
    changed: date | None


@st.composite
def _starts(draw: st.DrawFn, zone: ZoneInfo) -> Start:
    after, hint = draw(_afters(zone))
    if hint is not None and draw(st.booleans()):
        return Start(after, hint.hour, hint.minute, hint.date())
    return Start(after, draw(_hours), draw(_minutes), None)


def _skipped(naive: datetime, zone: ZoneInfo) -> bool:
    """Whether the local time `naive` does not exist in `zone` (a spring gap)."""
    back = naive.replace(tzinfo=zone).astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    return back != naive


def _is_clock_change(instant: datetime, zone: ZoneInfo) -> bool:
    before = (instant - timedelta(seconds=1)).astimezone(zone).utcoffset()
    return before != instant.astimezone(zone).utcoffset()


_hours, _minutes = st.integers(0, 23), st.integers(0, 59)
_zones_and_odd = st.one_of(_zones, st.sampled_from(ODD_ZONES))


def _check_runs(schedule: Schedule, after: datetime, n: int) -> list[datetime]:
    """The properties of every recurring schedule's runs; returns them."""
    runs = schedule.next_runs(after, n)
    assert len(runs) == n
    assert all(run.tzinfo is not None and run.utcoffset() == timedelta(0) for run in runs)
    assert all(run > after for run in runs)
    assert all(a < b for a, b in pairwise(runs))
    assert schedule.next_runs(after, n // 2) == runs[: n // 2]
    assert schedule.next_runs(runs[0], n - 1) == runs[1:]
    return runs


def _check_wall_time(schedule: Schedule, runs: list[datetime], hour: int, minute: int,
                     on_day: object) -> None:
    """Each run is at HH:MM local on a day `on_day(local date)` accepts, at its first
    pass when repeated; or at a clock change that skipped HH:MM that day or the day
    before (a gap across midnight, or a skipped day such as Samoa's 30 December 2011)."""
    zone = schedule.zone
    seen: set[datetime] = set()
    for run in runs:
        local = run.astimezone(zone)
        wall = local.replace(tzinfo=None)
        if (local.hour, local.minute, local.second) == (hour, minute, 0):
            assert on_day(local.date()), (schedule.text, zone.key, run)
            assert run == wall.replace(tzinfo=zone, fold=0).astimezone(UTC), (
                f"{schedule.text} in {zone.key}: {run} is the second pass of {wall}")
            if wall.replace(tzinfo=zone, fold=1).utcoffset() != local.utcoffset():
                event("a run in a repeated hour")
            assert wall not in seen, f"{schedule.text} in {zone.key} runs twice at {wall}"
            seen.add(wall)
            continue
        event("a run at a clock change (its time skipped)")
        assert _is_clock_change(run, zone), (
            f"{schedule.text} in {zone.key}: {run} is {wall} local, not {hour:02d}:{minute:02d}")
        days = (local.date(), local.date() - timedelta(days=1))
        assert any(on_day(d) and _skipped(datetime.combine(d, time(hour, minute)), zone)
                   for d in days), (schedule.text, zone.key, run)




@_fuzz
@given(data=st.data(), zone=_zones_and_odd, n=st.integers(2, 30))
def test_daily_runs_at_its_time_every_day(data: st.DataObject, zone: ZoneInfo, n: int) -> None:
    start = data.draw(_starts(zone), label="start")
    schedule = parse_schedule(f"daily {start.hour}:{start.minute:02d}", now=NOW, zone=zone)
    runs = _check_runs(schedule, start.after, n)
    _check_wall_time(schedule, runs, start.hour, start.minute, lambda day: True)


@_fuzz
@given(data=st.data(), zone=_zones_and_odd, n=st.integers(2, 12))
def test_weekly_runs_on_its_day_at_its_time(data: st.DataObject, zone: ZoneInfo,
                                            n: int) -> None:
    start = data.draw(_starts(zone), label="start")
    day = start.changed.weekday() if start.changed else data.draw(st.integers(0, 6), label="day")
    schedule = parse_schedule(f"weekly {DAYS[day]} {start.hour:02d}:{start.minute:02d}",
                              now=NOW, zone=zone)
    runs = _check_runs(schedule, start.after, n)
    _check_wall_time(schedule, runs, start.hour, start.minute, lambda d: d.weekday() == day)


def _last_day(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


@_fuzz
@given(data=st.data(), zone=_zones_and_odd, n=st.integers(2, 14))
def test_monthly_runs_on_its_day_or_the_last(data: st.DataObject, zone: ZoneInfo,
                                             n: int) -> None:
    start = data.draw(_starts(zone), label="start")
    month_day: int | str
    if start.changed is not None:
        month_day = "last" if start.changed.day == _last_day(start.changed) and data.draw(
            st.booleans(), label="as last") else start.changed.day
    else:
        month_day = data.draw(st.one_of(st.integers(1, 31), st.just("last")), label="day")
    schedule = parse_schedule(f"monthly {month_day} {start.hour:02d}:{start.minute:02d}",
                              now=NOW, zone=zone)
    runs = _check_runs(schedule, start.after, n)
    if month_day == "last":
        _check_wall_time(schedule, runs, start.hour, start.minute,
                         lambda d: d.day == _last_day(d))
    else:
        wanted = int(month_day)
        _check_wall_time(schedule, runs, start.hour, start.minute,
                         lambda d: d.day == min(wanted, _last_day(d)))


@_fuzz
@given(data=st.data(), zone=_zones_and_odd, n=st.integers(2, 40))
def test_hourly_runs_at_its_minute_on_the_real_time_line(data: st.DataObject, zone: ZoneInfo,
                                                         n: int) -> None:
    start = data.draw(_starts(zone), label="start")
    minute = start.minute
    schedule = parse_schedule(f"hourly :{minute}", now=NOW, zone=zone)
    runs = _check_runs(schedule, start.after, n)
    for run in runs:
        local = run.astimezone(zone)
        assert (local.minute, local.second) == (minute, 0), (zone.key, run, local)
    # Real time: never two runs within half an hour (Lord Howe shifts by 30 minutes).
    assert all(b - a >= timedelta(minutes=30) for a, b in pairwise(runs))


def _cron_field(low: int, high: int) -> st.SearchStrategy[str]:
    number = st.integers(low, high)
    return st.one_of(
        st.just("*"),
        number.map(str),
        st.lists(number, min_size=1, max_size=4, unique=True).map(
            lambda ns: ",".join(map(str, sorted(ns)))),
        st.tuples(number, number).map(lambda ab: f"{min(ab)}-{max(ab)}"),
        st.integers(1, high - low + 1).map(lambda step: f"*/{step}"),
        st.tuples(number, st.integers(1, high - low + 1)).map(lambda p: f"{p[0]}/{p[1]}"),
    )


_cron = st.tuples(_cron_field(0, 59), _cron_field(0, 23), _cron_field(1, 31),
                  _cron_field(1, 12), _cron_field(0, 6)).map(" ".join)


@_fuzz
@given(data=st.data(), zone=_zones_and_odd, expression=_cron, n=st.integers(2, 25))
def test_cron_runs_are_increasing_instants_after_the_start(
    data: st.DataObject, zone: ZoneInfo, expression: str, n: int
) -> None:
    try:
        schedule = parse_schedule(f"cron {expression}", now=NOW, zone=zone)
    except InvalidInput as exc:  # e.g. 31 February: never runs
        assert exc.field == "schedule" and "never runs" in exc.reason
        assume(False)
        return
    after, _ = data.draw(_afters(zone), label="after")
    runs = _check_runs(schedule, after, n)
    if zone.key == "UTC":
        from croniter import croniter

        assert all(croniter.match(expression, run.replace(tzinfo=None)) for run in runs)


@_fuzz
@given(zone=_zones, at=st.datetimes(min_value=datetime(1971, 1, 2),
                                    max_value=datetime(9998, 12, 30)),
       now=_nows)
def test_once_runs_once_if_its_time_is_to_come(zone: ZoneInfo, at: datetime,
                                               now: datetime) -> None:
    text = f"once {at:%Y-%m-%dT%H:%M}"
    try:
        schedule = parse_schedule(text, now=now, zone=zone)
    except InvalidInput as exc:
        assert exc.field == "schedule"
        return
    assert schedule.at is not None and schedule.at > now
    runs = schedule.next_runs(now, 3)
    assert runs == [schedule.at.astimezone(UTC)]
    assert schedule.next_runs(runs[0], 3) == []
