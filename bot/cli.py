"""The `chatjobs` command line.

    chatjobs chat              talk to the agent in this terminal
    chatjobs jobs <command>    the /jobs admin commands (chatjobs jobs help)
    chatjobs bots <command>    the /bots admin commands (chatjobs bots help)

Commands run against the configured Redis (REDIS_URL, else the embedded one
under CHATJOBS_DATA_DIR) as an admin. A refused command prints why on stderr
and exits with status 1; a configuration error exits with status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import os
import signal
import sys
from collections.abc import Callable
from importlib.metadata import version
from types import FrameType

from adapters.console import ConsoleAdapter
from bot.app import App, open_app
from bot.commands import GROUPS, Caller, run_command
from bot.commands.render import to_text
from bot.commands.results import count
from bot.matcher import JobMatcher
from bot.models import Contact, IncomingMessage, Turn
from bot.suggestions import suggest
from config.errors import ChatjobsError, ConfigError
from config.logging import configure_logging
from config.settings import Settings, load_settings


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] and argv[0] in GROUPS:
        # Everything after `jobs`/`bots` belongs to the command grammar, even
        # `--help`, which argparse would otherwise take for itself.
        args = argparse.Namespace(run=_admin_command, group=argv[0], words=argv[1:])
    else:
        args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"chatjobs: configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings)
    # SIGTERM (e.g. from a process manager) unwinds like Ctrl-C, so the
    # embedded Redis is saved and stopped on the way out.
    signal.signal(signal.SIGTERM, _raise_exit)
    try:
        status: int = args.run(settings, args)
    except ChatjobsError as exc:
        print(f"chatjobs: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. `| head`); say nothing more.
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        return 141
    return status


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chatjobs",
        description="A self-hosted AI agent for Slack and Discord that follows jobs your "
                    "admins teach it.",
    )
    parser.add_argument("--version", action="version", version=f"chatjobs {version('chatjobs')}")
    commands = parser.add_subparsers(title="commands", required=True, metavar="<command>")

    chat = commands.add_parser("chat", help="talk to the agent in this terminal",
                               description="Talk to the agent in this terminal. Lines starting "
                                           "with / are admin commands (/help lists them).")
    chat.add_argument("--user", help="the name you chat as (default: your login name)")
    chat.set_defaults(run=_chat)

    for name, group in GROUPS.items():
        sub = commands.add_parser(
            name, help=f"/{name}: {group.summary}", add_help=False,
            description=f"The /{name} admin commands. 'chatjobs {name} help' lists them.",
        )
        sub.add_argument("words", nargs=argparse.REMAINDER)
        sub.set_defaults(run=_admin_command, group=name)
    return parser


def _admin_command(settings: Settings, args: argparse.Namespace) -> int:
    words = ["help" if w in ("-h", "--help") else w for w in args.words]
    with open_app(settings) as app:
        caller = Caller(user=f"cli:{getpass.getuser()}", is_admin=True, local_files=True)
        result = run_command(args.group, words, caller=caller, stores=app.stores)
    print(to_text(result), file=sys.stdout if result.ok else sys.stderr)
    return 0 if result.ok else 1


def _chat(settings: Settings, args: argparse.Namespace) -> int:
    with contextlib.suppress(ImportError):  # not on every platform
        import readline  # noqa: F401  (line editing and history at the prompt)
    with open_app(settings) as app:
        adapter = ConsoleAdapter(
            respond=_console_responder(app),
            run_command=lambda group, text: run_command(
                group, text, stores=app.stores,
                caller=Caller(user=f"console:{adapter.user}", is_admin=True, local_files=True)),
            stdin=sys.stdin,
            stdout=sys.stdout,
            user=args.user,
        )
        adapter.run(_banner(app))
    return 0


def _console_responder(app: App) -> Callable[[IncomingMessage], str]:
    matcher = JobMatcher()

    def respond(message: IncomingMessage) -> str:
        contact = app.contacts.save(Contact(
            platform=message.platform, workspace=message.workspace, user=message.user,
            display_name=message.user_name, role="owner"))
        app.conversations.append(message.conversation_id, Turn(
            role="user", text=message.text, user=message.user, message_id=message.message_id))
        reply = suggest(message, jobs=app.stores.jobs, bots=app.stores.bots, matcher=matcher,
                        contact=contact)
        app.conversations.append(message.conversation_id, Turn(role="assistant", text=reply))
        return reply

    return respond


def _banner(app: App) -> str:
    where = (f"embedded Redis in {app.settings.chatjobs_data_dir}" if not app.settings.redis_url
             else "Redis at REDIS_URL")
    jobs = count(len(app.stores.jobs.list()), "job")
    return (f"chatjobs console — {where}, {jobs} in the library.\n"
            "Say what you need and the agent names the job that fits. /help lists the "
            "commands, /quit leaves.")


def _raise_exit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
