"""The job-matching evaluation: messages users type, the job each one wants, and the metrics.

The jobs are the twelve built-in templates. Each message is labelled with the
template key it should match (or None when no job fits) and a kind:

- ``plain``: a request in (mostly) the job's own words;
- ``paraphrase``: the same want in other words, sharing some with the job;
- ``no_keyword``: a paraphrase sharing no content word (after stemming, by the
  matcher's own tokenizer) with the job's name, trigger, description and
  instructions: only meaning can find it (checked by the test);
- ``none``: small talk, off-topic, or near a job but outside every one.

The messages were written the way people type in Slack and Discord, not tuned
to the matcher; keep it that way when adding some.

`evaluate()` and `format_table()` are shared by the test
(tests/bot/test_matching_eval.py) and the bench script (bench/matching_eval.py).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import numpy as np

from bot.matcher import JobMatcher
from bot.templates import all_templates
from bot.text import content_words
from jobs_store.models import Contact, Job

Kind = Literal["plain", "paraphrase", "no_keyword", "none"]
KINDS: tuple[Kind, ...] = ("plain", "paraphrase", "no_keyword", "none")
#: The job fields whose words a ``no_keyword`` message must not share.
JOB_TEXT_FIELDS = ("name", "trigger", "description", "instructions")

NOW = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)
#: A member who joined yesterday: every template's audience rule admits them,
#: so the evaluation measures matching, not audience rules.
CONTACT = Contact(platform="slack", workspace="T1", user="U1",
                  first_seen=NOW - timedelta(days=1), role="member")


@dataclass(frozen=True)
class Case:
    """A message, the job key it should match first (None: no job) and its kind."""

    text: str
    expected: str | None
    kind: Kind


def _cases(expected: str | None, kind: Kind, *texts: str) -> list[Case]:
    return [Case(text, expected, kind) for text in texts]


CASES: tuple[Case, ...] = tuple([
    # --- profile-setup ----------------------------------------------------------------------
    *_cases("profile-setup", "plain",
            "how do i set up my profile",
            "where can I change my profile photo",
            "need to update my job title and time zone"),
    *_cases("profile-setup", "paraphrase",
            "my avatar is still the default grey circle, how do i change it",
            "teammates see my name as user_4821 lol can i fix that"),
    *_cases("profile-setup", "no_keyword",
            "how do i upload a headshot so ppl know who i am",
            "moved to berlin last month but everything here is still on pacific hours",
            "stop pinging my phone at 3am pls"),
    # --- first-project ----------------------------------------------------------------------
    *_cases("first-project", "plain",
            "how do i create my first project",
            "want to start a new project for the Q3 campaign",
            "set up a workspace for the design team"),
    *_cases("first-project", "paraphrase",
            "can I make a new board to track client work",
            "everything is empty here, how do i get my first thing going?"),
    *_cases("first-project", "no_keyword",
            "kickoff for the website redesign is monday, want one spot to organise it all",
            "just joined, want to track our hiring pipeline somewhere in here"),
    # --- invite-team ------------------------------------------------------------------------
    *_cases("invite-team", "plain",
            "how do I invite my team",
            "add a teammate pls",
            "my coworker never got the invitation email"),
    *_cases("invite-team", "paraphrase",
            "can sarah get access to our workspace? she starts monday",
            "we hired 3 new people, how do they get in"),
    *_cases("invite-team", "no_keyword",
            "onboarding two new hires next week, how do they join us here?",
            "want to bring my boss into this so she can look around"),
    # --- generate-report --------------------------------------------------------------------
    *_cases("generate-report", "plain",
            "generate a report of last month's sales",
            "how do i export data to csv",
            "need weekly numbers for my standup"),
    *_cases("generate-report", "paraphrase",
            "can you pull signups by region for Q2 into a spreadsheet",
            "my boss wants to see how many tickets we closed last quarter"),
    *_cases("generate-report", "no_keyword",
            "how many folks joined in march? boss needs it by friday",
            "could I get a chart of churn over the last quarter"),
    # --- connect-integration ----------------------------------------------------------------
    *_cases("connect-integration", "plain",
            "how do i connect salesforce",
            "set up a webhook for new orders",
            "google calendar integration isnt syncing"),
    *_cases("connect-integration", "paraphrase",
            "want our jira tickets to sync over here",
            "does it work with dropbox? want files to show up here automatically"),
    *_cases("connect-integration", "no_keyword",
            "can this thing talk to hubspot",
            "hook up zapier pls"),
    # --- take-message -----------------------------------------------------------------------
    *_cases("take-message", "plain",
            "can I leave a message for Dana",
            "please take a message, ill be quick",
            "ask john to call me back when hes free"),
    *_cases("take-message", "paraphrase",
            "tried reaching your accounts team all day, nobody picks up",
            "can you pass a note to the billing folks that I called"),
    *_cases("take-message", "no_keyword",
            "is Maria in today? if not let her know Tom from Acme swung by",
            "my rep is out of office, could you get word to her that our order changed"),
    # --- qualify-lead -----------------------------------------------------------------------
    *_cases("qualify-lead", "plain",
            "how much does it cost",
            "what's the pricing for enterprise",
            "do you offer discounts for nonprofits?"),
    *_cases("qualify-lead", "paraphrase",
            "we're a 40 person company looking at tools like yours, how much per seat",
            "Hi there, we're a logistics firm (around 150 staff) on spreadsheets for everything "
            "and looking at a few options for Q3. could someone walk me through your plans and "
            "what a rough annual spend would be?"),
    *_cases("qualify-lead", "no_keyword",
            "how pricey is this per seat",
            "our firm of 200 would like to purchase, who do I speak with"),
    # --- escalate-request -------------------------------------------------------------------
    *_cases("escalate-request", "plain",
            "I want to talk to a human",
            "escalate this please, it's urgent",
            "get me a real person"),
    *_cases("escalate-request", "paraphrase",
            "this bot is useless, connect me with support",
            "I've explained this three times already, "
            "I need someone who can actually do something"),
    *_cases("escalate-request", "no_keyword",
            "enough with the robot, put a live staffer on this",
            "ugh. can a flesh and blood employee look at my case"),
    # --- troubleshoot -----------------------------------------------------------------------
    *_cases("troubleshoot", "plain",
            "the app keeps crashing on my phone",
            "getting an error when i click save",
            "dashboard page won't load"),
    *_cases("troubleshoot", "paraphrase",
            "nothing happens when I press the submit button",
            "hey so this morning i was trying to upload the q3 deck and it just spun forever "
            "then gave me some red text, tried again same thing, anyone else seeing this??"),
    *_cases("troubleshoot", "no_keyword",
            "screen goes white when I hit submit, on chrome",
            "my uploads die halfway thru"),
    # --- reset-password ---------------------------------------------------------------------
    *_cases("reset-password", "plain",
            "I forgot my password",
            "how do i reset my password",
            "locked out of my account"),
    *_cases("reset-password", "paraphrase",
            "the reset email never came",
            "got a new phone and lost my authenticator codes"),
    *_cases("reset-password", "no_keyword",
            "cant remember my login creds",
            "it keeps rejecting my pw"),
    # --- book-meeting -----------------------------------------------------------------------
    *_cases("book-meeting", "plain",
            "can we book a meeting for next week",
            "schedule a call with the onboarding team",
            "need to reschedule my meeting tomorrow"),
    *_cases("book-meeting", "paraphrase",
            "find a time for me and priya to talk thursday",
            "can I get 30 minutes with someone from your team"),
    *_cases("book-meeting", "no_keyword",
            "is anyone free tuesday afternoon for a quick sync-up",
            "could we hop on zoom thursday at 2pm"),
    # --- collect-feedback -------------------------------------------------------------------
    *_cases("collect-feedback", "plain",
            "I have some feedback",
            "feature request: dark mode",
            "suggestion: let me pin messages in threads"),
    *_cases("collect-feedback", "paraphrase",
            "it would be really nice to have keyboard shortcuts",
            "the new navigation is confusing tbh"),
    *_cases("collect-feedback", "no_keyword",
            "honestly the new sidebar layout is kind of a pain to use",
            "dark mode pls 🙏"),
    # --- no job -----------------------------------------------------------------------------
    *_cases(None, "none",
            "thanks!",
            "👍",
            "hi",
            "lol",
            "asdfghjkl",
            "brb",
            "ok cool",
            "good morning everyone",
            "tell me a joke",
            "what's the weather like in london today",
            "who won the game last night",
            "can you write me a haiku about cats",
            "what's 2+2",
            "what's the difference between you and chatgpt",
            "ngl this channel is dead today",
            # near a job, but no job covers it
            "what's your refund policy",
            "how do I cancel my subscription",
            "how do I delete my account",
            "can i get an invoice for last month",
            "is my data encrypted at rest",
            "where is your company based",
            "what are your office hours"),
])


def jobs() -> list[Job]:
    """The built-in templates as jobs, in file order."""
    return [Job(id=key, **fields) for key, fields in all_templates().items()]


def job_words(job: Job) -> set[str]:
    """The stemmed content words of a job's name, trigger, description and instructions."""
    return set(content_words(" ".join(getattr(job, f) for f in JOB_TEXT_FIELDS)).values())


