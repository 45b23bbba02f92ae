"""Markdown (what the model writes) → Slack mrkdwn, and splitting long replies.

Conversion, line by line outside code:

| Markdown | mrkdwn |
| --- | --- |
| `**bold**`, `__bold__` | `*bold*` |
| `*italic*`, `_italic_` | `_italic_` |
| `~~strike~~` | `~strike~` |
| `[text](url)`, `![alt](url)`, `<https://…>` | `<url\\|text>`, `<url>` |
| `# Heading` (any level) | `*Heading*` on its own line |
| `- item`, `* item`, `+ item` | `• item` (indentation kept) |
| `> quote` | `> quote` |

Inline code and fenced code blocks are not reformatted (a fence's language
tag is dropped: Slack would print it). Slack's control characters `&`, `<`,
`>` are written as `&amp;`, `&lt;`, `&gt;` everywhere except in the links we
make, including inside code: Slack decodes those entities in code too, and
a raw `<` could otherwise open a link or a `<!channel>` ping. User and
channel mentions the model writes in Slack's form (`<@U123>`, `<#C123>`)
are kept.
"""

from __future__ import annotations

import re
from collections.abc import Callable

#: Characters per message. Slack truncates `text` at 40,000 and recommends
#: at most 4,000; longer replies are split into messages of at most this.
MAX_CHARS = 3_500

