"""Render a command `Result` as Slack Block Kit blocks.

Block Kit limits this module keeps (https://docs.slack.dev/reference/block-kit/blocks):

- at most 50 blocks in a message: the 50th becomes a context line
  "… N more sections not shown";
- a section's text is at most 3,000 characters: long text is split over
  several sections, at line breaks where it can;
- a section holds at most 10 fields of at most 2,000 characters each: values
  that are long or span lines get a section of their own, which reads better
  than a two-column grid and has room for 3,000 characters a section;
- Block Kit has no table block for ephemeral answers, so tables (and code)
  are preformatted text (```…```) with columns padded as in plain text.

All text is mrkdwn with `&`, `<` and `>` escaped, so a job's text can never
ping `<!channel>` or render as a link it does not spell out.
"""

from __future__ import annotations

from typing import Any

from bot.commands.render import to_text
from bot.commands.results import Block, Code, Fields, Paragraph, Result, Table
from bot.split import pack_lines

MAX_BLOCKS = 50
SECTION_TEXT_MAX = 3000
FIELD_TEXT_MAX = 2000
FIELDS_PER_SECTION = 10
FALLBACK_TEXT_MAX = 3000
#: Field values longer than this, or spanning lines, get their own section.
INLINE_FIELD_MAX = 300
WARNING = ":warning:"

_FENCE = "```"


def escape(text: str) -> str:
    """Text safe inside mrkdwn: Slack's three control characters escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_blocks(result: Result) -> list[dict[str, Any]]:
    """The result as Block Kit blocks (at most 50; refusals start with a warning sign)."""
    blocks = _title(result.title)
    if not result.ok:
        if not blocks:
            blocks = _title("Refused.")
        first = blocks[0]["text"]
        first["text"] = f"{WARNING} {first['text']}"
    for block in result.blocks:
        blocks.extend(_render(block))
    if not blocks:
        blocks.append(_section("Done."))
    if len(blocks) > MAX_BLOCKS:
        hidden = len(blocks) - (MAX_BLOCKS - 1)
        blocks = [*blocks[: MAX_BLOCKS - 1], {
            "type": "context",
            "elements": [{"type": "mrkdwn",
                          "text": f"… {hidden:,} more section{'s' if hidden != 1 else ''} "
                                  "not shown (Slack shows 50 at most)."}],
        }]
    return blocks


def fallback_text(result: Result) -> str:
    """The plain-text version for notifications and clients without blocks (≤3,000 chars)."""
    text = to_text(result)
    if not result.ok:
        text = f"{WARNING} {text}"
    if len(text) > FALLBACK_TEXT_MAX:
        text = text[: FALLBACK_TEXT_MAX - 1] + "…"
    return text if text.strip() else "Done."


# --- one block at a time --------------------------------------------------------


def _render(block: Block) -> list[dict[str, Any]]:
    if isinstance(block, Paragraph):
        return _sections(block.text)
    if isinstance(block, Fields):
        return _fields(block)
    if isinstance(block, Table | Code):
        # The plain-text renderer already pads a table's columns; reuse it.
        return _preformatted(to_text(Result(blocks=(block,))))
    raise TypeError(f"cannot render {type(block).__name__} as Block Kit")


def _section(mrkdwn: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn}}


def _sections(text: str) -> list[dict[str, Any]]:
    if not text.strip():
        return []
    return [_section(piece) for piece in chunk(text, SECTION_TEXT_MAX)]


def _title(text: str) -> list[dict[str, Any]]:
    # A `*` or a line break inside a bold run ends it early: a title is one line.
    title = " ".join(text.replace("*", "").split())
    if not title:
        return []
    limit = SECTION_TEXT_MAX - 2 - len(WARNING) - 1  # room for the bold and a warning sign
    return [_section(f"*{piece}*") for piece in chunk(title, limit)]


def _preformatted(text: str) -> list[dict[str, Any]]:
    if not text.strip():
        return []
    # A ``` inside the text would close the block early: break it up.
    text = text.replace(_FENCE, "``\u200b`")
    return [_section(f"{_FENCE}\n{piece}\n{_FENCE}")
            for piece in chunk(text, SECTION_TEXT_MAX - 2 * len(_FENCE) - 2)]


def _fields(block: Fields) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    grid: list[dict[str, str]] = []

    def flush() -> None:
        if grid:
            out.append({"type": "section", "fields": list(grid)})
            grid.clear()

    for label, value in block.pairs:
        shown = value if value.strip() else "-"
        text = f"*{escape(label)}*\n{escape(shown)}"
        if "\n" in shown or len(shown) > INLINE_FIELD_MAX or len(text) > FIELD_TEXT_MAX:
            flush()
            label_line = f"*{escape(label)}*"
            pieces = chunk(shown, SECTION_TEXT_MAX - len(label_line) - 1)
            out.append(_section(f"{label_line}\n{pieces[0]}"))
            out.extend(_section(piece) for piece in pieces[1:])
            continue
        grid.append({"type": "mrkdwn", "text": text})
        if len(grid) == FIELDS_PER_SECTION:
            flush()
    flush()
    return out


# --- splitting ------------------------------------------------------------------


def chunk(text: str, limit: int) -> list[str]:
    """`text` escaped for mrkdwn, in pieces of at most `limit` characters.

    Pieces end at line breaks where possible; a longer line is cut where it
    must, never inside an escape such as `&amp;`.
    """
    return pack_lines((escape(raw) for raw in text.split("\n")), limit, safe_cut=_safe_cut)


def _safe_cut(escaped: str, limit: int) -> int:
    """Where to cut `escaped` at or before `limit` without splitting an entity."""
    amp = escaped.rfind("&", max(0, limit - 4), limit)
    if amp != -1 and escaped.find(";", amp, amp + 5) >= limit:
        return amp
    return limit