def shared_words(text: str, job: Job) -> dict[str, str]:
    """The message's content words (as typed → stem) that the job's text also holds."""
    words = job_words(job)
    return {word: stem for word, stem in content_words(text).items() if stem in words}


# --- metrics ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What the matcher returned for one case: the ranked (job id, score) pairs."""

    case: Case
    ranked: tuple[tuple[str, float], ...]

    @property
    def top(self) -> str | None:
        return self.ranked[0][0] if self.ranked else None

    @property
    def correct(self) -> bool:
        return self.top == self.case.expected


@dataclass(frozen=True)
class Report:
    """The figures of one matcher configuration over the cases."""

    label: str
    outcomes: tuple[Outcome, ...]

    @property
    def job_outcomes(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.case.expected is not None]

    @property
    def top1(self) -> float:
        """Share of the messages that want a job whose best match is that job."""
        return _ratio(sum(o.correct for o in self.job_outcomes), len(self.job_outcomes))

    @property
    def no_match_precision(self) -> float:
        """Of the messages that matched nothing, the share that want no job."""
        empty = [o for o in self.outcomes if o.top is None]
        return _ratio(sum(o.case.expected is None for o in empty), len(empty))

    @property
    def no_match_recall(self) -> float:
        """Of the messages that want no job, the share that matched nothing."""
        nones = [o for o in self.outcomes if o.case.expected is None]
        return _ratio(sum(o.top is None for o in nones), len(nones))

    def kind_top1(self, kind: Kind) -> tuple[int, int]:
        """(right, total) top-1 for the job-wanting messages of one kind."""
        of_kind = [o for o in self.job_outcomes if o.case.kind == kind]
        return sum(o.correct for o in of_kind), len(of_kind)

    @property
    def misses(self) -> list[Outcome]:
        """Every case whose best match is not the expected job (or matched one it should not)."""
        return [o for o in self.outcomes if not o.correct]


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else math.nan


