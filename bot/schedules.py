"""Task schedules: parse the text forms, compute the next runs, parse durations.

Forms (case-insensitive; stored in the canonical form on the right):

| you write | stored as | runs |
| --- | --- | --- |
| `once 2026-11-28 09:00` | `once 2026-11-28T09:00:00+01:00` | once (naive: the task's zone) |
| `hourly`, `hourly :15` | `hourly :00`, `hourly :15` | every hour at that minute |
| `daily 9:00` | `daily 09:00` | every day |
| `weekly Monday 09:00` | `weekly mon 09:00` | every week on that day |
| `monthly 31 09:00`, `monthly last 09:00` | same | every month on that day |
| `cron 0 9 * * 1-5` | `cron 0 9 * * 1-5` | a 5-field cron expression |

Times are wall-clock times in the task's IANA time zone; `next_runs` returns
aware UTC instants. Local times are walked with croniter on naive datetimes
and each is placed on the real time line with zoneinfo, so a daily 09:00 task
runs at 09:00 local on both sides of a daylight-saving change. Around the
changes (the rule Vixie cron follows):

- A local time skipped by the spring change (02:30 in Europe/Berlin on the
  last Sunday of March) runs once, at the moment the clocks jump (03:00 local).
  Several skipped times of one schedule (`cron 0,30 2 * * *`) run once there.
- A local time repeated by the autumn change (02:30 happens twice) runs once,
  at its first occurrence (summer time).
- Schedules that run every hour (`hourly`, or cron with `*` as its hour) follow
  real time instead: a skipped hour has no runs (it does not exist), a repeated
  hour has runs on both passes — so `hourly` is always 60 minutes apart.

`monthly 29`, `30` or `31` in a shorter month runs on that month's last day
(monthly 31 runs on 30 April and 28 or 29 February); `monthly last` always
means the last day. Every refusal is `InvalidInput("schedule", …)` with an
example.
"""

from __future__ import annotations

import bisect
import calendar
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

from croniter import CroniterBadDateError, croniter

from jobs_store.errors import InvalidInput
from jobs_store.tasks import Task, format_duration

FIELD = "schedule"
FORMS = ("once <date-time>, hourly [:MM], daily HH:MM, weekly <day> HH:MM, "
         "monthly <1-31|last> HH:MM or cron <5-field expression>")
EXAMPLES = {
    "once": "once 2026-11-28 09:00",
    "hourly": "hourly :15",
    "daily": "daily 09:00",
    "weekly": "weekly mon 09:00",
    "monthly": "monthly 1 09:00 (or monthly last 18:00)",
    "cron": "cron 0 9 * * 1-5 (09:00 on weekdays)",
}
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_NAMES = {name: i for i, name in enumerate(DAYS)} | {
    calendar.day_name[i].lower(): i for i in range(7)}
_CRON_DOW = {i: (i + 1) % 7 for i in range(7)}  # Monday 0 → cron 1, Sunday 6 → cron 0
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")
_MINUTE = re.compile(r"^:?(\d{1,2})$")
MAX_TEXT = 200
#: The widest step of a local clock change (Lord Howe's is 30 minutes, most are
#: an hour, historical double summer time two): how far back to start walking.
_MAX_SHIFT = timedelta(hours=3)


