"""Turn overhead and matcher time against library size: `python bench/turn_overhead.py`.

    python bench/turn_overhead.py [--sizes 10,1000,10000] [--samples N]
                                  [--breakdown-samples N] [--profile] [--flush]
                                  [--json PATH]

For each library size it loads that many generated jobs (the 12 built-in
templates with varied names, triggers and a synthetic vocabulary), then
measures, in the same run and on the same Redis client:

- the baseline: a raw Redis round trip (PING) on the app's text client;
- turn overhead: `app.ingress.accept(message)` → the local fake OpenAI server
  *receives* the chat-completions request (its record's `time.monotonic()`),
  with a real RQ worker on a thread of this process and the fake answering at
  once; one fresh conversation per sample, so each sample is one turn;
- the full turn (accept → reply pushed to the console outbox), for context;
- matcher time per query: `agent.matcher.rank(...)` over realistic messages,
  with the BM25 index warm; and the cold index build (the first query on a
  fresh matcher, which builds the index for that set of job versions);
- a breakdown of the turn: the same turns with the agent's stores, matcher and
  model client wrapped in timing proxies (from the outside: no source change),
  and `JobStore.list()` timed step by step on the same data.

Figures are printed, never asserted. Ratios are against the Redis round trip
measured in the same run, so they compare across machines better than
milliseconds do. It uses `REDIS_URL` when set (an empty database, or pass
`--flush` to empty it), else an embedded Redis in a temporary directory.
`--profile` adds cProfile's view of turns at the largest size (run on the
main thread, without RQ).
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import gc
import io
import math
import pstats
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis
import rq

from adapters.console import wait_for_reply
from bench.common import Stats, add_runner_arguments, bench_app, machine, redis_rtt, run_main
from bench.machine import load
from bot.app import App
from bot.ingress import Ingress
from bot.models import Contact, IncomingMessage, Job, Turn
from bot.prompt import MAX_INJECTED, MAX_LISTED
from bot.templates import all_templates
from bot.turns import Agent, answer_pending
from jobs_store import JobStore, keys
from tests.bot.matching_eval_data import CASES
from tests.fakes.openai_server import CHAT_PATH, FakeOpenAI
from workers.queues import RQTurnQueue
from workers.runtime import Runtime
from workers.worker import BackgroundWorker

DEFAULT_SIZES = (10, 1_000, 10_000)
#: Enough turns for a stable p99 while a full run stays within ~3 minutes on 2 cores.
DEFAULT_TURNS = {10: 200, 1_000: 200, 10_000: 100}
DEFAULT_BREAKDOWN = 30
WARMUP_TURNS = 5
IMPORT_BATCH = 500
#: The issue's later target: turn overhead p99 at most this at `TARGET_SIZE` jobs.
TARGET_P99_MS = 30.0
TARGET_SIZE = 1_000
#: What a turn asks the matcher for (`bot.turns.plan_turn`).
RANK_LIMIT = MAX_INJECTED + MAX_LISTED
SEED = 20_250_304
WORKSPACE = "bench"
#: The console contact the turns come from: an owner seen for the first time now,
#: as `chatjobs chat` sends, so every template's audience rule admits them.
CONTACT = Contact(platform="console", workspace=WORKSPACE, user="bench", display_name="bench",
                  role="owner")


# --- figures ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Segment:
    """One part of the turn: its median and p99 over the instrumented turns (ms)."""

    name: str
    stats: Stats


@dataclass(frozen=True)
class GcPauses:
    """Full (generation 2) garbage collections that ran during the turns."""

    count: int
    longest_ms: float
    total_ms: float


@dataclass
class SizeResult:
    """Everything measured at one library size."""

    jobs: int
    load_s: float
    rtt: Stats
    turn: Stats
    full_turn: Stats
    matcher: Stats
    cold_index_s: float
    #: The turn, part by part (instrumented turns).
    segments: list[Segment] = field(default_factory=list)
    #: `JobStore.list()` step by step, timed on the same data.
    list_steps: list[Segment] = field(default_factory=list)
    #: Bytes MGET fetches per `JobStore.list()`.
    library_bytes: int = 0
    #: Distinct stems in the BM25 index.
    vocabulary: int = 0
    #: Full collections during the measured turns.
    full_gc: GcPauses = GcPauses(0, 0.0, 0.0)


@contextmanager
def gc_pauses(found: list[tuple[int, float]]) -> Iterator[None]:
    """Record (generation, ms) of every collection in this process while inside."""
    started: list[float] = []

    def callback(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started.append(time.perf_counter())
        elif started:
            found.append((info["generation"], (time.perf_counter() - started.pop()) * 1000))

    gc.callbacks.append(callback)
    try:
        yield
    finally:
        gc.callbacks.remove(callback)


@dataclass
class Report:
    """A whole run."""

    machine: dict[str, str]
    sizes: list[SizeResult]
    profile: str = ""


# --- the library and the messages ----------------------------------------------------------

_SYLLABLES = ("ka ri to ne va lo mi su de ra po li xe zu an or el ix um ba ko te ni"  # noqa: SIM905
              " sa vo ru fe gi ha je qu we yo").split()
_ENDINGS = ("", "", "", "x", "n", "r", "s", "t", "ly", "io", "er", "ic")
_AREAS = ("billing payroll onboarding warehouse shipping returns analytics compliance"  # noqa: SIM905
          " recruiting support sales marketing finance legal security procurement"
          " inventory scheduling training partners invoicing refunds subscriptions"
          " mobile desktop api reporting travel expenses benefits facilities").split()


def vocabulary(size: int, rng: random.Random) -> list[str]:
    """`size` distinct made-up words (product and team names, jargon), most common first."""
    found: dict[str, None] = {}
    while len(found) < size:
        word = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4)))
        found[word + rng.choice(_ENDINGS)] = None
    return list(found)


def _zipf_pick(words: Sequence[str], rng: random.Random) -> str:
    return words[int(len(words) * rng.random() ** 2.5)]


def library(n: int, *, seed: int = SEED) -> list[dict[str, str]]:
    """`n` job field dicts with unique names: the templates, varied per team and product.

    Each job keeps its template's steps, audience and rule, and gets a product,
    an area, trigger phrases and a context paragraph drawn from a synthetic
    vocabulary that grows with the library (about 3 new words per job), so BM25
    sees a vocabulary of a realistic size.
    """
    rng = random.Random(seed)
    templates = list(all_templates().values())
    words = vocabulary(min(500 + 3 * n, 40_000), rng)
    names: set[str] = set()
    jobs = []
    for i in range(n):
        base = templates[i % len(templates)]
        product = _zipf_pick(words, rng).capitalize()
        area = rng.choice(_AREAS)
        name = f"{base['name']} ({product} {area})"
        if name.lower() in names:
            name = f"{base['name']} ({product} {area} {i})"
        names.add(name.lower())
        phrases = [p.strip() for p in base.get("trigger", "").split(",") if p.strip()]
        extra = ", ".join(f"{rng.choice(phrases)} for {product}" for _ in range(2))
        context = " ".join(_zipf_pick(words, rng) for _ in range(rng.randint(15, 40)))
        jobs.append({
            **base,
            "name": name,
            "description": f"{base['description']} For the {area} team using {product}."[:500],
            "trigger": f"{base.get('trigger', '')}, {extra}"[:500],
            "instructions": f"{base['instructions']}\nContext for {product} ({area}): {context}.",
        })
    return jobs


def queries(jobs: Sequence[dict[str, str]], *, count: int = 200,
            seed: int = SEED) -> list[str]:
    """Realistic messages: the matching evaluation's, and requests naming a job's product."""
    rng = random.Random(seed + 1)
    texts = [case.text for case in CASES]
    while len(texts) < count:
        job = rng.choice(jobs)
        phrase = rng.choice([p.strip() for p in job["trigger"].split(",") if p.strip()])
        product = job["name"].rsplit("(", 1)[-1].split()[0]
        texts.append(rng.choice([f"hey, {phrase}?", f"{phrase} in {product} pls",
                                 f"{product} question: {phrase}"]))
    rng.shuffle(texts)
    return texts


def load_library(client: redis.Redis, items: Sequence[dict[str, str]]) -> float:
    """Store the jobs (in batches of `IMPORT_BATCH`); seconds taken."""
    store = JobStore(client)
    start = time.perf_counter()
    for offset in range(0, len(items), IMPORT_BATCH):
        store.import_many(items[offset:offset + IMPORT_BATCH], actor="bench")
    return time.perf_counter() - start


# --- measurements --------------------------------------------------------------------------

def matcher_time(agent: Agent, texts: Sequence[str], *, samples: int,
                 now: datetime) -> tuple[float, Stats]:
    """(cold index build in s, warm time per query) for the library a turn ranks.

    The jobs are what a turn of the default bot ranks (the whole library, from
    `JobStore.list()`), so the first call here also warms the turns' index.
    """
    jobs = agent.jobs.list()
    contact = agent.contacts.get(CONTACT.id)
    start = time.perf_counter()
    agent.matcher.rank(jobs, texts[0], contact=contact, now=now, limit=RANK_LIMIT)
    cold = time.perf_counter() - start
    times = []
    for i in range(samples):
        text = texts[i % len(texts)]
        start = time.perf_counter()
        agent.matcher.rank(jobs, text, contact=contact, now=now, limit=RANK_LIMIT)
        times.append((time.perf_counter() - start) * 1000)
    return cold, Stats.of(times)


@dataclass(frozen=True)
class TurnSample:
    """One turn's timestamps (time.monotonic) and what the proxies saw meanwhile."""

    start: float
    accepted: float
    request: float
    replied: float
    calls: tuple[tuple[str, float, float], ...] = ()


