"""Render a command `Result` as Discord embeds, within Discord's limits.

`to_reply(result)` gives the embeds and the files of one ephemeral answer;
`to_embeds(result)` gives only its embeds. Layout:

- the title is the first embed's title; a title longer than an embed title
  holds (256) opens the description in bold instead;
- paragraphs go to the description; tables and code are ``` blocks there,
  columns padded as in plain text (embeds have no table);
- labelled values (`Fields`) are embed fields, short ones side by side; a
  value too long for a field (1,024) becomes a bold label and text in the
  description, which reads better than a field cut short;
- what does not fit one embed (4,096 description characters, 25 fields, and
  fields always show below the description, so text after fields starts a new
  embed) continues in the next;
- refusals are red; other answers keep Discord's default colour.

Discord's limits for one message (https://discord.com/developers/docs/resources/message#embed-object-embed-limits):
title 256, description 4,096, 25 fields, field name 256, field value 1,024,
footer 2,048, at most 10 embeds and 6,000 characters over all of them. When an
answer is bigger, the embeds show what fits whole, the footer says so, and the
full answer is attached as `chatjobs.txt` (the plain-text rendering), so
nothing is lost. YAML (`/jobs export`) is always attached as `export.yaml` too,
ready to edit and load back with `/jobs import file:`; it is shown inline when
it fits.

User text is escaped (`discord.utils.escape_markdown`, where it would format)
outside code blocks, so a job named `*draft*` shows its asterisks. Mentions in embeds never ping.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field

import discord

from bot.commands.render import to_text
from bot.commands.results import Block, Code, Fields, Paragraph, Result, Table
from bot.split import pack_lines

TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELDS_MAX = 25
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FOOTER_MAX = 2048
EMBEDS_MAX = 10
MESSAGE_TOTAL_MAX = 6000
#: Field values up to this long, on one line, sit side by side (inline fields).
INLINE_MAX = 60
REFUSED_COLOUR = discord.Colour.red()
#: The plain-text rendering, attached when the embeds cannot hold everything.
FULL_TEXT_FILE = "chatjobs.txt"

_FENCE = "```"
_GAP = "\n\n"


@dataclass(frozen=True)
class TextFile:
    """A file to attach: its name and its (UTF-8) text."""

    filename: str
    text: str

    def to_file(self) -> discord.File:
        """A fresh `discord.File` (a File can be sent only once)."""
        return discord.File(io.BytesIO(self.text.encode("utf-8")), filename=self.filename)


@dataclass(frozen=True)
class Reply:
    """One answer: embeds within the message limits, and files to attach."""

    embeds: list[discord.Embed]
    files: list[TextFile] = field(default_factory=list)

    def discord_files(self) -> list[discord.File]:
        return [f.to_file() for f in self.files]


def to_embeds(result: Result) -> list[discord.Embed]:
    """The embeds of `to_reply(result)` (send its `files` too, or the footer's promise breaks)."""
    return to_reply(result).embeds


def to_reply(result: Result) -> Reply:
    """The result as embeds within Discord's limits, with files for what does not fit."""
    files = _code_files(result)
    colour = None if result.ok else REFUSED_COLOUR
    parts = _parts(result)
    packed = _pack(parts, colour=colour)
    if packed is not None:
        return Reply(embeds=packed, files=files)
    if files:
        # Show the rest, and point to the attached YAML instead of showing it.
        parts = _parts(result, attached={f.text: f.filename for f in files})
        packed = _pack(parts, colour=colour)
        if packed is not None:
            return Reply(embeds=packed, files=files)
    full = to_text(result)
    note = (f"Shown in part: the whole answer ({len(full):,} characters, more than a Discord "
            f"message holds) is attached as {FULL_TEXT_FILE}.")
    return Reply(embeds=_pack_partial(parts, colour=colour, note=note),
                 files=[*files, TextFile(FULL_TEXT_FILE, full)])


# --- parts: description text or one field -----------------------------------------


@dataclass(frozen=True)
class _Text:
    """Markdown for the description, at most DESCRIPTION_MAX characters."""

    text: str


@dataclass(frozen=True)
class _Title(_Text):
    """The first embed's title (escaped, at most TITLE_MAX)."""


@dataclass(frozen=True)
class _Field:
    name: str
    value: str
    inline: bool


_Part = _Text | _Field


def _parts(result: Result, attached: dict[str, str] | None = None) -> list[_Part]:
    """The result as a run of parts; `attached` maps code text to the file holding it."""
    parts: list[_Part] = []
    title = " ".join(result.title.split())
    if not title and not result.ok:
        title = "Refused."
    if len(_escape(title)) > TITLE_MAX:
        parts += [_Text(p) for p in _chunks(f"**{_escape(title)}**", DESCRIPTION_MAX)]
    elif title:
        parts.append(_Title(_escape(title)))
    for block in result.blocks:
        if attached and isinstance(block, Code) and block.text in attached:
            parts.append(_Text(_escape(f"Attached as {attached[block.text]} "
                                       f"({len(block.text):,} characters).")))
            continue
        parts += _block_parts(block)
    return parts or [_Title("Done.")]


def _block_parts(block: Block) -> Iterator[_Part]:
    if isinstance(block, Paragraph):
        if block.text.strip():
            yield from (_Text(p) for p in _chunks(_escape(block.text), DESCRIPTION_MAX))
    elif isinstance(block, Fields):
        yield from _field_parts(block)
    elif isinstance(block, Table):
        yield from _code_parts(to_text(Result(blocks=(block,))), "")
    elif isinstance(block, Code):
        yield from _code_parts(block.text.rstrip("\n"), block.language)
    else:  # pragma: no cover - the Block union is closed
        raise TypeError(f"cannot render {type(block).__name__} as an embed")


def _field_parts(block: Fields) -> Iterator[_Part]:
    for label, value in block.pairs:
        name = _escape(" ".join(label.split())) or "\u200b"
        shown = _escape(value.strip()) if value.strip() else "-"
        if len(name) <= FIELD_NAME_MAX and len(shown) <= FIELD_VALUE_MAX:
            yield _Field(name, shown, inline=len(shown) <= INLINE_MAX and "\n" not in shown)
            continue
        yield from (_Text(p) for p in _chunks(f"**{name}**\n{shown}", DESCRIPTION_MAX))


def _code_parts(text: str, language: str) -> Iterator[_Part]:
    if not text.strip():
        return
    # A ``` inside the text would close the block early: break it up.
    text = text.replace(_FENCE, "``\u200b`")
    head = f"{_FENCE}{language}\n"
    room = DESCRIPTION_MAX - len(head) - len(_FENCE) - 1
    for piece in _chunks(text, room, escaped=False):
        yield _Text(f"{head}{piece}\n{_FENCE}")


# --- packing parts into embeds --------------------------------------------------------


class _Builder:
    """Embeds being filled, with the message's running character count."""

    def __init__(self, colour: discord.Colour | None) -> None:
        self.colour = colour
        self.embeds: list[discord.Embed] = []
        self.total = 0

    def needs_new(self, part: _Part) -> bool:
        """Whether `part` starts a new embed."""
        if not self.embeds or isinstance(part, _Title):
            return True
        current = self.embeds[-1]
        if isinstance(part, _Field):
            return len(current.fields) >= FIELDS_MAX
        if current.fields:  # fields show below the description: keep the order
            return True
        return len(current.description or "") + len(_GAP) + len(part.text) > DESCRIPTION_MAX

    def cost(self, part: _Part) -> int:
        """Characters `part` adds to the message (with the gap before it, if any)."""
        if isinstance(part, _Field):
            return len(part.name) + len(part.value)
        joined = not self.needs_new(part) and bool(self.embeds[-1].description)
        return len(part.text) + (len(_GAP) if joined else 0)

    def add(self, part: _Part) -> None:
        cost = self.cost(part)
        if self.needs_new(part):
            self.embeds.append(discord.Embed(colour=self.colour))
        embed = self.embeds[-1]
        if isinstance(part, _Title):
            embed.title = part.text
        elif isinstance(part, _Field):
            embed.add_field(name=part.name, value=part.value, inline=part.inline)
        else:
            embed.description = (f"{embed.description}{_GAP}{part.text}" if embed.description
                                 else part.text)
        self.total += cost


def _pack(parts: list[_Part], *, colour: discord.Colour | None) -> list[discord.Embed] | None:
    """All parts as embeds, or None when they do not fit one message."""
    builder = _Builder(colour)
    for part in parts:
        builder.add(part)
        if builder.total > MESSAGE_TOTAL_MAX or len(builder.embeds) > EMBEDS_MAX:
            return None
    return builder.embeds


def _pack_partial(parts: list[_Part], *, colour: discord.Colour | None,
                  note: str) -> list[discord.Embed]:
    """The leading parts that fit with `note` in the last embed's footer."""
    builder = _Builder(colour)
    budget = MESSAGE_TOTAL_MAX - len(note)
    for part in parts:
        embeds = len(builder.embeds) + builder.needs_new(part)
        if builder.total + builder.cost(part) > budget or embeds > EMBEDS_MAX:
            break
        builder.add(part)
    if not builder.embeds:
        builder.embeds.append(discord.Embed(colour=colour))
    builder.embeds[-1].set_footer(text=note)
    return builder.embeds


# --- files ----------------------------------------------------------------------------


def _code_files(result: Result) -> list[TextFile]:
    """Code that names a language (YAML from /jobs export) is also attached as a file."""
    files: list[TextFile] = []
    for block in result.blocks:
        if isinstance(block, Code) and block.language and block.text.strip():
            suffix = f"-{len(files) + 1}" if files else ""
            files.append(TextFile(f"export{suffix}.{block.language}", block.text))
    return files


# --- text -----------------------------------------------------------------------------


def _escape(text: str) -> str:
    # as_needed: only what would format (a lone `_` in job_1a2b stays as it is).
    return discord.utils.escape_markdown(text, as_needed=True)


def _chunks(text: str, limit: int, *, escaped: bool = True) -> list[str]:
    """`text` in pieces of at most `limit` characters, ending at line breaks where possible.

    A longer line is cut where it must; with `escaped`, never between a
    backslash and the character it escapes.
    """
    return pack_lines(text.split("\n"), limit, safe_cut=_safe_cut if escaped else None)


def _safe_cut(line: str, limit: int) -> int:
    """Where to cut `line` at or before `limit` without splitting a backslash escape."""
    cut = limit
    backslashes = 0
    while cut - backslashes - 1 >= 0 and line[cut - backslashes - 1] == "\\":
        backslashes += 1
    return cut - 1 if backslashes % 2 else cut