_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(?P<title>.*?)(?:\s+#+)?\s*$")
_BULLET = re.compile(r"^(?P<indent>\s*)[-*+]\s+(?P<rest>.*)$")
_QUOTE = re.compile(r"^\s{0,3}>\s?(?P<rest>.*)$")
_RULE = re.compile(r"^\s{0,3}([-*_])(\s*\1){2,}\s*$")
_TOKEN = re.compile(
    r"(?P<code>(?P<ticks>`+)(?P<code_text>.+?)(?P=ticks))"
    r"|(?P<link>!?\[(?P<label>[^\]\n]*)\]\((?P<url>[^()\s]+(?:\([^()\s]*\))?[^()\s]*)"
    r"(?:\s+\"[^\"]*\")?\))"
    r"|(?P<auto><(?P<auto_url>(?:https?://|mailto:)[^\s<>]+)>)"
    r"|(?P<mention><(?:@[UW][A-Z0-9]+|#C[A-Z0-9]+(?:\|[^<>\s|]+)?)>)"
)
_BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_ITALIC_STAR = re.compile(r"(?<![*\w])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![*\w])")
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
_BOLD_MARK = "\x01"
_SLOT = "\x02{}\x03"
_SLOT_RE = re.compile("\x02(\\d+)\x03")


def escape(text: str) -> str:
    """Slack's three control characters as entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_mrkdwn(markdown: str) -> str:
    """Markdown as Slack mrkdwn (see the module docstring)."""
    out: list[str] = []
    code: list[str] | None = None
    fence = ""
    for line in markdown.replace("\r\n", "\n").split("\n"):
        opener = _FENCE.match(line)
        if code is not None:
            if opener and line.strip() == opener.group(1) and opener.group(1) == fence:
                out.append(_code_block(code))
                code = None
            else:
                code.append(line)
        elif opener:
            code, fence = [], opener.group(1)
        else:
            out.append(_line(line))
    if code is not None:  # an unclosed fence: close it, as renderers do
        out.append(_code_block(code))
    return "\n".join(out)


def _code_block(lines: list[str]) -> str:
    return "```\n" + escape("\n".join(lines)) + "\n```"


def _line(line: str) -> str:
    if _RULE.match(line):
        return "──────────"
    heading = _HEADING.match(line)
    if heading:
        title = heading["title"].replace("**", "").replace("__", "")
        return f"*{_inline(title)}*" if title.strip() else ""
    quote = _QUOTE.match(line)
    if quote:
        return "> " + _inline(quote["rest"])
    bullet = _BULLET.match(line)
    if bullet:
        return f"{bullet['indent']}• {_inline(bullet['rest'])}"
    return _inline(line)


def _inline(text: str) -> str:
    """One line: code spans and links set aside, the rest escaped and re-marked."""
    slots: list[str] = []

    def keep(rendered: str) -> str:
        slots.append(rendered)
        return _SLOT.format(len(slots) - 1)

    def token(match: re.Match[str]) -> str:
        if match["code"]:
            return keep(f"`{escape(match['code_text'].strip(' ') or match['code_text'])}`")
        if match["link"]:
            label = match["label"].strip() or match["url"]
            return keep(f"<{_url(match['url'])}|{_emphasis(escape(label))}>")
        if match["auto"]:
            return keep(f"<{_url(match['auto_url'])}>")
        return keep(match["mention"])

    text = _TOKEN.sub(token, text)
    text = _emphasis(escape(text))
    return _SLOT_RE.sub(lambda m: slots[int(m.group(1))], text)


def _emphasis(text: str) -> str:
    text = _BOLD.sub(lambda m: f"{_BOLD_MARK}{m.group(2)}{_BOLD_MARK}", text)
    text = _ITALIC_STAR.sub(r"_\1_", text)
    text = _STRIKE.sub(r"~\1~", text)
    return text.replace(_BOLD_MARK, "*")


def _url(url: str) -> str:
    # Inside <…> a URL may not hold < > | or spaces: percent-encode them.
    return (url.replace("<", "%3C").replace(">", "%3E").replace("|", "%7C")
            .replace(" ", "%20"))


# --- splitting ---------------------------------------------------------------


def split(text: str, limit: int = MAX_CHARS) -> list[str]:
    """`text` (mrkdwn) as messages of at most `limit` characters, in order.

    Cuts at paragraph breaks, then at sentence ends or line breaks, then at
    spaces, and only then anywhere; never inside a code block when the block
    fits in one message (a longer block is cut between lines, each part
    fenced again), a link, an inline code span or an `&…;` entity.
    """
    if limit < 20:
        raise ValueError("limit must be at least 20 characters")
    text = text.strip()
    if len(text) <= limit:
        return [text] if text else []
    messages: list[str] = []
    current = ""
    for unit in _units(text):
        for piece in _fit(unit, limit):
            if current and len(current) + 2 + len(piece) <= limit:
                current += "\n\n" + piece
            else:
                if current:
                    messages.append(current)
                current = piece
    if current:
        messages.append(current)
    return messages


def _units(text: str) -> list[str]:
    """Paragraphs, with each fenced code block one unit (blank lines and all)."""
    units: list[str] = []
    paragraph: list[str] = []
    code: list[str] | None = None

    def flush() -> None:
        if paragraph:
            units.append("\n".join(paragraph).strip("\n"))
            paragraph.clear()

    for line in text.split("\n"):
        if code is not None:
            code.append(line)
            if line.strip() == "```" or (line.rstrip().endswith("```") and len(code) > 1):
                units.append("\n".join(code))
                code = None
        elif line.lstrip().startswith("```") and not _closes_on_same_line(line):
            flush()
            code = [line]
        elif not line.strip():
            flush()
        else:
            paragraph.append(line)
    if code is not None:
        units.append("\n".join(code))
    flush()
    return [unit for unit in units if unit.strip()]


def _closes_on_same_line(line: str) -> bool:
    stripped = line.strip()
    return len(stripped) > 6 and stripped.endswith("```")


def _fit(unit: str, limit: int) -> list[str]:
    if len(unit) <= limit:
        return [unit]
    if unit.lstrip().startswith("```"):
        return _split_code(unit, limit)
    return _cut(unit, limit, _prose_cuts)


def _split_code(block: str, limit: int) -> list[str]:
    """A fenced block too long for one message: cut between lines, each part fenced."""
    inner = block.strip()
    inner = inner[3:] if inner.startswith("```") else inner
    inner = inner[:-3] if inner.endswith("```") else inner
    room = limit - len("```\n\n```")
    parts: list[str] = []
    for piece in _cut(inner.strip("\n"), room, _line_cuts):
        parts.append(f"```\n{piece}\n```")
    return parts


def _cut(text: str, limit: int, cuts: Callable[[str, int], int | None]) -> list[str]:
    pieces: list[str] = []
    while len(text) > limit:
        at = cuts(text, limit) or _hard_cut(text, limit)
        pieces.append(text[:at].rstrip())
        text = text[at:].lstrip(" \n")
    if text:
        pieces.append(text)
    return [piece for piece in pieces if piece]


_SENTENCE_END = re.compile(r"[.!?…:;](?=[\s])|\n")
_SPACE = re.compile(r"\s")


def _prose_cuts(text: str, limit: int) -> int | None:
    """The last good cut within `limit`: a sentence end or line break, else a space."""
    for pattern in (_SENTENCE_END, _SPACE):
        best = None
        for match in pattern.finditer(text, 0, limit):
            at = match.end() if match.group() != "\n" else match.start()
            if limit // 3 <= at <= limit and _safe(text, at):
                best = at
        if best:
            return best
    return None


def _line_cuts(text: str, limit: int) -> int | None:
    at = text.rfind("\n", 0, limit + 1)
    return at if at > 0 else None


def _safe(text: str, at: int) -> bool:
    """Not inside a `<…>` link, an inline code span or an entity."""
    before = text[:at]
    if before.rfind("<") > before.rfind(">"):
        return False
    line = before[before.rfind("\n") + 1:]
    return line.count("`") % 2 == 0


def _hard_cut(text: str, limit: int) -> int:
    amp = text.rfind("&", max(0, limit - 5), limit)
    if amp > 0 and ";" not in text[amp:limit]:
        return amp  # do not break "&amp;" in two
    return limit
