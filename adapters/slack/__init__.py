"""The Slack adapter: a slack-bolt app in, Web API calls out.

| module | holds |
| --- | --- |
| `app` | `SlackDeps` (what the adapter works with) and `create_app` (the bolt App) |
| `server` | `serve_http` (pooled WSGI server for `POST /slack/events`), `start_socket_mode` |
| `inbox` | `EventInbox`: events acked once kept in Redis, handled after the ack |
| `events` | which events the agent answers, and handing them to ingress |
| `normalize` | Slack events → `IncomingMessage`; conversation and message ids |
| `users` | contacts from `users.info`, cached for a day; the admin check |
| `sender` | `SlackSender` (the `Sender` port), pacing, threads the bot takes part in |
| `mrkdwn` | Markdown → Slack mrkdwn, and splitting long replies |
| `doctor` | `slack_checks` (`chatjobs doctor`): token and scopes, signing secret, Socket Mode |

Importing this package imports nothing heavy: worker processes use
`adapters.slack.sender` without slack_bolt.
"""
