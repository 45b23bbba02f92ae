"""The `chatjobs` command line.

    chatjobs chat              talk to the agent in this terminal
    chatjobs serve [--host H] [--port P]
                               connect to Slack (HTTP at POST /slack/events, and
                               Socket Mode with SLACK_APP_TOKEN) and/or Discord
                               (DISCORD_TOKEN)
    chatjobs worker [--burst]  answer conversations (RQ queues turns and tasks)
    chatjobs scheduler         start scheduled task runs when they are due
    chatjobs jobs <command>    the /jobs admin commands (chatjobs jobs help)
    chatjobs jobs match [--user ID] [--bot NAME] [--json] "<text>"
                               dry run: the jobs a message matches (and the reply)
    chatjobs bots <command>    the /bots admin commands (chatjobs bots help)
    chatjobs tasks <command>   the /tasks admin commands (chatjobs tasks help)
    chatjobs doctor            check the configuration, Redis, the model, Slack and
                               Discord, one line each, saying what to fix

Commands run against the configured Redis (REDIS_URL, else the embedded one
under CHATJOBS_DATA_DIR) as an admin. A refused command prints why on stderr
and exits with status 1; a configuration error exits with status 2 (`doctor`
reports it as a failed check instead, and exits with status 1).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import getpass
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from importlib.metadata import version
from types import FrameType

from adapters.console import ConsoleAdapter, unread, wait_for_reply
from bot import doctor
from bot.app import App, build_scheduler, open_app
from bot.commands import GROUPS, Caller, run_command
from bot.commands.dry_run import render as render_dry_run
from bot.commands.render import to_text
from bot.commands.results import count
from bot.dry_run import dry_run
from bot.errors import NotFound
from bot.models import Contact, IncomingMessage
from config.errors import ChatjobsError, ConfigError
from config.logging import configure_logging
from config.settings import Settings, load_settings
from workers.runtime import Runtime
from workers.scheduler import BackgroundScheduler
from workers.worker import BackgroundWorker, run_worker

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] and argv[0] in GROUPS:
        # Everything after `jobs`/`bots` belongs to the command grammar, even
        # `--help`, which argparse would otherwise take for itself.
        args = argparse.Namespace(run=_admin_command, group=argv[0], words=argv[1:])
    else:
        args = _parser().parse_args(argv)
    if args.run is _doctor:
        # A bad setting is one of doctor's findings, not a reason to stop.
        return _doctor(args)
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
    except ConfigError as exc:
        print(f"chatjobs: configuration error: {exc}", file=sys.stderr)
        return 2
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

    serve = commands.add_parser(
        "serve", help="connect to Slack and/or Discord",
        description="Serve Slack's requests at POST /slack/events (and Socket Mode when "
                    "SLACK_APP_TOKEN is set) when SLACK_BOT_TOKEN is set, and connect to "
                    "Discord when DISCORD_TOKEN is set; one process serves both. Answers are "
                    "written by `chatjobs worker` processes; without REDIS_URL a worker runs "
                    "inside this process too.")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default 127.0.0.1; 0.0.0.0 for all)")
    serve.add_argument("--port", type=int, default=3000, help="port (default 3000)")
    serve.set_defaults(run=_serve)

    worker = commands.add_parser(
        "worker", help="answer conversations: run an RQ worker on the turns and tasks queues",
        description="Run a worker for the RQ queues 'turns' and 'tasks'. Start as many as you "
                    "like, on as many machines as share the Redis.")
    worker.add_argument("--burst", action="store_true",
                        help="stop when the queues are empty instead of waiting for more work")
    worker.set_defaults(run=_worker)

    scheduler = commands.add_parser(
        "scheduler", help="start scheduled task runs when they are due",
        description="Queue each task run on the 'tasks' queue at its due time (never before), "
                    "and mark runs whose worker died as failed. Several may run against one "
                    "Redis; each run starts once. Without REDIS_URL, `chat` and `serve` run "
                    "one inside their process.")
    scheduler.set_defaults(run=_scheduler)

    checkup = commands.add_parser(
        "doctor", help="check the configuration, Redis, the model, Slack and Discord",
        description="Check the configuration and each dependency it names: Redis (round trip, "
                    "version, persistence), the model and embeddings (one cheap request each), "
                    "Slack (auth.test, scopes, signing secret, Socket Mode) and Discord (login, "
                    "Message Content intent). One line per check (ok, warn, FAIL or skip) "
                    "saying what to fix; exit status 1 if any check failed, else 0. Each check "
                    "gives up after a few seconds; no secret is printed.")
    checkup.set_defaults(run=_doctor)

    for name, group in GROUPS.items():
        sub = commands.add_parser(
            name, help=f"/{name}: {group.summary}", add_help=False,
            description=f"The /{name} admin commands. 'chatjobs {name} help' lists them.",
        )
        sub.add_argument("words", nargs=argparse.REMAINDER)
        sub.set_defaults(run=_admin_command, group=name)
    return parser


def _admin_command(settings: Settings, args: argparse.Namespace) -> int:
    if args.group == "jobs" and args.words[:1] == ["match"]:
        return _match(settings, args.words[1:])
    words = ["help" if w in ("-h", "--help") else w for w in args.words]
    with open_app(settings) as app:
        caller = Caller(user=f"cli:{getpass.getuser()}", is_admin=True, local_files=True)
        result = run_command(args.group, words, caller=caller, stores=app.stores)
    print(to_text(result), file=sys.stdout if result.ok else sys.stderr)
    return 0 if result.ok else 1


def _match(settings: Settings, words: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="chatjobs jobs match",
        description="Dry run: the jobs a message matches, with scores and reasons, and the "
                    "reply the agent would give. Uses the bot's draft jobs; nothing is posted "
                    "or stored.")
    parser.add_argument("--user", help="a contact id (platform:workspace:user) whose audience "
                                       "rules apply")
    parser.add_argument("--bot", help="the bot (default: the default bot)")
    parser.add_argument("--json", action="store_true",
                        help='print only {"matches": [{"id", "name", "score"}, …]}, best first')
    parser.add_argument("text", nargs="+", help="the message")
    args = parser.parse_args(words)
    with open_app(settings) as app:
        contact = app.contacts.get(args.user) if args.user else None
        if args.user and contact is None:
            raise NotFound(f"--user: no contact '{args.user}' has talked to the agent yet.")
        run = dry_run(app.agent, " ".join(args.text), bot=app.stores.bots.get(args.bot),
                      contact=contact, with_reply=not args.json)
    if args.json:
        print(json.dumps({"matches": [{"id": m.job.id, "name": m.job.name, "score": m.score}
                                      for m in run.matches]}))
    else:
        print(to_text(render_dry_run(run)))
    return 0


def _chat(settings: Settings, args: argparse.Namespace) -> int:
    with contextlib.suppress(ImportError):  # not on every platform
        import readline  # noqa: F401  (line editing and history at the prompt)
    with open_app(settings) as app:
        _log_model(app)
        worker = BackgroundWorker(connection=app.rq_client,
                                  rt=Runtime(agent=app.agent, redis=app.client))
        worker.start()
        scheduler = BackgroundScheduler(build_scheduler(app))
        scheduler.start()
        try:
            adapter = ConsoleAdapter(
                respond=_console_responder(app),
                run_command=lambda group, text: run_command(
                    group, text, stores=app.stores,
                    caller=Caller(user=f"console:{adapter.user}", is_admin=True,
                                  local_files=True)),
                stdin=sys.stdin,
                stdout=sys.stdout,
                user=args.user,
                news=lambda conversation_id: unread(app.client, conversation_id),
            )
            adapter.run(_banner(app))
        finally:
            scheduler.stop()
            worker.stop()
    return 0


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    if settings.slack_bot_token is None and settings.discord_token is None:
        raise ConfigError(
            "SLACK_BOT_TOKEN, DISCORD_TOKEN: nothing to serve; set SLACK_BOT_TOKEN and "
            "SLACK_SIGNING_SECRET (README, 'Run it in your Slack workspace') or DISCORD_TOKEN "
            "(README, 'Run it on your Discord server'), or try `chatjobs chat`")
    # The platforms' libraries load only here and in `doctor`: the other commands and
    # processes never need them (about 0.4 s and 20 MB).
    from adapters.discord import DiscordDeps, DiscordRunner, create_client
    from adapters.slack.app import SlackDeps, create_app
    from adapters.slack.inbox import EventInbox
    from adapters.slack.server import serve_http, start_socket_mode

    with open_app(settings) as app:
        _log_model(app)
        server = socket = gateway = inbox = None
        # Embedded Redis means one machine: answer here too. With REDIS_URL,
        # run `chatjobs worker` processes, as many as the load needs.
        worker = None if settings.redis_url else BackgroundWorker(
            connection=app.rq_client, rt=Runtime(agent=app.agent, redis=app.client))
        scheduler = None if settings.redis_url else BackgroundScheduler(build_scheduler(app))
        try:
            serving = []
            if settings.slack_bot_token is not None:
                deps = SlackDeps.build(settings, redis=app.client, ingress=app.ingress,
                                       contacts=app.contacts, stores=app.stores)
                slack = create_app(settings, deps)
                assert settings.slack_signing_secret is not None  # create_app checked
                inbox = EventInbox(app.client, slack,
                                   signing_secret=settings.slack_signing_secret.get_secret_value())
                server = serve_http(slack, args.host, args.port, inbox=inbox)
                inbox.start()
                socket = start_socket_mode(slack, settings) if settings.slack_app_token else None
                serving.append(f"Slack at http://{args.host}:{server.server_port}/slack/events"
                               + (" and Socket Mode" if socket else ""))
            if settings.discord_token is not None:
                client = create_client(settings, DiscordDeps(
                    settings=settings, redis=app.client, ingress=app.ingress,
                    contacts=app.contacts, stores=app.stores))
                # If Discord stops on its own, stop serving Slack too and exit with its
                # reason; shutdown() waits for serve_forever, so not from this thread.
                http = server
                on_stop = None if http is None else (
                    lambda: threading.Thread(target=http.shutdown, daemon=True).start())
                gateway = DiscordRunner(client, settings, on_stop=on_stop)
                gateway.start()  # logged in, commands synced; ConfigError if refused
                serving.append(f"Discord as {client.user}")
            if worker is not None:
                worker.start()
            if scheduler is not None:
                scheduler.start()
            # What start-up built lives until exit: keep it out of the garbage
            # collector's full passes, which otherwise stall every ack ~100 ms.
            gc.freeze()
            print(f"chatjobs serve: {'; '.join(serving)}; Redis: {_where(app)}",
                  file=sys.stderr)
            if server is not None:
                server.serve_forever()
            elif gateway is not None:
                gateway.wait()
            if gateway is not None:
                gateway.raise_error()  # it stopped on its own: say why, exit non-zero
        finally:
            if server is not None:
                server.server_close()
            if inbox is not None:
                inbox.stop()
            if socket is not None:
                socket.close()
            if gateway is not None:
                gateway.stop()
            if scheduler is not None:
                scheduler.stop()
            if worker is not None:
                worker.stop()
    return 0


def _worker(settings: Settings, args: argparse.Namespace) -> int:
    with open_app(settings) as app:
        _log_model(app)
        print(f"chatjobs worker: {app.agent.llm.name} model, Redis at {_where(app)}; "
              "Ctrl-C stops after the job in hand.", file=sys.stderr)
        run_worker(connection=app.rq_client, rt=Runtime(agent=app.agent, redis=app.client),
                   burst=args.burst)
    return 0


def _scheduler(settings: Settings, args: argparse.Namespace) -> int:
    with open_app(settings) as app:
        print(f"chatjobs scheduler: Redis at {_where(app)}; Ctrl-C stops it.", file=sys.stderr)
        stop = threading.Event()
        try:
            build_scheduler(app).run(stop=stop)
        except KeyboardInterrupt:
            stop.set()
    return 0


def _doctor(args: argparse.Namespace) -> int:
    from adapters.discord.doctor import discord_checks  # see `_serve`
    from adapters.slack.doctor import slack_checks

    settings, loaded = doctor.check_configuration()
    print(loaded.line(), flush=True)
    if settings is None:
        return 1
    configure_logging(settings)
    signal.signal(signal.SIGTERM, _raise_exit)  # unwind: an embedded Redis is stopped
    failed = False
    try:
        for check in doctor.run_checks(settings, platforms=(slack_checks, discord_checks)):
            print(check.line(), flush=True)
            failed = failed or check.failed
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        return 141
    return 1 if failed else 0


def _console_responder(app: App) -> Callable[[IncomingMessage], str]:
    wait_s = app.settings.chatjobs_turn_max_seconds + 30

    def respond(message: IncomingMessage) -> str:
        contact = Contact(platform=message.platform, workspace=message.workspace,
                          user=message.user, display_name=message.user_name, role="owner")
        # What came while the person typed (a task's message) is not the reply.
        earlier = unread(app.client, message.conversation_id)
        app.ingress.accept(message, contact=contact)
        reply = wait_for_reply(app.client, message.conversation_id, timeout=wait_s)
        return "\n".join([*earlier, reply or "No reply came. Is a worker running against "
                                             "this Redis?"])

    return respond


def _banner(app: App) -> str:
    jobs = count(len(app.stores.jobs.list()), "job")
    model = ("the offline model (no OPENAI_API_KEY): it walks each job's steps literally"
             if app.agent.llm.name == "offline" else f"model {app.settings.openai_model}")
    return (f"chatjobs console — {_where(app)}, {jobs} in the library, {model}.\n"
            "Say what you need. /help lists the commands, /quit leaves.")


def _log_model(app: App) -> None:
    if app.agent.llm.name == "offline":
        log.warning("no OPENAI_API_KEY: the offline model answers (deterministic, no network)")
    else:
        log.info("model %s at %s", app.settings.openai_model,
                 app.settings.openai_base_url or "OpenAI")


def _where(app: App) -> str:
    if app.settings.redis_url:
        return "Redis at REDIS_URL"
    return f"embedded Redis in {app.settings.chatjobs_data_dir}"


def _raise_exit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
