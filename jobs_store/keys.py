"""The Redis key scheme. Every key chatjobs writes starts with `cj:`.

| key | type | holds |
| --- | --- | --- |
| `cj:{ws}:job:{id}` | string | the job's current version, JSON |
| `cj:{ws}:job:{id}:versions` | list | every version of the job, oldest first, JSON |
| `cj:{ws}:jobs` | hash | lower-cased job name → job id (the uniqueness index) |
| `cj:{ws}:jobs:rev` | string | the library's revision, bumped by every job write |
| `cj:{ws}:bot:{id}` | string | a bot, JSON |
| `cj:{ws}:bots` | hash | lower-cased bot name → bot id |
| `cj:contact:{platform}:{workspace}:{user}` | string | a contact, JSON |
| `cj:conv:{conversation id}:turns` | list | the conversation's latest turns, JSON, oldest first |
| `cj:{ws}:stats:job:{id}:chats` | set | conversation ids that referenced the job |
| `cj:{ws}:stats:job:{id}:offered` | set | users offered the job, and all who completed it |
| `cj:{ws}:stats:job:{id}:completed` | set | users who completed the job |
| `cj:{ws}:stats:job:{id}:completions` | list | the latest 20 completions, newest first, JSON |
| `cj:{ws}:stats:last_used` | sorted set | job id → last referenced or completed, epoch ms |
| `cj:{ws}:stats:gaps` | list | the latest 500 messages that matched no job, newest first, JSON |
| `cj:emb:{model}:{job id}:{version}` | string | a job version's embedding (float32, base64) |
| `cj:{ws}:task:{id}` | string | a task, JSON |
| `cj:{ws}:tasks` | set | the ids of the workspace's tasks |
| `cj:{ws}:tasks:names` | hash | lower-cased task name → task id (the uniqueness index) |
| `cj:{ws}:tasks:due` | sorted set | task id → its next run, epoch ms (unpaused tasks only) |
| `cj:{ws}:task:{id}:executions` | sorted set | its latest 200 execution ids → queued at, ms |
| `cj:{ws}:task:{id}:active` | string | the id of the task's queued or running execution |
| `cj:{ws}:execution:{id}` | string | an execution, JSON |
| `cj:{ws}:executions:queued` | sorted set | queued execution ids → queued at, epoch ms |
| `cj:{ws}:executions:running` | sorted set | running execution ids → last beat, ms |
| `cj:{ws}:scheduler:tick` | string | held for a moment by the scheduler doing the sweeps |
| `cj:conv:{conversation id}:state` | hash | message counts, `active_job`, the open session window |
| `cj:conv:{conversation id}:turn` | string | its turn is `claimed`, `queued` (or running) |
| `cj:seen:{platform}:{message id}` | string | a delivered platform message (dedupe, 1 day) |
| `cj:rate:{platform}:{ws}:{user}:{minute}` | string | one person's messages that minute |
| `cj:sent:{key}` | string | a reply or post already sent (idempotency, 7 days) |

`{ws}` is the job library's workspace: one deployment serves one library,
`default`, shared by Slack, Discord and the console (see README).
"""

PREFIX = "cj"


def job(ws: str, job_id: str) -> str:
    """The current version of a job."""
    return f"{PREFIX}:{ws}:job:{job_id}"


def job_versions(ws: str, job_id: str) -> str:
    """Every version of a job, oldest first."""
    return f"{PREFIX}:{ws}:job:{job_id}:versions"


def job_names(ws: str) -> str:
    """Lower-cased job name → job id."""
    return f"{PREFIX}:{ws}:jobs"


def job_revision(ws: str) -> str:
    """Bumped by every change to the library, so readers can cache it."""
    return f"{PREFIX}:{ws}:jobs:rev"


def bot(ws: str, bot_id: str) -> str:
    """A bot."""
    return f"{PREFIX}:{ws}:bot:{bot_id}"


def bot_names(ws: str) -> str:
    """Lower-cased bot name → bot id."""
    return f"{PREFIX}:{ws}:bots"


def bot_revision(ws: str) -> str:
    """Bumped by every change to a bot, so readers can cache the bots."""
    return f"{PREFIX}:{ws}:bots:rev"


def contact(contact_id: str) -> str:
    """A contact, by `platform:workspace:user`."""
    return f"{PREFIX}:contact:{contact_id}"