def run_turns(app: App, fake: FakeOpenAI, texts: Sequence[str], *, samples: int, tag: str,
              calls: list[tuple[str, float, float]] | None = None,
              ingress: Ingress | None = None) -> list[TurnSample]:
    """`samples` one-message conversations, one at a time.

    Each waits for its reply and then for the worker to be idle again (its
    bookkeeping after the reply done), so every turn starts on an idle worker
    waiting for a job: the steady state of a quiet conversation, not a burst.
    """
    ingress = ingress or app.ingress
    out = []
    for i in range(samples):
        message = IncomingMessage(
            platform="console", workspace=WORKSPACE, channel=f"dm-{tag}-{i}", user=CONTACT.user,
            user_name=CONTACT.display_name, text=texts[i % len(texts)],
            message_id=f"{tag}-{i}", mentions_bot=True, is_dm=True)
        seen = len(fake.chat_requests)
        if calls is not None:
            calls.clear()
        start = time.monotonic()
        ingress.accept(message, contact=CONTACT)
        accepted = time.monotonic()
        request = fake.wait_for_requests(seen + 1, timeout=120, path=CHAT_PATH)[seen].time
        if wait_for_reply(app.client, message.conversation_id, timeout=120) is None:
            raise RuntimeError(f"no reply in {message.conversation_id}")
        replied = time.monotonic()
        out.append(TurnSample(start, accepted, request, replied,
                              tuple(calls) if calls is not None else ()))
        wait_idle(app.rq_client)
    return out


