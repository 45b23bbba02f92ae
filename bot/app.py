"""Wiring: settings, Redis, stores, model and agent, put together once per process.

Only this module and `bot.cli` import adapters and assemble the parts.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import redis

from adapters.console import ConsoleSender
from bot.commands import Stores
from bot.delivery import Delivery
from bot.embeddings import JobVectors, OpenAIEmbedder
from bot.ingress import Ingress
from bot.llm.base import LLM
from bot.llm.offline import OfflineModel
from bot.llm.openai_chat import OpenAIChat
from bot.matcher import JobMatcher
from bot.ports import Sender
from bot.schedules import plan
from bot.turns import Agent, TurnLimits
from bot.vocabulary import load as load_vocabulary
from config.settings import Settings
from jobs_store import BotStore, ContactStore, ConversationStore, JobStore
from jobs_store.connection import client_for, connect, redis_url
from jobs_store.executions import ExecutionStore
from jobs_store.rates import RateCounter
from jobs_store.stats import StatsStore
from jobs_store.tasks import TaskStore
from workers.executions import RQExecutionQueue
from workers.queues import RQTurnQueue
from workers.scheduler import TaskScheduler

if TYPE_CHECKING:
    import openai

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class App:
    """Everything a chatjobs process works with."""

    settings: Settings
    #: The Redis URL other processes can use (the embedded server's unix socket).
    redis_url: str
    #: Text replies, for our stores.
    client: redis.Redis
    #: Binary replies, for RQ (which pickles jobs).
    rq_client: redis.Redis
    stores: Stores
    contacts: ContactStore
    conversations: ConversationStore
    agent: Agent
    ingress: Ingress


@contextlib.contextmanager
def open_app(settings: Settings) -> Iterator[App]:
    """Connect to Redis (starting the embedded one if needed) and build every part."""
    with redis_url(settings) as url, app_on(settings, url) as app:
        yield app


@contextlib.contextmanager
def app_on(settings: Settings, url: str) -> Iterator[App]:
    """Build every part on the Redis at `url`; close its connections after."""
    client = connect(url)
    rq_client = client_for(url)
    try:
        yield build_app(settings, url=url, client=client, rq_client=rq_client)
    finally:
        client.close()
        rq_client.close()


def build_app(settings: Settings, *, url: str, client: redis.Redis, rq_client: redis.Redis,
              senders: Mapping[str, Sender] | None = None) -> App:
    """Assemble the parts on open connections."""
    jobs, bots = JobStore(client), BotStore(client)
    bots.ensure_default()
    contacts = ContactStore(client)
    conversations = ConversationStore(client, max_turns=settings.chatjobs_history_turns,
                                      ttl_days=settings.chatjobs_history_days)
    stats = StatsStore(client)
    tasks = TaskStore(client, planner=plan)
    executions = ExecutionStore(client)
    agent = Agent(
        jobs=jobs, bots=bots, contacts=contacts, conversations=conversations, stats=stats,
        tasks=tasks, executions=executions,
        matcher=JobMatcher(vectors=_job_vectors(settings, client),
                           vocabulary=load_vocabulary(settings.chatjobs_vocabulary)),
        llm=build_llm(settings), offline=OfflineModel(),
        delivery=Delivery(client, senders if senders is not None else _senders(settings, client)),
        limits=TurnLimits(model=settings.openai_model,
                          max_iterations=settings.chatjobs_turn_max_iterations,
                          max_seconds=settings.chatjobs_turn_max_seconds,
                          turns_per_minute=settings.chatjobs_user_turns_per_minute),
        rates=RateCounter(client),
    )
    return App(
        settings=settings, redis_url=url, client=client, rq_client=rq_client,
        stores=Stores(jobs=jobs, bots=bots, stats=stats, agent=agent, tasks=tasks,
                      contacts=contacts, executions=executions,
                      execution_queue=RQExecutionQueue(rq_client), conversations=conversations),
        contacts=contacts, conversations=conversations, agent=agent,
        ingress=Ingress(client=client, conversations=conversations, contacts=contacts,
                        queue=RQTurnQueue(rq_client)),
    )


def build_scheduler(app: App) -> TaskScheduler:
    """The task scheduler on the app's stores (`chatjobs scheduler`, or a thread)."""
    stores = app.stores
    assert stores.tasks is not None and stores.executions is not None
    return TaskScheduler(client=app.client, tasks=stores.tasks, executions=stores.executions,
                         queue=RQExecutionQueue(app.rq_client))


def build_llm(settings: Settings) -> LLM:
    """The OpenAI-compatible model when a key is set, else the offline model."""
    if settings.openai_api_key is None:
        return OfflineModel()
    return OpenAIChat(_openai_client(settings, settings.openai_base_url))


def _job_vectors(settings: Settings, client: redis.Redis) -> JobVectors | None:
    if not settings.openai_embedding_model:
        return None
    embedder = OpenAIEmbedder(_openai_client(settings, settings.embeddings_url),
                              model=settings.openai_embedding_model)
    return JobVectors(client, embedder)


def _openai_client(settings: Settings, base_url: object) -> openai.OpenAI:
    # openai is imported where a client is built or used: its import takes ~0.6 s and
    # ~27 MB, which a process without a model key (offline) never needs.
    import openai

    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else "none"
    return openai.OpenAI(api_key=key, base_url=str(base_url) if base_url else None,
                         max_retries=settings.chatjobs_model_retries,
                         timeout=settings.chatjobs_model_timeout)


def _senders(settings: Settings, client: redis.Redis) -> dict[str, Sender]:
    # A platform's library loads only when its token is set (as openai's, above).
    senders: dict[str, Sender] = {"console": ConsoleSender(client)}
    if settings.slack_bot_token is not None:
        from adapters.slack.sender import SlackSender

        senders["slack"] = SlackSender.from_settings(settings, client)
    if settings.discord_token is not None:
        from adapters.discord.sender import DiscordSender

        senders["discord"] = DiscordSender.from_settings(settings, client)
    return senders
