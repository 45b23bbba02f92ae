"""Redis repositories: jobs and their versions, bots, contacts, conversations.

The key scheme is documented in `jobs_store.keys`. The persisted records are
defined in `jobs_store.models` (this package may not import `bot`).
"""

from jobs_store.bots import DEFAULT_BOT_ID, BotStore
from jobs_store.contacts import ContactStore
from jobs_store.conversations import ConversationStore
from jobs_store.jobs import JobStore
from jobs_store.records import DEFAULT_WORKSPACE
from jobs_store.stats import StatsStore
from jobs_store.tasks import TaskStore

__all__ = [
    "DEFAULT_BOT_ID",
    "DEFAULT_WORKSPACE",
    "BotStore",
    "ContactStore",
    "ConversationStore",
    "JobStore",
    "StatsStore",
    "TaskStore",
]