def wait_idle(connection: redis.Redis, *, timeout: float = 60.0) -> None:
    """Wait until no RQ worker on `connection` is busy, then a little more.

    The little more (2 ms) lets an idle worker get back to its blocking wait.
    """
    deadline = time.monotonic() + timeout
    while any(w.get_state() == "busy" for w in rq.Worker.all(connection=connection)):
        if time.monotonic() > deadline:
            raise TimeoutError("the RQ worker stayed busy")
        time.sleep(0.001)
    time.sleep(0.002)


class Timed:
    """Wraps an object; every method call is logged as (label.method, start, end)."""

    def __init__(self, target: Any, label: str, log: list[tuple[str, float, float]]) -> None:
        self._target, self._label, self._log = target, label, log

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if not callable(attr):
            return attr
        label = f"{self._label}.{name}"

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.monotonic()
            try:
                return attr(*args, **kwargs)
            finally:
                self._log.append((label, start, time.monotonic()))

        return timed


def timed(target: Any, label: str, log: list[tuple[str, float, float]]) -> Any:
    """`target` wrapped in `Timed`, typed as whatever the caller expects (duck typing)."""
    return Timed(target, label, log)


def timed_agent(agent: Agent, log: list[tuple[str, float, float]]) -> Agent:
    """The agent with its stores, matcher, delivery and model client wrapped in `Timed`."""
    parts = ("conversations", "bots", "jobs", "contacts", "matcher", "llm", "delivery")
    proxies: dict[str, Any] = {p: timed(getattr(agent, p), p, log) for p in parts
                               if getattr(agent, p, None) is not None}
    return dataclasses.replace(agent, **proxies)


def timed_ingress(app: App, log: list[tuple[str, float, float]]) -> Ingress:
    """An ingress like the app's, with its stores and queue wrapped in `Timed`."""
    return Ingress(client=app.client, contacts=timed(app.contacts, "ingress.contacts", log),
                   conversations=timed(app.conversations, "ingress.conversations", log),
                   queue=timed(RQTurnQueue(app.rq_client), "ingress.queue", log))


