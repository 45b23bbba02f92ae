"""The admin command grammar, shared by Slack, Discord, the console and the CLI.

    /jobs <subcommand> [positional ...] [key=value ...]

Tokens are split shell-style: quote values with spaces (`name="Take a message"`,
or with single quotes around text that holds a double quote). A token
`key=value` sets a field; any other token is positional (a job or bot name or
id). `\\n` in a value stands for a line break, for clients that send one line
only; backslashes are otherwise kept as typed. Curly quotes, as phones and
some keyboards type them, count as straight ones.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from bot.errors import CommandError

_FIELD = re.compile(r"^(?P<key>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_-]+)?)=(?P<value>.*)$", re.S)


class Command(BaseModel):
    """One parsed command: `/{group} {name} {args} {fields}`."""

    model_config = ConfigDict(frozen=True)

    group: str
    name: str
    args: tuple[str, ...] = ()
    fields: dict[str, str] = {}
    #: The text after the subcommand, untouched (for `import`, which takes YAML).
    rest: str = ""


_STRAIGHT = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'"})


def clean(text: str) -> str:
    """Text fit to store: no lone surrogates (which some JSON decoders let through)."""
    return text.encode("utf-8", "replace").decode("utf-8")


#: A token: unquoted text and quoted parts side by side (`name="Take a message"`).
_TOKEN = re.compile(r"""(?:[^\s"']+|"[^"]*"|'[^']*')+""")
_PART = re.compile(r"""[^"']+|"([^"]*)"|'([^']*)'""")


def split(text: str) -> list[str]:
    """Split `text` shell-style (as POSIX shells do, but backslashes are kept as typed:
    `\\n` must reach us); unbalanced quotes are a `CommandError`.

    Linear in the text's length (`shlex` is quadratic in a token's length).
    """
    text = text.translate(_STRAIGHT)
    tokens: list[str] = []
    end = 0
    for match in _TOKEN.finditer(text):
        if text[end:match.start()].strip():
            break  # an unclosed quote between tokens
        tokens.append(_unquote(match[0]))
        end = match.end()
    if text[end:].strip():
        quote = text[end:].lstrip()[0]
        raise CommandError(f"Could not read the command: no closing {quote}. Close every "
                           'quote you open, e.g. name="Take a message".')
    return tokens


def _unquote(token: str) -> str:
    """The token with its quotes taken off (what is inside them stays as typed)."""
    return "".join(part[0] if part[1] is None and part[2] is None
                   else part[1] if part[1] is not None else part[2]
                   for part in _PART.finditer(token))


#: Subcommands whose text is taken as is, not split into tokens (YAML).
RAW_SUBCOMMANDS = frozenset({"import"})
_HEAD = re.compile(r"^\s*(?P<head>\S+)[ \t]*\n?(?P<tail>.*)$", re.S)


def parse(group: str, command: str | Sequence[str]) -> Command:
    """Parse the text (or the already split tokens) after `/{group}`."""
    if isinstance(command, str):
        command = clean(command)
        head = _HEAD.match(command)
        if head and head["head"].lower() in RAW_SUBCOMMANDS:
            tail = head["tail"].rstrip()
            asks_help = tail.strip().lower() == "help"
            return Command(group=group, name=head["head"].lower(),
                           args=("help",) if asks_help else (), rest=tail)
        tokens = split(command)
    else:
        tokens = [clean(token) for token in command]
    if not tokens:
        return Command(group=group, name="help")
    name, *rest = tokens
    args: list[str] = []
    fields: dict[str, str] = {}
    for token in rest:
        match = _FIELD.match(token)
        if not match:
            args.append(token)
            continue
        key = match["key"].lower()
        if key in fields:
            raise CommandError(f"{key}: given twice; give each field once.")
        fields[key] = match["value"].replace("\\n", "\n")
    return Command(group=group, name=name.lower(), args=tuple(args), fields=fields,
                   rest=" ".join(rest))