def _refuse(message: str) -> InvalidInput:
    return InvalidInput(FIELD, message)


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule in a time zone; `text` is its canonical form."""

    text: str
    zone: ZoneInfo
    #: The cron expression walked in local time (None for `once`).
    cron: str | None = None
    #: For `once`: the instant, aware.
    at: datetime | None = None
    #: For `monthly N` with N > 28: run on min(N, the month's last day).
    month_day: int | None = None

    @property
    def kind(self) -> str:
        """`once`, `hourly`, `daily`, `weekly`, `monthly` or `cron`."""
        return self.text.split(" ", 1)[0]

    @cached_property
    def follows_real_time(self) -> bool:
        """True when the schedule runs every hour, so DST changes follow real time."""
        if self.cron is None:
            return False
        hours = croniter(self.cron).expanded[1]
        return hours == ["*"] or set(hours) == set(range(24))

    def next_runs(self, after: datetime, n: int) -> list[datetime]:
        """The next `n` runs strictly after `after`, as aware UTC instants, in order."""
        if after.tzinfo is None:
            raise ValueError("after must be timezone-aware")
        if n <= 0:
            return []
        after = after.astimezone(UTC)
        if self.at is not None:
            at = self.at.astimezone(UTC)
            return [at] if at > after else []
        found: list[datetime] = []
        for local in self._local_times(after):
            primary, extra = self._place(local)
            # Instants only grow with local time, except the second pass of a
            # repeated hour (`extra`), which is never earlier than `primary`.
            if sum(1 for t in found if t <= primary) >= n:
                break
            for instant in (primary if not self._dropped(local) else None, extra):
                if instant is not None and instant > after and instant not in found:
                    bisect.insort(found, instant)
        return found[:n]

    def _local_times(self, after: datetime) -> Iterator[datetime]:
        assert self.cron is not None
        start = (after.astimezone(self.zone) - _MAX_SHIFT).replace(tzinfo=None)
        walker = croniter(self.cron, start)
        while True:
            try:
                local = walker.get_next(datetime)
            except (ValueError, OverflowError):  # past year 9999, or no date matches
                return
            if self.month_day is not None:
                last = calendar.monthrange(local.year, local.month)[1]
                if local.day != min(self.month_day, last):
                    continue
            yield local

    def _dropped(self, local: datetime) -> bool:
        """Skipped local times of every-hour schedules do not run."""
        return self.follows_real_time and _kind_of(local, self.zone) == "skipped"

    def _place(self, local: datetime) -> tuple[datetime, datetime | None]:
        """The instant a local time runs at, and a second one for a repeated hour."""
        kind = _kind_of(local, self.zone)
        first = local.replace(tzinfo=self.zone, fold=0).astimezone(UTC)
        if kind == "skipped":
            return _transition(local, self.zone), None
        if kind == "repeated":
            second = local.replace(tzinfo=self.zone, fold=1).astimezone(UTC)
            return first, second if self.follows_real_time else None
        return first, None


def _kind_of(local: datetime, zone: ZoneInfo) -> str:
    """`normal`, `skipped` (spring gap) or `repeated` (autumn fold)."""
    early = local.replace(tzinfo=zone, fold=0)
    late = local.replace(tzinfo=zone, fold=1)
    if early.utcoffset() == late.utcoffset():
        return "normal"
    back = early.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    return "repeated" if back == local else "skipped"


def _transition(local: datetime, zone: ZoneInfo) -> datetime:
    """The instant the clocks jump over the skipped local time `local`."""
    lo = local.replace(tzinfo=zone, fold=1).astimezone(UTC)  # before the jump
    hi = local.replace(tzinfo=zone, fold=0).astimezone(UTC)  # after it
    before = lo.astimezone(zone).utcoffset()
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        if mid.astimezone(zone).utcoffset() == before:
            lo = mid
        else:
            hi = mid
    return hi.replace(microsecond=0)


# --- parsing --------------------------------------------------------------------


def parse_schedule(text: str, *, now: datetime, zone: ZoneInfo) -> Schedule:
    """Parse a schedule's text form; refuse with `InvalidInput("schedule", …)`.

    `now` is used to refuse a `once` in the past and a cron expression that
    never matches again.
    """
    schedule = read_schedule(text, zone=zone)
    if schedule.at is not None and schedule.at <= now:
        raise _refuse(f"{schedule.at:%Y-%m-%d %H:%M} ({zone.key}) is in the past; give a "
                      f"future date and time, e.g. {EXAMPLES['once']}.")
    if schedule.cron is not None and not schedule.next_runs(now, 1):
        raise _refuse(f"'{schedule.text}' never runs; e.g. {EXAMPLES[schedule.kind]}.")
    return schedule


def read_schedule(text: str, *, zone: ZoneInfo) -> Schedule:
    """Parse without the checks against the current time (for stored schedules).

    Cached: the scheduler reads the same few schedules for many tasks.
    """
    return _read_cached(text, zone) if isinstance(text, str) else _read(text, zone)


@functools.lru_cache(maxsize=4096)
def _read_cached(text: str, zone: ZoneInfo) -> Schedule:
    return _read(text, zone)


def _read(text: str, zone: ZoneInfo) -> Schedule:
    if not isinstance(text, str) or not text.strip():
        raise _refuse(f"is required: {FORMS}, e.g. {EXAMPLES['daily']}.")
    if len(text) > MAX_TEXT:
        raise _refuse(f"at most {MAX_TEXT} characters (you gave {len(text):,}).")
    words = text.split()
    kind, rest = words[0].lower(), words[1:]
    reader = _READERS.get(kind)
    if reader is None:
        raise _refuse(f"'{words[0]}' is not a schedule; use {FORMS}, e.g. {EXAMPLES['daily']}.")
    return reader(rest, zone)


def _once(rest: list[str], zone: ZoneInfo) -> Schedule:
    raw = " ".join(rest)
    try:
        at = datetime.fromisoformat(raw)
        if at.tzinfo is None:
            at = at.replace(tzinfo=zone)
        at = at.astimezone(zone)
        at.astimezone(UTC)
    except (ValueError, OverflowError):
        raise _refuse(f"once takes a date and time, not '{raw}'; e.g. {EXAMPLES['once']} "
                      "(in the task's time zone) or 2026-11-28T09:00+01:00.") from None
    if at.year < 1971 or at.year > 9998:
        raise _refuse(f"'{raw}' is out of range; e.g. {EXAMPLES['once']}.")
    return Schedule(text=f"once {at.isoformat()}", zone=zone, at=at)


def _hourly(rest: list[str], zone: ZoneInfo) -> Schedule:
    minute = 0
    if rest:
        found = _MINUTE.match(rest[0]) if len(rest) == 1 else None
        if not found or int(found[1]) > 59:
            raise _refuse(f"hourly takes the minute past the hour, 0–59: "
                          f"'{' '.join(rest)}' is not one; e.g. {EXAMPLES['hourly']}.")
        minute = int(found[1])
    return Schedule(text=f"hourly :{minute:02d}", zone=zone, cron=f"{minute} * * * *")


def _time(kind: str, words: list[str]) -> tuple[int, int]:
    if len(words) != 1 or not (found := _TIME.match(words[0])):
        given = " ".join(words) or "nothing"
        raise _refuse(f"{kind} needs a time HH:MM (24-hour), not {given!r}; "
                      f"e.g. {EXAMPLES[kind]}.")
    hour, minute = int(found[1]), int(found[2])
    if hour > 23 or minute > 59:
        raise _refuse(f"{words[0]} is not a time of day (00:00–23:59); e.g. {EXAMPLES[kind]}.")
    return hour, minute


def _daily(rest: list[str], zone: ZoneInfo) -> Schedule:
    hour, minute = _time("daily", rest)
    return Schedule(text=f"daily {hour:02d}:{minute:02d}", zone=zone,
                    cron=f"{minute} {hour} * * *")


def _weekly(rest: list[str], zone: ZoneInfo) -> Schedule:
    day = _DAY_NAMES.get(rest[0].lower()) if rest else None
    if day is None:
        given = repr(rest[0]) if rest else "nothing"
        raise _refuse(f"weekly needs a day (mon, tue, wed, thu, fri, sat, sun), not {given}; "
                      f"e.g. {EXAMPLES['weekly']}.")
    hour, minute = _time("weekly", rest[1:])
    return Schedule(text=f"weekly {DAYS[day]} {hour:02d}:{minute:02d}", zone=zone,
                    cron=f"{minute} {hour} * * {_CRON_DOW[day]}")


def _monthly(rest: list[str], zone: ZoneInfo) -> Schedule:
    word = rest[0].lower() if rest else ""
    if word != "last" and not (word.isdecimal() and len(word) <= 2 and 1 <= int(word) <= 31):
        given = repr(rest[0]) if rest else "nothing"
        raise _refuse(f"monthly needs a day of the month, 1–31 or last, not {given}; "
                      f"e.g. {EXAMPLES['monthly']}.")
    hour, minute = _time("monthly", rest[1:])
    at = f"{hour:02d}:{minute:02d}"
    if word == "last":
        return Schedule(text=f"monthly last {at}", zone=zone, cron=f"{minute} {hour} L * *")
    day = int(word)
    if day <= 28:
        return Schedule(text=f"monthly {day} {at}", zone=zone, cron=f"{minute} {hour} {day} * *")
    # Day N or the last day, whichever comes first, filtered in `_local_times`.
    return Schedule(text=f"monthly {day} {at}", zone=zone, cron=f"{minute} {hour} {day},L * *",
                    month_day=day)


def _cron(rest: list[str], zone: ZoneInfo) -> Schedule:
    expression = " ".join(rest)
    if len(rest) != 5:
        raise _refuse(f"cron takes 5 fields (minute hour day month weekday), not "
                      f"'{expression}'; e.g. {EXAMPLES['cron']}.")
    try:
        walker = croniter(expression, datetime(2000, 1, 1))
        walker.get_next(datetime)
    except CroniterBadDateError:
        raise _refuse(f"'cron {expression}' never runs; e.g. {EXAMPLES['cron']}.") from None
    except Exception as exc:  # croniter raises many kinds (ValueError, KeyError, …)
        raise _refuse(f"'{expression}' is not a valid cron expression ({_first_line(exc)}); "
                      f"e.g. {EXAMPLES['cron']}.") from None
    return Schedule(text=f"cron {expression}", zone=zone, cron=expression)


def _first_line(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]


_READERS = {"once": _once, "hourly": _hourly, "daily": _daily, "weekly": _weekly,
            "monthly": _monthly, "cron": _cron}


# --- durations ------------------------------------------------------------------

_DURATION = re.compile(r"^\s*(\d{1,7})\s*([smhd])\s*$", re.I)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str, *, field: str = "duration") -> timedelta:
    """`90s`, `15m`, `1h`, `7d` → a timedelta; `InvalidInput(field, …)` otherwise."""
    found = _DURATION.match(text) if isinstance(text, str) else None
    if not found:
        raise InvalidInput(field, f"'{text}' is not a duration; give a number and a unit "
                                  "s, m, h or d, e.g. 90s, 15m, 1h or 7d.")
    return timedelta(seconds=int(found[1]) * _UNITS[found[2].lower()])


# --- planning -------------------------------------------------------------------


def zone_of(name: str) -> ZoneInfo:
    """The IANA zone `name`; `InvalidInput("timezone", …)` when unknown."""
    from jobs_store.tasks import check_timezone

    return ZoneInfo(check_timezone(name))


def plan(task: Task, *, now: datetime) -> Task:
    """`task` with its schedule canonical and `next_run` the first run after `now`.

    A paused task keeps no next run; a `once` whose time has passed has none.
    This is the `TaskStore` planner the wiring passes in.
    """
    schedule = read_schedule(task.schedule, zone=zone_of(task.timezone))
    runs = [] if task.paused else schedule.next_runs(now, 1)
    return task.model_copy(update={"schedule": schedule.text,
                                   "next_run": runs[0] if runs else None})


__all__ = ["Schedule", "format_duration", "parse_duration", "parse_schedule", "plan",
           "read_schedule", "zone_of"]