#: The worker's parts of a turn, in order: (name, proxied calls whose durations it sums).
_PARTS = (
    ("worker: conversation state + history", ("conversations.state", "conversations.turns")),
    ("worker: choose bot (bots.list, bots.get)", ("bots.list", "bots.get")),
    ("worker: load jobs (JobStore.list)", ("jobs.list", "jobs.get_many")),
    ("worker: contact (contacts.get)", ("contacts.get",)),
    ("worker: rank (matcher.rank)", ("matcher.rank",)),
    ("worker: working state (delivery.working)", ("delivery.working",)),
)
TOTAL = "total (accept → request received)"


def segments(samples: Sequence[TurnSample]) -> list[Segment]:
    """The turn overhead, part by part, from the instrumented turns.

    The parts follow each other in time, so their means add up to the total's.
    """
    parts: dict[str, list[float]] = {
        "ingress: dedupe, contact, append message": [],
        "queue: in line, runner → worker starts the turn": [],
        **{name: [] for name, _ in _PARTS},
        "worker: prompt, toolbox, glue (the rest)": [],
        "model client: SDK call → server receives": [],
        TOTAL: [],
    }
    for s in samples:
        schedule = min(c[1] for c in s.calls if c[0] == "ingress.queue.schedule")
        worker = [c for c in s.calls if not c[0].startswith("ingress.")]
        first = min(c[1] for c in worker)
        llm = min(c[1] for c in worker if c[0] == "llm.complete")
        parts["ingress: dedupe, contact, append message"].append(schedule - s.start)
        parts["queue: in line, runner → worker starts the turn"].append(first - schedule)
        covered = 0.0
        for name, labels in _PARTS:
            spent = sum(c[2] - c[1] for c in worker if c[0] in labels and c[2] <= llm)
            parts[name].append(spent)
            covered += spent
        parts["worker: prompt, toolbox, glue (the rest)"].append((llm - first) - covered)
        parts["model client: SDK call → server receives"].append(s.request - llm)
        parts[TOTAL].append(s.request - s.start)
    return [Segment(name, Stats.of([v * 1000 for v in values])) for name, values in parts.items()]


def list_steps(client: redis.Redis, *, repeats: int) -> tuple[list[Segment], int]:
    """Reading the library, step by step on the same data; and the bytes MGET fetches.

    The steps are what `JobStore.list()` does without any cache (HVALS, MGET,
    parse, sort), then the audience-rule parsing `matcher.rank` does per job,
    then `JobStore.list()` as the code stands: on a new store (a new process)
    and called again on the same store (a worker's later turns).
    """
    names_key = keys.job_names("default")
    steps: dict[str, list[float]] = {
        "HVALS names": [], "MGET jobs": [], "parse (Job.model_validate_json)": [],
        "sort by name": [], "audience rules (Job.audience_rule)": [],
        "JobStore.list(), new store": [], "JobStore.list(), same store again": []}
    size = 0
    for _ in range(repeats):
        t0 = time.perf_counter()
        ids = client.hvals(names_key)
        t1 = time.perf_counter()
        raws = client.mget([keys.job("default", str(i)) for i in ids]) if ids else []
        t2 = time.perf_counter()
        jobs = [Job.model_validate_json(raw) for raw in raws if raw]
        t3 = time.perf_counter()
        jobs.sort(key=lambda job: job.name.lower())
        t4 = time.perf_counter()
        for job in jobs:
            _ = job.audience_rule
        t5 = time.perf_counter()
        store = JobStore(client)
        store.list()
        t6 = time.perf_counter()
        store.list()
        t7 = time.perf_counter()
        marks = (t0, t1, t2, t3, t4, t5, t6, t7)
        for name, begin, end in zip(steps, marks, marks[1:], strict=False):
            steps[name].append((end - begin) * 1000)
        size = sum(len(raw) for raw in raws if raw)
    return [Segment(name, Stats.of(values)) for name, values in steps.items()], size


def profile_turns(app: App, texts: Sequence[str], *, turns: int, tag: str, top: int = 25) -> str:
    """cProfile of `turns` turns run on this thread (no RQ), sorted by own time."""
    profiler = cProfile.Profile()
    for i in range(turns):
        conversation_id = f"console:{WORKSPACE}:dm-{tag}-{i}:"
        app.conversations.append_user(conversation_id, Turn(
            role="user", text=texts[i % len(texts)], user=CONTACT.user))
        profiler.enable()
        answer_pending(conversation_id, app.agent)
        profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue()


