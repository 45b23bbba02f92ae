"""`/jobs stats` and `/jobs gaps`: how the job library is used, and what it misses.

`stats` reads the counters the agent turn and the `complete_job` tool keep
(`jobs_store.stats`). `gaps` groups the recent user messages that matched no
job by the words they share, so the biggest groups are the jobs to write next.

Grouping is greedy and lexical (leader clustering). Messages are reduced to
their content words (lower case, stemmed, without the small words of
conversation) and taken shortest first; each joins the group whose leader (its
first message) it overlaps most, if that overlap (Jaccard: shared words / all
words) is at least `SIMILAR`, and otherwise leads a group of its own. Short
messages lead because they name a topic with the fewest extra words ("refund
please"), and comparing with the leader rather than with any member keeps
topics from chaining: "refund for my order" must not pull "where is my order"
into the refund group. Messages with no content words ("hi", "thanks!") are
small talk, not missing jobs, and are left out. A long question that shares
one word with a short leader may stay alone (Jaccard counts every word).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.commands.grammar import Command
from bot.commands.registry import Caller, Stores, Subcommand
from bot.commands.results import Block, Fields, Paragraph, Result, Table, count
from bot.errors import CommandError, InvalidInput
from bot.text import stemmed
from jobs_store.models import LIMITS, Job
from jobs_store.stats import MAX_COMPLETIONS, MAX_GAPS, Completion, Gap, JobStats, StatsStore

#: Jaccard overlap of content words at which a message joins a group.
SIMILAR = 0.3
#: Groups shown by `/jobs gaps` (biggest first); the rest are counted.
MAX_GROUPS_SHOWN = 10
#: Other examples shown per group, besides the example.
OTHER_EXAMPLES = 3
#: Completion summaries shown by `/jobs stats <job>`.
COMPLETIONS_SHOWN = 5
#: Characters of a message or summary shown in a reply.
_SHOWN_CHARS = 200

# --- similarity -------------------------------------------------------------------


def content_words(text: str) -> frozenset[str]:
    """The stemmed content words of `text`, as `/jobs gaps` compares them."""
    return frozenset(stemmed(text))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """Shared words over all words, 0–1 (0 when both are empty)."""
    union = len(a | b)
    return len(a & b) / union if union else 0.0


@dataclass(frozen=True, kw_only=True)
class QuestionGroup:
    """Unmatched messages about one thing, newest first."""

    gaps: tuple[Gap, ...]
    #: The member most like the others: the one to show and to use as a trigger.
    example: Gap

    @property
    def last_asked(self) -> datetime:
        """When the newest message of the group was sent."""
        return max(gap.at for gap in self.gaps)

    def others(self, limit: int = OTHER_EXAMPLES) -> list[Gap]:
        """Up to `limit` other members, newest first, each text once."""
        seen = {_normal(self.example.text)}
        found: list[Gap] = []
        for gap in self.gaps:
            if len(found) >= limit:
                break
            text = _normal(gap.text)
            if text not in seen:
                seen.add(text)
                found.append(gap)
        return found


def group_questions(
    gaps: Sequence[Gap], *, threshold: float = SIMILAR
) -> tuple[list[QuestionGroup], int]:
    """Group messages by shared words; biggest groups first, then the most recent.

    Returns the groups and how many messages were left out as small talk.
    """
    worded: list[tuple[Gap, frozenset[str]]] = []
    small_talk = 0
    for gap in sorted(gaps, key=lambda g: g.at, reverse=True):
        words = content_words(gap.text)
        if words:
            worded.append((gap, words))
        else:
            small_talk += 1
    members: list[list[tuple[Gap, frozenset[str]]]] = []
    # Shortest first (newest first among equals), so each group is led by a message
    # that says its topic in the fewest words, and longer ones join the closest leader.
    for gap, words in sorted(worded, key=lambda item: len(item[1])):
        # On a tie, the bigger group (the more established topic), then the one formed first.
        best = max(members, key=lambda group: (jaccard(words, group[0][1]), len(group)),
                   default=None)
        if best is not None and jaccard(words, best[0][1]) >= threshold:
            best.append((gap, words))
        else:
            members.append([(gap, words)])
    groups = []
    for group in members:
        group.sort(key=lambda item: item[0].at, reverse=True)
        groups.append(QuestionGroup(gaps=tuple(g for g, _ in group), example=_central(group)))
    groups.sort(key=lambda g: (-len(g.gaps), -g.last_asked.timestamp()))
    return groups, small_talk


def _central(group: list[tuple[Gap, frozenset[str]]]) -> Gap:
    """The member with the most overlap with the rest (the newest on a tie)."""
    best = max(range(len(group)), key=lambda i: (
        sum(jaccard(group[i][1], words) for j, (_, words) in enumerate(group) if j != i), -i))
    return group[best][0]


def _normal(text: str) -> str:
    return " ".join(text.lower().split())


# --- handlers ---------------------------------------------------------------------


def _stats_store(stores: Stores) -> StatsStore:
    if stores.stats is None:  # a process wired without the stats store
        raise CommandError("Usage stats are not available here: this process was started "
                           "without the stats store. Nothing was changed.")
    return stores.stats


def show_stats(stores: Stores, caller: Caller, command: Command) -> Result:
    """`/jobs stats [job]`: usage of every job, or of one with its recent completions."""
    if command.args:
        return _one_job(stores, stores.jobs.get(command.args[0]))
    jobs = stores.jobs.list()
    if not jobs:
        return Result(title="The job library is empty.", blocks=(Paragraph(
            text="Stats appear once jobs exist and users chat with the agent: "
                 "start with /jobs templates."),))
    usage = _stats_store(stores).job_stats([job.id for job in jobs])
    ranked = sorted(jobs, key=lambda job: (-usage[job.id].chats, job.name.lower()))
    rows = tuple((job.name, *_row(usage[job.id])) for job in ranked)
    return Result(title=f"Usage of {count(len(jobs), 'job')}", blocks=(
        Table(columns=("job", "chats", "offered", "completed", "completion rate", "last used"),
              rows=rows),
        Paragraph(text="chats: conversations whose turns used the job's instructions; offered "
                       "and completed: distinct users. Details and recent completions: "
                       "/jobs stats <job>."),
    ))


def show_gaps(stores: Stores, caller: Caller, command: Command) -> Result:
    """`/jobs gaps [limit=<n>]`: unmatched questions, grouped, as candidates for jobs."""
    limit = _limit(command.fields.get("limit"))
    recent = _stats_store(stores).gaps(limit=limit)
    groups, small_talk = group_questions(recent)
    if not groups:
        text = "No unmatched questions recorded yet."
        if small_talk:
            text = (f"No unmatched questions recorded yet (only {count(small_talk, 'message')} "
                    "of small talk).")
        return Result(title=text)
    shown = groups[:MAX_GROUPS_SHOWN]
    blocks: list[Block] = [_group_fields(position, group)
                           for position, group in enumerate(shown, start=1)]
    notes = []
    if len(groups) > len(shown):
        rest = groups[len(shown):]
        notes.append(f"{count(len(rest), 'more group')} "
                     f"({count(sum(len(g.gaps) for g in rest), 'question')}) not shown.")
    if small_talk:
        notes.append(f"{count(small_talk, 'message')} of small talk left out.")
    if notes:
        blocks.append(Paragraph(text=" ".join(notes)))
    blocks.append(Paragraph(text=_suggestion(groups[0])))
    asked = sum(len(group.gaps) for group in groups)
    return Result(title=f"{count(asked, 'unmatched question')} in "
                        f"{count(len(groups), 'group')}, biggest first",
                  blocks=tuple(blocks))


# --- helpers ------------------------------------------------------------------------


def _one_job(stores: Stores, job: Job) -> Result:
    store = _stats_store(stores)
    usage = store.job_stats([job.id])[job.id]
    chats, offered, completed, rate, _ = _row(usage)
    last = f"{usage.last_used:%Y-%m-%d %H:%M} UTC" if usage.last_used else "never"
    recent = store.recent_completions(job.id, limit=COMPLETIONS_SHOWN)
    blocks: list[Block] = [Fields(pairs=(
        ("chats", chats),
        ("users offered", offered),
        ("users completed", completed),
        ("completion rate", rate),
        ("last used", last),
    ))]
    if recent:
        blocks.append(Paragraph(text=f"Latest completions (of the last {MAX_COMPLETIONS} "
                                     "kept), newest first:\n"
                                     + "\n".join(_completion(c) for c in recent)))
    else:
        blocks.append(Paragraph(text="No completions recorded yet."))
    return Result(title=f"Usage of {job.name}", blocks=tuple(blocks))


def _row(usage: JobStats) -> tuple[str, str, str, str, str]:
    rate = f"{usage.completion_rate:.0%}" if usage.users_offered else "-"
    last = f"{usage.last_used:%Y-%m-%d}" if usage.last_used else "never"
    return (f"{usage.chats:,}", f"{usage.users_offered:,}", f"{usage.users_completed:,}",
            rate, last)


def _completion(done: Completion) -> str:
    summary = _short(done.summary) or "(no summary)"
    return f"- {done.at:%Y-%m-%d %H:%M} UTC, {done.user or 'someone'}: {summary}"


def _group_fields(position: int, group: QuestionGroup) -> Fields:
    pairs = [
        (f"group {position}", f"asked {count(len(group.gaps), 'time')}, last "
                              f"{group.last_asked:%Y-%m-%d %H:%M} UTC"),
        ("example", _short(group.example.text)),
    ]
    others = group.others()
    if others:
        pairs.append(("also asked", "\n".join(_short(gap.text) for gap in others)))
    return Fields(pairs=tuple(pairs))


def _suggestion(group: QuestionGroup) -> str:
    # Double quotes inside the value would end it; the trigger has a length limit.
    trigger = " ".join(group.example.text.split()).replace('"', "'")
    trigger = trigger[:LIMITS["trigger"][1]]
    return ("To cover the biggest group, create a job for it: /jobs create name=… "
            f'trigger="{trigger}" instructions="1. …" — or, if a job already covers '
            "these questions, add their words to its trigger with /jobs edit <job> trigger=….")


def _short(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= _SHOWN_CHARS else line[:_SHOWN_CHARS - 1] + "…"


def _limit(value: str | None) -> int:
    if value is None:
        return MAX_GAPS
    # A short run of ASCII digits: `isdigit` alone lets "²" through to `int`.
    if not re.fullmatch(r"[0-9]{1,4}", value) or not 1 <= int(value) <= MAX_GAPS:
        given = value if len(value) <= 20 else value[:19] + "…"
        raise InvalidInput("limit", f"must be a whole number from 1 to {MAX_GAPS} "
                                    f"(you gave '{given}')")
    return int(value)


SUBCOMMANDS: list[Subcommand] = [
    Subcommand(
        name="stats", usage="stats [<job>]", run=show_stats, args=(0, 1),
        summary="Show how each job is used: chats, users offered and completed, last use.",
        details="Without a job: every job, most chats first. With a job: its numbers and its "
                f"latest completions (the last {MAX_COMPLETIONS} are kept). chats counts "
                "conversations whose turns used the job's instructions; offered and completed "
                "count distinct users; completion rate is completed / offered.",
    ),
    Subcommand(
        name="gaps", usage="gaps [limit=<n>]", run=show_gaps, fields=frozenset({"limit"}),
        summary="Group recent questions that matched no job: candidates for new jobs.",
        details=f"Looks at the latest {MAX_GAPS} unmatched messages (limit=<n> for fewer, "
                f"1–{MAX_GAPS}), groups those that share words, and shows the "
                f"{MAX_GROUPS_SHOWN} biggest groups with examples and when they were last "
                "asked. Small talk (no content words) is left out.",
    ),
]
