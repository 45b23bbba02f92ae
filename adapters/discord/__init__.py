"""The Discord adapter: a discord.py gateway client in, REST calls out.

| module | holds |
| --- | --- |
| `client` | `DiscordDeps`, `create_client` (the configured `discord.Client`), `DiscordRunner` |
| `events` | which messages the agent answers, and handing them to ingress off the gateway loop |
| `normalize` | Discord messages → `IncomingMessage`; conversation and message ids |
| `members` | contacts from members (name, first seen, role); `is_admin` |
| `sender` | `DiscordSender` (the `Sender` port) over REST, `DiscordRest`, `DISCORD_API_URL` |
| `split` | long replies as messages of at most 2,000 characters |
| `commands`, `modals`, `embeds` | app commands (`register_commands(tree, deps)`), forms, embeds |
| `task_commands`, `task_form` | the `/tasks` group and its form |
| `doctor` | `discord_checks` for `chatjobs doctor`: login, and the Message Content intent |

Worker processes use `adapters.discord.sender` alone: no gateway connection.
"""

from adapters.discord.client import DiscordDeps, DiscordRunner, create_client

__all__ = ["DiscordDeps", "DiscordRunner", "create_client"]