# --- the run ---------------------------------------------------------------------------------

@contextmanager
def worker(app: App, agent: Agent) -> Iterator[None]:
    """A real RQ worker on a thread of this process, running turns with `agent`."""
    background = BackgroundWorker(connection=app.rq_client,
                                  rt=Runtime(agent=agent, redis=app.client))
    background.start()
    try:
        yield
    finally:
        background.stop()


def measure_size(url: str, fake: FakeOpenAI, data_dir: Path, n: int, *, samples: int,
                 breakdown_samples: int, profile: bool = False,
                 say: Callable[[str], None] = print) -> tuple[SizeResult, str]:
    """Load `n` jobs into an emptied database and measure everything at that size."""
    with bench_app(url, fake.base_url, data_dir) as app:
        app.client.flushdb()
        app.agent.bots.ensure_default()
        fake.reset()
        items = library(n)
        texts = queries(items)
        load_s = load_library(app.client, items)
        say(f"  {n:,} jobs loaded in {load_s:.1f} s")
        now = datetime.now(UTC)
        app.contacts.save(CONTACT)
        cold, matcher = matcher_time(app.agent, texts, samples=max(samples, 100), now=now)
        say(f"  cold index build {cold:.2f} s; matcher p50 {matcher.p50:.2f} ms")
        # The index's vocabulary, for the report only (a private attribute: optional).
        cache = getattr(app.agent.matcher, "_cache", {})
        vocab = max((len(getattr(i, "doc_freq", ())) for i in cache.values()), default=0)
        with worker(app, app.agent):
            run_turns(app, fake, texts, samples=WARMUP_TURNS, tag=f"warm{n}")
            rtt = redis_rtt(app.client)
            collections: list[tuple[int, float]] = []
            with gc_pauses(collections):
                turns = run_turns(app, fake, texts, samples=samples, tag=f"t{n}")
            full = [ms for generation, ms in collections if generation == 2]
        say(f"  {samples} turns done")
        log: list[tuple[str, float, float]] = []
        with worker(app, timed_agent(app.agent, log)):
            timed = run_turns(app, fake, texts, samples=breakdown_samples, tag=f"b{n}",
                              calls=log, ingress=timed_ingress(app, log))
        steps, size = list_steps(app.client, repeats=max(3, min(breakdown_samples, 20)))
        report = ""
        if profile:
            report = profile_turns(app, texts, turns=20, tag=f"p{n}")
        result = SizeResult(
            jobs=n, load_s=load_s, rtt=rtt, matcher=matcher, cold_index_s=cold,
            turn=Stats.of([(s.request - s.start) * 1000 for s in turns]),
            full_turn=Stats.of([(s.replied - s.start) * 1000 for s in turns]),
            segments=segments(timed), list_steps=steps, library_bytes=size, vocabulary=vocab,
            full_gc=GcPauses(len(full), max(full, default=0.0), sum(full)))
        app.client.flushdb()
        return result, report


def run(url: str, *, sizes: Sequence[int] = DEFAULT_SIZES, samples: int | None = None,
        breakdown_samples: int = DEFAULT_BREAKDOWN, profile: bool = False,
        say: Callable[[str], None] = print) -> Report:
    """Measure every size on the Redis at `url` (its database is flushed per size)."""
    with tempfile.TemporaryDirectory() as tmp, FakeOpenAI() as fake:
        report = Report(machine=machine(url), sizes=[])
        for n in sizes:
            say(f"{n:,} jobs…")
            count = samples if samples is not None else DEFAULT_TURNS.get(n, 100)
            result, profiled = measure_size(
                url, fake, Path(tmp), n, samples=count, breakdown_samples=breakdown_samples,
                profile=profile and n == max(sizes), say=say)
            report.sizes.append(result)
            report.profile = profiled or report.profile
        if fake.errors:
            raise RuntimeError(f"the fake OpenAI server failed: {fake.errors!r}")
        report.machine["load"] += f" at start, {load()} at the end"
        return report


# --- printing --------------------------------------------------------------------------------