def evaluate(matcher: JobMatcher, label: str, *, library: Sequence[Job] | None = None,
             cases: Iterable[Case] = CASES) -> Report:
    """Rank every case's message over the library and collect the outcomes."""
    library = list(library) if library is not None else jobs()
    outcomes = []
    for case in cases:
        matches = matcher.rank(library, case.text, contact=CONTACT, now=NOW)
        outcomes.append(Outcome(case, tuple((m.job.id, m.score) for m in matches)))
    return Report(label, tuple(outcomes))


def format_table(reports: Sequence[Report]) -> str:
    """One row per configuration: top-1 overall and per kind, no-match precision and recall.

    "w/ words" is top-1 over the plain requests and paraphrases together: the
    messages that share a word with their job, all lexical matching can find.
    """
    head = (f"{'matching':<30} {'top-1':>15} {'plain':>7} {'paraph.':>7} {'no-kw':>7}"
            f" {'w/ words':>8} {'no-match prec.':>15} {'no-match rec.':>15}")
    lines = [head, "-" * len(head)]
    for report in reports:
        jobs_right = sum(o.correct for o in report.job_outcomes)
        empty = [o for o in report.outcomes if o.top is None]
        nones = [o for o in report.outcomes if o.case.expected is None]
        kinds = "".join(f" {_pct(_ratio(*report.kind_top1(kind))):>7}"
                        for kind in ("plain", "paraphrase", "no_keyword"))
        worded = [report.kind_top1(kind) for kind in ("plain", "paraphrase")]
        kinds += f" {_pct(_ratio(sum(r for r, _ in worded), sum(n for _, n in worded))):>8}"
        precision = _fraction(sum(o.case.expected is None for o in empty), len(empty))
        recall = _fraction(sum(o.top is None for o in nones), len(nones))
        top1 = _fraction(jobs_right, len(report.job_outcomes))
        lines.append(f"{report.label:<30} {top1:>15}{kinds} {precision:>15} {recall:>15}")
    return "\n".join(lines)


def _fraction(part: int, whole: int) -> str:
    return f"{_pct(_ratio(part, whole))} ({part:>3}/{whole:>3})"


def format_misses(report: Report) -> str:
    """One line per miss: kind, expected, what ranked first (with scores) and the message."""
    lines = [f"misses, {report.label}: {len(report.misses)}"]
    for o in report.misses:
        got = ", ".join(f"{job} {score:.2f}" for job, score in o.ranked[:3]) or "no match"
        lines.append(f"  [{o.case.kind:<10}] want {o.case.expected or 'none':<19} got {got:<60}"
                     f" {o.case.text[:80]!r}")
    return "\n".join(lines)


def _pct(value: float) -> str:
    return "  n/a" if math.isnan(value) else f"{value:5.0%}"


# --- embeddings ------------------------------------------------------------------------------


class MiniLMEmbedder:
    """The test-only all-MiniLM-L6-v2 (tests/fakes/minilm.py) as an `Embedder`.

    Message vectors are memoized per text, so sweeps over thresholds embed each
    message once.
    """

    model = "all-MiniLM-L6-v2"

    def __init__(self) -> None:
        from tests.fakes.minilm import shared

        self._model = shared()
        self._memo: dict[str, np.ndarray] = {}

    def embed(self, texts: list[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._memo]
        if missing:
            self._memo.update(zip(missing, self._model.embed(missing), strict=True))
        return np.vstack([self._memo[t] for t in texts]) if texts else np.zeros((0, 384))


def embeddings_unavailable() -> str | None:
    """Why the real embedding model cannot run here, or None when it can."""
    from tests.fakes.minilm import unavailable_reason

    return unavailable_reason()