def conversation_turns(conversation_id: str) -> str:
    """A conversation's latest turns."""
    return f"{PREFIX}:conv:{conversation_id}:turns"


def embedding(model: str, job_id: str, version: int) -> str:
    """The embedding of one job version under one model."""
    return f"{PREFIX}:emb:{model}:{job_id}:{version}"


def task(ws: str, task_id: str) -> str:
    """A task."""
    return f"{PREFIX}:{ws}:task:{task_id}"


def task_ids(ws: str) -> str:
    """The ids of a workspace's tasks."""
    return f"{PREFIX}:{ws}:tasks"


def task_names(ws: str) -> str:
    """Lower-cased task name → task id."""
    return f"{PREFIX}:{ws}:tasks:names"


def task_due(ws: str) -> str:
    """Task id → its next run in epoch milliseconds, for the scheduler."""
    return f"{PREFIX}:{ws}:tasks:due"


def task_executions(ws: str, task_id: str) -> str:
    """A task's latest execution ids, by the time they were queued."""
    return f"{PREFIX}:{ws}:task:{task_id}:executions"


def task_active(ws: str, task_id: str) -> str:
    """The id of a task's queued or running execution."""
    return f"{PREFIX}:{ws}:task:{task_id}:active"


def execution(ws: str, execution_id: str) -> str:
    """An execution."""
    return f"{PREFIX}:{ws}:execution:{execution_id}"


def executions_queued(ws: str) -> str:
    """Queued executions → when they were queued, epoch ms."""
    return f"{PREFIX}:{ws}:executions:queued"


def executions_running(ws: str) -> str:
    """Running executions → their worker's last beat, epoch ms."""
    return f"{PREFIX}:{ws}:executions:running"


def scheduler_sweep(ws: str) -> str:
    """Held by the scheduler that does the periodic sweeps."""
    return f"{PREFIX}:{ws}:scheduler:tick"


def conversation_state(conversation_id: str) -> str:
    """Counters and the job in progress of a conversation."""
    return f"{PREFIX}:conv:{conversation_id}:state"


def seen(platform: str, message_id: str) -> str:
    """Marks a platform message as delivered to us."""
    return f"{PREFIX}:seen:{platform}:{message_id}"


def user_rate(platform: str, user: str, minute: int) -> str:
    """Counts a person's messages in one minute (since the epoch)."""
    return f"{PREFIX}:rate:{platform}:{user}:{minute}"


def sent(key: str) -> str:
    """Marks a reply or post as sent."""
    return f"{PREFIX}:sent:{key}"


def stats_chats(ws: str, job_id: str) -> str:
    """Conversation ids that referenced a job."""
    return f"{PREFIX}:{ws}:stats:job:{job_id}:chats"


def stats_offered(ws: str, job_id: str) -> str:
    """Users a job was offered to, including everyone who completed it."""
    return f"{PREFIX}:{ws}:stats:job:{job_id}:offered"


def stats_completed(ws: str, job_id: str) -> str:
    """Users who completed a job."""
    return f"{PREFIX}:{ws}:stats:job:{job_id}:completed"


def stats_completions(ws: str, job_id: str) -> str:
    """A job's latest completions, newest first."""
    return f"{PREFIX}:{ws}:stats:job:{job_id}:completions"


def stats_last_used(ws: str) -> str:
    """Job id → when it was last used, in epoch milliseconds."""
    return f"{PREFIX}:{ws}:stats:last_used"


def stats_gaps(ws: str) -> str:
    """The latest messages that matched no job, newest first."""
    return f"{PREFIX}:{ws}:stats:gaps"


def turn_flag(conversation_id: str) -> str:
    """Set while a turn of a conversation is claimed, queued or running (see `TURN_CLAIMED`)."""
    return f"{PREFIX}:conv:{conversation_id}:turn"


#: The turn flag's value from the moment ingress claims the turn (in the script that
#: keeps the message) until its RQ job is queued: a platform's second delivery of a
#: pending message takes such a claim over, as its first delivery failed to queue the job.
TURN_CLAIMED = "claimed"
#: The turn flag's value once the turn's RQ job is queued.
TURN_QUEUED = "queued"
#: The turn flag expires after this long if its turn is lost (a claim never queued,
#: or Redis lost the queued job), so the conversation is never stuck.
TURN_FLAG_TTL_S = 600