def format_report(report: Report) -> str:
    """The tables: headline figures per size, then the breakdowns."""
    m = report.machine
    lines = [
        f"machine: {m['cores']} cores ({m['cpu']}), Python {m['python']}, "
        f"Redis {m['redis']}, rq {m['rq']}; load average {m['load']}",
        "baseline: Redis PING round trip on the app's client, measured in each row; "
        "×RTT = figure / RTT p50",
        "",
        f"{'jobs':>7} | {'RTT p50/p99 ms':>15} | {'turn p50/p99 ms':>17} | {'×RTT p50/p99':>15}"
        f" | {'matcher p50/p99 ms':>18} | {'×RTT p50/p99':>15} | {'cold index s':>12}"
        f" | {'full turn p50 ms':>16}",
        "-" * 138,
    ]
    for r in report.sizes:
        base = r.rtt.p50
        lines.append(
            f"{r.jobs:>7,} | {r.rtt.p50:>7.3f}/{r.rtt.p99:<7.3f} | "
            f"{r.turn.p50:>8.1f}/{r.turn.p99:<8.1f} | "
            f"{r.turn.p50 / base:>7,.0f}/{r.turn.p99 / base:<7,.0f} | "
            f"{r.matcher.p50:>9.2f}/{r.matcher.p99:<8.2f} | "
            f"{r.matcher.p50 / base:>7,.0f}/{r.matcher.p99 / base:<7,.0f} | "
            f"{r.cold_index_s:>12.2f} | {r.full_turn.p50:>16.1f}")
    lines.append("")
    for r in report.sizes:
        lines.append(
            f"{r.jobs:>7,} jobs: {r.turn.n} turns, {r.matcher.n} queries; library "
            f"{r.library_bytes / 1e6:.1f} MB, {r.vocabulary:,} stems, loaded in {r.load_s:.1f} s;"
            f" {r.full_gc.count} full GCs during the turns (longest {r.full_gc.longest_ms:.0f} ms)")
    target = next((r for r in report.sizes if r.jobs == TARGET_SIZE), None)
    if target is not None:
        verdict = "meets" if target.turn.p99 <= TARGET_P99_MS else "misses"
        lines.append(f"target: turn overhead p99 ≤ {TARGET_P99_MS:.0f} ms at {TARGET_SIZE:,} jobs:"
                     f" {verdict} it ({target.turn.p99:.1f} ms)")
    for r in report.sizes:
        lines += ["", f"where the turn goes at {r.jobs:,} jobs ({r.segments[0].stats.n} "
                      "instrumented turns; the parts' means add up to the total's):",
                  f"  {'part':<44} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8} {'share':>6}"]
        total = r.segments[-1].stats.mean
        for seg in r.segments:
            share = seg.stats.mean / total * 100 if total else math.nan
            lines.append(f"  {seg.name:<44} {seg.stats.p50:>8.2f} {seg.stats.p99:>8.2f}"
                         f" {seg.stats.mean:>8.2f} {share:>5.0f}%")
        lines.append(f"  reading the library, step by step ({r.library_bytes / 1e6:.1f} MB):")
        for seg in r.list_steps:
            lines.append(f"    {seg.name:<42} {seg.stats.p50:>8.2f} {seg.stats.p99:>8.2f}"
                         f" {seg.stats.mean:>8.2f}")
    if report.profile:
        lines += ["", "cProfile of 20 turns at the largest size (main thread, no RQ):",
                  report.profile]
    return "\n".join(lines)


def _sizes(text: str) -> tuple[int, ...]:
    sizes = tuple(int(part.replace("_", "")) for part in text.split(",") if part.strip())
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError("sizes are positive job counts, e.g. 10,1000,10000")
    return sizes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=_sizes, default=DEFAULT_SIZES,
                        help="library sizes, comma-separated (default 10,1000,10000)")
    parser.add_argument("--samples", type=int, default=None,
                        help="turns per size (default 200 up to 1,000 jobs, 100 above)")
    parser.add_argument("--breakdown-samples", type=int, default=DEFAULT_BREAKDOWN,
                        help=f"instrumented turns per size (default {DEFAULT_BREAKDOWN})")
    parser.add_argument("--profile", action="store_true",
                        help="add a cProfile of turns at the largest size")
    add_runner_arguments(parser)
    args = parser.parse_args(argv)
    return run_main(args, lambda url: run(url, sizes=args.sizes, samples=args.samples,
                                          breakdown_samples=args.breakdown_samples,
                                          profile=args.profile),
                    format_report)


if __name__ == "__main__":
    sys.exit(main())
